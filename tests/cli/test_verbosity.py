"""-q keeps results, warnings and errors; -v adds the traceback of an internal error (issue 18,
point 7). Run as a user runs them: the real entry point in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENTRY = "from codeduel.cli.app import main; main()"
# An internal error a user cannot cause on purpose: the task list breaks inside the library.
BROKEN = "import codeduel.api as a; a.list_tasks = lambda: 1 / 0; " + ENTRY


def _cli(tmp_path: Path, *args: str, code: str = ENTRY) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEDUEL_STORE": str(tmp_path / "s.sqlite")}
    env.pop("CODEDUEL_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    path = tmp_path_factory.mktemp("q") / "ref.jsonl"
    rows = [json.loads(line) for line in _ref(data_dir).splitlines()[:2]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _ref(data_dir: Path) -> str:
    from codeduel.api import write_reference_samples

    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"codeduel-ref-{os.getpid()}.jsonl"
    write_reference_samples("humaneval", out, data_dir=data_dir)
    try:
        return out.read_text(encoding="utf-8")
    finally:
        out.unlink()


def test_quiet_prints_the_result_and_its_caveats_only(
    tmp_path: Path, samples: Path, data_dir: Path
) -> None:
    args = ["evaluate", str(samples), "--task", "humaneval", "--data-dir", str(data_dir)]
    loud = _cli(tmp_path, *args, "--k", "1")
    quiet = _cli(tmp_path, "-q", *args, "--k", "1")
    assert loud.returncode == quiet.returncode == 0, quiet.stderr
    assert "store:" in loud.stdout and "store:" not in quiet.stdout
    lines = quiet.stdout.splitlines()
    assert "pass@1\t100.00" in lines  # the table, whole
    # a caveat on the numbers stays: 2 of 164 problems
    assert any(line.startswith("warning: samples cover 2 of 164") for line in lines)
    assert len(quiet.stdout) < len(loud.stdout)


def test_quiet_still_says_what_went_wrong(tmp_path: Path) -> None:
    done = _cli(tmp_path, "-q", "evaluate", str(tmp_path / "missing.jsonl"), "--task", "humaneval")
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "does not exist" in done.stderr
    assert done.stdout == ""


def test_verbose_and_quiet_together_is_a_usage_error(tmp_path: Path) -> None:
    done = _cli(tmp_path, "-v", "-q", "tasks")
    assert done.returncode == 2
    assert "contradict" in done.stderr and "Traceback" not in done.stderr


def test_an_internal_error_is_one_line_and_verbose_adds_its_traceback(tmp_path: Path) -> None:
    plain = _cli(tmp_path, "tasks", code=BROKEN)
    assert plain.returncode == 1
    assert "Traceback" not in plain.stderr
    assert plain.stderr.strip().splitlines() == [
        "internal error: ZeroDivisionError: division by zero — this is a codeduel bug; rerun "
        "with -v for the traceback and report it"
    ]
    verbose = _cli(tmp_path, "-v", "tasks", code=BROKEN)
    assert verbose.returncode == 1
    assert verbose.stderr.startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError" in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1].startswith("internal error: ZeroDivisionError")


STUCK = """
import threading, typer
from codeduel.cli import console
console.EXIT_GRACE_S = 1.0
app = typer.Typer()

@app.command()
def stuck() -> None:
    with console.guard():
        # a worker left waiting on something nobody will ever give it after the interrupt
        threading.Thread(target=threading.Event().wait, daemon=False).start()
        raise KeyboardInterrupt

app()
"""


def test_a_stop_stops_even_when_a_thread_would_keep_the_process_alive(tmp_path: Path) -> None:
    """After Ctrl-C the interrupt line is printed; a non-daemon thread stuck for good must not
    keep the command alive (interpreter exit joins it): the process exits 130 anyway."""
    done = _cli(tmp_path, code=STUCK)
    assert done.returncode == 130
    lines = done.stderr.strip().splitlines()
    assert lines == ["interrupted", "cleanup did not finish within 1 s; exiting anyway"]
