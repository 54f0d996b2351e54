"""Twins: semantics-preserving rewrites of benchmark problems that no training set can hold.

A :class:`Twin` pairs a problem with a rewritten copy that the *same* task object judges
(``task.program(twin.problem, sample, key)``), so a model's pass rate on originals and twins
can be compared. Rewrites, each applied only where it provably keeps the problem's meaning:

- **identifiers renamed** (HumanEval-style problems, whose prompt is code): the entry point's
  parameters and the reference's local variables get fresh English names, through the AST, in
  the signature and the reference; parameters also in the entry point's docstring prose. Never
  builtins, imported or module-level names, attributes, keyword-argument names, or names the
  test passes by keyword; nothing inside example lines or quoted strings of the docstring. The
  rewritten source must parse to the original AST once the names are mapped back.
- **docstring examples re-ordered**: ``>>> call`` / output pairs, or runs of one-line examples
  (``f(1) == 2``, ``For lst = [...] the output should be 3``), each kept with its output.
- **test asserts re-ordered** (MBPP: the three asserts the prompt shows).
- **test inputs changed** (MBPP; ``change_inputs``): top-level literal integer arguments of
  the asserted calls are shifted by an even amount and the expected values recomputed by
  running the *original* reference in the sandbox (never in this process); see
  :func:`check_twins`.

Names that a problem's judging is keyed on (the entry point, MBPP's exposed functions) are
never renamed: the task object's harness binds them.

Every choice comes from ``random.Random(f"{seed}:{task_id}")``, so a twin is a pure function of
(problem, seed). :func:`check_twins` runs each twin's rewritten reference through the task's
judge; a twin whose reference does not pass becomes :class:`Skipped`, so no control that is not
known-correct is ever used.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import random
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from codeduel.execution.base import Executor, Program
from codeduel.tasks.base import Problem, Task

# Plausible identifiers, by the shape of the name they replace.
_LETTERS = "bcdfghjkmnpqrtuvwxyz"  # no a/i (English words), l/o (look like 1/0), e (math)
_SHORT: tuple[str, ...] = (
    "seq",
    "vals",
    "buf",
    "acc",
    "cur",
    "pos",
    "val",
    "elt",
    "num",
    "cnt",
    "ptr",
    "res",
)
_SHORT += ("tot", "ref", "tag", "nxt", "arg", "src", "dst", "inp", "lim", "idx2", "ent")
_PLURAL: tuple[str, ...] = (
    "values",
    "items",
    "entries",
    "elements",
    "records",
    "terms",
    "samples",
    "figures",
)
_PLURAL += ("tokens", "pieces", "members", "inputs", "parts", "points", "amounts", "units")
_SINGULAR: tuple[str, ...] = (
    "value",
    "item",
    "entry",
    "element",
    "record",
    "term",
    "sample",
    "figure",
    "token",
)
_SINGULAR += ("piece", "member", "amount", "target", "limit", "bound", "total", "current")
_SINGULAR += ("payload", "subject", "operand", "quantity", "measure", "marker", "probe")
_ADJECTIVES: tuple[str, ...] = (
    "input",
    "given",
    "raw",
    "source",
    "first",
    "main",
    "base",
    "work",
    "next",
)
_ADJECTIVES += ("local", "running", "chosen", "final", "partial", "best", "last")

# Names that are also common English words: a docstring mention cannot be told from prose.
_PROSE_WORDS = frozenset(
    {
        *("a", "i", "an", "in", "is", "of", "or", "and", "the", "to", "it", "at", "on", "as"),
        *("be", "by", "if", "no", "so", "up", "we", "us", "do", "not", "all", "any", "one"),
        *("two", "max", "min", "sum"),
    }
)
_DYNAMIC = frozenset({"eval", "exec", "locals", "vars", "globals", "__dict__"})
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class Twin:
    """A rewritten problem judged by the same task object as ``original``."""

    original: Problem
    problem: Problem
    changes: tuple[str, ...]


@dataclass(frozen=True)
class Skipped:
    """Why a problem has no twin (or lost it in :func:`check_twins`)."""

    reason: str


# -- entry points --------------------------------------------------------------------------


def make_twin(
    task: Task, problem: Problem, seed: int, *, change_inputs: bool = True
) -> Twin | Skipped:
    """The twin of ``problem`` for ``seed`` (deterministic), or why none can be made.

    ``change_inputs``: also shift MBPP's integer test inputs (the new expected values are the
    reference's, which may break a precondition the prompt leaves implicit; off keeps only
    rewrites that cannot change the problem).

    A twin whose ``problem.meta`` holds ``"pending_inputs"`` (MBPP's changed test inputs)
    gets its expected values in :func:`check_twins`; judge it only after that.
    """
    rng = random.Random(f"{seed}:{problem.task_id}")
    if "test" in problem.meta and problem.entry_point:  # HumanEval-style: prompt is code
        return _code_prompt_twin(problem, rng)
    if "test_list" in problem.meta:
        return _assert_list_twin(problem, rng, change_inputs)
    return Skipped(f"no rewrite for task {task.name!r} (problems of this shape)")


def check_twins(task: Task, twins: Sequence[Twin], executor: Executor) -> list[Twin | Skipped]:
    """Each twin, kept only when its rewritten reference passes the task's own judge (same
    order as ``twins``). Changed MBPP test inputs get their expected values first, from the
    original reference run in ``executor``."""
    ready: list[Twin | Skipped] = list(_fill_pending(twins, executor))
    programs = [
        task.program(t.problem, {"completion": t.problem.reference}, f"twin:{i}")
        for i, t in enumerate(ready)
        if isinstance(t, Twin)
    ]
    verdicts = {v.key: v for v in executor.run(programs)}
    out: list[Twin | Skipped] = []
    for i, item in enumerate(ready):
        if isinstance(item, Skipped):
            out.append(item)
            continue
        verdict = verdicts.get(f"twin:{i}")
        if verdict is None:
            out.append(Skipped("rewritten reference fails: no verdict"))
        elif not verdict.passed:
            out.append(Skipped(f"rewritten reference fails: {verdict.result[:200]}"))
        else:
            out.append(item)
    return out


# -- HumanEval-style problems --------------------------------------------------------------


def _code_prompt_twin(problem: Problem, rng: random.Random) -> Twin | Skipped:
    entry = problem.entry_point
    assert entry is not None
    changes: list[str] = []
    prompt, reference = problem.prompt, problem.reference
    renamed = _rename(problem, rng)
    if isinstance(renamed, tuple):
        prompt, reference, mapping = renamed
        changes += [f"renamed {old} -> {new}" for old, new in mapping.items()]
    reason_rename = renamed if isinstance(renamed, str) else ""
    reordered = _reorder_examples(prompt, entry, rng)
    if reordered is not None:
        prompt, what = reordered
        changes.append(what)
    if not changes:
        return Skipped(f"no rewrite applies: {reason_rename}; no docstring examples to re-order")
    twin = replace(problem, prompt=prompt, reference=reference, meta=dict(problem.meta))
    return Twin(original=problem, problem=twin, changes=tuple(changes))


def _parse(source: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except SyntaxError:
        return None


def _entry_def(tree: ast.Module, entry: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    found = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry:
            found = node
    return found


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


def _rename(problem: Problem, rng: random.Random) -> tuple[str, str, dict[str, str]] | str:
    """(prompt, reference, old -> new) with the entry point's parameters and locals renamed,
    or why nothing could be renamed."""
    entry = problem.entry_point
    assert entry is not None
    source = problem.prompt + problem.reference
    tree = _parse(source)
    test_tree = _parse(problem.meta.get("test", ""))
    if tree is None or test_tree is None:
        return "prompt + reference does not parse"
    func = _entry_def(tree, entry)
    if func is None:
        return f"no top-level def {entry}"
    inside = list(ast.walk(func))
    if any(isinstance(n, ast.Name) and n.id in _DYNAMIC for n in inside):
        return "the reference uses eval/exec/locals/vars: names may be looked up as text"
    if any(isinstance(n, ast.Attribute) and n.attr == "__dict__" for n in inside):
        return "the reference reads __dict__"
    candidates = _renamable(tree, func, test_tree, problem.meta.get("test", ""))
    if not candidates:
        return "no parameter or local can be renamed safely"
    taken = _words(problem.prompt) | _words(problem.reference) | _words(problem.meta["test"])
    taken |= _BUILTINS | set(keyword.kwlist)
    mapping: dict[str, str] = {}
    for old in candidates:
        new = _new_name(old, rng, taken)
        if new is not None:
            mapping[old] = new
            taken.add(new)
    if not mapping:
        return "no fresh name available"
    edited = _apply_code_renames(source, func, mapping, len(problem.prompt))
    if edited is None:
        return "a name's source position does not match the AST"
    new_source, boundary = edited
    new_prompt, new_reference = new_source[:boundary], new_source[boundary:]
    doc = ast.get_docstring(func, clean=False)
    if doc is not None and isinstance(func.body[0], ast.Expr):
        node = func.body[0]
        # Only parameters: the prose's words that match a local's name are not that local
        # (HumanEval/78's "primes", /147's "a[j]").
        params = {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}
        in_doc = {k: v for k, v in mapping.items() if k in params}
        if in_doc:
            new_prompt = _rename_in_docstring(
                new_prompt, node.lineno, node.end_lineno or node.lineno, in_doc, entry
            )
    if not _same_program(source, new_prompt + new_reference, entry, mapping):
        return "renamed source is not the same program"
    return new_prompt, new_reference, mapping


def _renamable(
    tree: ast.Module,
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    test_tree: ast.Module,
    test_source: str,
) -> list[str]:
    """Parameters and locals of ``func``, in order of first appearance, that are safe to rename."""
    ordered: list[str] = []
    args = func.args
    for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        ordered.append(a.arg)
    for extra in (args.vararg, args.kwarg):
        if extra is not None:
            ordered.append(extra.arg)
    inside: set[int] = {id(n) for n in ast.walk(func)}
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            ordered.append(node.id)
        elif isinstance(node, ast.arg):
            ordered.append(node.arg)
    # Names bound without a position we can edit, or bound/used outside the entry point.
    blocked: set[str] = set(_BUILTINS) | {"self", "cls", "_", func.name}
    for node in ast.walk(tree):
        if isinstance(node, ast.alias):
            blocked.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Global | ast.Nonlocal):
            blocked.update(node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            blocked.add(node.name)
        elif isinstance(node, ast.ExceptHandler):
            blocked.add(node.name or "_")
        elif isinstance(node, ast.keyword) and node.arg:
            blocked.add(node.arg)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            blocked.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            blocked.add(node.rest)
        elif isinstance(node, ast.Name | ast.arg) and id(node) not in inside:
            blocked.add(node.id if isinstance(node, ast.Name) else node.arg)
    for node in ast.walk(test_tree):
        if isinstance(node, ast.keyword) and node.arg:
            blocked.add(node.arg)
    seen: list[str] = []
    for name in ordered:
        if name in seen or name in blocked or name.startswith("__"):
            continue
        if name.lower() in _PROSE_WORDS:
            continue
        seen.append(name)
    return seen


def _new_name(old: str, rng: random.Random, taken: set[str]) -> str | None:
    if len(old) == 1:
        pool = [c for c in _LETTERS if c not in taken and c != old]
        pool += [c.upper() for c in _LETTERS if old.isupper() and c.upper() not in taken]
        pool = [c for c in pool if c.isupper() == old.isupper()]
    elif "_" in old.strip("_"):
        pool = [f"{a}_{n}" for a in _ADJECTIVES for n in (*_SINGULAR, *_PLURAL)]
        if old.endswith("s"):
            pool = [p for p in pool if p.endswith("s")]
    elif len(old) <= 3:
        pool = list(_SHORT)
    elif old.endswith("s"):
        pool = list(_PLURAL)
    else:
        pool = list(_SINGULAR)
    pool = [p for p in pool if p not in taken and p != old and not keyword.iskeyword(p)]
    if old[:1].isupper() and len(old) > 1:
        pool = [p.capitalize() for p in pool if p.capitalize() not in taken]
    return rng.choice(pool) if pool else None


def _apply_code_renames(
    source: str,
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    mapping: dict[str, str],
    boundary: int,
) -> tuple[str, int] | None:
    """``source`` with every Name/arg of ``func`` in ``mapping`` renamed, and where the
    prompt/reference ``boundary`` lies in it now; None if a position does not hold its name."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    edits: list[tuple[int, str, str]] = []
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and node.id in mapping:
            name = node.id
        elif isinstance(node, ast.arg) and node.arg in mapping:
            name = node.arg
        else:
            continue
        line = lines[node.lineno - 1]
        col = len(line.encode("utf-8")[: node.col_offset].decode("utf-8", errors="replace"))
        offset = starts[node.lineno - 1] + col
        if source[offset : offset + len(name)] != name:
            return None
        edits.append((offset, name, mapping[name]))
    edits.sort()
    out: list[str] = []
    last = 0
    for offset, old, new in edits:
        if offset < last:
            return None
        out.append(source[last:offset])
        out.append(new)
        last = offset + len(old)
    out.append(source[last:])
    grown = sum(len(new) - len(old) for offset, old, new in edits if offset < boundary)
    return "".join(out), boundary + grown


