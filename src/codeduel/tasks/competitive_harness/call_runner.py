# Candidate-side runner for call-based (LeetCode-style) problems, run as text in the sandboxed
# child (never imported). codeduel.tasks.competitive puts _CODEDUEL_SOURCE (the program) and
# _CODEDUEL_PREAMBLE (the benchmark evaluator's imports) before it.
#
# The program runs once, here; per test the judge calls codeduel_call(fn_name, args) and
# compares the returned value (exact builtin types only cross back). As in LiveCodeBench's and
# APPS's evaluators, a program with `class Solution` is called through one Solution() instance,
# created on the first call; otherwise fn_name is a top-level function.
# ruff: noqa: F821
import builtins as _cd_builtins

_cd_ns = {"__name__": "__main__", "__builtins__": _cd_builtins}
exec(compile(_CODEDUEL_PREAMBLE, "<preamble>", "exec", dont_inherit=True), _cd_ns)
exec(compile(_CODEDUEL_SOURCE, "<solution>", "exec", dont_inherit=True), _cd_ns)
_cd_leetcode = "class Solution" in _CODEDUEL_SOURCE
del _CODEDUEL_SOURCE
_cd_instance = []


def codeduel_call(name, args):
    if _cd_leetcode:
        if not _cd_instance:
            _cd_instance.append(_cd_ns["Solution"]())
        fn = getattr(_cd_instance[0], name)
    else:
        if name not in _cd_ns:
            raise NameError(f"name {name!r} is not defined")
        fn = _cd_ns[name]
    return fn(*args)
