"""Throughput and verdicts of codeduel's MultiPL-E judge against MultiPL-E's own evaluator.

For each language of ``--langs`` (default: the paper's six, cpp java php cs ts sh, and js) the
SAME programs go to both judges: every completion of the test fixtures
``tests/tasks/multipl_e_solutions/<lang>.json`` (``correct``, ``wrong`` and ``exit_early``
bodies), ``--repeat`` times each, on the problems of the pinned ``multipl-e-<lang>`` dataset.

- codeduel judges them through the task API (``get_task("multipl-e-<lang>")``,
  ``task.program(problem, {"completion": c}, key)``) on one ``LocalExecutor(workers=W)`` with
  the default isolation (every layer this machine supports; the active ones are printed once).
  The timed part includes building the programs.
- MultiPL-E judges ``prompt + completion + "\\n" + tests`` through its own ``eval_script``
  (``containerized_eval.eval_string_script``) in a pool of W processes
  (``concurrent.futures.ProcessPoolExecutor``, spawned, so MultiPL-E's code and its PATH changes
  never enter this process). MultiPL-E's ``main.py`` runs its evaluator in a thread pool; a
  thread there only waits on a subprocess, so W processes give it the same parallelism, and a
  process per worker is needed by the local driver (it swaps ``tempfile.tempdir`` per call,
  which threads would share). Unlike ``main.py`` no result cache is used: identical programs
  (the repeats) are each run, as codeduel runs them.

MultiPL-E's evaluator is never part of this repository: ``--multipl-e DIR`` names a checkout
of MultiPL-E's ``evaluation/src`` (or the repository root) or a folder with a ``driver.py``
exposing ``evaluate(lang, program_text) -> dict``; it is imported from there at run time.
Without it, codeduel is measured alone.

Before anything is timed, each toolchain is warmed up on both sides (codeduel's ``prepare()``,
which builds the C++ precompiled header the first time, then one program; W programs for
MultiPL-E so every pool process has started and imported its evaluator). Then, per language,
the two judges run back to back, codeduel first on the 1st, 3rd, ... language and MultiPL-E
first on the others; with ``--rounds`` > 1 the order flips each round and each side's best
time is kept. Printed per language: programs, programs/s of each judge, the ratio (codeduel /
MultiPL-E throughput) and how many verdicts agree (MultiPL-E passes a program when status is
"OK" and exit_code is 0). The expected disagreement, an ``exit_early`` body that ends the
process with status 0 before the tests ran (MultiPL-E passes it, codeduel fails it), is counted
as "exit-0-early caught"; any other disagreement is listed by key. The last line is
``geomean ratio: N.NNx`` over the languages both judges measured.

    CODEDUEL_DATA_DIR=../shared/data python bench/multilang.py \\
        --multipl-e ~/MultiPL-E/evaluation/src [--repeat 2] [--workers W] [--langs cpp,java]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_LANGS = "cpp,java,php,cs,ts,sh,js"
SOLUTIONS = Path(__file__).resolve().parent.parent / "tests" / "tasks" / "multipl_e_solutions"
HOW_TO_GET = (
    "MultiPL-E's evaluator not given (--multipl-e DIR): measuring codeduel alone. To compare, "
    "`git clone https://github.com/nuprl/MultiPL-E` and pass --multipl-e MultiPL-E/evaluation/src "
    "(its toolchains must be on PATH, as in MultiPL-E's evaluation container)."
)
# codeduel's language codes -> MultiPL-E's `language` argument (Go's temp file must end _test.go).
UPSTREAM_CODE = {"go": "go_test.go"}


# ---------------------------------------------------------------- MultiPL-E side (pool processes)

_EVALUATE: Callable[[str, str], dict[str, Any]] | None = None


def _locate(folder: Path) -> tuple[str, Path]:
    """("driver", dir) for a folder with driver.py, ("upstream", evaluation/src) for a
    checkout; raises SystemExit with one line otherwise."""
    if (folder / "driver.py").is_file():
        return "driver", folder
    for src in (folder, folder / "evaluation" / "src"):
        if (src / "containerized_eval.py").is_file():
            return "upstream", src
    raise SystemExit(
        f"--multipl-e {folder}: no driver.py and no containerized_eval.py (in it or in "
        "evaluation/src): give a checkout of MultiPL-E's evaluation/src"
    )


def _init_multipl_e(mode: str, folder: str) -> None:
    """Pool initializer: import MultiPL-E's evaluator from ``folder``, in this process only."""
    global _EVALUATE
    sys.path.insert(0, folder)
    if mode == "driver":
        import driver  # type: ignore[import-not-found]

        _EVALUATE = driver.evaluate
    else:
        os.chdir(folder)  # MultiPL-E runs from evaluation/src
        import containerized_eval  # type: ignore[import-not-found]

        def evaluate(lang: str, program: str) -> dict[str, Any]:
            result: dict[str, Any] = containerized_eval.eval_string_script(
                UPSTREAM_CODE.get(lang, lang), program
            )
            return result

        _EVALUATE = evaluate


