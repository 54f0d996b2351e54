"""Readers of other tools' samples files: each format detected from real files written as the
tool writes them, one-line errors when a path is ambiguous or a forced format is unknown."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from codeduel.errors import SamplesError
from codeduel.formats.naming import default_name
from codeduel.formats.readers import detect, format_names
from codeduel.formats.readers.evalplus import model_from_identifier
from codeduel.formats.samples import TaskContext, read_samples
from codeduel.tasks import get_task

PROGRAM = 'def add(a, b):\n    """Add."""\n    return a + b\n'


def one_line(err: pytest.ExceptionInfo[SamplesError]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def evalplus_folder(root: Path) -> Path:
    """What ``evalplus.codegen --jsonl_fmt False`` leaves: <dataset>/<identifier>/<task>/<n>.py
    and the raw outputs in a ``.raw`` sibling."""
    target = root / "humaneval" / "codellama--CodeLlama-7b-hf_vllm_temp_0.0"
    for task, n in (("HumanEval_0", 2), ("HumanEval_10", 1), ("HumanEval_2", 1)):
        for i in range(n):
            (target / task).mkdir(parents=True, exist_ok=True)
            (target / task / f"{i}.py").write_text(f"# {task} {i}\n{PROGRAM}", encoding="utf-8")
            raw = root / "humaneval" / (target.name + ".raw") / task
            raw.mkdir(parents=True, exist_ok=True)
            (raw / f"{i}.py").write_text("```python\n" + PROGRAM + "```\n", encoding="utf-8")
    return target


def test_human_eval_and_evalplus_jsonl(tmp_path: Path) -> None:
    he = write_jsonl(tmp_path / "a.jsonl", [{"task_id": "HumanEval/0", "completion": "x"}])
    plus = write_jsonl(
        tmp_path / "humaneval" / "deepseek-ai--deepseek-coder-6.7b-instruct_vllm_temp_0.0.jsonl",
        [{"task_id": "HumanEval/0", "solution": PROGRAM}] * 2,
    )
    assert detect(he).name == "humaneval"
    assert detect(plus).name == "evalplus"
    samples = read_samples(plus)
    assert samples.format == "evalplus" and len(samples) == 2
    assert samples.model == "deepseek-ai/deepseek-coder-6.7b-instruct"
    assert [s.sample_idx for s in samples.samples] == [0, 1]
    # a file mixing both is read line by line as evalplus's load_solutions reads it
    mixed = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            {"task_id": "HumanEval/0", "solution": PROGRAM},
            {"task_id": "HumanEval/0", "completion": "x"},
        ],
    )
    assert detect(mixed).name == "evalplus"
    assert [s.code for s in read_samples(mixed).samples] == [PROGRAM, "x"]
    assert read_samples(he, "evalplus").format == "evalplus"
    with pytest.raises(SamplesError) as err:
        read_samples(write_jsonl(tmp_path / "b.jsonl", [{"task_id": "HumanEval/0"}]), "evalplus")
    assert "b.jsonl:1: missing completion (or solution)" in one_line(err)


def test_evalplus_folder_in_task_order_with_model(tmp_path: Path) -> None:
    target = evalplus_folder(tmp_path)
    assert detect(target).name == "evalplus-folder"
    samples = read_samples(target)
    assert [(s.task_id, s.sample_idx) for s in samples.samples] == [
        ("HumanEval/0", 0),
        ("HumanEval/0", 1),
        ("HumanEval/2", 0),
        ("HumanEval/10", 0),
    ]
    assert samples.samples[0].record == {
        "task_id": "HumanEval/0",
        "solution": "# HumanEval_0 0\n" + PROGRAM,
    }
    assert samples.model == "codellama/CodeLlama-7b-hf"
    assert len(samples.files) == 4
    # the identity covers names and bytes: one changed file changes it
    before = samples.sha256()
    (target / "HumanEval_2" / "0.py").write_text("pass\n")
    assert read_samples(target).sha256() != before
    # the .raw sibling is an evalplus folder too (of chat output)
    assert read_samples(target.with_name(target.name + ".raw")).model == model_from_identifier(
        target.name
    )


@pytest.mark.parametrize(
    ("identifier", "model"),
    [
        ("codellama--7b_vllm_temp_0.0", "codellama/7b"),
        ("gpt-4o-2024-08-06_openai_temp_0.0", "gpt-4o-2024-08-06"),
        ("bigcode--starcoder2-15b_temp_0.8", "bigcode/starcoder2-15b"),  # before backends
        (
            "Qwen--Qwen2.5-Coder-7B-Instruct_vllm_temp_0.0-sanitized",
            "Qwen/Qwen2.5-Coder-7B-Instruct",
        ),
        ("samples", None),
    ],
)
def test_evalplus_identifiers(identifier: str, model: str | None) -> None:
    assert model_from_identifier(identifier) == model


def humaneval_context(data_dir: Path) -> TaskContext:
    return TaskContext("humaneval", get_task("humaneval", data_dir).problems())


def test_bigcode_generations_by_position(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "generations_humaneval.json"
    path.write_text(json.dumps([[PROGRAM, PROGRAM], [PROGRAM], []]))
    (tmp_path / "evaluation_results.json").write_text(
        json.dumps({"humaneval": {"pass@1": 0.3}, "config": {"model": "bigcode/starcoder2-3b"}})
    )
    assert detect(path).name == "bigcode"
    samples = read_samples(path, task=lambda: humaneval_context(data_dir))
    assert [(s.task_id, s.sample_idx) for s in samples.samples] == [
        ("HumanEval/0", 0),
        ("HumanEval/0", 1),
        ("HumanEval/1", 0),
    ]
    assert samples.samples[0].record == {"task_id": "HumanEval/0", "solution": PROGRAM}
    assert samples.model == "bigcode/starcoder2-3b"
    assert "first 3 of 164 problems" in samples.notes[0]
    with pytest.raises(SamplesError) as err:
        read_samples(path)
    assert "pass --task" in one_line(err)


def test_bigcode_mbpp_is_its_test_split_and_names_are_checked(
    tmp_path: Path, data_dir: Path
) -> None:
    mbpp = get_task("mbpp", data_dir)
    path = tmp_path / "generations_mbpp.json"
    path.write_text(json.dumps([["def f(): pass"]] * 2))
    samples = read_samples(path, task=lambda: TaskContext("mbpp", mbpp.problems()))
    assert [s.task_id for s in samples.samples] == ["Mbpp/11", "Mbpp/12"]  # test split 11-510
    with pytest.raises(SamplesError) as err:
        read_samples(path, task=lambda: humaneval_context(data_dir))
    assert "bigcode's mbpp generations, not humaneval" in one_line(err)
    assert "--task mbpp" in str(err.value)
    too_many = tmp_path / "generations.json"
    too_many.write_text(json.dumps([["x"]] * 501))
    with pytest.raises(SamplesError) as err:
        read_samples(too_many, task=lambda: TaskContext("mbpp", mbpp.problems()))
    assert "501 problems but mbpp has 500" in one_line(err)


def lm_eval_line(doc_id: int, doc: dict, programs: list[str], flt: str = "create_test") -> dict:
    """One line as lm-eval's EvaluationTracker.save_results_samples writes it (0.4.x)."""
    return {
        "doc_id": doc_id,
        "doc": doc,
        "target": doc.get("test", ""),
        "arguments": {
            "gen_args_0": {"arg_0": doc.get("prompt", ""), "arg_1": {"until": ["\nclass"]}}
        },
        "resps": [[p.removeprefix(doc.get("prompt", "")) for p in programs]],
        "filtered_resps": [programs],
        "filter": flt,
        "metrics": ["pass@1"],
        "doc_hash": "0" * 64,
        "prompt_hash": "1" * 64,
        "target_hash": "2" * 64,
        "pass@1": 1.0,
    }


