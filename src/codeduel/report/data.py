"""Everything a report shows, read from the results store into plain dataclasses.

Why a separate step: the HTML page, the PNG/SVG figures and any script that wants the same
numbers read one :class:`ReportData`, built once from the store. Nothing here draws or renders.

Which runs count as what is decided by each run's ``kind`` (``run``/``evaluate`` are scored
pass@k runs, ``sweep`` groups temperature points, ``key-retrieval`` and ``perplexity`` carry their
tables in the run summary), never by benchmark name, except that infilling runs are recognised
by their recorded FIM order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from codeduel import __version__
from codeduel.errors import CodeduelError
from codeduel.records.store import RunRecord, Store
from codeduel.scoring.compare import (
    Comparison,
    LeaderRow,
    Metric,
    assign_tiers,
    compare_runs,
    model_name,
    preset_for,
    rank,
    run_counts,
    run_model,
)
from codeduel.scoring.competitive import CompetitiveRun, parse_cutoff
from codeduel.scoring.stats import (
    DEFAULT_LEVEL,
    DEFAULT_N_BOOT,
    interval_method,
    pass_at_k_interval,
)

#: Run kinds whose samples carry verdicts (and so pass@k, matrix cells and drill-down).
SCORED_KINDS = ("run", "evaluate")
#: Longest text kept per field in the drill-down; the rest is cut with a note (file size).
MAX_FIELD_CHARS = 12_000
#: Task-name prefix of the MultiPL-E tasks, one per language (``multipl-e-cpp``).
MULTIPL_E_PREFIX = "multipl-e-"
#: Languages section column order: the Code Llama paper's Table 4 languages in its order, then
#: JavaScript; every other language follows alphabetically by code.
LANGUAGE_ORDER = ("cpp", "java", "php", "ts", "cs", "sh", "js")


@dataclass(frozen=True)
class RunLabel:
    """How one run is named everywhere in the report."""

    run_id: int
    kind: str
    model: str
    task: str | None
    status: str
    short: str  # e.g. "#3 qwen2.5-coder-0.5b (T=0.8, n=5)"


@dataclass(frozen=True)
class CurvePoint:
    k: int
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Curve:
    """pass@k against k for one run with several samples per problem."""

    run: RunLabel
    points: list[CurvePoint]


@dataclass(frozen=True)
class SweepSeries:
    """pass@k against temperature for one model of one sweep."""

    sweep_id: int
    task: str
    model: str
    n: int
    temperatures: list[float]
    pass_at_k: dict[str, list[float | None]]  # "pass@1" -> value per temperature


@dataclass(frozen=True)
class InfillBar:
    """pass@1 of one infilling run, in one FIM order, with its interval."""

    run: RunLabel
    task: str
    order: str
    estimate: float
    low: float
    high: float
    n_problems: int


@dataclass(frozen=True)
class RetrievalGrid:
    """Key-retrieval accuracy per (context length, needle position) of one run."""

    run: RunLabel
    lengths: list[int]
    positions: list[float]
    accuracy: list[list[float | None]]  # [length][position]
    examples: list[list[int]]
    skipped: list[dict[str, Any]]


@dataclass(frozen=True)
class PerplexityCurve:
    """Perplexity per token-position bucket of one run."""

    run: RunLabel
    buckets: list[dict[str, Any]]
    window: int


@dataclass(frozen=True)
class MatrixColumn:
    run: RunLabel
    rates: dict[str, tuple[int, int]]  # task_id -> (n judged, n passed)


@dataclass(frozen=True)
class Matrix:
    """Problems × runs of one task, each cell a pass rate."""

    task: str
    problems: list[str]
    columns: list[MatrixColumn]


@dataclass(frozen=True)
class Experiment:
    """A ``reproduce`` or ``audit determinism`` experiment: its arms against the reference."""

    run_id: int
    kind: str
    model: str
    task: str
    headline: str
    published: float | None
    arms: list[dict[str, Any]]  # name, level, pass@1, low, high, run_id, effect fields


@dataclass(frozen=True)
class LanguageCell:
    """One model on one MultiPL-E language: the chosen run's pass@1 and the published figure.

    ``run`` is None when the model has no run of that language ("no run"); fractions throughout.
    """

    model: str
    code: str
    task: str
    run: RunLabel | None
    estimate: float | None
    low: float | None
    high: float | None
    n_problems: int
    partial: bool
    greedy: bool
    published: float | None
    source: str | None
    protocol: str | None  # "paper protocol" or "protocol differs: ..." (None: nothing published)
    others: tuple[int, ...] = ()  # the model's other runs of this task, not shown


@dataclass(frozen=True)
class LanguageGrid:
    """Models × MultiPL-E languages, each cell one run's greedy pass@1 (Languages section)."""

    codes: list[str]  # language codes in column order
    names: list[str]  # display names, same order
    models: list[str]  # row order: first run of each model first
    cells: list[list[LanguageCell]]  # [model][language]
    sources: list[str]  # where the published figures shown come from