_QUOTED = re.compile(r"""(?<!\w)'[^'\n]*'|(?<!\w)"[^"\n]*\"""")


def _rename_in_docstring(
    prompt: str, first: int, last: int, mapping: dict[str, str], entry: str
) -> str:
    """Rename whole-word mentions in the docstring's prose lines (1-based ``first..last``).

    Example lines (``>>>`` calls and their outputs, lines calling the entry point) and the
    inside of quoted strings keep their text, except a quote holding just the name."""
    lines = prompt.splitlines(keepends=True)
    in_example = False
    for i in range(first - 1, min(last, len(lines))):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith(">>>"):
            in_example = True
            continue
        if in_example and stripped and not stripped.startswith(('"""', "'''")):
            continue  # an example's output
        in_example = False
        if re.search(rf"(?<![\w.]){re.escape(entry)}\s*\(", line):
            continue
        lines[i] = _rename_prose(line, mapping)
    return "".join(lines)


def _rename_prose(line: str, mapping: dict[str, str]) -> str:
    spans = [(m.start(), m.end()) for m in _QUOTED.finditer(line)]
    pattern = re.compile(
        r"(?<![\w])(?<!\w')(" + "|".join(re.escape(k) for k in mapping) + r")(?![\w])"
    )

    def sub(m: re.Match[str]) -> str:
        for s, e in spans:
            if s < m.start() and m.end() < e and (m.start() - s, e - m.end()) != (1, 1):
                return m.group(0)
        return mapping[m.group(1)]

    return pattern.sub(sub, line)


