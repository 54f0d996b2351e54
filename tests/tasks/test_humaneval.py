"""HumanEval through the real sandboxed executor: canonical solutions pass, wrong ones fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeduel.errors import SamplesError
from codeduel.execution.base import Verdict
from codeduel.execution.pool import LocalExecutor
from codeduel.tasks import get_task, task_names
from codeduel.tasks.humaneval import HumanEvalTask, normalize_humaneval_id


@pytest.fixture(scope="module")
def task(task_cache: Path, data_dir: Path) -> HumanEvalTask:
    t = get_task("humaneval", data_dir)
    assert isinstance(t, HumanEvalTask)
    return t


def _run(ex: LocalExecutor, task: HumanEvalTask, samples: dict[str, dict]) -> dict[str, Verdict]:
    programs = [task.program(task.get(tid), s, tid) for tid, s in samples.items()]
    return {v.key: v for v in ex.run(programs)}


def test_registered_with_dataset_info(task: HumanEvalTask) -> None:
    assert "humaneval" in task_names()
    info = task.dataset()
    assert info.name == "humaneval" and info.version == "1.0.3"
    assert info.sha256 == "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef"
    assert info.path.endswith("humaneval/HumanEval.jsonl.gz")
    problems = task.problems()
    assert len(problems) == 164
    assert [p.task_id for p in problems[:2]] == ["HumanEval/0", "HumanEval/1"]
    assert problems[0].entry_point == "has_close_elements"


def test_all_canonical_solutions_pass(task: HumanEvalTask, executor: LocalExecutor) -> None:
    samples = {p.task_id: {"completion": p.reference} for p in task.problems()}
    verdicts = _run(executor, task, samples)
    failed = {k: v.result for k, v in verdicts.items() if not v.passed}
    assert failed == {}
    assert len(verdicts) == 164
    assert all(v.mode == "rpc" for v in verdicts.values())


def test_return_none_fails_everywhere(task: HumanEvalTask, executor: LocalExecutor) -> None:
    samples = {p.task_id: {"completion": "    return None\n"} for p in task.problems()}
    verdicts = _run(executor, task, samples)
    assert [k for k, v in verdicts.items() if v.passed] == []


def test_wrong_completions_fail_and_full_solutions_pass(
    task: HumanEvalTask, executor: LocalExecutor
) -> None:
    fib = task.get("HumanEval/55")
    off_by_one = fib.reference.replace("fib(n - 1) + fib(n - 2)", "fib(n - 1) + fib(n - 2) + 1")
    assert off_by_one != fib.reference
    samples = {
        "HumanEval/55": {"completion": off_by_one},
        # sort_third's test calls the function by name: the name must mean the candidate.
        "HumanEval/33": {"completion": "    return sorted(l)\n"},
        # A full program in "solution" replaces prompt + completion.
        "HumanEval/53": {"solution": "def add(x, y):\n    return x + y\n"},
        "HumanEval/2": {"solution": "def truncate_number(number):\n    return number\n"},
    }
    verdicts = _run(executor, task, samples)
    assert verdicts["HumanEval/55"].status == "failed"
    assert verdicts["HumanEval/33"].status == "failed"
    assert verdicts["HumanEval/53"].passed
    assert verdicts["HumanEval/2"].status == "failed"


def test_the_test_cannot_be_faked_from_the_candidate(
    task: HumanEvalTask, executor: LocalExecutor
) -> None:
    fakes = {
        # Defining check() or exiting early works against an in-process runner, not here.
        "HumanEval/0": {"completion": "    return None\n\ndef check(candidate):\n    pass\n"},
        "HumanEval/1": {"completion": "    import sys\n    sys.exit(0)\n"},
        "HumanEval/3": {"completion": "    pass\nimport os\nos._exit(0)\n"},
    }
    verdicts = _run(executor, task, fakes)
    assert {k: v.passed for k, v in verdicts.items()} == dict.fromkeys(fakes, False)


def test_infinite_loop_times_out(task: HumanEvalTask, executor: LocalExecutor) -> None:
    verdicts = _run(
        executor, task, {"HumanEval/4": {"completion": "    while True:\n        pass\n"}}
    )
    assert verdicts["HumanEval/4"].status == "timed out"


def test_task_id_normalisation(task: HumanEvalTask) -> None:
    for bare in (7, "7", 0):  # MBPP's ids: never silently HumanEval/7
        with pytest.raises(SamplesError):
            normalize_humaneval_id(bare)
    assert normalize_humaneval_id("HumanEval/7") == "HumanEval/7"
    assert task.get("humaneval/12").task_id == "HumanEval/12"
    for bad in ("Mbpp/7", "seven", True, None):
        with pytest.raises(SamplesError):
            normalize_humaneval_id(bad)
    with pytest.raises(SamplesError, match="not in HumanEval"):
        task.get("HumanEval/999")


def test_sample_without_code_is_a_samples_error(task: HumanEvalTask) -> None:
    with pytest.raises(SamplesError, match="neither a 'completion' nor a 'solution'"):
        task.program(task.get("HumanEval/0"), {"task_id": "HumanEval/0"}, "k")