@dataclass(frozen=True)
class BoardRow:
    """One run on its task's leaderboard: ranked among complete runs, or marked incomplete."""

    row: LeaderRow
    rank: int | None  # 1 = best complete run; None: incomplete, listed after every complete one
    incomplete: tuple[str, ...]  # why the run is incomplete; empty when it is complete
    methods: dict[int, str]  # k -> interval method ("Wilson score", "percentile bootstrap")
    sources: dict[int, str]  # k -> where the published figure beside it comes from


@dataclass(frozen=True)
class Board:
    """The leaderboard of one task and dataset version: runs are never ranked across tasks."""

    task: str
    dataset_version: str | None
    dataset_sha256: str | None
    rows: list[BoardRow]


@dataclass(frozen=True)
class NoteGroup:
    """Notes of one kind (e.g. "runs on different tasks are not paired") and the runs they name."""

    kind: str
    title: str
    runs: tuple[int, ...]
    notes: tuple[str, ...]


@dataclass
class ReportData:
    """All sections' data; empty lists mean "nothing of this kind in the chosen runs"."""

    title: str
    store_path: str
    codeduel_version: str
    runs: list[RunRecord]
    labels: dict[int, RunLabel]
    comparison: Comparison | None
    curves: list[Curve] = field(default_factory=list)
    sweeps: list[SweepSeries] = field(default_factory=list)
    infill: list[InfillBar] = field(default_factory=list)
    retrieval: list[RetrievalGrid] = field(default_factory=list)
    perplexity: list[PerplexityCurve] = field(default_factory=list)
    matrices: list[Matrix] = field(default_factory=list)
    experiments: list[Experiment] = field(default_factory=list)
    languages: LanguageGrid | None = None
    competitive: list[CompetitiveRun] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    memorisation: list[dict[str, Any]] = field(default_factory=list)
    cells: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    boards: list[Board] = field(default_factory=list)
    notes: list[NoteGroup] = field(default_factory=list)


def short_model(model: str) -> str:
    """Drop backend prefixes (``llamacpp:embedded:``) so labels fit in a legend."""
    return model.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def label_for(run: RunRecord) -> RunLabel:
    """A short unique label: id, model, and the decoding when it is not greedy n=1."""
    model = model_name(run)
    extra: list[str] = []
    spec = run.spec
    temperature = spec.get("temperature")
    n = spec.get("n")
    if run.kind == "run" and (temperature not in (None, 0, 0.0) or (n or 1) > 1):
        if isinstance(temperature, int | float):
            extra.append(f"T={temperature:g}")
        extra.append(f"n={n}")
    if spec.get("fim_order"):
        extra.append(str(spec["fim_order"]).upper())
    suffix = f" ({', '.join(extra)})" if extra else ""
    return RunLabel(
        run_id=run.id,
        kind=run.kind,
        model=model,
        task=run.task,
        status=run.status,
        short=f"#{run.id} {short_model(model)}{suffix}",
    )


def choose_runs(store: Store, items: Sequence[str]) -> tuple[list[RunRecord], list[str]]:
    """The runs ``items`` name (ids or model names), or every run in the store.

    A sweep named by id brings its temperature points along; runs that cannot be shown (no
    samples at all) are left out with a note.
    """
    from codeduel.scoring.compare import resolve_runs

    all_runs = store.list_runs()
    if not all_runs:
        raise CodeduelError(
            f"the store {store.path} has no runs",
            "run `codeduel run` or `codeduel evaluate` first, or pass --store",
        )
    chosen = resolve_runs(store, items) if items else sorted(all_runs, key=lambda r: r.id)
    by_id = {r.id: r for r in all_runs}
    out: dict[int, RunRecord] = {}
    notes: list[str] = []
    for run in chosen:
        out[run.id] = run
        if run.kind == "sweep":
            for point in (run.summary or {}).get("points", []):
                rid = point.get("run_id")
                if isinstance(rid, int) and rid in by_id:
                    out.setdefault(rid, by_id[rid])
    for run in list(out.values()):
        if run.kind in SCORED_KINDS and run.n_samples == 0:
            notes.append(f"run {run.id} ({model_name(run)}, {run.task}) has no samples: left out")
            del out[run.id]
    return [out[i] for i in sorted(out)], notes


