"""Tokens/s of the local backends on the embedded model: single-stream greedy and n-sample T=0.8.

Usage: python bench/generate.py [--n 8 --n 16] [--max-new-tokens 128] [--threads 2]
       [--model qwen2.5-coder-1.5b-instruct]

Prints one table; every number comes from this run, on this machine. llama.cpp is very
sensitive to other processes on the same cores, so the script also reports how much CPU the
rest of the machine used during each measurement (``others_cores``): treat rows with a high
value as lower bounds.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from pathlib import Path

from codeduel.models import GenParams, Model, load_model
from codeduel.models.embedded import assemble_timed

HUMANEVAL = Path(os.environ.get("CODEDUEL_DATA_DIR", "../shared/data")) / "humaneval"


def _prompt() -> str:
    """HumanEval/0 when the data is at hand (the prompt the research notes measured with)."""
    path = HUMANEVAL / "HumanEval.jsonl.gz"
    if path.is_file():
        with gzip.open(path, "rt") as f:
            return str(json.loads(f.readline())["prompt"])
    return 'def fib(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n'


def _cpu_seconds_total() -> float:
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:8]]
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
    return busy / os.sysconf("SC_CLK_TCK")


def _measure(model: Model, params: GenParams, prompt: str) -> tuple[float, int, float]:
    """(wall seconds, generated tokens, cores used by other processes meanwhile)."""
    cpu0, own0, t0 = _cpu_seconds_total(), time.process_time(), time.perf_counter()
    out = model.generate([prompt], params)
    wall = time.perf_counter() - t0
    others = (_cpu_seconds_total() - cpu0 - (time.process_time() - own0)) / wall
    tokens = sum(c.completion_tokens for c in out[0])
    if params.greedy:
        tokens = out[0][0].completion_tokens
    return wall, tokens, max(0.0, others)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="samples per prompt (repeatable)")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct", help="embedded model")
    args = parser.parse_args()
    ns = args.n or [8]

    path, seconds = assemble_timed(args.model)
    print(f"embedded GGUF ready in {seconds:.2f} s: {path}")
    t0 = time.perf_counter()
    model = load_model(
        f"embedded:{args.model}", n_ctx=4096, n_parallel=max(ns), n_threads=args.threads
    )
    print(f"load: {time.perf_counter() - t0:.2f} s ({model.info().engine_version})")
    prompt = _prompt()
    model.generate([prompt], GenParams(max_new_tokens=4))  # warm-up: first decode allocates

    rows = [("greedy n=1", GenParams(max_new_tokens=args.max_new_tokens))]
    rows += [
        (
            f"T=0.8 top-p 0.95 n={n}",
            GenParams(max_new_tokens=args.max_new_tokens, temperature=0.8, top_p=0.95, n=n, seed=0),
        )
        for n in ns
    ]
    print(
        f"{'backend':<10} {'mode':<24} {'tokens':>7} {'seconds':>8} {'tok/s':>7} "
        f"{'others_cores':>13}"
    )
    for label, params in rows:
        wall, tokens, others = _measure(model, params, prompt)
        print(
            f"{'llamacpp':<10} {label:<24} {tokens:>7} {wall:>8.2f} {tokens / wall:>7.2f} "
            f"{others:>13.2f}"
        )
    model.close()


if __name__ == "__main__":
    main()
