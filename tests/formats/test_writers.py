"""The writers of other tools' result files, checked against those tools' own code and shapes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from evalplus.data.mbpp import mbpp_serialize_inputs

from codeduel.errors import CodeduelError
from codeduel.formats.writers import (
    EvalPlusRow,
    bigcode_metrics,
    bigcode_task_name,
    evalplus_pass_at_k,
    evalplus_results,
    write_json,
)
from codeduel.tasks.evalplus import mbpp_plus_inputs, mbpp_serialize_input, phase_verdict


def _row(
    task_id: str, base: str, plus: str | None, fail: list[object] | None = None
) -> EvalPlusRow:
    return EvalPlusRow(task_id, "def f(): pass\n", base, plus, [], fail or [])


def test_evalplus_results_shape_and_order() -> None:
    rows = [
        _row("HumanEval/3", "pass", "fail", [[[1, 2, 3]]]),
        _row("HumanEval/1", "fail", None),
        _row("HumanEval/3", "pass", "pass"),
    ]
    data = evalplus_results(rows, dataset_hash="abc", date=datetime(2024, 5, 6, 7, 8, 9))
    assert data["date"] == "2024-05-06 07:08"  # evalplus: "%Y-%m-%d %H:%M"
    assert data["hash"] == "abc"
    assert list(data["eval"]) == ["HumanEval/3", "HumanEval/1"]  # first appearance
    first = data["eval"]["HumanEval/3"][0]
    assert list(first) == [
        "task_id",
        "solution",
        "base_status",
        "plus_status",
        "base_fail_tests",
        "plus_fail_tests",
    ]
    assert first["plus_fail_tests"] == [[[1, 2, 3]]]
    # counted as evalplus counts pass@k: plus needs base_status == plus_status == "pass"
    assert evalplus_pass_at_k(data) == {
        "HumanEval/3": {"n": 2, "base": 2, "plus": 1},
        "HumanEval/1": {"n": 1, "base": 0, "plus": 0},
    }


def test_evalplus_results_refuses_words_evalplus_does_not_write() -> None:
    with pytest.raises(ValueError, match="timed out"):
        evalplus_results(
            [_row("HumanEval/0", "timed out", None)], dataset_hash="", date=datetime.now()
        )


def test_mbpp_failing_inputs_serialised_as_evalplus_does() -> None:
    """evalplus writes MBPP+ failing inputs through mbpp_serialize_inputs: compare on the
    converted inputs of the three tasks it changes and one it leaves alone."""
    cases = {
        "Mbpp/115": [[[[1, 2], [], [3]]]],
        "Mbpp/124": [[1, "(1+2j)"], [0.5, "3j"]],
        "Mbpp/252": [["1+2j"]],
        "Mbpp/2": [[[1, 2], [2, 3]]],
    }
    for task_id, raw in cases.items():
        converted = mbpp_plus_inputs(task_id, raw)
        theirs = mbpp_serialize_inputs(task_id, converted)
        ours = [mbpp_serialize_input(task_id, inp) for inp in converted]
        assert json.dumps(ours) == json.dumps(theirs), task_id


def test_phase_verdict_reads_the_judges_report() -> None:
    passed = phase_verdict("passed", {})
    assert (passed.base, passed.plus, passed.plus_passed) == ("pass", "pass", True)
    plus_fail = phase_verdict(
        "failed",
        {
            "report": {
                "base_status": "pass",
                "plus_status": "fail",
                "first_failure": {"phase": "plus", "index": 7},
            }
        },
    )
    assert (plus_fail.base, plus_fail.plus, plus_fail.failed_index) == ("pass", "fail", 7)
    assert plus_fail.base_passed and not plus_fail.plus_passed
    # a per-input time limit in the base phase: evalplus counts it as "fail"
    slow = phase_verdict(
        "timed out",
        {
            "report": {
                "base_status": "fail",
                "plus_status": None,
                "first_failure": {"phase": "base", "index": 0},
            }
        },
    )
    assert (slow.base, slow.plus, slow.failed_phase) == ("fail", None, "base")
    # stopped during the plus phase with no failing input: base passed, plus timed out
    cut = phase_verdict("timed out", {"report": {"base_status": "pass", "plus_status": None}})
    assert (cut.base, cut.plus, cut.base_passed) == ("pass", "timeout", True)
    # never reached an input (syntax error) or stopped before the base phase reported
    assert phase_verdict("failed", {}).base == "fail"
    assert phase_verdict("timed out", {}).base == "timeout"
    assert not phase_verdict("failed", {"report": "not a dict"}).base_passed


def test_bigcode_names_and_metrics() -> None:
    assert bigcode_task_name("humaneval+") == "humanevalplus"
    assert bigcode_task_name("mbpp+") == "mbppplus"
    assert bigcode_task_name("multipl-e-cpp") == "multiple-cpp"
    assert bigcode_task_name("apps") == "apps"
    data = bigcode_metrics("humaneval", {"pass@1": 0.25, "pass@10": None}, {"model": "m"})
    assert data == {"humaneval": {"pass@1": 0.25}, "config": {"model": "m"}}


def test_write_json_errors_and_atomicity(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    size = write_json(target, {"a": (1, 2), "s": {3, 1}}, indent=2)
    assert json.loads(target.read_text()) == {"a": [1, 2], "s": [1, 3]}
    assert size == target.stat().st_size
    assert not (tmp_path / "out.json.tmp").exists()
    with pytest.raises(CodeduelError, match="is a folder"):
        write_json(tmp_path, {})
    with pytest.raises(CodeduelError, match="cannot write") as exc:
        write_json(tmp_path / "missing" / "x.json", {})
    assert "\n" not in str(exc.value)
