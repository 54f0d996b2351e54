"""Tokens/s of the local backends on the embedded model: single-stream greedy and n-sample T=0.8.

Usage: python bench/backends.py [--n 8 --n 16] [--max-new-tokens 128] [--threads 2]
       [--model qwen2.5-coder-1.5b-instruct] [--backend llamacpp --backend hf]

Prints one table with the backends side by side; every number comes from this run, on this
machine. Backends run one after the other (never together: llama.cpp collapses when the cores
are oversubscribed), each loaded, measured and closed in turn. The script also reports how
much CPU the rest of the machine used during each measurement (``others_cores``): treat rows
with a high value as lower bounds. The hf backend loads the same GGUF through transformers,
dequantised to fp32 (``--hf-dtype`` to change), so it measures the engine, not the weights.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import time
from pathlib import Path

from codeduel.machine import CpuMeter
from codeduel.models import GenParams, Model, load_model
from codeduel.models.embedded import assemble_timed

HUMANEVAL = Path(os.environ.get("CODEDUEL_DATA_DIR", "../shared/data")) / "humaneval"


def _prompt() -> str:
    """HumanEval/0 when the data is at hand (the prompt docs/models.md timed)."""
    path = HUMANEVAL / "HumanEval.jsonl.gz"
    if path.is_file():
        with gzip.open(path, "rt") as f:
            return str(json.loads(f.readline())["prompt"])
    return 'def fib(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n'


def _measure(model: Model, params: GenParams, prompt: str) -> tuple[float, int, float]:
    """(wall seconds, generated tokens, cores used by other processes meanwhile)."""
    meter, t0 = CpuMeter(), time.perf_counter()
    out = model.generate([prompt], params)
    wall = time.perf_counter() - t0
    others = meter.others() or 0.0
    tokens = sum(c.completion_tokens for c in out[0])
    if params.greedy:
        tokens = out[0][0].completion_tokens
    return wall, tokens, others


BACKENDS = ("llamacpp", "hf")


def _load(backend: str, name: str, args: argparse.Namespace, batch: int) -> Model:
    """The embedded model on one backend, with the same threads and batch width."""
    if backend == "hf":
        return load_model(
            f"hf:embedded:{name}",
            n_threads=args.threads,
            max_batch=batch,
            dtype=args.hf_dtype,
            context_window=4096,
        )
    return load_model(f"embedded:{name}", n_ctx=4096, n_parallel=batch, n_threads=args.threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="samples per prompt (repeatable)")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct", help="embedded model")
    parser.add_argument(
        "--backend", action="append", choices=BACKENDS, help="backend to measure (repeatable)"
    )
    parser.add_argument("--hf-dtype", default="fp32", help="hf backend dtype: fp32, bf16, fp16")
    args = parser.parse_args()
    ns = args.n or [16]
    backends = args.backend or list(BACKENDS)

    path, seconds = assemble_timed(args.model)
    print(f"embedded GGUF ready in {seconds:.2f} s: {path}")
    prompt = _prompt()
    rows = [("greedy n=1", GenParams(max_new_tokens=args.max_new_tokens))]
    rows += [
        (
            f"T=0.8 top-p 0.95 n={n}",
            GenParams(max_new_tokens=args.max_new_tokens, temperature=0.8, top_p=0.95, n=n, seed=0),
        )
        for n in ns
    ]
    results: dict[tuple[str, str], tuple[int, float, float]] = {}
    for backend in backends:
        t0 = time.perf_counter()
        model = _load(backend, args.model, args, max(ns))
        print(f"{backend}: load {time.perf_counter() - t0:.2f} s ({model.info().engine_version})")
        model.generate([prompt], GenParams(max_new_tokens=4))  # warm-up: first decode allocates
        for label, params in rows:
            wall, tokens, others = _measure(model, params, prompt)
            results[backend, label] = (tokens, wall, others)
            print(f"  {label:<24} {tokens:>5} tokens {wall:>8.2f} s {tokens / wall:>7.2f} tok/s")
        model.close()
        del model
        gc.collect()

    header = f"{'mode':<24}" + "".join(f" {b + ' tok/s':>14} {'others':>7}" for b in backends)
    print()
    print(header)
    for label, _ in rows:
        line = f"{label:<24}"
        for backend in backends:
            tokens, wall, others = results[backend, label]
            line += f" {tokens / wall:>14.2f} {others:>7.2f}"
        print(line)


if __name__ == "__main__":
    main()
