"""Temperature sweeps: parsing, best-temperature and two-model logic, a tiny real sweep.

The real sweep runs the embedded Qwen2.5-Coder-0.5B model on 1 HumanEval problem, 2 samples
at two temperatures with 48 new tokens (2 threads), through the real sandbox and store, then
reruns the same command to show finished points are read back instead of generated again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codeduel.errors import CodeduelError
from codeduel.flows.sweep import SweepPoint, best_temperatures, compare_models, parse_temperatures
from codeduel.records.store import Store

pytestmark = pytest.mark.timeout(600)


def _point(model: str, t: float, p1: float, p100: float | None) -> SweepPoint:
    return SweepPoint(
        model=model,
        temperature=t,
        run_id=1,
        pass_at_k={"pass@1": p1, "pass@100": p100},
        n_problems=1,
        n_samples=200,
        generated_tokens=10,
        generation_s=1.0,
        execution_s=0.1,
        duration_s=1.2,
        reused=False,
    )


def test_parse_temperatures() -> None:
    assert parse_temperatures("0.1, 0.4,0.6,0.8,0.4") == [0.1, 0.4, 0.6, 0.8]
    assert parse_temperatures("0") == [0.0]
    for bad in ["", "hot", "0.1,,0.8", "-0.2", "0.1;0.8"]:
        with pytest.raises(CodeduelError, match="invalid --temperatures"):
            parse_temperatures(bad)


def test_best_temperature_per_k_and_the_two_model_answer() -> None:
    points = [
        _point("small", 0.1, 0.30, 0.50),
        _point("small", 0.8, 0.20, 0.90),
        _point("large", 0.0, 0.45, 0.45),
        _point("large", 0.8, 0.35, 0.85),
    ]
    best = best_temperatures(points, [1, 100])
    assert best["small"]["pass@1"] == {"temperature": 0.1, "value": 0.30}
    assert best["small"]["pass@100"] == {"temperature": 0.8, "value": 0.90}
    assert best["large"]["pass@1"]["temperature"] == 0.0
    verdict = compare_models(best, ["small", "large"], [1, 100])
    assert verdict is not None
    assert verdict["per_k"]["pass@1"]["winner"] == "large"
    assert verdict["per_k"]["pass@100"]["winner"] == "small"
    assert verdict["per_k"]["pass@100"]["margin"] == pytest.approx(0.05)
    assert verdict["headline"].startswith("pass@100: small 90.0 % at T=0.8 vs large 85.0 %")
    assert compare_models(best, ["small"], [1, 100]) is None


def test_undefined_pass_at_k_is_skipped() -> None:
    best = best_temperatures([_point("m", 0.2, 0.5, None)], [1, 100])
    assert "pass@100" not in best["m"]


def _cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEDUEL_STORE": str(store)}
    return subprocess.run(
        [sys.executable, "-m", "codeduel.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
    )


def test_bad_sweep_input_is_one_line(tmp_path: Path) -> None:
    for args, needle in [
        (["--temperatures", "0.2,warm"], "invalid --temperatures"),
        (["--k", "1,x"], "invalid --k"),
        (["-m", "a", "-m", "b", "-m", "c"], "at most two models"),
        (["-m", "embedded", "-m", "embedded"], "given twice"),
    ]:
        proc = _cli(tmp_path / "s.sqlite", "sweep", *args)
        assert proc.returncode == 2, proc.stderr
        assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_tiny_sweep_end_to_end_and_resume(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "sweep.sqlite"
    args = ["sweep", "--limit", "1", "--n", "2", "--temperatures", "0.2,0.8"]
    args += ["--max-new-tokens", "48", "--threads", "2", "--k", "1,2,10"]
    args += ["--data-dir", str(data_dir), "--json"]
    proc = _cli(store, *args)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    points = result["points"]
    assert [p["temperature"] for p in points] == [0.2, 0.8]
    for p in points:
        assert p["n_problems"] == 1 and p["n_samples"] == 2
        assert 0.0 <= p["pass_at_k"]["pass@1"] <= 1.0
        assert p["pass_at_k"]["pass@10"] is None  # n = 2 < 10
        assert p["generated_tokens"] > 0 and p["generation_s"] > 0 and p["execution_s"] > 0
        assert p["reused"] is False
    best = result["best"]["qwen2.5-coder-0.5b-instruct"]
    assert set(best) == {"pass@1", "pass@2"}
    assert result["comparison"] is None
    with Store(store) as db:
        sweep = db.get_run(result["sweep_id"])
        assert sweep.kind == "sweep" and sweep.status == "finished"
        assert sweep.summary is not None
        ids = [p["run_id"] for p in sweep.summary["points"]]
        assert all(db.get_run(i).kind == "run" for i in ids)

    again = json.loads(_cli(store, *args).stdout)
    assert [p["run_id"] for p in again["points"]] == ids
    assert all(p["reused"] for p in again["points"])
    assert [p["pass_at_k"] for p in again["points"]] == [p["pass_at_k"] for p in points]

    table = _cli(store, *args[:-1])
    assert table.returncode == 0, table.stderr
    assert "best for qwen2.5-coder-0.5b-instruct" in table.stdout
    assert "read back from finished runs" in table.stdout
