"""``codeduel selfinstruct``: instruction data by self-instruct with execution feedback.

A thin layer over :func:`codeduel.api.selfinstruct` (read its docstring for the
recipe): options, progress bars, and a summary table of where the questions went.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from codeduel import api
from codeduel.cli.console import guard, out, print_json, progress_bar, safe
from codeduel.cli.options import DataDirOpt, JsonOpt, SeedOpt, StoreOpt, WorkersOpt

_MODEL_HELP = "gguf:PATH, hf:ORG/NAME, openai:MODEL or a preset (default: the embedded model)."
_LABELS = {
    "questions": "questions",
    "tests": "tests",
    "solutions": "solutions",
    "judging": "judging",
}


def selfinstruct(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Dataset folder: train.jsonl, samples.jsonl, selfinstruct/problems.jsonl, "
            "summary.json (and hf/ with --hf).",
        ),
    ],
    questioner: Annotated[
        str | None, typer.Option("--questioner", help=_MODEL_HELP, show_default=False)
    ] = None,
    coder: Annotated[
        str | None, typer.Option("--coder", help=_MODEL_HELP, show_default=False)
    ] = None,
    questions: Annotated[
        int, typer.Option("--questions", "-n", help="Questions to generate.")
    ] = 10,
    tests: Annotated[int, typer.Option("--tests", help="Unit tests per question.")] = 5,
    solutions: Annotated[
        int, typer.Option("--solutions", help="Solutions sampled per question.")
    ] = 10,
    seed: SeedOpt = 0,
    temperature: Annotated[
        float, typer.Option("--temperature", help="Solution sampling temperature.")
    ] = 0.8,
    top_p: Annotated[float, typer.Option("--top-p", help="Solution nucleus sampling.")] = 0.95,
    question_temperature: Annotated[
        float, typer.Option("--question-temperature", help="Question sampling temperature.")
    ] = 0.8,
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", help="Token limit per solution.")
    ] = 512,
    tests_max_tokens: Annotated[
        int, typer.Option("--tests-max-tokens", help="Token limit per tests answer.")
    ] = 384,
    question_max_tokens: Annotated[
        int, typer.Option("--question-max-tokens", help="Token limit per question.")
    ] = 128,
    decontaminate: Annotated[
        str,
        typer.Option(
            "--decontaminate",
            help="Comma-separated benchmarks to remove look-alikes of ('' for none).",
        ),
    ] = "humaneval,mbpp",
    hf: Annotated[
        bool, typer.Option("--hf", help="Also save a Hugging Face `datasets` copy in DIR/hf.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per test program.")] = 5.0,
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    workers: WorkersOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make instruction data: questions, tests and solutions from models, kept if they pass.

    Example: codeduel selfinstruct --count 20 --out data.jsonl
    """
    from rich.progress import TimeElapsedColumn
    from rich.table import Table

    with guard():
        benchmarks = tuple(b.strip() for b in decontaminate.split(",") if b.strip())
        progress = progress_bar("{task.description:<10}", TimeElapsedColumn())
        with progress:
            bars: dict[str, Any] = {}

            def tick(phase: str, done: int, total: int) -> None:
                if phase not in bars:
                    bars[phase] = progress.add_task(_LABELS.get(phase, phase), total=total)
                progress.update(bars[phase], completed=done, total=total)

            result = api.selfinstruct(
                questioner,
                coder,
                questions=questions,
                tests=tests,
                solutions=solutions,
                seed=seed,
                question_temperature=question_temperature,
                question_max_tokens=question_max_tokens,
                tests_max_tokens=tests_max_tokens,
                temperature=temperature,
                top_p=top_p,
                max_new_tokens=max_new_tokens,
                decontaminate=benchmarks,
                timeout_s=timeout,
                output=output,
                save_hf=hf,
                data_dir=data_dir,
                store=store,
                workers=workers,
                progress=tick,
            )
        if as_json:
            data = result.to_dict()
            data.pop("dropped", None)
            print_json(data)
            return
        s = result.summary
        table = Table(title=f"self-instruct — run {result.run_id}", title_justify="left")
        table.add_column("stage")
        table.add_column("questions", justify="right")
        for label, key in (
            ("generated", "questions_generated"),
            ("unusable answers", "unusable_questions"),
            ("exact duplicates", "exact_duplicates"),
            ("near duplicates", "near_duplicates"),
            ("contaminated questions", "contaminated_questions"),
            ("tests failing to parse", "tests_failing_to_parse"),
            ("no passing solution", "no_passing_solution"),
            ("contaminated solutions", "contaminated_solutions"),
            ("kept", "kept"),
        ):
            table.add_row(label, str(s[key]))
        out.print(table)
        mean = s["mean_pass_rate"]
        out.print(
            f"{s['solutions_run']} solutions run, {s['solutions_passed']} passed "
            f"(mean pass rate per question {'—' if mean is None else f'{100 * mean:.1f} %'}); "
            f"{result.duration_s:.1f} s"
            + ("; resumed an unfinished run" if result.resumed else ""),
            highlight=False,
        )
        for name, path in result.files.items():
            out.print(f"{name + ':':<9} {safe(path)}", highlight=False, soft_wrap=True)
        out.print(
            f"store:    {safe(str(result.store_path))} (run {result.run_id})", highlight=False
        )
        if result.output is not None and result.records:
            check = (
                f"codeduel evaluate {result.output / 'samples.jsonl'} --task selfinstruct "
                f"--data-dir {result.output} --k 1"
            )
            out.print(f"re-check: {safe(check)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``codeduel selfinstruct`` to the CLI."""
    app.command("selfinstruct")(selfinstruct)
