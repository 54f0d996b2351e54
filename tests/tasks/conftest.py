"""Fixtures for task tests: one real sandboxed executor, and a fresh task cache per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from codeduel.execution.pool import LocalExecutor


@pytest.fixture(scope="module")
def task_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private XDG cache while one module runs: prepare() results are computed there, once,
    and the user's cache (and other modules' view of XDG_CACHE_HOME) is left alone."""
    path = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(path))
        yield path


@pytest.fixture(scope="session")
def executor() -> Iterator[LocalExecutor]:
    """The real LocalExecutor (two workers, like CI's two cores)."""
    ex = LocalExecutor(workers=2)
    try:
        yield ex
    finally:
        ex.close()
