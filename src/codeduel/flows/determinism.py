"""``codeduel audit determinism``: is greedy decoding really deterministic here?

Why: users of lm-evaluation-harness found greedy output that changes with batch size (padding,
batched kernels and reduction order change the logits in the last bits, and an argmax near a tie
flips). A greedy score is only a property of the model if it does not depend on how problems
were batched. This audit decodes the same problems greedily one at a time and at a larger batch
(the backend's own, or ``DEFAULT_BATCH`` for a backend that decodes one at a time), and
optionally with a second backend on the same weights (``against``, e.g. ``hf:`` for a GGUF also
run by llama.cpp), then lists the problems whose text differs and the pass@1 effect of each
alternative with a paired interval. Arms are ordinary runs (stored, resumable, read back).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeduel.errors import CodeduelError, require_positive
from codeduel.flows.experiment import Arm, ArmFn, ArmResult, Effect, paired_effect, recorded
from codeduel.flows.experiment import run_arms as _run_arms
from codeduel.flows.generate import DEFAULT_SPLITS
from codeduel.models import resolve
from codeduel.records.store import Store
from codeduel.tasks import get_task
from codeduel.tasks.prompting import family_for

KIND = "audit-determinism"
DEFAULT_BATCH = 8


@dataclass(frozen=True)
class Divergence:
    """One problem whose greedy text differs from the batch-1 reference."""

    arm: str
    task_id: str
    offset: int  # first differing character
    reference_passed: bool
    arm_passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "task_id": self.task_id,
            "offset": self.offset,
            "reference_passed": self.reference_passed,
            "arm_passed": self.arm_passed,
        }


@dataclass
class DeterminismResult:
    """The reference arm, each alternative, the problems that differ and the pass@1 effect."""

    audit_id: int
    model: str
    task: str
    arms: list[ArmResult]
    effects: list[Effect]
    divergences: list[Divergence]
    headline: str
    duration_s: float
    store_path: Path
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def deterministic(self) -> bool:
        return not self.divergences

    def to_dict(self) -> dict[str, Any]:
        return {
            "audit_id": self.audit_id,
            "model": self.model,
            "task": self.task,
            "deterministic": self.deterministic,
            "arms": [a.to_dict() for a in self.arms],
            "effects": [e.to_dict() for e in self.effects],
            "divergences": [d.to_dict() for d in self.divergences],
            "headline": self.headline,
            "duration_s": round(self.duration_s, 3),
            "store": str(self.store_path),
            "spec": self.spec,
        }


def first_difference(a: str, b: str) -> int | None:
    """The first index where two texts differ (the shorter one's length if one is a prefix),
    or None when they are equal."""
    if a == b:
        return None
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def _backend(model: str | None) -> tuple[str, str]:
    """Which engine serves a spec, and on what weights (llama.cpp's spellings are one)."""
    spec = resolve(model)
    return ("llamacpp" if spec.in_process_cpu else spec.prefix), spec.target


def second_backend(model: str | None) -> str | None:
    """Another installed engine for the same weights (``--against auto``): transformers for a
    GGUF that llama.cpp serves, vLLM (when usable) for a transformers model and back; None
    when there is none here."""
    import importlib.util

    from codeduel.models import vllm_usable

    spec = resolve(model)
    has = importlib.util.find_spec
    if spec.in_process_cpu and has("torch") and has("transformers"):
        target = spec.target if spec.prefix == "embedded" else spec.target.removeprefix("gguf:")
        return f"hf:{target}"
    if spec.prefix in ("hf", "auto") and vllm_usable():
        return f"vllm:{spec.target}"
    if spec.prefix == "vllm" and has("torch") and has("transformers"):
        return f"hf:{spec.target}"
    return None


def _raw_outputs(db: Store, run_id: int) -> dict[str, str]:
    return {s.task_id: s.raw_output or "" for s in db.samples(run_id) if s.sample_idx == 0}


def run_determinism(
    model: str | None = None,
    task: str = "humaneval",
    *,
    batch_size: int | None = None,
    against: str | None = None,
    limit: int | None = None,
    sample: int | None = None,
    split: str | None = None,
    max_new_tokens: int = 512,
    data_dir: str | Path | None = None,
    store: str | Path | Store | None = None,
    workers: int | None = None,
    n_threads: int | None = None,
    on_arm: ArmFn | None = None,
) -> DeterminismResult:
    """Greedy at batch 1 (the reference) against ``batch_size`` (default: the backend's own,
    or 8 when that is 1) and, with ``against``, another backend on the same weights (``"auto"``:
    :func:`second_backend`)."""
    started = time.perf_counter()
    require_positive(
        limit=limit,
        sample=sample,
        workers=workers,
        threads=n_threads,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
    )
    if batch_size == 1:
        raise CodeduelError("--batch-size 1 is the reference itself", "give 2 or more")
    get_task(task, Path(data_dir) if data_dir is not None else None)
    family_for(task)  # a task without prompts: one line now
    name = resolve(model).name
    if against == "auto":
        against = second_backend(model)
        if against is None:
            raise CodeduelError(
                f"no second backend for {name} is installed here",
                "install the hf extra (pip install -e '.[hf]') or drop --against",
            )
    if against is not None and _backend(against) == _backend(model):
        raise CodeduelError(
            "--against names the audited model on the same backend",
            "give another backend on the same weights, e.g. hf:embedded:NAME for a GGUF",
        )
    split = split if split is not None else DEFAULT_SPLITS.get(task)
    spec: dict[str, Any] = {
        "model": name,
        "task": task,
        "batch_size": batch_size,
        "against": against,
        "limit": limit,
        "sample": sample,
        "split": split,
        "max_new_tokens": max_new_tokens,
    }
    with recorded(store, kind=KIND, spec=spec, task=task, model=model, n_threads=n_threads) as (
        life,
        audit_id,
        lm,
    ):
        db = life.db
        batch = batch_size or (lm.greedy_batch if lm.greedy_batch > 1 else DEFAULT_BATCH)
        reference = Arm("batch 1", "batch size", "1", batch_size=1, max_new_tokens=max_new_tokens)
        arms = [reference, reference.changed(name=f"batch {batch}", level=str(batch),
                                             batch_size=batch)]  # fmt: skip
        if against is not None:
            arms.append(reference.changed(name=f"backend {against}", factor="backend",
                                          level=against, model=against))  # fmt: skip
        results = _run_arms(
            arms,
            model,
            task,
            db,
            limit=limit,
            sample=sample,
            split=split,
            data_dir=data_dir,
            workers=workers,
            n_threads=n_threads,
            on_arm=on_arm,
            loaded=lm,
        )
        ref = results[0]
        ref_text = _raw_outputs(db, ref.run_id)
        effects = [paired_effect(r, ref) for r in results[1:]]
        divergences = []
        for r in results[1:]:
            texts = _raw_outputs(db, r.run_id)
            for task_id in (t for t in ref_text if t in texts):  # dataset order
                offset = first_difference(ref_text[task_id], texts[task_id])
                if offset is not None:
                    divergences.append(
                        Divergence(
                            r.arm.name,
                            task_id,
                            offset,
                            ref.passed.get(task_id, False),
                            r.passed.get(task_id, False),
                        )
                    )
        result = DeterminismResult(
            audit_id=audit_id,
            model=name,
            task=task,
            arms=results,
            effects=effects,
            divergences=divergences,
            headline="",
            duration_s=time.perf_counter() - started,
            store_path=db.path,
            spec=spec,
        )
        result.headline = headline(result)
        summary = result.to_dict()
        summary.pop("audit_id")
        life.finish(summary)
        return result


def headline(r: DeterminismResult) -> str:
    """One line per alternative: how many problems changed text and what that did to pass@1."""
    ref = r.arms[0]
    parts = []
    for arm, effect in zip(r.arms[1:], r.effects, strict=True):
        changed = sum(1 for d in r.divergences if d.arm == arm.arm.name)
        d = effect.diff
        parts.append(
            f"{arm.arm.name}: {changed} of {ref.n_problems} problems decode differently, "
            f"pass@1 {100 * d.estimate:+.1f} points [{100 * d.low:+.1f}, {100 * d.high:+.1f}] "
            f"(McNemar p = {effect.test.p_value:.3g})"
        )
    return "; ".join(parts)
