"""The ``codeduel`` typer app: one module per command (or small group), registered here.

Why a registry: a command is one module with ``register(app)`` plus one line in
:data:`COMMANDS`; nothing else in the CLI changes. Every command imports only
:mod:`codeduel.api` and :mod:`codeduel.cli.console`/:mod:`codeduel.cli.options`, so what the shell
does, a notebook can do with the same names.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
import warnings
from importlib import import_module
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from typer.exceptions import Abort, TyperException

from codeduel import __version__
from codeduel.cli.console import (
    EXIT_INTERRUPTED,
    EXIT_USER_ERROR,
    err,
    out,
    safe,
    set_verbosity,
    verbosity,
)

__all__ = ["COMMANDS", "app", "main"]

#: Modules under codeduel.cli, each with ``register(app: typer.Typer) -> None``, in help order.
COMMANDS: tuple[str, ...] = (
    "evaluate",
    "runs",
    "doctor",
    "catalog",
    "run",
    "compare",
    "plan",
    "reproduce",
    "infill",
    "sweep",
    "suite",
    "longcontext",
    "report",
    "export",
    "selfinstruct",
    "contamination",
    "memorisation",
)

app = typer.Typer(
    name="codeduel",
    help="Evaluate code LLMs the way the Code Llama paper did: pass@k, safely and reproducibly.",
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"codeduel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="More: the traceback of an internal error, library log lines (-vv: debug).",
        ),
    ] = 0,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Only results, warnings and errors: no progress, no notes."
        ),
    ] = False,
) -> None:
    """codeduel: score and compare code models.

    Example: codeduel -q evaluate samples.jsonl --task humaneval
    """
    if verbose and quiet:
        raise typer.BadParameter("-v and -q contradict each other", param_hint="'-v' / '-q'")
    set_verbosity(-1 if quiet else verbose)
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            stream=sys.stderr,
            format="%(levelname)s %(name)s: %(message)s",
        )


for _name in COMMANDS:
    import_module(f"codeduel.cli.{_name}").register(app)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Library warnings (unpublished benchmark data, ...) as one yellow line on stderr, not
    Python's two lines with a source excerpt."""
    err.print(f"warning: {safe(str(message))}", style="yellow", highlight=False, soft_wrap=True)


def main() -> None:
    """Console-script entry point (``codeduel``): every failure is one line, unless debugging."""
    warnings.showwarning = _show_warning
    try:
        code = app(standalone_mode=False, prog_name="codeduel")
    except TyperException as e:  # usage errors (missing option, bad value, unknown command)
        if type(e).__name__ == "NoArgsIsHelpError":  # bare `codeduel`: show the help
            e.show()  # type: ignore[attr-defined]
            sys.exit(0)
        ctx = getattr(e, "ctx", None)
        command = getattr(ctx, "command_path", None) or "codeduel"
        err.print(
            f"error: {safe(e.format_message())} — see `{command} --help`",
            style="red",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(getattr(e, "exit_code", EXIT_USER_ERROR))
    except Abort:
        err.print("interrupted", style="yellow")
        sys.exit(EXIT_INTERRUPTED)
    except ValidationError as e:  # a model or spec check the commands did not catch first
        first = e.errors()[0] if e.errors() else {"loc": (), "msg": str(e)}
        where = ".".join(str(x) for x in first.get("loc", ())) or "value"
        err.print(
            f"error: invalid {safe(where)}: {safe(first.get('msg', ''))} — see `codeduel --help`",
            style="red",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(EXIT_USER_ERROR)
    except BrokenPipeError:  # `codeduel runs | head`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except Exception as e:
        if os.environ.get("CODEDUEL_DEBUG"):
            raise
        if verbosity() > 0:  # -v: the traceback first, then the one line
            traceback.print_exc(file=sys.stderr)
        err.print(
            f"internal error: {type(e).__name__}: {safe(str(e))} — this is a codeduel bug; "
            "rerun with -v for the traceback and report it",
            style="red",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
