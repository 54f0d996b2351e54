"""Compare recorded runs: a leaderboard with intervals and paired tests between models.

Why: "is model A really better than model B on these 164 problems?" needs more than two numbers.
Each run gets pass@k with an interval (Wilson or bootstrap, :mod:`codeduel.scoring.stats`), the
paper's figure beside it when the run reproduces a preset under the paper's decoding, and every two
runs on the same task *and* the same dataset version are compared on the problems both scored: the
difference with a paired-bootstrap interval, an exact paired test for pass@1, a verdict in words,
and which problems one solves and the other does not.

"Solves" (for the per-problem diff) is ``majority`` by default: more than half of the problem's
samples pass, which for one greedy sample simply means it passed; ``any`` counts a problem as
solved when at least one sample passes (what pass@n measures).

The leaderboard is ranked per task by pass@(smallest k); pairs keep the order runs were named
in (A is the earlier argument), so a user chooses which side the difference is taken from.
Inputs are run ids or a model name; a model name picks, for each task, the newest finished run
whose model (for ``codeduel run``) or samples file stem (for ``codeduel evaluate``) is that name.
What cannot be compared (an empty run, runs on other tasks or dataset versions) is left out with
a one-line note, and a run still in progress is included as "partial".
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from codeduel.errors import CodeduelError
from codeduel.models.presets import Preset
from codeduel.records.frames import TidyFrame
from codeduel.records.store import RunRecord, Store
from codeduel.scoring.competitive import CompetitiveRun, competitive_views, parse_cutoff
from codeduel.scoring.passk import parse_ks, tally
from codeduel.scoring.stats import (
    DEFAULT_ALPHA,
    DEFAULT_LEVEL,
    DEFAULT_N_BOOT,
    SMALL_N,
    Interval,
    PairedTest,
    Verdict,
    interval_verdict,
    paired_bootstrap_diff,
    paired_test,
    pass_at_k_interval,
)

SolvedRule = Literal["majority", "any"]
DEFAULT_KS: tuple[int, ...] = (1, 10, 100)


@dataclass(frozen=True)
class Metric:
    """pass@k of one run: estimate and interval (fractions), and the paper's figure if any."""

    k: int
    estimate: float | None
    low: float | None
    high: float | None
    published: float | None = None
    protocol: str | None = None  # "paper protocol" or "protocol differs (...)"
    note: str | None = None


@dataclass(frozen=True)
class LeaderRow:
    """One run on the leaderboard."""

    run_id: int
    model: str
    task: str
    dataset_version: str | None
    dataset_sha256: str | None
    status: str
    partial: bool
    n_problems: int
    n_samples: int
    metrics: list[Metric]
    # Significance tier within the task (1 = top): runs in one tier are not distinguishable
    # by the pass@1 paired test at alpha after Holm correction; None without a pass@1.
    tier: int | None = None


@dataclass(frozen=True)
class PairMetric:
    """pass@k(A) - pass@k(B) on the paired problems, with its paired-bootstrap interval."""

    k: int
    diff: float
    low: float
    high: float
    verdict: Verdict


@dataclass(frozen=True)
class PairRow:
    """Run A against run B on the problems both scored."""

    task: str
    run_a: int
    model_a: str
    run_b: int
    model_b: str
    n_paired: int
    n_only_a: int
    n_only_b: int
    metrics: list[PairMetric]
    test: str | None
    p_value: float | None
    verdict: Verdict
    solved_rule: SolvedRule
    a_solves_b_not: list[str]
    b_solves_a_not: list[str]
    p_holm: float | None = None  # p_value after Holm correction over the task's pairs