def test_lm_eval_log_samples(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "Qwen__Qwen2.5-Coder-1.5B"
    date = "2024-11-05T10-21-33.491342"
    doc0 = {"task_id": "HumanEval/0", "prompt": "def f():\n", "entry_point": "f"}
    doc1 = {"task_id": 11, "text": "Write a function", "test_list": []}
    rows = [
        lm_eval_line(0, doc0, ["def f():\n    return 1\n", "def f():\n    return 2\n"]),
        lm_eval_line(0, doc0, ["other filter"], flt="take_first"),
        lm_eval_line(1, doc1, ["def g(): pass"]),
    ]
    path = write_jsonl(folder / f"samples_humaneval_{date}.jsonl", rows)
    (folder / f"results_{date}.json").write_text(
        json.dumps({"results": {}, "model_name": "Qwen/Qwen2.5-Coder-1.5B", "config": {}})
    )
    assert detect(path).name == "lm-eval"
    samples = read_samples(path)
    assert [(s.task_id, s.sample_idx, s.code) for s in samples.samples] == [
        ("HumanEval/0", 0, "def f():\n    return 1\n"),
        ("HumanEval/0", 1, "def f():\n    return 2\n"),
        ("11", 0, "def g(): pass"),
    ]
    assert samples.samples[2].record["task_id"] == 11  # kept verbatim for the task to resolve
    assert samples.model == "Qwen/Qwen2.5-Coder-1.5B"
    assert "'create_test' filter" in samples.notes[0] and "take_first (1)" in samples.notes[0]
    # the results file gone: model_args names it
    (folder / f"results_{date}.json").write_text(
        json.dumps({"config": {"model": "hf", "model_args": "pretrained=org/m,dtype=bfloat16"}})
    )
    assert read_samples(path).model == "org/m"
    # a doc without task_id is a one-line error naming the line
    bad = write_jsonl(
        tmp_path / "samples_gsm8k_x.jsonl", [lm_eval_line(3, {"question": "?"}, ["4"])]
    )
    with pytest.raises(SamplesError) as err:
        read_samples(bad)
    assert "samples_gsm8k_x.jsonl:1: doc 3 has no task_id" in one_line(err)


def test_multipl_e_completions(tmp_path: Path) -> None:
    folder = tmp_path / "humaneval-js-model-0.2-reworded"
    folder.mkdir()
    record = {"name": "HumanEval_0_has_close_elements", "language": "js", "completions": ["a", "b"]}
    with gzip.open(folder / "HumanEval_0_has_close_elements.json.gz", "wt") as fh:
        json.dump(record, fh)
    assert detect(folder).name == "multipl-e"
    samples = read_samples(folder)
    assert [s.record for s in samples.samples] == [
        {"task_id": "HumanEval_0_has_close_elements", "completion": c, "language": "js"}
        for c in ("a", "b")
    ]


def test_ambiguous_and_forced_formats(tmp_path: Path) -> None:
    # a line with lm-eval's keys and human-eval's: both claim it
    both = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            {
                "task_id": "HumanEval/0",
                "completion": "x",
                "doc_id": 0,
                "doc": {"task_id": "HumanEval/0"},
                "filtered_resps": [["y"]],
            }
        ],
    )
    with pytest.raises(SamplesError) as err:
        read_samples(both)
    message = one_line(err)
    assert "ambiguous" in message and "looks like humaneval and lm-eval" in message
    assert "pass --format humaneval" in message
    assert read_samples(both, "humaneval").samples[0].code == "x"
    assert read_samples(both, "lm-eval").samples[0].code == "y"
    with pytest.raises(SamplesError) as err:
        read_samples(both, "alpaca")
    message = one_line(err)
    assert "unknown samples format 'alpaca'" in message
    assert all(name in message for name in format_names())
    # a folder with evalplus task folders and MultiPL-E files
    folder = evalplus_folder(tmp_path / "x")
    with gzip.open(folder / "HumanEval_1_x.json.gz", "wt") as fh:
        json.dump({"name": "HumanEval_1_x", "completions": ["c"]}, fh)
    with pytest.raises(SamplesError) as err:
        read_samples(folder)
    assert "looks like evalplus-folder and multipl-e" in one_line(err)
    assert len(read_samples(folder, "multipl-e")) == 1


