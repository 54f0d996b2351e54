"""Every command that records a run, stopped mid-run with SIGTERM or Ctrl-C, prints the same one
line: which run is in the store, and the command that resumes it (the one lifecycle of
codeduel.records.lifecycle). Before, only evaluate and selfinstruct said which run to resume."""

from __future__ import annotations

import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

CODEDUEL = [sys.executable, "-m", "codeduel.cli"]

# The recording commands, each made slow enough to be caught while its run is open.
COMMANDS: dict[str, list[str]] = {
    "run": ["run", "--limit", "3", "--max-new-tokens", "64", "--workers", "1"],
    "sweep": ["sweep", "--temperatures", "0.8", "--n", "2", "--limit", "2",
              "--max-new-tokens", "48", "--workers", "1"],
    "key-retrieval": ["key-retrieval", "--lengths", "1K", "--positions", "0", "--examples", "3"],
    "perplexity": ["perplexity", "--files", "1", "--max-tokens", "512", "--window", "256"],
    "selfinstruct": ["selfinstruct", "--questions", "8", "--tests", "2", "--solutions", "2",
                     "--decontaminate", ""],
}  # fmt: skip
KINDS = {"run": "run", "sweep": "sweep", "key-retrieval": "key-retrieval",
         "perplexity": "perplexity", "selfinstruct": "selfinstruct"}  # fmt: skip


def _open_run(store: Path, kind: str) -> int | None:
    """The id of the newest run of ``kind`` that is still open, if any."""
    try:
        with sqlite3.connect(store, timeout=1) as db:
            row = db.execute(
                "SELECT id FROM runs WHERE kind = ? AND status = 'running' ORDER BY id DESC",
                (kind,),
            ).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else int(row[0])


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("sig", [signal.SIGTERM], ids=["sigterm"])
def test_an_interrupted_command_names_its_run_and_how_to_resume_it(
    tmp_path: Path, data_dir: Path, command: str, sig: signal.Signals
) -> None:
    store = tmp_path / "store.sqlite"
    args = [*COMMANDS[command], "--store", str(store)]
    if command in ("run", "sweep", "selfinstruct"):
        args += ["--data-dir", str(data_dir)]
    if command == "selfinstruct":
        args += ["-o", str(tmp_path / "si")]
    env = {**os.environ, "CODEDUEL_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(
        [*CODEDUEL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 240
        run_id = None
        while run_id is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            run_id = _open_run(store, KINDS[command]) if store.exists() else None
        assert run_id is not None, f"{command} never opened a run: {proc.poll()}"
        time.sleep(1.0)  # well inside the work, past the start
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    resume = shlex.join(["codeduel", *args])
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == (
        f"terminated: run {run_id} is in the store {store} (status failed); "
        f"resume it with: {resume}"
    )
    assert "Traceback" not in err
    with sqlite3.connect(store) as db:
        status = db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    assert status == "failed"
