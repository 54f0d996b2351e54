"""``codeduel reproduce``: why a measured score differs from the published one.

Why: every harness's most repeated complaint is "my score does not match the paper", and the
known causes (prompt stripping, the chat template, the signature pre-filled or not, the stop
list, the token budget, batch size, quantisation) each move greedy pass@1 by points. Here they
are run as a designed experiment on the same problems: a baseline (the configuration
``codeduel run`` uses) and one arm per level of each factor, changed one at a time, every arm
compared with the baseline problem by problem (McNemar's exact test, paired bootstrap interval).

Attribution. The gap is ``published - baseline``. A factor level whose effect points the same
way explains that share of the gap (``effect / gap``). The levels that move toward the published
figure are then combined into one more arm, since effects need not add up (the difference between
the combined effect and the sum of its parts is reported as the interaction). The arm closest to
the published figure is named, and the remaining gap is "within noise" when the published figure
lies inside that arm's 95 % bootstrap interval.

A factor is offered only where the task and backend have an alternative (a task without the
HumanEval prompt has no stop-list factor; a backend with one weights file has no quantisation
factor unless another file is given with ``alt_models``); each factor left out is listed with the
reason. The experiment is stored as a run of kind ``reproduce`` whose summary names every arm's
run; rerunning the same command resumes an interrupted arm and reads finished ones back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from codeduel.errors import CodeduelError, require_positive
from codeduel.flows.experiment import Arm, ArmFn, ArmResult, Effect, paired_effect, recorded
from codeduel.flows.experiment import run_arms as _run_arms
from codeduel.flows.generate import DEFAULT_SPLITS, select_problems
from codeduel.models import resolve
from codeduel.models.requests import Style
from codeduel.records.store import Store
from codeduel.tasks import get_task
from codeduel.tasks.prompting import PromptVariant, family_for

KIND = "reproduce"
DEFAULT_MAX_NEW_TOKENS = 512
DEFAULT_TOKEN_LEVELS: tuple[int, ...] = (256,)
#: Greedy batch tried against a backend that decodes one problem at a time.
DEFAULT_BATCH = 8


@dataclass(frozen=True)
class Context:
    """What the factors need to know to offer their levels."""

    baseline: Arm
    style: Style
    knobs: frozenset[str]
    has_chat_template: bool
    backend_batch: int
    token_levels: tuple[int, ...]
    batch_levels: tuple[int, ...]
    alt_models: tuple[str, ...]


#: A factor's levels as arms, or the reason it is not offered.
Levels = Callable[[Context], "list[Arm] | str"]


@dataclass(frozen=True)
class Factor:
    """One known cause of a score gap: a name for ``--factors`` and how to vary it."""

    name: str
    title: str
    levels: Levels


def _template(ctx: Context) -> list[Arm] | str:
    if ctx.style == "chat":
        return [ctx.baseline.changed(name="chat template off", style="completion", level="off")]
    if not ctx.has_chat_template:
        return "the model is prompted as a base model (no chat template known)"
    return [ctx.baseline.changed(name="chat template on", style="chat", level="on")]


def _variant(ctx: Context, knob: str, **changes: Any) -> PromptVariant | str:
    if knob not in ctx.knobs:
        return "the task's prompt has no such choice"
    return replace(ctx.baseline.variant, **changes)


def _prefill(ctx: Context) -> list[Arm] | str:
    if ctx.style != "chat":
        return "only chat prompts pre-fill the answer"
    v = _variant(ctx, "prefill", prefill=False)
    if isinstance(v, str):
        return v
    return [ctx.baseline.changed(name="signature not pre-filled", variant=v, level="off")]


def _strip(ctx: Context) -> list[Arm] | str:
    v = _variant(ctx, "strip", strip=True)
    if isinstance(v, str):
        return v
    return [ctx.baseline.changed(name="prompt stripped", variant=v, level="stripped")]


def _stops(ctx: Context) -> list[Arm] | str:
    arms = []
    for name in ("bigcode", "none"):
        v = _variant(ctx, "stops", stops=name)
        if isinstance(v, str):
            return v
        arms.append(ctx.baseline.changed(name=f"stop list {name}", variant=v, level=name))
    return arms


def _tokens(ctx: Context) -> list[Arm] | str:
    levels = [t for t in ctx.token_levels if t != ctx.baseline.max_new_tokens]
    if not levels:
        return "no other max new tokens given"
    return [
        ctx.baseline.changed(name=f"max new tokens {t}", max_new_tokens=t, level=str(t))
        for t in levels
    ]


def _batch(ctx: Context) -> list[Arm] | str:
    levels = ctx.batch_levels or ((1,) if ctx.backend_batch > 1 else (DEFAULT_BATCH,))
    levels = tuple(b for b in levels if b != ctx.backend_batch)
    if not levels:
        return f"the backend already decodes {ctx.backend_batch} at a time"
    return [
        ctx.baseline.changed(name=f"batch size {b}", batch_size=b, level=str(b)) for b in levels
    ]


def _weights(ctx: Context) -> list[Arm] | str:
    if not ctx.alt_models:
        return (
            "the backend loads one weights file; give --alt-model SPEC (another quantisation "
            "or dtype of the same model) to vary it"
        )
    return [
        ctx.baseline.changed(name=f"weights {spec}", model=spec, level=spec)
        for spec in ctx.alt_models
    ]


#: The factors, in the order their arms run; ``--factors`` picks by name.
FACTORS: dict[str, Factor] = {
    f.name: f
    for f in (
        Factor("template", "chat template", _template),
        Factor("prefill", "signature pre-filled", _prefill),
        Factor("strip", "prompt stripped", _strip),
        Factor("stops", "stop list", _stops),
        Factor("max-tokens", "max new tokens", _tokens),
        Factor("batch", "batch size", _batch),
        Factor("weights", "weights (quantisation / dtype)", _weights),
    )
}


def parse_factors(text: str | Sequence[str] | None) -> list[str]:
    """Factor names (comma-separated or a list), checked; None or ``all``: every factor."""
    if text is None:
        return list(FACTORS)
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [x.strip().lower() for x in items if x.strip()]
    if names == ["all"]:
        return list(FACTORS)
    unknown = [x for x in names if x not in FACTORS]
    if unknown or not names:
        raise CodeduelError(
            f"unknown --factors {', '.join(unknown) or repr(text)}",
            f"use all or a comma-separated list of: {', '.join(FACTORS)}",
        )
    return list(dict.fromkeys(names))


@dataclass
class ReproduceResult:
    """Every arm, each factor level's paired effect, and the verdict on the gap."""

    reproduce_id: int
    model: str
    task: str
    published: float | None  # fraction
    published_source: str | None
    arms: list[ArmResult]
    effects: list[Effect]
    not_offered: dict[str, str]
    gap: float | None  # published - baseline
    closest: str | None
    residual: float | None  # published - closest
    within_noise: bool | None
    interaction: float | None  # combined effect - sum of the combined levels' effects
    subset: str | None  # which problems, when not all of the task's
    headline: str
    duration_s: float
    store_path: Path
    spec: dict[str, Any] = field(default_factory=dict)

    def arm(self, name: str) -> ArmResult:
        return next(a for a in self.arms if a.arm.name == name)

    def share(self, effect: Effect) -> float | None:
        """The part of the gap this effect explains (1.0 = all of it), if there is a gap."""
        if not self.gap:
            return None
        return effect.diff.estimate / self.gap

    def to_dict(self) -> dict[str, Any]:
        return {
            "reproduce_id": self.reproduce_id,
            "model": self.model,
            "task": self.task,
            "published": self.published,
            "published_source": self.published_source,
            "arms": [a.to_dict() for a in self.arms],
            "effects": [{**e.to_dict(), "share_of_gap": self.share(e)} for e in self.effects],
            "not_offered": self.not_offered,
            "gap": self.gap,
            "closest": self.closest,
            "residual": self.residual,
            "within_noise": self.within_noise,
            "interaction": self.interaction,
            "subset": self.subset,
            "headline": self.headline,
            "duration_s": round(self.duration_s, 3),
            "store": str(self.store_path),
            "spec": self.spec,
        }


