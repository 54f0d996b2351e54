"""One run lifecycle for every command that records a run.

Why one: evaluate, run, sweep, key retrieval, perplexity and self-instruct each own or borrow a
store, resume an unfinished run of the same spec or create one, mark it failed on any error
(Ctrl-C and SIGTERM included), finish it with a summary and close what they opened. Written six
times, only two of them told the user which run to resume after Ctrl-C. Here it is written once::

    with RunLifecycle(store) as life:
        run_id, resumed = life.start(kind="run", key=spec_key(...), spec=..., task=..., dataset=...)
        ...
        life.finish(summary)

An interrupted run raises :class:`RunInterrupted` (a KeyboardInterrupt) naming the run and the
store; the CLI turns it into the same one line for every command, with the command that resumes
it. A lifecycle nested in another (a sweep's points) re-raises the outer run's id, since
rerunning the outer command is what resumes both.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from codeduel.errors import StoreError
from codeduel.records.store import Store
from codeduel.tasks.base import DatasetInfo

__all__ = ["RunInterrupted", "RunLifecycle"]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a run: what was done so far is in the store, the run is marked
    failed, and rerunning the same command resumes it."""

    def __init__(self, run_id: int, store_path: Path) -> None:
        super().__init__(f"interrupted: run {run_id} (partial) is in {store_path}")
        self.run_id = run_id
        self.store_path = store_path


class RunLifecycle:
    """Owns (a path or None) or borrows (a :class:`Store`) the results store of one run."""

    def __init__(self, store: str | Path | Store | None) -> None:
        self._own = not isinstance(store, Store)
        self.db: Store = store if isinstance(store, Store) else Store(store)
        self.run_id: int | None = None
        self.resumed = False
        self._finished = False

    def start(
        self,
        *,
        kind: str,
        key: str | None,
        spec: dict[str, Any],
        task: str | None = None,
        dataset: DatasetInfo | None = None,
    ) -> tuple[int, bool]:
        """Resume the newest unfinished run of ``kind`` with this ``key`` (no other live
        process writing it), or create one. ``key=None`` always creates a new run."""
        if key is None:
            self.run_id = self.db.create_run(kind=kind, spec=spec, task=task, dataset=dataset)
            self.resumed = False
        else:
            self.run_id, self.resumed = self.db.resume_or_create(
                kind=kind, key=key, spec=spec, task=task, dataset=dataset
            )
        return self.run_id, self.resumed

    @property
    def started(self) -> int:
        """The run id (after :meth:`start`)."""
        if self.run_id is None:
            raise StoreError("no run was started", "call start() first")
        return self.run_id

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        """Close the run as ``finished`` with its summary."""
        self.db.finish_run(self.started, summary=summary)
        self._finished = True

    def fail(self, err: BaseException) -> None:
        """Mark the run failed because ``err`` stopped it; an interrupt (Ctrl-C, SIGTERM)
        becomes :class:`RunInterrupted` naming the run. For flows whose cleanup needs a
        ``try``/``finally`` of their own: ``except BaseException as e: life.fail(e); raise``."""
        if self._finished:
            return
        self.db.fail_run(self.run_id, err)
        if isinstance(err, KeyboardInterrupt) and self.run_id is not None:
            raise RunInterrupted(self.run_id, self.db.path) from err

    def close(self) -> None:
        """Close the store if this lifecycle opened it."""
        if self._own:
            self.db.close()

    def __enter__(self) -> RunLifecycle:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if err is not None:
                self.fail(err)
        finally:
            self.close()
