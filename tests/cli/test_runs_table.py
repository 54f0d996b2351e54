"""Runs you can tell apart: ``--name``, the ``runs`` columns, lookup by name, and tables that a
pipe receives whole (TSV) with candidate-controlled text still unable to drive a terminal.

Runs are written through the real SQLite store and read back through the real CLI (typer's
CliRunner: its stdout is not a terminal, as in ``codeduel runs | cut -f2``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeduel.cli.app import app
from codeduel.execution.base import Verdict
from codeduel.records.store import SampleRecord, Store, spec_key
from codeduel.tasks.base import DatasetInfo

runner = CliRunner()

LONG = "humaneval-sweep-" * 9 + "end"  # 147 characters: more than any terminal column
EVIL = "evil\x1b[2J\x1b]0;pwned\x07\tfake column\nfake row\u202e"
HEADER = ["id", "name", "model", "task", "kind", "n", "judged", "pass@1", "status", "date"]
INFO = DatasetInfo("humaneval", "1.0.3", "cd" * 32, "/data/HumanEval.jsonl.gz")


def _add_run(store: Store, spec: dict, passed: list[list[bool]], kind: str = "run") -> int:
    """A finished run: ``passed[p][i]`` is sample i of problem p."""
    run_id = store.create_run(kind=kind, spec=spec, task="humaneval", dataset=INFO)
    keys = [(f"HumanEval/{p}", i) for p, row in enumerate(passed) for i in range(len(row))]
    store.add_samples(run_id, [SampleRecord(t, i, "pass") for t, i in keys])
    store.add_verdicts(
        run_id,
        [
            (t, i, Verdict(key=f"{t}/{i}", status="passed" if ok else "failed"))
            for (t, i), ok in zip(keys, [ok for row in passed for ok in row], strict=True)
        ],
    )
    n_samples = sum(len(row) for row in passed)
    n_passed = sum(ok for row in passed for ok in row)
    store.finish_run(
        run_id,
        summary={
            "task": "humaneval",
            "n_problems": len(passed),
            "n_samples": n_samples,
            "pass@1": n_passed / n_samples,
        },
    )
    return run_id


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "runs.sqlite"
    with Store(path) as db:
        ids = {
            # recorded before names existed: shown by its model
            "old": _add_run(db, {"model": "codellama-7b", "n": 1}, [[True], [False]]),
            "cold": _add_run(
                db,
                {"model": "codellama-7b", "name": "cl-cold", "n": 2, "temperature": 0.2},
                [[True, True], [False, False]],
            ),
            "hot": _add_run(
                db,
                {"model": "codellama-7b", "name": "cl-hot", "n": 2, "temperature": 0.8},
                [[True, False], [False, False]],
            ),
            "long": _add_run(
                db,
                {"samples": "/x/samples.jsonl", "name": LONG},
                [[True, True, True], [True, False, False]],
                kind="evaluate",
            ),
        }
    return path, ids


def _tsv(text: str) -> tuple[list[str], list[list[str]]]:
    """(comment lines, rows split on tabs) of a TSV block."""
    lines = text.splitlines()
    return [x for x in lines if x.startswith("# ")], [
        x.split("\t") for x in lines if not x.startswith("# ")
    ]


def test_runs_piped_is_tsv_with_every_column_and_whole_names(
    store: tuple[Path, dict[str, int]],
) -> None:
    path, ids = store
    # A 40-column terminal would fold or cut every name; a pipe gets them whole.
    result = runner.invoke(app, ["runs", "--store", str(path)], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.stderr
    comments, rows = _tsv(result.stdout)
    assert comments == [f"# runs in {path} (pass@k in %)"]
    assert rows[0] == HEADER
    by_id = {int(r[0]): dict(zip(HEADER, r, strict=True)) for r in rows[1:]}
    assert list(by_id) == sorted(ids.values(), reverse=True)  # newest first
    long = by_id[ids["long"]]
    assert long["name"] == LONG and long["model"] == "—" and long["kind"] == "evaluate"
    assert long["n"] == "3" and long["judged"] == "6/6" and long["pass@1"] == "66.67"
    hot = by_id[ids["hot"]]
    assert (hot["name"], hot["model"], hot["task"], hot["n"]) == (
        "cl-hot",
        "codellama-7b",
        "humaneval",
        "2",
    )
    assert hot["pass@1"] == "25.00" and hot["status"] == "finished"
    assert len(hot["date"]) == 16 and hot["date"][4] == "-"
    assert by_id[ids["old"]]["name"] == "codellama-7b"  # no name recorded: the model
    assert "…" not in result.stdout


def test_a_narrow_terminal_folds_names_and_never_cuts_a_cell(
    store: tuple[Path, dict[str, int]],
) -> None:
    path, _ = store
    env = {"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "60"}
    drawn = runner.invoke(app, ["runs", "--store", str(path)], env=env)
    assert drawn.exit_code == 0, drawn.stderr
    body = [line for line in drawn.stdout.splitlines() if line.startswith("│")]
    assert body and all(line.endswith("│") and len(line) <= 60 for line in body)  # not cropped
    names = "".join(line.split("│")[2].strip() for line in body)
    assert LONG in names and "cl-hot" in names


def test_show_names_the_run(store: tuple[Path, dict[str, int]]) -> None:
    path, ids = store
    shown = runner.invoke(app, ["show", str(ids["hot"]), "--store", str(path)])
    assert shown.exit_code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "name\tcl-hot" in lines and "model\tcodellama-7b" in lines


def test_runs_json_carries_the_same_columns(store: tuple[Path, dict[str, int]]) -> None:
    path, ids = store
    result = runner.invoke(app, ["runs", "--store", str(path), "--json"])
    assert result.exit_code == 0, result.stderr
    listed = {r["id"]: r for r in json.loads(result.stdout)}
    hot, long = listed[ids["hot"]], listed[ids["long"]]
    assert {k: hot[k] for k in ("name", "model", "task", "n", "pass@1", "status")} == {
        "name": "cl-hot",
        "model": "codellama-7b",
        "task": "humaneval",
        "n": 2,
        "pass@1": 0.25,
        "status": "finished",
    }
    assert hot["date"] == hot["created"].replace("T", " ")[:16]
    assert (long["name"], long["model"], long["n"]) == (LONG, None, 3)


def test_compare_finds_runs_by_name_and_labels_them_so(
    store: tuple[Path, dict[str, int]],
) -> None:
    path, ids = store
    both = runner.invoke(
        app, ["compare", "cl-cold", "cl-hot", "--store", str(path), "--format", "json"]
    )
    assert both.exit_code == 0, both.stderr
    board = json.loads(both.stdout)["leaderboard"]
    assert sorted((r["run_id"], r["model"]) for r in board) == [
        (ids["cold"], "cl-cold"),
        (ids["hot"], "cl-hot"),
    ]
    # Nothing is named codellama-7b but the old run (its name is its model): it alone.
    by_model = runner.invoke(
        app, ["compare", "codellama-7b", "--store", str(path), "--format", "json"]
    )
    assert by_model.exit_code == 0, by_model.stderr
    assert [r["run_id"] for r in json.loads(by_model.stdout)["leaderboard"]] == [ids["old"]]
    by_long = runner.invoke(app, ["compare", LONG, "--store", str(path), "--format", "json"])
    assert [r["model"] for r in json.loads(by_long.stdout)["leaderboard"]] == [LONG]

    # The table format, piped: TSV, names whole (compare prints through the shared console).
    table = runner.invoke(app, ["compare", "cl-cold", LONG, "--store", str(path)])
    assert table.exit_code == 0, table.stderr
    rows = [line.split("\t") for line in table.stdout.splitlines() if "\t" in line]
    assert any(LONG in row for row in rows) and any("cl-cold" in row for row in rows)

    unknown = runner.invoke(app, ["compare", "cl-warm", "--store", str(path)])
    assert unknown.exit_code == 2
    assert "no run id or model 'cl-warm'" in unknown.stderr and "named" in unknown.stderr


def test_report_labels_use_the_name(store: tuple[Path, dict[str, int]]) -> None:
    from codeduel.report.data import label_for

    path, ids = store
    with Store(path) as db:
        label = label_for(db.get_run(ids["hot"]))
    assert label.model == "cl-hot" and "cl-hot" in label.short


def test_a_name_cannot_drive_the_terminal_or_break_the_tsv(tmp_path: Path) -> None:
    path = tmp_path / "evil.sqlite"
    with Store(path) as db:
        evil = _add_run(db, {"model": EVIL, "name": EVIL, "n": 1}, [[True]])
    piped = runner.invoke(app, ["runs", "--store", str(path)])
    assert piped.exit_code == 0, piped.stderr
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in piped.stdout
    _, rows = _tsv(piped.stdout)
    assert len(rows) == 2 and all(len(r) == len(HEADER) for r in rows)  # no fake row, column
    shown = "evil\\u001b[2J\\u001b]0;pwned\\u0007\\tfake column\\nfake row\\u202e"
    assert rows[1][:3] == [str(evil), shown, shown]

    # Drawn for a terminal (rich's TTY_COMPATIBLE=1): styles are escape codes, the name's are
    # not, and its line break does not start a row of its own.
    drawn = runner.invoke(
        app, ["runs", "--store", str(path)], env={"TTY_COMPATIBLE": "1", "COLUMNS": "400"}
    )
    assert drawn.exit_code == 0, drawn.stderr
    assert "│" in drawn.stdout  # a drawn table, not TSV
    for raw in ("\x1b[2J", "\x1b]0;", "\x07", "\u202e", "\t"):
        assert raw not in drawn.stdout
    assert shown in drawn.stdout
    row_lines = [line for line in drawn.stdout.splitlines() if "pwned" in line or "fake" in line]
    assert len(row_lines) == 1


def test_store_rename_keeps_the_resume_key(tmp_path: Path) -> None:
    """A renamed run is the same run: its key (what a rerun resumes by) does not change."""
    spec = {"model": "codellama-7b", "n": 1}
    key = spec_key(spec)
    with Store(tmp_path / "s.sqlite") as db:
        run_id, resumed = db.resume_or_create(kind="run", key=key, spec={**spec, "name": "a"})
        db.fail_run(run_id, KeyboardInterrupt())
        db.rename_run(run_id, "b")
        again, resumed = db.resume_or_create(kind="run", key=key, spec={**spec, "name": "c"})
        assert (again, resumed) == (run_id, True)
        assert db.get_run(run_id).spec == {"key": key, **spec, "name": "b"}


@pytest.mark.parametrize(
    ("name", "needle"),
    [("42", "all digits and would read as a run id"), ("  ", "empty --name")],
)
def test_bad_name_is_one_line_before_any_model_loads(name: str, needle: str) -> None:
    result = runner.invoke(app, ["run", "--name", name, "--limit", "1"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr


@pytest.mark.timeout(900)
def test_run_name_defaults_to_the_model_and_a_renamed_rerun_resumes(tmp_path: Path) -> None:
    """The embedded model, for real: a run's name is its model unless --name says otherwise,
    and rerunning an interrupted run under a new name resumes it (the same id, its samples
    kept) and renames it, since the name is not part of what the run is."""
    path = tmp_path / "runs.sqlite"
    args = ["run", "--limit", "1", "--max-new-tokens", "32", "--store", str(path), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    made = json.loads(first.stdout)
    assert made["name"] == made["model"] == made["spec"]["model"]
    with Store(path) as db:
        assert db.get_run(made["run_id"]).spec["name"] == made["model"]
        db.fail_run(made["run_id"], KeyboardInterrupt())

    again = runner.invoke(app, [*args, "--name", "tiny-greedy"])
    assert again.exit_code == 0, again.stderr
    resumed = json.loads(again.stdout)
    assert (resumed["run_id"], resumed["resumed"], resumed["name"]) == (
        made["run_id"],
        True,
        "tiny-greedy",
    )
    with Store(path) as db:
        (record,) = db.list_runs()
    assert record.spec["name"] == "tiny-greedy" and record.summary["name"] == "tiny-greedy"
    listed = runner.invoke(app, ["runs", "--store", str(path)])
    _, rows = _tsv(listed.stdout)
    assert rows[1][1:3] == ["tiny-greedy", made["model"]]
