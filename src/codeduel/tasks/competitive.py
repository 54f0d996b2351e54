"""Competitive-programming problems (APPS, LiveCodeBench): whole programs judged on test cases.

Two kinds of problem, both judged in ``rpc`` mode so that every comparison happens in the
judge, never in the candidate's process:

- ``stdin``: the program reads standard input and writes standard output. The child receives
  the program's source and, per test, the input text; it runs the source as ``__main__`` with
  that input as ``sys.stdin`` (also ``input()``, ``open(0)``, ``sys.stdin.buffer``) and returns
  what it printed. The judge compares that text with the expected output by the benchmark's own
  rule.
- ``call``: LeetCode-style. The program defines ``class Solution`` with a method (or a plain
  function) named ``fn_name``; per test the child calls it with the decoded arguments and
  returns the value (exact builtin types only). The judge compares.

A task subclasses :class:`CompetitiveTask` and supplies its problems and, per problem, a
:class:`TestSuite` (read lazily: benchmark test data can be large).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from codeduel.errors import DatasetError, SamplesError
from codeduel.execution.base import MAX_TIMEOUT_S, Executor, Program
from codeduel.tasks.base import PYTHON_PACKAGES, DatasetInfo, Problem

SuiteKind = Literal["stdin", "call"]


@dataclass(frozen=True)
class TestCase:
    """One test. ``stdin``: ``input`` and ``output`` are text. ``call``: ``input`` is the list of
    arguments and ``output`` the expected return value (decoded JSON)."""

    __test__ = False  # not a pytest class, whatever its name
    input: Any
    output: Any


@dataclass(frozen=True)
class TestSuite:
    """A problem's tests and how to judge them.

    ``compare``: the benchmark whose output rules apply (``"livecodebench"`` or ``"apps"``).
    ``timeout_s``: CPU seconds per test (LiveCodeBench 6, APPS 4: their evaluators' values).
    """

    __test__ = False
    kind: SuiteKind
    cases: tuple[TestCase, ...]
    compare: str
    timeout_s: float
    fn_name: str | None = None


# What each benchmark's evaluator puts before every program (so a solution may use `List`,
# `defaultdict` or `inf` without importing them, as it may there): LiveCodeBench's
# `import_string` (lcb_runner/evaluation/testing_util.py) and the header APPS's run_test builds
# (hendrycks/apps eval/testing_util.py), restated as import lists.
_LCB_MODULES = (
    *("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random"),
    *("statistics", "itertools", "functools", "operator", "io", "sys", "json", "builtins"),
    "typing",
)
PREAMBLES: dict[str, str] = {
    "livecodebench": "".join(f"from {m} import *\n" for m in _LCB_MODULES)
    + "".join(f"import {m}\n" for m in _LCB_MODULES if m not in ("builtins", "typing"))
    + "sys.setrecursionlimit(50000)\n",
    "apps": (
        "import sys\nimport time\nimport itertools\n"
        "from itertools import accumulate, product, permutations, combinations\n"
        "import collections\n"
        "from collections import Counter, OrderedDict, deque, defaultdict, ChainMap\n"
        "from functools import lru_cache\nimport math\n"
        "from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2\n"
        "import fractions\nfrom typing import List, Tuple\nimport numpy as np\nimport random\n"
        "import heapq\nfrom heapq import *\n"
    ),
}
# The judge refuses messages over codec.MAX_BYTES (64 MiB); a problem's tests travel to it in
# one job, so they must stay well under.
MAX_SUITE_BYTES = 48 * 1024 * 1024
# CPU seconds for the program's start (compiling it, a call-based program's top level).
START_S = 10.0


def _harness(name: str) -> str:
    return (resources.files("codeduel.tasks") / "competitive_harness" / f"{name}.py").read_text(
        encoding="utf-8"
    )


_RUNNERS = {"stdin": _harness("stdin_runner"), "call": _harness("call_runner")}
_JUDGE = _harness("judge")


def solution_text(sample: dict[str, Any], task_id: str) -> str:
    """The whole program a sample holds: ``solution``, else ``completion`` (for these tasks
    both are whole programs: there is no prompt code to continue)."""
    for field_name in ("solution", "completion"):
        value = sample.get(field_name)
        if isinstance(value, str):
            return value
    raise SamplesError(
        f"sample for {task_id} has neither a 'solution' nor a 'completion' string",
        'write each sample as {"task_id": ..., "solution": "<whole program>"}',
    )


class CompetitiveTask:
    """Base of the whole-program benchmarks: problems, lookup by id, and judging.

    Subclasses load their data, pass it to ``__init__`` and implement :meth:`suite`.
    """

    packages: tuple[str, ...] = PYTHON_PACKAGES
    id_hint: str = "use the benchmark's own problem ids"
    # Meta recorded per problem in each run's summary for the report's views (tasks.base).
    view_meta_keys: tuple[str, ...] = ("difficulty", "contest_date", "platform", "release")

    def __init__(self, name: str, info: DatasetInfo, problems: list[Problem]) -> None:
        self.name = name
        self._info = info
        self._problems = list(problems)
        self._by_id = {p.task_id: p for p in self._problems}

    def dataset(self) -> DatasetInfo:
        return self._info

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def get(self, task_id: object) -> Problem:
        key = str(task_id).strip() if isinstance(task_id, str | int) else None
        if key is not None and key in self._by_id:
            return self._by_id[key]
        raise SamplesError(f"task_id {task_id!r} is not a problem of {self.name}", self.id_hint)

    def suite(self, problem: Problem) -> TestSuite:
        """The problem's tests (read on demand: benchmark test data can be large)."""
        raise NotImplementedError

    def prepare(self, executor: Executor, task_ids: Collection[str] | None = None) -> None:
        """Nothing to compute ahead: expected outputs ship with the data."""

    def check_sample(self, sample: dict[str, Any]) -> None:
        """Samples of these tasks are whole Python programs; nothing to check ahead."""

    def program(self, problem: Problem, sample: dict[str, Any], key: str) -> Program:
        return build_program(self.suite(problem), solution_text(sample, problem.task_id), key)


def build_program(suite: TestSuite, source: str, key: str) -> Program:
    """One rpc program: ``source`` runs in the child through the suite's runner, the tests
    and the comparison stay in the judge."""
    if suite.compare not in PREAMBLES:
        raise DatasetError(
            f"unknown comparison rule {suite.compare!r}", f"use one of {', '.join(PREAMBLES)}"
        )
    if not suite.cases:  # no program may pass a problem vacuously
        raise DatasetError(
            f"program {key!r}: the problem has no test cases, so no verdict is possible",
            "leave the problem out of the samples (the dataset ships no tests for it)",
        )
    cases = [[c.input, c.output] for c in suite.cases]
    size = sum(len(str(c.input)) + len(str(c.output)) for c in suite.cases)
    if size > MAX_SUITE_BYTES:
        raise DatasetError(
            f"the tests of this problem are {size / 2**20:.0f} MiB, more than the "
            f"{MAX_SUITE_BYTES / 2**20:.0f} MiB one judge job may carry",
            "leave the problem out (--since/--until, or a samples file without it)",
        )
    candidate = (
        f"_CODEDUEL_SOURCE = {source!r}\n_CODEDUEL_PREAMBLE = {PREAMBLES[suite.compare]!r}\n"
        + _RUNNERS[suite.kind]
    )
    data = {
        "kind": suite.kind,
        "compare": suite.compare,
        "timeout_s": suite.timeout_s,
        "fn_name": suite.fn_name,
        "cases": cases,
    }
    timeout = min(MAX_TIMEOUT_S, START_S + suite.timeout_s * max(1, len(cases)))
    return Program(
        key=key,
        candidate=candidate,
        harness=_JUDGE,
        expose=("codeduel_run_stdin",) if suite.kind == "stdin" else ("codeduel_call",),
        harness_data=data,
        mode="rpc",
        timeout_s=timeout,
    )
