"""Running untrusted programs: the executor interface and its implementations.

``LocalExecutor`` and ``doctor_report`` are imported lazily: the sandbox worker imports this
package too and must stay small (every page it touches is copied on each fork).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codeduel.execution.base import Executor, LayerStatus, Limits, Program, Verdict

if TYPE_CHECKING:
    from codeduel.execution.doctor import doctor_report
    from codeduel.execution.pool import LocalExecutor

__all__ = [
    "Executor",
    "LayerStatus",
    "Limits",
    "LocalExecutor",
    "Program",
    "Verdict",
    "doctor_report",
]


def __getattr__(name: str) -> Any:
    if name == "LocalExecutor":
        from codeduel.execution.pool import LocalExecutor

        return LocalExecutor
    if name == "doctor_report":
        from codeduel.execution.doctor import doctor_report

        return doctor_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
