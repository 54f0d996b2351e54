"""Parsing untrusted Python in the trusted process, without letting it crash or stall the judge.

Model output and samples files are parsed outside the sandbox (to find a fenced block, drop a
``__main__`` guard, see which helpers a completion defines). ``ast.parse`` of hostile text does
not only raise ``SyntaxError``: ``a.b.b.b...`` raises ``RecursionError``, ``- - - ... 1`` a
``MemoryError`` from the parser's stack, a NUL byte ``ValueError``, and 300,000 short lines take
2 s and 700 MB. :func:`parse_untrusted` treats all of these as "does not parse" and refuses text
over :data:`MAX_PARSE_CHARS` before parsing; the sandbox then judges the text as it is.
"""

from __future__ import annotations

import ast
import warnings

__all__ = ["MAX_PARSE_CHARS", "parse_untrusted", "parses", "unparse_untrusted"]

#: Longest text parsed in the trusted process (a real completion is a few KB; 256 KiB of short
#: statements parse in about 0.3 s and 150 MB).
MAX_PARSE_CHARS = 256 * 1024


def parse_untrusted(source: str) -> ast.Module | None:
    """The module ``source`` parses to, or None: a syntax error, text too long to parse here,
    or nesting that exhausts the parser (never an exception)."""
    if len(source) > MAX_PARSE_CHARS:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in model output
            return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def parses(source: str) -> bool:
    """Whether :func:`parse_untrusted` gives a module."""
    return parse_untrusted(source) is not None


def unparse_untrusted(node: ast.AST) -> str | None:
    """``ast.unparse(node)``, or None: a tree that parsed can still be too deep to unparse
    (900 chained attributes parse, and unparsing them exceeds the recursion limit)."""
    try:
        return ast.unparse(node)
    except (RecursionError, MemoryError, ValueError):
        return None
