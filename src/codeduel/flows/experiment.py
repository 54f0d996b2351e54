"""Designed experiments over greedy runs: arms that differ in one setting, scored paired.

Why: "why does my score differ from the paper" and "is greedy decoding really deterministic"
are both answered by running the same problems under settings that differ in one thing and
comparing each arm with a reference arm problem by problem (McNemar's exact test and a paired
bootstrap interval, as ``codeduel compare`` does). An arm is one ordinary
:func:`codeduel.flows.generate.run`, so arms share the results store, resume after a crash and
are read back when a finished run of the same spec exists; a model is loaded once for all the
arms that use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from codeduel.flows.generate import run as run_arm
from codeduel.models import Model, load_model, resolve
from codeduel.models.requests import Style
from codeduel.records.lifecycle import RunLifecycle
from codeduel.records.store import Store, spec_key
from codeduel.scoring.stats import (
    Interval,
    PairedTest,
    mcnemar_exact,
    paired_bootstrap_diff,
    pass_at_k_interval,
)
from codeduel.tasks.prompting import PromptVariant

#: (arm name, arm index from 1, arms in total) before each arm starts
ArmFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Arm:
    """One configuration: the reference (``factor == "baseline"``) or one change from it."""

    name: str
    factor: str
    level: str
    model: str | None = None  # None: the experiment's model
    style: Style | None = None  # None: the model's own style
    variant: PromptVariant = field(default_factory=PromptVariant)
    max_new_tokens: int = 512
    batch_size: int | None = None  # None: the backend's own greedy batch

    def changed(self, **changes: Any) -> Arm:
        """A copy with some settings changed."""
        return replace(self, **changes)

    def settings(self) -> dict[str, Any]:
        """What this arm sets, for the record."""
        return {
            "model": self.model,
            "style": self.style,
            "strip": self.variant.strip,
            "prefill": self.variant.prefill,
            "stops": self.variant.stops,
            "max_new_tokens": self.max_new_tokens,
            "batch_size": self.batch_size,
        }


@dataclass
class ArmResult:
    """An arm's greedy pass@1 with its 95 % bootstrap interval, and what it cost."""

    arm: Arm
    run_id: int
    template: str
    style: str
    pass_at_1: float
    low: float
    high: float
    n_problems: int
    generated_tokens: int
    generation_s: float
    reused: bool
    passed: dict[str, bool] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.arm.name,
            "factor": self.arm.factor,
            "level": self.arm.level,
            "settings": self.arm.settings(),
            "run_id": self.run_id,
            "template": self.template,
            "style": self.style,
            "pass@1": self.pass_at_1,
            "low": self.low,
            "high": self.high,
            "n_problems": self.n_problems,
            "generated_tokens": self.generated_tokens,
            "generation_s": round(self.generation_s, 3),
            "reused": self.reused,
        }


@dataclass(frozen=True)
class Effect:
    """``arm - reference`` on the problems both scored: a paired interval and McNemar's p."""

    arm: str
    factor: str
    level: str
    diff: Interval
    test: PairedTest

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "factor": self.factor,
            "level": self.level,
            "diff": self.diff.estimate,
            "low": self.diff.low,
            "high": self.diff.high,
            "p_value": self.test.p_value,
            "arm_only": self.test.a_wins,
            "reference_only": self.test.b_wins,
            "n_paired": self.test.n_pairs,
        }


def paired_effect(arm: ArmResult, reference: ArmResult, *, seed: int = 0) -> Effect:
    """How ``arm`` differs from ``reference`` on their common problems (greedy: one verdict
    each, so McNemar's exact test; the interval is the paired bootstrap of the difference)."""
    common = sorted(set(arm.passed) & set(reference.passed))
    a = [int(arm.passed[t]) for t in common]
    b = [int(reference.passed[t]) for t in common]
    ones = [1] * len(common)
    if common:
        diff = paired_bootstrap_diff(ones, a, ones, b, 1, seed=seed)
    else:
        diff = Interval(0.0, 0.0, 0.0, 0.95, 0)
    return Effect(arm.arm.name, arm.arm.factor, arm.arm.level, diff, mcnemar_exact(a, b))


