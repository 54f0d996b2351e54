"""Shared fixtures: the benchmark data folder, and a results store that never touches $HOME."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The test data folder from CODEDUEL_DATA_DIR (CI always sets it; fail loudly if not)."""
    value = os.environ.get("CODEDUEL_DATA_DIR")
    if not value:
        pytest.fail(
            "CODEDUEL_DATA_DIR is not set: export CODEDUEL_DATA_DIR=../shared/data "
            "(relative to the repo root) before running the tests",
            pytrace=False,
        )
    path = Path(value).expanduser().resolve()
    if not (path / "MANIFEST.json").is_file():
        pytest.fail(f"CODEDUEL_DATA_DIR={value} has no MANIFEST.json", pytrace=False)
    return path


@pytest.fixture
def humaneval_file(data_dir: Path) -> Path:
    """HumanEval.jsonl.gz as shipped in the test data."""
    return data_dir / "humaneval" / "HumanEval.jsonl.gz"


@pytest.fixture(autouse=True)
def isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the default store at a temp file so no test writes to the user's data dir."""
    path = tmp_path / "store" / "results.sqlite"
    monkeypatch.setenv("CODEDUEL_STORE", str(path))
    return path
