"""``codeduel contamination``: evidence, from outside the model, that it has seen a benchmark.

Per problem with a reference solution, three kinds of signal, each kept with its evidence:

- **verbatim recall**: the greedy answer to the original prompt against the reference (exact
  body, longest common token run, similarity after normalising the code);
- **likelihood**: Min-K% (Shi et al. 2023, arXiv 2310.16789) of the prompt and of the reference,
  and Min-K%++ (Zhang et al. 2024, arXiv 2404.02936) where the backend gives the whole
  next-token distribution, each beside the same score on the problem's *twin*;
- **controls**: each problem's twin is a semantics-preserving rewrite (identifiers renamed,
  examples re-ordered, ...; :mod:`codeduel.flows.contamination.rewrites`) that no training set
  holds, whose rewritten reference passes the task's own judge.

The headline is paired: does the model solve the originals more often than their twins? The
difference of greedy pass@1 on the problems that have a twin, with a paired bootstrap interval
over problems and McNemar's exact test; the same for the likelihood gap (Wilcoxon signed-rank).
None of this proves contamination; a problem that is recalled verbatim, scores far likelier
than its twin and is solved only in its original wording is the evidence worth reading. The
ranked list puts those first. docs/contamination.md says what each signal can and cannot show.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codeduel.errors import CodeduelError
from codeduel.execution.base import Executor
from codeduel.execution.registry import executor_options, open_executor
from codeduel.flows.contamination import rewrites, signals
from codeduel.flows.generate import select_problems
from codeduel.models import GenParams, Model, load_model, resolve
from codeduel.models.requests import GenPrompt, generate_many
from codeduel.records.lifecycle import RunLifecycle
from codeduel.records.store import spec_key
from codeduel.scoring.stats import (
    DEFAULT_LEVEL,
    mcnemar_exact,
    paired_bootstrap_diff,
    wilcoxon_rates,
)
from codeduel.tasks import get_task
from codeduel.tasks.base import DatasetInfo, Problem, Task
from codeduel.tasks.prompting import Family, RunOptions, family_for

__all__ = ["ContaminationResult", "ProblemEvidence", "contamination"]

K_PERCENT = 0.2  # Min-K%'s k: the paper's best-performing setting on WikiMIA
TEXT_KEEP = 2000  # characters of each continuation kept as evidence


@dataclass
class ProblemEvidence:
    """Everything measured on one problem (and its twin), as stored and shown."""

    task_id: str
    continuation: str
    recall: dict[str, Any]
    passed: bool
    mink_prompt: float | None
    mink_reference: float | None
    minkpp_reference: float | None = None
    twin_changes: list[str] = field(default_factory=list)
    twin_skipped: str | None = None
    twin_passed: bool | None = None
    twin_mink_prompt: float | None = None
    twin_mink_reference: float | None = None
    twin_minkpp_reference: float | None = None
    score: float = 0.0

    @property
    def reference_gap(self) -> float | None:
        """Min-K% of the reference minus its twin's: > 0 when the original is likelier."""
        if self.mink_reference is None or self.twin_mink_reference is None:
            return None
        return self.mink_reference - self.twin_mink_reference