def _score(db: Store, run_id: int, seed: int) -> tuple[dict[str, bool], Interval]:
    passed = {v.task_id: bool(v.passed) for v in db.verdicts(run_id) if v.sample_idx == 0}
    c = [int(x) for x in passed.values()]
    if not c:
        return passed, Interval(0.0, 0.0, 0.0, 0.95, 0)
    return passed, pass_at_k_interval([1] * len(c), c, 1, seed=seed)


def run_arms(
    arms: Sequence[Arm],
    model: str | None,
    task: str,
    db: Store,
    *,
    limit: int | None = None,
    sample: int | None = None,
    split: str | None = None,
    data_dir: str | Path | None = None,
    workers: int | None = None,
    n_threads: int | None = None,
    seed: int = 0,
    on_arm: ArmFn | None = None,
    loaded: Model | None = None,
) -> list[ArmResult]:
    """Run (or resume, or read back) every arm greedily with n = 1, in the order given; each
    model is loaded once and closed after its last arm (``loaded``: the experiment's model,
    already in memory, left open)."""
    models: dict[str, Model] = {}
    base_name = resolve(model).name
    if loaded is not None:
        models[base_name] = loaded
    last_use = {resolve(a.model or model).name: i for i, a in enumerate(arms)}
    results: list[ArmResult] = []
    try:
        for i, arm in enumerate(arms):
            spec = arm.model or model
            name = resolve(spec).name
            if on_arm:
                on_arm(arm.name, i + 1, len(arms))
            if name not in models:
                models[name] = load_for(spec, n_threads)
            result = run_arm(
                spec,
                task,
                style=arm.style,
                n=1,
                temperature=0.0,
                top_p=1.0,
                max_new_tokens=arm.max_new_tokens,
                limit=limit,
                sample=sample,
                split=split,
                k=(1,),
                data_dir=data_dir,
                store=db,
                workers=workers,
                loaded_model=models[name],
                variant=arm.variant,
                batch_size=arm.batch_size,
                reuse_finished=True,
            )
            passed, iv = _score(db, result.run_id, seed)
            results.append(
                ArmResult(
                    arm=arm,
                    run_id=result.run_id,
                    template=result.spec.template,
                    style=result.spec.style,
                    pass_at_1=iv.estimate,
                    low=iv.low,
                    high=iv.high,
                    n_problems=len(passed),
                    generated_tokens=result.generated_tokens,
                    generation_s=result.generation_s,
                    reused=result.reused,
                    passed=passed,
                )
            )
            if last_use[name] == i and name != base_name:
                models.pop(name).close()
    finally:
        for lm in models.values():
            if lm is not loaded:
                lm.close()
    return results


def load_for(model: str | None, n_threads: int | None) -> Model:
    """Load a model for an experiment (llama.cpp: with the thread count asked for)."""
    if n_threads and resolve(model).in_process_cpu:
        return load_model(model, n_threads=n_threads)
    return load_model(model)


@contextmanager
def recorded(
    store: str | Path | Store | None,
    *,
    kind: str,
    spec: dict[str, Any],
    task: str,
    model: str | None,
    n_threads: int | None,
) -> Iterator[tuple[RunLifecycle, int, Model]]:
    """The experiment's own run (resumed when the same command ran before) and its model,
    loaded once; any error or interrupt marks the run failed (naming it, so rerunning the
    command resumes the experiment and its unfinished arm), and the model is closed."""
    life = RunLifecycle(store)
    lm = None
    try:
        run_id, _ = life.start(kind=kind, key=spec_key(spec), spec=spec, task=task)
        lm = load_for(model, n_threads)
        yield life, run_id, lm
    except BaseException as err:
        life.fail(err)
        raise
    finally:
        if lm is not None:
            lm.close()
        life.close()
