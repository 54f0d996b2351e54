"""Twins of real HumanEval and MBPP problems: deterministic, really rewritten, and judged
correct by the task itself (the real sandboxed LocalExecutor runs every rewritten reference)."""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeduel.execution.pool import LocalExecutor
from codeduel.flows.contamination.rewrites import Skipped, Twin, check_twins, make_twin
from codeduel.tasks import get_task
from codeduel.tasks.base import Task


@pytest.fixture(scope="module")
def executor() -> Iterator[LocalExecutor]:
    ex = LocalExecutor(workers=2)
    try:
        yield ex
    finally:
        ex.close()


@pytest.fixture(scope="module")
def humaneval(data_dir: Path) -> Task:
    return get_task("humaneval", data_dir)


@pytest.fixture(scope="module")
def mbpp(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Task]:
    with pytest.MonkeyPatch.context() as mp:  # MBPP caches its judging modes under XDG
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield get_task("mbpp", data_dir)


def renamed(twin: Twin) -> dict[str, str]:
    pairs = [c.removeprefix("renamed ").split(" -> ") for c in twin.changes if "renamed" in c]
    return {old: new for old, new in pairs}


def code_names(source: str) -> set[str]:
    return {
        n.id if isinstance(n, ast.Name) else n.arg
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Name | ast.arg)
    }


def test_twins_are_deterministic_and_differ_across_seeds(humaneval: Task, mbpp: Task) -> None:
    for task, ids in ((humaneval, ("HumanEval/0", "HumanEval/12")), (mbpp, ("Mbpp/14",))):
        for tid in ids:
            problem = task.get(tid)
            a, b, c = (make_twin(task, problem, s) for s in (1, 1, 2))
            assert isinstance(a, Twin) and isinstance(c, Twin)
            assert a == b
            assert (a.problem.prompt, a.problem.meta) != (c.problem.prompt, c.problem.meta)
            assert a.problem.task_id == problem.task_id
            assert a.problem.entry_point == problem.entry_point


def test_humaneval_0_renames_signature_docstring_and_reference(humaneval: Task) -> None:
    problem = humaneval.get("HumanEval/0")
    twin = make_twin(humaneval, problem, 0)
    assert isinstance(twin, Twin)
    mapping = renamed(twin)
    assert {"numbers", "threshold", "distance"} <= set(mapping)
    source = twin.problem.prompt + twin.problem.reference
    assert not set(mapping) & code_names(source)
    for old in ("numbers", "threshold"):
        assert not re.search(rf"\b{old}\b", twin.problem.prompt)
    # Formatting kept: same lines, same indentation, only names changed.
    old_lines, new_lines = problem.prompt.splitlines(), twin.problem.prompt.splitlines()
    assert len(old_lines) == len(new_lines)
    assert [len(x) - len(x.lstrip()) for x in old_lines] == [
        len(x) - len(x.lstrip()) for x in new_lines
    ]
    # Each example keeps its output, only their order changed.
    examples = re.findall(r">>> (.*)\n\s*(.*)\n", twin.problem.prompt)
    assert sorted(examples) == sorted(re.findall(r">>> (.*)\n\s*(.*)\n", problem.prompt))
    assert examples != re.findall(r">>> (.*)\n\s*(.*)\n", problem.prompt)


def test_all_humaneval_twins_pass_their_judge(humaneval: Task, executor: LocalExecutor) -> None:
    problems = humaneval.problems()
    made = [make_twin(humaneval, p, 0) for p in problems]
    twins = [t for t in made if isinstance(t, Twin)]
    checked = check_twins(humaneval, twins, executor)
    reasons = Counter(t.reason for t in [*made, *checked] if isinstance(t, Skipped))
    kept = [t for t in checked if isinstance(t, Twin)]
    print(f"\nHumanEval: {len(twins)} made, {len(kept)} kept; skipped: {dict(reasons)}")
    assert len(problems) == 164
    assert len(kept) >= 150, reasons
    assert all(t.changes for t in kept)
    n_renamed = sum(bool(renamed(t)) for t in kept)
    n_reordered = sum(any("re-ordered" in c for c in t.changes) for t in kept)
    assert n_renamed >= 140 and n_reordered >= 90, (n_renamed, n_reordered)
    for twin in kept:
        mapping = renamed(twin)
        names = code_names(twin.problem.prompt + twin.problem.reference)
        assert not set(mapping) & names, twin.original.task_id
    # Sanity: the originals of renamed twins still pass the original problems.
    originals = [t.original for t in kept if renamed(t)]
    programs = [humaneval.program(p, {"completion": p.reference}, p.task_id) for p in originals]
    failed = [v.key for v in executor.run(programs) if not v.passed]
    assert not failed


def test_mbpp_sample_twins_pass_their_judge(mbpp: Task, executor: LocalExecutor) -> None:
    problems = [p for p in mbpp.problems() if p.meta["split"] == "test"][::10]  # 50 problems
    made = [make_twin(mbpp, p, 0) for p in problems]
    twins = [t for t in made if isinstance(t, Twin)]
    checked = check_twins(mbpp, twins, executor)
    reasons = Counter(t.reason for t in [*made, *checked] if isinstance(t, Skipped))
    kept = [t for t in checked if isinstance(t, Twin)]
    shifted = [t for t in kept if any("inputs" in c for c in t.changes)]
    print(
        f"\nMBPP: {len(twins)} made, {len(kept)} kept, {len(shifted)} with new inputs; "
        f"skipped: {dict(reasons)}"
    )
    assert len(kept) >= 40, reasons
    assert len(shifted) >= 10
    for twin in kept:
        new, old = twin.problem.meta["test_list"], twin.original.meta["test_list"]
        assert "pending_inputs" not in twin.problem.meta
        assert new != old and len(new) == len(old)
        assert twin.problem.prompt == twin.original.prompt
        if twin not in shifted:  # only re-ordered: the same asserts
            assert sorted(new) == sorted(old)
    for twin in shifted:  # changed asserts carry values the original reference computed
        changed = set(twin.problem.meta["test_list"]) - set(twin.original.meta["test_list"])
        assert changed
        assert all(ast.parse(line.strip()) for line in changed)
