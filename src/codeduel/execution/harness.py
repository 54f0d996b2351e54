"""Trusted harness code, rewritten so it calls the candidate exactly as the reference does.

The judge runs a benchmark's own test code against proxies of the candidate's functions; the
arguments it passes cross the sandbox boundary through the codec. Most arguments are plain
literals the codec carries exactly. Some are not the same object once rebuilt on the other
side, and a reference harness (which runs tests and solution in one process) would have given
the candidate something else:

- a set display: ``{12, 13, 14, 15, 16}`` iterates 16, 12, 13, 14, 15 when the compiler builds
  it, but not when the codec rebuilds it item by item (MBPP/341: ``tuple(s)`` passed there and
  failed in MBPP's own assert program);
- a lambda, a generator, ``range(...)``, or an object of a class the *solution* defines
  (``Pair(5, 24)`` in MBPP/601, trees built by MBPP/367's setup code): these cannot cross at
  all.

So a call whose arguments need it is sent to the child as *source*: the child evaluates
``fn(<the test's own argument text>)`` in the candidate's module namespace (where the reference
evaluates it too) and returns only the result, which the judge compares. The test's expected
values never leave the judge, and the verdict stays outside the candidate.

A call is sent as source only when every name its arguments read exists on the candidate's
side: builtins, the candidate's functions and names the harness itself never binds (e.g. the
trees MBPP's setup code builds in the child). An argument that reads the harness's own
variables (a loop variable, a decoded input) crosses through the codec as before.

A call whose arguments are all literals (``candidate([1, 2, 3])``, most of HumanEval's) goes
through :data:`LITERAL_CALL`: the test cannot read those objects after the call, so the child
need not send them back (what it does for arguments the harness holds in variables, so that a
test reading its argument after the call sees what the candidate did to it).

``assert f(x)`` and ``assert not f(x)`` only test the result's truth, so the child sends back
``bool(result)`` (computed there, as the reference computes it): sanitized MBPP's regex tasks
return ``re.Match`` objects, which cannot cross. This gives the candidate nothing it did not
have: it chooses its return value, and with it the truth of that value, in any harness.
"""

from __future__ import annotations

import ast
import builtins
import functools
import threading
from typing import Any

from codeduel.execution.worker import LITERAL_CALL, SOURCE_CALL, SOURCE_FN

__all__ = ["LITERAL_CALL", "SOURCE_CALL", "SOURCE_FN", "prepare"]

INJECTED = frozenset(
    {"CANDIDATES", "DATA", "call_with_timeout", "report", SOURCE_CALL, LITERAL_CALL}
)

_BUILTINS = frozenset(dir(builtins))
# Builtins whose results the codec carries exactly (lists, tuples, numbers, strings, dicts):
# a call of one of them in an argument does not need the child. set/frozenset/range/iter/map
# and the rest do (their layout or type would not survive).
_EXACT_CALLS = frozenset(
    [
        "list",
        "tuple",
        "str",
        "int",
        "float",
        "bool",
        "dict",
        "sorted",
        "abs",
        "len",
        "min",
        "max",
        "sum",
        "round",
        "chr",
        "ord",
        "complex",
        "bytes",
    ]
)
# Builtin names that are values the codec carries (types cross by name).
_EXACT_NAMES = frozenset(
    [
        "int",
        "float",
        "str",
        "bool",
        "list",
        "tuple",
        "dict",
        "set",
        "frozenset",
        "bytes",
        "complex",
        "object",
        "type",
        "bytearray",
    ]
)
_NEEDS_CHILD = (ast.Set, ast.SetComp, ast.Lambda, ast.GeneratorExp, ast.Await, ast.Yield)


def bound_names(tree: ast.AST) -> set[str]:
    """Every name the harness binds anywhere (assignment, def, import, parameter, loop...)."""
    names: set[str] = set(INJECTED)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def _argument_kind(node: ast.AST, bound: set[str], expose: frozenset[str]) -> str:
    """``"judge"``: reads the harness's variables (the codec must carry it); ``"child"``: must
    be built in the candidate's process; ``"exact"``: the codec carries it exactly."""
    local: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            local.add(sub.id)  # comprehension targets
        elif isinstance(sub, ast.arg):
            local.add(sub.arg)  # lambda parameters
    exact_funcs = {
        id(sub.func)
        for sub in ast.walk(node)
        if isinstance(sub, ast.Call)
        and isinstance(sub.func, ast.Name)
        and sub.func.id in _EXACT_CALLS
    }
    needs_child = False
    for sub in ast.walk(node):
        if isinstance(sub, ast.NamedExpr):
            return "judge"  # it binds a name in the harness's own scope
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id not in local:
            name = sub.id
            if name in bound and name not in expose:
                return "judge"
            if name in expose or name not in _BUILTINS:
                needs_child = True  # the candidate's function or class, or setup's value
            elif name not in _EXACT_NAMES and id(sub) not in exact_funcs:
                needs_child = True  # e.g. len passed as a key function
        elif isinstance(sub, _NEEDS_CHILD):
            needs_child = True
        elif isinstance(sub, ast.Call):
            func = sub.func
            if not (isinstance(func, ast.Name) and func.id in _EXACT_CALLS):
                needs_child = True
        elif isinstance(sub, ast.Attribute | ast.Subscript | ast.JoinedStr):
            needs_child = True  # "abc".upper(), "x"[0]: cheap and exact in the child
    return "child" if needs_child else "exact"


