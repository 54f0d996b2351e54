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
both pass; ``details["report"]`` says which failed and on what input), the ``atol == 0 and
floats -> 1e-6`` rule that then sticks for the rest of a phase, type and length checks before
``allclose``, MBPP+'s input deserialisation and special oracles, per-input limits
``max(1.0 s, 4 x reference time)``. Where this differs, and why:

- one candidate process serves both phases (EvalPlus starts a fresh one for plus);
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
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs

from codeduel import datasets
from codeduel.errors import CodeduelError, ExecutorError, SamplesError
from codeduel.execution import codec
from codeduel.execution.base import Executor, Program
from codeduel.tasks import register
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


# -- trusted judge code ---------------------------------------------------------------------------

# Shared by both harnesses. Expected outputs over DIGEST_OVER bytes are stored as a digest (a few
# HumanEval+/MBPP+ outputs are many MB: shipping them with every sample would not fit a message).
# The digest ignores set and dict order and maps integral floats to ints, so it agrees with
# ``==`` in the cases EvalPlus relies on (``[1, 3.0] == [1, 3]``).
_DIGEST_SRC = r"""
import hashlib as _hashlib


def _num(v):
    if type(v) is int:
        return b"i%x;" % v
    if v.is_integer() and abs(v) < 2.0**63:
        return b"i%x;" % int(v)
    return b"f" + v.hex().encode() + b";"


def _feed(h, x):
    t = type(x)
    if x is None:
        h.update(b"N")
    elif t is bool:
        h.update(b"T" if x else b"F")
    elif t is int or t is float:
        h.update(_num(x))
    elif t is str:
        b = x.encode("utf-8", "surrogatepass")
        h.update(b"s%d:" % len(b))
        h.update(b)
    elif t is list or t is tuple:
        h.update((b"l%d:" if t is list else b"t%d:") % len(x))
        if x and all(type(i) is str for i in x):
            h.update(repr(x).encode("utf-8", "surrogatepass"))
        elif x and all(type(i) is int or type(i) is float for i in x):
            h.update(b"".join([_num(i) for i in x]))
        else:
            for i in x:
                _feed(h, i)
    elif t is set or t is frozenset or t is dict:
        items = x.items() if t is dict else ((i, None) for i in x)
        parts = sorted(_digest(k) + _digest(v) for k, v in items)
        h.update(b"m%d:" % len(parts))
        h.update("".join(parts).encode())
    else:
        h.update(b"r" + repr(x).encode("utf-8", "surrogatepass"))


def _digest(x):
    h = _hashlib.sha256()
    _feed(h, x)
    return h.hexdigest()
"""

# Runs in the judge. Decodes inputs/expected outputs, calls the candidate proxy per input with its
# own time limit, compares like evalplus, report()s the first failing input and raises.
_CHECK_HARNESS = _DIGEST_SRC + (
    r"""
import base64 as _b64
import math as _math

import numpy as _np

from codeduel.execution.codec import loads as _loads

_D = DATA
_FN = CANDIDATES[_D["call"]]
_KIND = _D["kind"]
_ENTRY = _D["entry_point"]
_SET_EQ = frozenset(_D["set_eq"])


def _short(x, n=300):
    try:
        r = repr(x)
    except ValueError:  # an int too long for decimal conversion
        r = "<%s too large to print>" % type(x).__name__
    return r if len(r) <= n else r[:n] + "..."


def _is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False


def _poly(xs, x):
    return sum(c * _math.pow(x, i) for i, c in enumerate(xs))


def _surface_area(base_edge, height):
    slant = _math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant) / 2)


def _digit_distance(a, b):
    sa, sb = str(a), str(b)
    width = max(len(sa), len(sb))
    return sum(abs(int(x) - int(y)) for x, y in zip(sa.zfill(width), sb.zfill(width)))


def _matches(inp, out, exp, atol):
    # (passed, atol): evalplus's comparison, and the atol it leaves for the next input.
    if _KIND == "humaneval" and _ENTRY == "find_zero":
        return abs(_poly(*inp, out)) <= atol, atol
    exact = out == exp
    if _KIND == "mbpp":
        if _ENTRY == "are_equivalent":
            exact = True
        elif _ENTRY == "sum_div":
            exact = exact or out == 0
        elif _ENTRY == "surface_Area":
            exact = exact or abs(out - _surface_area(*inp)) <= atol
        elif _ENTRY == "digit_distance_nums":
            exact = exact or out == _digit_distance(*inp)
        elif _ENTRY in _SET_EQ:
            exact = set(out) == set(exp)
    if atol == 0 and _is_floats(exp):
        atol = 1e-6
    if not exact and atol != 0:
        if type(out) is not type(exp):
            return False, atol
        if isinstance(exp, (list, tuple)) and len(out) != len(exp):
            return False, atol
        return bool(_np.allclose(out, exp, rtol=1e-07, atol=atol)), atol
    return bool(exact), atol


def _phase(name):
    inputs = _loads(_b64.b64decode(_D[name + "_input"]))
    expected = _loads(_b64.b64decode(_D[name + "_expected"]))
    marks = _D[name + "_marks"]
    limits = _D[name + "_limits"]
    atol = _D["atol"]
    for i, (inp, exp, limit) in enumerate(zip(inputs, expected, limits)):
        mark = marks.get(i)
        if mark and mark[0] == "skip":  # the reference cannot run it within these limits
            continue
        shown = "<%s output, sha256 %s>" % (mark[2], mark[1][:12]) if mark else _short(exp)
        fail = {"phase": name, "index": i, "input": _short(inp), "expected": shown}
        try:
            out = call_with_timeout(_FN, *inp, timeout_s=limit)
        except BaseException as exc:
            fail["got"] = ("%s: %s" % (type(exc).__name__, exc))[:300]
            return fail, exc
        try:
            if mark:
                ok = _digest(out) == mark[1]
            else:
                ok, atol = _matches(inp, out, exp, atol)
        except Exception:
            ok = False
        if not ok:
            fail["got"] = _short(out)
            return fail, None
    return None, None


_status = {"base_status": None, "plus_status": None}
for _name in ("base", "plus"):
    _fail, _exc = _phase(_name)
    if _fail is not None:
        _status[_name + "_status"] = "fail"
        report({**_status, "first_failure": _fail})
        if _exc is not None:
            raise _exc
        raise AssertionError(
            "%s input #%d %s: got %s, expected %s"
            % (_name, _fail["index"], _fail["input"], _fail["got"], _fail["expected"])
        )
    _status[_name + "_status"] = "pass"
report(_status)
"""
)

