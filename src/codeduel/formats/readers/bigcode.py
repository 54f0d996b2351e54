"""bigcode-evaluation-harness's ``generations.json`` (github.com/bigcode-project/
bigcode-evaluation-harness): a JSON list with one list of generations per problem, in the
task's dataset order, each a whole program (prompt included). ``main.py`` writes it as
``generations_<task>.json`` with ``--save_generations``; its task names are ``humaneval``,
``humanevalplus``, ``mbpp`` (the 500-problem test split, ids 11-510), ``mbppplus``,
``multiple-<lang>`` and more. Problems are numbered by position, so the reader needs the task;
a shorter list is bigcode's ``--limit`` (the first problems)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from codeduel.errors import CodeduelError, SamplesError
from codeduel.formats.readers.base import Reader, is_json_name, load_json, need_task
from codeduel.formats.samples import SampleSet, TaskLookup
from codeduel.tasks import resolve_task_name
from codeduel.tasks.base import Problem

_FILE = re.compile(r"^generations_(?P<task>.+?)\.json(?:\.gz)?$")


def _is_generations(data: object) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(row, list) for row in data)
        and any(row and isinstance(row[0], str) for row in data)
    )


def detect(path: Path) -> bool:
    """A ``.json`` file holding a list of lists of strings."""
    return path.is_file() and is_json_name(path) and _is_generations(load_json(path))


def bigcode_task(path: Path) -> str | None:
    """The bigcode task a ``generations_<task>.json`` file name says, if it says one."""
    match = _FILE.match(path.name)
    return match.group("task") if match else None


def problem_order(task: str, problems: Sequence[Problem]) -> list[Problem]:
    """The problems in the order bigcode's task lists them: MBPP is its test split only."""
    if task == "mbpp":
        return [p for p in problems if p.meta.get("split") == "test"]
    return list(problems)


def model_near(path: Path) -> str | None:
    """The model bigcode's metrics file beside the generations names (``config.model``)."""
    data = load_json(path.parent / "evaluation_results.json")
    config = data.get("config") if isinstance(data, dict) else None
    model = config.get("model") if isinstance(config, dict) else None
    return model if isinstance(model, str) and model else None


def read(path: Path, task: TaskLookup | None = None) -> SampleSet:
    data = load_json(path)
    if not _is_generations(data):
        raise SamplesError(
            f"{path} is not a bigcode generations file",
            "pass the generations_<task>.json bigcode-evaluation-harness wrote "
            "(a JSON list of lists of strings)",
        )
    context = need_task(task, "a bigcode generations file", path)()
    named = bigcode_task(path)
    if named is not None:
        try:
            expected = resolve_task_name(named)
        except CodeduelError:
            expected = None
        if expected is not None and expected != context.name:
            raise SamplesError(
                f"{path.name} holds bigcode's {named} generations, not {context.name}",
                f"pass --task {expected}",
            )
    order = problem_order(context.name, context.problems)
    if len(data) > len(order):
        raise SamplesError(
            f"{path} has {len(data)} problems but {context.name} has {len(order)} in bigcode's "
            "order",
            "pass the task the generations were made for",
        )
    result = SampleSet(path=path, format="bigcode", files=[path], model=model_near(path))
    seen: Counter[str] = Counter()
    for number, (problem, row) in enumerate(zip(order, data, strict=False)):
        for generation in row:
            if not isinstance(generation, str):
                raise SamplesError(
                    f"{path}: problem {number} ({problem.task_id}) has a "
                    f"{type(generation).__name__} where a generation should be",
                    "every generation must be a string",
                )
            record = {"task_id": problem.task_id, "solution": generation}
            result.add(number + 1, problem.task_id, record, seen)
    if len(data) < len(order):
        result.notes.append(
            f"{path.name} holds the first {len(data)} of {len(order)} problems in bigcode's "
            f"order ({context.name}), as bigcode's --limit writes"
        )
    return result


READER = Reader(
    "bigcode",
    "bigcode-evaluation-harness generations_<task>.json: a list per problem, in dataset order",
    detect,
    read,
)