def _curve_ks(n_min: int) -> list[int]:
    """k values for a pass@k curve: 1, 2, 5, 10, 20, 50, ... up to the smallest n."""
    ks = {1, n_min}
    base = 1
    while base <= n_min:
        for m in (1, 2, 5):
            if m * base <= n_min:
                ks.add(m * base)
        base *= 10
    return sorted(ks)


def build_curves(
    counts_by_run: dict[int, dict[str, tuple[int, int]]],
    runs: Sequence[RunRecord],
    labels: dict[int, RunLabel],
    n_boot: int,
    seed: int,
) -> list[Curve]:
    """pass@k(k) with intervals (:func:`~codeduel.scoring.stats.pass_at_k_interval`) for every
    scored run with >= 2 samples per problem."""
    curves = []
    for run in runs:
        if run.kind not in SCORED_KINDS:
            continue
        counts = counts_by_run[run.id]
        if not counts:
            continue
        ns = [n for n, _ in counts.values()]
        cs = [c for _, c in counts.values()]
        if min(ns) < 2:
            continue
        points = []
        for k in _curve_ks(min(ns)):
            iv = pass_at_k_interval(ns, cs, k, n_boot=n_boot, level=DEFAULT_LEVEL, seed=seed)
            points.append(CurvePoint(k, iv.estimate, iv.low, iv.high))
        curves.append(Curve(labels[run.id], points))
    return curves


def build_sweeps(runs: Sequence[RunRecord]) -> list[SweepSeries]:
    """One series per (sweep, model) from the sweep run's recorded points."""
    series = []
    for run in runs:
        if run.kind != "sweep" or not run.summary:
            continue
        points = run.summary.get("points", [])
        ks = run.summary.get("ks") or [1]
        for model in dict.fromkeys(p["model"] for p in points):
            mine = sorted(
                (p for p in points if p["model"] == model), key=lambda p: p["temperature"]
            )
            series.append(
                SweepSeries(
                    sweep_id=run.id,
                    task=str(run.summary.get("task") or run.task),
                    model=model,
                    n=int(run.summary.get("n") or 0),
                    temperatures=[float(p["temperature"]) for p in mine],
                    pass_at_k={
                        f"pass@{k}": [p["pass_at_k"].get(f"pass@{k}") for p in mine] for k in ks
                    },
                )
            )
    return series


#: Run kinds whose summaries hold an experiment of greedy arms (flows/experiment.py).
EXPERIMENT_KINDS = ("reproduce", "audit-determinism")


def build_experiments(runs: Sequence[RunRecord]) -> list[Experiment]:
    """Each finished experiment's arms, joined with their effects against the reference arm."""
    out = []
    for run in runs:
        summary = run.summary or {}
        if run.kind not in EXPERIMENT_KINDS or not summary.get("arms"):
            continue
        effects = {e["arm"]: e for e in summary.get("effects", [])}
        arms = []
        for arm in summary["arms"]:
            e = effects.get(arm["name"], {})
            arms.append(
                {
                    "name": str(arm["name"]),
                    "factor": str(arm.get("factor", "")),
                    "level": str(arm.get("level", "")),
                    "template": str(arm.get("template", "")),
                    "pass1": float(arm["pass@1"]),
                    "low": float(arm["low"]),
                    "high": float(arm["high"]),
                    "run_id": int(arm["run_id"]),
                    "diff": e.get("diff"),
                    "diff_low": e.get("low"),
                    "diff_high": e.get("high"),
                    "p_value": e.get("p_value"),
                    "share": e.get("share_of_gap"),
                }
            )
        published = summary.get("published")
        out.append(
            Experiment(
                run_id=run.id,
                kind=run.kind,
                model=str(summary.get("model", "")),
                task=str(summary.get("task", run.task or "")),
                headline=str(summary.get("headline", "")),
                published=float(published) if isinstance(published, (int, float)) else None,
                arms=arms,
            )
        )
    return out


def build_infill(
    comparison: Comparison | None, labels: dict[int, RunLabel], runs: Sequence[RunRecord]
) -> list[InfillBar]:
    """pass@1 bars for every run that recorded a FIM order (PSM or SPM)."""
    if comparison is None:
        return []
    orders = {r.id: r.spec.get("fim_order") for r in runs}
    bars = []
    for row in comparison.leaderboard:
        order = orders.get(row.run_id)
        metric = next((m for m in row.metrics if m.k == 1), None)
        if not order or metric is None or metric.estimate is None:
            continue
        bars.append(
            InfillBar(
                run=labels[row.run_id],
                task=row.task,
                order=str(order).upper(),
                estimate=metric.estimate,
                low=metric.low if metric.low is not None else metric.estimate,
                high=metric.high if metric.high is not None else metric.estimate,
                n_problems=row.n_problems,
            )
        )
    return bars


