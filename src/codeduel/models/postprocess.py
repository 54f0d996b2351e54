"""Turn raw model output into the code that gets executed, keeping both.

Silent zeros in today's harnesses come mostly from here: a stop word that cuts too early, a
chat answer whose code block was not found, a thinking block mistaken for code. Every function
returns what it did (which stop fired, which extraction rule matched) so the store can keep the
raw text beside the extracted code and the report can count extraction failures.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

# Reasoning models wrap their scratchpad in one of these; an unclosed block runs to the end.
_THINK = re.compile(r"<(think|thinking|reasoning)>.*?(?:</\1>|\Z)", re.DOTALL | re.IGNORECASE)
_PYTHON_TAG = re.compile(r"\[PYTHON\](.*?)(?:\[/PYTHON\]|\Z)", re.DOTALL)
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.M)
_PY_LANGS = {"", "python", "py", "python3", "py3"}


@dataclass(frozen=True)
class Truncation:
    """Text cut at the earliest stop sequence; ``stop`` is the one that fired, if any."""

    text: str
    stop: str | None


def truncate_at_stops(text: str, stops: list[str] | tuple[str, ...]) -> Truncation:
    """Cut ``text`` before the earliest occurrence of any stop sequence (ties: longest stop)."""
    best: tuple[int, int, str] | None = None
    for stop in stops:
        if not stop:
            continue
        pos = text.find(stop)
        if pos >= 0 and (best is None or (pos, -len(stop)) < (best[0], best[1])):
            best = (pos, -len(stop), stop)
    if best is None:
        return Truncation(text, None)
    return Truncation(text[: best[0]], best[2])


@dataclass(frozen=True)
class Extraction:
    """Code pulled out of a chat answer, and the rule that found it (``none`` = failure)."""

    code: str
    method: str

    @property
    def ok(self) -> bool:
        return self.method != "none"


def strip_thinking(text: str) -> str:
    """Drop reasoning blocks (``<think>...</think>``, unclosed ones to the end of the text)."""
    return _THINK.sub("", text)


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def extract_code(answer: str, entry_point: str | None = None) -> Extraction:
    """Find the program in a chat answer.

    Order: ``[PYTHON]`` tags (Code Llama Instruct's format), then fenced blocks (the Python
    block that defines ``entry_point`` if one does, else the first Python block, else the first
    block), then the whole answer if it parses as Python. Thinking blocks are removed first.
    """
    text = strip_thinking(answer)
    tagged = [m.group(1).strip("\n") for m in _PYTHON_TAG.finditer(text)]
    if tagged:
        return Extraction(_pick(tagged, entry_point), "python-tag")
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    if blocks:
        python = [code for lang, code in blocks if lang in _PY_LANGS]
        return Extraction(_pick(python or [code for _, code in blocks], entry_point), "fence")
    stripped = text.strip("\n")
    if stripped.strip() and _parses(stripped):
        return Extraction(stripped, "plain")
    return Extraction(text, "none")


def _pick(candidates: list[str], entry_point: str | None) -> str:
    if entry_point:
        for code in candidates:
            if _defines(code, entry_point):
                return code
    return candidates[0]
