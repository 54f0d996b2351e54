"""Self-instruct data generation: answer parsing, dedup, decontamination, export, end to end.

The parsing, dedup and decontamination tests are pure functions on real benchmark text. The
end-to-end test runs the embedded Qwen2.5-Coder-0.5B-Instruct model (questioner and coder),
the real sandbox and the real store: it interrupts a job after its questions and tests exist,
resumes it through the CLI, checks nothing stored was generated again, and re-scores the kept
records with ``codeduel evaluate``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeduel.api import evaluate
from codeduel.cli import app
from codeduel.errors import DatasetError
from codeduel.execution.pool import LocalExecutor
from codeduel.flows.selfinstruct import (
    export,
    hint_for,
    parse_question,
    parse_solution,
    parse_tests,
    selfinstruct,
)
from codeduel.flows.selfinstruct.dedup import (
    Decontaminator,
    benchmark_decontaminator,
    find_duplicates,
)
from codeduel.models import Model, load_model
from codeduel.records.store import Store
from codeduel.tasks import get_task
from codeduel.tasks.selfinstruct import judge_program

runner = CliRunner()

# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "**Question 1:** Write a function that adds two numbers.\n\nIt should work.",
            "Write a function that adds two numbers.",
        ),
        (
            "Describe the problem: Given a list, return its second largest element.",
            "Given a list, return its second largest element.",
        ),
        (
            "1. Write a function that reverses a string.\n```python\ndef f(s): ...\n```",
            "Write a function that reverses a string.",
        ),
        ("Write a function f: it returns the sum of a list.", None),  # kept whole, see below
        ("ok", None),
        ("```python\nprint(1)\n```", None),
    ],
)
def test_parse_question(raw: str, expected: str | None) -> None:
    got = parse_question(raw)
    if raw.startswith("Write a function f:"):
        assert got == raw  # a colon inside the question is not a label
    else:
        assert got == expected


def test_hints_are_seeded_and_varied() -> None:
    assert hint_for(0, 3) == hint_for(0, 3)
    assert len({hint_for(0, i)["topic"] for i in range(20)}) > 5


TESTS_ANSWER = """[TESTS]
# Test case 1:
assert add([1, 2]) == 3
# Test case 2:
import math
assert add([]) == 0
# Test case 3:
assert math.isclose(add([0.5, 0.25]), 0.75)
# Test case 4:
assert add([1, 2, 3]) ==
"""


def test_parse_tests_salvages_complete_asserts() -> None:
    parsed = parse_tests(TESTS_ANSWER, max_tests=5)
    assert parsed.ok and parsed.entry_point == "add"
    assert parsed.imports == ["import math"]
    assert len(parsed.asserts) == 3  # the last one was cut by the token limit
    assert parsed.code.startswith("import math\nassert add([1, 2]) == 3\n")
    assert len(parse_tests(TESTS_ANSWER, max_tests=2).asserts) == 2


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("[TESTS]\n# Test case 1:\nprint(add(1))\n[/TESTS]", "no assert statement parses"),
        ("no tags and no code at all", "no assert statement parses"),
        ("[TESTS]\nassert len([1]) == 1\n[/TESTS]", "asserts call no function"),
        ("assert get_unique_elements([1, 1]) == [1]", "tests copy the prompt's example"),
    ],
)
def test_parse_tests_rejects(answer: str, error: str) -> None:
    parsed = parse_tests(answer, max_tests=5)
    assert not parsed.ok and parsed.error == error


def test_parse_tests_fenced_block() -> None:
    parsed = parse_tests("[TESTS]\n```python\nassert f(1) == 2\n```\n[/TESTS]", 5)
    assert parsed.ok and parsed.asserts == ["assert f(1) == 2"]


def test_parse_solution_strips_fences_inside_tags() -> None:
    code, method = parse_solution("[PYTHON]\n```python\ndef f(x):\n    return x\n```\n", "f")
    assert method == "python-tag" and code == "def f(x):\n    return x"


# -- duplicates --------------------------------------------------------------------------------

LONG_Q = (
    "Write a function that takes a list of meeting intervals given as pairs of start and end "
    "times and returns the minimum number of conference rooms needed so that no two meetings "
    "that overlap in time share the same room"
)


def test_find_duplicates_exact_near_distinct() -> None:
    texts = [
        LONG_Q,
        LONG_Q.upper() + "!!",  # exact after normalisation
        LONG_Q.replace("minimum", "smallest"),  # one word changed: near
        "Write a function that returns the n-th Fibonacci number using memoization.",
        "Write a function that checks whether a string is a palindrome ignoring case.",
    ]
    dups = find_duplicates(texts)
    assert dups.status == [None, ("exact", 0), ("near", 0), None, None]
    assert (dups.exact, dups.near) == (1, 1)


# -- decontamination on real HumanEval and MBPP text --------------------------------------------


@pytest.fixture(scope="module")
def deco() -> Decontaminator:
    return benchmark_decontaminator(("humaneval", "mbpp"), os.environ.get("CODEDUEL_DATA_DIR"))


def test_lightly_edited_benchmark_questions_are_flagged(deco: Decontaminator) -> None:
    he = {p.task_id: p for p in get_task("humaneval").problems()}
    mbpp = {p.task_id: p for p in get_task("mbpp").problems()}
    assert "any two numbers closer to each other than" in he["HumanEval/0"].prompt
    edited_he = (
        "Check whether, in a given list of numbers, any two numbers are closer to each other "
        "than the given threshold."
    )
    match = deco.text_match(edited_he)
    assert match is not None and match.source == "HumanEval/0"
    assert mbpp["Mbpp/11"].prompt.startswith("Write a python function to remove first and last")
    edited_mbpp = (
        "Write a function that removes the first and last occurrence of a given character "
        "from a string."
    )
    match = deco.text_match(edited_mbpp)
    assert match is not None and match.source == "Mbpp/11"


@pytest.mark.parametrize(
    "question",
    [
        "Write a function that returns the minimum number of conference rooms needed for a list "
        "of meeting intervals.",
        "Given a grid of 0s and 1s, count the islands of 1s connected horizontally or vertically.",
        "Write a function that converts a duration in seconds to a string like '1h 02m 03s'.",
    ],
)
def test_unrelated_questions_are_not_flagged(deco: Decontaminator, question: str) -> None:
    assert deco.text_match(question) is None


def test_benchmark_solutions_are_flagged_in_code(deco: Decontaminator) -> None:
    mbpp = {p.task_id: p for p in get_task("mbpp").problems()}
    reference = mbpp["Mbpp/11"].reference
    reformatted = "\n".join(line.rstrip() + "  " for line in reference.splitlines())
    match = deco.code_match(reformatted)
    assert match is not None and match.source == "Mbpp/11"
    own = (
        "def rooms(intervals):\n"
        "    events = sorted(x for s, e in intervals for x in ((s, 1), (e, -1)))\n"
        "    best = cur = 0\n"
        "    for _, d in events:\n"
        "        cur += d\n"
        "        best = max(best, cur)\n"
        "    return best\n"
    )
    assert deco.code_match(own) is None


# -- export and re-scoring without a model ------------------------------------------------------


def _record(qid: str, solution: str) -> dict:
    return {
        "id": qid,
        "messages": [
            {"role": "user", "content": "Add two numbers."},
            {"role": "assistant", "content": f"[PYTHON]\n{solution}\n[/PYTHON]"},
        ],
        "question": "Add two numbers.",
        "solution": solution,
        "tests": "import math\nassert add(1, 2) == 3\nassert math.isclose(add(0.5, 0.25), 0.75)\n",
        "entry_point": "add",
        "solution_index": 0,
        "pass_rate": 1.0,
    }


def test_export_is_scored_by_evaluate(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    records = [_record("q00000", "def add(a, b):\n    return a + b")]
    files = export(records, {"kept": 1}, out)
    train = [json.loads(line) for line in Path(files["train"]).read_text().splitlines()]
    assert train[0]["messages"][0]["role"] == "user"
    result = evaluate(files["samples"], "selfinstruct", data_dir=out, k=(1,))
    assert result.pass_at_k["pass@1"] == 1.0 and result.modes == {"concat": 1}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"task_id": "q00000", "solution": "def add(a, b):\n    return a"}))
    assert evaluate(bad, "selfinstruct", data_dir=out, k=(1,)).pass_at_k["pass@1"] == 0.0


def test_export_hugging_face_copy(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    records = [_record("q00000", "def add(a, b):\n    return a + b")]
    files = export(records, {"kept": 1}, tmp_path, save_hf=True)
    loaded = datasets.load_from_disk(files["hf"])
    assert loaded[0]["id"] == "q00000" and loaded[0]["messages"][1]["role"] == "assistant"


def test_selfinstruct_task_needs_its_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="--data-dir"):
        get_task("selfinstruct")
    with pytest.raises(DatasetError, match="no self-instruct problems"):
        get_task("selfinstruct", tmp_path)


# -- CLI errors --------------------------------------------------------------------------------


def _one_line_error(result, needle: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
    assert "Traceback" not in result.stderr


def test_cli_bad_inputs(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        (["-o", str(tmp_path / "a"), "--questions", "0"], "invalid --questions 0"),
        (["-o", str(tmp_path / "a"), "--solutions", "0"], "invalid --solutions 0"),
        (["-o", str(tmp_path / "a"), "--max-new-tokens", "0"], "invalid --max-new-tokens 0"),
        (["-o", str(tmp_path / "a"), "--top-p", "1.5"], "invalid decoding parameters"),
        (["-o", str(tmp_path / "a"), "--decontaminate", "nope"], "unknown task 'nope'"),
        (["-o", str(blocker / "sub")], "not writable"),
        (["-o", str(tmp_path / "a"), "--coder", "nosuch:model"], "unknown model backend"),
        (["-o", str(tmp_path / "a"), "--questioner", "no-such-preset"], "unknown model preset"),
    ]
    for args, needle in cases:
        _one_line_error(runner.invoke(app, ["selfinstruct", *args]), needle)


# -- end to end on the embedded model -----------------------------------------------------------

E2E = {
    "questions": 3,
    "tests": 2,
    "solutions": 3,
    "seed": 1,
    "question_max_tokens": 64,
    "tests_max_tokens": 96,
    "max_new_tokens": 128,
}
SPEC = "embedded:qwen2.5-coder-0.5b-instruct"


@pytest.fixture(scope="module")
def model() -> Iterator[Model]:
    with load_model(SPEC) as m:
        yield m


class _Stop(KeyboardInterrupt):
    """Ctrl-C, delivered when the solutions phase begins."""


@pytest.mark.timeout(900)
def test_end_to_end_interrupt_resume_and_rescore(
    tmp_path: Path, model: Model, data_dir: Path, isolated_store: Path
) -> None:
    out = tmp_path / "ds"
    phases: list[tuple[str, int, int]] = []

    def interrupt(phase: str, done: int, total: int) -> None:
        phases.append((phase, done, total))
        if phase == "solutions":
            raise _Stop

    with pytest.raises(KeyboardInterrupt, match="interrupted: run"):  # the CLI's message
        selfinstruct(
            SPEC,
            SPEC,
            **E2E,
            output=out,
            questioner_model=model,
            coder_model=model,
            progress=interrupt,
            data_dir=data_dir,
        )
    assert [p for p, _, _ in phases][:1] == ["questions"] and phases[-1][0] == "solutions"
    with Store(isolated_store) as db:
        (run,) = db.list_runs()
        assert run.kind == "selfinstruct" and run.status == "failed"
        before = {(s.task_id, s.sample_idx): s.raw_output for s in db.samples(run.id)}
    n_questions = sum(1 for tid, _ in before if tid.endswith("/question"))
    n_tests = sum(1 for tid, _ in before if tid.endswith("/tests"))
    assert n_questions == E2E["questions"] and not any("/solution" in t for t, _ in before)

    # Resume through the CLI: same job, nothing stored is generated again.
    args = [f"--{k.replace('_', '-')}={v}" for k, v in E2E.items()]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codeduel.cli",
            "selfinstruct",
            "-o",
            str(out),
            "--questioner",
            SPEC,
            "--coder",
            SPEC,
            *args,
            "--data-dir",
            str(data_dir),
            "--json",
        ],
        env={**os.environ, "CODEDUEL_STORE": str(isolated_store)},
        capture_output=True,
        text=True,
        timeout=850,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["resumed"] and result["run_id"] == run.id
    assert result["generated_now"]["questions"] == 0 and result["generated_now"]["tests"] == 0
    with Store(isolated_store) as db:
        after = {(s.task_id, s.sample_idx): s.raw_output for s in db.samples(run.id)}
        verdicts = {(v.task_id, v.sample_idx): v for v in db.verdicts(run.id)}
        assert db.get_run(run.id).status == "finished"
    assert {k: after[k] for k in before} == before  # stored answers untouched

    # The counts add up: every question ends in exactly one place.
    buckets = (
        "unusable_questions",
        "exact_duplicates",
        "near_duplicates",
        "contaminated_questions",
        "tests_failing_to_parse",
        "no_passing_solution",
        "contaminated_solutions",
        "kept",
    )
    assert sum(result[b] for b in buckets) == result["questions_generated"] == E2E["questions"]
    with_tests = result["questions_generated"] - sum(result[b] for b in buckets[:5])
    assert result["solutions_run"] == with_tests * E2E["solutions"] == len(verdicts)
    assert result["generated_now"]["solutions"] == result["solutions_run"]
    assert n_tests == with_tests + result["tests_failing_to_parse"]
    assert sum(v.passed for v in verdicts.values()) == result["solutions_passed"]

    # Every stored verdict is reproduced by judging the stored solution again.
    with Store(isolated_store) as db:
        rows = {(s.task_id, s.sample_idx): s for s in db.samples(run.id)}
    programs = []
    for tid, idx in verdicts:
        q = tid.split("/")[0]
        programs.append(
            judge_program(
                rows[(tid, idx)].completion or "",
                rows[(f"{q}/tests", 0)].completion or "",
                f"{tid}#{idx}",
            )
        )
    executor = LocalExecutor(workers=2)
    try:
        again = {v.key: v.passed for v in executor.run(programs)}
    finally:
        executor.close()
    assert again == {f"{t}#{i}": v.passed for (t, i), v in verdicts.items()}

    # The exported data: chat records, and every kept solution re-passes under `evaluate`.
    train = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert len(train) == result["kept"]
    for rec in train:
        assert [m["role"] for m in rec["messages"]] == ["user", "assistant"]
        assert rec["messages"][1]["content"] == f"[PYTHON]\n{rec['solution']}\n[/PYTHON]"
    if train:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "codeduel.cli",
                "evaluate",
                str(out / "samples.jsonl"),
                "--task",
                "selfinstruct",
                "--data-dir",
                str(out),
                "--k",
                "1",
                "--json",
            ],
            env={**os.environ, "CODEDUEL_STORE": str(isolated_store)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        scored = json.loads(proc.stdout)
        assert scored["n_problems"] == len(train) and scored["pass@1"] == 1.0