def language_order(codes: Sequence[str]) -> list[str]:
    """The paper's six (C++, Java, PHP, TypeScript, C#, Bash), then JavaScript, then the rest
    alphabetically: the same columns in the same place whatever order the runs came in."""
    present = set(codes)
    head = [c for c in LANGUAGE_ORDER if c in present]
    return head + sorted(present - set(head))


def language_name(code: str) -> str:
    """A language's display name (``C++`` for ``cpp``), or the code for an unknown one."""
    from codeduel.languages import LANGUAGES

    language = LANGUAGES.get(code)
    return language.name if language is not None else code


def _is_greedy(run: RunRecord, n_problems: int, n_samples: int) -> bool:
    """One sample per problem at temperature 0 (a samples file records no temperature)."""
    return run.spec.get("temperature") in (0, 0.0, None) and n_samples == n_problems


def build_languages(
    comparison: Comparison | None, runs: Sequence[RunRecord], labels: dict[int, RunLabel]
) -> LanguageGrid | None:
    """The Languages grid from every scored ``multipl-e-*`` run on the leaderboard.

    A cell holds one run, chosen among the model's runs of that language the way the leaderboard
    is read: greedy runs first (the section shows greedy pass@1), then complete (finished) runs
    before partial ones, then the most recent. Models are named as everywhere in the report
    (:func:`~codeduel.scoring.compare.model_name`); the published figure is the model preset's,
    when the model is a preset and the source has that language.
    """
    if comparison is None:
        return None
    by_id = {r.id: r for r in runs}
    candidates: dict[tuple[str, str], list[tuple[tuple[bool, bool, int], LanguageCell]]] = {}
    models: dict[str, str] = {}  # shown name -> the model its published figures belong to
    for row in sorted(comparison.leaderboard, key=lambda r: r.run_id):
        run = by_id.get(row.run_id)
        code = row.task.removeprefix(MULTIPL_E_PREFIX)
        if run is None or not row.task.startswith(MULTIPL_E_PREFIX) or not code:
            continue
        metric = next((m for m in row.metrics if m.k == 1), None)
        if metric is None or metric.estimate is None:
            continue
        model = labels[run.id].model
        models.setdefault(model, run_model(run))  # a --name never hides the preset's figures
        greedy = _is_greedy(run, row.n_problems, row.n_samples)
        cell = LanguageCell(
            model=model,
            code=code,
            task=row.task,
            run=labels[run.id],
            estimate=metric.estimate,
            low=metric.low,
            high=metric.high,
            n_problems=row.n_problems,
            partial=row.partial,
            greedy=greedy,
            published=None,
            source=None,
            protocol=metric.protocol,
        )
        candidates.setdefault((model, code), []).append(((greedy, not row.partial, run.id), cell))
    if not candidates:
        return None
    codes = language_order([code for _, code in candidates])
    sources: dict[str, None] = {}
    grid: list[list[LanguageCell]] = []
    for model, real_model in models.items():
        preset = preset_for(real_model)
        line = []
        for code in codes:
            task = MULTIPL_E_PREFIX + code
            value = preset.published.value(task, 1) if preset is not None else None
            published = None if value is None else float(value) / 100.0
            source = preset.published.source_for(task) if preset and value is not None else None
            if source:
                sources.setdefault(source, None)
            ranked = sorted(candidates.get((model, code), []), key=lambda c: c[0], reverse=True)
            if ranked:
                best = ranked[0][1]
                others = tuple(c.run.run_id for _, c in ranked[1:] if c.run is not None)
                line.append(replace(best, published=published, source=source, others=others))
            else:
                line.append(
                    LanguageCell(
                        model=model,
                        code=code,
                        task=task,
                        run=None,
                        estimate=None,
                        low=None,
                        high=None,
                        n_problems=0,
                        partial=False,
                        greedy=False,
                        published=published,
                        source=source,
                        protocol=None,
                    )
                )
        grid.append(line)
    return LanguageGrid(
        codes=codes,
        names=[language_name(c) for c in codes],
        models=list(models),
        cells=grid,
        sources=list(sources),
    )


#: Problems of a contamination run shown in the report (all are in the run's summary).
PROBE_ROWS = 15


