"""Self-instruct data as a task, so ``codeduel evaluate`` can re-score what ``selfinstruct`` kept.

Why a task: the claim "every kept solution passes its tests" should be checkable by the same
command that scores benchmarks, not only by the code that made the data. ``codeduel
selfinstruct -o DIR`` writes ``DIR/selfinstruct/problems.jsonl`` (question, tests, entry point,
kept solution) and ``DIR/samples.jsonl`` (the kept solutions); then

    codeduel evaluate DIR/samples.jsonl --task selfinstruct --data-dir DIR

re-runs every kept solution against its tests in the sandbox and must report 100 % pass@1.

Why ``concat`` mode: the tests were written by a model, not taken from a benchmark, so they are
untrusted code too. rpc mode would run them in the judge, outside the sandboxed child; concat
runs solution and tests together inside the child. What concat gives up (an adversarial
program could fake its own pass in-process) does not matter here, because the tests come from
the same model as the solution: they were never a trusted oracle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from pathlib import Path
from typing import Any

from codeduel.errors import DatasetError, SamplesError
from codeduel.execution.base import Executor, Program
from codeduel.tasks import datasets, register
from codeduel.tasks.base import PYTHON_PACKAGES, DatasetInfo, Problem

SELFINSTRUCT_TIMEOUT_S = 5.0
PROBLEMS_RELPATH = "selfinstruct/problems.jsonl"


def tests_code(imports: list[str], asserts: list[str]) -> str:
    """The test code appended to a solution: its imports, then its assert statements."""
    return "\n".join([*imports, *asserts]) + "\n"


def judge_program(
    code: str, tests: str, key: str, timeout_s: float = SELFINSTRUCT_TIMEOUT_S
) -> Program:
    """Solution followed by its tests, run whole in the sandboxed child (see module docstring)."""
    return Program(key=key, candidate=f"{code}\n\n{tests}", mode="concat", timeout_s=timeout_s)


@register("selfinstruct", "Self-instruct data written by `codeduel selfinstruct -o DIR`")
class SelfInstructTask:
    """The problems of one self-instruct dataset folder (pass it as ``--data-dir``)."""

    name = "selfinstruct"
    packages = PYTHON_PACKAGES

    def __init__(self, data_dir: Path | None = None) -> None:
        if data_dir is None:
            raise DatasetError(
                "the selfinstruct task reads the folder a `codeduel selfinstruct -o DIR` run wrote",
                "pass --data-dir DIR",
            )
        path = Path(data_dir) / PROBLEMS_RELPATH
        if not path.is_file():
            raise DatasetError(
                f"no self-instruct problems at {path}",
                "pass --data-dir with the folder given to `codeduel selfinstruct -o`",
            )
        records = datasets.read_records(path)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        self._info = DatasetInfo(name="selfinstruct", version=sha[:12], sha256=sha, path=str(path))
        self._problems: list[Problem] = []
        for rec in records:
            try:
                self._problems.append(
                    Problem(
                        task_id=str(rec["task_id"]),
                        prompt=str(rec["question"]),
                        entry_point=rec.get("entry_point"),
                        reference=str(rec["solution"]),
                        meta={"tests": str(rec["tests"])},
                    )
                )
            except (KeyError, TypeError):
                raise DatasetError(
                    f"{path} has a record without task_id, question, solution and tests",
                    "write the folder again with `codeduel selfinstruct`",
                ) from None

        self._by_id = {p.task_id: p for p in self._problems}

    def dataset(self) -> DatasetInfo:
        return self._info

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def get(self, task_id: object) -> Problem:
        """The problem for a sample's ``task_id`` (as the folder names it)."""
        try:
            return self._by_id[str(task_id)]
        except KeyError:
            raise SamplesError(
                f"task_id {task_id!r} is not in this self-instruct folder",
                "score the samples against the folder they were made for",
            ) from None

    def prepare(self, executor: Executor, task_ids: Collection[str] | None = None) -> None:
        """Nothing to compute: the stored tests are the oracle."""

    def program(self, problem: Problem, sample: dict[str, Any], key: str) -> Program:
        code = sample.get("solution", sample.get("completion"))
        if not isinstance(code, str):
            raise SamplesError(
                f"sample for {problem.task_id} has neither a 'solution' nor a 'completion' string",
                'write each sample as {"task_id": ..., "solution": "<code>"}',
            )
        return judge_program(code, problem.meta["tests"], key)