def _same_program(old: str, new: str, entry: str, mapping: dict[str, str]) -> bool:
    """Whether ``new`` parses to ``old``'s AST once names are mapped back (docstrings aside)."""
    old_tree, new_tree = _parse(old), _parse(new)
    if old_tree is None or new_tree is None:
        return False
    back = {v: k for k, v in mapping.items()}
    func = _entry_def(new_tree, entry)
    if func is None:
        return False
    for node in ast.walk(func):
        if isinstance(node, ast.Name):
            node.id = back.get(node.id, node.id)
        elif isinstance(node, ast.arg):
            node.arg = back.get(node.arg, node.arg)
    for tree in (old_tree, new_tree):
        f = _entry_def(tree, entry)
        if f is not None and ast.get_docstring(f, clean=False) is not None:
            f.body[0] = ast.Expr(ast.Constant(""))
    return ast.dump(old_tree) == ast.dump(new_tree)


# -- docstring examples ---------------------------------------------------------------------


def _reorder_examples(prompt: str, entry: str, rng: random.Random) -> tuple[str, str] | None:
    """The prompt with one run of docstring examples permuted, and what changed; None if the
    entry point's docstring has no run of two or more examples."""
    tree = _parse(prompt + "    pass\n")
    if tree is None:
        return None
    func = _entry_def(tree, entry)
    if func is None or ast.get_docstring(func, clean=False) is None:
        return None
    doc = func.body[0]
    lines = prompt.splitlines(keepends=True)
    first, last = doc.lineno - 1, min((doc.end_lineno or doc.lineno), len(lines))
    for run in (_doctest_run(lines, first, last), _oneline_run(lines, first, last, entry)):
        if run is None:
            continue
        start, examples, kind = run
        order = list(range(len(examples)))
        while order == sorted(order):
            rng.shuffle(order)
        flat = [line for k in order for line in examples[k]]
        end = start + sum(len(e) for e in examples)
        text = "".join(lines[:start] + flat + lines[end:])
        if text == prompt:  # identical examples
            return None
        return text, f"docstring {kind} re-ordered ({_perm(order)})"
    return None


