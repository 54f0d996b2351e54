"""Facts about the machine this process runs on, shared by the executor and the backends."""

from __future__ import annotations

import os


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