def build_probes(runs: Sequence[RunRecord], labels: dict[int, RunLabel]) -> list[dict[str, Any]]:
    """Contamination runs (``codeduel contamination``): the paired headline, the likelihood
    gap and the problems carrying the most evidence, with the model's own answer (escaped by
    the template like every candidate text)."""
    out: list[dict[str, Any]] = []
    for run in runs:
        summary = run.summary or {}
        if run.kind != "contamination" or "ranked" not in summary:
            continue
        gap = summary.get("likelihood_gap")
        rows = []
        for p in summary["ranked"][:PROBE_ROWS]:
            recall = p.get("recall") or {}
            rows.append(
                {
                    "task_id": str(p.get("task_id")),
                    "score": f"{float(p.get('score') or 0):.2f}",
                    "exact": bool(recall.get("exact")),
                    "similarity": f"{float(recall.get('similarity') or 0):.2f}",
                    "gap": "—" if p.get("reference_gap") is None else f"{p['reference_gap']:+.3f}",
                    "passed": bool(p.get("passed")),
                    "twin": p.get("twin_passed"),
                    "changes": "; ".join(str(c) for c in p.get("twin_changes") or [])
                    or str(p.get("twin_skipped") or ""),
                    "answer": _cut(p.get("continuation")),
                }
            )
        out.append(
            {
                "run": run.id,
                "label": labels[run.id].short if run.id in labels else str(run.id),
                "task": run.task,
                "headline": str(summary.get("headline", "")),
                "gap": None
                if not gap
                else f"{gap['estimate']:+.3f} [{gap['low']:+.3f}, {gap['high']:+.3f}] "
                f"over {gap['n']} problems (Wilcoxon p = {gap['p_value']:.3g})",
                "recall": summary.get("recall") or {},
                "n_problems": summary.get("n_problems"),
                "rows": rows,
                "warnings": list(summary.get("warnings") or []),
            }
        )
    return out


def _pct_ci(rate: dict[str, Any]) -> str:
    if not rate or not rate.get("n"):
        return "—"
    low, high = rate.get("ci", [0.0, 1.0])
    return f"{100 * rate['rate']:.0f} % [{100 * low:.0f}, {100 * high:.0f}]"


def build_memorisation(
    runs: Sequence[RunRecord], labels: dict[int, RunLabel]
) -> list[dict[str, Any]]:
    """Memorisation runs (``codeduel memorisation``): per context type, how often outputs held
    handles, emails, URLs, licence headers or secrets (Wilson 95 % intervals), and examples.
    Only masked text is ever stored, and the template escapes it again."""
    out: list[dict[str, Any]] = []
    for run in runs:
        summary = run.summary or {}
        if run.kind != "memorisation" or "rates" not in summary:
            continue
        by_category = summary.get("by_category") or {}
        categories = sorted({c for cats in by_category.values() for c in cats})
        rows = [
            {
                "context": context,
                "n": rate.get("n", 0),
                "any": _pct_ci(rate),
                "cells": [_pct_ci((by_category.get(context) or {}).get(c, {})) for c in categories],
            }
            for context, rate in summary["rates"].items()
        ]
        examples = [
            {"context": str(e.get("context")), "template": str(e.get("template")),
             "masked": _cut(str(e.get("masked", "")))}
            for e in summary.get("examples") or []
        ]  # fmt: skip
        out.append(
            {
                "run": run.id,
                "label": labels[run.id].short if run.id in labels else str(run.id),
                "templates": summary.get("template_version"),
                "categories": categories,
                "rows": rows,
                "examples": examples,
            }
        )
    return out


def build_retrieval(runs: Sequence[RunRecord], labels: dict[int, RunLabel]) -> list[RetrievalGrid]:
    """The Table 17 grid of each key-retrieval run, from its summary."""
    grids = []
    for run in runs:
        summary = run.summary or {}
        if run.kind != "key-retrieval" or "cells" not in summary:
            continue
        lengths = [int(x) for x in summary.get("lengths", [])]
        positions = [float(x) for x in summary.get("positions", [])]
        cells = list(summary["cells"].values())

        def find(n: int, p: float, cells: list[dict[str, Any]] = cells) -> dict[str, Any]:
            return next(
                (c for c in cells if c["length"] == n and abs(c["position"] - p) < 1e-9), {}
            )

        grids.append(
            RetrievalGrid(
                run=labels[run.id],
                lengths=lengths,
                positions=positions,
                accuracy=[[find(n, p).get("accuracy") for p in positions] for n in lengths],
                examples=[[int(find(n, p).get("examples", 0)) for p in positions] for n in lengths],
                skipped=list(summary.get("skipped", [])),
            )
        )
    return grids


