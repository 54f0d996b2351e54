"""Text for the terminal: what a candidate or a samples file controls is shown, never obeyed.

Why: a verdict's reason, an output tail or a task id may hold terminal escapes that clear the
screen, retitle the window or print a green "ALL TESTS PASSED", or bidi overrides that reorder
what is read. Every command prints such text through :func:`safe`.
"""

from __future__ import annotations

import re

from rich.markup import escape

__all__ = ["safe"]

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe(text: object) -> str:
    """``text`` for a terminal: control and bidi characters made visible, rich markup
    escaped (so ``[red]`` in a completion stays text)."""
    shown = _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))
    return escape(shown)
