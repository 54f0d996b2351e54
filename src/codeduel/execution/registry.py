"""Which executor judges a run: a name ("local", "ray") mapped to a factory.

Why a registry: the runner, ``codeduel evaluate`` and the benches all open an executor from the
same few options; a mapping keeps them from growing one if/elif each, and lets a plugin add a
backend with :func:`register_executor` without editing codeduel. Factories import their
backend lazily, so ``--executor local`` never imports Ray.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from codeduel.errors import ExecutorError
from codeduel.execution.base import Executor, Limits, Program, Verdict

__all__ = [
    "EXECUTORS",
    "ExecutorOptions",
    "SubmittingExecutor",
    "executor_names",
    "open_executor",
    "register_executor",
]


class SubmittingExecutor(Executor, Protocol):
    """An executor that also takes programs one at a time (what the runner needs)."""

    def submit(self, program: Program) -> Future[Verdict]: ...


@dataclass(frozen=True)
class ExecutorOptions:
    """What a caller may say about its executor; each backend reads the fields it knows.

    ``workers``: parallel sandboxes (local: processes on this machine; ray: executor actors
    across the cluster, one CPU each by default). ``ray_address``: the cluster to join (None:
    ``$RAY_ADDRESS``, else a Ray instance started for this process). ``extra``: backend-specific
    keyword arguments passed through unchanged.
    """

    workers: int | None = None
    limits: Limits = Limits()  # noqa: RUF009 - frozen dataclass, safe as a default
    isolation: str = "auto"
    ray_address: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


ExecutorFactory = Callable[[ExecutorOptions], SubmittingExecutor]


def _local(options: ExecutorOptions) -> SubmittingExecutor:
    from codeduel.execution.pool import LocalExecutor

    if options.ray_address is not None:
        raise ExecutorError(
            "--ray-address applies only to the ray executor", "add --executor ray or drop it"
        )
    return LocalExecutor(
        workers=options.workers,
        limits=options.limits,
        isolation=options.isolation,
        **options.extra,
    )


def _ray(options: ExecutorOptions) -> SubmittingExecutor:
    from codeduel.execution.ray_executor import RayExecutor

    return RayExecutor(
        address=options.ray_address,
        workers=options.workers,
        limits=options.limits,
        isolation=options.isolation,
        **options.extra,
    )


EXECUTORS: dict[str, ExecutorFactory] = {"local": _local, "ray": _ray}


def executor_names() -> tuple[str, ...]:
    """The registered executor names, in registration order."""
    return tuple(EXECUTORS)


def register_executor(name: str, factory: ExecutorFactory) -> None:
    """Add (or replace) a backend, e.g. from a plugin."""
    EXECUTORS[name] = factory


def open_executor(
    name: str = "local", options: ExecutorOptions | None = None
) -> SubmittingExecutor:
    """Start the executor called ``name``; an unknown name is a one-line error."""
    factory = EXECUTORS.get(name)
    if factory is None:
        raise ExecutorError(f"unknown executor {name!r}", f"use one of {', '.join(EXECUTORS)}")
    return factory(options or ExecutorOptions())