@pytest.mark.parametrize(
    ("path", "model", "name"),
    [
        ("runs/qwen-7b/samples.jsonl", None, "qwen-7b"),
        ("runs/qwen-7b/generations_humaneval.json", None, "qwen-7b"),
        ("out/org__m/samples_humaneval_2024-11-05T10-21-33.jsonl", None, "org__m"),
        ("runs/qwen-7b-t0.2.jsonl", None, "qwen-7b-t0.2"),
        ("runs/samples.jsonl", "org/model", "org/model"),
    ],
)
def test_default_names(tmp_path: Path, path: str, model: str | None, name: str) -> None:
    assert default_name(tmp_path / path, model) == name


def test_in_memory_samples_that_are_not_json_data_are_one_line(tmp_path: Path) -> None:
    """The identity of in-memory samples is their JSON: an object that has none is named."""
    from codeduel.api import evaluate
    from codeduel.errors import SamplesError

    rows = [
        {"task_id": "HumanEval/0", "completion": "    return True\n"},
        {"task_id": "HumanEval/1", "completion": "    return []\n", "when": object()},
    ]
    with pytest.raises(SamplesError, match=r"^sample 2: not JSON data") as err:
        evaluate(rows, "humaneval", store=tmp_path / "s.sqlite")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "s.sqlite").exists()  # refused before any run is recorded
