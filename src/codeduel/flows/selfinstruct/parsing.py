"""Parsing the models' answers: one question, the ``[TESTS]`` asserts, the ``[PYTHON]``
solution; whatever does not parse drops the question with a recorded reason."""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass

from codeduel.execution.pyparse import parse_untrusted, unparse_untrusted
from codeduel.flows.selfinstruct.prompts import EXAMPLE_ENTRY_POINT
from codeduel.models.postprocess import extract_code
from codeduel.tasks.selfinstruct import (
    tests_code,
)

_LABEL = re.compile(r"^\s*(?:[-*#>]+\s*)?(?:\*\*)?(?:[A-Za-z]+[ \t]*){1,3}\d*[ \t]*:(?:\*\*)?\s+")
_NUMBER = re.compile(r"^\s*(?:\d+[.)]|[-*])\s+")
_CUT = re.compile(r"```|\[PYTHON\]|\[TESTS\]|^\s*(?:\*\*)?(?:solution|answer|example)", re.I | re.M)
MIN_QUESTION_CHARS = 20
MAX_QUESTION_CHARS = 1200


def parse_question(raw: str) -> str | None:
    """The question in a questioner's answer, or None when there is no usable one.

    Keeps the first paragraph, drops a leading label ("Question 1:", "**Problem:**", "Describe
    the problem:") or list number, cuts at the first code block or "Solution", and rejects
    answers shorter than 20 or longer than 1200 characters.
    """
    text = raw.strip()
    cut = _CUT.search(text)
    if cut is not None:
        text = text[: cut.start()]
    text = _LABEL.sub("", text, count=1)
    text = _NUMBER.sub("", text, count=1)
    text = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]  # the first paragraph only
    text = re.sub(r"\s+", " ", text).strip().strip('*"').strip()
    if not MIN_QUESTION_CHARS <= len(text) <= MAX_QUESTION_CHARS:
        return None
    if not re.search(r"[A-Za-z]{3,}", text):
        return None
    return text


@dataclass(frozen=True)
class ParsedTests:
    """Tests from a ``[TESTS]`` block: imports, asserts, and the function the asserts call."""

    imports: list[str]
    asserts: list[str]
    entry_point: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def code(self) -> str:
        return tests_code(self.imports, self.asserts)


_TESTS_TAG = re.compile(r"\[TESTS\](.*?)(?:\[/TESTS\]|\Z)", re.S)
_BUILTINS = frozenset(dir(builtins))


def _strip_fences(code: str) -> str:
    return "\n".join(line for line in code.splitlines() if not line.strip().startswith("```"))


def _called_names(node: ast.AST) -> list[str]:
    return [
        n.func.id
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id not in _BUILTINS
    ]


def parse_tests(answer: str, max_tests: int) -> ParsedTests:
    """Parse the tests of a coder answer (text after the prefilled ``[TESTS]`` included).

    The block is parsed as Python; if it does not parse as a whole (typically a last assert cut
    by the token limit), each top-level ``assert`` line that parses on its own is kept. Only
    top-level asserts and imports count; the first ``max_tests`` asserts are kept. The entry
    point is the non-builtin function most asserts call; tests of the one-shot example's own
    function (a small model copies it) are rejected too.
    """
    match = _TESTS_TAG.search(answer)
    block = _strip_fences(match.group(1) if match else answer)
    tree = parse_untrusted(block)
    if tree is not None:
        statements = tree.body
    else:
        statements = []
        for line in block.splitlines():
            if line.startswith(("assert ", "import ", "from ")):
                one = parse_untrusted(line)
                if one is not None:
                    statements.extend(one.body)
    imports = [ast.unparse(s) for s in statements if isinstance(s, ast.Import | ast.ImportFrom)]
    asserts = [s for s in statements if isinstance(s, ast.Assert)][:max_tests]
    if not asserts:
        return ParsedTests(imports, [], None, "no assert statement parses")
    shown = [unparse_untrusted(a) for a in asserts]
    kept = [text for text in shown if text is not None]
    if len(kept) < len(asserts):
        return ParsedTests(imports, kept, None, "an assert nests too deeply to read")
    counts: dict[str, int] = {}
    for a in asserts:
        for name in dict.fromkeys(_called_names(a)):
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return ParsedTests(imports, kept, None, "asserts call no function")
    entry = max(counts, key=lambda name: counts[name])  # first of the most called, in order
    if entry == EXAMPLE_ENTRY_POINT:
        return ParsedTests(imports, kept, entry, "tests copy the prompt's example")
    return ParsedTests(imports, kept, entry)


def parse_solution(answer: str, entry_point: str | None) -> tuple[str, str]:
    """``(code, extraction method)`` of a coder answer (text after ``[PYTHON]`` included)."""
    extraction = extract_code(answer, entry_point)
    return _strip_fences(extraction.code).strip("\n"), extraction.method


# -- spec, result ------------------------------------------------------------------------------
