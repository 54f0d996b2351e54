"""The results store: one SQLite file that is the only checkpoint of every run.

Every sample and verdict is written as it happens (one transaction per batch), so a killed run
loses at most one batch, and a resumed generation asks :meth:`Store.sample_keys` which
``(task_id, sample_idx)`` pairs are already done. WAL mode lets ``codeduel runs`` read while an
evaluation writes. The schema version lives in ``meta`` so an older codeduel refuses a newer
file instead of misreading it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import socket
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

import platformdirs

from codeduel import __version__
from codeduel.errors import StoreError
from codeduel.execution.base import Verdict
from codeduel.tasks.base import DatasetInfo

SCHEMA_VERSION = 1
RunStatus = Literal["running", "finished", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    created          TEXT NOT NULL,
    finished         TEXT,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    task             TEXT,
    dataset_name     TEXT,
    dataset_version  TEXT,
    dataset_sha256   TEXT,
    spec             TEXT NOT NULL,
    codeduel_version TEXT NOT NULL,
    machine          TEXT NOT NULL,
    summary          TEXT,
    error            TEXT
);
CREATE TABLE IF NOT EXISTS samples (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task_id     TEXT NOT NULL,
    sample_idx  INTEGER NOT NULL,
    prompt      TEXT,
    raw_output  TEXT,
    completion  TEXT,
    params      TEXT,
    extra       TEXT,
    created     TEXT NOT NULL,
    UNIQUE (run_id, task_id, sample_idx)
);
CREATE TABLE IF NOT EXISTS verdicts (
    sample_id   INTEGER PRIMARY KEY REFERENCES samples(id) ON DELETE CASCADE,
    status      TEXT NOT NULL CHECK (status IN ('passed', 'failed', 'timed out')),
    result      TEXT NOT NULL,
    mode        TEXT NOT NULL,
    details     TEXT,
    duration_s  REAL,
    stdout_tail TEXT,
    stderr_tail TEXT,
    created     TEXT NOT NULL
);
"""


_P = ParamSpec("_P")
_R = TypeVar("_R")
MAX_RUN_ID = 2**63 - 1  # SQLite's INTEGER


def store_error(path: Path, err: Exception) -> StoreError:
    """A SQLite failure as one line that names the likely cause and its fix."""
    text = str(err) or type(err).__name__
    low = text.lower()
    if "readonly" in low or "read-only" in low:
        return StoreError(
            f"results store {path} is read-only ({text})",
            "make the file and its folder writable, or pass --store with another file",
        )
    if "not a database" in low:
        return StoreError(
            f"{path} is not an SQLite results store ({text})",
            "pass --store with a codeduel .sqlite file or a new path",
        )
    if "malformed" in low or "disk image" in low:
        return StoreError(
            f"results store {path} is damaged ({text})",
            f"restore it from a copy (`sqlite3 {path} .recover` may save its runs), "
            "or pass --store with a new path",
        )
    if "locked" in low or "busy" in low:
        return StoreError(
            f"results store {path} is busy ({text})",
            "wait for the other codeduel process or pass another --store",
        )
    if "disk" in low or "full" in low or "i/o" in low:
        return StoreError(
            f"results store {path} cannot be written ({text})", "free disk space and rerun"
        )
    return StoreError(f"results store {path}: {text}", "check the file, or pass another --store")


