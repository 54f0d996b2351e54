"""HumanEval+ and MBPP+ with EvalPlus semantics, through the real sandboxed executor.

Tests that need expected outputs are marked slow: computing them (prepare) runs every canonical
solution on every input once per module, about 40 s for HumanEval+ and 2 min for MBPP+ here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codeduel.errors import CodeduelError
from codeduel.execution.base import Verdict
from codeduel.execution.pool import LocalExecutor
from codeduel.tasks import get_task
from codeduel.tasks.evalplus import (
    EvalPlusTask,
    HumanEvalPlusTask,
    MbppPlusTask,
    NotPreparedError,
    mbpp_plus_inputs,
)


@pytest.fixture(scope="module")
def heplus(task_cache: Path, data_dir: Path, executor: LocalExecutor) -> HumanEvalPlusTask:
    t = get_task("humaneval+", data_dir)
    assert isinstance(t, HumanEvalPlusTask)
    t.prepare(executor)
    return t


@pytest.fixture(scope="module")
def mbppplus(task_cache: Path, data_dir: Path, executor: LocalExecutor) -> MbppPlusTask:
    t = get_task("mbpp+", data_dir)
    assert isinstance(t, MbppPlusTask)
    t.prepare(executor)
    return t


def _run(ex: LocalExecutor, task: EvalPlusTask, samples: dict[str, dict]) -> dict[str, Verdict]:
    programs = [task.program(task.get(tid), s, tid) for tid, s in samples.items()]
    return {v.key: v for v in ex.run(programs)}


def test_mbpp_plus_input_deserialisation() -> None:
    assert mbpp_plus_inputs("Mbpp/2", [[[1, 2], [2, 3]]]) == [[(1, 2), (2, 3)]]
    assert mbpp_plus_inputs("Mbpp/124", [[1, "(1+2j)"]]) == [(1.0, 1 + 2j)]
    converted = mbpp_plus_inputs("Mbpp/115", [[[[1, 2], [], [3]]]])
    assert converted == [[[{1, 2}, {}, {3}]]]
    assert type(converted[0][0][1]) is dict  # evalplus turns an empty list into {}, a dict
    assert mbpp_plus_inputs("Mbpp/580", [[[1, [2, 3]], 4]]) == [((1, (2, 3)), 4)]
    assert mbpp_plus_inputs("Mbpp/3", [[5]]) == [[5]]


def test_program_before_prepare_is_a_clear_error(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no cached expected outputs
    task = get_task("humaneval+", data_dir)
    assert isinstance(task, HumanEvalPlusTask) and not task.prepared
    with pytest.raises(NotPreparedError) as exc:
        task.program(task.get("HumanEval/0"), {"completion": "    return False\n"}, "k")
    assert isinstance(exc.value, CodeduelError)
    assert "\n" not in str(exc.value) and "prepare" in str(exc.value)


@pytest.mark.slow
def test_time_limits_follow_evalplus_defaults(heplus: HumanEvalPlusTask) -> None:
    assert heplus.time_limits([0.001, 0.5]) == [1.0, 2.0]
    info = heplus.dataset()
    assert (info.name, info.version) == ("humaneval+", "v0.1.10")
    assert info.sha256.startswith("272720b9")


@pytest.mark.slow
def test_humaneval_plus_canonical_all_pass(
    heplus: HumanEvalPlusTask, executor: LocalExecutor, data_dir: Path
) -> None:
    samples = {p.task_id: {"completion": p.reference} for p in heplus.problems()}
    verdicts = _run(executor, heplus, samples)
    assert {k: v.result for k, v in verdicts.items() if not v.passed} == {}
    assert len(verdicts) == 164
    assert heplus.skipped_inputs() == {}
    report = verdicts["HumanEval/0"].details["report"]
    assert report == {"base_status": "pass", "plus_status": "pass"}
    # Expected outputs are cached: a new instance is prepared without running anything.
    again = get_task("humaneval+", data_dir)
    assert isinstance(again, HumanEvalPlusTask) and again.prepared


@pytest.mark.slow
def test_mbpp_plus_canonical_all_pass(mbppplus: MbppPlusTask, executor: LocalExecutor) -> None:
    assert len(mbppplus.problems()) == 378
    samples = {p.task_id: {"completion": p.reference} for p in mbppplus.problems()}
    verdicts = _run(executor, mbppplus, samples)
    assert {k: v.result for k, v in verdicts.items() if not v.passed} == {}
    assert len(verdicts) == 378
    # Only Mbpp/255's few giant outputs (29-57 MB, one too large to transfer) are left out.
    skipped = mbppplus.skipped_inputs()
    assert set(skipped) == {"Mbpp/255"} and skipped["Mbpp/255"] <= 6


@pytest.mark.slow
def test_humaneval_plus_wrong_completions(
    heplus: HumanEvalPlusTask, executor: LocalExecutor
) -> None:
    p0 = heplus.get("HumanEval/0")
    base = p0.meta["n_base"]
    assert base > 0
    # Right on exactly the original HumanEval inputs, wrong on EvalPlus's extra ones.
    inputs = repr(heplus.inputs(p0)["base"])
    memorised = (
        "def has_close_elements(numbers, threshold):\n"
        f"    if [numbers, threshold] in {inputs}:\n"
        "        return any(abs(a - b) < threshold for i, a in enumerate(numbers)"
        " for b in numbers[i + 1:])\n"
        "    return None\n"
    )
    samples = {
        "HumanEval/0": {"solution": memorised},
        "HumanEval/1": {"completion": "    return None\n"},
        # off by a little: within atol (1e-6) passes, beyond fails
        "HumanEval/2": {"completion": "    return number % 1.0 + 1e-9\n"},
        "HumanEval/4": {
            "completion": "    m = sum(numbers) / len(numbers)\n"
            "    return sum(abs(x - m) for x in numbers) / len(numbers) + 1e-3\n"
        },
        "HumanEval/32": {"completion": "    return 0.0\n"},
    }
    verdicts = _run(executor, heplus, samples)
    zero = verdicts["HumanEval/0"]
    assert zero.status == "failed"
    assert zero.details["report"]["base_status"] == "pass"
    assert zero.details["report"]["plus_status"] == "fail"
    assert zero.details["report"]["first_failure"]["phase"] == "plus"
    assert verdicts["HumanEval/1"].details["report"]["first_failure"]["index"] == 0
    assert verdicts["HumanEval/1"].status == "failed"
    assert verdicts["HumanEval/2"].passed
    assert verdicts["HumanEval/4"].status == "failed"
    assert verdicts["HumanEval/32"].status == "failed"


@pytest.mark.slow
def test_find_zero_accepts_any_root(heplus: HumanEvalPlusTask, executor: LocalExecutor) -> None:
    # A tighter Newton tolerance returns different floats than the reference on most inputs;
    # EvalPlus checks |poly(xs, x)| <= atol, not equality with the reference's root.
    ref = heplus.get("HumanEval/32").reference
    tighter = ref.replace("x, tol = 0, 1e-5", "x, tol = 0, 1e-9")
    assert tighter != ref
    verdicts = _run(executor, heplus, {"HumanEval/32": {"completion": tighter}})
    assert verdicts["HumanEval/32"].passed, verdicts["HumanEval/32"].result


@pytest.mark.slow
def test_per_input_time_limit(heplus: HumanEvalPlusTask, executor: LocalExecutor) -> None:
    verdicts = _run(
        executor, heplus, {"HumanEval/5": {"completion": "    while True:\n        pass\n"}}
    )
    v = verdicts["HumanEval/5"]
    assert v.status == "timed out"
    assert v.details["report"]["first_failure"] == {
        **v.details["report"]["first_failure"],
        "phase": "base",
        "index": 0,
    }


@pytest.mark.slow
def test_mbpp_plus_special_oracles(mbppplus: MbppPlusTask, executor: LocalExecutor) -> None:
    samples = {
        # set-equality task: any order of the shared elements is right
        "Mbpp/2": {
            "solution": "def similar_elements(a, b):\n"
            "    return tuple(sorted(set(a) & set(b), reverse=True))\n"
        },
        # re.Match output: only "is not None" is compared, and a bool answer is accepted
        "Mbpp/794": {
            "solution": "import re\ndef text_starta_endb(text):\n"
            "    return re.search('a.*?b$', text) is not None\n"
        },
        # collections.Counter output compares equal to a plain dict
        "Mbpp/88": {
            "solution": "def freq_count(xs):\n"
            "    out = {}\n"
            "    for x in xs:\n"
            "        out[x] = out.get(x, 0) + 1\n"
            "    return out\n"
        },
        "Mbpp/3": {"solution": "def is_not_prime(n):\n    return None\n"},
    }
    verdicts = _run(executor, mbppplus, samples)
    assert verdicts["Mbpp/2"].passed, verdicts["Mbpp/2"].result
    assert verdicts["Mbpp/794"].passed, verdicts["Mbpp/794"].result
    assert verdicts["Mbpp/88"].passed, verdicts["Mbpp/88"].result
    assert verdicts["Mbpp/3"].status == "failed"


@pytest.mark.slow
def test_mbpp_plus_wrong_completions_fail(mbppplus: MbppPlusTask, executor: LocalExecutor) -> None:
    problems = mbppplus.problems()[:80]
    samples = {
        p.task_id: {"solution": f"def {p.entry_point}(*args):\n    return None\n"} for p in problems
    }
    verdicts = _run(executor, mbppplus, samples)
    # are_equivalent (Mbpp/164) accepts any output in EvalPlus; nothing else may pass.
    assert sorted(k for k, v in verdicts.items() if v.passed) in ([], ["Mbpp/164"])


def test_prepare_computes_only_the_problems_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path, executor: LocalExecutor
) -> None:
    """Scoring a few samples costs their problems' expected outputs, not all 164; the partial
    cache is reused and grown by later instances."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    task = get_task("humaneval+", data_dir)
    assert isinstance(task, HumanEvalPlusTask) and not task.prepared
    task.prepare(executor, ["HumanEval/2", "HumanEval/7"])
    assert not task.prepared  # not every problem
    good = {"completion": "    return number % 1.0\n"}
    assert _run(executor, task, {"HumanEval/2": good})["HumanEval/2"].passed
    with pytest.raises(NotPreparedError):
        task.program(task.get("HumanEval/3"), good, "k")
    again = get_task("humaneval+", data_dir)
    assert isinstance(again, HumanEvalPlusTask)
    again.program(again.get("HumanEval/7"), good, "k")  # loaded from the partial cache
    again.prepare(executor, ["HumanEval/3"])
    third = get_task("humaneval+", data_dir)
    assert isinstance(third, HumanEvalPlusTask)
    for tid in ("HumanEval/2", "HumanEval/3", "HumanEval/7"):
        third.program(third.get(tid), good, "k")
