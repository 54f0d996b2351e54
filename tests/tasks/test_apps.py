"""APPS's data layer, read from a fixture in codeparrot/apps's test.jsonl format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeduel.errors import CodeduelError, DatasetError, SamplesError
from codeduel.tasks import get_task, task_names
from codeduel.tasks.hub import UnpublishedDataWarning, combined_sha256, file_sha256

FIXTURES = Path(__file__).parent / "fixtures"
APPS = FIXTURES / "apps"


def load(data_dir: Path = FIXTURES, **options: object):
    with pytest.warns(UnpublishedDataWarning, match="pins no published sha256"):
        return get_task("apps", data_dir, **options)


def test_registered() -> None:
    names = task_names()
    assert "apps" in names and "livecodebench" in names


def test_problems_ids_and_meta() -> None:
    task = load()
    assert [p.task_id for p in task.problems()] == [str(i) for i in range(9001, 9007)]
    p = task.get(9003)
    assert task.get("9003") is p and task.get("09003") is p
    assert p.prompt.startswith("Implement Solution.maxPair")
    assert p.entry_point == "maxPair"
    assert p.reference.startswith("class Solution:")
    assert p.meta == {
        "difficulty": "competition",
        "starter_code": "class Solution:\n    def maxPair(self, a: int, b: int) -> int:\n        ",
        "fn_name": "maxPair",
        "title": "",
        "url": "https://example.com/apps/9003",
    }
    stdin = task.get(9001)
    assert stdin.entry_point is None and stdin.meta["fn_name"] is None
    assert stdin.reference == "a, b = map(int, input().split())\nprint(a + b)\n"


def test_dataset_info_records_the_unpublished_sha256() -> None:
    info = load().dataset()
    assert info.name == "apps"
    assert info.version == "unpublished"
    assert info.sha256 == combined_sha256({"test.jsonl": file_sha256(APPS / "test.jsonl")})
    assert Path(info.path) == APPS


def test_stdin_suite_joins_lists_of_lines_as_apps_does() -> None:
    task = load()
    suite = task.suite(task.get(9001))
    assert suite.kind == "stdin"
    assert suite.compare == "apps"
    assert suite.timeout_s == 4.0
    assert suite.fn_name is None
    assert [(c.input, c.output) for c in suite.cases] == [
        ("1 2\n", "3\n"),
        ("3 4", "7"),
        ("-5 5\n", "0\n"),
    ]
    floats = task.suite(task.get(9004))
    assert [c.output for c in floats.cases] == ["0.333333\n", "3.333333\n"]


def test_call_suites_keep_apps_raw_values() -> None:
    task = load()
    plain = task.suite(task.get(9002))
    assert plain.kind == "call" and plain.fn_name == "double_all"
    assert [(c.input, c.output) for c in plain.cases] == [
        ([[1, 2, 3]], [[2, 4, 6]]),
        ([[]], [[]]),
        ([[-4]], [[-8]]),
    ]
    method = task.suite(task.get(9003))
    assert [(c.input, c.output) for c in method.cases] == [
        ([1, 5], [5]),
        ([7, -2], [7]),
        ([3, 3], [3]),
    ]
    keyed = task.suite(task.get(9006))  # JSON's string keys; the judge's "apps" rule undoes them
    assert keyed.cases[0].input == [{"1": 2, "3": 4}]
    assert keyed.cases[0].output == [14]


def test_difficulty_filter() -> None:
    task = load(difficulty="Interview")
    assert [p.task_id for p in task.problems()] == ["9002", "9004"]
    with pytest.raises(SamplesError, match="9001 is filtered out: it is introductory") as err:
        task.get(9001)
    assert "\n" not in str(err.value)
    assert [p.task_id for p in load(difficulty="competition").problems()] == ["9003"]


def test_unknown_id_and_bad_options() -> None:
    task = load()
    with pytest.raises(SamplesError, match="not a problem of apps") as err:
        task.get(12)
    assert "problem_id" in str(err.value)
    with pytest.raises(DatasetError, match="unknown APPS difficulty 'hard'") as bad:
        get_task("apps", FIXTURES, difficulty="hard")
    assert "introductory, interview, competition" in str(bad.value)
    with pytest.raises(CodeduelError, match="has no option 'release'"):
        get_task("apps", FIXTURES, release="v1")


def test_missing_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"apps/test\.jsonl not found") as err:
        get_task("apps", tmp_path)
    message = str(err.value)
    assert "codeparrot/apps" in message and "--data-dir" in message
    assert "\n" not in message


def test_large_output_read_on_demand(tmp_path: Path) -> None:
    """A 200,000-line expected output (generated here, not committed) loads and decodes."""
    n = 200_000
    lines = (APPS / "test.jsonl").read_text().splitlines()
    record = json.loads(lines[4])
    io = {
        "inputs": ["5\n", f"{n}\n"],
        "outputs": ["1\n2\n3\n4\n5\n", list(map(str, range(1, n + 1)))],
    }
    record["input_output"] = json.dumps(io)
    folder = tmp_path / "apps"
    folder.mkdir()
    (folder / "test.jsonl").write_text(
        "\n".join([*lines[:4], json.dumps(record), *lines[5:]]) + "\n"
    )
    task = load(tmp_path)
    problem = task.get(9005)
    assert "input_output" not in problem.meta  # tests stay on disk until judged
    suite = task.suite(problem)
    big = suite.cases[1]
    assert big.input == f"{n}\n"
    assert big.output.count("\n") == n - 1
    assert big.output.startswith("1\n2\n") and big.output.endswith(f"\n{n}")
    assert task.suite(task.get(9006)).kind == "call"  # later lines still found by offset


def test_corrupt_line_is_a_dataset_error(tmp_path: Path) -> None:
    folder = tmp_path / "apps"
    folder.mkdir()
    (folder / "test.jsonl").write_text('{"problem_id": 1, "question": "q"\n')
    with (
        pytest.raises(DatasetError, match="line 1 is not JSON"),
        pytest.warns(UnpublishedDataWarning),
    ):
        get_task("apps", tmp_path)
