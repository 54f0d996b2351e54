"""User-facing errors: one line that names the problem and the fix.

The CLI prints ``str(err)`` of a :class:`CodeduelError` and exits non-zero, never a traceback.
Library callers catch the same class.
"""

from __future__ import annotations


class CodeduelError(Exception):
    """A problem the user can fix; the message is one line saying what and how."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} — {fix}" if fix else problem)


class DatasetError(CodeduelError):
    """A benchmark file is missing, corrupt or of an unknown version."""


class SamplesError(CodeduelError):
    """A samples file cannot be scored as given."""


class ExecutorError(CodeduelError):
    """The sandboxed executor cannot start or keep running."""


class StoreError(CodeduelError):
    """The results store cannot be opened or does not hold what was asked for."""


def require_positive(**options: int | None) -> None:
    """Options that must be a positive count when given (``limit=0`` -> ``--limit``): checked
    before anything is loaded, so a bad one costs a second, not a model load (and a negative
    ``--context-window`` used to abort natively inside llama.cpp)."""
    for name, value in options.items():
        if value is not None and (type(value) is not int or value < 1):
            option = "--" + name.replace("_", "-")
            raise CodeduelError(f"invalid {option} {value!r}", f"give a positive {option}")
