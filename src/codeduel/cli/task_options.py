"""Options that belong to one task (``--difficulty`` for APPS, ``--release``/``--since``/
``--until``/``--platform`` for LiveCodeBench), shared by ``evaluate`` and ``run``.

They travel as one ``task_options`` dict to ``get_task(**options)``, which rejects an option
the chosen task does not take in one line, and into the run's recorded config (so a resumed
run gets the same problems, and a run with other options is another run)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

DifficultyOpt = Annotated[
    str | None,
    typer.Option(
        "--difficulty",
        help="APPS: only introductory, interview or competition problems (default: all).",
        show_default=False,
    ),
]
ReleaseOpt = Annotated[
    str | None,
    typer.Option(
        "--release",
        help="LiveCodeBench: release v1..v6 (or release_v5); default v6, every file.",
        show_default=False,
    ),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="LiveCodeBench: only problems with a contest date on or after this ISO date "
        "(e.g. a model's training cutoff).",
        show_default=False,
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="LiveCodeBench: only problems with a contest date on or before this ISO date.",
        show_default=False,
    ),
]
PlatformOpt = Annotated[
    str | None,
    typer.Option(
        "--platform",
        help="LiveCodeBench: only leetcode, atcoder or codeforces problems.",
        show_default=False,
    ),
]


def task_options(**given: Any) -> dict[str, Any]:
    """The options the user gave (None means not given), keyed as the task factories name
    them."""
    return {name: value for name, value in given.items() if value is not None}


__all__ = [
    "DifficultyOpt",
    "PlatformOpt",
    "ReleaseOpt",
    "SinceOpt",
    "UntilOpt",
    "task_options",
]
