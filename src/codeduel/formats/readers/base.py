"""What a reader is, and the small file probes readers detect with."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeduel.errors import SamplesError
from codeduel.formats.samples import SampleSet, TaskLookup, open_text


@dataclass(frozen=True)
class Reader:
    """One format: ``detect(path)`` says whether the path looks like it (cheap: the first
    line, a folder listing), ``read(path, task)`` parses it. ``task`` is the lookup the flow
    passes; only a reader that numbers problems by position calls it."""

    name: str
    description: str
    detect: Callable[[Path], bool]
    read: Callable[[Path, TaskLookup | None], SampleSet]


def first_record(path: Path) -> Any:
    """The first non-blank line of a JSONL file, parsed; None when there is none or it is not
    JSON (the reader then says why, with the line number)."""
    if not path.is_file():
        return None
    try:
        with open_text(path) as fh:
            for line in fh:
                if line.strip():
                    return json.loads(line)
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile, json.JSONDecodeError):
        return None
    return None


def load_json(path: Path) -> Any:
    """A whole JSON file (``.gz`` too), or None when it does not parse."""
    try:
        with open_text(path) as fh:
            return json.load(fh)
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile, json.JSONDecodeError):
        return None


def is_json_name(path: Path) -> bool:
    """``.json`` or ``.json.gz``."""
    return path.name.endswith((".json", ".json.gz"))


def need_task(task: TaskLookup | None, fmt: str, path: Path) -> TaskLookup:
    """The task lookup, or a one-line error saying the format needs one."""
    if task is None:
        raise SamplesError(
            f"{path} is {fmt}: it numbers problems by position, so it needs the task",
            "pass --task (or task= to read_samples)",
        )
    return task
