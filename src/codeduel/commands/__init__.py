"""Extra CLI commands, one module per feature, each exposing ``register(app)``.

Why: features (sweeps, comparisons, reports, ...) add commands without editing one long
``cli.py``; :func:`codeduel.cli.main` registers every module listed in ``MODULES``.
"""

from __future__ import annotations

from importlib import import_module

import typer

#: Modules under codeduel.commands, each with ``register(app: typer.Typer) -> None``.
MODULES: tuple[str, ...] = ("compare", "infill", "sweep", "longcontext", "report", "selfinstruct")


def register_all(app: typer.Typer) -> None:
    """Attach every feature module's commands to ``app``."""
    for name in MODULES:
        import_module(f"codeduel.commands.{name}").register(app)