@dataclass
class ContaminationResult:
    """The headline, its intervals and the ranked per-problem evidence."""

    model: str
    task: str
    dataset: DatasetInfo
    n_problems: int
    n_twins: int
    pass_original: float | None
    pass_twin: float | None
    pass_diff: dict[str, Any] | None
    likelihood_gap: dict[str, Any] | None
    recall: dict[str, Any]
    problems: list[ProblemEvidence]
    warnings: list[str] = field(default_factory=list)
    run_id: int | None = None
    store_path: Path | None = None
    duration_s: float = 0.0

    def headline(self) -> str:
        """One sentence: original vs rewritten pass@1 and the paired difference."""
        if self.pass_diff is None or self.pass_original is None or self.pass_twin is None:
            return f"no problem of {self.task} got a checked twin: no paired comparison"
        d = self.pass_diff
        return (
            f"pass@1 original {100 * self.pass_original:.0f} %, rewritten "
            f"{100 * self.pass_twin:.0f} %, paired difference {100 * d['estimate']:+.0f} points "
            f"[{100 * d['low']:.0f}, {100 * d['high']:.0f}] over {self.n_twins} problems "
            f"(McNemar p = {d['p_value']:.3g})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (what ``--json`` prints and the run's summary stores)."""
        ranked = sorted(self.problems, key=lambda p: -p.score)
        return {
            "run_id": self.run_id,
            "kind": "contamination",
            "model": self.model,
            "task": self.task,
            "dataset": asdict(self.dataset),
            "headline": self.headline(),
            "n_problems": self.n_problems,
            "n_twins": self.n_twins,
            "pass_original": self.pass_original,
            "pass_twin": self.pass_twin,
            "pass_diff": self.pass_diff,
            "likelihood_gap": self.likelihood_gap,
            "recall": self.recall,
            "ranked": [asdict(p) | {"reference_gap": p.reference_gap} for p in ranked],
            "warnings": self.warnings,
            "store": str(self.store_path) if self.store_path else None,
            "duration_s": round(self.duration_s, 3),
        }


def _score(p: ProblemEvidence) -> float:
    """Rank problems by how much evidence they carry: a verbatim body first, then how close the
    answer is to the reference, how much likelier the reference is than its twin's, and being
    solved only in the original wording."""
    score = 3.0 if p.recall.get("exact") else 0.0
    score += float(p.recall.get("similarity", 0.0))
    gap = p.reference_gap
    if gap is not None and math.isfinite(gap):
        score += max(0.0, min(gap, 3.0))
    if p.passed and p.twin_passed is False:
        score += 1.0
    return round(score, 4)


def _mink(model: Model, texts: Sequence[str], k: float) -> list[float | None]:
    """Min-K% of each text (None for an empty text)."""
    todo = [t for t in texts if t.strip()]
    scores = iter(
        [signals.min_k_percent(lp, k) for lp in model.loglikelihood(todo)] if todo else []
    )
    return [next(scores) if t.strip() else None for t in texts]


def _minkpp(model: Model, texts: Sequence[str], k: float) -> list[float | None]:
    got = signals.min_k_plus_plus(model, list(texts), k) if texts else None
    return list(got) if got is not None else [None] * len(texts)


def _answers(
    model: Model, family: Family, task: Task, problems: Sequence[Problem], style: Any, tokens: int
) -> list[tuple[GenPrompt, str, dict[str, Any], str]]:
    """Greedy answer per problem: (prompt, raw output, sample, extracted code)."""
    prompts = [family.prompt(task, p, style) for p in problems]
    out: list[tuple[GenPrompt, str, dict[str, Any], str]] = []
    for start in range(0, len(prompts), 8):
        chunk = prompts[start : start + 8]
        params = GenParams(n=1, temperature=0.0, max_new_tokens=tokens, stop=list(chunk[0].stop))
        done = generate_many(model, chunk, params)
        for problem, prompt, completions in zip(problems[start:], chunk, done, strict=False):
            raw = completions[0].text
            answer = family.answer(problem, prompt, raw)
            out.append((prompt, raw, answer.sample, answer.code))
    return out


def _judge(
    executor: Executor, task: Task, items: Sequence[tuple[Problem, dict[str, Any]]]
) -> list[bool]:
    programs = [task.program(p, sample, f"{i}") for i, (p, sample) in enumerate(items)]
    verdicts = {v.key: v.passed for v in executor.run(programs)}
    return [verdicts[f"{i}"] for i in range(len(items))]


def _interval(values: Sequence[float], seed: int, n_boot: int) -> dict[str, Any] | None:
    """Mean with a percentile-bootstrap interval, and a Wilcoxon signed-rank test against 0."""
    a = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if a.size == 0:
        return None
    rng = np.random.default_rng(seed)
    boots = a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(axis=1)
    low, high = np.percentile(boots, [2.5, 97.5])
    test = wilcoxon_rates(a, np.zeros_like(a))
    return {
        "estimate": float(a.mean()),
        "low": float(low),
        "high": float(high),
        "level": DEFAULT_LEVEL,
        "n": int(a.size),
        "test": test.method,
        "p_value": test.p_value,
        "positive": test.a_wins,
        "negative": test.b_wins,
    }


def contamination(
    model: str | None = None,
    task: str = "humaneval",
    *,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    k_percent: float = K_PERCENT,
    max_new_tokens: int = 384,
    style: str | None = None,
    workers: int | None = None,
    store: Any = None,
    n_boot: int = 2000,
    loaded_model: Model | None = None,
    progress: Callable[[str], None] | None = None,
) -> ContaminationResult:
    """Probe ``model`` on ``task`` (any task whose problems carry a reference solution).

    ``limit``/``sample`` choose problems as ``codeduel run`` does; ``seed`` also seeds the
    twins' rewrites. ``k_percent``: Min-K%'s fraction of lowest-probability tokens (0-1).
    The run is recorded in the results store (kind ``contamination``) with its evidence.
    """
    if not 0 < k_percent <= 1:
        raise CodeduelError(f"k_percent {k_percent!r} is not in (0, 1]", "use e.g. 0.2 for 20 %")
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    the_task = get_task(task, Path(data_dir) if data_dir is not None else None)
    problems = [p for p in select_problems(the_task, None, limit, sample, seed) if p.reference]
    if not problems:
        raise CodeduelError(
            f"{task} has no problems with a reference solution",
            "choose a task whose problems ship one (humaneval, mbpp, humaneval+, mbpp+, apps)",
        )
    dataset = the_task.dataset()
    resolved = resolve(model)
    spec_name = resolved.name
    family = family_for(task).bind(RunOptions(model=spec_name, preset=resolved.record_preset))
    chosen_style = (
        style
        or family.fixed_style
        or (resolved.preset.prompt_style if resolved.preset else "completion")
    )
    warnings: list[str] = []
    judge = open_executor(
        "local", executor_options(the_task.packages, workers=workers, data_dir=data_dir)
    )
    lm = loaded_model
    life = RunLifecycle(store)
    try:
        say("making twins")
        made = [rewrites.make_twin(the_task, p, seed) for p in problems]
        checked = rewrites.check_twins(
            the_task, [t for t in made if isinstance(t, rewrites.Twin)], judge
        )
        twins: dict[str, rewrites.Twin] = {}
        skipped: dict[str, str] = {}
        for problem, item in zip(problems, made, strict=True):
            if isinstance(item, rewrites.Skipped):
                skipped[problem.task_id] = item.reason
        for twin_or_skip, original in zip(
            checked, [t for t in made if isinstance(t, rewrites.Twin)], strict=True
        ):
            if isinstance(twin_or_skip, rewrites.Twin):
                twins[original.original.task_id] = twin_or_skip
            else:
                skipped[original.original.task_id] = twin_or_skip.reason
        if lm is None:
            say("loading the model")
            lm = load_model(resolved)
        info = lm.info()
        spec = {
            "model": spec_name,
            "weights_id": info.weights_id,
            "weights_sha256": info.sha256,
            "task": task,
            "dataset_version": dataset.version,
            "dataset_sha256": dataset.sha256,
            "style": chosen_style,
            "limit": limit,
            "sample": sample,
            "seed": seed,
            "k_percent": k_percent,
            "max_new_tokens": max_new_tokens,
        }
        run_id, _ = life.start(
            kind="contamination", key=spec_key(spec), spec=spec, task=task, dataset=dataset
        )
        say("greedy answers to the originals")
        originals = _answers(lm, family, the_task, problems, chosen_style, max_new_tokens)
        twin_list = [twins[p.task_id] for p in problems if p.task_id in twins]
        say("greedy answers to the twins")
        twin_answers = _answers(
            lm, family, the_task, [t.problem for t in twin_list], chosen_style, max_new_tokens
        )
        say("judging")
        passed = _judge(
            judge, the_task, [(p, a[2]) for p, a in zip(problems, originals, strict=True)]
        )
        twin_passed = _judge(
            judge,
            the_task,
            [(t.problem, a[2]) for t, a in zip(twin_list, twin_answers, strict=True)],
        )
        say("likelihood signals")
        mink_prompt = _mink(lm, [p.prompt for p in problems], k_percent)
        mink_ref = _mink(lm, [p.reference for p in problems], k_percent)
        minkpp_ref = _minkpp(lm, [p.reference for p in problems], k_percent)
        twin_mink_prompt = _mink(lm, [t.problem.prompt for t in twin_list], k_percent)
        twin_mink_ref = _mink(lm, [t.problem.reference for t in twin_list], k_percent)
        twin_minkpp_ref = _minkpp(lm, [t.problem.reference for t in twin_list], k_percent)
        if minkpp_ref and all(v is None for v in minkpp_ref):
            warnings.append(
                f"Min-K%++ needs the whole next-token distribution, which the {info.backend} "
                "backend does not give: only Min-K% is reported"
            )
        tokenize = lm.tokenize
        evidence: list[ProblemEvidence] = []
        twin_index = {t.original.task_id: i for i, t in enumerate(twin_list)}
        for i, problem in enumerate(problems):
            _prompt, raw, _sample, code = originals[i]
            recall = signals.verbatim_recall(code or raw, problem.reference, tokenize)
            ev = ProblemEvidence(
                task_id=problem.task_id,
                continuation=(code or raw)[:TEXT_KEEP],
                recall=asdict(recall),
                passed=passed[i],
                mink_prompt=mink_prompt[i],
                mink_reference=mink_ref[i],
                minkpp_reference=minkpp_ref[i],
                twin_skipped=skipped.get(problem.task_id),
            )
            j = twin_index.get(problem.task_id)
            if j is not None:
                ev.twin_changes = list(twin_list[j].changes)
                ev.twin_passed = twin_passed[j]
                ev.twin_mink_prompt = twin_mink_prompt[j]
                ev.twin_mink_reference = twin_mink_ref[j]
                ev.twin_minkpp_reference = twin_minkpp_ref[j]
            ev.score = _score(ev)
            evidence.append(ev)
        paired = [e for e in evidence if e.twin_passed is not None]
        pass_diff = None
        pass_original = pass_twin = None
        if paired:
            a = np.array([e.passed for e in paired], dtype=np.int64)
            b = np.array([bool(e.twin_passed) for e in paired], dtype=np.int64)
            ones = np.ones_like(a)
            diff = paired_bootstrap_diff(ones, a, ones, b, 1, n_boot=n_boot, seed=seed)
            test = mcnemar_exact(a.astype(bool), b.astype(bool))
            pass_original, pass_twin = float(a.mean()), float(b.mean())
            pass_diff = {
                "estimate": diff.estimate,
                "low": diff.low,
                "high": diff.high,
                "level": diff.level,
                "test": test.method,
                "p_value": test.p_value,
                "original_only": test.a_wins,
                "twin_only": test.b_wins,
            }
        gaps = [g for e in evidence if (g := e.reference_gap) is not None]
        likelihood_gap = _interval(gaps, seed, n_boot)
        recall_summary = {
            "exact": sum(bool(e.recall.get("exact")) for e in evidence),
            "mean_similarity": float(np.mean([e.recall.get("similarity", 0.0) for e in evidence])),
            "max_common_run": max(int(e.recall.get("longest_common_run", 0)) for e in evidence),
        }
        if skipped:
            reasons: dict[str, int] = {}
            for why in skipped.values():
                reasons[why] = reasons.get(why, 0) + 1
            top = "; ".join(
                f"{n}x {why}" for why, n in sorted(reasons.items(), key=lambda x: -x[1])[:3]
            )
            warnings.append(f"{len(skipped)} problem(s) have no checked twin ({top})")
        result = ContaminationResult(
            model=spec_name,
            task=task,
            dataset=dataset,
            n_problems=len(problems),
            n_twins=len(paired),
            pass_original=pass_original,
            pass_twin=pass_twin,
            pass_diff=pass_diff,
            likelihood_gap=likelihood_gap,
            recall=recall_summary,
            problems=evidence,
            warnings=warnings,
            run_id=run_id,
            store_path=life.db.path,
            duration_s=time.perf_counter() - started,
        )
        summary = result.to_dict()
        summary.pop("run_id")
        life.finish(summary)
        return result
    except BaseException as err:
        if life.run_id is not None:
            life.fail(err)
        raise
    finally:
        judge.close()
        if loaded_model is None and lm is not None:
            lm.close()
        life.close()