def _judge_multipl_e(job: tuple[str, str, str]) -> tuple[str, dict[str, Any]]:
    key, lang, program = job
    assert _EVALUATE is not None, "pool process not initialised"
    try:
        res = _EVALUATE(lang, program)
    except Exception as exc:  # an evaluator crash is a verdict too, never a lost program
        return key, {"status": f"bench: {type(exc).__name__}: {exc}", "exit_code": None}
    return key, {
        "status": res.get("status"),
        "exit_code": res.get("exit_code"),
        "stderr": str(res.get("stderr") or "")[-300:],
    }


def multipl_e_passes(result: dict[str, Any]) -> bool:
    """MultiPL-E's pass_k.py: a completion passes when status is OK and exit_code is 0."""
    return result.get("status") == "OK" and result.get("exit_code") == 0


# ----------------------------------------------------------------------------- the programs


@dataclass(frozen=True)
class Job:
    key: str  # "<problem>|<kind>#<repeat>"
    problem: str
    kind: str  # correct | wrong | exit_early
    completion: str


def _jobs(lang: str, repeat: int) -> list[Job]:
    data = json.loads((SOLUTIONS / f"{lang}.json").read_text(encoding="utf-8"))
    return [
        Job(f"{name}|{kind}#{r}", name, kind, text)
        for r in range(repeat)
        for name, kinds in data["problems"].items()
        for kind, text in kinds.items()
    ]


@dataclass
class LangResult:
    lang: str
    programs: int
    kinds: dict[str, int]
    load: float
    codeduel_s: list[float] = field(default_factory=list)
    multipl_e_s: list[float] = field(default_factory=list)
    codeduel_pass: dict[str, bool] = field(default_factory=dict)
    codeduel_why: dict[str, str] = field(default_factory=dict)
    multipl_e: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: str = ""
    multipl_e_skipped: str = ""

    def rate(self, times: list[float]) -> float | None:
        return self.programs / min(times) if times else None

    def summary(self) -> dict[str, Any]:
        cd, me = self.rate(self.codeduel_s), self.rate(self.multipl_e_s)
        out: dict[str, Any] = {
            "programs": self.programs,
            "kinds": self.kinds,
            "load_1min_at_start": round(self.load, 2),
            "codeduel_seconds": [round(s, 3) for s in self.codeduel_s],
            "multipl_e_seconds": [round(s, 3) for s in self.multipl_e_s],
            "codeduel_programs_per_s": cd,
            "multipl_e_programs_per_s": me,
            "ratio": cd / me if cd and me else None,
            "codeduel_passed": sum(self.codeduel_pass.values()),
        }
        if self.skipped:
            out["skipped"] = self.skipped
        if self.multipl_e_skipped:
            out["multipl_e_skipped"] = self.multipl_e_skipped
        if not self.multipl_e:
            return out
        early, other = [], []
        for key, ours in self.codeduel_pass.items():
            theirs = multipl_e_passes(self.multipl_e[key])
            if ours == theirs:
                continue
            if "|exit_early#" in key and theirs and not ours:
                early.append(key)
            else:
                res = self.multipl_e[key]
                other.append(
                    {
                        "key": key,
                        "codeduel": "passed" if ours else self.codeduel_why.get(key, "failed"),
                        "multipl_e": f"{res.get('status')} exit {res.get('exit_code')}",
                    }
                )
        out |= {
            "multipl_e_passed": sum(multipl_e_passes(r) for r in self.multipl_e.values()),
            "agree": self.programs - len(early) - len(other),
            "exit_0_early_caught": len(early),
            "exit_0_early_keys": sorted(early),
            "other_disagreements": sorted(other, key=lambda d: d["key"]),
        }
        return out