def build_perplexity(
    runs: Sequence[RunRecord], labels: dict[int, RunLabel]
) -> list[PerplexityCurve]:
    """Perplexity per position bucket of each perplexity run, from its summary."""
    curves = []
    for run in runs:
        summary = run.summary or {}
        if run.kind != "perplexity" or not summary.get("buckets"):
            continue
        curves.append(
            PerplexityCurve(labels[run.id], list(summary["buckets"]), int(summary.get("window", 0)))
        )
    return curves


#: Where each published figure comes from, as the report cites it: a source named by its title
#: in the model presets gets its public identifier added.
CITATIONS = (
    ("Code Llama paper", "arXiv:2308.12950"),
    ("Qwen2.5-Coder technical report", "arXiv:2409.12186"),
    ("EvalPlus leaderboard", "https://evalplus.github.io/leaderboard.html"),
)


def cite(source: str | None) -> str:
    """A preset's source with its arXiv id or address, so a reader can look the figure up."""
    if not source:
        return "source not recorded in the model preset"
    for title, ident in CITATIONS:
        if title.lower() in source.lower() and ident.lower() not in source.lower():
            return f"{source} ({ident})"
    return source


def published_source(run: RunRecord, task: str) -> str:
    """The cited source of the published figure shown for ``run`` on ``task``."""
    model = run.spec.get("model")
    preset = preset_for(str(model)) if model else None
    return cite(preset.published.source_for(task) if preset is not None else None)


def incomplete_reasons(run: RunRecord, row: LeaderRow, most_problems: int) -> tuple[str, ...]:
    """Why a run cannot be ranked with complete ones: not finished, unjudged samples, or fewer
    problems than the fullest run on the same task and dataset."""
    reasons = []
    if run.status == "running":
        reasons.append("interrupted" if run.interrupted else "still running")
    elif run.status != "finished":
        reasons.append(run.status)
    if run.n_verdicts < run.n_samples:
        reasons.append(f"{run.n_samples - run.n_verdicts} samples not judged")
    if row.n_problems < most_problems:
        reasons.append(f"{row.n_problems} of {most_problems} problems")
    return tuple(reasons)


def rescore_intervals(
    comparison: Comparison,
    counts_by_run: dict[int, dict[str, tuple[int, int]]],
    n_boot: int,
    seed: int,
) -> dict[int, dict[int, str]]:
    """Every leaderboard interval by :func:`~codeduel.scoring.stats.pass_at_k_interval` (Wilson
    where a bootstrap would collapse); returns the method used per run and k."""
    level = float(comparison.settings.get("level", DEFAULT_LEVEL))
    methods: dict[int, dict[int, str]] = {}
    rows = []
    for row in comparison.leaderboard:
        counts = counts_by_run.get(row.run_id) or {}
        ns = [n for n, _ in counts.values()]
        cs = [c for _, c in counts.values()]
        metrics: list[Metric] = []
        for m in row.metrics:
            if m.estimate is None or not ns:
                metrics.append(m)
                continue
            iv = pass_at_k_interval(ns, cs, m.k, n_boot=n_boot, level=level, seed=seed)
            methods.setdefault(row.run_id, {})[m.k] = interval_method(ns, cs, m.k)
            metrics.append(replace(m, estimate=iv.estimate, low=iv.low, high=iv.high))
        rows.append(replace(row, metrics=metrics))
    comparison.leaderboard = rows
    return methods


def build_boards(
    comparison: Comparison | None, runs: Sequence[RunRecord], methods: dict[int, dict[int, str]]
) -> list[Board]:
    """One leaderboard per (task, dataset sha256): complete runs ranked by pass@(smallest k)
    with significance tiers among them; incomplete runs after them, unranked and untiered."""
    if comparison is None:
        return []
    by_id = {r.id: r for r in runs}
    groups: dict[tuple[str, str | None], list[LeaderRow]] = {}
    for row in comparison.leaderboard:
        groups.setdefault((row.task, row.dataset_sha256), []).append(row)
    alpha = float(comparison.settings.get("alpha", 0.05))
    boards = []
    for (task, sha), rows in groups.items():
        most = max(r.n_problems for r in rows)
        reasons = {r.run_id: incomplete_reasons(by_id[r.run_id], r, most) for r in rows}
        complete = [replace(r, tier=None) for r in rows if not reasons[r.run_id]]
        incomplete = [replace(r, tier=None) for r in rank(rows) if reasons[r.run_id]]
        ranked = assign_tiers(rank(complete), comparison.pairs, alpha)
        out = [
            BoardRow(
                row=r,
                rank=i + 1 if i < len(ranked) else None,
                incomplete=reasons[r.run_id],
                methods=methods.get(r.run_id, {}),
                sources={
                    m.k: published_source(by_id[r.run_id], task)
                    for m in r.metrics
                    if m.published is not None
                },
            )
            for i, r in enumerate(ranked + incomplete)
        ]
        boards.append(Board(task, rows[0].dataset_version, sha, out))
    return boards


