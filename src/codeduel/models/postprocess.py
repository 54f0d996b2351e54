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

from codeduel.execution.pyparse import MAX_PARSE_CHARS, parse_untrusted, parses

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
    return parses(code)


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


# -- sanitizing samples written by other tools -----------------------------------------------
# What chat models wrap around code, and what makes a program fail before any test runs:
# markdown fences and the prose around them, ``if __name__ == "__main__":`` blocks that read
# stdin or print, and a completion that repeats the prompt's signature. evalplus's
# ``sanitize`` (evalplus/sanitize.py) solves the same problem by parsing; these rules keep the
# prompt's own preamble and never touch a sample that already parses as written.

_CODE_START = re.compile(r"^(?:from\s+\S+\s+import|import\s|def\s|async\s+def\s|class\s|@)")
_MAX_PROSE_LINES = 200  # beyond this, trimming prose line by line costs more than it saves


@dataclass(frozen=True)
class Sanitized:
    """A sample's code after sanitizing; ``fixes`` names what changed (empty: unchanged) and
    ``whole_program`` says the code now replaces the prompt instead of following it."""

    code: str
    fixes: tuple[str, ...]
    whole_program: bool


def strip_prose(text: str) -> str | None:
    """The Python program inside prose without fences ("Here is the code: ... Hope this
    helps"): from the first line that starts code to the last line that keeps it parsing; None
    when no such span parses."""
    if len(text) > MAX_PARSE_CHARS:
        return None
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _CODE_START.match(line)]
    if not starts or len(lines) > _MAX_PROSE_LINES:
        return None
    start = starts[0]
    for end in range(len(lines), start, -1):
        code = "\n".join(lines[start:end]).rstrip()
        if code and _parses(code):
            return code + "\n"
    return None


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    names = [p for p in parts if isinstance(p, ast.Name) and p.id == "__name__"]
    consts = [p for p in parts if isinstance(p, ast.Constant) and p.value == "__main__"]
    return len(parts) == 2 and len(names) == 1 and len(consts) == 1


def strip_main_blocks(code: str) -> str:
    """``code`` without its top-level ``if __name__ == "__main__":`` blocks (they read input
    or print examples, and under a harness that runs the file as ``__main__`` they run)."""
    tree = parse_untrusted(code)
    if tree is None:
        return code
    guards = [n for n in tree.body if _is_main_guard(n)]
    if not guards:
        return code
    lines = code.splitlines(keepends=True)
    drop: set[int] = set()
    for node in guards:
        end = node.end_lineno or node.lineno
        drop.update(range(node.lineno - 1, end))
    return "".join(line for i, line in enumerate(lines) if i not in drop).rstrip() + "\n"


def _defines_at_top(code: str, name: str) -> bool:
    tree = parse_untrusted(code)
    if tree is None:
        return False
    return any(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name for n in tree.body
    )


def prompt_preamble(prompt: str, entry_point: str) -> str | None:
    """What a code prompt holds before the entry point's ``def`` (imports, helper functions),
    or None when the prompt does not define ``entry_point`` (MBPP's prompts are prose)."""
    match = re.search(rf"^(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", prompt, re.M)
    if match is None:
        return None
    start = match.start()
    # decorators directly above the def belong to it
    before = prompt[:start].splitlines(keepends=True)
    while before and before[-1].lstrip().startswith("@"):
        before.pop()
    return "".join(before)


def sanitize(
    text: str,
    *,
    prompt: str = "",
    entry_point: str | None = None,
    whole_program: bool = False,
    python: bool = True,
) -> Sanitized:
    """Turn chat output into the code to judge, saying what was removed.

    Fences, ``[PYTHON]`` tags and thinking blocks go (:func:`extract_code`), then prose around
    unfenced code. For Python with an ``entry_point``: ``__main__`` blocks go, and a completion
    that defines ``entry_point`` again (it repeated the prompt's signature) becomes a whole
    program, the prompt's preamble (imports, helpers) plus the completion, with one ``def``.
    ``whole_program``: the text is already a program (``solution``), not a continuation.
    """
    fixes: list[str] = []
    code = text
    if _THINK.search(code):
        fixes.append("thinking blocks")
    extraction = extract_code(code, entry_point)
    if extraction.method in ("fence", "python-tag"):
        code = extraction.code if extraction.code.endswith("\n") else extraction.code + "\n"
        fixes.append("markdown fences" if extraction.method == "fence" else "[PYTHON] tags")
        if _has_prose(strip_thinking(text), extraction.method):
            fixes.append("prose")
    elif "thinking blocks" in fixes:
        code = strip_thinking(code)
    first = next((line for line in code.splitlines() if line.strip()), "")
    # an indented first line is a function body that continues the prompt: never trimmed
    if python and not _parses(code) and (whole_program or not first[:1].isspace()):
        found = strip_prose(code)
        if found is not None:
            code = found
            fixes.append("prose")
    if python and entry_point:
        stripped = strip_main_blocks(code)
        if stripped != code:
            code = stripped
            fixes.append("__main__ blocks")
        if not whole_program and _defines_at_top(code, entry_point):
            preamble = prompt_preamble(prompt, entry_point)
            if preamble is not None:
                code = preamble + code
                whole_program = True
                fixes.append("repeated signature")
    if not fixes:
        return Sanitized(text, (), whole_program)
    return Sanitized(code, tuple(dict.fromkeys(fixes)), whole_program)


def _has_prose(text: str, method: str) -> bool:
    """Whether words stand outside the fenced (or tagged) code."""
    pattern = _FENCE if method == "fence" else _PYTHON_TAG
    return bool(pattern.sub("", text).strip())


def looks_like_chat(text: str) -> bool:
    """Chat output: a markdown fence, a ``[PYTHON]`` tag or a thinking block."""
    return bool(
        re.search(r"^[ \t]*```", text, re.M) or _PYTHON_TAG.search(text) or _THINK.search(text)
    )
