"""MultiPL-E's completions files (github.com/nuprl/MultiPL-E): one ``<problem>.json.gz`` per
problem with its ``completions``, as its generation step writes them; one file or a folder."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from codeduel.errors import SamplesError
from codeduel.formats.readers.base import Reader, is_json_name, load_json
from codeduel.formats.samples import SampleSet, TaskLookup, task_id_of


def completions_record(path: Path) -> dict[str, Any] | None:
    """A MultiPL-E completions file (one problem: ``name``, ``completions``, ...), or None
    when ``path`` holds something else."""
    if not path.is_file() or not is_json_name(path) or path.name.endswith(".results.json.gz"):
        return None
    data = load_json(path)
    if isinstance(data, dict) and "completions" in data and "name" in data:
        return data
    return None


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if completions_record(p) is not None)
    return [path] if completions_record(path) is not None else []


def detect(path: Path) -> bool:
    return bool(_files(path))


def read(path: Path, task: TaskLookup | None = None) -> SampleSet:
    """Each file's ``completions`` in file-name order; a sample keeps the file's ``language``
    so a mismatched task is refused."""
    result = SampleSet(path=path, format="multipl-e")
    seen: Counter[str] = Counter()
    for file in _files(path):
        record = completions_record(file)
        if record is None:
            continue
        task_id = task_id_of(record["name"], str(file))
        completions = record["completions"]
        if not isinstance(completions, list) or not all(isinstance(c, str) for c in completions):
            raise SamplesError(
                f"{file}: 'completions' must be a list of strings",
                "pass the completions files MultiPL-E's generation step wrote",
            )
        result.files.append(file)
        for completion in completions:
            sample = {"task_id": task_id, "completion": completion}
            if isinstance(record.get("language"), str):
                sample["language"] = record["language"]
            result.add(len(result.samples) + 1, task_id, sample, seen)
    if not result.samples:
        raise SamplesError(
            f"{path} holds no MultiPL-E completions",
            "pass a .jsonl samples file, or a folder of MultiPL-E <problem>.json.gz files",
        )
    return result


READER = Reader(
    "multipl-e",
    "MultiPL-E completions: <problem>.json.gz with name and completions, one file or a folder",
    detect,
    read,
)
