"""Benchmarks, registered by name. Each module registers its tasks with :func:`register`."""

from __future__ import annotations

import inspect
import re
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


# Names people already type (Hugging Face dataset ids, evalplus, bigcode-evaluation-harness and
# lm-evaluation-harness task names) for the same pinned files. Only spellings that judge the
# identical problems with the identical tests; prompt variants (``*_instruct``) are not aliases.
_ALIASES: dict[str, str] = {
    "openai_humaneval": "humaneval",
    "openai/openai_humaneval": "humaneval",
    "openai/human-eval": "humaneval",
    "human-eval": "humaneval",
    "human_eval": "humaneval",
    "humaneval-unstripped": "humaneval",  # bigcode: same problems, prompt not stripped
    "evalplus/humanevalplus": "humaneval+",
    "humanevalplus": "humaneval+",  # bigcode
    "humanevalplus-unstripped": "humaneval+",  # bigcode
    "humaneval_plus": "humaneval+",  # lm-eval
    "humaneval-plus": "humaneval+",
    "google-research-datasets/mbpp": "mbpp",
    "google-research-datasets/mbpp/full": "mbpp",
    "google-research-datasets/mbpp/sanitized": "mbpp-sanitized",
    "sanitized-mbpp": "mbpp-sanitized",
    "mbpp_sanitized": "mbpp-sanitized",
    "evalplus/mbppplus": "mbpp+",
    "mbppplus": "mbpp+",  # bigcode
    "mbpp_plus": "mbpp+",  # lm-eval
    "mbpp-plus": "mbpp+",
    "codeparrot/apps": "apps",
    "livecodebench/code_generation_lite": "livecodebench",
}
# MultiPL-E's own config names (humaneval-cpp) and bigcode's (multiple-cpp), per language.
_MULTIPL_E = re.compile(r"^(?:nuprl/multipl-e/)?(?:humaneval|multiple)-([a-z]+)$")


def _load_all() -> None:
    for mod in _MODULES:
        import_module(mod)


def task_aliases() -> dict[str, str]:
    """Every alias and the registered task it names (MultiPL-E's per language included)."""
    _load_all()
    out = dict(_ALIASES)
    for name in _REGISTRY:
        if name.startswith("multipl-e-"):
            lang = name.removeprefix("multipl-e-")
            out[f"multiple-{lang}"] = name
            out[f"humaneval-{lang}"] = name
    return dict(sorted(out.items()))


def resolve_task_name(name: str) -> str:
    """The registered name ``name`` stands for (itself, or what an alias names), or a one-line
    error listing the known names. Aliases resolve to the same task object, so the same pinned
    files and the same recorded task name."""
    _load_all()
    if name in _REGISTRY:
        return name
    key = name.strip().lower()
    if key in _REGISTRY:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    match = _MULTIPL_E.match(key)
    if match and f"multipl-e-{match.group(1)}" in _REGISTRY:
        return f"multipl-e-{match.group(1)}"
    known = ", ".join(sorted(_REGISTRY))
    raise CodeduelError(f"unknown task {name!r}", f"choose one of: {known}")


def task_names() -> dict[str, str]:
    """Registered task names and their one-line descriptions."""
    _load_all()
    return dict(sorted(_DESCRIPTIONS.items()))


def get_task(name: str, data_dir: Path | None = None, **options: Any) -> Task:
    """Instantiate a registered task, or fail with a one-line error listing the known names.

    ``name`` may be an alias (``openai_humaneval``, ``evalplus/mbppplus``, ``multiple-cpp``).
    ``options`` are the task's own keyword settings (HumanEval's ``helpers``); an option the
    task does not take is a one-line error, never silently ignored."""
    name = resolve_task_name(name)
    factory = _REGISTRY[name]
    if options:
        accepted = inspect.signature(factory).parameters
        unknown = [key for key in options if key not in accepted]
        if unknown:
            raise CodeduelError(
                f"task {name!r} has no option {unknown[0]!r}", "leave it out for this task"
            )
        return factory(data_dir, **options)  # type: ignore[call-arg]
    return factory(data_dir)


__all__ = [
    "DatasetInfo",
    "Problem",
    "Task",
    "get_task",
    "register",
    "resolve_task_name",
    "task_aliases",
    "task_names",
]
