"""lm-evaluation-harness's ``--log_samples`` files (github.com/EleutherAI/lm-evaluation-harness):
``<output>/<model>/samples_<task>_<date>.jsonl``, one line per document and filter with
``doc_id``, ``doc`` (the dataset row: HumanEval's and MBPP's carry ``task_id``), ``arguments``,
``resps`` (raw generations) and ``filtered_resps`` (after the task's filter: for its humaneval
and mbpp tasks the whole program that was run). The ``results_<date>.json`` beside it names
the model."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from codeduel.errors import SamplesError
from codeduel.formats.readers.base import Reader, first_record, load_json
from codeduel.formats.samples import SampleSet, TaskLookup, json_lines, task_id_of

_FILE = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d.-]+)\.jsonl(?:\.gz)?$")


def detect(path: Path) -> bool:
    """A line with ``doc_id`` and ``filtered_resps`` (or ``resps``)."""
    record = first_record(path)
    return (
        isinstance(record, dict)
        and "doc_id" in record
        and ("filtered_resps" in record or "resps" in record)
    )


def _programs(value: Any, where: str) -> list[str]:
    """``filtered_resps`` flattened: one entry per request, each a string or a list of them
    (a task with ``repeats`` logs all of a document's generations in one list)."""
    if not isinstance(value, list):
        raise SamplesError(
            f"{where}: filtered_resps must be a list, got {type(value).__name__}",
            "pass the samples_<task>_<date>.jsonl lm-eval --log_samples wrote",
        )
    out: list[str] = []
    for item in value:
        items = item if isinstance(item, list) else [item]
        for text in items:
            if not isinstance(text, str):
                raise SamplesError(
                    f"{where}: a response is a {type(text).__name__}, not generated code",
                    "score the log of a generate_until task (humaneval, mbpp, ...)",
                )
            out.append(text)
    return out


def model_near(path: Path) -> str | None:
    """The model lm-eval's results file beside the samples names: ``model_name``, else
    ``pretrained=`` in ``config.model_args``. The results file of the same date first."""
    match = _FILE.match(path.name)
    candidates = []
    if match:
        candidates.append(path.parent / f"results_{match.group('date')}.json")
    candidates += sorted(path.parent.glob("results_*.json"), reverse=True)
    for candidate in candidates:
        data = load_json(candidate) if candidate.is_file() else None
        if not isinstance(data, dict):
            continue
        if isinstance(data.get("model_name"), str) and data["model_name"]:
            return str(data["model_name"])
        config = data.get("config")
        args = config.get("model_args") if isinstance(config, dict) else None
        if isinstance(args, str):
            found = re.search(r"(?:^|,)pretrained=([^,]+)", args)
            if found:
                return found.group(1)
    return None


def read(path: Path, task: TaskLookup | None = None) -> SampleSet:
    result = SampleSet(path=path, format="lm-eval", files=[path], model=model_near(path))
    seen: Counter[str] = Counter()
    chosen: str | None = None
    skipped: Counter[str] = Counter()
    for lineno, where, record in json_lines(path, result.blank_lines):
        if not isinstance(record, dict) or "doc_id" not in record:
            raise SamplesError(
                f"{where}: not an lm-eval logged sample (no doc_id)",
                "pass the samples_<task>_<date>.jsonl lm-eval --log_samples wrote",
            )
        flt = record.get("filter")
        if isinstance(flt, str):
            chosen = chosen or flt
            if flt != chosen:  # one line per filter: score the first filter's programs
                skipped[flt] += 1
                continue
        doc = record.get("doc")
        if not isinstance(doc, dict) or "task_id" not in doc:
            raise SamplesError(
                f"{where}: doc {record['doc_id']} has no task_id",
                "lm-eval logs the dataset row as doc; score a task whose rows have task_id "
                "(humaneval, mbpp and their plus versions)",
            )
        task_id = task_id_of(doc["task_id"], where)
        for program in _programs(record.get("filtered_resps", record.get("resps")), where):
            sample = {"task_id": doc["task_id"], "solution": program, "doc_id": record["doc_id"]}
            result.add(lineno, task_id, sample, seen)
    if not result.samples:
        raise SamplesError(f"{path} holds no samples", "pass a non-empty lm-eval samples file")
    if skipped:
        result.notes.append(
            f"scored lm-eval's {chosen!r} filter; other filters' lines left out: "
            + ", ".join(f"{name} ({n})" for name, n in skipped.items())
        )
    return result


READER = Reader(
    "lm-eval",
    "lm-evaluation-harness --log_samples samples_<task>_<date>.jsonl (doc, filtered_resps)",
    detect,
    read,
)
