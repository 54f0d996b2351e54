"""``codeduel export``: a stored run as evalplus's or bigcode-evaluation-harness's result file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codeduel import api
from codeduel.cli.console import err, guard, pct, print_json, safe
from codeduel.cli.options import DataDirOpt, JsonOpt, StoreOpt


def export(
    run: Annotated[int, typer.Argument(help="Run id (see `codeduel runs`).", show_default=False)],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="evalplus (eval_results.json of a humaneval+/mbpp+ run) or bigcode "
            "(bigcode-evaluation-harness metrics JSON).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The file to write.", show_default=False)
    ],
    store: StoreOpt = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a finished run as another tool's result file, from the store (nothing is rerun).

    --json prints {"run_id", "format", "output", "task", "n_problems", "n_samples", "pass@k"...
    (fractions; base + extra tests for humaneval+/mbpp+), "base": {"pass@k"...} (evalplus only),
    "size_bytes", "warnings"}.

    Example: codeduel export 3 --format evalplus -o samples_eval_results.json
    """
    with guard():
        result = api.export(run, fmt.lower(), output, store=store, data_dir=data_dir)
        if as_json:
            print_json(result.to_dict())
            return
        scores = _scores(result.pass_at_k)
        if result.base_pass_at_k is not None:
            scores = f"base tests {_scores(result.base_pass_at_k)}; base + extra tests {scores}"
        for warning in result.warnings:
            err.print(f"warning: {safe(warning)}", style="yellow", highlight=False, soft_wrap=True)
        err.print(
            safe(
                f"wrote {result.output} ({result.format}, {result.size_bytes / 1024:.0f} KiB): "
                f"run {result.run_id} {result.task}, {result.n_samples} samples over "
                f"{result.n_problems} problems; {scores}"
            ),
            highlight=False,
            soft_wrap=True,
        )


def _scores(pass_at_k: dict[str, float | None]) -> str:
    """``pass@1 50.00 %, ...``: the k every problem allows (the others are not estimable)."""
    shown = [f"{k} {pct(v)} %" for k, v in pass_at_k.items() if v is not None]
    return ", ".join(shown) or "no pass@k estimable"


def register(app: typer.Typer) -> None:
    """Attach ``codeduel export``."""
    app.command("export")(export)
