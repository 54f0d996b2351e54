"""Perplexity against context length: does more context keep helping? (Code Llama, §3.3).

Why by position: a model that really uses a long context predicts token 6000 of a file better
than token 600, because it has seen more of the file. So the negative log-likelihood of every
token of long real source files (50 kB and up; the standard library by default) is grouped by
how many tokens of context preceded it (0-1K, 1K-2K, 2K-4K, ...) and each bucket's perplexity
is reported. Files longer than the model's window are scored with a sliding window: each window
keeps ``window - stride`` tokens of the previous one as context and scores only its new tokens,
whose bucket is their position *within* the window (the context they actually had).

Scoring uses the backends' ``loglikelihood`` primitive; a backend without it answers with its
own one-line "not supported" error.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codeduel.errors import CodeduelError, require_positive
from codeduel.flows.longcontext.keyretrieval import (
    corpus_dataset,
    corpus_fingerprint,
    open_long_model,
    python_files,
    read_source,
)
from codeduel.models import Model
from codeduel.records.lifecycle import RunLifecycle
from codeduel.records.store import SampleRecord, Store, spec_key

KIND = "perplexity"
MIN_BYTES = 50_000

ProgressFn = Callable[[int, int], None]


def bucket_edges(window: int, edges: Sequence[int] | None = None) -> list[int]:
    """Bucket boundaries ``[0, 1K, 2K, 4K, ...]`` ending at ``window`` (or the ones given)."""
    if edges is not None:
        out = sorted({int(e) for e in edges} | {0})
        if out[-1] < window:
            out.append(window)
        return out
    out = [0, 1024]
    while out[-1] < window:
        out.append(out[-1] * 2)
    return out


def _fmt(n: int) -> str:
    return f"{n // 1024}K" if n and n % 1024 == 0 else str(n)


def bucket_label(lo: int, hi: int) -> str:
    """``0-1K``, ``1K-2K``; raw numbers when the edges are not multiples of 1024."""
    return f"{_fmt(lo)}-{_fmt(hi)}"


def _bucket_of(position: int, edges: Sequence[int]) -> int:
    for i in range(len(edges) - 1):
        if position < edges[i + 1]:
            return i
    return len(edges) - 2


@dataclass(frozen=True)
class FileScore:
    """Per-token losses of one file: ``(position in window, nll)`` for every scored token."""

    tokens: int
    windows: int
    losses: list[tuple[int, float]]


def _truncate(model: Model, lines: list[str], max_tokens: int | None) -> list[str]:
    """The longest prefix of whole lines within ``max_tokens`` tokens."""
    if max_tokens is None or len(model.tokenize("".join(lines))) <= max_tokens:
        return lines
    lo, hi = 0, len(lines)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(model.tokenize("".join(lines[:mid]))) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return lines[:lo]


def score_text(
    model: Model, text: str, *, window: int, stride: int, max_tokens: int | None = None
) -> FileScore:
    """Per-token NLL of ``text`` (its first ``max_tokens`` tokens), windows cut at line ends.

    Windows are whole lines, so no token is split at a window edge; the tokens a window shares
    with the previous one are context only, never scored twice.
    """
    if not 0 < stride <= window:
        raise CodeduelError(f"invalid --stride {stride}", f"give 1..{window} (the window size)")
    lines = _truncate(model, text.splitlines(keepends=True), max_tokens)

    def count(a: int, b: int) -> int:
        return len(model.tokenize("".join(lines[a:b]))) if b > a else 0

    losses: list[tuple[int, float]] = []
    start, scored, windows, total = 0, 0, 0, 0
    while scored < len(lines):
        lo, hi = scored, len(lines)  # largest end with the window within budget
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(start, mid) <= window:
                lo = mid
            else:
                hi = mid - 1
        end = lo
        if end == scored:
            raise CodeduelError(
                f"line {scored + 1} alone is longer than the {window}-token window",
                "pass a larger --window or another --corpus",
            )
        result = model.loglikelihood(["".join(lines[start:end])])[0]
        skip = count(start, scored)
        for i, lp in enumerate(result.logprobs):
            if i >= skip and lp is not None:
                losses.append((i, -float(lp)))
        total += len(result.tokens) - skip
        windows += 1
        scored = end
        if scored >= len(lines):
            break
        # Next window starts where at most window - stride tokens of context remain.
        lo, hi = start + 1, end
        while lo < hi:
            mid = (lo + hi) // 2
            if count(mid, end) <= window - stride:
                hi = mid
            else:
                lo = mid + 1
        start = lo
    return FileScore(tokens=total, windows=windows, losses=losses)


def bucket_table(losses: Sequence[tuple[int, float]], edges: Sequence[int]) -> list[dict[str, Any]]:
    """Token count, mean NLL and perplexity per position bucket."""
    sums = [0.0] * (len(edges) - 1)
    counts = [0] * (len(edges) - 1)
    for pos, nll in losses:
        b = _bucket_of(pos, edges)
        sums[b] += nll
        counts[b] += 1
    return _rows(edges, sums, counts)


def _rows(
    edges: Sequence[int], sums: Sequence[float], counts: Sequence[int]
) -> list[dict[str, Any]]:
    rows = []
    for i in range(len(edges) - 1):
        mean = sums[i] / counts[i] if counts[i] else None
        rows.append(
            {
                "bucket": bucket_label(edges[i], edges[i + 1]),
                "from": edges[i],
                "to": edges[i + 1],
                "tokens": counts[i],
                "nll_sum": sums[i],
                "mean_nll": mean,
                "perplexity": math.exp(mean) if mean is not None else None,
            }
        )
    return rows


@dataclass
class PerplexityResult:
    """Perplexity per position bucket over all files, per file, and where it is recorded."""

    run_id: int
    model: str
    window: int
    stride: int
    buckets: list[dict[str, Any]]
    overall: dict[str, Any]
    files: list[dict[str, Any]]
    resumed: bool
    duration_s: float
    store_path: Path
    spec: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["store"] = str(out.pop("store_path"))  # the key every --json result uses
        out["duration_s"] = round(self.duration_s, 3)
        return out


def choose_files(
    corpus: str | Path | None, n_files: int, min_bytes: int, seed: int
) -> tuple[Path, list[Path], str]:
    """``n_files`` long source files, a seeded choice among those of at least ``min_bytes``."""
    if n_files < 1:
        raise CodeduelError(f"invalid --files {n_files}", "give at least 1 file")
    root, files = python_files(corpus)
    long_files = [p for p in files if p.stat().st_size >= min_bytes]
    if not long_files:
        raise CodeduelError(
            f"corpus folder {root} has no Python file of {min_bytes} bytes or more",
            "pass a corpus with long files, or a smaller --min-bytes",
        )
    random.Random(f"codeduel-perplexity:{seed}").shuffle(long_files)
    chosen = [p for p in long_files if read_source(p)][:n_files]
    return root, chosen, corpus_fingerprint(root, files)


def run_perplexity(
    model: str | None = None,
    *,
    corpus: str | Path | None = None,
    n_files: int = 3,
    max_tokens: int | None = None,
    min_bytes: int = MIN_BYTES,
    window: int | None = None,
    stride: int | None = None,
    edges: Sequence[int] | None = None,
    seed: int = 0,
    store: str | Path | Store | None = None,
    n_threads: int | None = None,
    loaded_model: Model | None = None,
    progress: ProgressFn | None = None,
) -> PerplexityResult:
    """Score ``n_files`` long files, record each, and report perplexity per position bucket.

    ``window`` defaults to the model's context (capped at ``max_tokens`` when that is smaller);
    ``stride`` to half the window. Rerunning resumes an unfinished run file by file.
    """
    started = time.perf_counter()
    require_positive(window=window, stride=stride, threads=n_threads, files=n_files)
    if max_tokens is not None and max_tokens < 2:
        raise CodeduelError(f"invalid --max-tokens {max_tokens}", "give at least 2 tokens")
    root, chosen, fingerprint = choose_files(corpus, n_files, min_bytes, seed)
    own_model = loaded_model is None
    if loaded_model is None:
        need = (window or max_tokens or 1 << 30) + 2
        lm, limit = open_long_model(
            model, [need], context_window=None, n_threads=n_threads, cap=True
        )
    else:
        lm, limit = loaded_model, loaded_model.info().context_window
    life = RunLifecycle(store)
    db = life.db
    try:
        usable = min(lm.info().context_window, limit) - 2  # room for BOS and the server's limit
        if window is not None and window > usable:
            raise CodeduelError(
                f"--window {window} exceeds the {usable + 2}-token context window of "
                f"{lm.info().weights_id}",
                f"give --window {usable} or less",
            )
        size = window or usable
        if max_tokens is not None:
            size = min(size, max_tokens)
        step = stride or max(1, size // 2)
        the_edges = bucket_edges(size, edges)
        info = lm.info()
        spec_name = model or info.spec
        spec: dict[str, Any] = {
            "model": spec_name,
            "weights_id": info.weights_id,
            "weights_sha256": info.sha256,
            "corpus": str(root),
            "corpus_sha256": fingerprint,
            "files": [str(p.relative_to(root)) for p in chosen],
            "max_tokens": max_tokens,
            "window": size,
            "stride": step,
            "edges": the_edges,
            "seed": seed,
        }
        run_id, resumed = life.start(
            kind=KIND,
            key=spec_key(spec),
            spec={**spec, "model_info": info.model_dump()},
            task=KIND,
            dataset=corpus_dataset(root, fingerprint),
        )
        done = {tid for tid, _ in db.sample_keys(run_id)}
        if progress:
            progress(len(done), len(chosen))
        for path in chosen:
            rel = str(path.relative_to(root))
            if rel in done:
                continue
            t0 = time.perf_counter()
            scored = score_text(
                lm, read_source(path) or "", window=size, stride=step, max_tokens=max_tokens
            )
            rows = bucket_table(scored.losses, the_edges)
            db.add_samples(
                run_id,
                [
                    SampleRecord(
                        task_id=rel,
                        sample_idx=0,
                        completion=None,
                        extra={
                            "bytes": path.stat().st_size,
                            "tokens": scored.tokens,
                            "scored_tokens": len(scored.losses),
                            "windows": scored.windows,
                            "nll_sums": [r["nll_sum"] for r in rows],
                            "counts": [r["tokens"] for r in rows],
                            "seconds": time.perf_counter() - t0,
                        },
                    )
                ],
            )
            done.add(rel)
            if progress:
                progress(len(done), len(chosen))
        result = _summarise(db, run_id, spec_name, size, step, the_edges, spec, resumed)
        result.duration_s = time.perf_counter() - started
        summary = result.to_dict()
        summary.pop("run_id")
        life.finish(summary)
        return result
    except BaseException as err:
        life.fail(err)  # an interrupt says which run to resume
        raise
    finally:
        if own_model:
            lm.close()
        life.close()


def _summarise(
    db: Store,
    run_id: int,
    model: str,
    window: int,
    stride: int,
    edges: Sequence[int],
    spec: dict[str, Any],
    resumed: bool,
) -> PerplexityResult:
    """Bucket totals from the store (so a resumed run counts the files scored earlier)."""
    sums = [0.0] * (len(edges) - 1)
    counts = [0] * (len(edges) - 1)
    files = []
    for rec in db.samples(run_id):
        extra = rec.extra or {}
        f_sums, f_counts = extra.get("nll_sums", []), extra.get("counts", [])
        for i, (s, c) in enumerate(zip(f_sums, f_counts, strict=True)):
            sums[i] += s
            counts[i] += c
        n = sum(f_counts)
        files.append(
            {
                "file": rec.task_id,
                "bytes": extra.get("bytes"),
                "tokens": n,
                "windows": extra.get("windows"),
                "perplexity": math.exp(sum(f_sums) / n) if n else None,
                "seconds": round(float(extra.get("seconds", 0.0)), 3),
            }
        )
    total = sum(counts)
    overall = {
        "tokens": total,
        "mean_nll": sum(sums) / total if total else None,
        "perplexity": math.exp(sum(sums) / total) if total else None,
    }
    return PerplexityResult(
        run_id=run_id,
        model=model,
        window=window,
        stride=stride,
        buckets=_rows(edges, sums, counts),
        overall=overall,
        files=files,
        resumed=resumed,
        duration_s=0.0,
        store_path=db.path,
        spec=spec,
    )
