"""MultiPL-E in the sandbox: every installed language, judged by the real toolchain.

The solutions in ``multipl_e_solutions/<lang>.json`` were written for these tests (never taken
from a model or a benchmark): ``correct`` must pass, ``wrong`` must fail, and ``exit_early`` (a
wrong body that ends the process with status 0) must fail although its exit status alone says
"passed". A language whose toolchain is missing is skipped with the reason, except where
``CODEDUEL_REQUIRE_TOOLCHAINS=1`` (CI, which installs them): there it fails.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeduel.errors import SamplesError
from codeduel.execution import LocalExecutor
from codeduel.languages import LANGUAGES, get_language
from codeduel.tasks import get_task
from codeduel.tasks.multipl_e import MultiplETask

SOLUTIONS = Path(__file__).parent / "multipl_e_solutions"
PAPER = ("cpp", "java", "php", "cs", "ts", "sh", "js")  # Table 4's six, and JavaScript
NOT_INSTALLABLE = ("jl", "swift")  # no Debian or npm package: CI cannot have them
REQUIRE = os.environ.get("CODEDUEL_REQUIRE_TOOLCHAINS") == "1"
FULL = os.environ.get("CODEDUEL_MULTIPL_E_FULL") == "1"
# Languages whose programs cost under ~0.2 s each: the empty-body sweep covers every problem.
CHEAP = ("cs", "js", "php", "sh", "py", "rb", "lua", "pl", "rs", "r", "d", "rkt")
MARKER_MISSING = "before its tests finished"


def need_toolchain(code: str) -> None:
    tc = get_language(code).toolchain()
    if tc.available:
        return
    if REQUIRE and code not in NOT_INSTALLABLE:
        pytest.fail(f"{code}: toolchain required in CI but {tc.describe()}")
    pytest.skip(f"{code}: {tc.describe()}")


@pytest.fixture(scope="module")
def executor() -> Iterator[LocalExecutor]:
    with LocalExecutor(workers=2) as ex:
        yield ex


def solutions(code: str) -> dict[str, dict[str, str]]:
    data = json.loads((SOLUTIONS / f"{code}.json").read_text(encoding="utf-8"))
    assert data["language"] == code
    problems: dict[str, dict[str, str]] = data["problems"]
    return problems


def judge(task: MultiplETask, ex: LocalExecutor, samples: list[tuple[str, str, str]]) -> dict:
    """Verdicts by key for (key, task_id, completion) triples."""
    programs = [
        task.program(task.get(tid), {"completion": completion}, key)
        for key, tid, completion in samples
    ]
    return {v.key: v for v in ex.run(programs)}


def test_every_multipl_e_language_is_a_task_with_its_data() -> None:
    codes = {"cpp", "cs", "d", "go", "java", "jl", "js", "lua", "php", "pl", "py", "r", "rb"}
    codes |= {"rkt", "rs", "scala", "sh", "swift", "ts"}
    assert set(LANGUAGES) == codes
    task = get_task("multipl-e-cpp")
    info = task.dataset()
    assert info.name == "multipl-e-cpp" and info.sha256.startswith("e0c65762")
    assert len(task.problems()) == 161
    # MultiPL-E's name and the HumanEval id name the same problem.
    assert task.get("HumanEval/13") is task.get("HumanEval_13_greatest_common_divisor")
    with pytest.raises(SamplesError, match="not a problem of multipl-e-cpp"):
        task.get("Mbpp/2")
    # HumanEval/32 (poly) is one MultiPL-E could not translate to C++.
    with pytest.raises(SamplesError, match="no C\\+\\+ translation"):
        task.get("HumanEval/32")


@pytest.mark.parametrize("code", sorted(p.stem for p in SOLUTIONS.glob("*.json")))
def test_correct_pass_wrong_and_early_exit_fail(code: str, executor: LocalExecutor) -> None:
    need_toolchain(code)
    task = get_task(f"multipl-e-{code}")
    assert isinstance(task, MultiplETask)
    problems = solutions(code)
    if code in PAPER:
        assert sum("correct" in v for v in problems.values()) >= 10
        assert sum("exit_early" in v for v in problems.values()) >= 3
    samples = [
        (f"{name}|{kind}", name, text)
        for name, kinds in problems.items()
        for kind, text in kinds.items()
    ]
    verdicts = judge(task, executor, samples)
    for key, v in verdicts.items():
        kind = key.split("|")[1]
        assert v.mode == "exec"
        if kind == "correct":
            assert v.passed, (key, v.reason, v.stderr_tail[-500:])
        else:
            assert not v.passed, (key, v.stdout_tail[-300:])
        if kind == "exit_early":
            # Its process ended with status 0: only the missing marker gives it away, unless
            # the language's runner reports the interrupted test itself (go test does).
            steps = v.details["steps"]
            if steps[-1]["exit"] == 0:
                assert MARKER_MISSING in v.reason, (key, v.reason)


def _sweep(code: str) -> list[str]:
    """Problems the empty-body test covers: all of them for cheap languages (or with
    CODEDUEL_MULTIPL_E_FULL=1), else a fixed random 16."""
    ids = [p.task_id for p in get_task(f"multipl-e-{code}").problems()]
    if FULL or code in CHEAP:
        return ids
    return sorted(random.Random(15).sample(ids, 16))


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_an_empty_body_passes_no_problem(code: str, executor: LocalExecutor) -> None:
    """Nothing passes vacuously: with no completion at all, every problem fails (a test
    file that never called the function, or a seal that printed the marker too early,
    would show up here)."""
    need_toolchain(code)
    task = get_task(f"multipl-e-{code}")
    assert isinstance(task, MultiplETask)
    ids = _sweep(code)
    verdicts = judge(task, executor, [(tid, tid, "") for tid in ids])
    passed = sorted(k for k, v in verdicts.items() if v.passed)
    assert passed == []
    assert len(verdicts) == len(ids)