def _perm(order: list[int]) -> str:
    return ",".join(str(k + 1) for k in order)


def _doctest_run(
    lines: list[str], first: int, last: int
) -> tuple[int, list[list[str]], str] | None:
    """The first run of ``>>>`` examples (each with its output lines) in lines[first:last]."""
    i = first
    while i < last and not lines[i].lstrip().startswith(">>>"):
        i += 1
    if i >= last:
        return None
    start = i
    examples: list[list[str]] = []
    while i < last and lines[i].lstrip().startswith(">>>"):
        ex = [lines[i]]
        i += 1
        while i < last:
            s = lines[i].strip()
            if s.startswith(">>>") or s.startswith(('"""', "'''")):
                break
            if not s:  # a blank line belongs to the example only if another example follows
                j = i
                while j < last and not lines[j].strip():
                    j += 1
                if j < last and lines[j].lstrip().startswith(">>>"):
                    ex.extend(lines[i:j])
                    i = j
                break
            if s.endswith(('"""', "'''")):
                break
            ex.append(lines[i])
            i += 1
        examples.append(ex)
    if len(examples) < 2 or examples[-1][-1].strip() == "":
        return None
    if any(ln.rstrip("\r\n") != ln[:-1] or not ln.endswith("\n") for ex in examples for ln in ex):
        return None
    return start, examples, "examples"