#: Kinds of note, matched in order: (kind, pattern, title); the pattern's groups are run ids.
NOTE_KINDS = (
    ("different tasks", r"^runs (\d+) \(.*\) and (\d+) \(.*\) are on different tasks",
     "Runs on different tasks are not paired (each task has its own leaderboard)"),
    ("dataset versions", r"^runs (\d+) and (\d+) use different .* dataset versions",
     "Runs on different dataset versions are not paired"),
    ("nothing in common", r"^runs (\d+) and (\d+) have no problem in common",
     "Runs with no problem in common are not paired"),
    ("paired on a subset", r"^runs (\d+) and (\d+) paired on the \d+ problems both scored",
     "Pairs compared only on the problems both runs scored"),
    ("running", r"^run (\d+) \(.*\) is still running",
     "Runs still running: incomplete, listed after the complete runs"),
    ("failed", r"^run (\d+) \(.*\) failed",
     "Failed runs: incomplete, listed after the complete runs"),
    ("unjudged", r"^run (\d+) \(.*\): \d+ samples have no verdict",
     "Runs with samples not judged"),
    ("no samples", r"^run (\d+) \(.*\) has no (?:judged )?samples",
     "Runs without samples: left out"),
)  # fmt: skip


def _note_kind(note: str) -> tuple[str, str, list[int]]:
    """A note's kind, its group's title and the run ids it names; a note of no known kind is
    grouped with those that differ from it only in numbers."""
    for kind, pattern, title in NOTE_KINDS:
        match = re.match(pattern, note)
        if match:
            return kind, title, [int(g) for g in match.groups()]
    shape = re.sub(r"\d+", "#", note)
    return shape, shape, [int(i) for i in re.findall(r"\bruns? #?(\d+)", note)]


def group_notes(notes: Sequence[str]) -> list[NoteGroup]:
    """Identical and same-kind notes in one group each, with the runs they concern, so thirteen
    runs on several tasks give a handful of lines, not sixty (kinds in first-seen order)."""
    found: dict[str, tuple[str, dict[int, None], dict[str, None]]] = {}
    for note in notes:
        kind, title, ids = _note_kind(note)
        _, runs, texts = found.setdefault(kind, (title, {}, {}))
        runs.update(dict.fromkeys(ids))
        texts.setdefault(note, None)
    return [
        # a note of its own kind that stands alone reads better as itself than as its shape
        NoteGroup(kind, next(iter(texts)) if kind == title and len(texts) == 1 else title,
                  tuple(sorted(runs)), tuple(texts))
        for kind, (title, runs, texts) in found.items()
    ]  # fmt: skip


def build_matrices(
    store: Store,
    runs: Sequence[RunRecord],
    labels: dict[int, RunLabel],
    counts_by_run: dict[int, dict[str, tuple[int, int]]],
) -> list[Matrix]:
    """One problems × runs matrix per task, problems in the dataset's order of appearance."""
    by_task: dict[str, list[MatrixColumn]] = {}
    order: dict[str, dict[str, None]] = {}
    for run in runs:
        if run.kind not in SCORED_KINDS or not run.task:
            continue
        counts = dict(counts_by_run[run.id])
        # problems generated but not yet judged still get a (grey) cell
        for key in sorted(store.sample_keys(run.id)):
            counts.setdefault(key[0], (0, 0))
        if not counts:
            continue
        by_task.setdefault(run.task, []).append(MatrixColumn(labels[run.id], counts))
        seen = order.setdefault(run.task, {})
        for task_id in counts:
            seen.setdefault(task_id, None)
    matrices = []
    for task, columns in by_task.items():
        problems = sorted(order[task], key=_problem_sort_key)
        matrices.append(Matrix(task, problems, columns))
    return matrices


def _problem_sort_key(task_id: str) -> tuple[str, int, str]:
    """HumanEval/2 before HumanEval/10: numeric tails sort as numbers."""
    head, _, tail = task_id.rpartition("/")
    digits = "".join(ch for ch in tail if ch.isdigit())
    return (head, int(digits) if digits and digits == tail else -1, tail)


def _cut(text: str | None) -> str:
    if not text:
        return ""
    if len(text) <= MAX_FIELD_CHARS:
        return text
    return (
        text[:MAX_FIELD_CHARS] + f"\n… [{len(text) - MAX_FIELD_CHARS} more characters in the store]"
    )


