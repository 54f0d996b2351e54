# Trusted judge code, run as text by the executor's judge (never imported): the judge binds
# DATA, CANDIDATES, call_with_timeout and report before it runs (codeduel.execution.base).
#
# Runs each test through the candidate-side runner (stdin_runner.py / call_runner.py) with its
# own CPU limit, compares the result here by the benchmark's rule (LiveCodeBench's
# lcb_runner/evaluation/testing_util.py or APPS's eval/testing_util.py, restated), report()s the
# per-test verdicts and raises on the first failure that decides the program.
# ruff: noqa: F821
from decimal import Decimal as _Decimal
from decimal import InvalidOperation as _InvalidOperation

from codeduel.execution.wire import Timeout as _Timeout

_D = DATA
_KIND = _D["kind"]  # "stdin" or "call"
_RULE = _D["compare"]  # "livecodebench" or "apps"
_LIMIT = _D["timeout_s"]
_FN_NAME = _D.get("fn_name")
_CASES = _D["cases"]
_RUN = CANDIDATES["codeduel_run_stdin" if _KIND == "stdin" else "codeduel_call"]
# LiveCodeBench stops at the first failing test; APPS runs every test (its per-test results
# feed the "test case average"). Either way a timeout ends the run: the child is gone.
_STOP_AT_FIRST = _RULE == "livecodebench"


def _short(x, n=200):
    try:
        r = x if isinstance(x, str) else repr(x)
    except ValueError:  # an int too long for decimal conversion
        r = f"<{type(x).__name__} too large to print>"
    return r if len(r) <= n else r[: n // 2] + " ... " + r[-n // 2 :]


# ------------------------------------------------------------------ LiveCodeBench


def _lcb_lines(text):
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line):
    try:
        return [_Decimal(x) for x in line.split()]
    except (_InvalidOperation, ValueError):
        return None


def _lcb_stdin(out, exp):
    got, want = _lcb_lines(out), _lcb_lines(exp)
    if len(got) != len(want):
        return False, f"{len(got)} lines, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if g == w:
            continue
        dg, dw = _decimals(g), _decimals(w)
        if dg is None or dw is None or dg != dw:
            return False, f"line {i + 1}: got {_short(g)}, expected {_short(w)}"
    return True, ""


def _lcb_call(out, exp):
    if isinstance(out, tuple):
        out = list(out)
    return out == exp, ""


# ------------------------------------------------------------------ APPS


def _apps_floats(a, b):
    try:
        fa, fb = [float(x) for x in a], [float(x) for x in b]
    except (TypeError, ValueError, OverflowError):
        return False
    # numpy.allclose's rule with its defaults (rtol 1e-5, atol 1e-8), as APPS calls it.
    return len(fa) == len(fb) and all(
        x == y or abs(x - y) <= 1e-8 + 1e-5 * abs(y) for x, y in zip(fa, fb, strict=True)
    )


def _apps_stdin(out, exp):
    # APPS captures stdout as a list of lines and tries, in order: the text stripped; the
    # lines stripped; the expected text as stripped non-empty lines; floats (numpy allclose:
    # |a - b| <= 1e-8 + 1e-5 |b|); finally each line as a set of tokens, the lines as a set
    # (so order is not checked), also with numbers rounded to 3 places.
    lines = out.splitlines()
    if exp.strip() == "\n".join(lines).strip():
        return True, ""
    if exp.strip() == "\n".join(s.strip() for s in lines).strip():
        return True, ""
    if lines == [exp]:
        return True, ""
    want = [s.strip() for s in filter(len, exp.split("\n"))]
    if lines == [want] or lines == want:
        return True, ""
    nonempty = [s for s in lines if s]
    if nonempty == want or _apps_floats(nonempty, want):
        return True, ""
    want_sets = [set(s.split()) for s in want]
    got_sets = [set(s.split()) for s in nonempty if s.split()]
    if {frozenset(s) for s in got_sets} == {frozenset(s) for s in want_sets}:
        return True, ""
    try:
        rounded_got = {frozenset(round(float(t), 3) for t in s) for s in got_sets}
        rounded_want = {frozenset(round(float(t), 3) for t in s) for s in want_sets}
        if rounded_got == rounded_want:
            return True, ""
    except (ValueError, OverflowError):
        pass
    return False, f"got {_short(out)}, expected {_short(exp)}"