# Runs in the judge on the canonical solution: outputs (or digests of large ones) and the wall
# time of every call. An input whose output cannot cross, or does not fit the executor's memory
# limit (Mbpp/255's largest output is over 64 MB), is marked with that error instead.
_GROUND_TRUTH_HARNESS = _DIGEST_SRC + (
    r"""
import base64 as _b64
import time as _time

from codeduel.execution.codec import dumps as _dumps, loads as _loads

_FN = CANDIDATES[DATA["call"]]
_LIMIT = DATA["digest_over"]
_ONLY = DATA.get("only")
_result = {}
for _name in ("base", "plus"):
    _outs, _times, _marks = [], [], {}
    for _i, _inp in enumerate(_loads(_b64.b64decode(DATA[_name + "_input"]))):
        if _ONLY is not None and [_name, _i] != _ONLY:
            _outs.append(None)
            _times.append(0.0)
            continue
        _t0 = _time.perf_counter()
        try:
            _out = _FN(*_inp)
        except BaseException as _e:
            if type(_e).__name__ not in ("_Unsupported", "MemoryError"):
                raise
            _out = None
            _marks[_i] = ("skip", type(_e).__name__, str(_e)[:200])
        _times.append(_time.perf_counter() - _t0)
        if _i not in _marks:
            _size = len(_dumps(_out))
            _floats = isinstance(_out, float) or (
                isinstance(_out, (list, tuple)) and _out and all(type(x) is float for x in _out)
            )
            if _size > DATA["skip_over"]:
                _marks[_i] = ("skip", "too large", "%d-byte output" % _size)
                _out = None
            elif _size > _LIMIT and not _floats and DATA["atol"] == 0:
                _marks[_i] = ("digest", _digest(_out), "%d-byte" % _size)
                _out = None
        _outs.append(_out)
    _result[_name] = _b64.b64encode(_dumps(_outs)).decode("ascii")
    _result[_name + "_time"] = _times
    _result[_name + "_marks"] = _marks
report(_result)
"""
)


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
        return self._expected is not None

    def prepare(self, executor: Executor) -> None:
        """Run every canonical solution once for expected outputs and times; cache them."""
        if self._expected is not None:
            return
        expected: dict[str, dict[str, Any]] = {}
        retry: list[Problem] = []
        for verdict in executor.run(self._gt_program(p) for p in self._problems):
            report = verdict.details.get("report")
            if verdict.passed and isinstance(report, dict):
                expected[verdict.key] = _gt_entry(report)
            else:
                retry.append(self._by_id[verdict.key])
        for problem in retry:
            expected[problem.task_id] = self._prepare_per_input(executor, problem)
        self._expected = expected
        self._data_cache.clear()
        self._save_expected(expected)

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
        exp = self._require_expected()[problem.task_id]
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
        try:
            saved = codec.loads(self._cache_path().read_bytes())
        except (OSError, codec.CodecError):
            return None
        if not isinstance(saved, dict) or set(saved) != set(self._by_id):
            return None
        for p in self._problems:
            entry = saved[p.task_id]
            if not isinstance(entry, dict):
                return None
            for phase in ("base", "plus"):
                n = p.meta["n_" + phase]
                if len(entry.get(phase, ())) != n or len(entry.get(phase + "_time", ())) != n:
                    return None
                if not isinstance(entry.get(phase + "_marks"), dict):
                    return None
        return saved

    def _save_expected(self, expected: dict[str, dict[str, Any]]) -> None:
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
