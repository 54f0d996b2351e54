"""``codeduel doctor``: which isolation layers work on this machine, and why not if not.

It starts one real worker (the same code path as an evaluation) instead of guessing, so what
it prints is what an evaluation would get.
"""

from __future__ import annotations

from codeduel.execution.base import LayerStatus, Limits
from codeduel.execution.pool import LocalExecutor


def doctor_report(limits: Limits | None = None, isolation: str = "auto") -> list[LayerStatus]:
    """Probe every isolation layer by starting one worker; returns one status per layer."""
    with LocalExecutor(workers=1, limits=limits or Limits(), isolation=isolation) as ex:
        return ex.layers()