# ------------------------------------------------------------------------------------ judging


def _codeduel_side(executor: Any, task: Any, jobs: list[Job]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    programs = [
        task.program(task.get(j.problem), {"completion": j.completion}, j.key) for j in jobs
    ]
    verdicts = {v.key: v for v in executor.run(programs)}
    return time.perf_counter() - started, verdicts


def _multipl_e_side(
    pool: ProcessPoolExecutor, lang: str, task: Any, jobs: list[Job]
) -> tuple[float, dict[str, dict[str, Any]]]:
    started = time.perf_counter()
    work = []
    for j in jobs:
        problem = task.get(j.problem)
        work.append((j.key, lang, problem.prompt + j.completion + "\n" + problem.meta["tests"]))
    results = dict(pool.map(_judge_multipl_e, work))
    return time.perf_counter() - started, results


def _sandbox_processes(uid: int) -> int:
    """Processes of OTHER runs on this machine running as the sandbox's uid (every codeduel
    executor drops to the same one, and RLIMIT_NPROC counts them all together); this run's
    own (its descendants) are left out."""
    parents: dict[int, int] = {}
    sandboxed: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
            pid = int(entry.name)
            parents[pid] = int(stat[stat.rindex(b")") + 2 :].split()[1])
            if entry.stat().st_uid == uid:
                sandboxed.append(pid)
    me, n = os.getpid(), 0
    for pid in sandboxed:
        seen = 0
        while pid not in (0, 1, me) and seen < 64:
            pid, seen = parents.get(pid, 0), seen + 1
        n += pid != me
    return n


class _Sampler(threading.Thread):
    """The most processes seen running as the sandbox uid while the run lasts."""

    def __init__(self, uid: int) -> None:
        super().__init__(daemon=True)
        self.uid, self.peak, self.done = uid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.25):
            self.peak = max(self.peak, _sandbox_processes(self.uid))


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from codeduel.execution import LocalExecutor
    from codeduel.execution.sandbox import NOBODY
    from codeduel.machine import usable_cpus
    from codeduel.tasks import get_task

    langs = [x.strip() for x in args.langs.split(",") if x.strip()]
    workers = args.workers or usable_cpus()
    load_start = os.getloadavg()
    others_start = _sandbox_processes(NOBODY)
    sampler = _Sampler(NOBODY)
    sampler.start()
    located = _locate(args.multipl_e.expanduser().resolve()) if args.multipl_e else None
    if located is None:
        _log(HOW_TO_GET)

    results: dict[str, LangResult] = {}
    tasks: dict[str, Any] = {}
    warm: dict[str, dict[str, float]] = {}
    pool: ProcessPoolExecutor | None = None
    with LocalExecutor(workers=workers) as executor:
        layers = executor.layers()
        try:
            if located is not None:
                pool = ProcessPoolExecutor(
                    max_workers=workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_multipl_e,
                    initargs=(located[0], str(located[1])),
                )
            # Warm-up of every toolchain on both sides; nothing here is timed in the results.
            for lang in langs:
                jobs = _jobs(lang, args.repeat)
                res = results[lang] = LangResult(
                    lang, len(jobs), dict(Counter(j.kind for j in jobs)), 0.0
                )
                try:
                    task = tasks[lang] = get_task(f"multipl-e-{lang}", args.data_dir)
                    t0 = time.perf_counter()
                    task.prepare(executor)  # resolves the toolchain; C++ builds its header
                    t1 = time.perf_counter()
                except Exception as exc:
                    res.skipped = f"codeduel: {exc}"
                    _log(f"{lang}: skipped ({res.skipped})")
                    continue
                first = next(j for j in jobs if j.kind == "correct")
                _, verdicts = _codeduel_side(executor, task, [first])
                t2 = time.perf_counter()
                warm[lang] = {"codeduel_prepare_s": t1 - t0, "codeduel_first_s": t2 - t1}
                if not verdicts[first.key].passed:
                    _log(f"{lang}: warm-up {first.key} failed under codeduel")
                if pool is not None:
                    copies = [
                        Job(f"warm{i}", first.problem, "correct", first.completion)
                        for i in range(workers)
                    ]
                    _, got = _multipl_e_side(pool, lang, task, copies)
                    warm[lang]["multipl_e_warm_s"] = time.perf_counter() - t2
                    bad = [r for r in got.values() if not multipl_e_passes(r)]
                    if bad:
                        res.multipl_e_skipped = (
                            f"its warm-up ({first.problem} correct) did not pass: "
                            f"{bad[0]['status']} exit {bad[0]['exit_code']} "
                            f"{bad[0].get('stderr', '')[-200:]!r}"
                        )
                        _log(f"{lang}: MultiPL-E skipped, {res.multipl_e_skipped}")
                _log(
                    f"{lang}: warmed up " + ", ".join(f"{k} {v:.2f}" for k, v in warm[lang].items())
                )

            for i, lang in enumerate(langs):
                res = results[lang]
                if res.skipped:
                    continue
                task, jobs = tasks[lang], _jobs(lang, args.repeat)
                res.load = os.getloadavg()[0]
                sides = ["codeduel", "multipl-e"]
                if pool is None or res.multipl_e_skipped:
                    sides = ["codeduel"]
                for r in range(max(1, args.rounds)):
                    order = sides if (i + r) % 2 == 0 else sides[::-1]
                    for side in order:
                        if side == "codeduel":
                            secs, verdicts = _codeduel_side(executor, task, jobs)
                            res.codeduel_s.append(secs)
                            res.codeduel_pass = {k: v.passed for k, v in verdicts.items()}
                            res.codeduel_why = {
                                k: f"{v.status}: {v.reason}"[:160] for k, v in verdicts.items()
                            }
                        else:
                            assert pool is not None
                            secs, res.multipl_e = _multipl_e_side(pool, lang, task, jobs)
                            res.multipl_e_s.append(secs)
                        _log(f"{lang}: {side} {res.programs} programs in {secs:.2f} s")
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    sampler.done.set()
    sampler.join()
    summaries = {lang: r.summary() for lang, r in results.items()}
    ratios = [s["ratio"] for s in summaries.values() if s.get("ratio")]
    return {
        "workers": workers,
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "rounds": args.rounds,
        "load_start": [round(x, 2) for x in load_start],
        "load_end": [round(x, 2) for x in os.getloadavg()],
        "sandbox_uid_processes": {
            "uid": NOBODY,
            "others_at_start": others_start,
            "others_at_end": (others_end := _sandbox_processes(NOBODY)),
            "peak_during_run": max(sampler.peak, others_start, others_end),
        },
        "layers": [{"name": x.name, "active": x.active, "detail": x.detail} for x in layers],
        "multipl_e": (
            {"mode": located[0], "dir": str(located[1]), "pool": "ProcessPoolExecutor (spawn)"}
            if located
            else None
        ),
        "order": "per language back to back; codeduel first on the 1st, 3rd, ... language, "
        "MultiPL-E first on the others; flipped each round; best time of each side kept",
        "warm_up": warm,
        "languages": summaries,
        "geomean_ratio": math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else None,
    }