class _SourceCalls(ast.NodeTransformer):
    """Wrap each call whose arguments need the child in
    ``_codeduel_call(fn, src, fallback, truth)``."""

    def __init__(self, bound: set[str], expose: frozenset[str]) -> None:
        self.bound = bound
        self.expose = expose
        self.truth: set[int] = set()  # ids of calls whose result is only tested for truth

    def visit_Assert(self, node: ast.Assert) -> Any:
        test = node.test
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test = test.operand
        if isinstance(test, ast.Call):
            self.truth.add(id(test))
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> Any:
        parts: list[ast.AST] = [*node.args, *(k.value for k in node.keywords)]
        kinds = [_argument_kind(p, self.bound, self.expose) for p in parts]
        truth = id(node) in self.truth
        source = None
        if "judge" not in kinds and (truth or (parts and "child" in kinds)):
            call = ast.Call(ast.Name(SOURCE_FN, ast.Load()), node.args, node.keywords)
            source = ast.unparse(call)
        # Only a plain name can be a proxy (an exposed function, check()'s `candidate`); a
        # builtin or an attribute (math.fabs) never is, and wrapping it would only cost time.
        func = node.func
        maybe_proxy = isinstance(func, ast.Name) and (
            func.id in self.expose or func.id not in _BUILTINS
        )
        literal = maybe_proxy and bool(parts) and all(kind == "exact" for kind in kinds)
        self.generic_visit(node)
        if source is None:
            if literal:
                wrapped = ast.Call(
                    ast.Name(LITERAL_CALL, ast.Load()), [node.func, *node.args], node.keywords
                )
                return ast.copy_location(wrapped, node)
            return node
        fallback = ast.Lambda(
            ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            node,
        )
        wrapped = ast.Call(
            ast.Name(SOURCE_CALL, ast.Load()),
            [node.func, ast.Constant(source), fallback, ast.Constant(truth)],
            [],
        )
        return ast.copy_location(wrapped, node)


_PARSE_LOCK = threading.Lock()


def prepare_text(source: str, expose: tuple[str, ...]) -> str:
    """:func:`prepare` as source text, cached: the pool rewrites each distinct harness once per
    process and its workers only compile the text (n samples of a problem share a harness,
    and a new executor's workers need not redo the analysis).

    Serialized: the pool calls it from one thread per worker, and CPython 3.11's ``ast.parse``
    keeps a process-wide recursion counter that two threads corrupt ("AST constructor
    recursion depth mismatch").
    """
    with _PARSE_LOCK:
        return _prepare_text(source, expose)


@functools.lru_cache(maxsize=2048)
def _prepare_text(source: str, expose: tuple[str, ...]) -> str:
    return ast.unparse(prepare(source, expose))


def prepare(source: str, expose: tuple[str, ...], *, source_calls: bool = True) -> ast.Module:
    """The harness as an AST ready to compile.

    Each top-level definition of an exposed name (the prompt's stub of the entry point, a
    helper the candidate must supply) becomes ``name = CANDIDATES[name]``: in the reference
    harness the candidate's definition wins. Calls whose arguments need it go through
    :data:`SOURCE_CALL` (see the module docstring).
    """
    tree = ast.parse(source, "<harness>")
    body: list[ast.stmt] = []
    for node in tree.body:
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.name in expose
        ):
            assign = ast.Assign(
                targets=[ast.Name(node.name, ast.Store())],
                value=ast.Subscript(
                    ast.Name("CANDIDATES", ast.Load()), ast.Constant(node.name), ast.Load()
                ),
            )
            body.append(ast.copy_location(assign, node))
        else:
            body.append(node)
    tree.body = body
    if source_calls:
        tree = _SourceCalls(bound_names(tree), frozenset(expose)).visit(tree)
    return ast.fix_missing_locations(tree)