@dataclass
class Comparison(TidyFrame):
    """Everything ``codeduel compare`` shows, in every output format."""

    ks: list[int]
    leaderboard: list[LeaderRow]
    pairs: list[PairRow]
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    #: APPS / LiveCodeBench runs: pass@k by difficulty and month, and the contamination check.
    competitive: list[CompetitiveRun] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "ks": self.ks,
            "leaderboard": [asdict(r) for r in self.leaderboard],
            "pairs": [asdict(p) for p in self.pairs],
            "competitive": [asdict(c) for c in self.competitive],
            "warnings": self.warnings,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    def to_csv(self) -> str:
        """One tidy table: a row per (run, k) and per (pair, k); ``table`` says which."""
        buf = io.StringIO()
        cols = [
            "table",
            "task",
            "run_a",
            "model_a",
            "run_b",
            "model_b",
            "metric",
            "value",
            "low",
            "high",
            "published",
            "protocol",
            "n_problems",
            "n_samples",
            "p_value",
            "p_holm",
            "tier",
            "test",
            "verdict",
            "partial",
        ]
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        for r in self.leaderboard:
            for m in r.metrics:
                writer.writerow(
                    {
                        "table": "leaderboard",
                        "task": r.task,
                        "run_a": r.run_id,
                        "model_a": r.model,
                        "metric": f"pass@{m.k}",
                        "value": _num(m.estimate),
                        "low": _num(m.low),
                        "high": _num(m.high),
                        "published": _num(m.published),
                        "protocol": m.protocol or "",
                        "n_problems": r.n_problems,
                        "n_samples": r.n_samples,
                        "tier": "" if r.tier is None else r.tier,
                        "partial": r.partial,
                    }
                )
        for p in self.pairs:
            for pm in p.metrics:
                writer.writerow(
                    {
                        "table": "pair",
                        "task": p.task,
                        "run_a": p.run_a,
                        "model_a": p.model_a,
                        "run_b": p.run_b,
                        "model_b": p.model_b,
                        "metric": f"diff pass@{pm.k}",
                        "value": _num(pm.diff),
                        "low": _num(pm.low),
                        "high": _num(pm.high),
                        "n_problems": p.n_paired,
                        "p_value": _num(p.p_value) if pm.k == 1 else "",
                        "p_holm": _num(p.p_holm) if pm.k == 1 else "",
                        "test": (p.test or "") if pm.k == 1 else "paired bootstrap interval",
                        "verdict": p.verdict if pm.k == 1 else pm.verdict,
                    }
                )
        return buf.getvalue()

    def to_markdown(self) -> str:
        level = round(100 * float(self.settings.get("level", DEFAULT_LEVEL)))
        lines = ["## Leaderboard", ""]
        head = ["tier", "model", "run", "task", "problems", "samples"]
        for k in self.ks:
            head += [f"pass@{k} % [{level}% CI]", f"paper pass@{k} %"]
        lines += [_md_row(head), _md_row(["---"] * len(head))]
        for r in self.leaderboard:
            cells = ["—" if r.tier is None else str(r.tier)]
            cells += [r.model + (" (partial)" if r.partial else ""), str(r.run_id), r.task]
            cells += [str(r.n_problems), str(r.n_samples)]
            for m in r.metrics:
                cells += [format_ci(m.estimate, m.low, m.high), format_published(m)]
            lines.append(_md_row(cells))
        if self.pairs:
            lines += ["", "## Paired comparisons", ""]
            head = ["task", "A", "B", "paired problems"]
            head += [f"Δ pass@{k} % [{level}% CI]" for k in self.ks]
            head += ["p (pass@1)", "p Holm", "test", "verdict"]
            lines += [_md_row(head), _md_row(["---"] * len(head))]
            for p in self.pairs:
                by_k = {pm.k: pm for pm in p.metrics}
                cells = [p.task, f"{p.model_a} (run {p.run_a})", f"{p.model_b} (run {p.run_b})"]
                cells.append(str(p.n_paired))
                for k in self.ks:
                    pm = by_k.get(k)
                    cells.append(format_ci(pm.diff, pm.low, pm.high) if pm else "—")
                cells += [format_p(p.p_value), format_p(p.p_holm), p.test or "—", p.verdict]
                lines.append(_md_row(cells))
            lines += ["", "### Per-problem differences", ""]
            for p in self.pairs:
                lines.append(
                    f"- {p.task}: {p.model_a} (run {p.run_a}) solves, {p.model_b} "
                    f"(run {p.run_b}) does not ({len(p.a_solves_b_not)}): "
                    + (", ".join(p.a_solves_b_not) or "none")
                )
                lines.append(
                    f"- {p.task}: {p.model_b} (run {p.run_b}) solves, {p.model_a} "
                    f"(run {p.run_a}) does not ({len(p.b_solves_a_not)}): "
                    + (", ".join(p.b_solves_a_not) or "none")
                )
            rule = self.settings.get("solved", "majority")
            lines.append("")
            lines.append(f"Solved means: {_RULE_TEXT[rule]}.")
        lines += competitive_markdown(self.competitive)
        if self.warnings:
            lines += ["", "## Notes", ""]
            lines += [f"- {w}" for w in self.warnings]
        return "\n".join(lines) + "\n"


