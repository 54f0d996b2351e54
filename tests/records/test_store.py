"""The SQLite results store: round trips, resume keys, and one-line errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from codeduel.errors import StoreError
from codeduel.execution.base import Verdict
from codeduel.records.store import SCHEMA_VERSION, SampleRecord, Store, default_store_path
from codeduel.tasks.base import DatasetInfo

DATASET = DatasetInfo(name="humaneval", version="1.0", sha256="ab" * 32, path="/x")


def make_run(store: Store) -> int:
    return store.create_run(kind="evaluate", spec={"k": [1, 10]}, task="humaneval", dataset=DATASET)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "r.sqlite"
    with Store(path) as store:
        run = make_run(store)
        store.add_samples(
            run,
            [
                SampleRecord("T/0", 0, "return 1", prompt="def f():", params={"t": 0.8}),
                SampleRecord("T/0", 1, "return 2", raw_output="```return 2```", extra={"x": 1}),
            ],
        )
        store.add_verdicts(
            run,
            [
                ("T/0", 1, Verdict(key="1", status="failed", reason="boom", duration_s=0.5)),
                ("T/0", 0, Verdict(key="0", status="passed", details={"report": [1]})),
            ],
        )
        store.finish_run(run, summary={"pass@1": 0.5})
    # A fresh connection sees everything (it was committed, not just cached).
    with Store(path, create=False) as store:
        (record,) = store.list_runs()
        assert record.id == run
        assert record.status == "finished"
        assert record.summary == {"pass@1": 0.5}
        assert record.dataset == {"name": "humaneval", "version": "1.0", "sha256": "ab" * 32}
        assert record.spec == {"k": [1, 10]}
        assert record.machine["cpu_count"] and record.machine["python"]
        assert (record.n_samples, record.n_verdicts) == (2, 2)
        verdicts = store.verdicts(run)
        assert [(v.task_id, v.sample_idx, v.result) for v in verdicts] == [
            ("T/0", 0, "passed"),
            ("T/0", 1, "failed: boom"),
        ]
        assert verdicts[0].details == {"report": [1]}
        assert verdicts[1].duration_s == 0.5
        samples = store.samples(run)
        assert samples[0].params == {"t": 0.8} and samples[1].raw_output == "```return 2```"
        mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_resume_keys_and_duplicates(tmp_path: Path) -> None:
    with Store(tmp_path / "r.sqlite") as store:
        run = make_run(store)
        store.add_samples(run, [SampleRecord("A", i, "x") for i in range(3)])
        store.add_verdicts(run, [("A", 2, Verdict(key="k", status="timed out"))])
        assert store.sample_keys(run) == {("A", 0), ("A", 1), ("A", 2)}
        assert store.sample_keys(run, judged=True) == {("A", 2)}
        with pytest.raises(StoreError, match="already holds"):
            store.add_samples(run, [SampleRecord("A", 3, "x"), SampleRecord("A", 1, "dup")])
        # The failed batch left nothing behind: one transaction per batch.
        assert len(store.samples(run)) == 3
        # Re-judging a sample replaces its verdict.
        store.add_verdicts(run, [("A", 2, Verdict(key="k", status="passed"))])
        assert [v.status for v in store.verdicts(run)] == ["passed"]
        with pytest.raises(StoreError, match="no sample"):
            store.add_verdicts(run, [("B", 0, Verdict(key="k", status="passed"))])


def test_failed_run_keeps_error(tmp_path: Path) -> None:
    with Store(tmp_path / "r.sqlite") as store:
        run = make_run(store)
        store.finish_run(run, status="failed", error="interrupted by the user")
        record = store.get_run(run)
        assert (record.status, record.error, record.summary) == (
            "failed",
            "interrupted by the user",
            None,
        )
        resumed = store.reopen_run(run)
        assert (resumed.status, resumed.error, resumed.finished) == ("running", None, None)


def test_resume_or_create_continues_the_newest_unfinished_run(tmp_path: Path) -> None:
    """What every resuming command relies on: same kind and key, not finished, newest first."""
    with Store(tmp_path / "r.sqlite") as store:
        first, resumed = store.resume_or_create(kind="sweep", key="k1", spec={"a": 1})
        assert not resumed and store.get_run(first).spec == {"key": "k1", "a": 1}
        store.finish_run(first, status="failed", error="killed")
        again, resumed = store.resume_or_create(kind="sweep", key="k1", spec={"a": 1})
        assert (again, resumed, store.get_run(again).status) == (first, True, "running")
        other, resumed = store.resume_or_create(kind="perplexity", key="k1", spec={})
        assert other != first and not resumed  # another kind never resumes this one
        store.finish_run(first, summary={})
        fresh, resumed = store.resume_or_create(kind="sweep", key="k1", spec={"a": 1})
        assert fresh not in (first, other) and not resumed  # finished runs stay finished
        store.create_run(kind="sweep", spec={"key": "k2"})
        newer = store.create_run(kind="sweep", spec={"key": "k2"})
        assert store.resume_or_create(kind="sweep", key="k2", spec={}) == (newer, True)


def test_unknown_run(tmp_path: Path) -> None:
    with Store(tmp_path / "r.sqlite") as store:
        for call in (
            lambda: store.get_run(42),
            lambda: store.verdicts(42),
            lambda: store.finish_run(42),
        ):
            with pytest.raises(StoreError) as err:
                call()
            assert str(err.value).startswith("no run 42 in ")
            assert "\n" not in str(err.value)


def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)
    with pytest.raises(StoreError, match="no results store"):
        Store(tmp_path / "missing.sqlite", create=False)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database, just some text" * 100)
    with pytest.raises(StoreError, match="is not an SQLite results store"):
        Store(junk)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE foo (x)")
    with pytest.raises(StoreError, match="not a codeduel results store"):
        Store(other)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot create"):
        Store(blocker / "sub" / "r.sqlite")


def test_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
        )
    with pytest.raises(StoreError) as err:
        Store(path)
    assert "newer than this codeduel reads" in str(err.value)
    assert "upgrade codeduel" in str(err.value)


def test_default_path_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEDUEL_STORE", str(tmp_path / "x.sqlite"))
    assert default_store_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("CODEDUEL_STORE")
    assert default_store_path().name == "results.sqlite"
    assert "codeduel" in str(default_store_path())


def test_two_connections_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    with Store(path) as writer, Store(path) as reader:
        run = make_run(writer)
        writer.add_samples(run, [SampleRecord("A", 0, "x")])
        assert reader.get_run(run).status == "running"
        assert reader.sample_keys(run) == {("A", 0)}
