"""``codeduel compare``: leaderboard with intervals and paired tests.

This file only parses options and renders; the statistics and the assembly are
:func:`codeduel.api.compare`, so scripts get the same answer as users get from the terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from codeduel import api
from codeduel.cli.console import err, guard, out, parse_k, print_json, safe
from codeduel.cli.options import (
    DEFAULT_BOOTSTRAP,
    BootstrapOpt,
    BootstrapSeedOpt,
    CutoffOpt,
    JsonOpt,
    StoreOpt,
)

_FORMATS = ("table", "markdown", "csv", "json")
_SUFFIX_FORMAT = {".md": "markdown", ".markdown": "markdown", ".csv": "csv", ".json": "json"}


def _render_table(result: api.Comparison, console: Console) -> None:
    """One leaderboard per task, then the pairs, as rich tables."""
    format_ci, format_p = api.format_ci, api.format_p

    level = round(100 * float(result.settings.get("level", 0.95)))
    footnotes: list[str] = []
    for task in dict.fromkeys(r.task for r in result.leaderboard):
        board = Table(title=f"{task}: pass@k % with {level}% interval", title_justify="left")
        for name in ("tier", "model", "run", "problems", "samples"):
            board.add_column(name, justify="left" if name == "model" else "right")
        for k in result.ks:
            board.add_column(f"pass@{k}", justify="right")
            board.add_column(f"paper @{k}", justify="right")
        for r in (row for row in result.leaderboard if row.task == task):
            cells = [
                "—" if r.tier is None else str(r.tier),
                safe(r.model) + (" [yellow](partial)[/]" if r.partial else ""),
                str(r.run_id),
                str(r.n_problems),
                str(r.n_samples),
            ]
            for m in r.metrics:
                cells.append(format_ci(m.estimate, m.low, m.high))
                if m.published is None:
                    cells.append("—")
                elif m.protocol == "paper protocol":
                    cells.append(f"{100 * m.published:.1f}")
                else:
                    footnotes.append(f"* run {r.run_id} pass@{m.k}: {m.protocol}")
                    cells.append(f"[dim]{100 * m.published:.1f}*[/]")
            board.add_row(*cells)
        console.print(board)
    for note in footnotes:
        console.print(safe(note), style="dim", highlight=False)
    for task in dict.fromkeys(p.task for p in result.pairs):
        pairs = Table(
            title=f"{task}: A - B on the same problems (Δ in points, {level}% paired CI)",
            title_justify="left",
        )
        for name in ("A", "B", "paired"):
            pairs.add_column(name, justify="right" if name == "paired" else "left")
        for k in result.ks:
            pairs.add_column(f"Δ pass@{k}", justify="right", no_wrap=True)
        pairs.add_column("p (pass@1)", justify="right", no_wrap=True)
        pairs.add_column("verdict", no_wrap=True)
        pairs.add_column("A only", justify="right")
        pairs.add_column("B only", justify="right")
        for p in (pair for pair in result.pairs if pair.task == task):
            by_k = {pm.k: pm for pm in p.metrics}
            style = "bold green" if p.verdict != "not significant" else "dim"
            cells = [
                safe(f"{p.model_a} #{p.run_a}"),
                safe(f"{p.model_b} #{p.run_b}"),
                str(p.n_paired),
            ]
            for k in result.ks:
                pm = by_k.get(k)
                cells.append(format_ci(pm.diff, pm.low, pm.high) if pm else "—")
            cells += [
                format_p(p.p_value),
                f"[{style}]{p.verdict}[/]",
                str(len(p.a_solves_b_not)),
                str(len(p.b_solves_a_not)),
            ]
            pairs.add_row(*cells)
        console.print(pairs)
    for p in result.pairs:
        for who, other, ids in (
            (f"{p.model_a} #{p.run_a}", f"{p.model_b} #{p.run_b}", p.a_solves_b_not),
            (f"{p.model_b} #{p.run_b}", f"{p.model_a} #{p.run_a}", p.b_solves_a_not),
        ):
            if ids:
                shown = ", ".join(ids[:12]) + (f", … (+{len(ids) - 12})" if len(ids) > 12 else "")
                console.print(
                    safe(f"{p.task}: {who} solves, {other} does not ({len(ids)}): {shown}"),
                    highlight=False,
                )
    _render_competitive(result, console)
    tests = sorted({p.test for p in result.pairs if p.test})
    if tests:
        console.print(
            safe(
                f"pass@1 test: {'; '.join(tests)}; alpha {result.settings['alpha']}; "
                f"'solves' = {result.settings['solved']} of samples pass"
            ),
            style="dim",
            highlight=False,
        )


def _render_competitive(result: api.Comparison, console: Console) -> None:
    """APPS / LiveCodeBench runs: pass@k per difficulty and month, then the contamination check."""
    for v in result.competitive:
        if v.note:
            console.print(safe(f"{v.task} run {v.run_id}: {v.note}"), style="dim", highlight=False)
        for title, groups in (("difficulty", v.by_difficulty), ("contest month", v.by_month)):
            if not groups:
                continue
            table = Table(
                title=safe(f"{v.task}: {v.model} #{v.run_id} by {title} (pass@k %, 95% CI)"),
                title_justify="left",
            )
            table.add_column(title)
            table.add_column("problems", justify="right")
            ks = sorted({m.k for g in groups for m in g.metrics})
            for k in ks:
                table.add_column(f"pass@{k}", justify="right")
                if any(m.published is not None for g in groups for m in g.metrics if m.k == k):
                    table.add_column(f"paper @{k}", justify="right")
            for g in groups:
                by_k = {m.k: m for m in g.metrics}
                cells = [safe(g.group), str(g.n_problems)]
                for k in ks:
                    m = by_k.get(k)
                    cells.append(api.format_ci(m.estimate, m.low, m.high) if m else "—")
                    if any(
                        x.published is not None for gg in groups for x in gg.metrics if x.k == k
                    ):
                        pub = m.published if m else None
                        cells.append("—" if pub is None else f"[dim]{100 * pub:.1f}*[/]")
                table.add_row(*cells)
            console.print(table)
        c = v.contamination
        if c is not None:
            diff = "—" if c.diff is None else api.format_ci(c.diff, c.low, c.high)
            before = "—" if c.rate_before is None else f"{100 * c.rate_before:.1f}"
            after = "—" if c.rate_after is None else f"{100 * c.rate_after:.1f}"
            console.print(
                safe(
                    f"{v.task} #{v.run_id} contamination: cutoff {c.cutoff} ({c.source}): "
                    f"pass@1 before {before} % ({c.n_before} problems), after {after} % "
                    f"({c.n_after}); after - before {diff} points"
                ),
                highlight=False,
            )
        protocol = next(
            (m.protocol for g in v.by_difficulty for m in g.metrics if m.protocol), None
        )
        for src in v.sources:
            text = f"* {src}" + (f"; {protocol}" if protocol else "")
            console.print(safe(text), style="dim", highlight=False)


def register(app: typer.Typer) -> None:
    """Attach ``codeduel compare`` to ``app``."""

    @app.command("compare")
    def compare(
        runs: Annotated[
            list[str],
            typer.Argument(
                metavar="RUN_OR_MODEL",
                help="Run ids, or model names (the newest finished run per task).",
                show_default=False,
            ),
        ],
        k: Annotated[
            str | None,
            typer.Option(
                "--k", help="Comma-separated k (default: 1 and what n allows).", show_default=False
            ),
        ] = None,
        fmt: Annotated[
            str, typer.Option("--format", "-f", help="table, markdown, csv or json.")
        ] = "table",
        output: Annotated[
            Path | None,
            typer.Option(
                "--output", "-o", help="Write to this file instead of stdout.", show_default=False
            ),
        ] = None,
        store: StoreOpt = None,
        bootstrap: BootstrapOpt = DEFAULT_BOOTSTRAP,
        seed: BootstrapSeedOpt = 0,
        alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
        solved: Annotated[
            str,
            typer.Option("--solved", help="Per-problem diff: 'majority' or 'any' sample passes."),
        ] = "majority",
        cutoff: CutoffOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Leaderboard with 95% intervals, the paper's numbers, and paired tests between runs.

        --json (the same as --format json) prints one object: {"settings": {...}, "ks": [1, ...],
        "leaderboard": [{"task", "run_id", "model", "n_problems", "n_samples", "tier",
        "partial", "metrics": [{"k", "estimate", "low", "high", "published", ...}]}, ...],
        "pairs": [{"task", "run_a", "run_b", "n_paired", "metrics": [{"k", "diff", "low",
        "high"}], "p_value", "verdict", ...}], "competitive": [...], "warnings": [...]};
        every pass@k, interval and difference is a fraction (0.5 is 50 %).

        Example: codeduel compare 1 2 --json
        """
        with guard():
            chosen = "json" if as_json else fmt.lower()
            if chosen not in _FORMATS:
                raise api.CodeduelError(
                    f"unknown --format {fmt!r}", "use table, markdown, csv or json"
                )
            if output is not None and chosen == "table":
                chosen = _SUFFIX_FORMAT.get(output.suffix.lower(), "markdown")
            result = api.compare(
                runs,
                store=store,
                ks=None if k is None else parse_k(k),
                n_boot=bootstrap,
                alpha=alpha,
                seed=seed,
                solved=solved,
                cutoff=cutoff,
            )
            for warning in result.warnings:
                err.print(
                    f"warning: {safe(warning)}", style="yellow", highlight=False, soft_wrap=True
                )
            if chosen == "table":
                _render_table(result, out)
                return
            if as_json and output is None:
                print_json(result.to_dict())  # one line, terminal controls escaped
                return
            text = {
                "markdown": result.to_markdown,
                "csv": result.to_csv,
                "json": result.to_json,
            }[chosen]()
            if output is None:
                sys.stdout.write(text)
                return
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as e:
                raise api.CodeduelError(
                    f"cannot write {output}: {e.strerror}", "pass a writable path to -o"
                ) from None
            err.print(f"wrote {safe(str(output))} ({chosen})", highlight=False)