def competitive_markdown(views: Sequence[CompetitiveRun]) -> list[str]:
    """Markdown lines for the APPS / LiveCodeBench views (none when there is no such run)."""
    lines: list[str] = []
    for v in views:
        lines += ["", f"## {v.task}: {v.model} (run {v.run_id})", ""]
        if v.note:
            lines.append(f"Note: {v.note}")
            lines.append("")
        for title, groups in (("difficulty", v.by_difficulty), ("contest month", v.by_month)):
            if not groups:
                continue
            head = [title, "problems", "pass@k % [95% CI] (paper)"]
            lines += [_md_row(head), _md_row(["---"] * 3)]
            for g in groups:
                cells = []
                for m in g.metrics:
                    text = f"@{m.k} {format_ci(m.estimate, m.low, m.high)}"
                    if m.published is not None:
                        text += f" (paper {100 * m.published:.1f})"
                    cells.append(text)
                lines.append(_md_row([g.group, str(g.n_problems), "; ".join(cells)]))
            lines.append("")
        c = v.contamination
        if c is not None:
            diff = "—" if c.diff is None else format_ci(c.diff, c.low, c.high)
            lines.append(
                f"Contamination: cutoff {c.cutoff} ({c.source}); pass@1 before "
                f"{_pct_or_dash(c.rate_before)} on {c.n_before} problems, after "
                f"{_pct_or_dash(c.rate_after)} on {c.n_after}; after − before {diff} points "
                f"({c.method})."
            )
        if v.sources:
            lines.append(f"Published: {'; '.join(v.sources)}.")
    return lines


