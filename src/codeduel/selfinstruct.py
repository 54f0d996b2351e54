"""Self-instruct with execution feedback: instruction data made the way Code Llama Instruct's was.

The recipe (Code Llama paper, section 2.5): a model writes interview-style programming
questions; a code model writes unit tests (in ``[TESTS]`` tags) and several solutions (in
``[PYTHON]`` tags) per question; every solution runs against the tests; the first one that
passes is kept. Here, in order:

1. **Questions.** One chat request per question (batched 8 at a time), each with a topic, a
   difficulty and an input type drawn from a seeded RNG, because one small model asked the
   same thing N times writes the same question N times. :data:`QUESTION_PROMPT` keeps the
   paper's wording ("programming interview questions of easy and medium complexity ... solved
   with a single standalone Python function using standard libraries") but asks for one
   question, shows no example questions (a 0.5B model given examples copied the first one, 4
   times out of 4) and prefills the answer with "Write a Python function" (without it, the
   0.5B model asked "Can you explain ..." questions that no function answers).
2. **Deduplication and decontamination** of the questions (:mod:`codeduel.dedup`): exact and
   MinHash near duplicates go, then questions too close to a HumanEval or MBPP problem.
3. **Tests.** Greedy, one-shot with the paper's example, the answer prefilled with ``[TESTS]``
   so even a small model stays in the format. Top-level ``assert`` lines (and imports) are
   kept, the first ``tests`` of them; a block in which no assert parses, whose asserts call
   no function, or that tests the one-shot example's function drops the question ("tests
   failing to parse").
4. **Solutions.** ``solutions`` samples per question (T=0.8, top-p 0.95 by default, seeded per
   question), one-shot, shown only the first test so they can infer the signature (the paper's
   "hidden tests"), prefilled with ``[PYTHON]``.
5. **Execution.** Every solution runs with all of its question's tests in the sandbox, in
   ``concat`` mode because model-written tests are untrusted code (see
   :mod:`codeduel.tasks.selfinstruct`). The first passing solution whose code is not too close
   to a benchmark solution is kept; a question with none is dropped.

Everything (prompts, raw answers, parsed questions, tests, solutions, verdicts) is written to
the results store as it is made, as one run of kind ``selfinstruct`` keyed by the hash of its
spec; rerunning the same job continues an unfinished run without regenerating anything already
stored. Resumed output equals uninterrupted output: question batches have fixed positions and
seeds, tests are greedy, solutions are seeded per question.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import json
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from codeduel.dedup import (
    CODE_THRESHOLD,
    NEAR_DUP_THRESHOLD,
    TEXT_THRESHOLD,
    Decontaminator,
    benchmark_decontaminator,
    find_duplicates,
)
from codeduel.errors import CodeduelError
from codeduel.execution.base import Limits, Verdict
from codeduel.models import DEFAULT_SPEC, GenParams, Message, Model, load_model, resolve_spec
from codeduel.postprocess import extract_code
from codeduel.store import SampleRecord, Store, spec_key
from codeduel.tasks.base import PYTHON_PACKAGES
from codeduel.tasks.selfinstruct import (
    PROBLEMS_RELPATH,
    SELFINSTRUCT_TIMEOUT_S,
    judge_program,
    tests_code,
)

PROMPT_VERSION = "2"  # bump when any prompt below changes: it is part of the run key
BATCH = 8  # conversations per chat request (llama.cpp decodes them in parallel slots)

DIFFICULTIES: tuple[str, ...] = ("easy", "medium")
TOPICS: tuple[str, ...] = (
    "string manipulation",
    "list processing",
    "dictionaries and counting",
    "sets",
    "sorting",
    "searching",
    "binary search",
    "two pointers",
    "sliding windows",
    "prefix sums",
    "recursion",
    "dynamic programming",
    "greedy algorithms",
    "number theory",
    "prime numbers",
    "digits of integers",
    "bit manipulation",
    "base conversion",
    "matrices and grids",
    "geometry",
    "intervals",
    "stacks",
    "queues",
    "graphs given as adjacency lists",
    "trees given as nested lists",
    "combinatorics",
    "parsing text",
    "validating input formats",
    "date and time arithmetic",
    "simulation of a simple process",
    "statistics of a list of numbers",
    "word and sentence processing",
    "palindromes and anagrams",
    "encoding and decoding strings",
    "tuples and records",
    "nested lists",
    "run-length encoding",
    "scheduling and calendars",
    "money and unit conversions",
    "text formatting",
)

#: What the function takes: a third seeded hint dimension (40 x 2 x 10 combinations), so that
#: questions sharing a batch (and so a seed) rarely share a prompt.
INPUTS: tuple[str, ...] = (
    "a list of integers",
    "a string",
    "two integers",
    "a list of strings",
    "a dictionary",
    "a list of tuples",
    "a nested list",
    "an integer",
    "two strings",
    "a list of floats",
)

QUESTION_PROMPT = (
    "Write 1 programming interview question of {difficulty} complexity about {topic} that "
    "asks the candidate to write a Python function taking {input}. "
    "Make sure the problem can be solved with a single standalone Python function using "
    "standard libraries. Reply with the question only, in one to three sentences, without a "
    "solution or examples."
)

#: The question answer starts with this (a prefill): a small model otherwise asks conceptual
#: questions ("Can you explain ...") that no function answers.
QUESTION_PREFILL = "Write a Python function"

TESTS_PROMPT = (
    "Your task is to write {k} tests to check the correctness of a function that solves a "
    "programming problem. The tests must be between [TESTS] and [/TESTS] tags. You must write "
    'the comment "#Test case n:" on a separate line directly above each assert statement, '
    "where n represents the test case number, starting from 1 and increasing by one for each "
    "subsequent test case.\n\nProblem: {question}"
)

SOLUTION_PROMPT = (
    "Your task is to write Python code to solve a programming problem. The Python code must be "
    "between [PYTHON] and [/PYTHON] tags. You are given one example test from which you can "
    "infer the function signature.\n\nProblem: {question}\nTest: {test}"
)

EXAMPLE_PROBLEM = "Write a Python function to get the unique elements of a list."
EXAMPLE_TESTS = (
    "assert get_unique_elements([]) == []",
    "assert get_unique_elements([1]) == [1]",
    "assert get_unique_elements([1, 2, 3, 2, 1]) == [1, 2, 3]",
    "assert get_unique_elements([1, 1, 1]) == [1]",
    "assert get_unique_elements([3, 1, 3, 2]) == [3, 1, 2]",
)
EXAMPLE_ENTRY_POINT = "get_unique_elements"
EXAMPLE_SOLUTION = "def get_unique_elements(my_list):\n    return list(dict.fromkeys(my_list))"

ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)
PHASES: tuple[str, ...] = ("questions", "tests", "solutions", "judging")


# -- prompts -----------------------------------------------------------------------------------


def hint_for(seed: int, index: int) -> dict[str, str]:
    """Topic, difficulty and input type asked of question ``index``: seeded, so resumes repeat
    them."""
    rng = random.Random(_derive(seed, f"hint:{index}"))
    return {
        "topic": rng.choice(TOPICS),
        "difficulty": rng.choice(DIFFICULTIES),
        "input": rng.choice(INPUTS),
    }


def question_messages(hint: dict[str, str]) -> list[Message]:
    """The chat asking for one interview question on ``hint``'s topic and difficulty, its
    answer prefilled with :data:`QUESTION_PREFILL`."""
    text = QUESTION_PROMPT.format(**hint)
    return [
        Message(role="user", content=text),
        Message(role="assistant", content=QUESTION_PREFILL),
    ]


def _tests_block(asserts: Sequence[str]) -> str:
    lines = []
    for i, line in enumerate(asserts, start=1):
        lines += [f"# Test case {i}:", line]
    return "\n".join(lines)


def tests_messages(question: str, k: int) -> list[Message]:
    """One-shot chat for ``k`` tests, prefilled with ``[TESTS]`` (the answer continues it)."""
    return [
        Message(role="user", content=TESTS_PROMPT.format(k=k, question=EXAMPLE_PROBLEM)),
        Message(role="assistant", content=f"[TESTS]\n{_tests_block(EXAMPLE_TESTS[:k])}\n[/TESTS]"),
        Message(role="user", content=TESTS_PROMPT.format(k=k, question=question)),
        Message(role="assistant", content="[TESTS]\n"),
    ]


def solution_messages(question: str, first_test: str) -> list[Message]:
    """One-shot chat for a solution shown only the first test, prefilled with ``[PYTHON]``."""
    return [
        Message(
            role="user",
            content=SOLUTION_PROMPT.format(question=EXAMPLE_PROBLEM, test=EXAMPLE_TESTS[2]),
        ),
        Message(role="assistant", content=f"[PYTHON]\n{EXAMPLE_SOLUTION}\n[/PYTHON]"),
        Message(role="user", content=SOLUTION_PROMPT.format(question=question, test=first_test)),
        Message(role="assistant", content="[PYTHON]\n"),
    ]


# -- parsing model answers ---------------------------------------------------------------------

_LABEL = re.compile(r"^\s*(?:[-*#>]+\s*)?(?:\*\*)?(?:[A-Za-z]+[ \t]*){1,3}\d*[ \t]*:(?:\*\*)?\s+")
_NUMBER = re.compile(r"^\s*(?:\d+[.)]|[-*])\s+")
_CUT = re.compile(r"```|\[PYTHON\]|\[TESTS\]|^\s*(?:\*\*)?(?:solution|answer|example)", re.I | re.M)
MIN_QUESTION_CHARS = 20
MAX_QUESTION_CHARS = 1200


def parse_question(raw: str) -> str | None:
    """The question in a questioner's answer, or None when there is no usable one.

    Keeps the first paragraph, drops a leading label ("Question 1:", "**Problem:**", "Describe
    the problem:") or list number, cuts at the first code block or "Solution", and rejects
    answers shorter than 20 or longer than 1200 characters.
    """
    text = raw.strip()
    cut = _CUT.search(text)
    if cut is not None:
        text = text[: cut.start()]
    text = _LABEL.sub("", text, count=1)
    text = _NUMBER.sub("", text, count=1)
    text = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]  # the first paragraph only
    text = re.sub(r"\s+", " ", text).strip().strip('*"').strip()
    if not MIN_QUESTION_CHARS <= len(text) <= MAX_QUESTION_CHARS:
        return None
    if not re.search(r"[A-Za-z]{3,}", text):
        return None
    return text


@dataclass(frozen=True)
class ParsedTests:
    """Tests from a ``[TESTS]`` block: imports, asserts, and the function the asserts call."""

    imports: list[str]
    asserts: list[str]
    entry_point: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def code(self) -> str:
        return tests_code(self.imports, self.asserts)


_TESTS_TAG = re.compile(r"\[TESTS\](.*?)(?:\[/TESTS\]|\Z)", re.S)
_BUILTINS = frozenset(dir(builtins))


def _strip_fences(code: str) -> str:
    return "\n".join(line for line in code.splitlines() if not line.strip().startswith("```"))


def _called_names(node: ast.AST) -> list[str]:
    return [
        n.func.id
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id not in _BUILTINS
    ]


def parse_tests(answer: str, max_tests: int) -> ParsedTests:
    """Parse the tests of a coder answer (text after the prefilled ``[TESTS]`` included).

    The block is parsed as Python; if it does not parse as a whole (typically a last assert cut
    by the token limit), each top-level ``assert`` line that parses on its own is kept. Only
    top-level asserts and imports count; the first ``max_tests`` asserts are kept. The entry
    point is the non-builtin function most asserts call; tests of the one-shot example's own
    function (a small model copies it) are rejected too.
    """
    match = _TESTS_TAG.search(answer)
    block = _strip_fences(match.group(1) if match else answer)
    try:
        statements = ast.parse(block).body
    except (SyntaxError, ValueError):
        statements = []
        for line in block.splitlines():
            if line.startswith(("assert ", "import ", "from ")):
                try:
                    statements.extend(ast.parse(line).body)
                except (SyntaxError, ValueError):
                    continue
    imports = [ast.unparse(s) for s in statements if isinstance(s, ast.Import | ast.ImportFrom)]
    asserts = [s for s in statements if isinstance(s, ast.Assert)][:max_tests]
    if not asserts:
        return ParsedTests(imports, [], None, "no assert statement parses")
    kept = [ast.unparse(a) for a in asserts]
    counts: dict[str, int] = {}
    for a in asserts:
        for name in dict.fromkeys(_called_names(a)):
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return ParsedTests(imports, kept, None, "asserts call no function")
    entry = max(counts, key=lambda name: counts[name])  # first of the most called, in order
    if entry == EXAMPLE_ENTRY_POINT:
        return ParsedTests(imports, kept, entry, "tests copy the prompt's example")
    return ParsedTests(imports, kept, entry)


def parse_solution(answer: str, entry_point: str | None) -> tuple[str, str]:
    """``(code, extraction method)`` of a coder answer (text after ``[PYTHON]`` included)."""
    extraction = extract_code(answer, entry_point)
    return _strip_fences(extraction.code).strip("\n"), extraction.method


# -- spec, result ------------------------------------------------------------------------------


class SelfInstructSpec(BaseModel):
    """Everything that defines a self-instruct job's outputs; its hash identifies the run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    questioner: str
    questioner_weights: str
    questioner_sha256: str | None
    coder: str
    coder_weights: str
    coder_sha256: str | None
    questions: int = Field(ge=1)
    tests: int = Field(ge=1)
    solutions: int = Field(ge=1)
    seed: int
    question_temperature: float
    question_max_tokens: int
    tests_max_tokens: int
    temperature: float
    top_p: float
    max_new_tokens: int
    near_dup_threshold: float
    decontaminate: tuple[str, ...]
    text_threshold: float
    code_threshold: float
    timeout_s: float
    prompt_version: str = PROMPT_VERSION

    def key(self) -> str:
        """A stable hash of the spec (sorted JSON)."""
        return spec_key(self.model_dump(mode="json"))


@dataclass
class SelfInstructResult:
    """What a self-instruct job produced, where it is, and the counts that explain it."""

    run_id: int
    spec: SelfInstructSpec
    records: list[dict[str, Any]]
    summary: dict[str, Any]
    resumed: bool
    generated_now: dict[str, int]
    duration_s: float
    store_path: Path
    output: Path | None = None
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the summary plus where everything is (what ``--json`` prints)."""
        return {
            "run_id": self.run_id,
            **self.summary,
            "resumed": self.resumed,
            "generated_now": self.generated_now,
            "duration_s": round(self.duration_s, 3),
            "store": str(self.store_path),
            "output": str(self.output) if self.output else None,
            "files": self.files,
            "spec": self.spec.model_dump(mode="json"),
        }


# -- helpers -----------------------------------------------------------------------------------


def _derive(seed: int, label: str) -> int:
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def qid(index: int) -> str:
    """The id of question ``index`` (also the task_id of its exported problem)."""
    return f"q{index:05d}"


def _spec_name(spec: str | None) -> str:
    """The spec as recorded: the embedded default spelled out, so None and it key alike."""
    return DEFAULT_SPEC if not spec or spec in ("default", "embedded") else spec


def check_output_dir(path: Path) -> Path:
    """Create ``path`` and prove it is writable now, before hours of generation."""
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".codeduel-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise CodeduelError(
            f"output folder {path} is not writable ({err.strerror or err})",
            "pass a writable folder to -o",
        ) from None
    return path


def _validate(counts: dict[str, int], temperatures: Sequence[float], top_p: float) -> None:
    for name, value in counts.items():
        if value < 1:
            raise CodeduelError(f"invalid {name} {value}", f"give {name} a positive number")
    if any(t < 0 for t in temperatures) or not 0 < top_p <= 1:
        raise CodeduelError(
            "invalid decoding parameters", "need temperatures >= 0 and 0 < --top-p <= 1"
        )


def _completion_extra(comp: Any) -> dict[str, Any]:
    return {
        "finish_reason": comp.finish_reason,
        "prompt_tokens": comp.prompt_tokens,
        "completion_tokens": comp.completion_tokens,
        "seconds": comp.seconds,
    }


def _messages_record(messages: Sequence[Message]) -> str:
    return json.dumps([m.model_dump() for m in messages], ensure_ascii=False)


# -- the job -----------------------------------------------------------------------------------


def selfinstruct(
    questioner: str | None = None,
    coder: str | None = None,
    *,
    questions: int = 10,
    tests: int = 5,
    solutions: int = 10,
    seed: int = 0,
    question_temperature: float = 0.8,
    question_max_tokens: int = 128,
    tests_max_tokens: int = 384,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_new_tokens: int = 512,
    near_dup_threshold: float = NEAR_DUP_THRESHOLD,
    decontaminate: Sequence[str] = ("humaneval", "mbpp"),
    text_threshold: float = TEXT_THRESHOLD,
    code_threshold: float = CODE_THRESHOLD,
    timeout_s: float = SELFINSTRUCT_TIMEOUT_S,
    output: str | Path | None = None,
    save_hf: bool = False,
    data_dir: str | Path | None = None,
    store: str | Path | Store | None = None,
    workers: int | None = None,
    questioner_model: Model | None = None,
    coder_model: Model | None = None,
    progress: ProgressFn | None = None,
) -> SelfInstructResult:
    """Make instruction data with ``questioner`` and ``coder`` (model specs; None = embedded).

    ``questions`` questions are asked; each surviving one gets ``tests`` tests and
    ``solutions`` solutions. ``decontaminate`` names the benchmarks to remove look-alikes of
    (empty: none; their data comes from ``data_dir``/``$CODEDUEL_DATA_DIR``). ``output`` is a
    folder for ``train.jsonl`` and the files ``codeduel evaluate`` re-scores (see
    :func:`export`); ``save_hf`` also writes a Hugging Face ``datasets`` copy. Rerunning with the
    same arguments resumes an unfinished job. ``*_model`` reuse models already loaded (their
    specs must still be given for the record). ``progress(phase, done, total)`` follows
    :data:`PHASES`.
    """
    started = time.perf_counter()
    _validate(
        {
            "--questions": questions,
            "--tests": tests,
            "--solutions": solutions,
            "--max-new-tokens": max_new_tokens,
            "--tests-max-tokens": tests_max_tokens,
            "--question-max-tokens": question_max_tokens,
        },
        (temperature, question_temperature),
        top_p,
    )
    if timeout_s <= 0:
        raise CodeduelError(f"invalid timeout {timeout_s}", "give a positive number of seconds")
    resolve_spec(questioner)  # unknown backends and presets fail here, before any loading
    resolve_spec(coder)
    out_dir = check_output_dir(Path(output)) if output is not None else None
    bench = tuple(dict.fromkeys(decontaminate))
    deco: Decontaminator | None = None
    if bench:
        deco = benchmark_decontaminator(
            bench, data_dir, text_threshold=text_threshold, code_threshold=code_threshold
        )

    own_store = not isinstance(store, Store)
    db = store if isinstance(store, Store) else Store(store)
    loaded: list[Model] = []
    executor = None
    run_id: int | None = None
    try:
        q_model = questioner_model
        if q_model is None:
            q_model = load_model(questioner)
            loaded.append(q_model)
        c_model = coder_model
        if c_model is None:
            if resolve_spec(coder)[:2] == resolve_spec(questioner)[:2]:
                c_model = q_model  # one model plays both roles: load it once
            else:
                c_model = load_model(coder)
                loaded.append(c_model)
        q_info, c_info = q_model.info(), c_model.info()
        spec = SelfInstructSpec(
            questioner=_spec_name(questioner),
            questioner_weights=q_info.weights_id,
            questioner_sha256=q_info.sha256,
            coder=_spec_name(coder),
            coder_weights=c_info.weights_id,
            coder_sha256=c_info.sha256,
            questions=questions,
            tests=tests,
            solutions=solutions,
            seed=seed,
            question_temperature=question_temperature,
            question_max_tokens=question_max_tokens,
            tests_max_tokens=tests_max_tokens,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            near_dup_threshold=near_dup_threshold,
            decontaminate=bench,
            text_threshold=text_threshold,
            code_threshold=code_threshold,
            timeout_s=timeout_s,
        )
        key = spec.key()
        record = {
            **spec.model_dump(mode="json"),
            "questioner_info": q_info.model_dump(),
            "coder_info": c_info.model_dump(),
            "prompts": {
                "question": QUESTION_PROMPT,
                "tests": TESTS_PROMPT,
                "solution": SOLUTION_PROMPT,
            },
        }
        run_id, resumed = db.resume_or_create(
            kind="selfinstruct", key=key, spec=record, task="selfinstruct"
        )
        job = _Job(db, run_id, spec, q_model, c_model, deco, progress)

        from codeduel.execution.pool import LocalExecutor

        executor = LocalExecutor(
            workers=workers, limits=Limits(timeout_s=timeout_s), packages=PYTHON_PACKAGES
        )
        job.executor = executor
        job.run()
        summary, records = job.summarize()
        result = SelfInstructResult(
            run_id=run_id,
            spec=spec,
            records=records,
            summary=summary,
            resumed=resumed,
            generated_now=dict(job.generated_now),
            duration_s=time.perf_counter() - started,
            store_path=db.path,
        )
        if out_dir is not None:
            result.output = out_dir
            result.files = export(records, summary, out_dir, save_hf=save_hf)
        stored = {**summary, "resumed": resumed, "files": result.files}
        db.finish_run(run_id, summary=stored)
        return result
    except BaseException as err:
        db.fail_run(run_id, err)
        if isinstance(err, KeyboardInterrupt) and run_id is not None:
            from codeduel.api import RunInterrupted

            raise RunInterrupted(run_id, db.path) from None  # rerunning the command resumes it
        raise
    finally:
        if executor is not None:
            executor.close()
        for m in loaded:
            m.close()
        if own_store:
            db.close()


class _Job:
    """The phases of one self-instruct run over one store run (resumable at every step)."""

    def __init__(
        self,
        db: Store,
        run_id: int,
        spec: SelfInstructSpec,
        questioner: Model,
        coder: Model,
        deco: Decontaminator | None,
        progress: ProgressFn | None,
    ) -> None:
        self.db = db
        self.run_id = run_id
        self.spec = spec
        self.questioner = questioner
        self.coder = coder
        self.deco = deco
        self.progress = progress
        self.executor: Any = None
        self.generated_now = {"questions": 0, "tests": 0, "solutions": 0, "judged": 0}
        self.rows: dict[tuple[str, int], SampleRecord] = {}
        self.judged: set[tuple[str, int]] = set()
        self._reload()

    def _reload(self) -> None:
        self.rows = {(s.task_id, s.sample_idx): s for s in self.db.samples(self.run_id)}
        self.judged = self.db.sample_keys(self.run_id, judged=True)

    def _tick(self, phase: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)

    # -- phases ---------------------------------------------------------------------------
    def run(self) -> None:
        self._questions()
        candidates = self._screen()[0]
        self._tests(candidates)
        self._solutions(candidates)

    def _questions(self) -> None:
        spec = self.spec
        total = spec.questions
        done = sum(1 for i in range(total) if (f"{qid(i)}/question", 0) in self.rows)
        self._tick("questions", done, total)
        for start in range(0, total, BATCH):
            batch = [i for i in range(start, min(start + BATCH, total))]
            if all((f"{qid(i)}/question", 0) in self.rows for i in batch):
                continue
            hints = [hint_for(spec.seed, i) for i in batch]
            convs = [question_messages(h) for h in hints]
            params = GenParams(
                max_new_tokens=spec.question_max_tokens,
                temperature=spec.question_temperature,
                top_p=0.95 if spec.question_temperature > 0 else 1.0,
                seed=_derive(spec.seed, f"questions:{start}"),
            )
            answers = self.questioner.chat(convs, params)
            records = []
            for i, hint, conv, comps in zip(batch, hints, convs, answers, strict=True):
                comp = comps[0]
                records.append(
                    SampleRecord(
                        task_id=f"{qid(i)}/question",
                        sample_idx=0,
                        completion=parse_question(QUESTION_PREFILL + comp.text),
                        prompt=_messages_record(conv),
                        raw_output=comp.text,
                        params=json.loads(params.to_json()),
                        extra={"stage": "question", "hint": hint, **_completion_extra(comp)},
                    )
                )
            self._add(records)
            self.generated_now["questions"] += len(records)
            done += len(records)
            self._tick("questions", done, total)

    def _screen(self) -> tuple[list[tuple[str, str]], dict[str, dict[str, Any]]]:
        """Questions that survive dedup and decontamination, and why the others did not."""
        usable: list[tuple[str, str]] = []
        dropped: dict[str, dict[str, Any]] = {}
        for i in range(self.spec.questions):
            rec = self.rows[(f"{qid(i)}/question", 0)]
            if rec.completion:
                usable.append((qid(i), rec.completion))
            else:
                dropped[qid(i)] = {"reason": "unusable question"}
        dups = find_duplicates([q for _, q in usable], self.spec.near_dup_threshold)
        candidates: list[tuple[str, str]] = []
        for (q_id, text), status in zip(usable, dups.status, strict=True):
            if status is not None:
                kind, twin = status
                dropped[q_id] = {"reason": f"{kind} duplicate", "of": usable[twin][0]}
                continue
            match = self.deco.text_match(text) if self.deco is not None else None
            if match is not None:
                dropped[q_id] = {
                    "reason": "contaminated question",
                    "source": match.source,
                    "score": round(match.score, 3),
                }
                continue
            candidates.append((q_id, text))
        return candidates, dropped

    def _tests(self, candidates: list[tuple[str, str]]) -> None:
        spec = self.spec
        total = len(candidates)
        todo = [(q, text) for q, text in candidates if (f"{q}/tests", 0) not in self.rows]
        done = total - len(todo)
        self._tick("tests", done, total)
        params = GenParams(max_new_tokens=spec.tests_max_tokens, stop=("[/TESTS]",))
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            convs = [tests_messages(text, spec.tests) for _, text in batch]
            answers = self.coder.chat(convs, params)
            records = []
            for (q, _), conv, comps in zip(batch, convs, answers, strict=True):
                comp = comps[0]
                parsed = parse_tests("[TESTS]\n" + comp.text, spec.tests)
                records.append(
                    SampleRecord(
                        task_id=f"{q}/tests",
                        sample_idx=0,
                        completion=parsed.code if parsed.ok else None,
                        prompt=_messages_record(conv),
                        raw_output=comp.text,
                        params=json.loads(params.to_json()),
                        extra={
                            "stage": "tests",
                            "imports": parsed.imports,
                            "asserts": parsed.asserts,
                            "entry_point": parsed.entry_point,
                            "error": parsed.error,
                            **_completion_extra(comp),
                        },
                    )
                )
            self._add(records)
            self.generated_now["tests"] += len(records)
            done += len(records)
            self._tick("tests", done, total)

    def _solutions(self, candidates: list[tuple[str, str]]) -> None:
        spec = self.spec
        with_tests = [
            (q, text, self.rows[(f"{q}/tests", 0)])
            for q, text in candidates
            if self.rows[(f"{q}/tests", 0)].completion
        ]
        n = spec.solutions
        total = len(with_tests) * n
        pending: list[tuple[str, int, Future[Verdict]]] = []
        judged = sum(
            1 for q, _, _ in with_tests for j in range(n) if (f"{q}/solution", j) in self.judged
        )

        def submit(q: str, j: int, code: str, tests_src: str) -> None:
            program = judge_program(code, tests_src, f"{q}#{j}", spec.timeout_s)
            pending.append((q, j, self.executor.submit(program)))

        def drain(wait: bool = False) -> None:
            nonlocal judged
            ready = [p for p in pending if wait or p[2].done()]
            if not ready:
                return
            self.db.add_verdicts(
                self.run_id, [(f"{q}/solution", j, fut.result()) for q, j, fut in ready]
            )
            taken = {id(p) for p in ready}
            pending[:] = [p for p in pending if id(p) not in taken]
            judged += len(ready)
            self.generated_now["judged"] += len(ready)
            self._tick("judging", judged, total)

        generated = sum(1 for q, _, _ in with_tests if (f"{q}/solution", 0) in self.rows)
        self._tick("solutions", generated * n, total)
        self._tick("judging", judged, total)
        for q, _, tests_rec in with_tests:  # resume: judge stored solutions without a verdict
            for j in range(n):
                rec = self.rows.get((f"{q}/solution", j))
                if rec is not None and (rec.task_id, j) not in self.judged:
                    submit(q, j, rec.completion or "", tests_rec.completion or "")
        for q, text, tests_rec in with_tests:
            if (f"{q}/solution", 0) in self.rows:
                continue
            extra = tests_rec.extra or {}
            conv = solution_messages(text, extra["asserts"][0])
            params = GenParams(
                max_new_tokens=spec.max_new_tokens,
                temperature=spec.temperature,
                top_p=spec.top_p,
                n=n,
                stop=("[/PYTHON]",),
                seed=_derive(spec.seed, f"solutions:{q}"),
            )
            comps = self.coder.chat([conv], params)[0]
            records = []
            for j, comp in enumerate(comps):
                code, method = parse_solution("[PYTHON]\n" + comp.text, extra.get("entry_point"))
                records.append(
                    SampleRecord(
                        task_id=f"{q}/solution",
                        sample_idx=j,
                        completion=code,
                        prompt=_messages_record(conv),
                        raw_output=comp.text,
                        params=json.loads(params.to_json()),
                        extra={
                            "stage": "solution",
                            "extraction": method,
                            **_completion_extra(comp),
                        },
                    )
                )
            self._add(records)
            self.generated_now["solutions"] += len(records)
            for rec in records:
                submit(q, rec.sample_idx, rec.completion or "", tests_rec.completion or "")
            generated += 1
            self._tick("solutions", generated * n, total)
            drain()
        drain(wait=True)
        self._reload()

    def _add(self, records: list[SampleRecord]) -> None:
        self.db.add_samples(self.run_id, records)
        for rec in records:
            self.rows[(rec.task_id, rec.sample_idx)] = rec

    # -- results --------------------------------------------------------------------------
    def summarize(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Counts and kept records, from the store alone (so a resumed run counts everything)."""
        spec = self.spec
        candidates, dropped = self._screen()
        verdicts = {(v.task_id, v.sample_idx): v for v in self.db.verdicts(self.run_id)}
        records: list[dict[str, Any]] = []
        pass_rates: dict[str, float] = {}
        solutions_run = solutions_passed = 0
        for q, text in candidates:
            tests_rec = self.rows[(f"{q}/tests", 0)]
            if not tests_rec.completion:
                dropped[q] = {
                    "reason": "tests failing to parse",
                    "error": (tests_rec.extra or {}).get("error"),
                }
                continue
            passing: list[SampleRecord] = []
            ran = 0
            for j in range(spec.solutions):
                v = verdicts.get((f"{q}/solution", j))
                if v is None:
                    continue
                ran += 1
                if v.passed:
                    passing.append(self.rows[(f"{q}/solution", j)])
            solutions_run += ran
            solutions_passed += len(passing)
            pass_rates[q] = len(passing) / ran if ran else 0.0
            if not passing:
                dropped[q] = {"reason": "no passing solution"}
                continue
            chosen = None
            match = None
            for rec in passing:
                match = self.deco.code_match(rec.completion or "") if self.deco else None
                if match is None:
                    chosen = rec
                    break
            if chosen is None:
                assert match is not None
                dropped[q] = {
                    "reason": "contaminated solution",
                    "source": match.source,
                    "score": round(match.score, 3),
                }
                continue
            extra = tests_rec.extra or {}
            code = chosen.completion or ""
            records.append(
                {
                    "id": q,
                    "messages": [
                        {"role": "user", "content": text},
                        {"role": "assistant", "content": f"[PYTHON]\n{code}\n[/PYTHON]"},
                    ],
                    "question": text,
                    "solution": code,
                    "tests": tests_rec.completion,
                    "entry_point": extra.get("entry_point"),
                    "solution_index": chosen.sample_idx,
                    "pass_rate": pass_rates[q],
                }
            )
        reasons: dict[str, int] = {}
        for info in dropped.values():
            reasons[info["reason"]] = reasons.get(info["reason"], 0) + 1
        summary = {
            "questions_generated": spec.questions,
            "unusable_questions": reasons.get("unusable question", 0),
            "exact_duplicates": reasons.get("exact duplicate", 0),
            "near_duplicates": reasons.get("near duplicate", 0),
            "contaminated_questions": reasons.get("contaminated question", 0),
            "tests_failing_to_parse": reasons.get("tests failing to parse", 0),
            "solutions_run": solutions_run,
            "solutions_passed": solutions_passed,
            "no_passing_solution": reasons.get("no passing solution", 0),
            "contaminated_solutions": reasons.get("contaminated solution", 0),
            "kept": len(records),
            "yield": len(records) / spec.questions,
            "pass_rate_per_question": pass_rates,
            "mean_pass_rate": (sum(pass_rates.values()) / len(pass_rates)) if pass_rates else None,
            "dropped": dict(sorted(dropped.items())),
        }
        return summary, records


# -- export ------------------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def export(
    records: Sequence[dict[str, Any]],
    summary: dict[str, Any],
    out_dir: Path,
    *,
    save_hf: bool = False,
) -> dict[str, str]:
    """Write the dataset folder; returns ``{what: path}``.

    - ``train.jsonl``: one chat record per line (``messages``: user question, assistant
      solution in ``[PYTHON]`` tags), the shape TRL's ``SFTTrainer`` takes, plus metadata;
    - ``selfinstruct/problems.jsonl`` and ``samples.jsonl``: the kept records as a task and its
      samples, so ``codeduel evaluate DIR/samples.jsonl --task selfinstruct --data-dir DIR``
      re-runs every kept solution against its tests;
    - ``summary.json``; with ``save_hf`` also ``hf/`` (``datasets.Dataset.save_to_disk``).
    """
    files: dict[str, str] = {}
    try:
        train = out_dir / "train.jsonl"
        _write_jsonl(train, records)
        files["train"] = str(train)
        problems = out_dir / PROBLEMS_RELPATH
        problems.parent.mkdir(parents=True, exist_ok=True)
        _write_jsonl(
            problems,
            [
                {
                    "task_id": r["id"],
                    "question": r["question"],
                    "entry_point": r["entry_point"],
                    "tests": r["tests"],
                    "solution": r["solution"],
                }
                for r in records
            ],
        )
        files["problems"] = str(problems)
        samples = out_dir / "samples.jsonl"
        _write_jsonl(samples, [{"task_id": r["id"], "solution": r["solution"]} for r in records])
        files["samples"] = str(samples)
        summary_path = out_dir / "summary.json"
        summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        files["summary"] = str(summary_path)
    except OSError as err:
        raise CodeduelError(
            f"cannot write to {out_dir}: {err.strerror or err}",
            "pass a writable folder to -o (the data is kept in the store; rerun to export)",
        ) from None
    if save_hf:
        try:
            import datasets as hf_datasets
        except ImportError:
            raise CodeduelError(
                "saving a Hugging Face dataset needs the `datasets` package",
                "pip install datasets, or drop --hf",
            ) from None
        quiet = getattr(hf_datasets, "disable_progress_bars", None)
        if quiet is not None:
            quiet()  # its bars would interleave with ours on stderr
        hf_dir = out_dir / "hf"
        hf_datasets.Dataset.from_list(list(records)).save_to_disk(str(hf_dir))
        files["hf"] = str(hf_dir)
    return files
