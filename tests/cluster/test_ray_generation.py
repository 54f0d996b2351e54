"""`codeduel run --gen-workers 2 --executor ray` on a real two-node Ray cluster.

Two model replicas of the embedded Qwen2.5-Coder-0.5B (llama.cpp, one thread each) generate
from one problem queue while two executor actors judge; the store must equal a run that
generates and judges in this process. The cluster's nodes declare 2 logical CPUs each so the
two replicas and the two executor actors fit on this 2-core machine.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
from _ray_cluster import two_node_cluster  # noqa: E402

from codeduel.errors import CodeduelError  # noqa: E402
from codeduel.flows.generate import RunResult, run  # noqa: E402
from codeduel.models import load_model  # noqa: E402

pytestmark = pytest.mark.timeout(600)

_ARGS = {"task": "humaneval", "limit": 3, "max_new_tokens": 128}


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A head and a second worker node process, torn down (all their processes) at the end."""
    with two_node_cluster(2, "cdrayg") as address:
        yield address


def _rows(store: Path) -> list[tuple[str, int, str, str | None]]:
    db = sqlite3.connect(store)
    try:
        return db.execute(
            "SELECT s.task_id, s.sample_idx, s.raw_output, v.result FROM samples s "
            "LEFT JOIN verdicts v ON v.sample_id = s.id ORDER BY s.task_id, s.sample_idx"
        ).fetchall()
    finally:
        db.close()


@pytest.fixture(scope="module")
def local_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, list]:
    """The reference: generated and judged in this process, one llama.cpp thread."""
    store = tmp_path_factory.mktemp("local") / "l.sqlite"
    with load_model(None, n_threads=1) as lm:  # the replicas run one thread each too
        result = run(None, **_ARGS, data_dir=data_dir, store=store, loaded_model=lm)
    return result, _rows(store)


def _gen_actor_pids() -> list[int]:
    """Ray names an actor's process after its class (``ray::_GenActor...``)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ray::_GenActor"):
                pids.append(int(proc.name))
    return pids


def test_generation_workers_match_a_local_run(
    ray_address: str, data_dir: Path, tmp_path: Path, local_run: tuple[RunResult, list]
) -> None:
    local, local_rows = local_run
    spread = run(
        None,
        **_ARGS,
        data_dir=data_dir,
        store=tmp_path / "r.sqlite",
        executor="ray",
        ray_address=ray_address,
        workers=2,
        gen_workers=2,
    )
    assert spread.spec == local.spec  # same run identity: either can resume the other
    rows = _rows(tmp_path / "r.sqlite")
    assert len(rows) == 3 and all(r[3] is not None for r in rows)
    assert rows == local_rows
    assert spread.pass_at_k == local.pass_at_k


def test_killed_generation_worker_loses_nothing_and_repeats_nothing(
    ray_address: str, data_dir: Path, tmp_path: Path, local_run: tuple[RunResult, list]
) -> None:
    killed: list[int] = []

    def kill_after_first_problem(phase: str, done: int, _total: int) -> None:
        if phase == "generate" and done >= 1 and not killed:
            pids = _gen_actor_pids()
            assert len(pids) == 2
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    result = run(
        None,
        **_ARGS,
        data_dir=data_dir,
        store=tmp_path / "k.sqlite",
        ray_address=ray_address,
        gen_workers=2,
        progress=kill_after_first_problem,
    )
    assert killed
    assert any("1 problem(s) re-generated" in w for w in result.warnings), result.warnings
    rows = _rows(tmp_path / "k.sqlite")
    assert len({(r[0], r[1]) for r in rows}) == len(rows) == 3  # nothing twice, nothing lost
    assert rows == local_run[1]  # the re-generated problem equals the undisturbed one
    assert result.pass_at_k == local_run[0].pass_at_k


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


def test_killed_driver_resumes_on_ray_to_the_same_store(
    ray_address: str, data_dir: Path, tmp_path: Path, local_run: tuple[RunResult, list]
) -> None:
    store = tmp_path / "d.sqlite"
    cmd = [
        sys.executable,
        "-m",
        "codeduel.cli",
        "run",
        "--task",
        "humaneval",
        "--limit",
        "3",
        "--max-new-tokens",
        "128",
        "--data-dir",
        str(data_dir),
        "--executor",
        "ray",
        "--ray-address",
        ray_address,
        "--gen-workers",
        "2",
        "--workers",
        "2",
        "--json",
    ]
    env = {**os.environ, "CODEDUEL_STORE": str(store)}
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while _sample_count(store) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 1 <= len(_rows(store)) < 3

    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout)["resumed"] is True
    assert _rows(store) == local_run[1]  # nothing lost, nothing twice, same verdicts
    db = sqlite3.connect(store)
    try:
        assert db.execute("SELECT count(*), min(status) FROM runs").fetchone() == (1, "finished")
    finally:
        db.close()


def test_a_worker_that_cannot_load_the_model_is_one_line(
    ray_address: str, data_dir: Path, tmp_path: Path
) -> None:
    store = tmp_path / "bad.sqlite"
    with pytest.raises(CodeduelError) as info:
        run(
            "gguf:/nonexistent/model.gguf",
            **_ARGS,
            data_dir=data_dir,
            store=store,
            ray_address=ray_address,
            gen_workers=1,
        )
    message = str(info.value)
    assert "cannot load the model" in message and "/nonexistent/model.gguf" in message
    assert "\n" not in message


def test_a_replica_takes_greedy_problems_together(ray_address: str) -> None:
    """submit_many: one call on one replica for several problems, each answered exactly as
    if submitted alone (hf static engine, 2 slots, so the replica says greedy_batch 2)."""
    pytest.importorskip("transformers", reason="the hf extra is not installed")
    from codeduel.cluster.generation import RayModelPool
    from codeduel.models import GenParams
    from codeduel.models.requests import GenPrompt

    options = {"n_threads": 1, "max_batch": 2, "engine": "static", "context_window": 256}
    prompts = [
        GenPrompt("t", "completion", text="def add(a, b):\n"),
        GenPrompt("t", "completion", text="def is_even(n):\n    return"),
        GenPrompt("t", "completion", text="# reverse a string s\ndef rev(s):\n"),
    ]
    params = GenParams(max_new_tokens=8)
    pool = RayModelPool("hf:embedded:qwen2.5-coder-0.5b-instruct", 1, ray_address, options)
    try:
        assert pool.greedy_batch == 2
        together = pool.submit_many(prompts, params).result(timeout=300)
        alone = [pool.submit(p, params).result(timeout=300) for p in prompts]
    finally:
        pool.close()
    assert [len(c) for c in together] == [1, 1, 1]
    assert [c[0].text for c in together] == [c[0].text for c in alone]
    assert all(c[0].completion_tokens > 0 for c in together)