def _pct_or_dash(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


_RULE_TEXT: dict[str, str] = {
    "majority": "more than half of the problem's samples pass (one sample: it passes)",
    "any": "at least one of the problem's samples passes",
}


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def format_ci(estimate: float | None, low: float | None, high: float | None) -> str:
    """``48.8 [41.2, 56.3]`` in percent, or ``—`` when undefined."""
    if estimate is None or low is None or high is None:
        return "—"
    e, lo, hi = (round(100 * v, 1) + 0.0 for v in (estimate, low, high))  # no "-0.0"
    return f"{e:.1f} [{lo:.1f}, {hi:.1f}]"


def format_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def format_published(m: Metric) -> str:
    if m.published is None:
        return "—"
    text = f"{100 * m.published:.1f}"
    return text if m.protocol == "paper protocol" else f"{text} ({m.protocol})"


# -- loading runs ---------------------------------------------------------------------------


def run_model(run: RunRecord) -> str:
    """The model a run scored (whatever it is called): its spec's model, else the samples
    file's stem, else the kind. Published figures are looked up by this, never by a name."""
    model = run.spec.get("model")
    if model:
        return str(model)
    samples = run.spec.get("samples")
    if samples:
        return Path(str(samples)).stem
    return f"{run.kind} run {run.id}"


def run_name(run: RunRecord) -> str:
    """The name a run is shown and looked up by: the ``--name`` it was given (``spec["name"]``;
    by default its model), else :func:`run_model` for runs recorded before names existed."""
    name = run.spec.get("name")
    if isinstance(name, str) and name.strip():
        return name
    return run_model(run)


#: Every label (compare, report, runs) names a run by :func:`run_name`.
model_name = run_name


def resolve_runs(store: Store, items: Sequence[str]) -> list[RunRecord]:
    """Run ids, run names or model names (the newest finished run per task of each).

    A name given with ``--name`` is looked up first, so ``cl-hot`` finds the runs called that
    and not every run of the model; a text no run is named is matched against the runs'
    models (any backend spelling of a preset counts). An unknown one is an error."""
    if not items:
        raise CodeduelError(
            "nothing to compare", "pass run ids, run names or model names (`codeduel runs`)"
        )
    chosen: dict[int, RunRecord] = {}
    all_runs: list[RunRecord] | None = None
    for item in items:
        text = item.strip()
        if text.isdigit():
            run = store.get_run(int(text))
            chosen.setdefault(run.id, run)
            continue
        if all_runs is None:
            all_runs = store.list_runs()  # newest first
        mine = [r for r in all_runs if run_name(r) == text]
        if not mine:
            wanted = _preset_name(text)
            mine = [
                r
                for r in all_runs
                if run_model(r) == text
                or (wanted is not None and _preset_name(run_model(r)) == wanted)
            ]
        if not mine:
            raise CodeduelError(
                f"no run id or model {text!r} in {store.path}, and no run is named so",
                "list the runs with `codeduel runs`",
            )
        finished = [r for r in mine if r.status == "finished"]
        if not finished:
            raise CodeduelError(
                f"{text!r} has no finished run (run {mine[0].id} is {mine[0].status})",
                f"pass the run id {mine[0].id} to compare it as partial",
            )
        seen_tasks: set[str | None] = set()
        for run in finished:
            if run.task not in seen_tasks:
                seen_tasks.add(run.task)
                chosen.setdefault(run.id, run)
    return list(chosen.values())


def preset_for(spec: str) -> Preset | None:
    """The preset a model spec means: by name (``codellama-7b``, ``embedded:X``) or by its
    weights on any backend (``hf:codellama/CodeLlama-7b-hf``, ``vllm:...``)."""
    from codeduel.models import list_presets, resolve_spec

    try:
        prefix, target, preset = resolve_spec(spec)
    except CodeduelError:
        return None
    if preset is None and prefix in ("hf", "vllm", "openai"):
        preset = next((p for p in list_presets() if p.weights_id == target), None)
    return preset


def _preset_name(spec: str) -> str | None:
    preset = preset_for(spec)
    return preset.name if preset is not None else None


def run_counts(store: Store, run_id: int) -> dict[str, tuple[int, int]]:
    """``{task_id: (n judged, n passed)}`` in the run's problem order."""
    return tally((v.task_id, v.passed) for v in store.verdicts(run_id))


# -- published numbers ----------------------------------------------------------------------


def _preset_of(run: RunRecord) -> Preset | None:
    model = run.spec.get("model")
    return preset_for(str(model)) if model else None


def published_metric(run: RunRecord, k: int, n_min: int) -> tuple[float | None, str | None]:
    """The paper's pass@k (fraction) for this run's model and task, and whether it is comparable.

    The paper's protocol: pass@1 greedy with one sample; pass@10/100 sampled at T = 0.8,
    top-p 0.95 (n = 200); the whole benchmark (MBPP: its 500-problem test split).
    """
    preset = _preset_of(run) if run.task else None
    if preset is None or not run.task:
        return None, None
    value = preset.published.value(run.task, k)
    if value is None:
        return None, None
    spec = run.spec
    why: list[str] = []
    temperature = spec.get("temperature")
    top_p = spec.get("top_p")
    if k == 1:
        if temperature not in (0, 0.0) or n_min != 1:
            why.append(f"paper: greedy n=1; run: T={temperature} n={spec.get('n')}")
    elif temperature != 0.8 or top_p != 0.95:
        why.append(f"paper: T=0.8 top-p 0.95; run: T={temperature} top-p {top_p}")
    if spec.get("limit") is not None:
        why.append(f"run scored only the first {spec['limit']} problems")
    if run.task == "mbpp" and spec.get("split") not in ("test", None):
        why.append(f"paper: MBPP test split; run: {spec.get('split')}")
    protocol = "paper protocol" if not why else "protocol differs: " + "; ".join(why)
    return float(value) / 100.0, protocol


# -- the comparison ------------------------------------------------------------------------


def _solved(n: int, c: int, rule: SolvedRule) -> bool:
    return c > 0 if rule == "any" else 2 * c > n


def compare_runs(
    store: Store,
    items: Sequence[str],
    *,
    ks: Sequence[int] | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    level: float = DEFAULT_LEVEL,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
    solved: SolvedRule = "majority",
    cutoff: str | None = None,
) -> Comparison:
    """Build the leaderboard and every comparable pair for the runs ``items`` name.

    ``cutoff`` (YYYY-MM-DD): the training cutoff for the LiveCodeBench contamination view,
    instead of each model preset's own."""
    if cutoff is not None:
        parse_cutoff(cutoff)  # a bad date is an error even when no run needs it
    if solved not in _RULE_TEXT:
        raise CodeduelError(f"unknown --solved rule {solved!r}", "use majority or any")
    if n_boot < 100:
        raise CodeduelError(f"--bootstrap {n_boot} is too few", "use at least 100 resamples")
    if not 0.0 < alpha < 1.0:
        raise CodeduelError(f"invalid --alpha {alpha}", "give a level between 0 and 1, e.g. 0.05")
    runs = resolve_runs(store, items)
    warnings: list[str] = []
    loaded: list[tuple[RunRecord, dict[str, tuple[int, int]]]] = []
    for run in runs:
        counts = run_counts(store, run.id)
        label = f"run {run.id} ({run_name(run)}, {run.task})"
        if not counts:
            warnings.append(f"{label} has no judged samples (empty run): left out")
            continue
        if run.status == "running":
            warnings.append(
                f"{label} is still running: partial ({run.n_verdicts} of "
                f"{run.n_samples} samples judged so far)"
            )
        elif run.status == "failed":
            warnings.append(f"{label} failed ({run.error or 'no reason recorded'}): partial")
        elif run.n_verdicts < run.n_samples:
            warnings.append(f"{label}: {run.n_samples - run.n_verdicts} samples have no verdict")
        loaded.append((run, counts))
    if not loaded:
        raise CodeduelError(
            "no run with judged samples to compare", "pick finished runs from `codeduel runs`"
        )

    min_n = {run.id: min(n for n, _ in counts.values()) for run, counts in loaded}
    if ks is None:
        top = max(min_n.values())
        ks = [k for k in DEFAULT_KS if k == 1 or k <= top]
    ks = list(parse_ks(ks))

    board: list[LeaderRow] = []
    for run, counts in loaded:
        ns = [n for n, _ in counts.values()]
        cs = [c for _, c in counts.values()]
        metrics: list[Metric] = []
        for k in ks:
            if min_n[run.id] < k:
                metrics.append(
                    Metric(k, None, None, None, note=f"needs >= {k} samples per problem")
                )
                continue
            iv = pass_at_k_interval(ns, cs, k, n_boot=n_boot, level=level, seed=seed)
            pub, protocol = published_metric(run, k, min_n[run.id])
            metrics.append(Metric(k, iv.estimate, iv.low, iv.high, pub, protocol))
        board.append(
            LeaderRow(
                run_id=run.id,
                model=run_name(run),
                task=run.task or "?",
                dataset_version=run.dataset.get("version"),
                dataset_sha256=run.dataset.get("sha256"),
                status=run.status,
                partial=run.status != "finished",
                n_problems=len(counts),
                n_samples=sum(ns),
                metrics=metrics,
            )
        )

    pairs: list[PairRow] = []
    for (ra, ca), (rb, cb) in combinations(loaded, 2):
        if ra.task != rb.task:
            warnings.append(
                f"runs {ra.id} ({ra.task}) and {rb.id} ({rb.task}) are on different tasks: "
                "not paired"
            )
            continue
        sha_a, sha_b = ra.dataset.get("sha256"), rb.dataset.get("sha256")
        if sha_a != sha_b:
            warnings.append(
                f"runs {ra.id} and {rb.id} use different {ra.task} dataset versions "
                f"({ra.dataset.get('version')} {str(sha_a)[:8]} vs "
                f"{rb.dataset.get('version')} {str(sha_b)[:8]}): not paired"
            )
            continue
        pair = _pair(ra, ca, rb, cb, ks, n_boot, level, alpha, seed, solved)
        if pair is None:
            warnings.append(f"runs {ra.id} and {rb.id} have no problem in common: not paired")
            continue
        if pair.n_only_a or pair.n_only_b:
            warnings.append(
                f"runs {ra.id} and {rb.id} paired on the {pair.n_paired} problems both scored "
                f"({pair.n_only_a} only in run {ra.id}, {pair.n_only_b} only in run {rb.id})"
            )
        pairs.append(pair)

    pairs = holm_adjust(pairs)
    board = assign_tiers(rank(board), pairs, alpha)
    settings = {
        "n_boot": n_boot,
        "level": level,
        "alpha": alpha,
        "seed": seed,
        "solved": solved,
        "solved_means": _RULE_TEXT[solved],
        "interval": "percentile bootstrap over problems (for k > 1 samples are resampled "
        f"within problems too); Wilson on problems where a bootstrap collapses (one sample "
        f"per problem, fewer than {SMALL_N} problems, or every problem alike); pairs resample "
        "the same problems for both runs",
        "tiers": f"runs in one tier are not distinguishable at {alpha:g} by the pass@1 "
        "paired test after Holm correction over the task's pairs; unpaired runs are not told "
        "apart",
        "pass1_test": "McNemar exact (binomial on discordant problems) when both runs have "
        "one sample per problem, else Wilcoxon signed-rank on per-problem pass rates",
        "store": str(store.path),
    }
    competitive = competitive_views(loaded, cutoff=cutoff, n_boot=n_boot, seed=seed, level=level)
    return Comparison(ks, board, pairs, warnings, settings, competitive)


def holm_adjust(pairs: list[PairRow]) -> list[PairRow]:
    """Each pair's pass@1 p-value after Holm's step-down correction over its task's pairs
    (the family a tier is read from)."""
    out = list(pairs)
    for task in dict.fromkeys(p.task for p in pairs):
        tested = sorted(
            (i for i, p in enumerate(pairs) if p.task == task and p.p_value is not None),
            key=lambda i: pairs[i].p_value or 0.0,
        )
        running = 0.0
        for j, i in enumerate(tested):
            p = float(pairs[i].p_value or 0.0)
            running = max(running, min(1.0, (len(tested) - j) * p))
            out[i] = replace(pairs[i], p_holm=running)
    return out


def assign_tiers(rows: list[LeaderRow], pairs: list[PairRow], alpha: float) -> list[LeaderRow]:
    """Tiers down each task's ranking: a run joins the current tier unless the Holm-adjusted
    paired test separates it from some run already in it; then it opens the next tier."""
    separated = {
        frozenset((p.run_a, p.run_b)) for p in pairs if p.p_holm is not None and p.p_holm <= alpha
    }
    out: list[LeaderRow] = []
    tier_of_task: dict[str, tuple[int, list[int]]] = {}
    for row in rows:
        if not row.metrics or row.metrics[0].k != 1 or row.metrics[0].estimate is None:
            out.append(row)
            continue
        tier, members = tier_of_task.get(row.task, (0, []))
        if not members or any(frozenset((row.run_id, m)) in separated for m in members):
            tier, members = tier + 1, []
        members.append(row.run_id)
        tier_of_task[row.task] = (tier, members)
        out.append(replace(row, tier=tier))
    return out


def rank(rows: list[LeaderRow]) -> list[LeaderRow]:
    """Tasks in first-seen order; within a task, best pass@(smallest k) first, undefined last."""
    order = {task: i for i, task in reversed(list(enumerate(r.task for r in rows)))}

    def key(row: LeaderRow) -> tuple[int, float]:
        first = row.metrics[0].estimate if row.metrics else None
        return order[row.task], -first if first is not None else float("inf")

    return sorted(rows, key=key)


def _pair(
    ra: RunRecord,
    ca: dict[str, tuple[int, int]],
    rb: RunRecord,
    cb: dict[str, tuple[int, int]],
    ks: Sequence[int],
    n_boot: int,
    level: float,
    alpha: float,
    seed: int,
    solved: SolvedRule,
) -> PairRow | None:
    common = [t for t in ca if t in cb]
    if not common:
        return None
    an = [ca[t][0] for t in common]
    ac = [ca[t][1] for t in common]
    bn = [cb[t][0] for t in common]
    bc = [cb[t][1] for t in common]
    metrics: list[PairMetric] = []
    for k in ks:
        if min(an) < k or min(bn) < k:
            continue
        iv: Interval = paired_bootstrap_diff(
            an, ac, bn, bc, k, n_boot=n_boot, level=level, seed=seed
        )
        metrics.append(PairMetric(k, iv.estimate, iv.low, iv.high, interval_verdict(iv)))
    test: PairedTest = paired_test(an, ac, bn, bc, alpha=alpha)
    a_only = [
        t for t in common if _solved(*ca[t], rule=solved) and not _solved(*cb[t], rule=solved)
    ]
    b_only = [
        t for t in common if _solved(*cb[t], rule=solved) and not _solved(*ca[t], rule=solved)
    ]
    return PairRow(
        task=ra.task or "?",
        run_a=ra.id,
        model_a=run_name(ra),
        run_b=rb.id,
        model_b=run_name(rb),
        n_paired=len(common),
        n_only_a=len(ca) - len(common),
        n_only_b=len(cb) - len(common),
        metrics=metrics,
        test=test.method,
        p_value=test.p_value,
        verdict=test.verdict,
        solved_rule=solved,
        a_solves_b_not=a_only,
        b_solves_a_not=b_only,
    )
