"""Benchmarks, registered by name. Each module registers its tasks with :func:`register`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

from codeduel.errors import CodeduelError
from codeduel.tasks.base import DatasetInfo, Problem, Task

TaskFactory = Callable[[Path | None], Task]

_REGISTRY: dict[str, TaskFactory] = {}
_DESCRIPTIONS: dict[str, str] = {}
# Modules imported on first lookup, so listing tasks stays cheap and each module self-registers.
_MODULES = (
    "codeduel.tasks.humaneval",
    "codeduel.tasks.mbpp",
    "codeduel.tasks.evalplus",
    "codeduel.tasks.infilling",
    "codeduel.tasks.selfinstruct",
    "codeduel.tasks.multipl_e",
    "codeduel.tasks.apps",
    "codeduel.tasks.livecodebench",
)


def register(name: str, description: str) -> Callable[[TaskFactory], TaskFactory]:
    """Class or function decorator: ``factory(data_dir) -> Task`` registered under ``name``."""

    def deco(factory: TaskFactory) -> TaskFactory:
        _REGISTRY[name] = factory
        _DESCRIPTIONS[name] = description
        return factory

    return deco


def _load_all() -> None:
    for mod in _MODULES:
        import_module(mod)


def task_names() -> dict[str, str]:
    """Registered task names and their one-line descriptions."""
    _load_all()
    return dict(sorted(_DESCRIPTIONS.items()))


def get_task(name: str, data_dir: Path | None = None, **options: Any) -> Task:
    """Instantiate a registered task, or fail with a one-line error listing the known names.

    ``options`` are the task's own keyword settings (HumanEval's ``helpers``); an option the
    task does not take is a one-line error, never silently ignored."""
    _load_all()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise CodeduelError(f"unknown task {name!r}", f"choose one of: {known}") from None
    if options:
        accepted = inspect.signature(factory).parameters
        unknown = [key for key in options if key not in accepted]
        if unknown:
            raise CodeduelError(
                f"task {name!r} has no option {unknown[0]!r}", "leave it out for this task"
            )
        return factory(data_dir, **options)  # type: ignore[call-arg]
    return factory(data_dir)


__all__ = ["DatasetInfo", "Problem", "Task", "get_task", "register", "task_names"]
