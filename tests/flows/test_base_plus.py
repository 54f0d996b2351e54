"""HumanEval+ base and plus figures, evalplus's eval_results.json and bigcode's metrics file.

One real evaluation (the sandboxed executor, two HumanEval+ problems, four samples) is shared by
the tests: a sample right on every base input but wrong on longer plus inputs must count for the
base figure and not for the plus one, as in evalplus.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codeduel.api import EvaluateResult, evaluate, export, run_verdicts
from codeduel.cli.app import app
from codeduel.errors import CodeduelError
from codeduel.flows.evaluate import stored_verdict
from codeduel.records.store import SampleRecord, Store

runner = CliRunner()

CANONICAL_0 = (
    "    sorted_numbers = sorted(numbers)\n"
    "    for i in range(len(sorted_numbers) - 1):\n"
    "        if sorted_numbers[i + 1] - sorted_numbers[i] < threshold:\n"
    "            return True\n"
    "    return False\n"
)
# Right for lists of up to 6 numbers (the longest base input), wrong beyond.
SHORT_ONLY_0 = (
    "    right = any(abs(a - b) < threshold for i, a in enumerate(numbers)\n"
    "                for j, b in enumerate(numbers) if i != j)\n"
    "    return right if len(numbers) <= 6 else not right\n"
)
CANONICAL_4 = (
    "    mean = sum(numbers) / len(numbers)\n"
    "    return sum(abs(x - mean) for x in numbers) / len(numbers)\n"
)
BROKEN_4 = "    return (\n"  # a syntax error: never reaches an input


def _dataset(data_dir: Path) -> dict[str, dict[str, Any]]:
    path = data_dir / "evalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return {r["task_id"]: r for r in map(json.loads, fh)}


@pytest.fixture(scope="module")
def evaluated(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Iterator[tuple[EvaluateResult, Path, Path]]:
    root = tmp_path_factory.mktemp("baseplus")
    samples = root / "samples.jsonl"
    rows = [
        {"task_id": "HumanEval/0", "completion": CANONICAL_0},
        {"task_id": "HumanEval/0", "completion": SHORT_ONLY_0},
        {"task_id": "HumanEval/4", "completion": BROKEN_4},
        {"task_id": "HumanEval/4", "completion": CANONICAL_4},
    ]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    store = root / "results.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(root / "xdg"))  # expected outputs computed here
        result = evaluate(samples, "humaneval+", data_dir=data_dir, store=store, workers=2)
        yield result, store, samples


def test_base_and_plus_are_reported_separately(
    evaluated: tuple[EvaluateResult, Path, Path],
) -> None:
    result, _, _ = evaluated
    # base: HumanEval/0 2 of 2, HumanEval/4 1 of 2; plus: 1 of 2 each
    assert result.base is not None
    assert result.base.pass_at_k["pass@1"] == pytest.approx(0.75)
    assert result.pass_at_k["pass@1"] == pytest.approx(0.5)
    assert result.base.pass_at_k["pass@1"] > result.pass_at_k["pass@1"]
    assert result.base.n_passed == 3 and result.n_passed == 2
    summary = result.to_dict()
    assert summary["pass@1"] == pytest.approx(0.5)  # today's keys still mean plus
    assert summary["base"]["pass@1"] == pytest.approx(0.75)
    assert summary["base"]["pass@10"] is None  # n = 2: not estimable, as for plus
    assert summary["base"]["label"] == "humaneval (base tests)"
    assert summary["plus_label"] == "humaneval+ (base + extra tests)"
    assert [label for label, _ in result.score_columns()] == [
        "humaneval (base tests)",
        "humaneval+ (base + extra tests)",
    ]


def test_stored_summary_and_evaluate_json_carry_base(
    evaluated: tuple[EvaluateResult, Path, Path],
) -> None:
    result, store, _ = evaluated
    listed = runner.invoke(app, ["runs", "--store", str(store), "--json"])
    assert listed.exit_code == 0, listed.output
    run = next(r for r in json.loads(listed.stdout) if r["id"] == result.run_id)
    assert run["summary"]["base"]["pass@1"] == pytest.approx(0.75)
    assert run["summary"]["pass@1"] == pytest.approx(0.5)


def test_verdict_details_carry_each_phase(evaluated: tuple[EvaluateResult, Path, Path]) -> None:
    result, store, _ = evaluated
    verdicts = run_verdicts(result.run_id, store)
    short_only = verdicts[1]
    assert short_only.status == "failed"
    report = short_only.details["report"]
    assert (report["base_status"], report["plus_status"]) == ("pass", "fail")
    assert report["first_failure"]["phase"] == "plus"
    assert verdicts[0].details["report"] == {"base_status": "pass", "plus_status": "pass"}


def test_evalplus_eval_results_field_by_field(
    evaluated: tuple[EvaluateResult, Path, Path], data_dir: Path, tmp_path: Path
) -> None:
    result, store, _ = evaluated
    out = tmp_path / "samples_eval_results.json"
    done = runner.invoke(
        app,
        [
            *("export", str(result.run_id), "--format", "evalplus", "-o", str(out)),
            *("--store", str(store), "--data-dir", str(data_dir), "--json"),
        ],
    )
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["warnings"] == [
        f"run {result.run_id} covers 2 of 164 humaneval+ problems: evalplus's pass@k from this "
        "file is over those only"
    ]
    assert summary["base"]["pass@1"] == pytest.approx(0.75)
    assert summary["pass@1"] == pytest.approx(0.5)

    data = json.loads(out.read_text(encoding="utf-8"))
    assert list(data) == ["date", "hash", "eval"]
    datetime.strptime(data["date"], "%Y-%m-%d %H:%M")  # evalplus's format
    gz = data_dir / "evalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
    assert data["hash"] == hashlib.md5(gzip.decompress(gz.read_bytes())).hexdigest()
    assert list(data["eval"]) == ["HumanEval/0", "HumanEval/4"]
    fields = ["task_id", "solution", "base_status", "plus_status"]
    fields += ["base_fail_tests", "plus_fail_tests"]
    problems = _dataset(data_dir)
    prompt0, prompt4 = problems["HumanEval/0"]["prompt"], problems["HumanEval/4"]["prompt"]
    first_long = next(i for i in problems["HumanEval/0"]["plus_input"] if len(i[0]) > 6)
    canonical, short_only = data["eval"]["HumanEval/0"]
    broken, right = data["eval"]["HumanEval/4"]
    for row in (canonical, short_only, broken, right):
        assert list(row) == fields
    assert canonical == {
        "task_id": "HumanEval/0",
        "solution": prompt0 + CANONICAL_0,
        "base_status": "pass",
        "plus_status": "pass",
        "base_fail_tests": [],
        "plus_fail_tests": [],
    }
    assert short_only["solution"] == prompt0 + SHORT_ONLY_0
    assert (short_only["base_status"], short_only["plus_status"]) == ("pass", "fail")
    assert short_only["base_fail_tests"] == []
    assert short_only["plus_fail_tests"] == [first_long]  # the dataset's own input, as JSON
    assert broken["solution"] == prompt4 + BROKEN_4
    # base failed: the plus phase never ran (null, as evalplus writes an unrun phase)
    assert (broken["base_status"], broken["plus_status"]) == ("fail", None)
    assert broken["base_fail_tests"] == [] and broken["plus_fail_tests"] == []
    assert (right["base_status"], right["plus_status"]) == ("pass", "pass")


def test_evalplus_reads_the_file_back(
    evaluated: tuple[EvaluateResult, Path, Path], tmp_path: Path
) -> None:
    """evalplus.evaluate finds ``<samples>_eval_results.json`` beside the samples, loads it
    instead of judging, and prints the same base and base + extra figures."""
    result, store, samples = evaluated
    copy = tmp_path / "samples.jsonl"
    copy.write_bytes(samples.read_bytes())
    export(result.run_id, "evalplus", tmp_path / "samples_eval_results.json", store=store)
    script = f"from evalplus.evaluate import evaluate; evaluate('humaneval', samples={str(copy)!r})"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    assert "Load from previous results" in done.stdout
    printed = done.stdout[done.stdout.index("humaneval (base tests)") :].split()
    assert printed == [
        *("humaneval", "(base", "tests)", "pass@1:", "0.750"),
        *("humaneval+", "(base", "+", "extra", "tests)", "pass@1:", "0.500"),
    ]


def test_evalplus_hash_is_evalplus_own(data_dir: Path, tmp_path: Path) -> None:
    """The hash evalplus 0.3.1 computes itself for this dataset file."""
    from codeduel.tasks import get_task
    from codeduel.tasks.evalplus import HumanEvalPlusTask

    gz = data_dir / "evalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
    plain = tmp_path / "HumanEvalPlus.jsonl"
    plain.write_bytes(gzip.decompress(gz.read_bytes()))
    theirs = subprocess.run(
        [
            sys.executable,
            "-c",
            "from evalplus.data import get_human_eval_plus_hash as h; print(h())",
        ],
        env={"HUMANEVAL_OVERRIDE_PATH": str(plain), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    task = get_task("humaneval+", data_dir)
    assert isinstance(task, HumanEvalPlusTask)
    assert task.evalplus_hash() == theirs


def test_bigcode_metrics_shape(
    evaluated: tuple[EvaluateResult, Path, Path], tmp_path: Path
) -> None:
    result, store, _ = evaluated
    out = tmp_path / "evaluation_results.json"
    written = export(result.run_id, "bigcode", out, store=store)
    text = out.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text.startswith('{\n  "humanevalplus"')  # bigcode dumps with indent=2
    assert list(data) == ["humanevalplus", "config"]
    assert data["humanevalplus"] == {"pass@1": pytest.approx(0.5)}  # n = 2: no pass@10
    assert data["config"]["tasks"] == "humanevalplus"
    assert data["config"]["n_samples"] == 2
    assert data["config"]["load_generations_path"].endswith("samples.jsonl")
    assert data["config"]["temperature"] is None  # a samples file says nothing of decoding
    assert data["config"]["codeduel"]["run_id"] == result.run_id
    assert written.pass_at_k["pass@1"] == pytest.approx(0.5)


def test_export_errors_are_one_line(
    evaluated: tuple[EvaluateResult, Path, Path], tmp_path: Path
) -> None:
    result, store, _ = evaluated
    bad = runner.invoke(
        app,
        [
            *("export", str(result.run_id), "-f", "lm-eval"),
            *("-o", str(tmp_path / "x"), "--store", str(store)),
        ],
    )
    assert bad.exit_code != 0
    assert "unknown export format 'lm-eval'" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(
        app, ["export", "999", "-f", "bigcode", "-o", str(tmp_path / "x"), "--store", str(store)]
    )
    assert missing.exit_code != 0 and "999" in missing.output
    with pytest.raises(CodeduelError, match="is a folder"):
        export(result.run_id, "bigcode", tmp_path, store=store)


def test_export_line_escapes_markup(
    evaluated: tuple[EvaluateResult, Path, Path], tmp_path: Path
) -> None:
    result, store, _ = evaluated
    out = tmp_path / "[red]x[bold].json"
    done = runner.invoke(
        app, ["export", str(result.run_id), "-f", "bigcode", "-o", str(out), "--store", str(store)]
    )
    assert done.exit_code == 0, done.output
    assert "[red]x[bold].json" in done.output  # shown as typed, not as markup
    assert "base + extra" not in done.output  # bigcode holds one figure


def test_compare_and_report_json(
    evaluated: tuple[EvaluateResult, Path, Path], tmp_path: Path
) -> None:
    result, store, _ = evaluated
    compared = runner.invoke(app, ["compare", str(result.run_id), "--store", str(store), "--json"])
    assert compared.exit_code == 0, compared.output
    data = json.loads(compared.stdout)
    assert set(data) >= {"settings", "ks", "leaderboard", "pairs", "warnings"}
    (row,) = data["leaderboard"]
    assert row["run_id"] == result.run_id and row["task"] == "humaneval+"
    pass1 = next(m for m in row["metrics"] if m["k"] == 1)
    assert pass1["estimate"] == pytest.approx(0.5)  # a fraction, the plus figure

    html = tmp_path / "r.html"
    reported = runner.invoke(
        app,
        [
            *("report", str(result.run_id), "--store", str(store), "-o", str(html)),
            *("--json", "--bootstrap", "200"),
        ],
    )
    assert reported.exit_code == 0, reported.output
    summary = json.loads(reported.stdout)
    assert summary["path"] == str(html) and html.is_file()
    assert summary["runs"] == [result.run_id]
    assert summary["size_bytes"] == html.stat().st_size
    assert isinstance(summary["sections"], list) and isinstance(summary["warnings"], list)


_EVALPLUS_REFERENCE = """
import json, sys
import evalplus.evaluate as ev
from evalplus.data.mbpp import mbpp_deserialize_inputs, mbpp_serialize_inputs
from evalplus.data.utils import stream_jsonl
from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
req = json.load(sys.stdin)
kind = req["kind"]
ev.CACHE_DIR = req["cache_dir"]
problems = {}
for t in stream_jsonl(req["dataset"]):
    if t["task_id"] in req["ids"]:
        if kind == "mbpp":
            t["base_input"] = mbpp_deserialize_inputs(t["task_id"], t["base_input"])
            t["plus_input"] = mbpp_deserialize_inputs(t["task_id"], t["plus_input"])
        problems[t["task_id"]] = t
