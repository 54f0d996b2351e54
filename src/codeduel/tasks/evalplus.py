"""HumanEval+ (v0.1.10) and MBPP+ (v0.2.0): EvalPlus's differential testing, judged outside.

EvalPlus runs the canonical solution on every base and plus input to get expected outputs and
reference times, then calls the candidate on each input with its own time limit
``max(min_time_limit, factor * reference_time)`` and compares outputs exactly, or with
``np.allclose(rtol=1e-07, atol)`` for floats, plus a few per-task oracles. This module does the
same, with two differences in *where* things run:

- expected outputs come from :meth:`EvalPlusTask.prepare`, which runs the canonical solutions
  through the executor once and caches outputs and times (codec-encoded, keyed by the dataset's
  sha256); later instances load the cache without running anything;
- the comparison runs in the trusted judge against a proxy of the candidate (``rpc``), so a
  program cannot fake its verdict. Values cross as exact builtins, so a tuple stays a tuple.

Semantics kept from evalplus 0.3.1 (the release that pins these dataset versions): fast check
(stop at the first failing input), base inputs before plus inputs (a sample passes ``+`` only if
both pass; ``details["report"]`` says which failed and on what input, and :func:`phase_verdict`
reads it as evalplus's ``base_status``/``plus_status``), the ``atol == 0 and
floats -> 1e-6`` rule that then sticks for the rest of a phase, type and length checks before
``allclose``, MBPP+'s input deserialisation and special oracles, per-input limits
``max(1.0 s, 4 x reference time)``. Where this differs, and why:

- one candidate process serves both phases (EvalPlus starts a fresh one for plus), and the plus
  phase is not run after a base failure, so such a sample's plus status is unknown (``None``;
  evalplus counts it as failing ``+`` all the same);
- a per-input timeout makes the verdict ``timed out`` (EvalPlus counts it as a fail);
- a phase may run ``min(sum of limits, 60 s + 4 x reference total) + 2 s``: EvalPlus's flat
  60 s fails its own reference for Mbpp/599 on a busy CPU;
- outputs over 64 KiB are compared through an order-insensitive digest (not ``np.allclose``),
  and inputs whose reference output exceeds 16 MiB, or exhausts the executor's memory, are
  skipped for everyone (5 inputs of Mbpp/255);
- MBPP+ tasks whose outputs cannot cross as builtins get a small wrapper in the child:
  ``re.Match`` becomes its truth (what EvalPlus's oracle reads), ``Counter`` a plain dict.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import tempfile
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import platformdirs

from codeduel.errors import CodeduelError, ExecutorError, SamplesError
from codeduel.execution import codec
from codeduel.execution.base import Executor, Program
from codeduel.tasks import datasets, register
from codeduel.tasks.base import PYTHON_PACKAGES, DatasetInfo, Problem
from codeduel.tasks.humaneval import normalize_humaneval_id, sample_code
from codeduel.tasks.mbpp import normalize_mbpp_id

# evalplus 0.3.1 defaults (evalplus/config.py; its master branch later raised the minimum to 4 s).
DEFAULT_MIN_TIME_LIMIT = 1.0
DEFAULT_GT_TIME_LIMIT_FACTOR = 4.0
PHASE_TIMEOUT_CAP_S = 60.0  # EVALPLUS_TIMEOUT_PER_TASK default
PHASE_SLACK_S = 2.0  # evalplus: +1 s on the phase budget, +1 s on the process join
GROUND_TRUTH_TIMEOUT_S = 300.0
# Expected outputs larger than this (encoded) are kept as a digest, not shipped with each sample.
DIGEST_OVER = 64 * 1024
# Inputs whose reference output is larger than this are skipped: a process holding several such
# outputs (Mbpp/255: 29-57 MB each, one over the 64 MB transfer limit) runs out of memory under
# the executor's limits, so they cannot be judged fairly for anyone.
SKIP_OVER = 16 * 1024 * 1024
EXPECTED_CACHE_VERSION = 2  # bump when the expected-output format or the gt program changes

# Tasks whose outputs (re.Match objects) are only checked for ``is not None`` (or equal if bool).
MBPP_OUTPUT_NOT_NONE = frozenset({"check_str", "text_match_three", "text_starta_endb"})
# Tasks whose list outputs are compared as sets.
MBPP_OUTPUT_SET_EQ = frozenset(
    {
        "similar_elements",
        "find_char_long",
        "common_in_nested_lists",
        "extract_singly",
        "larg_nnum",
        "intersection_array",
        "find_dissimilar",
        "Diff",
    }
)
# Tasks whose outputs are dict subclasses (collections.Counter) that evalplus compares with ==.
MBPP_OUTPUT_DICT = frozenset({"freq_count"})
_WRAPPER = "_codeduel_output"


class NotPreparedError(CodeduelError):
    """Expected outputs are not computed yet for this dataset version."""


# -- MBPP+ input deserialisation (JSON has no tuples, sets or complex numbers) --------------------


def _deep_tuple(x: Any) -> Any:
    return tuple(_deep_tuple(i) for i in x) if isinstance(x, list) else x


_TUPLE_ARGS = frozenset(
    {2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596}
    | {616, 630, 726, 740, 744, 809}
)


def _mbpp_rule(number: int) -> Callable[[list[Any]], Any] | None:
    """The per-input conversion evalplus applies to MBPP+ task ``number`` (None: unchanged)."""
    if number in _TUPLE_ARGS:
        return lambda inp: [tuple(a) for a in inp]
    if number in {63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780}:
        return lambda inp: [[tuple(x) for x in a] for a in inp]
    if number in {75, 413, 444, 753}:
        return lambda inp: [[tuple(x) for x in inp[0]], inp[1]]
    if number in {106, 750}:
        return lambda inp: [inp[0], tuple(inp[1])]
    if number == 115:
        # An empty list becomes {} (a dict), exactly as evalplus does.
        return lambda inp: [[set(i) if isinstance(i, list) and len(i) else {} for i in inp[0]]]
    if number == 124:
        return lambda inp: (float(inp[0]), complex(inp[1]))
    if number in {250, 405, 446, 617, 720, 763, 808}:
        return lambda inp: [tuple(inp[0]), inp[1]]
    if number in {259, 401, 445}:
        return lambda inp: [tuple(tuple(x) for x in a) for a in inp]
    if number == 278:
        return lambda inp: [tuple(tuple(i) if isinstance(i, list) else i for i in inp[0])]
    if number == 307:
        return lambda inp: [tuple(inp[0]), inp[1], inp[2]]
    if number == 722:
        return lambda inp: [{k: tuple(v) for k, v in inp[0].items()}, *inp[1:]]
    if number == 252:
        return lambda inp: [complex(inp[0])]
    if number in {580, 615, 791}:
        return _deep_tuple
    return None


def mbpp_plus_inputs(task_id: str, inputs: list[Any]) -> list[Any]:
    """MBPP+ inputs with the tuples, sets and complex numbers evalplus rebuilds from JSON."""
    rule = _mbpp_rule(int(task_id.split("/")[-1]))
    return list(inputs) if rule is None else [rule(inp) for inp in inputs]


def mbpp_serialize_input(task_id: str, inp: Any) -> Any:
    """An MBPP+ input as evalplus 0.3.1 writes it in ``*_fail_tests`` (``mbpp_serialize_inputs``):
    sets become lists and complex numbers text; tuples become lists when dumped as JSON."""
    number = int(task_id.split("/")[-1])
    if number == 115:
        return [[list(item) for item in inp[0]]]
    if number == 124:
        return [str(inp[0]), str(inp[1])]
    if number == 252:
        return [str(inp[0])]
    return inp


# -- a verdict read per phase, as evalplus reports it ---------------------------------------------

PASS, FAIL, TIMEOUT = "pass", "fail", "timeout"  # evalplus.eval's status words


@dataclass(frozen=True)
class PhaseVerdict:
    """A sample's status on the base inputs and on the plus inputs, in evalplus's words.

    ``plus`` is the plus inputs' own status, or ``None`` when that phase never ran (the base
    phase failed first). A sample counts for HumanEval+/MBPP+ only when both pass, as in
    evalplus (``base_status == plus_status == "pass"``).
    """

    base: str
    plus: str | None
    failed_phase: str | None = None  # "base" or "plus": where the first failing input is
    failed_index: int | None = None

    @property
    def base_passed(self) -> bool:
        return self.base == PASS

    @property
    def plus_passed(self) -> bool:
        return self.base == PASS and self.plus == PASS


def phase_verdict(status: str, details: Mapping[str, Any]) -> PhaseVerdict:
    """Read a humaneval+/mbpp+ verdict per phase from what the judge reported.

    The judge's harness (evalplus_harness/check.py) reports each phase as it passes and the
    first failing input; nothing here comes from the candidate. A per-input time limit is a
    ``fail`` (evalplus's ``time_limit`` raises inside its check); a program stopped with no
    failing input (the whole-phase budget) is a ``timeout``; a program that never reached the
    inputs (a syntax error, a crash on import) fails the base phase with no failing input.
    """
    if status == "passed":
        return PhaseVerdict(PASS, PASS)
    stopped = TIMEOUT if status == "timed out" else FAIL
    report = details.get("report")
    if not isinstance(report, Mapping):
        return PhaseVerdict(stopped, None)
    first = report.get("first_failure")
    if isinstance(first, Mapping) and first.get("phase") in ("base", "plus"):
        phase, index = str(first["phase"]), first.get("index")
        index = index if isinstance(index, int) else None
        if phase == "base":
            return PhaseVerdict(FAIL, None, phase, index)
        return PhaseVerdict(PASS, FAIL, phase, index)
    if report.get("base_status") == PASS:
        return PhaseVerdict(PASS, stopped)  # stopped during the plus phase
    return PhaseVerdict(stopped, None)


def evalplus_dataset(task: object) -> str | None:
    """evalplus's name of the base dataset of ``task`` (``humaneval`` or ``mbpp``), or None for a
    task that is not judged in base and plus phases."""
    return task.kind if isinstance(task, EvalPlusTask) else None


# -- trusted judge code (evalplus_harness/: real files, linted, run by the judge as text) ---------


def _harness(name: str) -> str:
    """Judge code shipped beside this module (``evalplus_harness/<name>.py``), as text."""
    return (resources.files("codeduel.tasks") / "evalplus_harness" / f"{name}.py").read_text(
        encoding="utf-8"
    )


_DIGEST_SRC = _harness("digest")
_CHECK_HARNESS = _DIGEST_SRC + _harness("check")
_GROUND_TRUTH_HARNESS = _DIGEST_SRC + _harness("ground_truth")


def _gt_entry(report: dict[str, Any]) -> dict[str, Any]:
    """Expected outputs, reference times and marks of one problem from its gt report."""
    entry: dict[str, Any] = {}
    for phase in ("base", "plus"):
        entry[phase] = _unb64(report[phase])
        entry[phase + "_time"] = [float(t) for t in report[phase + "_time"]]
        entry[phase + "_marks"] = dict(report[phase + "_marks"])
    return entry


def _b64(value: Any) -> str:
    return base64.b64encode(codec.dumps(value)).decode("ascii")


def _unb64(text: str) -> Any:
    return codec.loads(base64.b64decode(text))


class EvalPlusTask:
    """One EvalPlus dataset; subclasses fix the file, the id scheme and the input conversion."""

    name = "evalplus"
    packages = PYTHON_PACKAGES
    kind = "humaneval"  # evalplus's dataset switch for special oracles: "humaneval" or "mbpp"
    _dataset = "humaneval+"

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        min_time_limit: float = DEFAULT_MIN_TIME_LIMIT,
        gt_time_limit_factor: float = DEFAULT_GT_TIME_LIMIT_FACTOR,
    ) -> None:
        self.min_time_limit = min_time_limit
        self.gt_time_limit_factor = gt_time_limit_factor
        self._info, records = datasets.load(self._dataset, data_dir)
        self._problems: list[Problem] = []
        self._inputs: dict[str, dict[str, str]] = {}
        for rec in records:
            tid = rec["task_id"]
            base, plus = rec["base_input"], rec["plus_input"]
            if self.kind == "mbpp":
                base, plus = mbpp_plus_inputs(tid, base), mbpp_plus_inputs(tid, plus)
            self._inputs[tid] = {"base": _b64(base), "plus": _b64(plus)}
            self._problems.append(
                Problem(
                    task_id=tid,
                    prompt=rec["prompt"],
                    entry_point=rec["entry_point"],
                    reference=rec["canonical_solution"],
                    meta={
                        "atol": rec["atol"],
                        "n_base": len(base),
                        "n_plus": len(plus),
                        "contract": rec.get("contract", ""),
                    },
                )
            )
        self._by_id = {p.task_id: p for p in self._problems}
        self._expected: dict[str, dict[str, Any]] | None = self._load_expected()
        self._data_cache: dict[str, tuple[dict[str, Any], float]] = {}

    # -- Task protocol ---------------------------------------------------------------------
    def dataset(self) -> DatasetInfo:
        return self._info

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def get(self, task_id: object) -> Problem:
        """The problem for a sample's ``task_id`` (normalised like the base benchmark's ids)."""
        tid = self._normalize(task_id)
        try:
            return self._by_id[tid]
        except KeyError:
            raise SamplesError(
                f"task_id {tid!r} is not in {self.name}", "check the samples were made for it"
            ) from None

    def _normalize(self, task_id: object) -> str:
        return normalize_humaneval_id(task_id)

    @property
    def prepared(self) -> bool:
        """Whether expected outputs are known for every problem (not just some)."""
        return self._expected is not None and len(self._expected) == len(self._by_id)

    def prepare(self, executor: Executor, task_ids: Collection[str] | None = None) -> None:
        """Run the canonical solutions of ``task_ids`` (default: every problem) once for
        expected outputs and times, and cache them; problems already cached are not rerun, so
        scoring a few samples costs those problems, not the whole benchmark."""
        have = dict(self._expected or {})
        wanted = self._by_id if task_ids is None else {self._normalize(t) for t in task_ids}
        missing = [self._by_id[t] for t in wanted if t not in have]
        if not missing:
            self._expected = have
            return
        retry: list[Problem] = []
        for verdict in executor.run(self._gt_program(p) for p in missing):
            report = verdict.details.get("report")
            if verdict.passed and isinstance(report, dict):
                have[verdict.key] = _gt_entry(report)
            else:
                retry.append(self._by_id[verdict.key])
        for problem in retry:
            have[problem.task_id] = self._prepare_per_input(executor, problem)
        self._expected = have
        self._data_cache.clear()
        self._save_expected(have)

    def _gt_program(self, p: Problem, only: tuple[str, int] | None = None) -> Program:
        """The canonical solution as the candidate, every input (or just ``only``) timed."""
        data: dict[str, Any] = {
            "call": self._call_name(p),
            "atol": p.meta["atol"],
            "digest_over": DIGEST_OVER,
            "skip_over": SKIP_OVER,
            "base_input": self._inputs[p.task_id]["base"],
            "plus_input": self._inputs[p.task_id]["plus"],
        }
        key = p.task_id
        if only is not None:
            data["only"] = list(only)
            key = f"{p.task_id}|{only[0]}|{only[1]}"
        return Program(
            key=key,
            candidate=self._candidate(p, p.prompt + p.reference),
            harness=_GROUND_TRUTH_HARNESS,
            expose=(self._call_name(p),),
            harness_data=data,
            mode="rpc",
            timeout_s=GROUND_TRUTH_TIMEOUT_S,
        )

    def _prepare_per_input(self, executor: Executor, problem: Problem) -> dict[str, Any]:
        """One program per input, for a reference that dies on some input under these limits
        (Mbpp/255 builds outputs of several GB). Inputs it cannot run are skipped for all."""
        entry: dict[str, Any] = {}
        sizes = {"base": problem.meta["n_base"], "plus": problem.meta["n_plus"]}
        for phase, n in sizes.items():
            entry[phase] = [None] * n
            entry[phase + "_time"] = [0.0] * n
            entry[phase + "_marks"] = {}
        programs = [
            self._gt_program(problem, (phase, i)) for phase, n in sizes.items() for i in range(n)
        ]
        skipped = 0
        for verdict in executor.run(programs):
            _, phase, index = verdict.key.split("|")
            i = int(index)
            report = verdict.details.get("report")
            if verdict.passed and isinstance(report, dict):
                one = _gt_entry(report)
                entry[phase][i] = one[phase][i]
                entry[phase + "_time"][i] = one[phase + "_time"][i]
                if i in one[phase + "_marks"]:
                    entry[phase + "_marks"][i] = one[phase + "_marks"][i]
            else:
                skipped += 1
                entry[phase + "_marks"][i] = ("skip", verdict.status, verdict.result[:200])
        if skipped == len(programs):
            raise ExecutorError(
                f"computing {self.name} expected outputs: the canonical solution of "
                f"{problem.task_id} fails on every input",
                "check the executor's memory and time limits, then run prepare again",
            )
        return entry

    def program(self, problem: Problem, sample: dict[str, Any], key: str) -> Program:
        data, timeout_s = self._harness_data(problem)
        code = sample_code(sample, problem.prompt, problem.task_id)
        return Program(
            key=key,
            candidate=self._candidate(problem, code),
            harness=_CHECK_HARNESS,
            expose=(self._call_name(problem),),
            harness_data=data,
            mode="rpc",
            timeout_s=timeout_s,
        )

    # -- helpers ---------------------------------------------------------------------------
    def skipped_inputs(self) -> dict[str, int]:
        """Problems with inputs nobody is judged on (the reference cannot run them under the
        executor's limits), and how many; recorded so a run can say what it left out."""
        expected = self._require_expected()
        counts = {
            tid: sum(m[0] == "skip" for ph in ("base", "plus") for m in e[ph + "_marks"].values())
            for tid, e in expected.items()
        }
        return {tid: n for tid, n in counts.items() if n}

    def inputs(self, problem: Problem) -> dict[str, list[Any]]:
        """The base and plus inputs of ``problem``, as the candidate receives them."""
        return {phase: _unb64(self._inputs[problem.task_id][phase]) for phase in ("base", "plus")}

    def evalplus_hash(self) -> str:
        """evalplus's dataset hash (``get_human_eval_plus_hash``): md5 of the JSONL text it
        caches, i.e. of this file decompressed; ``eval_results.json`` records it."""
        raw = Path(self._info.path).read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return hashlib.md5(raw, usedforsecurity=False).hexdigest()

    def failing_input(self, problem: Problem, phase: str, index: int) -> Any:
        """Input ``index`` of ``phase`` as evalplus writes it in ``base_fail_tests`` and
        ``plus_fail_tests`` (the dataset's value; MBPP+'s sets and complex numbers serialised)."""
        value = self.inputs(problem)[phase][index]
        return mbpp_serialize_input(problem.task_id, value) if self.kind == "mbpp" else value

    def time_limits(self, reference_times: list[float]) -> list[float]:
        """Per-input limits: ``max(min_time_limit, factor * reference time)``."""
        return [max(self.min_time_limit, self.gt_time_limit_factor * t) for t in reference_times]

    def _call_name(self, problem: Problem) -> str:
        assert problem.entry_point is not None
        return problem.entry_point

    def _candidate(self, problem: Problem, code: str) -> str:
        return code

    def _harness_data(self, problem: Problem) -> tuple[dict[str, Any], float]:
        """DATA for the check harness and the whole-program timeout (memoised per problem)."""
        cached = self._data_cache.get(problem.task_id)
        if cached is not None:
            return cached
        exp = self._require_expected().get(problem.task_id)
        if exp is None:
            raise NotPreparedError(
                f"{self.name} expected outputs are not computed for {problem.task_id}",
                "call task.prepare(executor, task_ids) with the problems you score",
            )
        data: dict[str, Any] = {
            "call": self._call_name(problem),
            "kind": self.kind,
            "entry_point": problem.entry_point,
            "set_eq": sorted(MBPP_OUTPUT_SET_EQ) if self.kind == "mbpp" else [],
            "atol": problem.meta["atol"],
        }
        timeout_s = 0.0
        for phase in ("base", "plus"):
            limits = self.time_limits(exp[phase + "_time"])
            data[phase + "_input"] = self._inputs[problem.task_id][phase]
            data[phase + "_expected"] = _b64(exp[phase])
            data[phase + "_marks"] = exp[phase + "_marks"]
            data[phase + "_limits"] = limits
            # EvalPlus caps each phase at a flat 60 s, which fails its own reference on Mbpp/599
            # on a slow or busy CPU; here the cap grows with the reference's total time.
            reference_s = sum(exp[phase + "_time"])
            cap = PHASE_TIMEOUT_CAP_S + self.gt_time_limit_factor * reference_s
            timeout_s += min(cap, sum(limits)) + PHASE_SLACK_S
        self._data_cache[problem.task_id] = (data, timeout_s)
        return data, timeout_s

    def _require_expected(self) -> dict[str, dict[str, Any]]:
        if self._expected is None:
            raise NotPreparedError(
                f"{self.name} expected outputs are not computed for dataset sha256 "
                f"{self._info.sha256[:16]}",
                "call task.prepare(executor) once (the CLI does this before scoring)",
            )
        return self._expected

    def _cache_path(self) -> Path:
        base = Path(platformdirs.user_cache_dir("codeduel")) / "tasks"
        return base / f"{self._dataset}-expected-{self._info.sha256[:16]}-v{EXPECTED_CACHE_VERSION}"

    def _load_expected(self) -> dict[str, dict[str, Any]] | None:
        """The cached expected outputs (possibly of only some problems); None if unusable."""
        try:
            saved = codec.loads(self._cache_path().read_bytes())
        except (OSError, codec.CodecError):
            return None
        if not isinstance(saved, dict) or not saved or not set(saved) <= set(self._by_id):
            return None
        for tid, entry in saved.items():
            if not isinstance(entry, dict):
                return None
            meta = self._by_id[tid].meta
            for phase in ("base", "plus"):
                n = meta["n_" + phase]
                if len(entry.get(phase, ())) != n or len(entry.get(phase + "_time", ())) != n:
                    return None
                if not isinstance(entry.get(phase + "_marks"), dict):
                    return None
        return saved

    def _save_expected(self, expected: dict[str, dict[str, Any]]) -> None:
        """Write the cache atomically, keeping problems another process cached meanwhile."""
        on_disk = self._load_expected() or {}
        expected = {**on_disk, **expected}
        path = self._cache_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(codec.dumps(expected))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@register("humaneval+", "HumanEval+ v0.1.10 (EvalPlus): HumanEval with 80x more tests")
class HumanEvalPlusTask(EvalPlusTask):
    """HumanEval+ v0.1.10: base (HumanEval) inputs plus EvalPlus's generated inputs."""

    name = "humaneval+"
    kind = "humaneval"
    _dataset = "humaneval+"


@register("mbpp+", "MBPP+ v0.2.0 (EvalPlus): 378 sanitized MBPP problems with 35x more tests")
class MbppPlusTask(EvalPlusTask):
    """MBPP+ v0.2.0: 378 problems; tasks returning ``re.Match`` are checked for not-None."""

    name = "mbpp+"
    kind = "mbpp"
    _dataset = "mbpp+"

    def _normalize(self, task_id: object) -> str:
        return normalize_mbpp_id(task_id)

    def _call_name(self, problem: Problem) -> str:
        assert problem.entry_point is not None
        if problem.entry_point in MBPP_OUTPUT_NOT_NONE or problem.entry_point in MBPP_OUTPUT_DICT:
            return _WRAPPER
        return problem.entry_point

    def _candidate(self, problem: Problem, code: str) -> str:
        """Append a wrapper where the output type cannot cross but what evalplus checks can.

        ``re.Match`` (not-None tasks) becomes its truth, as evalplus's oracle reads it; a
        ``Counter`` becomes a plain dict, which ``==`` treats the same. The wrapper runs in the
        child after the candidate, and the comparison itself stays in the judge.
        """
        entry = problem.entry_point
        if entry in MBPP_OUTPUT_NOT_NONE:
            convert = "out if isinstance(out, bool) else out is not None"
        elif entry in MBPP_OUTPUT_DICT:
            convert = "dict(out) if isinstance(out, dict) else out"
        else:
            return code
        return (
            f"{code}\n\n\ndef {_WRAPPER}(*args):\n    out = {entry}(*args)\n    return {convert}\n"
        )
