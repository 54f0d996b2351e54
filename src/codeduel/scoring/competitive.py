"""Competitive-programming views (APPS, LiveCodeBench): pass@k by difficulty and by contest
month, and a contamination check against the model's training cutoff.

Why per group: one APPS number hides that introductory and competition problems differ by an
order of magnitude (the Code Llama paper's Table 3 reports them apart), and a LiveCodeBench
score means little without knowing how many problems predate the model's training data.

Problem metadata (difficulty, contest date) is not stored with the samples; it is read from the
task at report time (``get_task(run.task, data_dir).problems()``, data dir from the run's spec,
else the default). When the data is not there, the views are left out with a note.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from codeduel.errors import CodeduelError
from codeduel.records.store import RunRecord
from codeduel.scoring.stats import DEFAULT_LEVEL, pass_at_k_interval

#: Task names whose problems carry ``difficulty`` (and, for LiveCodeBench, ``contest_date``).
COMPETITIVE_TASKS = ("apps", "livecodebench")
DIFFICULTY_ORDER = ("introductory", "interview", "competition", "easy", "medium", "hard")
#: The decoding the Code Llama paper used for APPS (Table 3 caption).
PAPER_APPS_DECODING = (0.6, 0.95)

MetaLoader = Callable[[RunRecord], dict[str, dict[str, Any]]]


def benchmark_of(task: str | None) -> str | None:
    """``apps`` or ``livecodebench`` for those tasks (and ``<name>-<variant>``), else None."""
    if not task:
        return None
    for name in COMPETITIVE_TASKS:
        if task == name or task.startswith(name + "-"):
            return name
    return None


@dataclass(frozen=True)
class GroupMetric:
    """pass@k of one group of problems (fractions), with the published figure if any."""

    k: int
    estimate: float
    low: float
    high: float
    published: float | None = None
    protocol: str | None = None


@dataclass(frozen=True)
class GroupRate:
    """One difficulty or one contest month of one run."""

    group: str
    n_problems: int
    metrics: list[GroupMetric]


@dataclass(frozen=True)
class Contamination:
    """Pass rate on problems released after the cutoff minus before it, with its interval."""

    cutoff: str  # YYYY-MM-DD: problems dated after it cannot be in the training data
    source: str  # "--cutoff" or where the preset's cutoff comes from
    n_before: int
    n_after: int
    rate_before: float | None
    rate_after: float | None
    diff: float | None  # after - before (fractions); None when a side has no problem
    low: float | None
    high: float | None
    level: float
    method: str


@dataclass(frozen=True)
class CompetitiveRun:
    """The competitive views of one run."""

    run_id: int
    model: str
    task: str
    benchmark: str
    by_difficulty: list[GroupRate] = field(default_factory=list)
    by_month: list[GroupRate] = field(default_factory=list)
    contamination: Contamination | None = None
    sources: list[str] = field(default_factory=list)
    note: str | None = None  # why a view is missing (no metadata, no cutoff, ...)


def parse_cutoff(text: str) -> date:
    """``YYYY-MM-DD`` (or ``YYYY-MM``, read as that month's last day), else a one-line error."""
    value = text.strip()
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", value)
    try:
        if m is None:
            raise ValueError(value)
        year, month = int(m.group(1)), int(m.group(2))
        day = int(m.group(3)) if m.group(3) else calendar.monthrange(year, month)[1]
        return date(year, month, day)
    except ValueError:
        raise CodeduelError(
            f"invalid --cutoff {text!r}", "give a date as YYYY-MM-DD, e.g. --cutoff 2023-09-30"
        ) from None


def load_task_meta(run: RunRecord) -> dict[str, dict[str, Any]]:
    """``{task_id: meta}`` of the run's problems: from the run's summary, where every finished
    run since the competitive tasks landed records it, else read from the dataset with the
    run's task options (may raise; never downloads: a report must not fetch gigabytes)."""
    recorded = (run.summary or {}).get("problem_meta")
    if isinstance(recorded, dict) and recorded:
        return {str(k): dict(v) for k, v in recorded.items() if isinstance(v, dict)}
    from codeduel.tasks import get_task
    from codeduel.tasks.hub import no_downloads

    data_dir = run.spec.get("data_dir")
    options = run.spec.get("task_options") or {}
    with no_downloads():
        task = get_task(str(run.task), Path(data_dir) if data_dir else None, **options)
    return {str(p.task_id): dict(p.meta) for p in task.problems()}


def contamination_diff(
    before: Sequence[float], after: Sequence[float], *, n_boot: int, level: float, seed: int
) -> tuple[float, float, float]:
    """Mean per-problem pass rate after minus before, with a percentile-bootstrap interval.

    Why a bootstrap over problems (each side resampled on its own) and not a Newcombe/Wilson
    interval: with several samples per problem the per-problem pass rates are not one Bernoulli
    outcome each, so a difference-of-proportions interval would treat samples as independent
    problems and come out too narrow; resampling problems is valid for greedy and sampled runs
    alike, and is how every other interval in codeduel is made.
    """
    a, b = np.asarray(after, dtype=float), np.asarray(before, dtype=float)
    rng = np.random.default_rng(seed)
    boot_a = a[rng.integers(0, len(a), size=(n_boot, len(a)))].mean(axis=1)
    boot_b = b[rng.integers(0, len(b), size=(n_boot, len(b)))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(boot_a - boot_b, [tail, 100 - tail])
    return float(a.mean() - b.mean()), float(low), float(high)


def _group_metrics(
    counts: list[tuple[int, int]], ks: Sequence[int], n_boot: int, seed: int
) -> list[GroupMetric]:
    ns, cs = [n for n, _ in counts], [c for _, c in counts]
    out = []
    for k in ks:
        if min(ns) < k:
            continue
        iv = pass_at_k_interval(ns, cs, k, n_boot=n_boot, level=DEFAULT_LEVEL, seed=seed)
        out.append(GroupMetric(k, iv.estimate, iv.low, iv.high))
    return out


def _apps_protocol(run: RunRecord) -> str:
    spec = run.spec
    why = ["zero-shot APPS prompt (paper: two-shot, shots unpublished)"]
    if (spec.get("temperature"), spec.get("top_p")) != PAPER_APPS_DECODING:
        why.append(f"paper: T=0.6 top-p 0.95; run: T={spec.get('temperature')} "
                   f"top-p {spec.get('top_p')}")  # fmt: skip
    if spec.get("limit") is not None or spec.get("sample") is not None:
        why.append("run scored a subset of the problems")
    return "protocol differs: " + "; ".join(why)


def competitive_views(
    runs: Sequence[tuple[RunRecord, dict[str, tuple[int, int]]]],
    *,
    cutoff: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
    meta_loader: MetaLoader = load_task_meta,
) -> list[CompetitiveRun]:
    """The views of every APPS / LiveCodeBench run among ``runs`` (run, {task_id: (n, c)}).

    ``cutoff`` (YYYY-MM-DD) overrides each model preset's training cutoff.
    """
    from codeduel.scoring.compare import model_name, preset_for, run_model

    forced = parse_cutoff(cutoff) if cutoff is not None else None
    cache: dict[tuple[str, str | None], dict[str, dict[str, Any]] | str] = {}
    out: list[CompetitiveRun] = []
    for run, counts in runs:
        bench = benchmark_of(run.task)
        if bench is None or not counts:
            continue
        model = model_name(run)
        key = (str(run.task), run.spec.get("data_dir"))
        if key not in cache:
            try:
                cache[key] = meta_loader(run)
            except (CodeduelError, OSError, ValueError) as e:
                cache[key] = str(e).splitlines()[0] if str(e) else type(e).__name__
        meta = cache[key]
        if isinstance(meta, str):
            out.append(
                CompetitiveRun(
                    run.id,
                    model,
                    str(run.task),
                    bench,
                    note=f"problem metadata for {run.task} is not available ({meta}): the "
                    "difficulty and month views need the dataset (--data-dir / "
                    "CODEDUEL_DATA_DIR)",
                )
            )
            continue
        min_n = min(n for n, _ in counts.values())
        ks = [1] + [k for k in ((5, 10, 100) if bench == "apps" else (5,)) if k <= min_n]
        missing = [t for t in counts if t not in meta]
        groups: dict[str, list[tuple[int, int]]] = {}
        months: dict[str, list[tuple[int, int]]] = {}
        dated: list[tuple[date, float]] = []
        for task_id, nc in counts.items():
            m = meta.get(task_id)
            if m is None:
                continue
            if m.get("difficulty"):
                groups.setdefault(str(m["difficulty"]), []).append(nc)
            raw_date = str(m.get("contest_date") or "")[:10]
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw_date):
                months.setdefault(raw_date[:7], []).append(nc)
                dated.append((date.fromisoformat(raw_date), nc[1] / nc[0]))
        preset = preset_for(run_model(run))  # the model's figures, whatever the run's --name
        sources: list[str] = []
        by_difficulty = []
        order = {d: i for i, d in enumerate(DIFFICULTY_ORDER)}
        for group in sorted(groups, key=lambda g: (order.get(g, 99), g)):
            metrics = _group_metrics(groups[group], ks, n_boot, seed)
            if bench == "apps" and preset is not None:
                filled = []
                for gm in metrics:
                    pub = preset.published.apps_value(group, gm.k)
                    if pub is not None:
                        src = preset.published.apps_source
                        if src not in sources:
                            sources.append(src)
                        gm = GroupMetric(
                            gm.k, gm.estimate, gm.low, gm.high, pub / 100.0, _apps_protocol(run)
                        )
                    filled.append(gm)
                metrics = filled
            by_difficulty.append(GroupRate(group, len(groups[group]), metrics))
        by_month = [
            GroupRate(mo, len(months[mo]), _group_metrics(months[mo], [1], n_boot, seed))
            for mo in sorted(months)
        ]
        notes = []
        if missing:
            notes.append(f"{len(missing)} judged problems are not in the dataset's metadata")
        contamination = None
        if dated:
            if forced is not None:
                cut, source = forced, "--cutoff"
            elif preset is not None and preset.cutoff:
                cut, source = parse_cutoff(preset.cutoff), preset.cutoff_source
            else:
                cut, source = None, ""
                notes.append("no training cutoff known for this model: pass --cutoff YYYY-MM-DD")
            if cut is not None:
                before = [r for d, r in dated if d <= cut]
                after = [r for d, r in dated if d > cut]
                diff = low = high = None
                if before and after:
                    diff, low, high = contamination_diff(
                        before, after, n_boot=n_boot, level=level, seed=seed
                    )
                else:
                    notes.append(f"every dated problem is on one side of the cutoff {cut}")
                contamination = Contamination(
                    cutoff=cut.isoformat(),
                    source=source,
                    n_before=len(before),
                    n_after=len(after),
                    rate_before=float(np.mean(before)) if before else None,
                    rate_after=float(np.mean(after)) if after else None,
                    diff=diff,
                    low=low,
                    high=high,
                    level=level,
                    method="mean per-problem pass rate, after minus before; percentile "
                    "bootstrap over problems, each side resampled on its own",
                )
        out.append(
            CompetitiveRun(
                run.id,
                model,
                str(run.task),
                bench,
                by_difficulty,
                by_month,
                contamination,
                sources,
                "; ".join(notes) or None,
            )
        )
    return out
