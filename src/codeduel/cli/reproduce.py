"""``codeduel reproduce`` and ``codeduel audit determinism``: explain a score, test its decoding.

Why one module: both run a designed experiment of greedy arms on the same problems and print one
table of arms with their paired effect against a reference arm, then a one-line verdict.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codeduel import api
from codeduel.cli.console import err, guard, out, parse_counts, print_json, safe
from codeduel.cli.options import (
    DataDirOpt,
    JsonOpt,
    LimitOpt,
    MaxNewTokensOpt,
    ModelOpt,
    SampleOpt,
    StoreOpt,
    ThreadsOpt,
    WorkersOpt,
)

TaskOpt = Annotated[str, typer.Option("--task", "-t", help="humaneval, humaneval+, mbpp, mbpp+.")]


def _announce(name: str, index: int, total: int) -> None:
    err.print(safe(f"arm {index}/{total}: {name}"), highlight=False)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def _table(title: str, arms: list[Any], effects: list[Any], share: Any = None) -> None:
    """Arms with pass@1 [interval] and each one's paired effect against the first arm."""
    from rich.table import Table

    by_arm = {e.arm: e for e in effects}
    out.print(safe(title), highlight=False, soft_wrap=True)
    table = Table()
    for column in ("arm", "pass@1 % [95 %]", "effect, points [95 %]", "p", "run"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    if share is not None:
        table.add_column("of gap", justify="right")
    for a in arms:
        e = by_arm.get(a.arm.name)
        effect = "reference" if e is None else (
            f"{100 * e.diff.estimate:+.1f} [{100 * e.diff.low:+.1f}, {100 * e.diff.high:+.1f}]"
        )  # fmt: skip
        row = [
            safe(a.arm.name),
            f"{_pct(a.pass_at_1)} [{_pct(a.low)}, {_pct(a.high)}]",
            effect,
            "" if e is None else api.format_p(e.test.p_value),
            f"{a.run_id}{'*' if a.reused else ''}",
        ]
        if share is not None:
            s = None if e is None else share(e)
            row.append("" if s is None else f"{100 * s:.0f} %")
        table.add_row(*row)
    out.print(table)


def reproduce(
    model: ModelOpt = None,
    task: TaskOpt = "humaneval",
    factors: Annotated[
        str,
        typer.Option(help="all, or some of: template,prefill,strip,stops,max-tokens,batch,weights"),
    ] = "all",
    published: Annotated[
        float | None,
        typer.Option(help="The published pass@1 in percent (default: the model preset's)."),
    ] = None,
    alt_model: Annotated[
        list[str] | None,
        typer.Option(
            "--alt-model",
            help="Other weights of the same model (another quantisation or dtype); repeatable.",
            show_default=False,
        ),
    ] = None,
    max_new_tokens: MaxNewTokensOpt = 512,
    token_levels: Annotated[
        str, typer.Option(help="Other --max-new-tokens to try, comma-separated.")
    ] = "256",
    batch_levels: Annotated[
        str | None,
        typer.Option(
            help="Greedy batch sizes to try (default: 8 for a one-at-a-time backend, else 1).",
            show_default=False,
        ),
    ] = None,
    no_combined: Annotated[
        bool, typer.Option("--no-combined", help="Skip the arm that combines helpful levels.")
    ] = False,
    limit: LimitOpt = None,
    sample: SampleOpt = None,
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    workers: WorkersOpt = None,
    threads: ThreadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Why the measured pass@1 differs from the published one: each known cause run as one arm
    on the same problems, its effect with a paired interval, and the closest configuration.

    Example: codeduel reproduce --task humaneval --sample 40
    """
    with guard():
        result = api.reproduce(
            model,
            task,
            factors=factors,
            published=published,
            limit=limit,
            sample=sample,
            max_new_tokens=max_new_tokens,
            token_levels=parse_counts(token_levels, "--token-levels") if token_levels else (),
            batch_levels=parse_counts(batch_levels, "--batch-levels") if batch_levels else (),
            alt_models=list(alt_model or ()),
            combined=not no_combined,
            data_dir=data_dir,
            store=store,
            workers=workers,
            n_threads=threads,
            on_arm=None if as_json else _announce,
        )
        if as_json:
            print_json(result.to_dict())
            return
        pub = "" if result.published is None else f", published {_pct(result.published)} %"
        _table(
            f"reproduce {result.model} on {result.task}{pub} — experiment {result.reproduce_id}",
            result.arms,
            result.effects,
            share=result.share if result.gap else None,
        )
        for name, why in result.not_offered.items():
            out.print(safe(f"not varied: {name}: {why}"), highlight=False, soft_wrap=True)
        if result.interaction is not None:
            points = round(100 * result.interaction, 1) + 0  # + 0: never "-0.0"
            out.print(
                f"combined minus the sum of its parts: {points:+.1f} points",
                highlight=False,
            )
        out.print("* read back from a finished run in the store", highlight=False)
        out.print(safe(result.headline), highlight=False, soft_wrap=True)
        out.print(safe(f"store: {result.store_path}"), highlight=False, soft_wrap=True)


def determinism(
    model: ModelOpt = None,
    task: TaskOpt = "humaneval",
    batch_size: Annotated[
        int | None,
        typer.Option(
            help="Batch to test against batch 1 (default: the backend's, or 8).",
            show_default=False,
        ),
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(
            help="A second backend on the same weights (auto: the other one installed), e.g. "
            "hf:embedded:qwen2.5-coder-0.5b-instruct",
            show_default=False,
        ),
    ] = None,
    max_new_tokens: MaxNewTokensOpt = 512,
    limit: LimitOpt = None,
    sample: SampleOpt = None,
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    workers: WorkersOpt = None,
    threads: ThreadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Greedy decoding at batch 1 against a larger batch (and another backend): the problems
    whose text differs and what that does to pass@1, with a paired interval.

    Example: codeduel audit determinism --task humaneval --limit 20
    """
    with guard():
        result = api.audit_determinism(
            model,
            task,
            batch_size=batch_size,
            against=against,
            limit=limit,
            sample=sample,
            max_new_tokens=max_new_tokens,
            data_dir=data_dir,
            store=store,
            workers=workers,
            n_threads=threads,
            on_arm=None if as_json else _announce,
        )
        if as_json:
            print_json(result.to_dict())
            return
        _table(
            f"greedy determinism of {result.model} on {result.task} — audit {result.audit_id}",
            result.arms,
            result.effects,
        )
        for d in result.divergences[:50]:
            verdicts = f"{'pass' if d.reference_passed else 'fail'} -> "
            verdicts += "pass" if d.arm_passed else "fail"
            out.print(
                safe(f"  {d.arm}: {d.task_id} differs from character {d.offset} ({verdicts})"),
                highlight=False,
            )
        if len(result.divergences) > 50:
            out.print(f"  ... {len(result.divergences) - 50} more (see --json)", highlight=False)
        out.print(safe(result.headline), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Attach ``codeduel reproduce`` and the ``codeduel audit`` group."""
    app.command("reproduce")(reproduce)
    audit = typer.Typer(
        name="audit", help="Audits of a model's scores: is greedy decoding deterministic.",
        no_args_is_help=True,
    )  # fmt: skip
    audit.command("determinism")(determinism)
    app.add_typer(audit, name="audit")
