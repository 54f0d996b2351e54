"""``codeduel report``: one self-contained HTML file (and optional PNG/SVG figures).

A thin layer over :func:`codeduel.api.report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codeduel import api
from codeduel.cli.console import err, guard, print_json, safe, verbosity
from codeduel.cli.options import (
    DEFAULT_BOOTSTRAP,
    BootstrapOpt,
    BootstrapSeedOpt,
    CutoffOpt,
    JsonOpt,
    StoreOpt,
)


def register(app: typer.Typer) -> None:
    """Attach ``report`` to ``app``."""

    @app.command("report")
    def report(
        runs: Annotated[
            list[str] | None,
            typer.Argument(
                metavar="[RUN_OR_MODEL]...",
                help="Run ids or model names (default: every run in the store).",
                show_default=False,
            ),
        ] = None,
        output: Annotated[
            Path, typer.Option("--output", "-o", help="The HTML file to write.")
        ] = Path("report.html"),
        figures: Annotated[
            Path | None,
            typer.Option(
                "--figures",
                help="Also write every plot as PNG and SVG into this folder.",
                show_default=False,
            ),
        ] = None,
        store: StoreOpt = None,
        title: Annotated[str, typer.Option("--title", help="Page title.")] = "codeduel report",
        samples_per_cell: Annotated[
            int,
            typer.Option("--samples-per-cell", help="Samples kept per matrix cell for drill-down."),
        ] = 5,
        bootstrap: BootstrapOpt = DEFAULT_BOOTSTRAP,
        seed: BootstrapSeedOpt = 0,
        cutoff: CutoffOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Write an offline HTML report: leaderboard, paired tests, plots, problem drill-down.

        --json prints {"path": the HTML file, "size_bytes", "runs": [run ids], "sections":
        [plot sections drawn], "figures": [PNG/SVG paths], "warnings": [...]} instead of the
        summary line.

        Example: codeduel report 1 2 -o report.html --json
        """
        with guard():
            result = api.report(
                store,
                runs or (),
                output=output,
                figures_dir=figures,
                title=title,
                samples_per_cell=samples_per_cell,
                n_boot=bootstrap,
                seed=seed,
                cutoff=cutoff,
            )
        if as_json:
            print_json(
                {
                    "path": str(result.output),
                    "size_bytes": result.size_bytes,
                    "runs": list(result.runs),
                    "sections": list(result.sections),
                    "figures": [str(f) for f in result.figures],
                    "warnings": list(result.warnings),
                }
            )
            return
        # grouped as the page groups them: 13 runs gave 64 lines before; -v lists every note
        for group in result.notes:
            if len(group.notes) == 1 or verbosity() > 0:
                lines = [f"warning: {note}" for note in group.notes]
            else:
                shown = ", ".join(str(r) for r in group.runs[:8])
                more = f" and {len(group.runs) - 8} more" if len(group.runs) > 8 else ""
                lines = [
                    f"warning: {group.title}: {len(group.notes)} notes (runs {shown}{more}; "
                    "listed in the report's Notes, or here with -v)"
                ]
            for line in lines:
                err.print(safe(line), style="yellow", highlight=False, soft_wrap=True)
        err.print(
            f"wrote {safe(str(result.output))} ({result.size_bytes / 1024:.0f} KiB, "
            f"{len(result.runs)} runs, plots: {', '.join(result.sections) or 'none'})",
            highlight=False,
        )
        if result.figures:
            err.print(
                f"wrote {len(result.figures)} figure files into {safe(str(figures))}",
                highlight=False,
            )
