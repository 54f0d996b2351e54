"""Assembling the embedded GGUF from its PyPI part packages (real parts, real sha256)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeduel.errors import CodeduelError
from codeduel.models.embedded import (
    EMBEDDED,
    EmbeddedModel,
    ensure_embedded,
    part_paths,
    sha256_file,
)
from codeduel.models.llamacpp import gguf_context_length

NAME = "qwen2.5-coder-0.5b-instruct"


def test_assembles_verifies_and_reuses(tmp_path: Path) -> None:
    path = ensure_embedded(NAME, tmp_path)
    assert path.parent == tmp_path and path.stat().st_size > 400 * 2**20
    assert sha256_file(path) == EMBEDDED[NAME].sha256
    assert not list(tmp_path.glob("*.part"))  # the temp file was renamed, not left behind
    mtime = path.stat().st_mtime_ns
    assert ensure_embedded(NAME, tmp_path) == path
    assert path.stat().st_mtime_ns == mtime  # reused, not rewritten


def test_a_corrupted_cache_is_rebuilt(tmp_path: Path) -> None:
    path = ensure_embedded(NAME, tmp_path)
    with path.open("r+b") as f:
        f.seek(1000)
        f.write(b"\0corrupt\0")
    assert sha256_file(path) != EMBEDDED[NAME].sha256
    assert ensure_embedded(NAME, tmp_path) == path
    assert sha256_file(path) == EMBEDDED[NAME].sha256


def test_missing_parts_name_the_pip_command() -> None:
    ghost = EmbeddedModel(
        name="ghost",
        dist_prefix="codeduel-ghost-part",
        module_prefix="codeduel_ghost_part",
        n_parts=2,
        version="1.0",
        sha256="0" * 64,
        filename="ghost.gguf",
        size_mib=1,
    )
    with pytest.raises(CodeduelError) as err:
        part_paths(ghost)
    message = str(err.value)
    assert "\n" not in message
    assert "pip install codeduel-ghost-part1==1.0 codeduel-ghost-part2==1.0" in message


def test_unknown_embedded_name_is_one_line() -> None:
    with pytest.raises(CodeduelError, match="unknown embedded model"):
        ensure_embedded("nope")


def test_context_length_is_read_from_the_gguf_header() -> None:
    assert gguf_context_length(ensure_embedded(NAME)) == 32768


def test_a_file_without_gguf_magic_is_rejected_in_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "model.gguf"
    junk.write_bytes(b"<html>not a model</html>")
    with pytest.raises(CodeduelError, match="not a valid GGUF file") as err:
        gguf_context_length(junk)
    assert "\n" not in str(err.value)