def readable_prompt(text: str | None) -> str:
    """A chat prompt (stored as JSON lines of messages) as role-headed text; others unchanged."""
    if not text or not text.startswith("{"):
        return text or ""
    parts = []
    for line in text.splitlines():
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            return text
        if not isinstance(message, dict) or "role" not in message:
            return text
        parts.append(f"── {message['role']} ──\n{message.get('content', '')}")
    return "\n".join(parts)


def build_cells(
    store: Store, runs: Sequence[RunRecord], per_cell: int
) -> dict[str, list[dict[str, Any]]]:
    """Drill-down data: up to ``per_cell`` samples per (run, problem), failures first.

    Failures lead because they are what a reader clicks to understand; a cell that has passing
    samples still shows at least one of them.
    """
    cells: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        if run.kind not in SCORED_KINDS:
            continue
        verdicts = {(v.task_id, v.sample_idx): v for v in store.verdicts(run.id)}
        grouped: dict[str, list[dict[str, Any]]] = {}
        for rec in store.samples(run.id):
            v = verdicts.get((rec.task_id, rec.sample_idx))
            extra = rec.extra or {}
            grouped.setdefault(rec.task_id, []).append(
                {
                    "idx": rec.sample_idx,
                    "status": v.status if v else "not judged",
                    "result": v.result if v else "",
                    "mode": v.mode if v else "",
                    "duration_s": round(v.duration_s, 4) if v and v.duration_s else None,
                    "prompt": _cut(readable_prompt(rec.prompt)),
                    "raw_output": _cut(rec.raw_output),
                    "completion": _cut(rec.completion),
                    "stdout": _cut(v.stdout_tail) if v else "",
                    "stderr": _cut(v.stderr_tail) if v else "",
                    "extraction": extra.get("extraction"),
                    "finish_reason": extra.get("finish_reason"),
                }
            )
        for task_id, samples in grouped.items():
            failing = [s for s in samples if s["status"] != "passed"]
            passing = [s for s in samples if s["status"] == "passed"]
            keep = failing[: max(per_cell - 1, 1)] if passing else failing[:per_cell]
            keep += passing[: per_cell - len(keep)]
            keep.sort(key=lambda s: s["idx"])
            cells[f"{run.id}|{task_id}"] = keep
    return cells


def collect(
    store: Store,
    items: Sequence[str] = (),
    *,
    title: str = "codeduel report",
    samples_per_cell: int = 5,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    cutoff: str | None = None,
) -> ReportData:
    """Read the chosen runs (default: all) and compute every section's numbers.

    ``cutoff`` (YYYY-MM-DD): training cutoff for the LiveCodeBench contamination view."""
    if cutoff is not None:
        parse_cutoff(cutoff)
    if samples_per_cell < 1:
        raise CodeduelError(f"--samples-per-cell {samples_per_cell} is too small", "give 1 or more")
    runs, notes = choose_runs(store, items)
    labels = {r.id: label_for(r) for r in runs}
    scored = [r for r in runs if r.kind in SCORED_KINDS]
    comparison = None
    warnings = list(notes)
    if scored:
        comparison = compare_runs(
            store, [str(r.id) for r in scored], n_boot=n_boot, seed=seed, cutoff=cutoff
        )
        warnings += [w for w in comparison.warnings if w not in warnings]
    data = ReportData(
        title=title,
        store_path=str(store.path),
        codeduel_version=__version__,
        runs=runs,
        labels=labels,
        comparison=comparison,
        warnings=warnings,
    )
    # one read of each run's verdicts serves the intervals, the curves and the matrix
    counts = {r.id: run_counts(store, r.id) for r in scored}
    methods = rescore_intervals(comparison, counts, n_boot, seed) if comparison else {}
    data.boards = build_boards(comparison, scored, methods)
    data.notes = group_notes(warnings)
    data.curves = build_curves(counts, scored, labels, n_boot, seed)
    data.sweeps = build_sweeps(runs)
    data.infill = build_infill(comparison, labels, runs)
    data.retrieval = build_retrieval(runs, labels)
    data.perplexity = build_perplexity(runs, labels)
    data.matrices = build_matrices(store, scored, labels, counts)
    data.experiments = build_experiments(runs)
    data.languages = build_languages(comparison, scored, labels)
    data.competitive = list(comparison.competitive) if comparison is not None else []
    data.probes = build_probes(runs, labels)
    data.memorisation = build_memorisation(runs, labels)
    data.cells = build_cells(store, scored, samples_per_cell)
    return data
