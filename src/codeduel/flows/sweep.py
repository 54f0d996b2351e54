"""Temperature sweeps (Code Llama paper, Figure 6): pass@k against sampling temperature.

Why: pass@1 is best near greedy while pass@100 needs diversity, so the "right" temperature
depends on k, and a small model sampled hot can beat a large greedy one at pass@100. A sweep is
one :func:`codeduel.flows.generate.run` per (model, temperature) point, so points share the results
store and resume exactly like runs; a point already finished with the same settings is read back
instead of generated again. A store run of kind ``sweep`` records the points' run ids, the table,
the best temperature per k and, for two models, which one wins at each k.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codeduel.errors import CodeduelError, require_positive
from codeduel.flows.experiment import load_for
from codeduel.flows.generate import DEFAULT_K, DEFAULT_SPLITS
from codeduel.flows.generate import run as run_point
from codeduel.models import Model, resolve
from codeduel.models.base import check_params
from codeduel.records.lifecycle import RunLifecycle
from codeduel.records.store import RunRecord, Store, spec_key
from codeduel.scoring.passk import parse_ks, pass_at_k_table
from codeduel.tasks import get_task, resolve_task_name

KIND = "sweep"
PAPER_TEMPERATURES: tuple[float, ...] = (0.1, 0.4, 0.6, 0.8)

#: (model, temperature, point index, points in total) before each point starts
PointFn = Callable[[str, float, int, int], None]


def parse_temperatures(text: str) -> list[float]:
    """Comma-separated temperatures >= 0, in the order given, duplicates dropped."""
    values: list[float] = []
    for part in text.split(","):
        try:
            value = float(part.strip())
        except ValueError:
            value = -1.0
        if not 0.0 <= value <= 5.0:
            raise CodeduelError(
                f"invalid --temperatures {text!r}",
                "give comma-separated numbers in [0, 5], e.g. 0.1,0.4,0.6,0.8",
            )
        values.append(value)
    return list(dict.fromkeys(values))


@dataclass
class SweepPoint:
    """One (model, temperature) point: its scores and what it cost."""

    model: str
    temperature: float
    run_id: int
    pass_at_k: dict[str, float | None]
    n_problems: int
    n_samples: int
    generated_tokens: int
    generation_s: float
    execution_s: float
    duration_s: float
    reused: bool


@dataclass
class SweepResult:
    """All points, the best temperature per (model, k), and the cross-model verdict."""

    sweep_id: int
    task: str
    models: list[str]
    temperatures: list[float]
    n: int
    top_p: float
    ks: list[int]
    points: list[SweepPoint]
    best: dict[str, dict[str, dict[str, Any]]]
    comparison: dict[str, Any] | None
    duration_s: float
    store_path: Path
    spec: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["store"] = str(out.pop("store_path"))  # the key every --json result uses
        out["duration_s"] = round(self.duration_s, 3)
        return out


def _same_point(run: RunRecord, want: dict[str, Any]) -> bool:
    return run.kind == "run" and all(run.spec.get(k) == v for k, v in want.items())


def _point_stats(db: Store, run_id: int, ks: Sequence[int], greedy: bool) -> dict[str, Any]:
    """Scores and costs of a point read from the store (complete across resumes).

    A greedy point decodes each problem once and repeats it ``n`` times, so only its first
    sample's tokens count as generated.
    """
    per_problem: dict[str, tuple[int, int]] = {}
    exec_s = 0.0
    for v in db.verdicts(run_id):
        n, c = per_problem.get(v.task_id, (0, 0))
        per_problem[v.task_id] = (n + 1, c + int(v.passed))
        exec_s += v.duration_s or 0.0
    tokens = sum(
        int((s.extra or {}).get("completion_tokens", 0))
        for s in db.samples(run_id)
        if not greedy or s.sample_idx == 0
    )
    return {
        "pass_at_k": pass_at_k_table(per_problem, ks),
        "n_problems": len(per_problem),
        "n_samples": sum(n for n, _ in per_problem.values()),
        "generated_tokens": tokens,
        "execution_s": exec_s,
    }


def best_temperatures(
    points: Sequence[SweepPoint], ks: Sequence[int]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{model: {"pass@k": {"temperature": T, "value": v}}}``: the best point for each k."""
    best: dict[str, dict[str, dict[str, Any]]] = {}
    for p in points:
        for k in ks:
            name = f"pass@{k}"
            value = p.pass_at_k.get(name)
            if value is None:
                continue
            cur = best.setdefault(p.model, {}).get(name)
            if cur is None or value > cur["value"]:
                best[p.model][name] = {"temperature": p.temperature, "value": value}
    return best


def compare_models(
    best: dict[str, dict[str, dict[str, Any]]], models: Sequence[str], ks: Sequence[int]
) -> dict[str, Any] | None:
    """For two models: who wins at each k, comparing each model's best temperature."""
    if len(models) != 2:
        return None
    a, b = models
    per_k: dict[str, Any] = {}
    for k in ks:
        name = f"pass@{k}"
        ba, bb = best.get(a, {}).get(name), best.get(b, {}).get(name)
        if ba is None or bb is None:
            continue
        diff = ba["value"] - bb["value"]
        per_k[name] = {
            a: ba,
            b: bb,
            "winner": a if diff > 0 else b if diff < 0 else None,
            "margin": abs(diff),  # a fraction, like every rate in --json
        }
    if not per_k:
        return {"per_k": {}, "headline": "no pass@k is defined for both models"}
    top = max(per_k, key=lambda name: int(name.split("@")[1]))
    row = per_k[top]
    ra, rb = row[a], row[b]
    verdict = (
        f"{row['winner']} wins by {100 * row['margin']:.1f} points" if row["winner"] else "a tie"
    )
    headline = (
        f"{top}: {a} {100 * ra['value']:.1f} % at T={ra['temperature']:g} vs {b} "
        f"{100 * rb['value']:.1f} % at T={rb['temperature']:g} — {verdict}"
    )
    return {"per_k": per_k, "headline": headline}


