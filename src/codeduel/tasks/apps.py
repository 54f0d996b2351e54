"""APPS (Hendrycks et al. 2021), test split, as ``codeparrot/apps`` ships it (``test.jsonl``).

Why: the Code Llama paper's Table 3 scores it, per difficulty (introductory, interview,
competition). Record fields: ``problem_id`` (int), ``question``, ``solutions`` (a JSON string
of a list of programs, or ``""``), ``input_output`` (a JSON string ``{"inputs": [...],
"outputs": [...]}`` plus ``"fn_name"`` for call-based problems, or ``""``), ``difficulty``,
``url`` and ``starter_code``.

Test cases follow APPS's own evaluator (``hendrycks/apps`` ``eval/testing_util.py``
``run_test``):

- stdin (no ``fn_name``): an input or output given as a list of lines is joined with ``"\\n"``;
  the text is what the judge feeds and compares (APPS's lenient line/whitespace/float rules
  belong to ``compare="apps"``).
- call-based: ``inputs[i]`` is the argument list (``method(*inputs[i])``; the method of
  ``Solution()`` when the program defines ``class Solution``, else the module function).
  ``outputs[i]`` is kept as given: usually the value wrapped in a one-element list. APPS's
  verdict is ``output == outputs[i]`` or, when ``outputs[i]`` is a non-empty list,
  ``output == outputs[i][0]`` (a returned tuple compared as a list); JSON's string dict keys
  are turned back into ints where APPS does so (a dict first argument, a dict expected value).
  Cases hold the raw values; those rules are ``compare="apps"``'s, applied in the judge.

Test data is not kept in memory: :meth:`AppsTask.suite` re-reads a problem's line when it is
judged. ``reference`` is the first of the problem's ``solutions`` ("" when it has none).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codeduel.errors import DatasetError, SamplesError
from codeduel.tasks import register
from codeduel.tasks.base import PYTHON_PACKAGES, Problem
from codeduel.tasks.competitive import CompetitiveTask, TestCase, TestSuite
from codeduel.tasks.hub import LRU, HubDataset, read_record, resolve_files, scan_jsonl

NAME = "apps"
TIMEOUT_S = 4.0  # testing_util.py's per-test alarm
DIFFICULTIES = ("introductory", "interview", "competition")
FILE = "test.jsonl"

# Pinned commit of codeparrot/apps: the one public evaluation code pins for its test.jsonl
# ("hf://datasets/codeparrot/apps@21e74ddf8de1a21436da12e3e653065c5213e9d1/test.jsonl"); the
# Hugging Face repository itself is not in the reference index codeduel's maintainers could
# search. NO published sha256 of test.jsonl could be found, so none is pinned: every copy,
# downloaded or local, is scored as "unpublished" with a warning and its sha256 recorded.
# Pin it here (and the version becomes the commit) once it is read from the LFS pointer.
REVISION = "21e74ddf8de1a21436da12e3e653065c5213e9d1"
DATASET = HubDataset(
    name=NAME,
    repo_id="codeparrot/apps",
    revision=REVISION,
    folder="apps",
    sha256={FILE: None},
)


def parse_difficulty(difficulty: str | None) -> str | None:
    if difficulty is None:
        return None
    text = str(difficulty).strip().lower()
    if text not in DIFFICULTIES:
        raise DatasetError(
            f"unknown APPS difficulty {difficulty!r}",
            f"choose one of {', '.join(DIFFICULTIES)} (or leave --difficulty out for all)",
        )
    return text


def _call_case(inputs: Any, output: Any) -> TestCase:
    """One call-based case, raw as the file holds it (APPS's string-key undo and one-element
    unwrapping are comparison rules: ``compare="apps"`` applies them in the judge)."""
    args = list(inputs) if isinstance(inputs, list | tuple) else [inputs]
    return TestCase(input=args, output=output)


def _text(value: Any) -> str:
    return "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _fn_name(io_text: str) -> str | None:
    """``fn_name`` without decoding the (large) test data unless the key is there at all."""
    if '"fn_name"' not in io_text:
        return None
    data = json.loads(io_text)
    name = data.get("fn_name") if isinstance(data, dict) else None
    return str(name) if name else None


class AppsTask(CompetitiveTask):
    """The APPS test split, optionally one difficulty."""

    packages: tuple[str, ...] = PYTHON_PACKAGES
    id_hint = "use APPS problem_id values, e.g. 0 or '4999'"

    def __init__(self, data_dir: Path | None = None, *, difficulty: str | None = None) -> None:
        self.difficulty = parse_difficulty(difficulty)
        info, paths = resolve_files(DATASET, (FILE,), data_dir, version=REVISION[:12])
        self._path = paths[FILE]
        self._offsets: dict[str, int] = {}
        self._excluded: dict[str, str] = {}
        problems: list[Problem] = []
        for offset, record in scan_jsonl(self._path):
            problem = _problem(record, self._path)
            self._offsets[problem.task_id] = offset
            level = problem.meta["difficulty"]
            if not str(record.get("input_output") or "").strip():
                # Nothing to judge it by: left out, so it can never count as passed or failed.
                self._excluded[problem.task_id] = "APPS ships no test cases for it"
            elif self.difficulty is not None and level != self.difficulty:
                self._excluded[problem.task_id] = (
                    f"it is {level}, not --difficulty {self.difficulty}"
                )
            else:
                problems.append(problem)
        self._suites: LRU[str, TestSuite] = LRU(8)
        super().__init__(NAME, info, problems)

    @staticmethod
    def _canonical(task_id: object) -> str:
        tid = str(task_id).strip()
        return str(int(tid)) if tid.isdigit() else tid

    def get(self, task_id: object) -> Problem:
        """A ``problem_id`` (``7``, ``"7"`` or ``"0007"``); one of another difficulty says so."""
        tid = self._canonical(task_id)
        reason = self._excluded.get(tid)
        if reason is not None:
            raise SamplesError(
                f"APPS problem {tid} is filtered out: {reason}",
                "leave its samples out or drop --difficulty",
            )
        return super().get(tid)

    def suite(self, problem: Problem) -> TestSuite:
        """``problem``'s tests, decoded from its line of ``test.jsonl`` now."""
        return self._suites.get(problem.task_id, lambda: self._read_suite(problem))

    def _read_suite(self, problem: Problem) -> TestSuite:
        where = f"APPS problem {problem.task_id}"
        record = read_record(self._path, self._offsets[problem.task_id])
        io_text = str(record.get("input_output") or "")
        try:
            data = json.loads(io_text) if io_text.strip() else {"inputs": [], "outputs": []}
            inputs, outputs = data["inputs"], data["outputs"]
            if not isinstance(inputs, list) or not isinstance(outputs, list):
                raise ValueError("inputs/outputs are not lists")
            if len(inputs) != len(outputs):
                raise ValueError(f"{len(inputs)} inputs but {len(outputs)} outputs")
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(
                f"{where} has unreadable input_output: {exc}",
                "replace the file with the official one",
            ) from None
        fn_name = data.get("fn_name") or None
        if fn_name:
            cases = tuple(_call_case(i, o) for i, o in zip(inputs, outputs, strict=True))
            return TestSuite("call", cases, "apps", TIMEOUT_S, str(fn_name))
        cases = tuple(
            TestCase(input=_text(i), output=_text(o)) for i, o in zip(inputs, outputs, strict=True)
        )
        return TestSuite("stdin", cases, "apps", TIMEOUT_S, None)


def _problem(record: dict[str, Any], path: Path) -> Problem:
    try:
        task_id = str(int(record["problem_id"]))
        raw = record.get("solutions") or ""
        solutions = json.loads(raw) if isinstance(raw, str) and raw.strip() else raw or []
        fn_name = _fn_name(str(record.get("input_output") or ""))
        return Problem(
            task_id=task_id,
            prompt=str(record["question"]),
            entry_point=fn_name,
            reference=str(solutions[0]) if solutions else "",
            meta={
                "difficulty": str(record.get("difficulty", "")),
                "starter_code": str(record.get("starter_code") or ""),
                "fn_name": fn_name,
                "title": "",
                "url": str(record.get("url") or ""),
            },
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DatasetError(
            f"{path} holds a record that is not an APPS problem ({type(exc).__name__}: {exc})",
            "replace the file with the official one",
        ) from None


@register(
    NAME,
    "APPS test split (--difficulty introductory|interview|competition): whole programs "
    "judged on stdin or call-based tests",
)
def make(data_dir: Path | None = None, difficulty: str | None = None) -> AppsTask:
    return AppsTask(data_dir, difficulty=difficulty)