def _apps_int_keys(inp, exp):
    # JSON turned int dict keys into strings; APPS turns them back for a dict first argument
    # (keeping only that argument, as it does) and a dict expected value.
    if inp and isinstance(inp[0], dict):
        try:  # noqa: SIM105 - no contextlib import in judge text
            inp = ({int(k): v for k, v in inp[0].items()},)
        except (TypeError, ValueError):
            pass
    for wrap in (False, True):
        value = exp[0] if wrap and isinstance(exp, list) and exp else exp
        if isinstance(value, dict):
            try:
                return inp, [{int(k): v for k, v in value.items()}]
            except (TypeError, ValueError):
                pass
    return inp, exp


def _apps_call(out, exp):
    if isinstance(out, tuple):
        out = list(out)
    if out == exp:
        return True, ""
    if isinstance(exp, list) and exp:
        if out == exp[0]:
            return True, ""
        tuples = isinstance(out, list) and out and isinstance(out[0], tuple)
        if tuples and [list(x) for x in out] == exp[0]:
            return True, ""
    return False, ""


_COMPARE = {
    ("livecodebench", "stdin"): _lcb_stdin,
    ("livecodebench", "call"): _lcb_call,
    ("apps", "stdin"): _apps_stdin,
    ("apps", "call"): _apps_call,
}[(_RULE, _KIND)]


# ------------------------------------------------------------------ the run

_verdicts = []
_first = None
_raise = None
for _i, (_inp, _exp) in enumerate(_CASES):
    try:
        if _KIND == "stdin":
            _cap = max(1 << 20, 4 * len(_exp.encode("utf-8", "surrogatepass")))
            _out = call_with_timeout(_RUN, _inp, min(_cap, 32 << 20), timeout_s=_LIMIT)
            if type(_out) is not str:
                raise TypeError(f"the runner returned {type(_out).__name__}, not text")
        else:
            if _RULE == "apps":
                _inp, _exp = _apps_int_keys(_inp, _exp)
            # A tuple: the call's arguments are copies the judge never reads again.
            _out = call_with_timeout(_RUN, _FN_NAME, tuple(_inp), timeout_s=_LIMIT)
    except BaseException as _exc:
        _timed_out = isinstance(_exc, _Timeout)
        _verdicts.append("timeout" if _timed_out else "error")
        if _first is None:
            _first = {"index": _i, "input": _short(_inp), "expected": _short(_exp)}
            _first["got"] = (f"{type(_exc).__name__}: {_exc}")[:300]
            _raise = _exc
        if _timed_out or _STOP_AT_FIRST or not isinstance(_exc, Exception):
            break
        continue
    try:
        _ok, _why = _COMPARE(_out, _exp)
    except Exception as _exc:  # a value the rule cannot compare is a wrong answer
        _ok, _why = False, f"{type(_exc).__name__}: {_exc}"
    _verdicts.append("pass" if _ok else "wrong")
    if not _ok and _first is None:
        _first = {"index": _i, "input": _short(_inp), "expected": _short(_exp)}
        _first["got"] = _why or _short(_out)
    if not _ok and _STOP_AT_FIRST:
        break

_verdicts += ["not run"] * (len(_CASES) - len(_verdicts))
_summary = {
    "tests": _verdicts,
    "passed": _verdicts.count("pass"),
    "total": len(_CASES),
    "rule": _RULE,
}
if _first is not None:
    _summary["first_failure"] = _first
report(_summary)
if _first is not None:
    if _raise is not None:
        raise _raise
    raise AssertionError(
        f"test #{_first['index']} (input {_first['input']}): {_first['got']}; "
        f"expected {_first['expected']}"
    )
