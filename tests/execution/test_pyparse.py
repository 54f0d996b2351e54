"""Candidate text parsed by the trusted side (sanitizing chat output, HumanEval's helper check,
self-instruct's tests) can neither crash nor stall the judge: nesting that exhausts the parser
and text too long to parse here are "does not parse", and the sandbox judges the text."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from codeduel.api import evaluate
from codeduel.execution.pyparse import MAX_PARSE_CHARS, parse_untrusted, parses
from codeduel.flows.selfinstruct.parsing import parse_tests
from codeduel.models.postprocess import sanitize, strip_main_blocks

HOSTILE = {
    "attribute chain (RecursionError)": "a" + ".b" * 200_000,
    "unary chain (parser MemoryError)": "-" * 200_000 + "1",
    "sum chain (RecursionError)": "x = " + "+".join(["1"] * 100_000),
    "NUL byte (ValueError)": "def f():\n    return 1\x00\n",
    "too long to parse here": "x = 1\n" * (MAX_PARSE_CHARS // 6 + 1),
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_does_not_parse_and_raises_nothing(source: str) -> None:
    started = time.process_time()
    assert parse_untrusted(source) is None and not parses(source)
    assert strip_main_blocks(source) == source
    fenced = f"Here you go:\n```python\n{source}\n```\n"
    result = sanitize(fenced, prompt="def f():\n", entry_point="f")
    assert "markdown fences" in result.fixes
    assert time.process_time() - started < 30  # generous: a stall takes minutes, not seconds


def test_ordinary_code_still_parses() -> None:
    tree = parse_untrusted("import math\n\ndef f(x):\n    return math.sqrt(x)\n")
    assert tree is not None and len(tree.body) == 2


@pytest.mark.parametrize("depth", [900, 100_000], ids=["parses, too deep to unparse", "too deep"])
def test_selfinstruct_tests_from_a_hostile_answer_are_refused(depth: int) -> None:
    answer = "```python\nassert f(" + "a" + ".b" * depth + ") == 1\nassert f(2) == 3\n```"
    parsed = parse_tests(answer, max_tests=5)  # never an exception
    assert all(".b.b" not in a for a in parsed.asserts)  # the hostile assert is never kept
    if depth == 900:  # the block parses, but cannot be shown: the answer is refused
        assert not parsed.ok and parsed.entry_point is None
    else:  # the block does not parse: asserts are read line by line, the deep one dropped
        assert parsed.asserts == ["assert f(2) == 3"]


def test_a_hostile_chat_sample_is_judged_not_a_crash(tmp_path: Path, data_dir: Path) -> None:
    """evaluate sanitizes chat-looking samples in the trusted process; a sample built to
    exhaust the parser fails its tests like any broken program, and the run finishes."""
    deep = "def has_close_elements(numbers, threshold):\n    return " + "a" + ".b" * 200_000
    rows = [
        {"task_id": "HumanEval/0", "completion": f"```python\n{deep}\n```"},
        # mentions a helper name of its own and nests deeply: HumanEval's helper check parses it
        {"task_id": "HumanEval/0", "completion": "    return " + "-" * 200_000 + "1\n"},
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = evaluate(path, "humaneval", data_dir=data_dir, store=tmp_path / "s.sqlite", k=[1])
    assert result.n_samples == 2 and result.n_passed == 0
    assert result.sanitized is not None and result.sanitized.changed >= 1
