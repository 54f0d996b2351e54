"""``codeduel suite``: several models x tasks x decoding settings from one TOML file, resumable,
ending with one report (docs/suites.md).

Why a command: a comparison of models is many runs, and its value is the one table and report
at the end; rerunning the same command after Ctrl-C picks up where it stopped instead of
asking which of a dozen runs to resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from codeduel import api
from codeduel.cli.console import err, guard, out, pct, print_json, progress_bar, safe
from codeduel.cli.options import DataDirOpt, JsonOpt, StoreOpt, WorkersOpt

#: exit status when some cells failed (the others ran and are in the report)
EXIT_CELLS_FAILED = 1

_PHASES = {"generate": "generating", "execute": "judging"}

_VERBS = {
    "started": "started ",
    "resuming": "resuming",
    "done": "done    ",
    "skipped": "skipped ",
    "failed": "failed  ",
}


def _cell_line(index: int, total: int, cell: api.SuiteCell) -> str:
    """One line per cell event: what happened, and its pass@1 when it has one."""
    head = f"[{index}/{total}] {_VERBS.get(cell.status, cell.status)} {cell.label}"
    if cell.status == "resuming":
        return f"{head} (run {cell.run_id}, interrupted before)"
    if cell.status == "failed":
        return f"{head}: {cell.error}"
    if cell.status in ("done", "skipped"):
        when = "finished before" if cell.status == "skipped" else f"{cell.duration_s or 0:.1f} s"
        resumed = ", resumed" if cell.resumed else ""
        score = pct(cell.pass_at_k.get("pass@1"))
        return f"{head}: pass@1 {score} % (run {cell.run_id}, {when}{resumed})"
    return head


def _table(result: api.SuiteResult) -> Table:
    """The summary: one row per cell, pass@k in % for every k any cell has."""
    ks = list(dict.fromkeys(k for c in result.cells for k in c.pass_at_k))
    title = "suite plan" if result.dry_run else "suite"
    table = Table(title=safe(f"{title}: {result.suite}"), title_justify="left")
    for name in ("model", "task", "decoding", "status", "run", "n"):
        table.add_column(name, justify="right" if name in ("run", "n") else "left")
    for k in ks:
        table.add_column(f"{k} %", justify="right")
    for c in result.cells:
        n = c.settings.get("n")
        table.add_row(
            safe(c.model),
            safe(c.task),
            safe(c.decoding),
            c.status,
            "—" if c.run_id is None else str(c.run_id),
            "—" if n is None else str(n),
            *(pct(c.pass_at_k.get(k)) for k in ks),
        )
    return table


def suite_cmd(
    suite_file: Annotated[
        Path,
        typer.Argument(help="The suite TOML file (docs/suites.md shows one)."),
    ],
    store: StoreOpt = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            "-o",
            help="HTML report to write (default: the file's `report`, else SUITE.html beside it)",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    workers: WorkersOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check the file and print each cell (new, resume or skip) without running.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run several models x tasks x decoding settings in one resumable command, then write one
    report. Rerunning after Ctrl-C resumes the interrupted cell and skips finished ones; a
    failed cell does not stop the others (the exit status is 1 and names it).

    Example: codeduel suite suite.toml --dry-run
    """
    with guard():
        lines: Console = err if as_json else out
        progress = progress_bar("{task.description}")
        with progress:
            # one bar per phase, reset and relabelled as each cell starts (they overlap)
            bars = {phase: progress.add_task(phase, total=None) for phase in _PHASES}

            def on_cell(index: int, total: int, cell: api.SuiteCell) -> None:
                style = {"failed": "red", "skipped": "dim"}.get(cell.status)
                text = safe(_cell_line(index, total, cell))
                lines.print(text, style=style, highlight=False, soft_wrap=True)
                if cell.status in ("started", "resuming"):
                    for phase, bar in bars.items():
                        label = f"{safe(cell.label)}: {_PHASES[phase]}"
                        progress.reset(bar, total=None, description=label)

            def tick(phase: str, done: int, total: int) -> None:
                progress.update(bars[phase], completed=done, total=total)

            result = api.suite(
                suite_file,
                store=store,
                report=report,
                data_dir=data_dir,
                workers=workers,
                dry_run=dry_run,
                on_cell=None if dry_run else on_cell,
                progress=tick,
            )
        if as_json:
            print_json(result.to_dict())
        else:
            out.print(_table(result))
            out.print(f"store:  {safe(str(result.store_path))}", highlight=False)
            if result.report is not None:
                out.print(f"report: {safe(str(result.report))}", highlight=False)
        if result.report_error:
            err.print(
                f"error: the report was not written: {safe(result.report_error)}",
                style="red",
                highlight=False,
                soft_wrap=True,
            )
        failed = result.failed
        if failed:
            by_error: dict[str, list[str]] = {}
            for c in failed:  # a model that did not load fails its cells with one error
                by_error.setdefault(c.error or "", []).append(c.label)
            names = "; ".join(f"{', '.join(labels)} ({e})" for e, labels in by_error.items())
            err.print(
                safe(
                    f"error: {len(failed)} of {len(result.cells)} cells failed: {names} — "
                    f"fix them and rerun `codeduel suite {suite_file}` (finished cells are skipped)"
                ),
                style="red",
                highlight=False,
                soft_wrap=True,
            )
        if failed or result.report_error:
            raise typer.Exit(EXIT_CELLS_FAILED)


def register(app: typer.Typer) -> None:
    """Attach this module's commands."""
    app.command("suite")(suite_cmd)