def _oneline_run(
    lines: list[str], first: int, last: int, entry: str
) -> tuple[int, list[list[str]], str] | None:
    """The first run of two or more consecutive one-line examples at one indentation."""
    call = re.compile(rf"^\s*(?:[*-]\s*|for\s+|assert\s+)?{re.escape(entry)}\s*\(.*\S")
    sentence = re.compile(r"^\s*For \w+ = .* (?:output|result) should be .+")

    def kind(line: str) -> str | None:
        if call.match(line) and not line.lstrip().startswith(">>>"):
            return "call"
        if sentence.match(line):
            return "sentence"
        return None

    i = first
    while i < last:
        k = kind(lines[i])
        if k is None:
            i += 1
            continue
        indent = len(lines[i]) - len(lines[i].lstrip())
        j = i + 1
        while j < last and kind(lines[j]) == k and lines[j].endswith("\n"):
            if len(lines[j]) - len(lines[j].lstrip()) != indent:
                break
            j += 1
        if j - i >= 2 and lines[i].endswith("\n"):
            return i, [[ln] for ln in lines[i:j]], "examples"
        i = j
    return None


# -- MBPP-style problems --------------------------------------------------------------------


def _assert_list_twin(problem: Problem, rng: random.Random, change_inputs: bool) -> Twin | Skipped:
    tests: list[str] = list(problem.meta["test_list"])
    changes: list[str] = []
    pending: list[tuple[int, str, str]] = []
    entry = problem.entry_point
    if entry and change_inputs:
        changed = _shift_inputs(tests, entry, rng)
        if changed is not None:
            tests, pending, what = changed
            changes.append(what)
    if len(tests) >= 2 and len(set(tests)) == len(tests):
        order = list(range(len(tests)))
        while order == sorted(order):
            rng.shuffle(order)
        tests = [tests[k] for k in order]
        pending = [(order.index(k), call, line) for k, call, line in pending]
        changes.append(f"test asserts re-ordered ({_perm(order)})")
    if not changes:
        return Skipped("no rewrite applies: fewer than two distinct asserts, no integer inputs")
    meta: dict[str, Any] = dict(problem.meta, test_list=tests)
    if pending:
        meta["pending_inputs"] = tuple(pending)
    twin = replace(problem, meta=meta)
    return Twin(original=problem, problem=twin, changes=tuple(changes))


