"""HumanEval infilling (Bavarian et al. 2022): fill a masked span of a canonical solution.

The four sets of openai/human-eval-infilling (single-line 1033, multi-line 5815, random-span
1640, random-span-light 164) share one schema: ``prompt`` (the prefix), ``suffix``,
``canonical_solution`` (the masked middle), ``test`` and ``entry_point``. As in the reference
checker, the program run is ``prefix + middle + suffix`` followed by the test and
``check(entry_point)``; a sample's ``completion`` is the generated middle only.

Judging is rpc mode, as for HumanEval: the untrusted program is ``prefix + middle + suffix``; the
trusted judge runs the dataset's own full canonical program for its imports and helpers, with
every top-level function rebound to the candidate's (the trick ``humaneval.py`` uses for the
entry point, widened because a span may sit in a helper the test calls, such as
``encode_cyclic`` in HumanEval/38 or ``poly`` in HumanEval/32).
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from pathlib import Path
from typing import Any

from codeduel.errors import SamplesError
from codeduel.execution.base import Executor, Program
from codeduel.tasks import datasets, register
from codeduel.tasks.base import PYTHON_PACKAGES, DatasetInfo, Problem
from codeduel.tasks.humaneval import HUMANEVAL_TIMEOUT_S

#: task name -> (registered dataset file, task_id prefix, record count)
INFILL_SETS: dict[str, tuple[str, str, int]] = {
    "humaneval-infill-single": ("humaneval-infilling-single-line", "SingleLineInfilling", 1033),
    "humaneval-infill-multi": ("humaneval-infilling-multi-line", "MultiLineInfilling", 5815),
    "humaneval-infill-random-span": (
        "humaneval-infilling-random-span",
        "RandomSpanInfilling",
        1640,
    ),
    "humaneval-infill-random-span-light": (
        "humaneval-infilling-random-span-light",
        "RandomSpanInfillingLight",
        164,
    ),
}


def top_level_functions(source: str) -> tuple[str, ...]:
    """Names of the module-level functions of a (trusted, canonical) program, in order."""
    tree = ast.parse(source)
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return tuple(dict.fromkeys(names))


class InfillingTask:
    """One human-eval-infilling set; ``Problem.prompt`` is the prefix, ``meta['suffix']`` the
    suffix, ``Problem.reference`` the canonical middle."""

    packages = PYTHON_PACKAGES

    def __init__(self, name: str, data_dir: Path | None = None) -> None:
        self.name = name
        file_name, self.id_prefix, _ = INFILL_SETS[name]
        self._info, records = datasets.load(file_name, data_dir)
        self._problems = [
            Problem(
                task_id=r["task_id"],
                prompt=r["prompt"],
                entry_point=r["entry_point"],
                reference=r["canonical_solution"],
                meta={"suffix": r["suffix"], "test": r["test"]},
            )
            for r in records
        ]
        self._by_id = {p.task_id: p for p in self._problems}
        self._exposed: dict[str, tuple[str, ...]] = {}

    def dataset(self) -> DatasetInfo:
        return self._info

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def get(self, task_id: object) -> Problem:
        """The problem for a sample's ``task_id`` (the dataset's own id, e.g.
        ``SingleLineInfilling/HumanEval/0/L0``)."""
        tid = str(task_id).strip()
        try:
            return self._by_id[tid]
        except KeyError:
            raise SamplesError(
                f"task_id {tid!r} is not in {self.name}",
                f"use the dataset's ids, e.g. {self._problems[0].task_id!r}",
            ) from None

    def prepare(self, executor: Executor, task_ids: Collection[str] | None = None) -> None:
        """Nothing to compute: the dataset's own ``check`` is the oracle."""

    def canonical_program(self, problem: Problem) -> str:
        """The full trusted program: prefix + canonical middle + suffix."""
        return problem.prompt + problem.reference + problem.meta["suffix"]

    def _exposed_names(self, problem: Problem) -> tuple[str, ...]:
        names = self._exposed.get(problem.task_id)
        if names is None:
            entry = problem.entry_point or ""
            found = top_level_functions(self.canonical_program(problem))
            names = tuple(dict.fromkeys((entry, *found)))
            self._exposed[problem.task_id] = names
        return names

    def program(self, problem: Problem, sample: dict[str, Any], key: str) -> Program:
        entry = problem.entry_point
        assert entry is not None
        completion = sample.get("completion")
        if not isinstance(completion, str):
            raise SamplesError(
                f"sample for {problem.task_id} has no 'completion' string (the infilled middle)",
                'write each sample as {"task_id": ..., "completion": "<middle>"}',
            )
        # Top-level defs of exposed names in the harness become ``name = CANDIDATES[name]``.
        harness = (
            f"{self.canonical_program(problem)}\n{problem.meta['test']}\n"
            f"check(CANDIDATES[{entry!r}])\n"
        )
        return Program(
            key=key,
            candidate=problem.prompt + completion + problem.meta["suffix"],
            harness=harness,
            expose=self._exposed_names(problem),
            mode="rpc",
            timeout_s=HUMANEVAL_TIMEOUT_S,
        )


def _factory(name: str) -> None:
    _, _, records = INFILL_SETS[name]
    description = (
        f"HumanEval infilling, {name.removeprefix('humaneval-infill-')} ({records} spans): "
        "prefix + middle + suffix + check(), PSM/SPM"
    )

    def make(data_dir: Path | None) -> InfillingTask:
        return InfillingTask(name, data_dir)

    register(name, description)(make)


for _name in INFILL_SETS:
    _factory(_name)
