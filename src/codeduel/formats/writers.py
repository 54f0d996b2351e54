"""Writing the result files of other tools, so scripts built around them keep working.

- evalplus 0.3.1's ``eval_results.json`` (``evalplus/evaluate.py``,
  https://github.com/evalplus/evalplus): ``{"date": "%Y-%m-%d %H:%M", "hash": <md5 of the
  dataset's JSONL>, "eval": {task_id: [{"task_id", "solution", "base_status", "plus_status",
  "base_fail_tests", "plus_fail_tests"}, ...]}}``, samples of a task in their order, statuses
  ``"pass"``/``"fail"``/``"timeout"`` (``plus_status`` is ``null`` where the plus inputs were not
  run, as evalplus writes it with ``--base-only``), written with ``json.dump`` and no indent.
- bigcode-evaluation-harness's metrics file (``main.py``, ``--metric_output_path``,
  https://github.com/bigcode-project/bigcode-evaluation-harness): ``{<task>: {"pass@1": ...,
  "pass@10": ...}, "config": {...}}`` with fractions, only the k every problem allows (as its
  ``code_eval`` metric), indented by 2; tasks use its names (``humanevalplus``, ``multiple-cpp``).

These functions take plain values: reading a run and judging belong to the flows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from codeduel.errors import CodeduelError

EVALPLUS_DATE_FORMAT = "%Y-%m-%d %H:%M"  # evalplus: datetime.now().strftime(...)
EVALPLUS_STATUSES = frozenset({"pass", "fail", "timeout"})

# codeduel task -> bigcode-evaluation-harness task (bigcode_eval/tasks/__init__.py TASK_REGISTRY)
_BIGCODE_TASKS = {
    "humaneval": "humaneval",
    "humaneval+": "humanevalplus",
    "mbpp": "mbpp",
    "mbpp+": "mbppplus",
}


@dataclass(frozen=True)
class EvalPlusRow:
    """One sample's line of ``eval_results.json`` (the field names are evalplus's)."""

    task_id: str
    solution: str
    base_status: str
    plus_status: str | None
    base_fail_tests: list[Any]
    plus_fail_tests: list[Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "solution": self.solution,
            "base_status": self.base_status,
            "plus_status": self.plus_status,
            "base_fail_tests": self.base_fail_tests,
            "plus_fail_tests": self.plus_fail_tests,
        }


def evalplus_results(
    rows: Iterable[EvalPlusRow], *, dataset_hash: str, date: datetime
) -> dict[str, Any]:
    """evalplus's ``eval_results.json`` object: rows grouped by task in the order given."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        for status in (row.base_status, row.plus_status):
            if status is not None and status not in EVALPLUS_STATUSES:
                raise ValueError(f"not an evalplus status: {status!r}")
        grouped.setdefault(row.task_id, []).append(row.as_json())
    return {"date": date.strftime(EVALPLUS_DATE_FORMAT), "hash": dataset_hash, "eval": grouped}


def evalplus_pass_at_k(results: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Per task ``{"n", "base", "plus"}`` counted from an ``eval_results.json`` object exactly as
    evalplus does (plus: ``base_status == plus_status == "pass"``); a check on what we wrote."""
    counts: dict[str, dict[str, int]] = {}
    for task_id, rows in results["eval"].items():
        counts[task_id] = {
            "n": len(rows),
            "base": sum(r["base_status"] == "pass" for r in rows),
            "plus": sum(r["base_status"] == r["plus_status"] == "pass" for r in rows),
        }
    return counts


def bigcode_task_name(task: str) -> str:
    """bigcode-evaluation-harness's name for a codeduel task (``multipl-e-cpp`` ->
    ``multiple-cpp``); a task it does not have keeps codeduel's name."""
    if task in _BIGCODE_TASKS:
        return _BIGCODE_TASKS[task]
    if task.startswith("multipl-e-"):
        return "multiple-" + task.removeprefix("multipl-e-")
    return task


def bigcode_metrics(
    task: str, pass_at_k: Mapping[str, float | None], config: Mapping[str, Any]
) -> dict[str, Any]:
    """The metrics object bigcode-evaluation-harness writes for one task: pass@k as fractions,
    undefined k left out (its ``code_eval`` only reports k that every problem allows)."""
    scores = {name: value for name, value in pass_at_k.items() if value is not None}
    return {bigcode_task_name(task): scores, "config": dict(config)}


def _jsonable(value: Any) -> Any:
    """What ``json`` cannot write itself: sets as lists (sorted where they can be), the rest as
    its text, so an odd input never stops the file from being written."""
    if isinstance(value, set | frozenset):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    return str(value)


def write_json(path: Path, data: Any, *, indent: int | None = None) -> int:
    """Write ``data`` to ``path`` atomically (a half-written file never replaces a good one);
    returns the size in bytes, or a one-line error naming the path."""
    text = json.dumps(data, indent=indent, default=_jsonable)
    if path.is_dir():
        raise CodeduelError(f"{path} is a folder", "give a file name to -o, e.g. results.json")
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise CodeduelError(
            f"cannot write {path}: {err.strerror}", "pass a writable path to -o"
        ) from None
    return len(text.encode("utf-8"))