def _shift_inputs(
    tests: list[str], entry: str, rng: random.Random
) -> tuple[list[str], list[tuple[int, str, str]], str] | None:
    """Asserts ``assert entry(<literal ints>) == <literal>`` whose top-level integer arguments
    are shifted by a small positive amount; the expected values are left to
    :func:`check_twins`. Only non-negative, non-bool top-level integers change (list contents
    may carry orderings or invariants the prompt does not state)."""
    out = list(tests)
    pending: list[tuple[int, str, str]] = []
    delta = rng.choice((2, 4))  # even: keeps parity (MBPP/5 counts tilings for even n only)
    for i, line in enumerate(tests):
        tree = _parse(line.strip())
        if tree is None or len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
            continue
        test = tree.body[0].test
        if not (
            isinstance(test, ast.Compare)
            and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)
            and isinstance(test.left, ast.Call)
            and isinstance(test.left.func, ast.Name)
            and test.left.func.id == entry
            and not test.left.keywords
            and _is_literal(test.comparators[0])
        ):
            continue
        call = test.left
        if not all(_is_literal(a) for a in call.args):
            continue
        ints = [
            k
            for k, a in enumerate(call.args)
            if isinstance(a, ast.Constant) and type(a.value) is int and 0 <= a.value < 10**6
        ]
        if not ints:
            continue
        args = list(call.args)
        for k in ints:
            value = args[k]
            assert isinstance(value, ast.Constant) and type(value.value) is int
            args[k] = ast.Constant(int(value.value) + delta)
        new_call = ast.Call(func=ast.Name(entry, ast.Load()), args=args, keywords=[])
        call_src = ast.unparse(new_call)
        out[i] = f"assert {call_src} == None"  # placeholder until check_twins fills it
        pending.append((i, call_src, line))
    if not pending:
        return None
    return (
        out,
        pending,
        f"integer test inputs +{delta} in {len(pending)} asserts (expected values recomputed)",
    )


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


_PROBE = """\
_results = []
for _call in DATA:
    try:
        _results.append(repr(eval(_call, {**CANDIDATES})))
    except Exception:
        _results.append(None)
report(_results)
"""


def _fill_pending(twins: Sequence[Twin], executor: Executor) -> list[Twin | Skipped]:
    """Twins with changed inputs get expected values from the ORIGINAL reference, run in the
    sandbox (rpc: only return values cross, ``repr`` is taken in the judge). An assert whose
    new call raises, or returns a value of another type than the original expected value or
    one that is no literal, keeps its original line; if none is left changed, the twin loses
    that change (and is skipped if it had no other)."""
    programs: list[Program] = []
    for i, twin in enumerate(twins):
        pending = twin.problem.meta.get("pending_inputs")
        entry = twin.problem.entry_point
        if not pending or not entry:
            continue
        programs.append(
            Program(
                key=f"inputs:{i}",
                candidate=twin.original.reference,
                harness=_PROBE,
                harness_data=[call for _, call, _ in pending],
                expose=(entry,),
                mode="rpc",
                timeout_s=10.0,
            )
        )
    verdicts = {v.key: v for v in executor.run(programs)} if programs else {}
    out: list[Twin | Skipped] = []
    for i, twin in enumerate(twins):
        pending = twin.problem.meta.get("pending_inputs")
        if not pending:
            out.append(twin)
            continue
        verdict = verdicts.get(f"inputs:{i}")
        values = verdict.details.get("report") if verdict is not None and verdict.passed else None
        if not isinstance(values, list) or len(values) != len(pending):
            values = [None] * len(pending)
        tests = list(twin.problem.meta["test_list"])
        kept = 0
        for (k, call, original), value in zip(pending, values, strict=True):
            if isinstance(value, str) and _same_literal_type(value, original):
                tests[k] = f"assert {call} == {value}"
                kept += 1
            else:
                tests[k] = original
        changes = tuple(
            re.sub(r"in \d+ asserts", f"in {kept} asserts", c) if "test inputs" in c else c
            for c in twin.changes
            if kept or "test inputs" not in c
        )
        if not changes:
            why = verdict.result[:200] if verdict is not None else "no verdict"
            out.append(Skipped(f"original reference fails on the changed inputs ({why})"))
            continue
        meta = {k: v for k, v in twin.problem.meta.items() if k != "pending_inputs"}
        meta["test_list"] = tests
        out.append(replace(twin, problem=replace(twin.problem, meta=meta), changes=changes))
    return out


def _same_literal_type(value: str, original_assert: str) -> bool:
    """Whether ``value`` is a literal of the same type as the original assert's expected value."""
    tree = _parse(value)
    old = _parse(original_assert.strip())
    if tree is None or old is None or not isinstance(tree.body[0], ast.Expr):
        return False
    if not _is_literal(tree.body[0].value):
        return False
    test = old.body[0].test if isinstance(old.body[0], ast.Assert) else None
    if not isinstance(test, ast.Compare):
        return False
    new_value = ast.literal_eval(tree.body[0].value)
    old_value = ast.literal_eval(test.comparators[0])
    return type(new_value) is type(old_value)
