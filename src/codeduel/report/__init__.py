"""The HTML report: leaderboard, paired tests, plots, problem matrix and drill-down in one file.

Python API::

    from codeduel.report import build_report
    result = build_report("results.sqlite", runs=["3", "4"], output="report.html",
                          figures_dir="figures")

``runs`` are run ids or model names (default: every run in the store). The page is
self-contained (inline SVG plots, inline data, no network) and every plot is also written as PNG
and SVG into ``figures_dir`` when it is given.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codeduel.errors import CodeduelError
from codeduel.records.store import Store
from codeduel.report.data import NoteGroup, ReportData, collect
from codeduel.scoring.stats import DEFAULT_N_BOOT

__all__ = ["NoteGroup", "ReportData", "ReportResult", "build_report", "collect"]


@dataclass
class ReportResult:
    """Where the report went, what it holds, and what was left out."""

    output: Path
    runs: list[int]
    sections: list[str]
    figures: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    size_bytes: int = 0
    #: ``warnings`` grouped by kind, with the runs each group concerns (as the page shows them).
    notes: list[NoteGroup] = field(default_factory=list)


def _writable_file(path: Path, what: str) -> None:
    if path.exists() and path.is_dir():
        raise CodeduelError(f"{what} {path} is a folder", "give a file name, e.g. report.html")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CodeduelError(
            f"the folder {parent} does not exist", f"create it or pick another {what}"
        )
    if not os.access(parent, os.W_OK):
        raise CodeduelError(f"cannot write into {parent}", f"pick another {what}")


def build_report(
    store: str | Path | Store | None = None,
    runs: Sequence[str] = (),
    *,
    output: str | Path = "report.html",
    figures_dir: str | Path | None = None,
    title: str = "codeduel report",
    samples_per_cell: int = 5,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    cutoff: str | None = None,
) -> ReportResult:
    """Write the HTML report (and optionally PNG/SVG figures) for ``runs`` of ``store``."""
    from codeduel.report.figures import close_all, draw_all
    from codeduel.report.html import render

    out = Path(output)
    _writable_file(out, "report file")
    figs = Path(figures_dir) if figures_dir is not None else None
    if figs is not None and figs.exists() and not figs.is_dir():
        raise CodeduelError(f"--figures {figs} is a file", "give a folder name")
    own = not isinstance(store, Store)
    db = store if isinstance(store, Store) else Store(store, create=False)
    try:
        data = collect(
            db,
            runs,
            title=title,
            samples_per_cell=samples_per_cell,
            n_boot=n_boot,
            seed=seed,
            cutoff=cutoff,
        )
    finally:
        if own:
            db.close()
    plots = draw_all(data)
    try:
        page = render(data, plots)
        written: list[Path] = []
        if figs is not None:
            figs.mkdir(parents=True, exist_ok=True)
            for plot in plots.values():
                written += plot.save(figs)
    finally:
        close_all(plots)
    # atomic: a crash never leaves half a report where a good one was
    fd, tmp = tempfile.mkstemp(dir=out.parent if str(out.parent) else ".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(page)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is meant to be shared
    os.replace(tmp, out)
    return ReportResult(
        output=out,
        runs=[r.id for r in data.runs],
        sections=list(plots),
        figures=written,
        warnings=data.warnings,
        size_bytes=out.stat().st_size,
        notes=data.notes,
    )
