"""Helpers shared by the executor tests (a uniquely named module, imported by path)."""

from __future__ import annotations

import os
from typing import Any

from codeduel.execution import LocalExecutor, Program, Verdict

# A secret the executor must never let a candidate see (set before any worker starts).
SECRET_ENV = "CODEDUEL_TEST_SECRET"
SECRET_VALUE = "s3cret-value-7f2d"
os.environ[SECRET_ENV] = SECRET_VALUE


def humaneval_program(
    problem: dict[str, Any], completion: str, key: str = "p", timeout_s: float | None = None
) -> Program:
    """The rpc program for a HumanEval completion, built the way tasks build it."""
    ep = problem["entry_point"]
    return Program(
        key=key,
        candidate=problem["prompt"] + completion,
        harness=problem["prompt"] + "\n" + problem["test"] + "\n" + f"check(CANDIDATES[{ep!r}])\n",
        expose=(ep,),
        timeout_s=timeout_s,
    )


def judge(ex: LocalExecutor, program: Program) -> Verdict:
    return ex.submit(program).result(timeout=60)
