"""Suites (``codeduel suite suite.toml``): a file checked completely before anything runs (one
line per problem, naming the file, the key path and the fix), the matrix it expands to, and a
real suite run with the embedded model: stopped by SIGTERM mid-cell, rerun (the stopped cell
resumes its run, a failing cell does not stop the others, one report), rerun again (every
finished cell skipped, nothing generated).

The real suite is the smallest that shows all of it: the embedded Qwen2.5-Coder-0.5B on one
HumanEval and one MBPP problem, greedy, 32 new tokens, one llama.cpp thread and one sandbox.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeduel.cli.app import app
from codeduel.flows.suite import Cell, SuiteError, load_suite, pin_datasets
from codeduel.records.store import Store

pytestmark = pytest.mark.timeout(600)

runner = CliRunner()

SUITE = """\
store = "results.sqlite"
k = [1]
workers = 1
tasks = ["humaneval", "mbpp"]

[defaults]
limit = 1
max_new_tokens = 32

[[models]]
name = "qwen"
model = "embedded"
threads = 1

[[decoding]]
name = "greedy"

[[decoding]]
name = "hot"
temperature = 0.8
n = 4

[[exclude]]
task = "mbpp"
decoding = "hot"
"""


def _write(tmp_path: Path, text: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_matrix_is_the_cross_product_less_the_excluded_cells(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, SUITE))
    assert [c.label for c in suite.cells] == [
        "qwen × humaneval × greedy",
        "qwen × humaneval × hot",
        "qwen × mbpp × greedy",
    ]
    hot = suite.cells[1]
    assert hot.params == {
        "n": 4, "temperature": 0.8, "top_p": 1.0, "top_k": None, "max_new_tokens": 32, "seed": 0,
    }  # fmt: skip
    assert hot.selection == {"limit": 1, "sample": None, "split": None}
    assert suite.cells[2].selection["split"] == "test"  # MBPP's default split, as `run` takes it
    assert hot.record_model == "qwen2.5-coder-0.5b-instruct"  # as `codeduel run` records it
    assert suite.store == tmp_path / "results.sqlite"  # relative to the file, not the cwd
    assert suite.report == tmp_path / "suite.html"


# (what is changed in SUITE, what the one line must say)
BAD: dict[str, tuple[tuple[str, str], str]] = {
    "unknown key": (
        ("threads = 1", "thread = 1"),
        "unknown key models[0].thread — remove it or use one of: model, name, style",
    ),
    "unknown top-level key": (
        ('store = "results.sqlite"', 'stor = "results.sqlite"'),
        "unknown key stor — remove it or use one of: store, report",
    ),
    "wrong type": (
        ("temperature = 0.8", 'temperature = "hot"'),
        "decoding[1].temperature must be a number, not 'hot' — write temperature = 0.8",
    ),
    "a fraction for a count": (("n = 4", "n = 2.5"), "decoding[1].n must be a whole number"),
    "out of range": (
        ("temperature = 0.8", "temperature = 9.0"),
        "decoding[1].temperature is 9.0: input should be less than or equal to 5",
    ),
    "unknown task": (
        ('"humaneval", "mbpp"', '"humaneval", "mbqq"'),
        "tasks[1]: unknown task 'mbqq' — choose one of: apps, humaneval",
    ),
    "unknown model preset": (
        ('model = "embedded"', 'model = "codellama-7x"'),
        "models[0].model: unknown model preset 'codellama-7x' — did you mean codellama-7b",
    ),
    "task option the task does not take": (
        ('"mbpp"]', '{name = "mbpp", difficulty = "interview"}]'),
        "tasks[1]: task 'mbpp' has no option 'difficulty'",
    ),
    "empty matrix": (('tasks = ["humaneval", "mbpp"]', "tasks = []"), "tasks is empty"),
    "every cell excluded": (
        ('task = "mbpp"\ndecoding = "hot"', 'model = "qwen"'),
        "every cell is excluded — remove an [[exclude]] entry",
    ),
    "exclude naming nothing": (
        ('decoding = "hot"\n', 'decoding = "warm"\n'),
        "exclude[0].decoding names no decoding 'warm' — use one of: greedy, hot",
    ),
    "a table where a list of tables goes": (
        ('[[models]]\nname = "qwen"', '[models]\nname = "qwen"'),
        "models must be a list of tables",
    ),
    "TOML syntax": (("limit = 1", "limit = "), "not valid TOML: Invalid value (at line 7"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_suite_is_one_line_naming_file_key_and_fix(tmp_path: Path, case: str) -> None:
    (old, new), needle = BAD[case]
    assert old in SUITE
    path = _write(tmp_path, SUITE.replace(old, new, 1))
    result = runner.invoke(app, ["suite", str(path)])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: "), lines[0]
    assert needle in lines[0], lines[0]
    assert not (tmp_path / "results.sqlite").exists()  # checked before anything is recorded


def test_a_missing_suite_file_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["suite", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: suite file {tmp_path / 'nope.toml'} not found — give the path of a suite TOML "
        "file (docs/suites.md shows one)"
    )


def test_the_api_raises_the_same_error(tmp_path: Path) -> None:
    path = _write(tmp_path, SUITE.replace("n = 4", "n = 0"))
    with pytest.raises(SuiteError, match=re.escape("decoding[1].n is 0: input should be greater")):
        load_suite(path)


def test_dry_run_prints_the_matrix_and_escapes_names(tmp_path: Path) -> None:
    hostile = 'name = "q\\u001b[2J[red]wen"'  # a clear-screen escape and rich markup
    path = _write(tmp_path, SUITE.replace('name = "qwen"', hostile))
    result = runner.invoke(app, ["suite", str(path), "--dry-run"])
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout
    rows = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    assert rows[0][:6] == ["model", "task", "decoding", "status", "run", "n"]
    assert [r[1:4] for r in rows[1:]] == [
        ["humaneval", "greedy", "new"],
        ["humaneval", "hot", "new"],
        ["mbpp", "greedy", "new"],
    ]
    assert rows[1][0] == "q\\u001b[2J[red]wen"  # shown as text, not obeyed
    assert not (tmp_path / "results.sqlite").exists()  # a dry run records nothing
    as_json = json.loads(runner.invoke(app, ["suite", str(path), "--dry-run", "--json"]).stdout)
    assert as_json["dry_run"] is True and as_json["counts"] == {"new": 3}


def test_a_cell_is_finished_only_by_a_run_of_its_own_settings_and_data(
    tmp_path: Path, data_dir: Path
) -> None:
    """What the dry run (and the real one) takes for a cell's run, from runs recorded in a
    real store as `codeduel run` records them: the same settings and dataset are the cell's;
    another prompt style, decoding or dataset is not; an unfinished one is resumed."""
    path = _write(tmp_path, f'data_dir = "{data_dir}"\n' + SUITE.split("[[decoding]]")[0])
    suite = load_suite(path)
    [humaneval, mbpp] = suite.cells
    assert humaneval.style == "chat"  # the preset's, as `codeduel run` picks it

    def record(cell: Cell, finished: bool, **change: object) -> int:
        pinned = next(c for c in pin_datasets(suite) if c.label == cell.label)
        spec = {
            "model": pinned.record_model,
            "task": pinned.task_name,
            **pinned.params,
            **pinned.selection,
            "task_options": None,
            "style": pinned.style,
            "dataset_sha256": pinned.dataset_sha256,
            **change,
        }
        with Store(suite.store) as db:
            run_id = db.create_run(kind="run", spec=spec, task=pinned.task_name)
            if finished:
                db.finish_run(run_id, summary={"pass@1": 0.5, "n_problems": 1, "n_samples": 1})
            else:
                db.fail_run(run_id, KeyboardInterrupt())
        return run_id

    record(humaneval, True, style="completion")
    record(humaneval, True, temperature=0.2)
    record(humaneval, True, dataset_sha256="0" * 64)
    record(mbpp, True, limit=2)
    partial = record(mbpp, False)

    def plan() -> list[tuple[str, int | None]]:
        result = runner.invoke(app, ["suite", str(path), "--dry-run", "--json"])
        assert result.exit_code == 0, result.stderr
        return [(c["status"], c["run_id"]) for c in json.loads(result.stdout)["cells"]]

    assert plan() == [("new", None), ("resume", partial)]
    done = record(humaneval, True)
    assert plan() == [("skip", done), ("resume", partial)]
    skipped = json.loads(runner.invoke(app, ["suite", str(path), "--dry-run", "--json"]).stdout)
    assert skipped["cells"][0]["pass_at_k"] == {"pass@1": 0.5}


def test_a_model_that_does_not_load_fails_its_cells_once_and_the_suite_says_so(
    tmp_path: Path,
) -> None:
    """Passes every check (a gguf: path is a valid spec) and fails when it loads: loaded once,
    both of its cells failed with that error, nothing recorded, no report, exit status 1."""
    path = _write(tmp_path, SUITE.replace('model = "embedded"', 'model = "gguf:/nope/m.gguf"'))
    result = runner.invoke(app, ["suite", str(path), "--json"])
    assert result.exit_code == 1, result.stderr
    shown = json.loads(result.stdout)
    assert shown["counts"] == {"failed": 3} and shown["report"] is None
    errors = {c["error"] for c in shown["cells"]}
    assert errors == {"loading qwen: GGUF file not found: /nope/m.gguf — check the path after "
                      "gguf: (or pick a preset)"}  # fmt: skip
    assert result.stderr.count("[1/3] started  qwen × humaneval × greedy") == 1
    assert "started  qwen × humaneval × hot" not in result.stderr  # not loaded again
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "error: 3 of 3 cells failed: qwen × humaneval × greedy, qwen × humaneval × hot, "
        "qwen × mbpp × greedy (loading qwen: GGUF file not found"
    ), last
    with Store(tmp_path / "results.sqlite", create=False) as db:
        assert db.list_runs() == []
    assert not (tmp_path / "suite.html").exists()


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeduel.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
    )


def _running(store: Path) -> int | None:
    try:
        with sqlite3.connect(store, timeout=1) as db:
            row = db.execute("SELECT id FROM runs WHERE status = 'running'").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else int(row[0])


@pytest.mark.slow
def test_a_real_suite_resumes_after_sigterm_goes_past_a_failed_cell_and_skips_finished_ones(
    tmp_path: Path, data_dir: Path
) -> None:
    # two real cells, and a third that fails when it runs (a split HumanEval does not have)
    text = 'title = "<script>alert(1)</script>"\n' + SUITE.split("[[decoding]]")[0].replace(
        '"mbpp"]', '"mbpp", {name = "humaneval", label = "broken", split = "nope"}]'
    )
    path = _write(tmp_path, text)
    store = tmp_path / "results.sqlite"
    env = {**os.environ, "CODEDUEL_DATA_DIR": str(data_dir)}

    proc = subprocess.Popen(
        [sys.executable, "-m", "codeduel.cli", "suite", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 300
        while _running(store) is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)  # inside the first cell's run
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "[1/3] started  qwen × humaneval × default" in out
    last = err.strip().splitlines()[-1]
    stopped = re.fullmatch(
        rf"terminated: run (\d+) is in the store {re.escape(str(store))} \(status failed\); "
        rf"resume it with: codeduel suite {re.escape(str(path))}",
        last,
    )
    assert stopped is not None, err
    stopped_id = int(stopped.group(1))

    again = _cli("suite", str(path), "--json", env=env)
    assert again.returncode == 1, again.stderr  # the broken cell; the others ran
    result = json.loads(again.stdout)
    cells = {c["task"]: c for c in result["cells"]}
    assert cells["humaneval"]["status"] == "done"
    assert cells["humaneval"]["run_id"] == stopped_id and cells["humaneval"]["resumed"] is True
    assert cells["mbpp"]["status"] == "done" and cells["mbpp"]["resumed"] is False
    for task in ("humaneval", "mbpp"):
        assert cells[task]["n_problems"] == 1 and cells[task]["n_samples"] == 1
        assert 0.0 <= cells[task]["pass_at_k"]["pass@1"] <= 1.0
    assert cells["broken"]["status"] == "failed"
    assert "has no problems in split 'nope'" in cells["broken"]["error"]
    assert result["failed"] == ["qwen × broken × default"]
    assert (
        f"[1/3] resuming qwen × humaneval × default (run {stopped_id}, interrupted before)"
        in again.stderr
    )  # lines go to stderr
    failed_line = again.stderr.strip().splitlines()[-1]
    assert failed_line.startswith("error: 1 of 3 cells failed: qwen × broken × default (task")
    report = Path(result["report"])
    assert report == tmp_path / "suite.html"
    page = report.read_text(encoding="utf-8")
    assert "HumanEval/0" in page and "Mbpp/11" in page  # both finished cells, one report
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    with Store(store, create=False) as db:
        runs = {r.id: r for r in db.list_runs()}
    assert sorted(r.status for r in runs.values()) == ["finished", "finished"]
    assert sorted(r.spec["name"] for r in runs.values()) == ["qwen default", "qwen default"]

    third = _cli("suite", str(path), env=env)
    assert third.returncode == 1, third.stderr
    assert "skipped  qwen × humaneval × default: pass@1" in third.stdout
    assert f"(run {stopped_id}, finished before)" in third.stdout
    assert "skipped  qwen × mbpp × default" in third.stdout
    assert "started  qwen × humaneval" not in third.stdout
    with Store(store, create=False) as db:
        assert {r.id for r in db.list_runs()} == set(runs)  # nothing new recorded
    assert report.stat().st_size > 0