# ----------------------------------------------------------------------------------- report


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def report(out: dict[str, Any]) -> None:
    me = out["multipl_e"]
    print(
        f"workers: {out['workers']}, cpus: {out['cpus']}, repeat: {out['repeat']}, "
        f"rounds: {out['rounds']}; load average at start "
        + " ".join(f"{x:.2f}" for x in out["load_start"])
        + ", at end "
        + " ".join(f"{x:.2f}" for x in out["load_end"])
    )
    sp = out["sandbox_uid_processes"]
    print(
        f"processes of other runs as the sandbox uid {sp['uid']}: {sp['others_at_start']} at "
        f"start, {sp['others_at_end']} at end, at most {sp['peak_during_run']} during the run"
    )
    if max(sp["others_at_start"], sp["others_at_end"], sp["peak_during_run"]) > 0:
        print(
            "  WARNING: another codeduel run shares the sandbox uid, and RLIMIT_NPROC counts its "
            "processes too: its programs can starve this run's (threads or forks refused)"
        )
    active = [x["name"] for x in out["layers"] if x["active"]]
    missing = [f"{x['name']} ({x['detail']})" for x in out["layers"] if not x["active"]]
    print("codeduel isolation layers active: " + ", ".join(active))
    if missing:
        print("codeduel isolation layers MISSING: " + "; ".join(missing))
    if me:
        print(f"MultiPL-E: {me['mode']} at {me['dir']}, {out['workers']} workers in a {me['pool']}")
    else:
        print(HOW_TO_GET)
    print(f"order: {out['order']}")
    print()
    print(
        f"{'lang':<5} | {'programs':>8} | {'codeduel p/s':>12} | {'MultiPL-E p/s':>13} | "
        f"{'ratio':>6} | {'agree':>9} | {'exit-0-early caught':>19} | {'other':>5} | load"
    )
    notes: list[str] = []
    for lang, s in out["languages"].items():
        if s.get("skipped"):
            print(f"{lang:<5} | skipped: {s['skipped']}")
            continue
        agree = f"{s['agree']}/{s['programs']}" if "agree" in s else "-"
        print(
            f"{lang:<5} | {s['programs']:>8} | {_fmt(s['codeduel_programs_per_s'], '.2f'):>12} | "
            f"{_fmt(s['multipl_e_programs_per_s'], '.2f'):>13} | "
            f"{_fmt(s['ratio'], '.2f') + ('x' if s['ratio'] else ''):>6} | {agree:>9} | "
            f"{s.get('exit_0_early_caught', '-'):>19} | "
            f"{len(s.get('other_disagreements', [])) if 'agree' in s else '-':>5} | "
            f"{s['load_1min_at_start']:.2f}"
        )
        if s.get("multipl_e_skipped"):
            notes.append(f"{lang}: MultiPL-E not measured: {s['multipl_e_skipped']}")
        early = sorted({k.split("#")[0] for k in s.get("exit_0_early_keys", [])})
        if early:
            notes.append(
                f"{lang}: exit-0-early caught (MultiPL-E passed, codeduel failed): "
                + ", ".join(early)
            )
        for d in s.get("other_disagreements", []):
            notes.append(
                f"{lang}: DISAGREE {d['key']}: codeduel {d['codeduel']} | "
                f"MultiPL-E {d['multipl_e']}"
            )
    if notes:
        print()
        for line in notes:
            print(line)
    g = out["geomean_ratio"]
    print(f"geomean ratio: {g:.2f}x" if g else "geomean ratio: n/a (MultiPL-E not measured)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--langs", default=DEFAULT_LANGS, help=f"default {DEFAULT_LANGS}")
    parser.add_argument("--repeat", type=int, default=1, help="copies of the fixture set")
    parser.add_argument("--workers", type=int, default=0, help="default: usable CPUs")
    parser.add_argument(
        "--rounds", type=int, default=1, help="rounds per language; best time of each side kept"
    )
    parser.add_argument(
        "--multipl-e",
        type=Path,
        default=None,
        metavar="DIR",
        help="MultiPL-E's evaluation/src checkout, or a folder with driver.py (never in the repo)",
    )
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CODEDUEL_DATA_DIR"))
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()
    if args.data_dir is None:
        print("set CODEDUEL_DATA_DIR or pass --data-dir", file=sys.stderr)
        return 2
    args.data_dir = Path(args.data_dir).resolve()
    out = run(args)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        report(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
