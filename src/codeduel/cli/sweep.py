"""``codeduel sweep``: pass@k against temperature for one or two models (paper Figure 6).

Why a command of its own: the point of a sweep is the table across temperatures and the
one-line answer to "does the small model sampled hot beat the large greedy one at pass@100",
which a set of separate ``codeduel run`` calls never shows.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codeduel import api
from codeduel.cli.console import err, guard, out, parse_k, print_json, safe
from codeduel.cli.options import (
    DataDirOpt,
    JsonOpt,
    KOpt,
    LimitOpt,
    MaxNewTokensOpt,
    SeedOpt,
    StoreOpt,
    StyleOpt,
    ThreadsOpt,
    TopKOpt,
    WorkersOpt,
)

_MODEL_HELP = (
    "gguf:PATH, hf:ORG/NAME, openai:MODEL or a preset; repeat to sweep two models "
    "(default: the embedded model)."
)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def sweep(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help=_MODEL_HELP, show_default=False),
    ] = None,
    task: Annotated[str, typer.Option("--task", "-t", help="Any task `run` supports.")] = (
        "humaneval"
    ),
    temperatures: Annotated[
        str, typer.Option("--temperatures", help="Comma-separated temperatures.")
    ] = "0.1,0.4,0.6,0.8",
    n: Annotated[int, typer.Option("--n", help="Samples per problem at each point.")] = 200,
    top_p: Annotated[
        float, typer.Option("--top-p", help="Nucleus sampling mass (the paper: 0.95).")
    ] = 0.95,
    top_k: TopKOpt = None,
    max_new_tokens: MaxNewTokensOpt = 512,
    seed: SeedOpt = 0,
    limit: LimitOpt = None,
    style: StyleOpt = None,
    k: KOpt = "1,10,100",
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    workers: WorkersOpt = None,
    threads: ThreadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sweep sampling temperature: pass@k per temperature, best T per k, cost per point.

    Example: codeduel sweep --task humaneval --temperatures 0.1,0.4,0.8 --n 10 --limit 20
    """

    with guard():
        temps = api.parse_temperatures(temperatures)
        ks = parse_k(k)
        if style not in (None, "completion", "chat"):
            raise api.CodeduelError(f"unknown --style {style!r}", "use completion or chat")
        models: list[str | None] = list(model) if model else [None]
        if len(models) > 2:
            raise api.CodeduelError(
                "sweep compares at most two models", "give --model once or twice"
            )

        def announce(name: str, temperature: float, index: int, total: int) -> None:
            err.print(f"point {index}/{total}: {name} T={temperature:g}", highlight=False)

        result = api.sweep(
            models,
            task,
            temperatures=temps,
            n=n,
            top_p=top_p,
            top_k=top_k,
            max_new_tokens=max_new_tokens,
            seed=seed,
            limit=limit,
            style=style,
            k=ks,
            data_dir=data_dir,
            store=store,
            workers=workers,
            n_threads=threads,
            on_point=None if as_json else announce,
        )
        if as_json:
            print_json(result.to_dict())
            return
        _render(result)


def _render(result: Any) -> None:
    """The sweep table, the best temperature per k, and the two-model verdict."""
    from rich.table import Table

    names = [f"pass@{k}" for k in result.ks]
    table = Table(
        title=safe(
            f"temperature sweep on {result.task}: n={result.n}, top-p={result.top_p:g} "
            f"— sweep {result.sweep_id}"
        ),
        title_justify="left",
    )
    table.add_column("model")
    table.add_column("T", justify="right")
    for name in names:
        table.add_column(f"{name} %", justify="right")
    for column in ("tokens", "gen s", "exec s", "run"):
        table.add_column(column, justify="right")
    for p in result.points:
        table.add_row(
            safe(p.model),
            f"{p.temperature:g}",
            *[_pct(p.pass_at_k.get(name)) for name in names],
            str(p.generated_tokens),
            f"{p.generation_s:.1f}",
            f"{p.execution_s:.1f}",
            str(p.run_id),
        )
    out.print(table)
    reused = [f"{p.model} T={p.temperature:g}" for p in result.points if p.reused]
    if reused:
        out.print(
            safe("read back from finished runs in the store: " + ", ".join(reused)),
            highlight=False,
        )
    for model, per_k in result.best.items():
        parts = [
            f"{name} {_pct(b['value'])} % at T={b['temperature']:g}" for name, b in per_k.items()
        ]
        out.print(safe(f"best for {model}: " + "; ".join(parts)), highlight=False)
    if result.comparison is not None:
        out.print(safe(result.comparison["headline"]), highlight=False)
    out.print(safe(f"store: {result.store_path} (sweep {result.sweep_id})"), highlight=False)


def register(app: typer.Typer) -> None:
    """Attach ``codeduel sweep`` to ``app``."""
    app.command("sweep")(sweep)