def _published(model: str | None, task: str, override: float | None) -> tuple[float | None, str]:
    if override is not None:
        if not 0.0 <= override <= 100.0:
            raise CodeduelError(f"invalid --published {override!r}", "give a percentage, 0-100")
        return override / 100.0, "given with --published"
    preset = resolve(model).record_preset
    value = preset.published.value(task, 1) if preset is not None else None
    if value is None:
        return None, ""
    assert preset is not None
    return float(value) / 100.0, preset.published.source_for(task)


def combine(arms: Sequence[Arm], baseline: Arm) -> Arm | None:
    """One arm with the given arms' changes from the baseline applied together, leaving out a
    change that cannot apply beside the others (the pre-fill exists only in chat; a stop list
    means nothing to a chat answer written without one); None when fewer than two remain."""
    style = next((a.style for a in arms if a.style != baseline.style), baseline.style)
    unfilled = style == "chat" and any(not a.variant.prefill for a in arms)

    def applies(arm: Arm) -> bool:
        if not arm.variant.prefill:
            return style == "chat"
        return not (unfilled and arm.variant.stops != baseline.variant.stops)

    used = [a for a in arms if applies(a)]
    if len(used) < 2:
        return None
    out = baseline
    fields = ("model", "style", "max_new_tokens", "batch_size")
    knobs = ("strip", "prefill", "stops")
    variant: dict[str, Any] = {k: getattr(baseline.variant, k) for k in knobs}
    for arm in used:
        for name in fields:
            if getattr(arm, name) != getattr(baseline, name):
                out = out.changed(**{name: getattr(arm, name)})
        for knob in knobs:
            if getattr(arm.variant, knob) != getattr(baseline.variant, knob):
                variant[knob] = getattr(arm.variant, knob)
    levels = " + ".join(a.name for a in used)
    return out.changed(
        name="combined", factor="combined", level=levels, variant=PromptVariant(**variant)
    )


