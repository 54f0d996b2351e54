"""The Ray executor on a real two-node Ray cluster started on this machine.

A head node and a second worker node (1 CPU each, small object stores, no dashboard, own temp
dir) run for the whole module; every test judges real HumanEval programs in the real sandbox
and checks the verdicts against the local executor's on the same samples.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")
from _ray_cluster import two_node_cluster  # noqa: E402

from codeduel.api import evaluate, results_path_for  # noqa: E402
from codeduel.cluster.executor import RayExecutor  # noqa: E402
from codeduel.execution import Limits, LocalExecutor  # noqa: E402

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A head and a second worker node process, torn down (all their processes) at the end."""
    with two_node_cluster(1, "cdray") as address:
        yield address


def _humaneval(data_dir: Path) -> list[dict[str, Any]]:
    with gzip.open(data_dir / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _write_samples(path: Path, problems: list[dict[str, Any]], hang: bool = False) -> int:
    """Per problem: the reference solution, a wrong answer and a crash (plus one endless loop)."""
    rows = []
    for p in problems:
        rows.append({"task_id": p["task_id"], "completion": p["canonical_solution"]})
        rows.append({"task_id": p["task_id"], "completion": "    return None\n"})
        rows.append({"task_id": p["task_id"], "completion": "    raise ValueError('boom')\n"})
    if hang:
        rows.append(
            {"task_id": problems[0]["task_id"], "completion": "    while True:\n        pass\n"}
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)


def _stored(store: Path) -> list[tuple[str, int, str]]:
    db = sqlite3.connect(store)
    try:
        return db.execute(
            "SELECT s.task_id, s.sample_idx, v.result FROM samples s "
            "JOIN verdicts v ON v.sample_id = s.id ORDER BY s.task_id, s.sample_idx"
        ).fetchall()
    finally:
        db.close()


def _results(samples: Path) -> list[str]:
    out = results_path_for(samples)
    return [json.loads(line)["result"] for line in out.read_text().splitlines()]


def _local_reference(samples: Path, data_dir: Path, store: Path) -> list[tuple[str, int, str]]:
    with LocalExecutor(workers=2, limits=Limits()) as ex:
        evaluate(samples, "humaneval", data_dir=data_dir, store=store, executor=ex, k=[1])
    return _stored(store)


def test_ray_verdicts_equal_local_across_two_nodes(
    ray_address: str, data_dir: Path, tmp_path: Path
) -> None:
    samples = tmp_path / "samples.jsonl"
    total = _write_samples(samples, _humaneval(data_dir)[:12], hang=True)
    reference = _local_reference(samples, data_dir, tmp_path / "local.sqlite")
    local_results = _results(samples)

    with RayExecutor(address=ray_address, limits=Limits()) as ex:
        infos = ex.workers_info()
        assert len(infos) == 2
        assert len({i["node_id"] for i in infos}) == 2  # one actor on each node
        layers = ex.layers()
        result = evaluate(
            samples, "humaneval", data_dir=data_dir, store=tmp_path / "ray.sqlite", executor=ex
        )
    assert result.n_samples == total
    assert _stored(tmp_path / "ray.sqlite") == reference
    assert _results(samples) == local_results
    assert {r[2].split(":")[0] for r in reference} == {"passed", "failed", "timed out"}
    with LocalExecutor(workers=1) as local:
        local_layers = {x.name: x.active for x in local.layers()}
    assert {x.name: x.active for x in layers} == local_layers  # same sandbox on every node


def test_killed_worker_loses_nothing_and_repeats_nothing(
    ray_address: str, data_dir: Path, tmp_path: Path
) -> None:
    samples = tmp_path / "samples.jsonl"
    total = _write_samples(samples, _humaneval(data_dir)[:100])
    reference = _local_reference(samples, data_dir, tmp_path / "local.sqlite")
    store = tmp_path / "ray.sqlite"
    killed: list[int] = []

    with RayExecutor(address=ray_address, limits=Limits(), batch_size=4) as ex:
        victim = ex.workers_info()[0]["pid"]

        def kill_mid_run(done: int, _total: int) -> None:
            if done >= 30 and not killed:
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        result = evaluate(
            samples,
            "humaneval",
            data_dir=data_dir,
            store=store,
            executor=ex,
            k=[1],
            progress=kill_mid_run,
        )
        stats = ex.stats
        survivors = {i["pid"] for i in ex.workers_info()}
    assert killed and victim not in survivors
    assert stats.actors_lost == 1
    assert stats.resubmitted >= 1  # the dead actor had unfinished programs, re-run elsewhere
    assert result.n_samples == total
    rows = _stored(store)
    assert len(rows) == total == len({(r[0], r[1]) for r in rows})  # one verdict per sample
    assert rows == reference  # equal to an undisturbed run


def _cli(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEDUEL_STORE": str(store)}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run(
        [sys.executable, "-m", "codeduel.cli", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )


def test_cli_evaluate_on_ray(ray_address: str, data_dir: Path, tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    _write_samples(samples, _humaneval(data_dir)[:5])
    reference = _local_reference(samples, data_dir, tmp_path / "local.sqlite")
    store = tmp_path / "cli.sqlite"
    args = ["evaluate", str(samples), "--task", "humaneval", "--k", "1", "--json"]
    proc = _cli(
        *args,
        "--data-dir",
        str(data_dir),
        "--executor",
        "ray",
        "--ray-address",
        ray_address,
        store=store,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["n_samples"] == 15
    assert _stored(store) == reference


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--executor", "ray", "--ray-address", "127.0.0.1:1"], "cannot reach the Ray cluster"),
        (["--executor", "local", "--ray-address", "127.0.0.1:1"], "--ray-address applies only"),
        (["--executor", "spark"], "unknown executor 'spark'"),
    ],
)
def test_bad_executor_input_is_one_line(
    args: list[str], needle: str, data_dir: Path, tmp_path: Path
) -> None:
    samples = tmp_path / "samples.jsonl"
    _write_samples(samples, _humaneval(data_dir)[:1])
    store = tmp_path / "s.sqlite"
    proc = _cli(
        "evaluate",
        str(samples),
        "--task",
        "humaneval",
        "--data-dir",
        str(data_dir),
        *args,
        store=store,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_ray_actors_leave_their_sandboxes_unpinned(ray_address: str) -> None:
    """Several executor actors share a node, each with its own worker 0: pinning would stack
    them all on the first CPU, so the Ray executor turns it off."""
    from codeduel.execution import Program
    from codeduel.execution.registry import ExecutorOptions, open_executor

    ex = open_executor("ray", ExecutorOptions(workers=2, ray_address=ray_address))
    try:
        candidate = "import os\ndef f():\n    return sorted(os.sched_getaffinity(0))\n"
        verdict = ex.submit(Program("k", candidate, "report(f())\n", ("f",))).result(timeout=300)
    finally:
        ex.close()
    assert verdict.passed, verdict.reason
    assert verdict.details["report"] == sorted(os.sched_getaffinity(0))
