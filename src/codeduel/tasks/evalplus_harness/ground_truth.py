# Trusted judge code, run as text by the executor's judge (never imported): the judge binds
# DATA, CANDIDATES, call_with_timeout and report before it runs (codeduel.execution.base).
# codeduel.tasks.evalplus loads digest.py and then this file.
#
# Runs the canonical solution on every input: outputs (or digests of large ones) and the wall
# time of every call. An input whose output cannot cross, or does not fit the executor's memory
# limit (Mbpp/255's largest output is over 64 MB), is marked with that error instead.
# ruff: noqa: F821, I001
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
                _marks[_i] = ("skip", "too large", f"{_size}-byte output")
                _out = None
            elif _size > _LIMIT and not _floats and DATA["atol"] == 0:
                _marks[_i] = ("digest", _digest(_out), f"{_size}-byte")
                _out = None
        _outs.append(_out)
    _result[_name] = _b64.b64encode(_dumps(_outs)).decode("ascii")
    _result[_name + "_time"] = _times
    _result[_name + "_marks"] = _marks
report(_result)
