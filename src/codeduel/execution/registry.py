"""Which executor judges a run: a name ("local", "ray") mapped to a factory.

Why a registry: the runner, ``codeduel evaluate`` and the benches all open an executor from the
same few options; a mapping keeps them from growing one if/elif each, and lets a plugin add a
backend with :func:`register_executor` without editing codeduel. Factories import their
backend lazily, so ``--executor local`` never imports Ray.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, Protocol

from codeduel.errors import ExecutorError
from codeduel.execution.base import Executor, Limits, Program, Verdict

__all__ = [
    "EXECUTORS",
    "ExecutorOptions",
    "SubmittingExecutor",
    "executor_names",
    "executor_options",
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
    ``$RAY_ADDRESS``, else a Ray instance started for this process). ``require``: isolation
    layers that must be active (refuse to start otherwise). ``packages``: distributions
    candidates may import beyond the standard library (the task's). ``exclude``: more places
    candidates must never read (a ``--data-dir``). ``hash_seed``: the sandboxes'
    ``PYTHONHASHSEED``. ``extra``: backend-specific keyword arguments passed through unchanged.
    """

    workers: int | None = None
    limits: Limits = Limits()  # noqa: RUF009 - frozen dataclass, safe as a default
    isolation: str = "auto"
    ray_address: str | None = None
    require: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    hash_seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def sandbox(self) -> dict[str, Any]:
        """The keyword arguments every LocalExecutor of this run gets (on any node)."""
        return {
            "require": self.require,
            "packages": self.packages,
            "exclude": self.exclude,
            "hash_seed": self.hash_seed,
        }


def executor_options(
    packages: Sequence[str] = (),
    *,
    workers: int | None = None,
    timeout: float | None = None,
    data_dir: str | Path | None = None,
    ray_address: str | None = None,
    require_isolation: str | Sequence[str] | None = None,
    hash_seed: int = 0,
) -> ExecutorOptions:
    """The sandbox settings of one run: ``packages`` (the task's) on the read allowlist, its
    data folder off it, the layers the caller requires, the hash seed; every flow that judges
    builds its options here so none of them forgets one."""
    from codeduel.execution.pool import parse_required_layers

    limits = Limits() if timeout is None else Limits(timeout_s=timeout)
    required = parse_required_layers(
        require_isolation if isinstance(require_isolation, str | None) else list(require_isolation)
    )
    return ExecutorOptions(
        workers=workers,
        limits=limits,
        ray_address=ray_address,
        require=required,
        packages=tuple(packages),
        exclude=(str(Path(data_dir).expanduser().resolve()),) if data_dir is not None else (),
        hash_seed=hash_seed,
    )


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
        **options.sandbox(),
        **options.extra,
    )


#: name -> factory, or ``"module:function"`` naming one that is imported only when used (the
#: Ray executor lives in :mod:`codeduel.cluster`, a layer above this one, and needs Ray).
EXECUTORS: dict[str, ExecutorFactory | str] = {
    "local": _local,
    "ray": "codeduel.cluster.executor:from_options",
}


def executor_names() -> tuple[str, ...]:
    """The registered executor names, in registration order."""
    return tuple(EXECUTORS)


def register_executor(name: str, factory: ExecutorFactory | str) -> None:
    """Add (or replace) a backend, e.g. from a plugin."""
    EXECUTORS[name] = factory


def open_executor(
    name: str = "local", options: ExecutorOptions | None = None
) -> SubmittingExecutor:
    """Start the executor called ``name``; an unknown name is a one-line error."""
    entry = EXECUTORS.get(name)
    if entry is None:
        raise ExecutorError(f"unknown executor {name!r}", f"use one of {', '.join(EXECUTORS)}")
    factory: ExecutorFactory
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        factory = getattr(import_module(module), attr)
    else:
        factory = entry
    return factory(options or ExecutorOptions())