def _toward(effects: Sequence[Effect], gap: float) -> list[Effect]:
    """Per factor, the level that moves pass@1 furthest toward the published figure."""
    best: dict[str, Effect] = {}
    for e in effects:
        move = e.diff.estimate * (1 if gap > 0 else -1)
        if move <= 0:
            continue
        cur = best.get(e.factor)
        if cur is None or move > cur.diff.estimate * (1 if gap > 0 else -1):
            best[e.factor] = e
    return list(best.values())


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def run_reproduce(
    model: str | None = None,
    task: str = "humaneval",
    *,
    factors: str | Sequence[str] | None = None,
    published: float | None = None,
    limit: int | None = None,
    sample: int | None = None,
    split: str | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    token_levels: Sequence[int] = DEFAULT_TOKEN_LEVELS,
    batch_levels: Sequence[int] = (),
    alt_models: Sequence[str] = (),
    combined: bool = True,
    data_dir: str | Path | None = None,
    store: str | Path | Store | None = None,
    workers: int | None = None,
    n_threads: int | None = None,
    on_arm: ArmFn | None = None,
) -> ReproduceResult:
    """Run the factor experiment for ``model`` on ``task`` (greedy pass@1) and attribute the gap
    between the baseline and the published figure (``published`` in percent overrides the
    preset's). ``factors``: names from :data:`FACTORS` (default all); ``token_levels`` and
    ``batch_levels``: the alternative max new tokens and greedy batch sizes; ``alt_models``:
    other weights of the same model (another quantisation or dtype); ``combined``: also run the
    levels that move toward the published figure together."""
    started = time.perf_counter()
    chosen = parse_factors(factors)
    require_positive(
        limit=limit, sample=sample, workers=workers, threads=n_threads,
        max_new_tokens=max_new_tokens,
    )  # fmt: skip
    for value in token_levels:
        require_positive(token_levels=value)  # named as the CLI option: --token-levels
    for value in batch_levels:
        require_positive(batch_levels=value)
    the_task = get_task(task, Path(data_dir) if data_dir is not None else None)
    family = family_for(task)
    if family.fixed_style is not None:
        raise CodeduelError(
            f"reproduce varies prompts, and {task} has one fixed prompt format",
            "use --task humaneval, humaneval+, mbpp or mbpp+",
        )
    resolved = resolve(model)
    for spec in alt_models:
        resolve(spec)  # an unknown backend fails now, not after an hour of arms
    name = resolved.name
    pub, source = _published(model, task, published)
    preset = resolved.record_preset
    style: Style = preset.prompt_style if preset else "completion"
    split = split if split is not None else DEFAULT_SPLITS.get(task)
    total = len(select_problems(the_task, split, None))
    chosen_n = len(select_problems(the_task, split, limit, sample))  # bad --sample: one line
    subset = None
    if limit is not None and chosen_n < total:
        subset = f"the first {chosen_n} of {total} problems, not a fair sample (use --sample)"
    elif sample is not None and chosen_n < total:
        subset = f"a random {chosen_n} of {total} problems"
    exp_spec: dict[str, Any] = {
        "model": name,
        "task": task,
        "factors": chosen,
        "published": pub,
        "limit": limit,
        "sample": sample,
        "split": split,
        "max_new_tokens": max_new_tokens,
        "token_levels": list(token_levels),
        "batch_levels": list(batch_levels),
        "alt_models": list(alt_models),
        "combined": combined,
    }
    with recorded(store, kind=KIND, spec=exp_spec, task=task, model=model, n_threads=n_threads) as (
        life,
        rid,
        lm,
    ):
        db = life.db
        baseline = Arm(
            "baseline", "baseline", "as codeduel run", style=style, max_new_tokens=max_new_tokens
        )
        ctx = Context(
            baseline=baseline,
            style=style,
            knobs=family.variant_knobs,
            has_chat_template=preset is not None and preset.chat_format is not None,
            backend_batch=max(1, int(lm.greedy_batch)),
            token_levels=tuple(token_levels),
            batch_levels=tuple(batch_levels),
            alt_models=tuple(alt_models),
        )
        arms = [baseline]
        not_offered: dict[str, str] = {}
        for fname in chosen:
            offered = FACTORS[fname].levels(ctx)
            if isinstance(offered, str):
                not_offered[fname] = offered
            else:
                arms += [a.changed(factor=fname) for a in offered]
        opts: dict[str, Any] = {
            "limit": limit,
            "sample": sample,
            "split": split,
            "data_dir": data_dir,
            "workers": workers,
            "n_threads": n_threads,
            "on_arm": on_arm,
            "loaded": lm,
        }
        results = _run_arms(arms, model, task, db, **opts)
        base = results[0]
        effects = [paired_effect(r, base) for r in results[1:]]
        gap = None if pub is None else pub - base.pass_at_1
        interaction = None
        if combined and gap:
            toward = _toward(effects, gap)
            parts = [next(r.arm for r in results if r.arm.name == e.arm) for e in toward]
            arm = combine(parts, baseline)
            if arm is not None:
                used = [e for e in toward if e.arm in arm.level.split(" + ")]
                [extra] = _run_arms([arm], model, task, db, **opts)
                results.append(extra)
                effect = paired_effect(extra, base)
                effects.append(effect)
                interaction = effect.diff.estimate - sum(e.diff.estimate for e in used)
        closest = residual = within = None
        if pub is not None:
            best = min(results, key=lambda r: abs(r.pass_at_1 - pub))
            closest, residual = best.arm.name, pub - best.pass_at_1
            within = best.low <= pub <= best.high
        result = ReproduceResult(
            reproduce_id=rid,
            model=name,
            task=task,
            published=pub,
            published_source=source or None,
            arms=results,
            effects=effects,
            not_offered=not_offered,
            gap=gap,
            closest=closest,
            residual=residual,
            within_noise=within,
            interaction=interaction,
            subset=subset,
            headline="",
            duration_s=time.perf_counter() - started,
            store_path=db.path,
            spec=exp_spec,
        )
        result.headline = headline(result)
        summary = result.to_dict()
        summary.pop("reproduce_id")
        life.finish(summary)
        return result


def headline(r: ReproduceResult) -> str:
    """One sentence: measured vs published, the closest configuration, and whether the rest of
    the gap is within noise."""
    base = r.arms[0]
    measured = f"baseline {_pct(base.pass_at_1)} % on {r.subset or f'{base.n_problems} problems'}"
    if r.published is None or r.gap is None:
        return f"{measured}; no published figure to explain (give --published)"
    text = f"{measured} vs published {_pct(r.published)} % (gap {100 * r.gap:+.1f} points)"
    assert r.closest is not None and r.residual is not None
    best = r.arm(r.closest)
    text += f"; closest: {r.closest} {_pct(best.pass_at_1)} % [{_pct(best.low)}, {_pct(best.high)}]"
    if r.within_noise:
        return text + "; the published figure is inside its 95 % interval: the rest is noise"
    return (
        text + f"; {100 * r.residual:+.1f} points remain outside its 95 % interval, "
        "unexplained by these factors"
    )
