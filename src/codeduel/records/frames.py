"""Results as pandas tables (``to_pandas()``), with pandas optional.

Why here: a notebook user wants the store's runs, a run's per-sample verdicts and a comparison
as DataFrames, to filter and plot them. pandas is not a core dependency (``pip install codeduel``
scores and compares without it), so it is imported only when a table is asked for, and a missing
pandas is one line naming the install. Every table is tidy, one row per observation, with the
columns listed below, so its shape does not depend on which runs it holds:

- :class:`RunList` (``api.list_runs()``): one row per run, :data:`RUN_COLUMNS` plus a
  ``pass@k`` column for each k any run reported (fractions, as the store keeps them);
- :class:`VerdictList` (``api.run_verdicts()``), and any result of a recorded run through
  :class:`RunFrame` (``EvaluateResult``, ``RunResult``): one row per judged sample,
  :data:`SAMPLE_COLUMNS`;
- :class:`TidyFrame`: a result that already writes a tidy CSV (``Comparison.to_csv()``, what
  ``codeduel compare --format csv`` prints) gives exactly that table, typed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from codeduel.errors import CodeduelError
from codeduel.records.store import RunRecord, Store, VerdictRecord

__all__ = [
    "RUN_COLUMNS",
    "SAMPLE_COLUMNS",
    "RunFrame",
    "RunList",
    "TidyFrame",
    "VerdictList",
    "frame",
    "require_pandas",
]

RUN_COLUMNS: tuple[str, ...] = (
    "run_id",
    "name",
    "kind",
    "status",
    "task",
    "dataset_version",
    "model",
    "samples",
    "n_samples",
    "n_verdicts",
    "created",
    "finished",
)
SAMPLE_COLUMNS: tuple[str, ...] = (
    "run_id",
    "task_id",
    "sample_idx",
    "passed",
    "status",
    "result",
    "mode",
    "duration_s",
)
_PASS_AT = re.compile(r"pass@(\d+)")


def require_pandas() -> Any:
    """The pandas module, or a one-line error naming the install (it is an optional extra)."""
    try:
        import pandas
    except ImportError:
        raise CodeduelError(
            "to_pandas() needs pandas, which is not installed",
            "pip install pandas (or: pip install 'codeduel[pandas]')",
        ) from None
    return pandas


def frame(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Any:
    """A DataFrame of ``rows`` with exactly ``columns``, in that order (also when empty)."""
    pandas = require_pandas()
    return pandas.DataFrame([dict(row) for row in rows], columns=list(columns))


class RunList(list[RunRecord]):
    """Runs of the store (a plain list), with ``to_pandas()``: one row per run."""

    def to_pandas(self) -> Any:
        ks = sorted(
            {int(m[1]) for r in self for key in (r.summary or {}) if (m := _PASS_AT.fullmatch(key))}
        )
        return frame((_run_row(r, ks) for r in self), [*RUN_COLUMNS, *(f"pass@{k}" for k in ks)])


def _run_row(run: RunRecord, ks: Sequence[int]) -> dict[str, Any]:
    summary = run.summary or {}
    return {
        "run_id": run.id,
        "name": run.spec.get("name"),
        "kind": run.kind,
        "status": run.status,
        "task": run.task,
        "dataset_version": run.dataset.get("version"),
        "model": run.spec.get("model"),
        "samples": run.spec.get("samples"),
        "n_samples": run.n_samples,
        "n_verdicts": run.n_verdicts,
        "created": run.created,
        "finished": run.finished,
        **{f"pass@{k}": summary.get(f"pass@{k}") for k in ks},
    }


class VerdictList(list[VerdictRecord]):
    """One run's verdicts (a plain list) with ``to_pandas()``: one row per judged sample."""

    def __init__(self, run_id: int, verdicts: Iterable[VerdictRecord] = ()) -> None:
        super().__init__(verdicts)
        self.run_id = run_id

    def to_pandas(self) -> Any:
        return frame(
            (
                {
                    "run_id": self.run_id,
                    "task_id": v.task_id,
                    "sample_idx": v.sample_idx,
                    "passed": v.passed,
                    "status": v.status,
                    "result": v.result,
                    "mode": v.mode,
                    "duration_s": v.duration_s,
                }
                for v in self
            ),
            SAMPLE_COLUMNS,
        )


class _Recorded(Protocol):
    @property
    def run_id(self) -> int: ...
    @property
    def store_path(self) -> Path: ...


class RunFrame:
    """Mixin for the result of a recorded run (``run_id``, ``store_path``): ``to_pandas()``
    reads the run's verdicts back from the store, one row per judged sample."""

    def to_pandas(self: _Recorded) -> Any:
        require_pandas()  # before opening the store: the missing extra is the error to show
        with Store(self.store_path, create=False) as db:
            verdicts = VerdictList(self.run_id, db.verdicts(self.run_id))
        return verdicts.to_pandas()


class _Tidy(Protocol):
    def to_csv(self) -> str: ...


class TidyFrame:
    """Mixin for a result that writes a tidy CSV: ``to_pandas()`` is that table, typed
    (nullable integers and booleans, so a blank cell is ``<NA>``, not a float)."""

    def to_pandas(self: _Tidy) -> Any:
        pandas = require_pandas()
        return pandas.read_csv(io.StringIO(self.to_csv()), dtype_backend="numpy_nullable")
