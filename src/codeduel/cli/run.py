"""``codeduel run``: generate with a model, judge every sample, score, all recorded."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import ProgressColumn, TimeRemainingColumn
from rich.progress import Task as RichTask
from rich.table import Table
from rich.text import Text

from codeduel import api
from codeduel.cli.console import (
    guard,
    out,
    parse_k,
    pct,
    pct_published,
    print_json,
    progress_bar,
    safe,
    safe_line,
)
from codeduel.cli.options import (
    BatchSizeOpt,
    DataDirOpt,
    ExecutorOpt,
    HashSeedOpt,
    JsonOpt,
    KOpt,
    LimitOpt,
    MaxNewTokensOpt,
    ModelOpt,
    RayAddressOpt,
    RejudgeOpt,
    RequireIsolationOpt,
    SampleOpt,
    SeedOpt,
    SpeculativeOpt,
    StoreOpt,
    StyleOpt,
    TopKOpt,
    WorkersOpt,
)
from codeduel.cli.task_options import (
    DifficultyOpt,
    PlatformOpt,
    ReleaseOpt,
    SinceOpt,
    UntilOpt,
    task_options,
)


class _RateColumn(ProgressColumn):
    """Samples per second, so a user sees whether generation or execution is the bottleneck."""

    def render(self, task: RichTask) -> Text:
        speed = task.finished_speed or task.speed
        return Text("—/s" if speed is None else f"{speed:.2f}/s")


def run_cmd(
    model: ModelOpt = None,
    task: Annotated[str, typer.Option("--task", "-t", help="Task name.")] = "humaneval",
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset", help="Decoding preset: paper-pass1 or paper-pass100.", show_default=False
        ),
    ] = None,
    n: Annotated[int | None, typer.Option("--n", help="Samples per problem.")] = None,
    temperature: Annotated[
        float | None,
        typer.Option(
            "--temperature",
            help="Sampling temperature (default: 0, greedy, unless --preset sets it).",
            show_default=False,
        ),
    ] = None,
    top_p: Annotated[
        float | None,
        typer.Option(
            "--top-p",
            help="Nucleus sampling mass (default: 1.0, unless --preset sets it).",
            show_default=False,
        ),
    ] = None,
    top_k: TopKOpt = None,
    max_new_tokens: MaxNewTokensOpt = 512,
    seed: SeedOpt = 0,
    limit: LimitOpt = None,
    sample: SampleOpt = None,
    style: StyleOpt = None,
    k: KOpt = "1,10,100",
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    workers: WorkersOpt = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    gen_workers: Annotated[
        int | None,
        typer.Option(
            "--gen-workers",
            help="Generate on N Ray actors, one model replica each (one GPU each where the "
            "cluster has GPUs), sharing one problem queue; default: one replica here.",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="OpenAI-compatible server for openai:MODEL (default: $OPENAI_BASE_URL or "
            "OpenAI); the key comes from $OPENAI_API_KEY.",
            show_default=False,
        ),
    ] = None,
    fim_order: Annotated[
        str | None,
        typer.Option(
            "--fim-order",
            help="Infilling tasks: psm (default) or spm prompt order, in the model's own "
            "FIM sentinels.",
            show_default=False,
        ),
    ] = None,
    require_isolation: RequireIsolationOpt = None,
    hash_seed: HashSeedOpt = 0,
    rejudge: RejudgeOpt = False,
    batch_size: BatchSizeOpt = None,
    speculative: SpeculativeOpt = None,
    difficulty: DifficultyOpt = None,
    release: ReleaseOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    platform: PlatformOpt = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="What runs, compare and report call this run, and what `codeduel compare "
            "NAME` finds (default: the model). Not part of the run's identity: rerunning "
            "under another name resumes the run and renames it.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate with a model, execute and score; resumes an interrupted identical run.

    Example: codeduel run --model codellama-7b --task humaneval --n 20 --temperature 0.8
    """
    with guard():
        ks = parse_k(k)
        if style not in (None, *api.STYLES):
            raise api.CodeduelError(f"unknown --style {style!r}", "use completion or chat")
        decoding = api.decoding(preset, n=n, temperature=temperature, top_p=top_p)
        progress = progress_bar("{task.description}", _RateColumn(), TimeRemainingColumn())
        with progress:
            bars = {
                "generate": progress.add_task("generating", total=None),
                "execute": progress.add_task("judging", total=None),
            }

            def tick(phase: str, done: int, total: int) -> None:
                progress.update(bars[phase], completed=done, total=total)

            result = api.run(
                model,
                task,
                style=style,  # type: ignore[arg-type]
                n=decoding["n"],
                temperature=decoding["temperature"],
                top_p=decoding["top_p"],
                top_k=top_k,
                max_new_tokens=max_new_tokens,
                seed=seed,
                limit=limit,
                sample=sample,
                k=ks,
                data_dir=data_dir,
                store=store,
                workers=workers,
                progress=tick,
                base_url=base_url,
                fim_order=fim_order,
                executor=executor,
                ray_address=ray_address,
                gen_workers=gen_workers,
                require_isolation=require_isolation,
                hash_seed=hash_seed,
                rejudge=rejudge,
                batch_size=batch_size,
                speculative=speculative,
                task_options=task_options(
                    difficulty=difficulty,
                    release=release,
                    since=since,
                    until=until,
                    platform=platform,
                ),
                name=name,
            )
        if as_json:
            print_json(result.to_dict())
            return
        spec = result.spec
        table = Table(
            title=safe_line(
                f"{result.name}{'' if result.name == spec.model else f' ({spec.model})'} on "
                f"{spec.task} — run {result.run_id}"
            ),
            title_justify="left",
        )
        table.add_column("metric")
        columns = result.score_columns()  # HumanEval+/MBPP+: base, then base + extra tests
        for label, _ in columns:
            table.add_column("measured %" if len(columns) == 1 else f"{label} %", justify="right")
        table.add_column("published %", justify="right")
        for name in result.pass_at_k:
            table.add_row(
                name,
                *(pct(scores.get(name)) for _, scores in columns),
                pct_published(result.published.get(name)),
            )
        out.print(table)
        c = result.counts
        out.print(
            f"{result.n_samples} samples over {result.n_problems} problems: {c.get('passed', 0)} "
            f"passed, {c.get('failed', 0)} failed, {c.get('timed out', 0)} timed out; "
            f"{result.extraction_failures} code-extraction failures"
            + ("; resumed an interrupted run" if result.resumed else ""),
            highlight=False,
        )
        out.print(
            safe(
                f"{spec.style} prompts ({spec.template}); n={spec.n} T={spec.temperature} "
                f"top-p={spec.top_p}; {result.generated_tokens} tokens generated in "
                f"{result.generation_s:.1f} s; total {result.duration_s:.1f} s"
            ),
            highlight=False,
        )
        if result.rejudged is not None:
            out.print(
                f"re-judged alone: {result.rejudged} timed-out program(s), "
                f"{result.load_dependent} load-dependent",
                highlight=False,
            )
        if result.determinism:
            out.print(f"decoding: {safe(result.determinism)}", highlight=False)
        out.print(f"store:   {safe(str(result.store_path))} (run {result.run_id})", highlight=False)
        for warning in result.warnings:
            out.print(f"warning: {safe(warning)}", style="yellow", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Attach this module's commands."""
    app.command("run")(run_cmd)
