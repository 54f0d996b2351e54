"""``codeduel tasks`` and ``codeduel models``: the benchmarks and model presets."""

from __future__ import annotations

import typer
from rich.table import Table

from codeduel import api
from codeduel.cli.console import guard, out, pct_published, print_json, safe
from codeduel.cli.options import (
    JsonOpt,
)


def tasks(as_json: JsonOpt = False) -> None:
    """List the benchmarks codeduel can score."""
    with guard():
        names = api.list_tasks()
        if as_json:
            print_json(names)
            return
        table = Table(title="tasks", title_justify="left")
        table.add_column("name")
        table.add_column("description")
        for name, description in names.items():
            table.add_row(name, safe(description))
        out.print(table)


def models(as_json: JsonOpt = False) -> None:
    """List the model presets: backend, weights, prompt style, infilling, published pass@1."""
    with guard():
        presets = api.list_models()
        if as_json:
            print_json([p.model_dump(mode="json") for p in presets])
            return
        table = Table(title="model presets", title_justify="left")
        for column in ("name", "spec", "style", "infill", "context", "HumanEval@1 (published)"):
            table.add_column(column)
        for p in presets:
            table.add_row(
                safe(p.name),
                safe(p.spec),
                p.prompt_style,
                "yes" if p.supports_infilling else "no",
                str(p.context_window),
                pct_published(p.published.humaneval_pass1),
            )
        out.print(table)


def register(app: typer.Typer) -> None:
    """Attach this module's commands."""
    app.command("tasks")(tasks)
    app.command("models")(models)
