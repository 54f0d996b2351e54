"""What every command shares for output: consoles, escaping, JSON, progress and the guard.

- :func:`safe`: a verdict's reason, an output tail or a task id may hold terminal escapes that
  clear the screen, retitle the window or print a green "ALL TESTS PASSED", or bidi overrides
  that reorder what is read. Every command prints such text through it.
- :func:`guard`: user errors are one red line on stderr with exit code 2; Ctrl-C exits 130 and
  SIGTERM 143, and an interrupted recording command says which run is in the store and the
  command line that resumes it, the same line for every command.
- :func:`print_json`: with ``--json`` a command prints exactly one JSON object on stdout.
- :data:`out`: on a terminal rich draws tables to fit it; into a pipe or a file every table
  comes out as TSV (tab-separated, one row a line, a title as a ``# `` line) and text is never
  folded at a width, so a long name reaches ``cut``, ``sort`` or a spreadsheet whole.
"""

from __future__ import annotations

import faulthandler
import json
import os
import re
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
from rich.table import Table
from rich.text import Text

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
    "safe_line",
    "set_verbosity",
    "table_tsv",
    "verbosity",
]

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


_LINE_UNSAFE = re.compile("[\t\n\r]")
_LINE_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def safe(text: object) -> str:
    """``text`` for a terminal: control and bidi characters made visible, rich markup
    escaped (so ``[red]`` in a completion stays text)."""
    shown = _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))
    return escape(shown)


def safe_line(text: object) -> str:
    """:func:`safe` for a table cell that must stay one line: tabs and line breaks shown as
    ``\\t``/``\\n``/``\\r`` too, so a name cannot start a fake row or column."""
    return safe(_LINE_UNSAFE.sub(lambda m: _LINE_ESCAPES[m.group()], str(text)))


def _cell_text(value: object) -> str:
    """Plain text made one TSV-safe line: the separators (tab, line breaks) and every other
    control or bidi character shown as an escape, never written raw."""
    text = _LINE_UNSAFE.sub(lambda m: _LINE_ESCAPES[m.group()], str(value))
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def table_tsv(table: Table, console: Console) -> list[str]:
    """``table`` as TSV lines: ``# title``, the header, one line per row, ``# caption``; cells
    are the text a terminal would show (markup applied, no styles), whole, never cut."""

    def plain(cell: RenderableType) -> str:
        if isinstance(cell, str):
            return console.render_str(cell, highlight=False).plain
        if isinstance(cell, Text):
            return cell.plain
        wide = console.options.update(width=1_000_000, no_wrap=True)  # a nested renderable
        return " ".join(
            "".join(s.text for s in line).strip() for line in console.render_lines(cell, wide)
        ).strip()

    lines: list[str] = []
    if table.title:
        lines.append("# " + _cell_text(plain(table.title)))
    if table.show_header:
        lines.append("\t".join(_cell_text(plain(c.header)) for c in table.columns))
    columns = [list(c.cells) for c in table.columns]
    for i in range(table.row_count):
        lines.append("\t".join(_cell_text(plain(cells[i])) for cells in columns))
    if table.caption:
        lines.append("# " + _cell_text(plain(table.caption)))
    return lines


#: -1 with ``-q`` (results and errors only), 0 by default, 1+ with ``-v`` (tracebacks of internal
#: errors, library logging); set once by the root callback in cli/app.py.
_verbosity = 0


def set_verbosity(level: int) -> None:
    """``-q`` (-1), default (0) or ``-v`` (1, ``-vv`` 2): what the consoles let through."""
    global _verbosity
    _verbosity = level


def verbosity() -> int:
    """The level :func:`set_verbosity` chose."""
    return _verbosity


def _is_warning(objects: tuple[Any, ...]) -> bool:
    return len(objects) == 1 and isinstance(objects[0], str) and objects[0].startswith("warning")


class _Output(Console):
    """stdout. Rich fits a table to the terminal by folding and cutting cells, and folds text
    at 80 columns when it cannot measure one: right for a person, wrong for a program reading
    a pipe. So when stdout is not a terminal (by rich's rule: ``TTY_COMPATIBLE=1`` or
    ``FORCE_COLOR`` still ask for terminal drawing) a :class:`~rich.table.Table` is written as
    TSV (:func:`table_tsv`) and text is soft-wrapped (one line stays one line)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        # -q: the result (tables) and caveats on it; the lines around them go
        tables = any(isinstance(o, Table) for o in objects)
        if _verbosity < 0 and not tables and not _is_warning(objects):
            return
        if self.is_terminal:
            super().print(*objects, **kwargs)
            return
        if kwargs.get("soft_wrap") is None:
            kwargs["soft_wrap"] = True
        if not any(isinstance(o, Table) for o in objects):
            super().print(*objects, **kwargs)
            return
        for o in objects:
            if isinstance(o, Table):
                # written as is: rich would expand the tabs into spaces
                self.file.write("".join(line + "\n" for line in table_tsv(o, self)))
                self.file.flush()
            else:
                super().print(o, **kwargs)


class _Diagnostics(Console):
    """stderr. With ``-q`` only errors and warnings (and the interrupt line, which says how to
    resume) get through: notes and announcements do not."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        loud = kwargs.get("style") in ("red", "yellow") or _is_warning(objects)
        if _verbosity < 0 and not loud:
            return
        super().print(*objects, **kwargs)


out: Console = _Output()
err: Console = _Diagnostics(stderr=True)


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
        disable=not err.is_terminal or _verbosity < 0,
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


#: After an interrupt, how long cleanup (closing sandboxes, the model server, Ray) may take
#: before the process exits anyway: a stop that does not stop is worse than a skipped cleanup.
EXIT_GRACE_S = 20.0


def _exit_within(seconds: float, code: int) -> None:
    """Exit with ``code`` after ``seconds`` unless the process has ended by then. Interpreter
    exit joins every non-daemon thread; one blocked for good (a queue nobody fills after the
    interrupt) would keep a stopped command alive forever. With -v, the stuck threads' stacks
    are printed first."""

    def force() -> None:
        err.print(
            f"cleanup did not finish within {seconds:g} s; exiting anyway",
            style="yellow",
            highlight=False,
        )
        if _verbosity > 0:
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(code)

    timer = threading.Timer(seconds, force)
    timer.daemon = True
    timer.start()


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
        code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
        _exit_within(EXIT_GRACE_S, code)
        raise typer.Exit(code) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
