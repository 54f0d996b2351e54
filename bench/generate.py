"""Greedy HumanEval on the embedded model, end to end: today's path against the new default.

Usage: python bench/generate.py [--problems 20] [--busy 1] [--arms today,default,batch8]
       [--model qwen2.5-coder-0.5b-instruct] [--threads N]

Every arm runs ``codeduel run`` (generation, judging, the results store) on the same problems,
one after the other on this machine (never together: llama.cpp collapses when the cores are
oversubscribed), and is compared with the first arm, ``today``: the backend as it was before
this benchmark (all usable cores as threads, fixed; one problem at a time); a variant of the
default is compared with ``default`` (the ``against`` column). For each arm it
prints problems per minute, generated tokens per second of wall time, prompt tokens per second
of prompt evaluation (llama.cpp's own counters, per stream), how
many texts and verdicts are identical to its reference arm's, and the speedup. ``--busy K`` keeps K
other processes spinning during every arm (a laptop with other work on it). The last line is
``speedup: N.NNx``: the new default path (``default``) against ``today``.

Arms (``--arms``, in order; ``today`` always runs first):
  today        as shipped before: threads fixed at the usable cores, llama.cpp's flash attention
               on (the text depends on the thread count), prompt-prefix KV reuse on
  default      what ``codeduel run`` now does: flash attention off, so threads can follow the
               cores other processes leave free without changing the text; prefix reuse on
  no-reuse     ``default`` without the prompt-prefix KV reuse (the text then depends on the
               prompt alone; what that costs)
  ngram        ``default`` with prompt-lookup speculative decoding (``speculative="ngram"``)
  batch8       ``default`` with 8 problems decoded together (``--batch-size 8``: text may differ)
  noprefill    the chat prompt without the pre-filled signature (a different prompt: its own
               baseline for the next arm, not comparable with ``today``)
  noprefill-ngram  ``noprefill`` with speculative decoding, compared with ``noprefill``
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeduel.flows import generate
from codeduel.machine import usable_cpus
from codeduel.models import load_model
from codeduel.models.llamacpp import LlamaCppModel
from codeduel.records.store import Store
from codeduel.tasks.prompting import PromptVariant

DATA = Path(os.environ.get("CODEDUEL_DATA_DIR", "../shared/data"))
BURN = "while True:\n    pass\n"


@dataclass(frozen=True)
class Arm:
    """One way of running the same job: model options, run options, and what it is held to."""

    name: str
    load: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    against: str = "today"


NO_PREFILL = {"variant": PromptVariant(prefill=False)}
ARMS = {
    arm.name: arm
    for arm in (
        Arm("today"),  # its options come from --threads below
        Arm("default"),
        Arm("no-reuse", load={"prefix_reuse": False}, against="default"),
        Arm("ngram", load={"speculative": "ngram"}, against="default"),
        Arm("batch8", load={"n_parallel": 8}, run={"batch_size": 8}, against="default"),
        Arm("noprefill", run=NO_PREFILL, against="noprefill"),
        Arm("noprefill-ngram", load={"speculative": "ngram"}, run=NO_PREFILL, against="noprefill"),
    )
}


@dataclass
class Measured:
    wall_s: float
    problems: int
    usage: dict[str, float]
    texts: dict[str, str | None]
    verdicts: dict[str, str]
    pass_at_1: float | None
    threads: list[tuple[float, int]]


@contextlib.contextmanager
def burners(count: int) -> Iterator[None]:
    """``count`` processes that each keep one core busy while the arm runs."""
    procs = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(count)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def measure(arm: Arm, args: argparse.Namespace, workdir: Path) -> Measured:
    """Load the model with the arm's options, run the job, read the records back."""
    store = workdir / f"{arm.name}.sqlite"
    with burners(args.busy):
        start = time.perf_counter()
        model = load_model(f"embedded:{args.model}", **arm.load)
        assert isinstance(model, LlamaCppModel)
        with model:
            result = generate.run(
                loaded_model=model,
                store=store,
                limit=args.problems,
                data_dir=DATA if DATA.is_dir() else None,
                **arm.run,
            )
            usage, threads = dict(model.usage), list(model.thread_changes)
        wall = time.perf_counter() - start
    with Store(store) as db:
        samples = db.samples(result.run_id)
        verdicts = {v.task_id: v.status for v in db.verdicts(result.run_id)}
    gc.collect()
    return Measured(
        wall_s=wall,
        problems=result.n_problems,
        usage=usage,
        texts={s.task_id: s.raw_output for s in samples},
        verdicts=verdicts,
        pass_at_1=result.pass_at_k.get("pass@1"),
        threads=threads,
    )


def same(a: dict[str, Any], b: dict[str, Any]) -> int:
    return sum(1 for key, value in a.items() if b.get(key) == value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=20, help="first N HumanEval problems")
    parser.add_argument("--busy", type=int, default=0, help="other processes keeping cores busy")
    parser.add_argument("--arms", default="today,default,no-reuse,ngram,batch8")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct", help="embedded model")
    parser.add_argument("--threads", type=int, default=usable_cpus(), help="today's threads")
    args = parser.parse_args()
    names = ["today"] + [n for n in args.arms.split(",") if n and n != "today"]
    unknown = [n for n in names if n not in ARMS]
    if unknown:
        parser.error(f"unknown arm(s) {', '.join(unknown)}: choose from {', '.join(ARMS)}")
    arms = [ARMS[n] for n in names]
    today = {"n_threads": args.threads, "flash_attention": True, "prefix_reuse": True}
    arms[0] = Arm("today", load=today)
    print(
        f"greedy HumanEval, first {args.problems} problems, {args.model}, "
        f"{usable_cpus()} usable cores, {args.busy} busy process(es)",
        flush=True,
    )
    results: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory(prefix="codeduel-bench-") as tmp:
        for arm in arms:
            m = results[arm.name] = measure(arm, args, Path(tmp))
            print(
                f"  {arm.name:<16} {m.wall_s:7.1f} s  pass@1 {m.pass_at_1}  threads {m.threads}",
                flush=True,
            )
    header = (
        f"{'arm':<16} {'problems/min':>12} {'tok/s':>7} {'prompt tok/s':>12} {'drafts kept':>11} "
        f"{'same text':>9} {'same verdict':>12} {'speedup':>8}  against"
    )
    print()
    print(header)
    for arm in arms:
        m, base = results[arm.name], results.get(arm.against)
        if base is None:
            continue
        u = m.usage
        decode = u["predicted_n"] / m.wall_s
        prompt = u["prompt_n"] / (u["prompt_ms"] / 1000) if u["prompt_ms"] else 0.0
        kept = f"{u['draft_n_accepted']:.0f}/{u['draft_n']:.0f}" if u["draft_n"] else "-"
        print(
            f"{arm.name:<16} {m.problems / m.wall_s * 60:>12.2f} {decode:>7.2f} {prompt:>12.1f} "
            f"{kept:>11} {same(base.texts, m.texts):>5}/{len(base.texts):<3} "
            f"{same(base.verdicts, m.verdicts):>8}/{len(base.verdicts):<3} "
            f"{base.wall_s / m.wall_s:>7.2f}x  {arm.against}"
        )
    if "default" in results:
        print(f"speedup: {results['today'].wall_s / results['default'].wall_s:.2f}x")


if __name__ == "__main__":
    main()
