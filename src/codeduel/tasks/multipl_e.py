"""MultiPL-E (Cassano et al. 2023): HumanEval translated to 18 other languages (and Python).

One task per language, ``multipl-e-<code>`` with MultiPL-E's own codes. As in MultiPL-E, the
program is ``prompt + completion + "\\n" + tests`` (a sample's ``solution``, when given, replaces
``prompt + completion``), compiled and run by the language's toolchain in the sandbox
(:mod:`codeduel.languages`). The tests are trusted text appended after the candidate and sealed
with the completion marker, so a body that exits with status 0 before the tests ran fails.
Problem ids are MultiPL-E's names (``HumanEval_13_greatest_common_divisor``); a sample may also
name the HumanEval problem (``HumanEval/13``). MultiPL-E ships no reference solutions.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

from codeduel.errors import SamplesError
from codeduel.execution.base import ExecSpec, Executor, Program
from codeduel.languages import LANGUAGES, Language, get_language
from codeduel.languages.base import Prepared
from codeduel.tasks import datasets, register
from codeduel.tasks.base import DatasetInfo, Problem

PREFIX = "multipl-e-"
_NAME = re.compile(r"^HumanEval_(\d+)_\w+$")


def task_name(code: str) -> str:
    return f"{PREFIX}{code}"


class MultiplETask:
    """The MultiPL-E HumanEval translation into one language."""

    packages: tuple[str, ...] = ()

    def __init__(self, code: str, data_dir: Path | None = None) -> None:
        self.language: Language = get_language(code)
        self.name = task_name(code)
        self._info, records = datasets.load(self.name, data_dir)
        self._problems = [
            Problem(
                task_id=str(r["name"]),
                prompt=str(r["prompt"]),
                entry_point=None,
                reference="",
                meta={"tests": str(r["tests"]), "stop_tokens": tuple(r["stop_tokens"])},
            )
            for r in records
        ]
        self._by_id = {p.task_id: p for p in self._problems}
        self._by_number: dict[int, str] = {}
        for p in self._problems:
            m = _NAME.match(p.task_id)
            if m:
                self._by_number[int(m.group(1))] = p.task_id
        self._prepared: Prepared | None = None
        self._lock = threading.Lock()

    def dataset(self) -> DatasetInfo:
        return self._info

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def get(self, task_id: object) -> Problem:
        """``HumanEval_13_greatest_common_divisor`` (MultiPL-E's name) or ``HumanEval/13``."""
        tid = str(task_id).strip() if isinstance(task_id, str | int) else None
        if tid is not None and tid in self._by_id:
            return self._by_id[tid]
        if tid is not None:
            prefix, slash, number = tid.partition("/")
            if slash and prefix.lower() == "humaneval" and number.isdigit():
                found = self._by_number.get(int(number))
                if found is not None:
                    return self._by_id[found]
                raise SamplesError(
                    f"HumanEval/{int(number)} has no {self.language.name} translation in MultiPL-E",
                    f"leave it out: {len(self._problems)} of 164 problems were translated",
                )
        raise SamplesError(
            f"task_id {task_id!r} is not a problem of {self.name}",
            "use MultiPL-E's names, e.g. 'HumanEval_13_greatest_common_divisor'",
        )

    def prepare(self, executor: Executor, task_ids: Collection[str] | None = None) -> None:
        """Nothing to compute; resolving the toolchain now fails fast when it is missing."""
        self.exec_spec()

    def prepared(self) -> Prepared:
        """The toolchain's commands and read allowlist, resolved once per task."""
        with self._lock:
            if self._prepared is None:
                self._prepared = self.language.prepare()
            return self._prepared

    def exec_spec(self, candidate: str = "") -> ExecSpec:
        return self.prepared().choose(candidate)

    def check_sample(self, sample: dict[str, Any]) -> None:
        """Refuse, before a run starts, samples of another language (MultiPL-E's files say
        which) and a missing toolchain."""
        language = sample.get("language")
        if isinstance(language, str) and language.removesuffix("_test.go") != self.language.code:
            raise SamplesError(
                f"the samples are {language} programs, not {self.language.name}",
                f"score them with --task multipl-e-{language.removesuffix('_test.go')}",
            )
        self.exec_spec()

    def program(self, problem: Problem, sample: dict[str, Any], key: str) -> Program:
        self.check_sample(sample)
        solution = sample.get("solution")
        completion = sample.get("completion")
        if isinstance(solution, str):
            candidate = solution
        elif isinstance(completion, str):
            candidate = problem.prompt + completion
        else:
            raise SamplesError(
                f"sample for {problem.task_id} has neither a 'completion' nor a 'solution' string",
                'write each sample as {"task_id": ..., "completion": "<code>"}',
            )
        spec = self.exec_spec(candidate)
        return self.language.program(key, candidate, "\n" + problem.meta["tests"], spec)


def _factory(code: str) -> Any:
    def make(data_dir: Path | None = None) -> MultiplETask:
        return MultiplETask(code, data_dir)

    return make


for _code, _lang in LANGUAGES.items():
    register(
        task_name(_code),
        f"MultiPL-E HumanEval in {_lang.name}: prompt + completion + tests, run by "
        f"{_lang.tools[0]} in the sandbox (zero-shot)",
    )(_factory(_code))
