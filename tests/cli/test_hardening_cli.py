"""Hardening of the commands around the executor: what a person reads cannot be driven by a
candidate, killed evaluations resume, and every user or machine error is one line (never
"this is a codeduel bug"), checked before a model loads and without leaving a run behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeduel.cli import app
from codeduel.execution.base import Verdict
from codeduel.records.store import SampleRecord, Store
from codeduel.tasks.base import DatasetInfo

runner = CliRunner()
CODEDUEL = [sys.executable, "-m", "codeduel.cli"]
_ATTACK = "\x1b[2J\x1b]0;pwned\x07\x1b[32mALL TESTS PASSED\x1b[0m\u202e"


def _one_line_error(result: subprocess.CompletedProcess[str] | object, needle: str) -> None:
    code = getattr(result, "returncode", getattr(result, "exit_code", None))
    stderr = str(result.stderr)
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and needle in lines[0], lines[0]
    assert "codeduel bug" not in stderr and "Traceback" not in stderr


def _store_with_verdict(path: Path, reason: str) -> int:
    with Store(path) as db:
        run_id = db.create_run(
            kind="evaluate",
            spec={"samples": "s.jsonl"},
            task="humaneval",
            dataset=DatasetInfo("humaneval", "1.0", "0" * 64, "x"),
        )
        db.add_samples(run_id, [SampleRecord("HumanEval/0", 0, "return 1")])
        db.add_verdicts(
            run_id,
            [("HumanEval/0", 0, Verdict("0", "failed", reason, stdout_tail=_ATTACK))],
        )
        db.finish_run(run_id, summary={"pass@1": 0.0, "warnings": [_ATTACK]})
    return run_id


# --------------------------------------------------------------------------- terminal text


def test_show_never_sends_a_candidates_escape_codes_to_the_terminal(tmp_path: Path) -> None:
    """Before: `codeduel show` printed the reason raw (clear screen, window title, green)."""
    store = tmp_path / "s.sqlite"
    run_id = _store_with_verdict(store, _ATTACK)
    done = subprocess.run(
        [*CODEDUEL, "show", str(run_id), "--store", str(store)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for forbidden in ("\x1b", "\x07", "\u202e"):
        assert forbidden not in done.stdout
    assert "\\u001b[2J" in done.stdout  # shown, not obeyed
    listing = subprocess.run(
        [*CODEDUEL, "show", str(run_id), "--store", str(store), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "\x1b" not in listing.stdout and "\u202e" not in listing.stdout
    assert json.loads(listing.stdout)["summary"]["warnings"] == [_ATTACK]


# --------------------------------------------------------------------------- killed runs

_SPIN = (
    "    import time\n    _t = time.process_time()\n"
    "    while time.process_time() - _t < 0.25:\n        pass\n    return True\n"
)


def _slow_samples(path: Path, n: int) -> Path:
    rows = [{"task_id": f"HumanEval/{i % 10}", "completion": _SPIN} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _wait_for_verdicts(store: Path, at_least: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.exists():
            try:
                with Store(store, create=False) as db:
                    runs = db.list_runs()
                if runs and runs[0].n_verdicts >= at_least:
                    return
            except Exception:  # the writer may hold the file for a moment
                pass
        time.sleep(0.2)
    raise AssertionError("no verdicts were stored in time")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_killed_evaluation_resumes_where_it_stopped(
    tmp_path: Path, data_dir: Path, sig: signal.Signals
) -> None:
    """Before: the run stayed `running` forever, a rerun judged everything again, and SIGTERM
    printed nothing."""
    samples = _slow_samples(tmp_path / "s.jsonl", 40)
    store = tmp_path / "store.sqlite"
    args = [
        *CODEDUEL, "evaluate", str(samples), "--task", "humaneval", "--data-dir", str(data_dir),
        "--store", str(store), "--workers", "1", "--k", "1",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_verdicts(store, 1)
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    with Store(store, create=False) as db:
        (first,) = db.list_runs()
    assert 0 < first.n_verdicts < 40
    if sig == signal.SIGTERM:
        assert proc.returncode == 143
        assert f"terminated: run {first.id} is in the store" in err
        assert "resume it with: codeduel evaluate" in err
        assert first.status == "failed"
    else:
        assert first.status == "running"  # it could not say anything
        listed = subprocess.run(
            [*CODEDUEL, "runs", "--store", str(store), "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert json.loads(listed.stdout)[0]["interrupted"] is True
    again = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["run_id"] == first.id
    assert result["resumed"] is True
    assert result["reused_verdicts"] >= first.n_verdicts
    assert result["n_samples"] == 40
    with Store(store, create=False) as db:
        (final,) = db.list_runs()
        assert final.status == "finished" and final.n_verdicts == 40
    lines = (tmp_path / "s.jsonl_results.jsonl").read_text().splitlines()
    assert len(lines) == 40 and all(json.loads(x)["passed"] is False for x in lines)


def test_a_live_run_is_never_resumed_by_a_second_process(tmp_path: Path, data_dir: Path) -> None:
    samples = _slow_samples(tmp_path / "s.jsonl", 30)
    store = tmp_path / "store.sqlite"
    args = [
        *CODEDUEL, "evaluate", str(samples), "--task", "humaneval", "--data-dir", str(data_dir),
        "--store", str(store), "--workers", "1", "--k", "1",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_verdicts(store, 1)
        second = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["resumed"] is False
    finally:
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------- one-line errors


def test_a_read_only_store_is_one_line(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "st.sqlite"
    _store_with_verdict(store, "x")
    if shutil.which("chattr") is None:
        pytest.skip("needs chattr to make the file immutable")
    locked = subprocess.run(["chattr", "+i", str(store)], capture_output=True)
    if locked.returncode != 0:
        pytest.skip(f"this filesystem has no immutable files: {locked.stderr!r}")
    try:
        samples = tmp_path / "s.jsonl"
        samples.write_text('{"task_id": "HumanEval/0", "completion": "    return 1\\n"}\n')
        result = runner.invoke(
            app,
            ["evaluate", str(samples), "--task", "humaneval", "--data-dir", str(data_dir),
             "--store", str(store), "--workers", "1"],
        )  # fmt: skip
        _one_line_error(result, "is read-only")
    finally:
        subprocess.run(["chattr", "-i", str(store)], check=True)


def test_damage_found_late_in_a_store_is_one_line(tmp_path: Path) -> None:
    store = tmp_path / "st.sqlite"
    run_id = _store_with_verdict(store, "x" * 30_000)  # the verdict spills onto later pages
    db = sqlite3.connect(store)
    pages, size = (
        db.execute("pragma page_count").fetchone()[0],
        db.execute("pragma page_size").fetchone()[0],
    )
    db.execute("pragma wal_checkpoint(TRUNCATE)")
    db.close()
    with store.open("r+b") as fh:  # keep the header and schema page, damage the rest
        fh.seek(2 * size)
        fh.write(b"\xa5" * ((pages - 2) * size))
    result = runner.invoke(app, ["show", str(run_id), "--store", str(store)])
    _one_line_error(result, "is damaged")


@pytest.mark.parametrize("run_id", ["9223372036854775808", "99999999999999999999999"])
def test_a_run_id_beyond_sqlite_is_one_line(tmp_path: Path, run_id: str) -> None:
    store = tmp_path / "st.sqlite"
    _store_with_verdict(store, "x")
    result = runner.invoke(app, ["show", run_id, "--store", str(store)])
    _one_line_error(result, f"no run {run_id}")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--max-new-tokens", "0"], "invalid --max-new-tokens 0"),
        (["run", "--top-p", "0"], "invalid --top-p"),
        (["run", "--workers", "0"], "invalid --workers 0"),
        (["run", "--task", "nope"], "unknown task 'nope'"),
        (["run", "--executor", "nope"], "unknown executor 'nope'"),
        (["run", "--require-isolation", "moat"], "unknown isolation layer 'moat'"),
        (["sweep", "--temperatures", "0.1", "--max-new-tokens", "0"], "invalid --max-new-tokens"),
        (["sweep", "--temperatures", "0.1", "--task", "nope"], "unknown task 'nope'"),
        (["key-retrieval", "--context-window", "-5", "--lengths", "1K"], "--context-window -5"),
        (["perplexity", "--window", "-5"], "invalid --window -5"),
    ],
)
def test_bad_options_fail_before_a_model_loads_and_leave_no_run(
    tmp_path: Path, data_dir: Path, args: list[str], needle: str
) -> None:
    """Before: a multi-line pydantic error after loading the model, a failed run in the store,
    or a native abort inside llama.cpp (rc 134)."""
    store = tmp_path / "st.sqlite"
    started = time.monotonic()
    done = subprocess.run(
        [
            *CODEDUEL,
            *args,
            "--store",
            str(store),
            *(["--data-dir", str(data_dir)] if args[0] in ("run", "sweep") else []),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    _one_line_error(done, needle)
    assert time.monotonic() - started < 60  # no model was loaded (that takes minutes)
    if store.exists():
        with Store(store, create=False) as db:
            assert db.list_runs() == []


def test_k_values_are_reported_in_order(tmp_path: Path, data_dir: Path) -> None:
    samples = tmp_path / "s.jsonl"
    rows = [{"task_id": "HumanEval/0", "completion": "    return True\n"}] * 10
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = runner.invoke(
        app,
        ["evaluate", str(samples), "--task", "humaneval", "--data-dir", str(data_dir),
         "--k", "10,1,10", "--workers", "1", "--json"],
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    keys = [k for k in json.loads(done.stdout) if k.startswith("pass@")]
    assert keys == ["pass@1", "pass@10"]


def test_require_isolation_refuses_to_run_without_the_layer(tmp_path: Path, data_dir: Path) -> None:
    samples = tmp_path / "s.jsonl"
    samples.write_text('{"task_id": "HumanEval/0", "completion": "    return True\\n"}\n')
    base = ["evaluate", str(samples), "--task", "humaneval", "--data-dir", str(data_dir),
            "--workers", "1"]  # fmt: skip
    ok = runner.invoke(app, [*base, "--require-isolation", "all", "--json"])
    if ok.exit_code == 0:  # every layer is active on this machine (root, Linux >= 6.7)
        assert all(json.loads(ok.stdout)["isolation"].values())
    else:
        _one_line_error(ok, "required isolation layers are not active")
    # A layer that cannot be active with isolation off: the API refuses, one line.
    from codeduel.errors import ExecutorError
    from codeduel.execution import LocalExecutor

    with pytest.raises(ExecutorError, match="required isolation layers are not active: seccomp"):
        LocalExecutor(workers=1, isolation="none", require="seccomp")
    env_refused = runner.invoke(app, base, env={"CODEDUEL_REQUIRE_ISOLATION": "moat"})
    _one_line_error(env_refused, "unknown isolation layer 'moat'")
