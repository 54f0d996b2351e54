"""``codeduel runs`` and ``codeduel show``: what the results store holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from codeduel import api
from codeduel.cli.console import guard, out, pct, print_json, safe, safe_line
from codeduel.cli.options import (
    JsonOpt,
    StoreOpt,
)


def runs(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List the runs in the results store, newest first: id, name, model, task, samples per
    problem, pass@k, status and date. Piped to another program the table is TSV, whole.

    Example: codeduel runs | grep humaneval | cut -f1,2,7
    """
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
            print_json([_listed(r) for r in records])
            return
        table = Table(title=safe(f"runs in {path} (pass@k in %)"), title_justify="left")
        ks = sorted(
            {key for r in records for key in (r.summary or {}) if key.startswith("pass@")},
            key=lambda key: int(key.split("@")[1]),
        )
        # A narrow terminal folds names, models and dates onto more lines, never cuts them;
        # ids and percentages stay whole on one line.
        widest_id = max(len(str(r.id)) for r in records)
        table.add_column("id", justify="right", no_wrap=True, min_width=max(2, widest_id))
        for column in ("name", "model", "task", "kind"):
            table.add_column(column, overflow="fold")
        table.add_column("n", justify="right", no_wrap=True)
        table.add_column("judged", justify="right", overflow="fold")
        for key in ks:
            table.add_column(key, justify="right", no_wrap=True)
        table.add_column("status", overflow="fold")
        table.add_column("date", overflow="fold")
        for r in records:
            row = _listed(r)
            summary = r.summary or {}
            table.add_row(
                str(r.id),
                safe_line(row["name"]),
                safe_line(row["model"] or "—"),
                safe_line(r.task or "—"),
                safe_line(r.kind),
                "—" if row["n"] is None else str(row["n"]),
                f"{r.n_verdicts}/{r.n_samples}",
                *(pct(summary.get(key)) for key in ks),
                _status("interrupted" if row["interrupted"] else r.status),
                row["date"],
            )
        out.print(table)


def _per_problem(r: api.RunRecord) -> int | float | None:
    """Samples per problem: the spec's n for a generation run, else the scored samples over
    problems (one decimal when they differ by problem); None before anything is scored."""
    n = r.spec.get("n")
    if isinstance(n, int) and not isinstance(n, bool):
        return n
    summary = r.summary or {}
    problems, samples = summary.get("n_problems"), summary.get("n_samples")
    if not isinstance(problems, int) or not isinstance(samples, int) or problems <= 0:
        return None
    return samples // problems if samples % problems == 0 else round(samples / problems, 1)


def _listed(r: api.RunRecord) -> dict[str, Any]:
    """One run as ``runs --json`` gives it: the record, plus the columns of the table (name,
    model, n, pass@1 as a fraction, date)."""
    return {
        **_run_dict(r),
        "interrupted": r.interrupted,
        "name": api.run_name(r),
        "model": r.spec.get("model") or None,
        "n": _per_problem(r),
        "pass@1": (r.summary or {}).get("pass@1"),
        "date": r.created.replace("T", " ")[:16],
    }


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
    """Show one run: what it scored, against which data, on which machine, and its failures.

    Example: codeduel show 3 --json
    """
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
            ("name", safe_line(api.run_name(record))),
            ("model", safe_line(record.spec.get("model") or "—")),
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
