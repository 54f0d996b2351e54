"""``codeduel doctor``: sandbox layers, what a candidate can read, and whether any benchmark
file is among it."""

from __future__ import annotations

import typer
from rich.table import Table

from codeduel import api
from codeduel.cli.console import guard, out, print_json, safe
from codeduel.cli.options import (
    DataDirOpt,
    JsonOpt,
)


def doctor(data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Which sandbox layers are active here, what a candidate can read, and whether any
    benchmark file is among it (each file is opened from inside a real sandbox).

    Example: codeduel doctor --json
    """
    with guard():
        report = api.doctor(data_dir)
        layers = report.layers
        chains = api.toolchains()
        if as_json:
            print_json(
                {
                    "toolchains": [
                        {
                            "language": code,
                            "available": tc.available,
                            "tools": tc.tools,
                            "missing": list(tc.missing),
                            "install": tc.install,
                        }
                        for code, tc in chains.items()
                    ],
                    "layers": [
                        {"name": s.name, "active": s.active, "detail": s.detail} for s in layers
                    ],
                    "readable": {
                        "roots": report.roots,
                        "packages": report.packages,
                        "excluded": report.excluded,
                    },
                    "datasets": {"probed": report.probed, "readable": report.readable},
                }
            )
            return
        table = Table(title="isolation layers", title_justify="left")
        table.add_column("layer")
        table.add_column("state")
        table.add_column("detail")
        for s in layers:
            state = "[green]active[/green]" if s.active else "[red]missing[/red]"
            table.add_row(safe(s.name), state, safe(s.detail))
        out.print(table)
        missing = [s.name for s in layers if not s.active]
        if missing:
            out.print(
                f"{len(missing)} of {len(layers)} layers missing; programs still run with the "
                "others",
                style="yellow",
            )
        out.print(
            safe(
                "candidates may read: the standard library and shared libraries under "
                + ", ".join(report.roots)
                + (f"; packages {', '.join(report.packages)}" if report.packages else "")
                + f"; never the {len(report.excluded)} package and data folders inside those"
            ),
            highlight=False,
            soft_wrap=True,
        )
        if report.readable:
            out.print(
                safe(
                    f"DATASETS READABLE: a candidate can open {len(report.readable)} of "
                    f"{report.probed} benchmark files, e.g. {report.readable[0]}; verdicts can "
                    "be faked here (see docs/security.md: Landlock is needed)"
                ),
                style="bold red",
                highlight=False,
                soft_wrap=True,
            )
        else:
            out.print(
                f"no benchmark file is readable from the sandbox ({report.probed} probed)",
                style="green",
                highlight=False,
            )
        _print_toolchains(chains)


def _print_toolchains(chains: dict[str, api.Toolchain]) -> None:
    """The MultiPL-E languages: installed, or missing with the one command that installs it."""
    missing = {code: tc for code, tc in chains.items() if not tc.available}
    installed = [code for code, tc in chains.items() if tc.available]
    out.print(
        safe(f"languages installed ({len(installed)} of {len(chains)}): {', '.join(installed)}"),
        highlight=False,
        soft_wrap=True,
    )
    if missing:
        table = Table(title="missing toolchains", title_justify="left")
        table.add_column("language")
        table.add_column("missing")
        table.add_column("install with")
        for code, tc in missing.items():
            table.add_row(code, safe(", ".join(tc.missing)), safe(tc.install))
        out.print(table)


def register(app: typer.Typer) -> None:
    """Attach this module's commands."""
    app.command("doctor")(doctor)
