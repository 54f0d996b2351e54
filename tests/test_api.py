"""The Python API as a notebook uses it: docs/api.md run block by block against a real store,
``to_pandas()`` tables, ``compare`` by run ids and names, and a missing pandas in one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from codeduel import api
from codeduel.records.frames import RUN_COLUMNS, SAMPLE_COLUMNS
from codeduel.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.S | re.M)


def _samples(path: Path, data_dir: Path, broken: set[int]) -> Path:
    """The first three HumanEval problems' reference solutions, those in ``broken`` failing."""
    problems = get_task("humaneval", data_dir).problems()[:3]
    path.write_text(
        "".join(
            json.dumps(
                {
                    "task_id": p.task_id,
                    "completion": "    raise ValueError\n" if i in broken else p.reference,
                }
            )
            + "\n"
            for i, p in enumerate(problems)
        )
    )
    return path


Scored = tuple[Path, api.EvaluateResult, api.EvaluateResult]


@pytest.fixture
def scored(tmp_path: Path, data_dir: Path) -> Scored:
    """A store with run 1 (3/3 pass, samples file "good") and run 2 (1/3, "poor")."""
    store = tmp_path / "results.sqlite"
    good = api.evaluate(_samples(tmp_path / "good.jsonl", data_dir, set()), "humaneval",
                        store=store, data_dir=data_dir, k=[1])  # fmt: skip
    poor = api.evaluate(_samples(tmp_path / "poor.jsonl", data_dir, {0, 2}), "humaneval",
                        store=store, data_dir=data_dir, k=[1])  # fmt: skip
    return store, good, poor


@pytest.fixture
def two_runs(scored: Scored) -> tuple[Path, int, int]:
    store, good, poor = scored
    return store, good.run_id, poor.run_id


def test_docs_api_walkthrough_runs_as_written(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = _python_blocks((ROOT / "docs" / "api.md").read_text())
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODEDUEL_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CODEDUEL_STORE", str(tmp_path / "not-this.sqlite"))
    namespace: dict[str, object] = {"__name__": "__notebook__"}
    for i, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/api.md python block {i}", "exec"), namespace)
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert (tmp_path / "reference.jsonl_results.jsonl").is_file()
    assert not (tmp_path / "not-this.sqlite").exists()  # every call used the session's store
    samples = namespace["samples"]
    assert isinstance(samples, pd.DataFrame) and len(samples) == 164


def test_runs_and_verdicts_become_tables(two_runs: tuple[Path, int, int]) -> None:
    store, good, poor = two_runs
    runs = api.list_runs(store)
    assert [r.id for r in runs] == [poor, good]  # still a list of RunRecord, newest first
    table = runs.to_pandas()
    assert list(table.columns) == [*RUN_COLUMNS, "pass@1"]
    assert table.set_index("run_id")["pass@1"].to_dict() == {poor: pytest.approx(1 / 3), good: 1.0}
    assert set(table["kind"]) == {"evaluate"} and set(table["status"]) == {"finished"}
    assert table["samples"].str.endswith("poor.jsonl").tolist() == [True, False]
    assert table["name"].tolist() == ["poor", "good"]  # spec["name"]: by default the file stem

    verdicts = api.run_verdicts(poor, store)
    frame = verdicts.to_pandas()
    assert list(frame.columns) == list(SAMPLE_COLUMNS)
    assert frame["passed"].tolist() == [False, True, False]
    assert frame["task_id"].tolist() == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert set(frame["run_id"]) == {poor} and frame["duration_s"].notna().all()


def test_an_empty_store_is_an_empty_table_with_its_columns(tmp_path: Path) -> None:
    table = api.list_runs(tmp_path / "none.sqlite").to_pandas()
    assert table.empty and list(table.columns) == list(RUN_COLUMNS)


def test_compare_takes_ids_and_names_and_defaults_to_every_run(
    two_runs: tuple[Path, int, int],
) -> None:
    store, good, poor = two_runs
    by_id = api.compare([good, poor], store=store)
    mixed = api.compare([str(good), "poor"], store=store)
    every = api.compare(store=store)
    for comparison in (by_id, mixed, every):
        assert sorted(r.run_id for r in comparison.leaderboard) == [good, poor]
        assert [(p.run_a, p.run_b) for p in comparison.pairs] == [(good, poor)]
    one = api.compare("poor", store=store)
    assert [r.run_id for r in one.leaderboard] == [poor] and not one.pairs
    with pytest.raises(api.CodeduelError) as err:
        api.compare(["nobody"], store=store)
    assert "\n" not in str(err.value) and "codeduel runs" in str(err.value)


def test_comparison_to_pandas_is_the_csv_table_typed(two_runs: tuple[Path, int, int]) -> None:
    store, good, poor = two_runs
    comparison = api.compare([good, poor], store=store)
    frame = comparison.to_pandas()
    header = comparison.to_csv().splitlines()[0].split(",")
    assert list(frame.columns) == header
    board = frame[frame["table"] == "leaderboard"].set_index("run_a")
    assert board.loc[good, "value"] == 1.0 and board.loc[poor, "value"] == pytest.approx(1 / 3)
    pair = frame[frame["table"] == "pair"].iloc[0]
    assert (pair["run_a"], pair["run_b"]) == (good, poor)
    assert pair["value"] == pytest.approx(2 / 3, abs=1e-5)
    assert str(frame["run_b"].dtype) == "Int64"  # blank on leaderboard rows: <NA>, not 2.0


def test_results_of_a_recorded_run_give_their_verdicts(scored: Scored) -> None:
    store, good, poor = scored
    for result in (good, poor):
        frame = result.to_pandas()
        pd.testing.assert_frame_equal(frame, api.run_verdicts(result.run_id, store).to_pandas())
    assert good.to_pandas()["passed"].all() and poor.to_pandas()["passed"].sum() == 1


def test_to_pandas_without_pandas_is_one_line(two_runs: tuple[Path, int, int]) -> None:
    store, _, _ = two_runs
    script = f"""
import sys

class NoPandas:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(name, name=name)

sys.meta_path.insert(0, NoPandas())
from codeduel import api

runs = api.list_runs({str(store)!r})
print(len(runs), "runs")
try:
    runs.to_pandas()
except api.CodeduelError as err:
    print(err)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "2 runs"
    assert len(lines) == 2 and "pip install pandas" in lines[1]
