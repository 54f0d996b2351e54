"""`codeduel run` end to end on the embedded model, and resuming after kill -9.

Greedy and short (few problems, 2 threads) so it fits CI's 2 cores; the embedded
Qwen2.5-Coder-0.5B-Instruct model is real, as is the sandbox and the SQLite store.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(900)

LIMIT = 4
ARGS = ["run", "--limit", str(LIMIT), "--max-new-tokens", "160", "--json"]


def _codeduel(store: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CODEDUEL_STORE": str(store)}
    return subprocess.Popen(
        [sys.executable, "-m", "codeduel.cli", *ARGS, *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _rows(store: Path) -> list[tuple[str, int, str, str | None]]:
    db = sqlite3.connect(store)
    try:
        return db.execute(
            "SELECT s.task_id, s.sample_idx, s.raw_output, v.result FROM samples s "
            "LEFT JOIN verdicts v ON v.sample_id = s.id ORDER BY s.task_id, s.sample_idx"
        ).fetchall()
    finally:
        db.close()


def _sample_count(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        db = sqlite3.connect(store, timeout=5)
        try:
            return db.execute("SELECT count(*) FROM samples").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def _finish(proc: subprocess.Popen[str]) -> dict:
    out, err = proc.communicate(timeout=800)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out)


def test_killed_run_resumes_to_the_same_verdicts(tmp_path: Path) -> None:
    reference_store = tmp_path / "reference.sqlite"
    reference = _finish(_codeduel(reference_store, "--rejudge"))
    assert reference["n_problems"] == LIMIT and reference["n_samples"] == LIMIT
    timed_out = sum(1 for r in _rows(reference_store) if r[3] == "timed out")
    assert reference["rejudge"]["timed_out"] == timed_out  # --rejudge reaches the run
    assert reference["pass@1"] is not None and reference["resumed"] is False
    assert reference["spec"]["template"] == "humaneval-chat-prefill"

    store = tmp_path / "killed.sqlite"
    proc = _codeduel(store)
    deadline = time.monotonic() + 600
    while _sample_count(store) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _rows(store)
    assert 1 <= len(partial) < LIMIT

    resumed = _finish(_codeduel(store))
    assert resumed["resumed"] is True
    rows = _rows(store)
    assert len(rows) == LIMIT  # nothing generated twice, nothing lost
    assert len({(r[0], r[1]) for r in rows}) == LIMIT
    assert {r[:3] for r in partial} <= {r[:3] for r in rows}  # kept what was made before
    assert rows == _rows(reference_store)  # same greedy outputs, same verdicts
    assert resumed["pass@1"] == reference["pass@1"]
    db = sqlite3.connect(store)
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "finished"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", "no-such-model"], "unknown model preset 'no-such-model'"),
        (["--model", "gguf:/nonexistent/model.gguf"], "/nonexistent/model.gguf"),
        (["--model", "bogus:thing"], "unknown model backend 'bogus'"),
        (["--preset", "paper-pass7"], "unknown decoding preset 'paper-pass7'"),
        (["--style", "poetry"], "unknown --style 'poetry'"),
        (["--task", "nope"], "unknown task 'nope'"),
        (["--limit", "0"], "invalid --limit 0"),
        (["--n", "0"], "invalid --n 0"),
        (["--batch-size", "0"], "invalid --batch-size 0"),
        (["--speculative", "eagle"], "unknown --speculative 'eagle'"),
        (
            ["--model", "openai:gpt-x", "--speculative", "ngram"],
            "--speculative applies to llama.cpp models in this process, not openai:",
        ),
    ],
)
def test_bad_run_input_is_one_line(args: list[str], needle: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", "run", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_models_lists_the_paper_presets() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", "models", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    names = {p["name"] for p in json.loads(proc.stdout)}
    for expected in (
        "codellama-7b",
        "codellama-34b-python",
        "codellama-13b-instruct",
        "llama-2-70b-chat",
        "starcoder",
        "gpt-4",
        "qwen2.5-coder-0.5b-instruct",
    ):
        assert expected in names


def test_greedy_problems_are_batched_and_sampled_ones_are_not() -> None:
    """Problems share a backend call only when greedy and identical in style and parameters
    (each problem keeps its own seed in the record; greedy decoding never reads it)."""
    from codeduel.flows.generate import batches
    from codeduel.models import GenParams
    from codeduel.models.requests import GenPrompt
    from codeduel.tasks.base import Problem

    def item(i: int, temperature: float = 0.0, stop: tuple[str, ...] = ("\ndef",)) -> tuple:
        params = GenParams(temperature=temperature, stop=stop, seed=i)
        return (Problem(f"P/{i}", "", None, ""), GenPrompt("t", "completion", text=f"{i}"), params)

    todo = [item(0), item(1), item(2), item(3, 0.8), item(4), item(5, stop=("\n",)), item(6)]
    got = [[p.task_id for p, _, _ in chunk] for chunk in batches(todo, 2)]
    assert got == [["P/0", "P/1"], ["P/2"], ["P/3"], ["P/4"], ["P/5"], ["P/6"]]
    assert [len(c) for c in batches([item(i) for i in range(5)], 1)] == [1] * 5


def test_rejudge_reruns_a_runs_timed_out_programs_alone(tmp_path: Path, data_dir: Path) -> None:
    """``run --rejudge`` on stored samples: a program that waits for a moment already past (it
    timed out only because it started early, as under load) passes alone and is counted as
    load-dependent; an infinite loop times out again; the first verdicts stay."""
    from codeduel.execution.base import Verdict
    from codeduel.execution.registry import executor_options
    from codeduel.flows.generate import _rejudge
    from codeduel.records.store import SampleRecord, Store
    from codeduel.tasks import get_task

    task = get_task("humaneval", data_dir)
    problem = task.get("HumanEval/23")
    waits = (
        "    import time\n"
        f"    while time.time() < {time.time() + 1}:\n"
        "        time.sleep(0.05)\n"
        "    return len(string)\n"
    )
    loops = "    while True:\n        pass\n"
    with Store(tmp_path / "r.sqlite") as db:
        run_id = db.create_run(kind="run", spec={}, task="humaneval")
        db.add_samples(
            run_id,
            [
                SampleRecord(
                    task_id=problem.task_id,
                    sample_idx=i,
                    completion=code,
                    extra={"sample": {"completion": code}},
                )
                for i, code in enumerate([waits, loops])
            ],
        )
        first = Verdict(key="", status="timed out", duration_s=1.0)
        db.add_verdicts(run_id, [(problem.task_id, i, first) for i in range(2)])
        time.sleep(1.1)
        options = executor_options(task.packages, timeout=1.0, data_dir=data_dir)
        count, changed = _rejudge(task, {problem.task_id: problem}, db, run_id, "local", options)
        assert (count, changed) == (2, ["HumanEval/23#0"])
        stored = {v.sample_idx: v for v in db.verdicts(run_id)}
    assert stored[0].status == "timed out" and stored[1].status == "timed out"
    assert stored[0].details["rejudge"]["status"] == "passed"
    assert stored[0].details["rejudge"]["changed"] is True
    assert stored[1].details["rejudge"]["status"] == "timed out"
    assert stored[1].details["rejudge"]["changed"] is False


def test_batched_and_speculative_runs_are_recorded_as_runs_of_their_own(tmp_path: Path) -> None:
    """Both change how the text is decoded (batched arithmetic): a run says so, keeps it in its
    spec and never resumes (or is resumed by) a one-at-a-time run of the same task."""
    store = tmp_path / "runs.sqlite"
    plain = _finish(_codeduel(store, "--limit", "1"))
    assert plain["determinism"] is None
    fast = ["--limit", "2", "--batch-size", "2", "--speculative", "ngram", "--max-new-tokens", "96"]
    tuned = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", "run", *fast],
        env={**os.environ, "CODEDUEL_STORE": str(store), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tuned.returncode == 0, tuned.stderr
    assert (
        "decoding: greedy problems decoded 2 together; ngram speculative decoding: text may "
        "differ from a run without them" in tuned.stdout
    ), tuned.stdout
    db = sqlite3.connect(store)
    try:
        specs = [json.loads(row[0]) for row in db.execute("SELECT spec FROM runs ORDER BY id")]
        counts = [row[0] for row in db.execute("SELECT count(*) FROM samples GROUP BY run_id")]
    finally:
        db.close()
    assert len(specs) == 2 and counts == [1, 2]  # a run of its own, not a resumed plain one
    assert specs[0].get("speculative") is None and specs[0].get("batch_size") is None
    assert specs[1]["batch_size"] == 2 and specs[1]["speculative"] == "ngram"
