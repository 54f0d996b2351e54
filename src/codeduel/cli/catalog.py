"""``codeduel tasks`` and ``codeduel models``: the benchmarks and model presets."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from codeduel import api
from codeduel.cli.console import guard, out, pct_published, print_json, safe
from codeduel.cli.options import (
    JsonOpt,
)


def _toolchain_of(task: str, chains: dict[str, api.Toolchain]) -> api.Toolchain | None:
    code = task.removeprefix("multipl-e-") if task.startswith("multipl-e-") else None
    return chains.get(code) if code else None


def tasks(as_json: JsonOpt = False) -> None:
    """List the benchmarks codeduel can score, with each language's toolchain state
    (`codeduel doctor` says how to install a missing one).

    Example: codeduel tasks --json
    """
    with guard():
        names = api.list_tasks()
        chains = api.toolchains()
        aliases: dict[str, list[str]] = {}
        for alias, target in api.list_task_aliases().items():
            aliases.setdefault(target, []).append(alias)
        if as_json:
            rows = {}
            for name, description in names.items():
                tc = _toolchain_of(name, chains)
                rows[name] = {
                    "description": description,
                    "aliases": aliases.get(name, []),
                    "toolchain": None
                    if tc is None
                    else {
                        "available": tc.available,
                        "tools": tc.tools,
                        "missing": list(tc.missing),  # the same toolchain shape as doctor's
                        "install": tc.install,
                    },
                }
            print_json(rows)
            return
        table = Table(title="tasks", title_justify="left")
        table.add_column("name")
        table.add_column("description")
        table.add_column("toolchain")
        table.add_column("also accepted as")
        for name, description in names.items():
            tc = _toolchain_of(name, chains)
            if tc is None:
                state = "python (in the sandbox)"
            elif tc.available:
                state = "[green]installed[/green]"
            else:
                state = f"[red]missing[/red] {safe(', '.join(tc.missing))}"
            table.add_row(name, safe(description), state, safe(", ".join(aliases.get(name, []))))
        out.print(table)


def _preset_json(preset: api.Preset) -> dict[str, Any]:
    """A preset as JSON, its published figures named ``*_pct``: papers print them in percent,
    and in ``--json`` every rate is otherwise a fraction (docs/cli.md)."""
    data = preset.model_dump(mode="json")
    data["published"] = {
        key if key.endswith("source") else f"{key}_pct": value
        for key, value in data["published"].items()
    }
    return data


def models(as_json: JsonOpt = False) -> None:
    """List the model presets: backend, weights, prompt style, infilling, published pass@1.

    Example: codeduel models
    """
    with guard():
        presets = api.list_models()
        if as_json:
            print_json([_preset_json(p) for p in presets])
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