not_none = MBPP_OUTPUT_NOT_NONE_TASKS if kind == "mbpp" else []
expected = ev.get_groundtruth(problems, "codeduel-test", not_none)  # a fresh cache_dir

def failed(stat, details, inputs):  # evalplus.evaluate's get_failed_tests, fast check
    return [] if stat == "pass" or not details else [inputs[len(details) - 1]]

rows = []
for item in req["items"]:
    tid = item["task_id"]
    p = problems[tid]
    r = ev.check_correctness(kind, 0, p, item["solution"], expected[tid], fast_check=True)
    base_fail = failed(*r["base"], p["base_input"])
    plus_fail = failed(*r["plus"], p["plus_input"])
    if kind == "mbpp":
        base_fail = mbpp_serialize_inputs(tid, base_fail)
        plus_fail = mbpp_serialize_inputs(tid, plus_fail)
    rows.append({
        "base_status": r["base"][0], "plus_status": r["plus"][0],
        "base_fail_tests": base_fail, "plus_fail_tests": plus_fail,
    })
print(json.dumps(rows))
"""


def _agree_with_evalplus(
    kind: str, dataset: Path, results: Path, cache_dir: Path
) -> list[dict[str, Any]]:
    """Our eval_results.json rows checked against evalplus 0.3.1's check_correctness on the
    same solutions (as ``evalplus.evaluate`` builds its rows); where base fails, evalplus also
    runs plus and codeduel writes null."""
    ours = [row for rows in json.loads(results.read_text())["eval"].values() for row in rows]
    request = {
        "kind": kind,
        "dataset": str(dataset),
        "cache_dir": str(cache_dir),
        "ids": sorted({r["task_id"] for r in ours}),
        "items": [{"task_id": r["task_id"], "solution": r["solution"]} for r in ours],
    }
    done = subprocess.run(
        [sys.executable, "-c", _EVALPLUS_REFERENCE],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(theirs) == len(ours)
    for mine, ref in zip(ours, theirs, strict=True):
        assert mine["base_status"] == ref["base_status"]
        # json both ways: evalplus's tuples are lists once written
        assert mine["base_fail_tests"] == json.loads(json.dumps(ref["base_fail_tests"]))
        if mine["base_status"] == "pass":
            assert mine["plus_status"] == ref["plus_status"]
            assert mine["plus_fail_tests"] == json.loads(json.dumps(ref["plus_fail_tests"]))
        else:
            assert mine["plus_status"] is None and mine["plus_fail_tests"] == []
    return ours


def test_eval_results_agree_with_evalplus_itself(
    evaluated: tuple[EvaluateResult, Path, Path], data_dir: Path, tmp_path: Path
) -> None:
    result, store, _ = evaluated
    out = tmp_path / "eval_results.json"
    export(result.run_id, "evalplus", out, store=store, data_dir=data_dir)
    dataset = data_dir / "evalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
    assert len(_agree_with_evalplus("humaneval", dataset, out, tmp_path)) == 4


def test_mbpp_plus_base_plus_and_serialised_inputs(data_dir: Path, tmp_path: Path) -> None:
    """MBPP+ through evaluate and export: complex inputs written as evalplus writes them."""
    samples = tmp_path / "mbpp.jsonl"
    rows = [
        # wrong on the first base input (0.0, 1j): base fails, written ["0.0", "1j"]
        {"task_id": "Mbpp/124", "solution": "def angle_complex(a, b):\n    return 0.0\n"},
        # right on real numbers (every base input), wrong on the plus inputs' (1+2j)
        {
            "task_id": "Mbpp/252",
            "solution": "import cmath\n\ndef convert(numbers):\n"
            "    return cmath.polar(numbers) if numbers.imag == 0 else (0.0, 0.0)\n",
        },
    ]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    store = tmp_path / "results.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        result = evaluate(samples, "mbpp+", data_dir=data_dir, store=store, workers=2)
    assert result.base is not None and result.base.label == "mbpp (base tests)"
    assert result.base.pass_at_k["pass@1"] == pytest.approx(0.5)
    assert result.pass_at_k["pass@1"] == 0.0
    out = tmp_path / "eval_results.json"
    export(result.run_id, "evalplus", out, store=store, data_dir=data_dir)
    dataset = data_dir / "evalplus" / "MbppPlus-v0.2.0.jsonl.gz"
    wrong, real_only = _agree_with_evalplus("mbpp", dataset, out, tmp_path)
    assert wrong["base_fail_tests"] == [["0.0", "1j"]]
    assert real_only["plus_fail_tests"] == [["(1+2j)"]]


def test_export_a_generated_run_and_refuse_an_unfinished_one(
    evaluated: tuple[EvaluateResult, Path, Path], data_dir: Path, tmp_path: Path
) -> None:
    """A ``codeduel run`` keeps the judged sample in ``extra["sample"]`` (its prompt column is the
    model's prompt, not the problem's): the solution is built from that sample, as judged."""
    result, store, _ = evaluated
    judged = run_verdicts(result.run_id, store)
    path = tmp_path / "gen.sqlite"
    with Store(path) as db:
        run_id = db.create_run(
            kind="run",
            spec={"model": "m", "task": "humaneval+", "temperature": 0.0, "n": 2},
            task="humaneval+",
            dataset=result.dataset,
        )
        completions = [CANONICAL_0, SHORT_ONLY_0, BROKEN_4, CANONICAL_4]
        db.add_samples(
            run_id,
            [
                SampleRecord(
                    task_id=v.task_id,
                    sample_idx=v.sample_idx,
                    completion=code,
                    prompt="<|im_start|>user ... (a chat prompt)",
                    raw_output="```python\n" + code + "```",
                    params={"temperature": 0.0},
                    extra={"sample": {"completion": code}},
                )
                for v, code in zip(judged, completions, strict=True)
            ],
        )
        db.add_verdicts(run_id, [(v.task_id, v.sample_idx, stored_verdict(v)) for v in judged])
        with pytest.raises(CodeduelError, match="not finished"):
            export(run_id, "evalplus", tmp_path / "x.json", store=path, data_dir=data_dir)
        db.finish_run(run_id, summary={})
    out = tmp_path / "gen_eval_results.json"
    done = export(run_id, "evalplus", out, store=path, data_dir=data_dir)
    assert done.base_pass_at_k is not None
    assert done.base_pass_at_k["pass@1"] == pytest.approx(0.75)
    rows = json.loads(out.read_text())["eval"]["HumanEval/0"]
    prompt0 = _dataset(data_dir)["HumanEval/0"]["prompt"]
    assert [r["solution"] for r in rows] == [prompt0 + CANONICAL_0, prompt0 + SHORT_ONLY_0]
    metrics = tmp_path / "gen_metrics.json"
    export(run_id, "bigcode", metrics, store=path)
    config = json.loads(metrics.read_text())["config"]
    assert (config["model"], config["temperature"], config["do_sample"]) == ("m", 0.0, False)


def test_a_generation_run_scores_base_and_plus_from_its_stored_verdicts(
    evaluated: tuple[EvaluateResult, Path, Path], data_dir: Path
) -> None:
    """`codeduel run` computes its figures from the store: the same verdicts give the same
    base and plus figures, and the summary and table labels evaluate gives."""
    from codeduel.flows.generate import RunSpec, _score
    from codeduel.tasks import get_task

    result, store, _ = evaluated
    task = get_task("humaneval+", data_dir)
    problems = [task.get("HumanEval/0"), task.get("HumanEval/4")]
    spec = RunSpec.model_construct(model="m", task="humaneval+")
    with Store(store) as db:
        scored = _score(
            db, result.run_id, spec, result.dataset, problems, (1, 10), None,
            resumed=False, gen_tokens=0, gen_seconds=0.0, duration_s=0.0, warnings=[],
            evalplus="humaneval",
        )  # fmt: skip
    assert scored.pass_at_k["pass@1"] == pytest.approx(0.5)
    assert scored.base is not None and scored.base.pass_at_k["pass@1"] == pytest.approx(0.75)
    assert scored.summary()["base"]["pass@1"] == pytest.approx(0.75)
    assert [label for label, _ in scored.score_columns()] == [
        "humaneval (base tests)",
        "humaneval+ (base + extra tests)",
    ]
