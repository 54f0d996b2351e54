"""Command-line options that several commands share, declared once.

Why: a flag spelled or explained differently by two commands (``--store`` with two help texts,
``--workers`` meaning sandboxes in one and something else in another) is a trap; every command
imports these instead of redeclaring them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="gguf:PATH, hf:ORG/NAME, openai:MODEL, a preset (see `codeduel models`); "
        "default: the embedded model.",
        show_default=False,
    ),
]
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Results SQLite file (default: $CODEDUEL_STORE or the user data dir).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
CutoffOpt = Annotated[
    str | None,
    typer.Option(
        "--cutoff",
        help="Training cutoff YYYY-MM-DD for the LiveCodeBench contamination view "
        "(default: the model preset's).",
        show_default=False,
    ),
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Benchmark data folder.", show_default=False)
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Parallel sandboxes (ray: executor actors across the cluster, one CPU each).",
        show_default=False,
    ),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="llama.cpp CPU threads (default: the cores other processes leave free, "
        "looked at again between calls).",
        show_default=False,
    ),
]
KOpt = Annotated[str, typer.Option("--k", help="Comma-separated k values.")]
LimitOpt = Annotated[
    int | None, typer.Option("--limit", help="First N problems only.", show_default=False)
]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Random seed (sampling, problem choice); recorded in the run.")
]
BatchSizeOpt = Annotated[
    int | None,
    typer.Option(
        "--batch-size",
        help="Greedy problems decoded together (llama.cpp: faster, but the text may differ from "
        "one at a time; recorded, and a run of its own).",
        show_default=False,
    ),
]
SpeculativeOpt = Annotated[
    str | None,
    typer.Option(
        "--speculative",
        help="llama.cpp speculative decoding: ngram (prompt lookup; pays where the answer copies "
        "its prompt; recorded, and a run of its own).",
        show_default=False,
    ),
]
SampleOpt = Annotated[
    int | None,
    typer.Option(
        "--sample",
        help="A random N problems (seeded by --seed; a fair estimate of the whole benchmark, "
        "unlike --limit).",
        show_default=False,
    ),
]
TopKOpt = Annotated[
    int | None,
    typer.Option(
        "--top-k",
        help="Sample from the k likeliest tokens only (default: off).",
        show_default=False,
    ),
]
MaxNewTokensOpt = Annotated[
    int, typer.Option("--max-new-tokens", help="Most tokens generated per sample; recorded.")
]
StyleOpt = Annotated[
    str | None,
    typer.Option("--style", help="completion or chat (default: the model's).", show_default=False),
]
ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where programs run: local (this machine) or ray (a Ray cluster, see "
        "docs/scaling.md).",
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster for --executor ray and --gen-workers (default: $RAY_ADDRESS, else a "
        "local Ray).",
        show_default=False,
    ),
]
RequireIsolationOpt = Annotated[
    str | None,
    typer.Option(
        "--require-isolation",
        help="Refuse to run unless these sandbox layers are active: all, or a comma-separated "
        "list (process, rlimits, netns, scratch, landlock, setuid, seccomp, cgroup); default: "
        "$CODEDUEL_REQUIRE_ISOLATION, else none (see `codeduel doctor`).",
        envvar="CODEDUEL_REQUIRE_ISOLATION",
        show_default=False,
    ),
]
HashSeedOpt = Annotated[
    int,
    typer.Option(
        "--hash-seed",
        help="PYTHONHASHSEED of the sandboxes (set and dict order); recorded in every verdict.",
    ),
]
RejudgeOpt = Annotated[
    bool,
    typer.Option(
        "--rejudge",
        help="Run every timed-out program again alone on one idle worker; record both "
        "verdicts and count the load-dependent ones.",
    ),
]
#: Every command that draws bootstrap intervals uses this many resamples unless told otherwise
#: (the same number as codeduel.scoring.stats.DEFAULT_N_BOOT, so the CLI and the API agree).
DEFAULT_BOOTSTRAP = 2000
BootstrapOpt = Annotated[
    int,
    typer.Option(
        "--bootstrap",
        help="Bootstrap resamples for the intervals (the same default in every command).",
    ),
]
BootstrapSeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the bootstrap resampling.")]