def _guarded(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Every store operation: a SQLite error (read-only file, damage found late, a full disk)
    becomes one StoreError line, never an internal error."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except sqlite3.DatabaseError as err:
            store = args[0]
            raise store_error(getattr(store, "path", Path("?")), err) from None

    return wrapper


def default_store_path() -> Path:
    """``$CODEDUEL_STORE`` if set, else ``results.sqlite`` in the user data directory."""
    env = os.environ.get("CODEDUEL_STORE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("codeduel")) / "results.sqlite"


def machine_info() -> dict[str, Any]:
    """What a reader needs to judge whether two runs' timings are comparable."""
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(),
        "pid": os.getpid(),  # the process writing the run: is a "running" run still alive?
    }


def owner_alive(run: RunRecord) -> bool:
    """Whether the process that last wrote ``run`` is still running (on this host).

    A run killed with SIGKILL cannot mark itself failed; it stays ``running`` in the store.
    Another host's process cannot be checked, so it counts as alive. This process's own
    earlier run (an interrupted call in the same notebook) counts as not alive.
    """
    pid = run.machine.get("pid")
    if run.status != "running" or not isinstance(pid, int):
        return False
    if run.machine.get("hostname") != socket.gethostname():
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def spec_key(spec: dict[str, Any]) -> str:
    """A stable hash of a JSON-able spec (sorted keys): the identity a rerun resumes by."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SampleRecord:
    """One generated sample as the store keeps it (raw model output beside extracted code)."""

    task_id: str
    sample_idx: int
    completion: str | None
    prompt: str | None = None
    raw_output: str | None = None
    params: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunRecord:
    """One row of ``runs``, JSON columns decoded."""

    id: int
    created: str
    finished: str | None
    kind: str
    status: RunStatus
    task: str | None
    dataset: dict[str, str | None]
    spec: dict[str, Any]
    codeduel_version: str
    machine: dict[str, Any]
    summary: dict[str, Any] | None
    error: str | None
    n_samples: int = 0
    n_verdicts: int = 0

    @property
    def interrupted(self) -> bool:
        """Left ``running`` by a process that is gone (killed): rerunning resumes it."""
        return self.status == "running" and not owner_alive(self)


@dataclass(frozen=True)
class VerdictRecord:
    """A verdict joined with the sample it judges."""

    task_id: str
    sample_idx: int
    status: str
    result: str
    mode: str
    duration_s: float | None
    stdout_tail: str
    stderr_tail: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class Store:
    """A results store at ``path`` (created on first use unless ``create=False``)."""

    def __init__(self, path: str | Path | None = None, *, create: bool = True) -> None:
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        if self.path.is_dir():
            raise StoreError(
                f"results store {self.path} is a directory", "pass a file path to --store"
            )
        if not self.path.exists():
            if not create:
                raise StoreError(
                    f"no results store at {self.path}",
                    "run `codeduel evaluate` first, or pass --store / CODEDUEL_STORE",
                )
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(
                    f"cannot create {self.path.parent}: {err.strerror}",
                    "pass a writable --store path",
                ) from None
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as err:
            self._close_quietly()
            raise store_error(self.path, err) from None

    # -- lifecycle -------------------------------------------------------------------------

    def _close_quietly(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE so two writers queue instead of deadlocking."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            raise StoreError(
                f"results store {self.path} is busy or read-only: {err}",
                "wait for the other codeduel process or pass another --store",
            ) from None
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        tables = {
            r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if "meta" in tables:
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"results store {self.path} has schema version {version}, newer than this "
                    f"codeduel reads ({SCHEMA_VERSION})",
                    "upgrade codeduel, or pass --store with another file",
                )
            if version == SCHEMA_VERSION:
                return
        elif tables:
            raise StoreError(
                f"{self.path} is an SQLite file but not a codeduel results store",
                "pass --store with a codeduel store or a new path",
            )
        with self._tx() as db:
            # Statement by statement: executescript() would commit outside our transaction.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('created', ?)", (_now(),))

    # -- writing ---------------------------------------------------------------------------

    @_guarded
    def create_run(
        self,
        *,
        kind: str,
        spec: dict[str, Any],
        task: str | None = None,
        dataset: DatasetInfo | None = None,
    ) -> int:
        """Start a run in status ``running`` and return its id."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs(created, kind, status, task, dataset_name, dataset_version, "
                "dataset_sha256, spec, codeduel_version, machine) "
                "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    kind,
                    task,
                    dataset.name if dataset else None,
                    dataset.version if dataset else None,
                    dataset.sha256 if dataset else None,
                    _dumps(spec),
                    __version__,
                    _dumps(machine_info()),
                ),
            )
            assert cur.lastrowid is not None
            return int(cur.lastrowid)

    @_guarded
    def add_samples(self, run_id: int, samples: Iterable[SampleRecord]) -> int:
        """Insert one batch of samples in one transaction; a duplicate key is an error."""
        self._require_run(run_id)
        now = _now()
        rows = [
            (
                run_id,
                s.task_id,
                s.sample_idx,
                s.prompt,
                s.raw_output,
                s.completion,
                _dumps(s.params),
                _dumps(s.extra),
                now,
            )
            for s in samples
        ]
        try:
            with self._tx() as db:
                db.executemany(
                    "INSERT INTO samples(run_id, task_id, sample_idx, prompt, raw_output, "
                    "completion, params, extra, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.IntegrityError:
            raise StoreError(
                f"run {run_id} already holds one of these (task_id, sample_idx) samples",
                "ask Store.sample_keys() which samples are done before adding more",
            ) from None
        return len(rows)

    @_guarded
    def add_verdicts(self, run_id: int, verdicts: Iterable[tuple[str, int, Verdict]]) -> int:
        """Record ``(task_id, sample_idx, verdict)`` in one transaction (re-judging replaces)."""
        now = _now()
        rows = [
            (
                v.status,
                v.result,
                v.mode,
                _dumps(v.details or {}),
                v.duration_s,
                v.stdout_tail,
                v.stderr_tail,
                now,
                run_id,
                task_id,
                sample_idx,
            )
            for task_id, sample_idx, v in verdicts
        ]
        with self._tx() as db:
            for row in rows:
                cur = db.execute(
                    "INSERT INTO verdicts(sample_id, status, result, mode, details, duration_s, "
                    "stdout_tail, stderr_tail, created) "
                    "SELECT id, ?, ?, ?, ?, ?, ?, ?, ? FROM samples "
                    "WHERE run_id = ? AND task_id = ? AND sample_idx = ? "
                    "ON CONFLICT(sample_id) DO UPDATE SET status=excluded.status, "
                    "result=excluded.result, mode=excluded.mode, details=excluded.details, "
                    "duration_s=excluded.duration_s, stdout_tail=excluded.stdout_tail, "
                    "stderr_tail=excluded.stderr_tail, created=excluded.created",
                    row,
                )
                if cur.rowcount != 1:
                    raise StoreError(
                        f"run {run_id} has no sample {row[9]!r} #{row[10]} to attach a verdict to",
                        "add the sample with add_samples() first",
                    )
        return len(rows)

    @_guarded
    def fail_run(self, run_id: int | None, err: BaseException) -> None:
        """Mark a run failed because ``err`` stopped it (Ctrl-C included); no-op before it exists.

        Every long command calls this from its ``except BaseException`` so an interrupted or
        crashed run is never left looking ``running`` when its process is still alive to say so.
        """
        if run_id is None:
            return
        if isinstance(err, KeyboardInterrupt):
            reason = "interrupted by the user"
        else:
            reason = f"{type(err).__name__}: {err}"
        self.finish_run(run_id, status="failed", error=reason)

    @_guarded
    def finish_run(
        self,
        run_id: int,
        *,
        summary: dict[str, Any] | None = None,
        status: RunStatus = "finished",
        error: str | None = None,
    ) -> None:
        """Close a run as ``finished`` (with its summary) or ``failed`` (with the reason)."""
        self._require_run(run_id)
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status = ?, finished = ?, summary = ?, error = ? WHERE id = ?",
                (status, _now(), _dumps(summary), error, run_id),
            )

    @_guarded
    def resume_or_create(
        self,
        *,
        kind: str,
        key: str,
        spec: dict[str, Any],
        task: str | None = None,
        dataset: DatasetInfo | None = None,
    ) -> tuple[int, bool]:
        """The run that rerunning a command continues: the newest unfinished run of ``kind``
        whose spec carries ``key``, marked running again; otherwise a new run recording
        ``{"key": key, **spec}``. Returns ``(run_id, resumed)``; every command that resumes
        (run, sweep, key-retrieval, perplexity, selfinstruct) goes through here."""
        for run in self.list_runs():  # newest first
            if run.kind == kind and run.spec.get("key") == key and run.status != "finished":
                if owner_alive(run):
                    continue  # another process is writing it now: never write it twice
                self.reopen_run(run.id)
                return run.id, True
        record = {"key": key, **spec}
        return self.create_run(kind=kind, spec=record, task=task, dataset=dataset), False

    @_guarded
    def rename_run(self, run_id: int, name: str) -> None:
        """Record ``name`` as the run's ``spec["name"]`` (what it is shown and looked up by);
        the resume key is left as it was, so the run stays the same run."""
        self._require_run(run_id)
        with self._tx() as db:
            row = db.execute("SELECT spec FROM runs WHERE id = ?", (run_id,)).fetchone()
            spec = _loads(row["spec"]) or {}
            db.execute(
                "UPDATE runs SET spec = ? WHERE id = ?", (_dumps({**spec, "name": name}), run_id)
            )

    def finished_run(self, *, kind: str, key: str) -> RunRecord | None:
        """The newest finished run of ``kind`` whose spec carries ``key``, if any: what an
        experiment revisiting a configuration reads back instead of running it again."""
        for run in self.list_runs():  # newest first
            if run.kind == kind and run.spec.get("key") == key and run.status == "finished":
                return run
        return None

    @_guarded
    def reopen_run(self, run_id: int) -> RunRecord:
        """Mark a killed or interrupted run ``running`` again, to resume it (see sample_keys)."""
        self._require_run(run_id)
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status = 'running', finished = NULL, summary = NULL, "
                "error = NULL, machine = ? WHERE id = ?",
                (_dumps(machine_info()), run_id),
            )
        return self.get_run(run_id)

    # -- reading ---------------------------------------------------------------------------

    def _require_run(self, run_id: int) -> None:
        if not 0 < run_id <= MAX_RUN_ID:
            raise StoreError(
                f"no run {run_id} in {self.path}", "list the runs with `codeduel runs`"
            )
        if self._db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise StoreError(
                f"no run {run_id} in {self.path}", "list the runs with `codeduel runs`"
            )

    _RUN_SELECT = (
        "SELECT r.*, "
        "(SELECT COUNT(*) FROM samples s WHERE s.run_id = r.id) AS n_samples, "
        "(SELECT COUNT(*) FROM samples s JOIN verdicts v ON v.sample_id = s.id "
        " WHERE s.run_id = r.id) AS n_verdicts "
        "FROM runs r"
    )

    @staticmethod
    def _run(row: sqlite3.Row) -> RunRecord:
        return RunRecord(
            id=row["id"],
            created=row["created"],
            finished=row["finished"],
            kind=row["kind"],
            status=row["status"],
            task=row["task"],
            dataset={
                "name": row["dataset_name"],
                "version": row["dataset_version"],
                "sha256": row["dataset_sha256"],
            },
            spec=_loads(row["spec"]) or {},
            codeduel_version=row["codeduel_version"],
            machine=_loads(row["machine"]) or {},
            summary=_loads(row["summary"]),
            error=row["error"],
            n_samples=row["n_samples"],
            n_verdicts=row["n_verdicts"],
        )

    @_guarded
    def list_runs(self) -> list[RunRecord]:
        """All runs, newest first."""
        rows = self._db.execute(self._RUN_SELECT + " ORDER BY r.id DESC").fetchall()
        return [self._run(r) for r in rows]

    @_guarded
    def get_run(self, run_id: int) -> RunRecord:
        """One run, or a one-line StoreError naming the fix."""
        self._require_run(run_id)
        row = self._db.execute(self._RUN_SELECT + " WHERE r.id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(
                f"no run {run_id} in {self.path}", "list the runs with `codeduel runs`"
            )
        return self._run(row)

    @_guarded
    def samples(self, run_id: int) -> list[SampleRecord]:
        """The run's samples ordered by (task_id, sample_idx) insertion order."""
        self._require_run(run_id)
        rows = self._db.execute(
            "SELECT * FROM samples WHERE run_id = ? ORDER BY id", (run_id,)
        ).fetchall()
        return [
            SampleRecord(
                task_id=r["task_id"],
                sample_idx=r["sample_idx"],
                completion=r["completion"],
                prompt=r["prompt"],
                raw_output=r["raw_output"],
                params=_loads(r["params"]),
                extra=_loads(r["extra"]),
            )
            for r in rows
        ]

    @_guarded
    def sample_keys(self, run_id: int, *, judged: bool = False) -> set[tuple[str, int]]:
        """``(task_id, sample_idx)`` already stored (with a verdict if ``judged``): for resume."""
        self._require_run(run_id)
        query = "SELECT s.task_id, s.sample_idx FROM samples s"
        if judged:
            query += " JOIN verdicts v ON v.sample_id = s.id"
        rows = self._db.execute(query + " WHERE s.run_id = ?", (run_id,)).fetchall()
        return {(r[0], r[1]) for r in rows}

    @_guarded
    def verdicts(self, run_id: int) -> list[VerdictRecord]:
        """The run's verdicts with their sample keys, in sample insertion order."""
        self._require_run(run_id)
        rows = self._db.execute(
            "SELECT s.task_id, s.sample_idx, v.* FROM samples s "
            "JOIN verdicts v ON v.sample_id = s.id WHERE s.run_id = ? ORDER BY s.id",
            (run_id,),
        ).fetchall()
        return [
            VerdictRecord(
                task_id=r["task_id"],
                sample_idx=r["sample_idx"],
                status=r["status"],
                result=r["result"],
                mode=r["mode"],
                duration_s=r["duration_s"],
                stdout_tail=r["stdout_tail"] or "",
                stderr_tail=r["stderr_tail"] or "",
                details=_loads(r["details"]) or {},
            )
            for r in rows
        ]
