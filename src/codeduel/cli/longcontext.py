"""``codeduel key-retrieval`` and ``codeduel perplexity``: the paper's long-context tests.

Why two commands: key retrieval asks "can the model use a fact far back" (Table 17), perplexity
by position asks "does more context keep helping" (Figure 4b); both run on real Python code that
is always at hand offline (the standard library) or on the user's own ``--corpus``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from codeduel import api
from codeduel.cli.console import err, guard, out, print_json, safe
from codeduel.cli.options import JsonOpt, ModelOpt, SeedOpt, StoreOpt, ThreadsOpt

CorpusOpt = Annotated[
    Path | None,
    typer.Option(
        "--corpus",
        help="Folder of Python files (default: this Python's standard library).",
        show_default=False,
    ),
]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def key_retrieval(
    model: ModelOpt = None,
    lengths: Annotated[
        str, typer.Option("--lengths", help="Context lengths in tokens, e.g. 8K,16K,24K.")
    ] = "8K,16K,24K",
    positions: Annotated[
        str, typer.Option("--positions", help="Relative needle positions in [0, 1).")
    ] = "0,0.2,0.4",
    examples: Annotated[int, typer.Option("--examples", help="Examples per cell.")] = 64,
    corpus: CorpusOpt = None,
    seed: SeedOpt = 0,
    context_window: Annotated[
        int | None,
        typer.Option(
            "--context-window",
            help="llama.cpp: load with this many tokens, even beyond training (extrapolation).",
            show_default=False,
        ),
    ] = None,
    store: StoreOpt = None,
    threads: ThreadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find a function hidden in long real code: accuracy per (length, position), Table 17.

    Example: codeduel key-retrieval --lengths 2K,4K --examples 8
    """
    from rich.table import Table

    with guard():
        the_lengths = api.parse_int_list(lengths, "--lengths")
        the_positions = api.parse_positions(positions)

        def tick(done: int, total: int) -> None:
            if not as_json and err.is_terminal:
                err.print(f"\r{done}/{total} examples", end="", highlight=False)

        result = api.key_retrieval(
            model,
            lengths=the_lengths,
            positions=the_positions,
            examples=examples,
            corpus=corpus,
            seed=seed,
            store=store,
            context_window=context_window,
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
                f"key retrieval, {result.model}: accuracy % ({result.examples} examples per "
                f"cell) — run {result.run_id}"
            ),
            title_justify="left",
        )
        table.add_column("model")
        columns: list[tuple[int, float]] = []
        for n in result.lengths:
            for p in result.positions:
                columns.append((n, p))
                label = f"{n // 1024}K" if n % 1024 == 0 else str(n)
                table.add_column(f"{label}@{p:g}", justify="right")
        row: list[str] = [safe(result.model)]
        for n, p in columns:
            cell = result.cells.get(f"{n}@{p:g}")
            row.append("skipped" if cell is None else _pct(cell["accuracy"]))
        table.add_row(*row)
        out.print(table)
        for s in result.skipped:
            out.print(safe(f"skipped {s['length']} tokens: {s['reason']}"), highlight=False)
        out.print(safe(f"store: {result.store_path} (run {result.run_id})"), highlight=False)


def perplexity(
    model: ModelOpt = None,
    corpus: CorpusOpt = None,
    max_tokens: Annotated[
        int | None,
        typer.Option("--max-tokens", help="Score each file's first N tokens.", show_default=False),
    ] = None,
    files: Annotated[int, typer.Option("--files", help="How many long files to score.")] = 3,
    min_bytes: Annotated[
        int, typer.Option("--min-bytes", help="Only files at least this long.")
    ] = 50_000,
    window: Annotated[
        int | None,
        typer.Option(
            "--window", help="Tokens per window (default: the model's context).", show_default=False
        ),
    ] = None,
    stride: Annotated[
        int | None,
        typer.Option("--stride", help="New tokens per window (default: half).", show_default=False),
    ] = None,
    buckets: Annotated[
        str | None,
        typer.Option(
            "--buckets", help="Bucket edges in tokens (default 0,1K,2K,4K,...).", show_default=False
        ),
    ] = None,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    threads: ThreadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Perplexity per token-position bucket over long source files: does context keep helping?

    Example: codeduel perplexity --max-tokens 4096
    """

    with guard():
        edges = None
        if buckets is not None:
            parts = [p.strip() for p in buckets.split(",") if p.strip() != "0"]
            edges = [0, *api.parse_int_list(",".join(parts), "--buckets")]
        for name, value in (("--window", window), ("--stride", stride)):
            if value is not None and value < 1:
                raise api.CodeduelError(f"invalid {name} {value}", "give a positive token count")
        result = api.perplexity(
            model,
            corpus=corpus,
            n_files=files,
            max_tokens=max_tokens,
            min_bytes=min_bytes,
            window=window,
            stride=stride,
            edges=edges,
            seed=seed,
            store=store,
            n_threads=threads,
        )
        if as_json:
            print_json(result.to_dict())
            return
        _render_perplexity(result)


def _render_perplexity(result: Any) -> None:
    from rich.table import Table

    table = Table(
        title=safe(
            f"perplexity by context position, {result.model}: window {result.window}, "
            f"stride {result.stride} — run {result.run_id}"
        ),
        title_justify="left",
    )
    for column in ("position", "tokens", "mean NLL", "perplexity"):
        table.add_column(column, justify="right")
    for b in result.buckets:
        mean = b["mean_nll"]
        table.add_row(
            b["bucket"],
            str(b["tokens"]),
            "—" if mean is None else f"{mean:.3f}",
            "—" if b["perplexity"] is None else f"{b['perplexity']:.3f}",
        )
    o = result.overall
    table.add_row(
        "all",
        str(o["tokens"]),
        "—" if o["mean_nll"] is None else f"{o['mean_nll']:.3f}",
        "—" if o["perplexity"] is None else f"{o['perplexity']:.3f}",
    )
    out.print(table)
    for f in result.files:
        ppl = "—" if f["perplexity"] is None else f"{f['perplexity']:.3f}"
        out.print(
            safe(
                f"{f['file']}: {f['bytes']} bytes, {f['tokens']} tokens scored in "
                f"{f['windows']} windows, perplexity {ppl}, {f['seconds']:.1f} s"
            ),
            highlight=False,
        )
    out.print(safe(f"store: {result.store_path} (run {result.run_id})"), highlight=False)


def register(app: typer.Typer) -> None:
    """Attach ``codeduel key-retrieval`` and ``codeduel perplexity`` to ``app``."""
    app.command("key-retrieval")(key_retrieval)
    app.command("perplexity")(perplexity)
