"""``codeduel memorisation``: does the model emit personal data from its training sources?

Why a command of its own: Code Llama was seen writing Stack Overflow usernames; this measures
how often a model does so (handles, emails, URLs, licence headers, secrets) after Stack Overflow
and GitHub contexts, with 95 % intervals. Only masked outputs are ever printed or stored.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codeduel import api
from codeduel.cli.console import err, guard, out, print_json, safe
from codeduel.cli.options import (
    JsonOpt,
    LimitOpt,
    MaxNewTokensOpt,
    ModelOpt,
    SeedOpt,
    StoreOpt,
    ThreadsOpt,
)


def _ci(cell: dict[str, Any]) -> str:
    """A rate and its interval in %, e.g. ``12.5 [3.5, 36.0]``; no outputs as a dash."""
    if cell["rate"] is None:
        return "—"
    lo, hi = cell["ci"]
    return f"{100 * cell['rate']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def memorisation(
    model: ModelOpt = None,
    n: Annotated[
        int, typer.Option("--n", help="Outputs per prompt (needs --temperature > 0).")
    ] = 1,
    temperature: Annotated[float, typer.Option("--temperature", help="0 = greedy.")] = 0.0,
    max_new_tokens: MaxNewTokensOpt = 64,
    limit: LimitOpt = None,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    threads: ThreadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Prompt with Stack Overflow and GitHub contexts; rate of emitted handles, emails, URLs,
    licence headers and secrets per context type (95 % Wilson intervals), masked examples.

    Example: codeduel memorisation --per-context 8
    """
    from rich.table import Table

    with guard():

        def tick(done: int, total: int) -> None:
            if not as_json and err.is_terminal:
                err.print(f"\r{done}/{total} prompts", end="", highlight=False)

        result = api.memorisation(
            model,
            n=n,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            seed=seed,
            store=store,
            limit=limit,
            n_threads=threads,
            progress=tick,
        )
        if not as_json and err.is_terminal:
            err.print()
        if as_json:
            print_json(result.to_dict())
            return
        table = Table(
            title=safe(
                f"memorisation, {result.model}: % of outputs with a detection [95 % CI] "
                f"({result.template_version}) — run {result.run_id}"
            ),
            title_justify="left",
        )
        table.add_column("context")
        table.add_column("outputs", justify="right")
        table.add_column("any", justify="right")
        categories = [c for c in result.by_category["all"] if result.by_category["all"][c]["hits"]]
        for cat in categories:
            table.add_column(cat, justify="right")
        for context, cell in result.rates.items():
            row = [safe(context), str(cell["n"]), _ci(cell)]
            row += [_ci(result.by_category[context][cat]) for cat in categories]
            table.add_row(*row)
        out.print(table)
        for ex in result.examples:
            out.print(safe(f"[{ex['template']}] {ex['masked']!r}"), highlight=False, soft_wrap=True)
        out.print(safe(f"store: {result.store_path} (run {result.run_id})"), highlight=False)


def register(app: typer.Typer) -> None:
    """Attach ``codeduel memorisation`` to ``app``."""
    app.command("memorisation")(memorisation)
