"""``codeduel runs`` and ``codeduel show``: what the results store holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from codeduel import api
from codeduel.cli.console import guard, out, pct, print_json, safe
from codeduel.cli.options import (
    JsonOpt,
    StoreOpt,
)


def runs(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List the runs in the results store, newest first."""
    with guard():
        path = store if store is not None else api.default_store_path()
        records = api.list_runs(path)
        if not records and not Path(path).exists():
            if as_json:
                print_json([])
            else:
                out.print(safe(f"no runs yet ({path} does not exist)"), highlight=False)
            return
        if as_json:
            print_json([{**_run_dict(r), "interrupted": r.interrupted} for r in records])
            return
        table = Table(title=safe(f"runs in {path} (pass@k in %)"), title_justify="left")
        widest_id = max(len(str(r.id)) for r in records)
        for column in ("id", "created", "kind", "status", "task", "samples", "judged"):
            table.add_column(
                column,
                justify="right" if column in ("id", "samples", "judged") else "left",
                # a narrow terminal folds the date and the kind, never the id or a number
                no_wrap=column not in ("created", "kind"),
                overflow="fold",
                min_width={"id": max(2, widest_id), "kind": 9, "created": 10}.get(column),
            )
        ks = sorted(
            {key for r in records for key in (r.summary or {}) if key.startswith("pass@")},
            key=lambda key: int(key.split("@")[1]),
        )
        for key in ks:
            table.add_column(key, justify="right", no_wrap=True, min_width=6)
        for r in records:
            summary = r.summary or {}
            table.add_row(
                str(r.id),
                r.created.replace("T", " ")[:16],
                r.kind,
                _status("interrupted" if r.interrupted else r.status),
                safe(r.task or ""),
                str(r.n_samples),
                str(r.n_verdicts),
                *(pct(summary.get(key)) for key in ks),
            )
        out.print(table)


def _status(status: str) -> str:
    colour = {
        "finished": "green",
        "failed": "red",
        "running": "yellow",
        "interrupted": "red",
    }.get(status, "white")
    return f"[{colour}]{status}[/{colour}]"


def _run_dict(r: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(r)


def show(
    run: Annotated[int, typer.Argument(help="Run id (see `codeduel runs`).")],
    store: StoreOpt = None,
    failures: Annotated[
        int, typer.Option("--failures", help="How many failed samples to list.")
    ] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Show one run: what it scored, against which data, on which machine, and its failures."""
    with guard():
        record = api.get_run(run, store)
        verdicts = api.run_verdicts(run, store)
        counts: dict[str, int] = {}
        for v in verdicts:
            counts[v.status] = counts.get(v.status, 0) + 1
        if as_json:
            data = _run_dict(record)
            data["counts"] = counts
            print_json(data)
            return
        info = Table.grid(padding=(0, 2))
        info.add_column(style="bold")
        info.add_column()
        ds = record.dataset
        summary = record.summary or {}
        rows = [
            ("run", str(record.id)),
            ("kind", record.kind),
            ("status", _status("interrupted" if record.interrupted else record.status)),
            ("created", record.created),
            ("finished", record.finished or "—"),
            ("task", record.task or "—"),
            (
                "dataset",
                safe(f"{ds['name']} {ds['version']} sha256 {ds['sha256']}")
                if ds.get("name")
                else "—",
            ),
            ("samples", safe(str(record.spec.get("samples", "—")))),
            ("judged", f"{record.n_verdicts} of {record.n_samples} samples"),
            ("verdicts", ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "—"),
            ("codeduel", record.codeduel_version),
            (
                "machine",
                safe(
                    f"{record.machine.get('hostname')} · {record.machine.get('platform')} · "
                    f"python {record.machine.get('python')} · "
                    f"{record.machine.get('cpu_count')} cpus"
                ),
            ),
        ]
        rows += [(key, pct(value)) for key, value in summary.items() if key.startswith("pass@")]
        if record.error:
            rows.append(("error", f"[red]{safe(record.error)}[/red]"))
        for key, value in rows:
            info.add_row(key, value)
        out.print(info)
        for warning in summary.get("warnings", []):
            out.print(f"warning: {safe(warning)}", style="yellow", soft_wrap=True)
        failed = [v for v in verdicts if not v.passed]
        if failed and failures > 0:
            table = Table(title=f"not passed ({len(failed)})", title_justify="left")
            table.add_column("task_id")
            table.add_column("#", justify="right")
            table.add_column("result")
            for v in failed[:failures]:
                table.add_row(safe(v.task_id), str(v.sample_idx), safe(v.result[:120]))
            out.print(table)


def register(app: typer.Typer) -> None:
    """Attach this module's commands."""
    app.command("runs")(runs)
    app.command("show")(show)
