"""Programs/s against the number of Ray executor workers, side by side with the local executor.

Judges the 164 HumanEval canonical solutions x ``--repeat`` with ``LocalExecutor(workers=w)``
and ``RayExecutor(workers=w)`` (on a Ray instance this script starts on this machine) for
w = 1 .. ``--max-workers``; the two sides alternate for ``--rounds`` rounds and the best time
of each is kept, since the machine may be shared. It then measures the per-program overhead of
Ray two ways:

- latency: one program at a time, submit and wait (the Ray round trip a program pays);
- cost: worker-seconds per program at full load, Ray minus local (what Ray takes from the CPUs
  that would otherwise run programs; on a small machine Ray's own daemons share those CPUs).

No store and no task code are involved: this isolates the executor. The projection in
docs/scaling.md uses these numbers.

    CODEDUEL_DATA_DIR=../shared/data python bench/scale.py [--repeat 3] [--max-workers N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeduel.cluster.executor import RayExecutor
from codeduel.execution import Limits, LocalExecutor, Program


def _programs(data_dir: Path, repeat: int) -> list[Program]:
    """HumanEval reference solutions as rpc programs, built as the humaneval task builds them."""
    with gzip.open(data_dir / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as fh:
        problems = [json.loads(line) for line in fh if line.strip()]
    out = []
    for r in range(repeat):
        for p in problems:
            ep = p["entry_point"]
            call = f"CANDIDATES[{ep!r}]"
            harness = f"{p['prompt']}\n{ep} = {call}\n{p['test']}\ncheck({call})\n"
            out.append(
                Program(
                    key=f"{p['task_id']}#{r}",
                    candidate=p["prompt"] + p["canonical_solution"],
                    harness=harness,
                    expose=(ep,),
                )
            )
    return out


def _throughput(ex: Any, programs: list[Program]) -> tuple[float, int]:
    """Seconds to judge every program, and how many passed."""
    started = time.perf_counter()
    passed = sum(v.passed for v in ex.run(programs))
    return time.perf_counter() - started, passed


def _latency(ex: Any, programs: list[Program]) -> float:
    """Median seconds from submit to verdict, one program at a time."""
    times = []
    for p in programs:
        t0 = time.perf_counter()
        ex.submit(p).result()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _best(
    rounds: int, sides: dict[str, Callable[[], tuple[float, int]]]
) -> dict[str, tuple[float, int]]:
    """Alternate the sides each round; keep each side's fastest run."""
    best: dict[str, tuple[float, int]] = {}
    names = list(sides)
    for i in range(rounds):
        for name in names if i % 2 == 0 else reversed(names):
            got = sides[name]()
            if name not in best or got[0] < best[name][0]:
                best[name] = got
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="samples per problem")
    parser.add_argument("--max-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--latency-programs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CODEDUEL_DATA_DIR"))
    args = parser.parse_args()
    if args.data_dir is None:
        print("set CODEDUEL_DATA_DIR or pass --data-dir", file=sys.stderr)
        return 2
    import ray

    programs = _programs(Path(args.data_dir).resolve(), args.repeat)
    sample = programs[: args.latency_programs]
    temp = tempfile.mkdtemp(prefix="cdbench", dir="/tmp")
    ray.init(
        num_cpus=args.max_workers,
        include_dashboard=False,
        object_store_memory=200 * 2**20,
        log_to_driver=False,
        logging_level=logging.ERROR,
        _temp_dir=temp,
    )
    rows = []
    try:
        for w in range(1, args.max_workers + 1):
            with (
                LocalExecutor(workers=w, limits=Limits()) as local,
                RayExecutor(workers=w, limits=Limits(), batch_size=args.batch_size) as remote,
            ):
                best = _best(
                    args.rounds,
                    {
                        "local": lambda ex=local: _throughput(ex, programs),
                        "ray": lambda ex=remote: _throughput(ex, programs),
                    },
                )
                lat = (_latency(local, sample), _latency(remote, sample)) if w == 1 else None
            rows.append((w, best, lat))
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)

    n = len(programs)
    print(
        f"programs: {n} (164 HumanEval reference solutions x {args.repeat}); cpus: "
        f"{os.cpu_count()}; Ray: one local node, batch size {args.batch_size}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'workers':>7} | {'local prog/s':>12} | {'ray prog/s':>10} | {'ray/local':>9} | "
        f"{'local ms·w/prog':>15} | {'ray ms·w/prog':>13} | {'overhead ms·w':>13}"
    )
    for w, best, _ in rows:
        (ls, lp), (rs, rp) = best["local"], best["ray"]
        assert lp == rp == n, f"not every reference solution passed: local {lp}, ray {rp} of {n}"
        lc, rc = 1000 * w * ls / n, 1000 * w * rs / n
        print(
            f"{w:>7} | {n / ls:>12.1f} | {n / rs:>10.1f} | {ls / rs:>9.2f} | "
            f"{lc:>15.2f} | {rc:>13.2f} | {rc - lc:>13.2f}"
        )
    lat = rows[0][2]
    if lat is not None:
        print(
            f"latency, one program at a time (median of {len(sample)}): local "
            f"{1000 * lat[0]:.2f} ms, ray {1000 * lat[1]:.2f} ms, Ray round trip "
            f"+{1000 * (lat[1] - lat[0]):.2f} ms per program"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
