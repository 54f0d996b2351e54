"""The wire between codeduel's processes: length-prefixed messages and how long to wait.

Pool and worker, judge and child all speak the same framing: a 4-byte big-endian length, then
one codec value. Waiting for a message is where time limits are enforced, so the waiting rule
lives here too: a :class:`Budget` (the candidate's CPU time, with a wall-clock backstop) or a
plain wall-clock deadline; running out raises :class:`Timeout`, a BaseException that a
harness's ``except Exception`` cannot swallow.

Loaded by the sandbox worker too, so it imports only the standard library and the codec.
"""

from __future__ import annotations

import os
import select
import struct
import time

from codeduel.execution import codec

__all__ = ["MAX_MESSAGE", "Budget", "ProtocolError", "Timeout", "Wall", "cpu_clock",
           "recv_msg", "send_msg"]  # fmt: skip

_HDR = struct.Struct(">I")
MAX_MESSAGE = codec.MAX_BYTES + 1024
_MAX_POLL_MS = 2**31 - 1


class ProtocolError(Exception):
    """A peer sent bytes that are not a valid message."""


class Timeout(BaseException):
    """The program's limit (or a call_with_timeout limit) was spent. BaseException so that a
    harness's ``except Exception`` cannot swallow it. ``limit``: which one, "cpu" or "wall"."""

    def __init__(self, limit: str = "wall") -> None:
        super().__init__(limit)
        self.limit = limit


def cpu_clock(pid: int) -> int:
    """The clock id of process ``pid``'s CPU time (Linux's MAKE_PROCESS_CPUCLOCK(pid, SCHED)):
    reading it is one syscall, with no /proc parsing, and works on a zombie until it is reaped."""
    return ((~pid) << 3) | 2


class Wall:
    """A plain wall-clock deadline (start-up handshakes, the zygote)."""

    __slots__ = ("end",)

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def wait(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise Timeout("wall")
        return left


class Budget:
    """What a candidate may still spend: CPU seconds of its own process (the time limit, so
    the verdict does not depend on machine load) and a wall-clock backstop (for a program
    that sleeps or blocks). ``wait()`` says how long the judge may block before looking again.

    Without a CPU clock for the child (not Linux) the CPU limit is applied as wall time.
    """

    __slots__ = ("clock", "cpu0", "cpu_end", "wall_end")

    def __init__(self, clock: int | None, cpu_s: float, wall_s: float) -> None:
        now = time.monotonic()
        self.clock = clock
        self.cpu0 = self.cpu() if clock is not None else None
        if self.cpu0 is None:
            self.clock = None
            self.cpu_end = 0.0
            self.wall_end = now + min(cpu_s, wall_s)
        else:
            self.cpu_end = self.cpu0 + cpu_s
            self.wall_end = now + wall_s

    def cpu(self) -> float | None:
        """The child's CPU time so far (absolute), None once it is gone."""
        if self.clock is None:
            return None
        try:
            return time.clock_gettime(self.clock)
        except OSError:
            return None

    def used(self) -> float | None:
        """CPU seconds the child spent since this budget started."""
        now = self.cpu()
        return None if now is None or self.cpu0 is None else max(0.0, now - self.cpu0)

    def wait(self) -> float:
        left = self.wall_end - time.monotonic()
        if left <= 0:
            raise Timeout("wall")
        if self.clock is None:
            return left
        now = self.cpu()
        if now is None:  # gone: the pipe reports end of file at once
            return left
        cpu_left = self.cpu_end - now
        if cpu_left <= 0:
            raise Timeout("cpu")
        # CPU time cannot pass faster than wall time for one thread: look again then.
        return min(left, cpu_left + 0.001)

    def sub(self, cpu_s: float, wall_s: float) -> Budget:
        """A budget for one call inside this one (never beyond it)."""
        inner = Budget.__new__(Budget)
        inner.clock, inner.cpu0 = self.clock, None
        now = time.monotonic()
        inner.wall_end = min(self.wall_end, now + wall_s)
        if self.clock is None:
            inner.cpu_end = 0.0
            inner.wall_end = min(inner.wall_end, now + cpu_s)
            return inner
        current = self.cpu()
        inner.cpu0 = current
        inner.cpu_end = self.cpu_end if current is None else min(self.cpu_end, current + cpu_s)
        return inner


# --------------------------------------------------------------------------- framing


def send_msg(fd: int, payload: bytes) -> None:
    """Write one length-prefixed message (blocking)."""
    view = memoryview(_HDR.pack(len(payload)) + payload)
    write = os.write
    while view:
        n = write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int, budget: Budget | Wall | None) -> bytes | None:
    buf = bytearray()
    poller = None
    while len(buf) < n:
        if budget is not None:
            remaining = budget.wait()
            if poller is None:
                poller = select.poll()
                poller.register(fd, select.POLLIN)
            if not poller.poll(min(_MAX_POLL_MS, max(1, int(remaining * 1000 + 1)))):
                continue
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def recv_msg(fd: int, budget: Budget | Wall | float | None = None) -> bytes | None:
    """Read one message; None at end of file. Raises _Timeout when ``budget`` is spent (a
    :class:`Budget`, or seconds of wall clock from now)."""
    if isinstance(budget, float | int):
        budget = Wall(float(budget))
    header = _read_exact(fd, 4, budget)
    if header is None:
        return None
    (n,) = _HDR.unpack(header)
    if n > MAX_MESSAGE:
        raise ProtocolError(f"message of {n} bytes exceeds the limit")
    if n == 0:
        return b""
    return _read_exact(fd, n, budget)
