"""Programming languages codeduel compiles and runs in its sandbox, by MultiPL-E code.

Why a registry: tasks (MultiPL-E today) and ``codeduel doctor`` look a language up by code;
a plugin adds one with :func:`register_language` without editing codeduel.
"""

from __future__ import annotations

from codeduel.errors import CodeduelError
from codeduel.languages.base import SYSTEM_ROOTS, Language, Toolchain
from codeduel.languages.catalog import LANGUAGES as _BUILTIN

__all__ = [
    "LANGUAGES",
    "SYSTEM_ROOTS",
    "Language",
    "Toolchain",
    "get_language",
    "language_codes",
    "register_language",
]

LANGUAGES: dict[str, Language] = {lang.code: lang for lang in _BUILTIN}


def register_language(language: Language) -> None:
    """Add (or replace) a language."""
    LANGUAGES[language.code] = language


def language_codes() -> tuple[str, ...]:
    return tuple(LANGUAGES)


def get_language(code: str) -> Language:
    """The language with MultiPL-E code ``code`` (``cpp``, ``java``, ...), or a one-line
    error listing the known codes."""
    try:
        return LANGUAGES[code]
    except KeyError:
        raise CodeduelError(
            f"unknown language {code!r}", f"use one of: {', '.join(LANGUAGES)}"
        ) from None
