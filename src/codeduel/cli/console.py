"""What every command shares for output: consoles, escaping, JSON, progress and the guard.

- :func:`safe`: a verdict's reason, an output tail or a task id may hold terminal escapes that
  clear the screen, retitle the window or print a green "ALL TESTS PASSED", or bidi overrides
  that reorder what is read. Every command prints such text through it.
- :func:`guard`: user errors are one red line on stderr with exit code 2; Ctrl-C exits 130 and
  SIGTERM 143, and an interrupted recording command says which run is in the store and the
  command line that resumes it, the same line for every command.
- :func:`print_json`: with ``--json`` a command prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn

from codeduel.api import CodeduelError, RunInterrupted, parse_ks

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "EXIT_USER_ERROR",
    "err",
    "guard",
    "out",
    "parse_k",
    "pct",
    "pct_published",
    "print_json",
    "progress_bar",
    "safe",
]

out = Console()
err = Console(stderr=True)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe(text: object) -> str:
    """``text`` for a terminal: control and bidi characters made visible, rich markup
    escaped (so ``[red]`` in a completion stays text)."""
    shown = _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))
    return escape(shown)


def print_json(obj: Any) -> None:
    """One JSON object; C0 controls are escaped by json itself, C1 and bidi ones here, so a
    --json result read in a terminal cannot drive it either."""
    text = json.dumps(obj, ensure_ascii=False)
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def pct(value: Any) -> str:
    """A fraction as a percentage with two decimals; an undefined value as a dash."""
    return "—" if value is None else f"{100 * float(value):.2f}"


def pct_published(value: float | None) -> str:
    """A published figure (already in %) with one decimal; missing as a dash."""
    return "—" if value is None else f"{value:.1f}"


def parse_k(text: str) -> tuple[int, ...]:
    """``--k 10,1`` -> (1, 10), or a one-line error."""
    return parse_ks(text)


def parse_counts(text: str, option: str) -> tuple[int, ...]:
    """``1,5,20`` -> (1, 5, 20): positive integers in the order given, duplicates dropped, or a
    one-line error naming ``option``."""
    parts = [x.strip() for x in text.split(",") if x.strip()]
    if not parts or not all(x.isdigit() and int(x) > 0 for x in parts):
        raise CodeduelError(f"invalid {option} {text!r}", "give positive integers, e.g. 1,5,20")
    return tuple(dict.fromkeys(int(x) for x in parts))


def progress_bar(label: str, *tail: ProgressColumn) -> Progress:
    """A bar on stderr (label, bar, done/total, then ``tail``) that clears itself when done
    and stays silent when stderr is not a terminal, so --json output is never mixed with it."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        *tail,
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every run is marked failed and says how to resume."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated()


def _terminated(e: BaseException) -> bool:
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, _Terminated):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def resume_command() -> str:
    """The command line that was run (rerunning it resumes the run)."""
    return shlex.join(["codeduel", *sys.argv[1:]])


@contextmanager
def guard() -> Iterator[None]:
    """Turn user errors, Ctrl-C and SIGTERM into one line and an exit code, never a
    traceback. An interrupted run says its id and the command that resumes it."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        yield
    except CodeduelError as e:
        err.print(f"error: {safe(e)}", style="red", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt as e:
        terminated = _terminated(e)
        what = "terminated" if terminated else "interrupted"
        if isinstance(e, RunInterrupted):
            message = (
                f"{what}: run {e.run_id} is in the store {e.store_path} (status failed); "
                f"resume it with: {resume_command()}"
            )
        else:
            message = what
        err.print(safe(message), style="yellow", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
