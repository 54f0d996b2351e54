"""Facts about the machine this process runs on, shared by the executor and the backends."""

from __future__ import annotations

import os
import time


def cpu_ids() -> list[int]:
    """The CPUs this process may run on, in order: its affinity mask (taskset, a container's
    cpuset), not every CPU the host has; empty where the OS does not say (not Linux)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return []


def usable_cpus() -> int:
    """How many CPUs this process may use. More sandboxes or llama.cpp threads than that only
    contend (and llama.cpp collapses when its threads exceed free cores)."""
    return len(cpu_ids()) or max(1, os.cpu_count() or 1)


def _busy_cpu_seconds() -> float | None:
    """CPU seconds every process on the machine has run since boot (/proc/stat); None where
    the OS does not say (not Linux)."""
    try:
        with open("/proc/stat") as f:
            fields = [float(x) for x in f.readline().split()[1:8]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """How many cores *other* processes kept busy since the last reading.

    Why: llama.cpp's worker threads meet at a barrier after every operation, so when another
    process holds one of the cores its threads wait a scheduler slice per barrier: on 2 cores
    with one busy, 2 threads decoded 3.4 tokens/s where 1 thread decoded 11.9. A backend reads
    this between calls to fit its thread count to the cores that are actually free. Our own
    threads are left out (``time.process_time`` counts every thread of this process); child
    processes, such as the judge's sandboxes, count as others: they compete for the same cores.
    """

    def __init__(self) -> None:
        self._last = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float] | None:
        busy = _busy_cpu_seconds()
        if busy is None:
            return None
        return busy, time.process_time(), time.monotonic()

    def elapsed(self) -> float:
        """Seconds since the last reading (0 where the OS gives no counters)."""
        return 0.0 if self._last is None else time.monotonic() - self._last[2]

    def others(self) -> float | None:
        """Cores used by other processes since the last reading (which this one replaces)."""
        now = self._read()
        last, self._last = self._last, now
        if now is None or last is None or now[2] <= last[2]:
            return None
        busy = (now[0] - last[0]) - (now[1] - last[1])
        return max(0.0, busy / (now[2] - last[2]))
