"""The ``codeduel`` command line: one-line errors with exit 2, ``--json`` purity, store readers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeduel.cli import app
from codeduel.execution.base import Verdict
from codeduel.records.store import SampleRecord, Store
from codeduel.tasks.base import DatasetInfo

runner = CliRunner()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def assert_one_line_error(result, needle: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and needle in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        (None, [], "does not exist"),
        ("", [], "holds no samples"),
        ('{"task_id": "HumanEval/0", "completion": "x"}\n{oops\n', [], "s.jsonl:2: malformed JSON"),
        ('{"task_id": "HumanEval/0"}\n', [], "missing completion"),
        ('{"task_id": "Nope/1", "completion": "x"}\n', [], "not in task 'humaneval'"),
        ('{"task_id": "HumanEval/0", "completion": "x"}\n', ["--k", "1,zero"], "invalid --k"),
        ('{"task_id": "HumanEval/0", "completion": "x"}\n', ["--timeout", "-1"], "usable time"),
    ],
)
def test_evaluate_bad_inputs(
    tmp_path: Path, data_dir: Path, content: str | None, args: list[str], needle: str
) -> None:
    samples = tmp_path / "s.jsonl"
    if content is not None:
        samples.write_text(content)
    result = runner.invoke(
        app, ["evaluate", str(samples), "--task", "humaneval", "--data-dir", str(data_dir), *args]
    )
    assert_one_line_error(result, needle)


def test_unknown_task(tmp_path: Path, data_dir: Path) -> None:
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": "x"}])
    result = runner.invoke(app, ["evaluate", str(samples), "--task", "nope", "--json"])
    assert_one_line_error(result, "unknown task 'nope'")


def test_bad_store_path(tmp_path: Path, data_dir: Path) -> None:
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": "x"}])
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(samples),
            "-t",
            "humaneval",
            "--data-dir",
            str(data_dir),
            "--store",
            str(tmp_path),
        ],
    )
    assert_one_line_error(result, "is a directory")


def seed_store(path: Path) -> tuple[int, int]:
    """A finished and a failed run, written through the real store."""
    info = DatasetInfo("humaneval", "1.0.3", "cd" * 32, "/data/HumanEval.jsonl.gz")
    with Store(path) as store:
        done = store.create_run(
            kind="evaluate", spec={"samples": "/x.jsonl"}, task="humaneval", dataset=info
        )
        store.add_samples(done, [SampleRecord("HumanEval/0", i, "x") for i in range(2)])
        store.add_verdicts(
            done,
            [
                ("HumanEval/0", 0, Verdict(key="0", status="passed")),
                ("HumanEval/0", 1, Verdict(key="1", status="failed", reason="oh no")),
            ],
        )
        store.finish_run(done, summary={"task": "humaneval", "pass@1": 0.5, "warnings": ["w1"]})
        broken = store.create_run(kind="evaluate", spec={}, task="mbpp")
        store.finish_run(broken, status="failed", error="interrupted by the user")
    return done, broken


def test_runs_and_show_read_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    done, broken = seed_store(path)

    listed = runner.invoke(app, ["runs", "--store", str(path), "--json"])
    assert listed.exit_code == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert [(r["id"], r["status"], r["task"]) for r in runs] == [
        (broken, "failed", "mbpp"),
        (done, "finished", "humaneval"),
    ]
    assert runs[1]["n_verdicts"] == 2 and runs[1]["summary"]["pass@1"] == 0.5

    table = runner.invoke(app, ["runs", "--store", str(path)], env={"COLUMNS": "200"})
    assert table.exit_code == 0
    assert "humaneval" in table.stdout and "50.00" in table.stdout and "failed" in table.stdout

    shown = runner.invoke(app, ["show", str(done), "--store", str(path)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.stderr
    for needle in ("finished", "cd" * 32, "pass@1", "50.00", "failed: oh no", "warning: w1"):
        assert needle in shown.stdout, needle

    shown_json = runner.invoke(app, ["show", str(broken), "--store", str(path), "--json"])
    data = json.loads(shown_json.stdout)
    assert data["error"] == "interrupted by the user" and data["counts"] == {}


def test_show_unknown_run_and_missing_store(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    seed_store(path)
    assert_one_line_error(runner.invoke(app, ["show", "99", "--store", str(path)]), "no run 99")
    assert_one_line_error(
        runner.invoke(app, ["show", "1", "--store", str(tmp_path / "none.sqlite")]),
        "no results store",
    )
    empty = runner.invoke(app, ["runs", "--store", str(tmp_path / "none.sqlite"), "--json"])
    assert empty.exit_code == 0 and json.loads(empty.stdout) == []


def test_tasks_json() -> None:
    result = runner.invoke(app, ["tasks", "--json"])
    assert result.exit_code == 0
    tasks = json.loads(result.stdout)
    assert tasks["humaneval"]["toolchain"] is None  # Python: judged in the sandbox's own
    bash = tasks["multipl-e-sh"]["toolchain"]
    assert bash["available"] and bash["tools"]["bash"].endswith("/bash")


def test_doctor_names_missing_toolchains_and_their_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from codeduel import api

    real = api.toolchains

    def without_php() -> dict[str, api.Toolchain]:
        chains = real()
        php = chains["php"]
        chains["php"] = api.Toolchain("php", {}, ("php",), php.install)
        return chains

    monkeypatch.setattr(api, "toolchains", without_php)
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = {row["language"]: row for row in json.loads(result.stdout)["toolchains"]}
    assert rows["php"]["missing"] == ["php"]
    assert rows["php"]["install"] == "apt-get install -y php-cli"
    assert rows["sh"]["available"]
    text = runner.invoke(app, ["doctor"]).stdout
    assert "missing toolchains" in text and "php-cli" in text


def test_doctor_lists_layers_reads_and_datasets(data_dir: Path) -> None:
    result = runner.invoke(app, ["doctor", "--json", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    layers = report["layers"]
    assert layers and all({"name", "active", "detail"} <= set(layer) for layer in layers)
    assert report["readable"]["packages"] == ["numpy"]
    assert str(data_dir) in report["readable"]["excluded"]
    assert report["datasets"]["probed"] > 0
    if {x["name"]: x["active"] for x in layers}["landlock"]:
        assert report["datasets"]["readable"] == []
    table = runner.invoke(app, ["doctor", "--data-dir", str(data_dir)], env={"COLUMNS": "200"})
    assert table.exit_code == 0
    assert layers[0]["name"] in table.stdout
    if report["datasets"]["readable"]:
        assert "DATASETS READABLE" in table.stdout
    else:
        assert "no benchmark file is readable from the sandbox" in table.stdout


def test_evaluate_end_to_end_subprocess(
    tmp_path: Path, data_dir: Path, humaneval_file: Path
) -> None:
    """The installed entry point, a real sandbox, real programs; stdout is one JSON object."""
    import gzip

    with gzip.open(humaneval_file, "rt") as fh:
        problems = [json.loads(line) for line in fh][:3]
    rows = [
        {"task_id": problems[0]["task_id"], "completion": problems[0]["canonical_solution"]},
        {"task_id": problems[0]["task_id"], "completion": "    return None\n"},
        {"task_id": problems[1]["task_id"], "completion": problems[1]["canonical_solution"]},
        {"task_id": problems[1]["task_id"], "completion": "    raise KeyError('k')\n"},
        {"task_id": problems[2]["task_id"], "completion": problems[2]["canonical_solution"]},
        {"task_id": problems[2]["task_id"], "completion": problems[2]["canonical_solution"]},
    ]
    samples = write_jsonl(tmp_path / "s.jsonl", rows)
    store = tmp_path / "r.sqlite"
    env = {**os.environ, "CODEDUEL_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codeduel.cli",
            "evaluate",
            str(samples),
            "--task",
            "humaneval",
            "--k",
            "1,2,10",
            "--store",
            str(store),
            "--workers",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # the whole of stdout is one JSON object
    assert data["n_problems"] == 3 and data["n_samples"] == 6
    assert data["pass@1"] == pytest.approx(4 / 6)
    assert data["pass@2"] == pytest.approx(1.0)
    assert data["pass@10"] is None
    assert data["counts"] == {"passed": 4, "failed": 2, "timed out": 0}
    assert data["dataset"]["sha256"].startswith("b796127e")
    results = [json.loads(x) for x in (tmp_path / "s.jsonl_results.jsonl").read_text().splitlines()]
    assert [r["passed"] for r in results] == [True, False, True, False, True, True]
    assert results[3]["result"] == "failed: 'k'"

    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "codeduel.cli",
            "show",
            str(data["run_id"]),
            "--store",
            str(store),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert json.loads(shown.stdout)["counts"] == {"passed": 4, "failed": 2}


def test_ctrl_c_keeps_partial_run(tmp_path: Path, data_dir: Path, humaneval_file: Path) -> None:
    """SIGINT mid-run: exit 130, one line naming the run, finished verdicts kept in the store."""
    import gzip
    import signal
    import sqlite3
    import time

    with gzip.open(humaneval_file, "rt") as fh:
        first = json.loads(fh.readline())
    fast = [{"task_id": first["task_id"], "completion": first["canonical_solution"]}] * 2
    slow = [{"task_id": first["task_id"], "completion": "    while True:\n        pass\n"}] * 4
    samples = write_jsonl(tmp_path / "s.jsonl", fast + slow)
    store = tmp_path / "r.sqlite"
    env = {**os.environ, "CODEDUEL_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codeduel.cli",
            "evaluate",
            str(samples),
            "-t",
            "humaneval",
            "--store",
            str(store),
            "--workers",
            "2",
            "--timeout",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # A shell ignores SIGINT in the commands it starts in the background (CI runs the
        # suite that way), and Python keeps an inherited "ignore": give the child Ctrl-C back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )

    def judged() -> int:
        try:
            with sqlite3.connect(store) as db:
                return db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        except sqlite3.Error:
            return 0

    deadline = time.monotonic() + 120
    while judged() < len(fast + slow) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3.0)  # let the two quick programs finish while the loops spin
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == [
        f"interrupted: run 1 is in the store {store} (status failed); resume it with: "
        f"codeduel evaluate {samples} -t humaneval --store {store} --workers 2 --timeout 60"
    ]
    assert "Traceback" not in stderr and stdout == ""
    with Store(store, create=False) as db:
        run = db.get_run(1)
        assert run.status == "failed" and run.error == "interrupted by the user"
        assert run.n_samples == 6
        statuses = [v.status for v in db.verdicts(1)]
    assert statuses == ["passed", "passed"]  # the loops were still running: no verdict


def test_evaluate_table_output(tmp_path: Path, data_dir: Path, humaneval_file: Path) -> None:
    """Human mode: the pass@k table, the counts, where things went, and every warning."""
    import gzip

    with gzip.open(humaneval_file, "rt") as fh:
        first = json.loads(fh.readline())
    rows = [
        {"task_id": first["task_id"], "completion": first["canonical_solution"]},
        {"task_id": first["task_id"], "completion": "    return 1 +\n"},
    ]
    samples = write_jsonl(tmp_path / "s.jsonl", rows)
    result = runner.invoke(
        app,
        ["evaluate", str(samples), "-t", "humaneval", "--data-dir", str(data_dir), "--k", "1,5"],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "pass@1" in text and "50.00" in text and "pass@5" in text
    assert "2 samples over 1 problems: 1 passed, 1 failed, 0 timed out" in text
    assert "warning: samples cover 1 of 164 problems" in text
    assert "warning: pass@5 not reported" in text
    assert f"results: {samples}_results.jsonl" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["evaluate", "x.jsonl"], "error: Missing option '--task' / '-t'."),
        (["evaluate", "x.jsonl", "-t", "humaneval", "--workers", "two"], "'--workers'"),
        (["nonsense"], "error: No such command 'nonsense'. — see `codeduel --help`"),
        (["show", "1", "--store", "/nonexistent/dir/r.sqlite"], "error: no results store at"),
    ],
)
def test_entry_point_usage_errors_are_one_line(args: list[str], expected: str) -> None:
    """Through ``main()`` as installed: typer's own usage errors become one line, exit 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