def run_sweep(
    models: Sequence[str | None],
    task: str = "humaneval",
    *,
    temperatures: Sequence[float] = PAPER_TEMPERATURES,
    n: int = 200,
    top_p: float = 0.95,
    top_k: int | None = None,
    max_new_tokens: int = 512,
    seed: int = 0,
    limit: int | None = None,
    split: str | None = None,
    style: str | None = None,
    k: Sequence[int] = DEFAULT_K,
    data_dir: str | Path | None = None,
    store: str | Path | Store | None = None,
    workers: int | None = None,
    n_threads: int | None = None,
    on_point: PointFn | None = None,
) -> SweepResult:
    """Run (or resume, or read back) every (model, temperature) point and summarise them."""
    started = time.perf_counter()
    task = resolve_task_name(task)  # an alias is recorded as the task it names
    if not models:
        models = [None]
    if not temperatures:
        raise CodeduelError("no temperatures to sweep", "give --temperatures, e.g. 0.1,0.8")
    # Everything a user can get wrong fails here, before a model loads or a run is recorded.
    for temperature in temperatures:
        check_params(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                     top_k=top_k, n=n, seed=seed)  # fmt: skip
    require_positive(limit=limit, workers=workers, threads=n_threads)
    get_task(task, Path(data_dir) if data_dir is not None else None)  # an unknown task: one line
    ks = list(parse_ks(k))
    names = [resolve(m).name for m in models]
    if len(set(names)) != len(names):
        raise CodeduelError("the same --model is given twice", "name each model once")
    split = split if split is not None else DEFAULT_SPLITS.get(task)
    life = RunLifecycle(store)
    db = life.db
    sweep_spec: dict[str, Any] = {
        "models": names,
        "task": task,
        "temperatures": list(temperatures),
        "n": n,
        "top_p": top_p,
        "top_k": top_k,
        "max_new_tokens": max_new_tokens,
        "seed": seed,
        "limit": limit,
        "split": split,
        "style": style,
        "k": ks,
    }
    key = spec_key(sweep_spec)
    try:
        sweep_id, _ = life.start(kind=KIND, key=key, spec=sweep_spec, task=task)
        points: list[SweepPoint] = []
        total = len(models) * len(temperatures)
        for model, name in zip(models, names, strict=True):
            lm: Model | None = None
            try:
                for temperature in temperatures:
                    if on_point:
                        on_point(name, temperature, len(points) + 1, total)
                    want: dict[str, Any] = {
                        "model": name,
                        "task": task,
                        "n": n,
                        "temperature": temperature,
                        "top_p": top_p,
                        "top_k": top_k,
                        "max_new_tokens": max_new_tokens,
                        "seed": seed,
                        "limit": limit,
                        "split": split,
                    }
                    if style is not None:
                        want["style"] = style
                    done = next(
                        (
                            r
                            for r in db.list_runs()
                            if r.status == "finished" and _same_point(r, want)
                        ),
                        None,
                    )
                    if done is not None:
                        summary = done.summary or {}
                        points.append(
                            SweepPoint(
                                model=name,
                                temperature=temperature,
                                run_id=done.id,
                                generation_s=float(summary.get("generation_s", 0.0)),
                                duration_s=float(summary.get("duration_s", 0.0)),
                                reused=True,
                                **_point_stats(db, done.id, ks, temperature == 0),
                            )
                        )
                        continue
                    if lm is None:
                        lm = load_for(model, n_threads)
                    result = run_point(
                        model,
                        task,
                        style=style,  # type: ignore[arg-type]
                        n=n,
                        temperature=temperature,
                        top_p=top_p,
                        top_k=top_k,
                        max_new_tokens=max_new_tokens,
                        seed=seed,
                        limit=limit,
                        split=split,
                        k=ks,
                        data_dir=data_dir,
                        store=db,
                        workers=workers,
                        loaded_model=lm,
                    )
                    points.append(
                        SweepPoint(
                            model=name,
                            temperature=temperature,
                            run_id=result.run_id,
                            generation_s=result.generation_s,
                            duration_s=result.duration_s,
                            reused=False,
                            **_point_stats(db, result.run_id, ks, temperature == 0),
                        )
                    )
            finally:
                if lm is not None:
                    lm.close()
        best = best_temperatures(points, ks)
        result_ = SweepResult(
            sweep_id=sweep_id,
            task=task,
            models=names,
            temperatures=list(temperatures),
            n=n,
            top_p=top_p,
            ks=ks,
            points=points,
            best=best,
            comparison=compare_models(best, names, ks),
            duration_s=time.perf_counter() - started,
            store_path=db.path,
            spec=sweep_spec,
        )
        summary = result_.to_dict()
        summary.pop("sweep_id")
        life.finish(summary)
        return result_
    except BaseException as err:
        life.fail(err)  # an interrupted point names the sweep: rerunning it resumes both
        raise
    finally:
        life.close()
