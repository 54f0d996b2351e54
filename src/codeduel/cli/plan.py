"""``codeduel plan``: how many problems a comparison needs, and what a benchmark can detect."""

from __future__ import annotations

from typing import Annotated

import typer

from codeduel import api
from codeduel.cli.console import guard, out, parse_counts, print_json
from codeduel.cli.options import DataDirOpt, JsonOpt, StoreOpt


def plan(
    baseline: Annotated[
        float, typer.Option(help="Baseline pass@1, as a fraction (0.45) or percent (45).")
    ],
    delta: Annotated[
        float, typer.Option(help="Smallest gain worth detecting, same unit as --baseline.")
    ],
    task: Annotated[
        str | None, typer.Option("--task", "-t", help="Also judge this benchmark as it is.")
    ] = None,
    power: Annotated[float, typer.Option(help="Wanted power.")] = 0.8,
    alpha: Annotated[float, typer.Option(help="Two-sided test level.")] = 0.05,
    discordance: Annotated[
        float | None,
        typer.Option(help="Share of problems the two models disagree on (default: independent)."),
    ] = None,
    like: Annotated[
        str | None,
        typer.Option(help="Two stored greedy runs, A,B: measure the disagreement from them."),
    ] = None,
    samples: Annotated[
        str | None,
        typer.Option(
            help="Also simulate these samples per problem, e.g. 1,5,20 (Wilcoxon; ~1 min).",
            show_default=False,
        ),
    ] = None,
    concentration: Annotated[
        float, typer.Option(help="Problem-difficulty spread for --samples (1: HumanEval-like).")
    ] = 1.0,
    store: StoreOpt = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Problems needed to detect a pass@1 gain at 80 % power with McNemar's exact test (what
    `compare` uses for greedy runs), and the smallest gain a task's problems can detect.

    Example: codeduel plan --task humaneval --baseline 0.30 --delta 0.05
    """
    with guard():
        scale = 100.0 if baseline > 1 else 1.0  # percent, then delta is in points too
        runs = _run_ids(like) if like else ()
        p = api.plan(
            baseline / scale,
            delta / scale,
            task=task,
            power=power,
            alpha=alpha,
            discordance=None if discordance is None else discordance / scale,
            like=runs,
            store=store,
            data_dir=data_dir,
            samples=parse_counts(samples, "--samples") if samples else (),
            concentration=concentration,
        )
        if as_json:
            print_json(p.__dict__)
            return
        how = (
            "assuming the models fail independently (the most conservative case; "
            "--like A,B measures it from two runs)"
            if p.assumed_independent
            else "as given"
        )
        out.print(
            f"baseline {100 * p.p_base:.1f} %, gain {100 * p.delta:+.1f} points, models "
            f"disagreeing on {100 * p.discordance:.1f} % of problems {how}",
            highlight=False,
            soft_wrap=True,
        )
        if p.problems_needed is None:
            out.print("problems needed: more than 100,000", highlight=False)
        else:
            out.print(
                f"problems needed for {p.power_target:.0%} power at alpha {p.alpha:g}: "
                f"{p.problems_needed:,}",
                highlight=False,
            )
        if p.n_problems is not None and p.power_at_n is not None:
            mdd = "none below 100 points" if p.mdd_at_n is None else f"{100 * p.mdd_at_n:.1f}"
            out.print(
                f"{task} as it is ({p.n_problems} problems): power {p.power_at_n:.0%} for this "
                f"gain; smallest gain detectable at {p.power_target:.0%}: {mdd} points",
                highlight=False,
                soft_wrap=True,
            )
        if p.by_samples:
            out.print(
                f"simulated (Wilcoxon on per-problem pass rates, concentration "
                f"{p.concentration:g}):",
                highlight=False,
            )
            for n, m in p.by_samples.items():
                need = "more than 20,000" if m is None else f"{m:,}"
                out.print(f"  {n} sample(s) per problem: {need} problems", highlight=False)


def _run_ids(text: str) -> tuple[int, ...]:
    parts = [x.strip() for x in text.split(",")]
    if not all(x.isdigit() for x in parts):
        raise api.CodeduelError(f"--like {text!r} is not two run ids", "write it as A,B, e.g. 3,7")
    return tuple(int(x) for x in parts)


def register(app: typer.Typer) -> None:
    """Attach this module's commands."""
    app.command("plan")(plan)
