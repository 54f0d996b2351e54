"""Facts about the machine this process runs on, shared by the executor and the backends."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, a container's cpuset), not
    every CPU the host has. More sandboxes or llama.cpp threads than that only contend (and
    llama.cpp collapses when its threads exceed free cores)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
