"""``codeduel run``: generate, execute and score, with the results store as the only checkpoint.

Why this shape: generation is the slow part, so execution overlaps it (programs go to the
executor as soon as a problem's samples exist) and every problem's samples are committed in one
transaction before they are judged. A run is identified by the hash of everything that defines
its outputs (model, weights, task, dataset version, decoding, prompt template), so rerunning the
same command after ``kill -9`` or Ctrl-C finds the unfinished run and continues it: problems
already generated are not generated again, samples without a verdict are judged, and seeds are
derived per problem so the resumed samples equal those an uninterrupted run would have made.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from codeduel.errors import CodeduelError, require_positive
from codeduel.execution.base import Verdict
from codeduel.execution.registry import (
    ExecutorOptions,
    SubmittingExecutor,
    executor_options,
    open_executor,
)
from codeduel.flows.evaluate import BaseScores, base_scores
from codeduel.models import GenParams, Model, load_model, resolve
from codeduel.models.base import check_params
from codeduel.models.formats import InfillFormat
from codeduel.models.llamacpp import check_speculative
from codeduel.models.presets import Preset
from codeduel.models.requests import GenPrompt, Style, generate_many
from codeduel.records.frames import RunFrame
from codeduel.records.lifecycle import RunLifecycle
from codeduel.records.store import SampleRecord, Store, spec_key
from codeduel.scoring.passk import parse_ks, pass_at_k_table
from codeduel.tasks import get_task, resolve_task_name
from codeduel.tasks.base import DatasetInfo, Problem, Task, view_meta
from codeduel.tasks.evalplus import evalplus_dataset, phase_verdict
from codeduel.tasks.prompting import (
    Family,
    InfillingFamily,
    PromptVariant,
    RunOptions,
    family_for,
)

if TYPE_CHECKING:
    from codeduel.cluster.generation import RayModelPool

DEFAULT_K: tuple[int, ...] = (1, 10, 100)

#: Decoding presets of the Code Llama paper (Table 2 caption, Appendix C).
DECODING_PRESETS: dict[str, dict[str, Any]] = {
    "paper-pass1": {"n": 1, "temperature": 0.0, "top_p": 1.0},
    "paper-pass100": {"n": 200, "temperature": 0.8, "top_p": 0.95},
}

STYLES: tuple[str, ...] = ("completion", "chat")


def decoding(
    preset: str | None = None,
    *,
    n: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
) -> dict[str, Any]:
    """``n``, ``temperature`` and ``top_p`` for a run: greedy n = 1 unless ``preset`` (one of
    :data:`DECODING_PRESETS`) says otherwise; explicit values win; an unknown preset or an
    invalid value is a one-line error (the CLI and notebooks get the same checks)."""
    chosen: dict[str, Any] = {"n": 1, "temperature": 0.0, "top_p": 1.0}
    if preset is not None:
        if preset not in DECODING_PRESETS:
            raise CodeduelError(
                f"unknown decoding preset {preset!r}", f"use one of {', '.join(DECODING_PRESETS)}"
            )
        chosen.update(DECODING_PRESETS[preset])
    for name, value in (("n", n), ("temperature", temperature), ("top_p", top_p)):
        if value is not None:
            chosen[name] = value
    check_params(n=chosen["n"], temperature=chosen["temperature"], top_p=chosen["top_p"])
    return chosen


#: Default problem subsets for generation (MBPP: the paper scores the 500-problem test split).
DEFAULT_SPLITS: dict[str, str] = {"mbpp": "test"}

ProgressFn = Callable[[str, int, int], None]  # (phase "generate"/"execute", done, total)


class RunSpec(BaseModel):
    """Everything that defines a run's outputs; its hash identifies the run for resuming."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    weights_id: str
    weights_sha256: str | None
    task: str
    dataset_version: str
    dataset_sha256: str
    style: Style
    template: str
    split: str | None
    limit: int | None
    n: int = Field(ge=1)
    temperature: float
    top_p: float
    top_k: int | None
    max_new_tokens: int
    seed: int
    fim_order: str | None = None  # infilling tasks only: "psm" or "spm"
    # Greedy problems per backend call when set (None: the backend's own batch): batched greedy
    # decoding need not give the same text, so a run at another batch size is another run.
    batch_size: int | None = None
    sample: int | None = None  # a random sample of this many problems (seeded by ``seed``)
    # llama.cpp's speculative decoding (a name in llamacpp.SPECULATIVE): its batched check can
    # break a near-tie differently from one-token decoding, so it is part of the identity too.
    speculative: str | None = None
    # The task's own settings (APPS difficulty, LiveCodeBench release/since/until/platform):
    # they choose the problems, so a run with other ones is another run.
    task_options: dict[str, Any] | None = None

    def key(self) -> str:
        """A stable hash of the spec (sorted JSON); fields left at None by older versions are
        dropped so runs stored before they existed keep their keys and still resume."""
        data = self.model_dump()
        for name in ("fim_order", "batch_size", "sample", "speculative", "task_options"):
            if data.get(name) is None:
                data.pop(name, None)
        return spec_key(data)


@dataclass
class RunResult(RunFrame):
    """The scores of a generation run and where its records are."""

    run_id: int
    spec: RunSpec
    dataset: DatasetInfo
    n_problems: int
    n_samples: int
    pass_at_k: dict[str, float | None]
    counts: dict[str, int]
    extraction_failures: int
    resumed: bool
    generated_tokens: int
    generation_s: float
    duration_s: float
    published: dict[str, float | None]
    store_path: Path
    warnings: list[str] = field(default_factory=list)
    reused: bool = False  # read back from an earlier finished run (``reuse_finished``)
    # with rejudge: timed-out programs run again alone, and how many then did not time out
    rejudged: int | None = None
    load_dependent: int | None = None
    # what the run is shown and looked up by (``--name``; by default the model), not part of
    # its identity: renaming a rerun still resumes it
    name: str = ""
    # HumanEval+/MBPP+: pass@k on the base inputs alone, as evalplus prints it beside the
    # base + extra figure (``pass_at_k``); None for tasks not judged in two phases
    base: BaseScores | None = None

    def summary(self) -> dict[str, Any]:
        """Headline numbers in the same shape as ``evaluate --json``."""
        out: dict[str, Any] = {
            "task": self.spec.task,
            "name": self.name or self.spec.model,
            "model": self.spec.model,
            "n_problems": self.n_problems,
            "n_samples": self.n_samples,
        }
        out.update(self.pass_at_k)
        if self.base is not None:
            out["plus_label"] = self.base.plus_label
            out["base"] = {
                "label": self.base.label,
                **self.base.pass_at_k,
                "passed": self.base.n_passed,
            }
        return out

    def score_columns(self) -> list[tuple[str, dict[str, float | None]]]:
        """``(label, {"pass@k": fraction})`` per figure to print (as ``EvaluateResult``)."""
        if self.base is None:
            return [(self.spec.task, self.pass_at_k)]
        return [(self.base.label, self.base.pass_at_k), (self.base.plus_label, self.pass_at_k)]

    @property
    def determinism(self) -> str | None:
        """What the text of this run depends on beyond the model, prompt and decoding
        parameters; None when the backend decodes as it does by default."""
        return determinism(self.spec)

    def to_dict(self) -> dict[str, Any]:
        out = self.summary()
        out.update(
            {
                "run_id": self.run_id,
                "spec": self.spec.model_dump(),
                "dataset": {
                    "name": self.dataset.name,
                    "version": self.dataset.version,
                    "sha256": self.dataset.sha256,
                },
                "counts": self.counts,
                "extraction_failures": self.extraction_failures,
                "resumed": self.resumed,
                "generated_tokens": self.generated_tokens,
                "generation_s": round(self.generation_s, 3),
                "duration_s": round(self.duration_s, 3),
                # fractions, like every rate in --json (presets keep the papers' percentages)
                "published": {k: None if v is None else v / 100 for k, v in self.published.items()},
                "store": str(self.store_path),
                "warnings": self.warnings,
                "determinism": self.determinism,
            }
        )
        if self.rejudged is not None:
            out["rejudge"] = {"timed_out": self.rejudged, "load_dependent": self.load_dependent}
        return out


def check_run_name(name: str | None) -> str | None:
    """``name`` stripped, or a one-line error: an empty name shows nothing, and an all-digit
    one would be read back as a run id by ``compare``/``report``."""
    if name is None:
        return None
    text = name.strip()
    if not text:
        raise CodeduelError("empty --name", "give the run a name, e.g. --name codellama-7b-t0.8")
    if text.isdigit():
        raise CodeduelError(
            f"--name {text!r} is all digits and would read as a run id",
            "add a letter, e.g. --name run-" + text,
        )
    return text


def determinism(spec: RunSpec) -> str | None:
    """One line on what a run's text depends on: batched greedy decoding and speculative
    decoding round differently from one sequence decoded a token at a time, so a near-tie can
    go the other way (``bench/generate.py`` and ``codeduel audit determinism`` measure how
    often). Kept in the record and printed by ``codeduel run``."""
    notes = []
    if spec.batch_size is not None and spec.batch_size > 1:
        notes.append(f"greedy problems decoded {spec.batch_size} together")
    if spec.speculative is not None:
        notes.append(f"{spec.speculative} speculative decoding")
    if not notes:
        return None
    return "; ".join(notes) + ": text may differ from a run without them"


def _problem_seed(seed: int, task_id: str) -> int:
    """A per-problem seed, so resumed problems sample exactly as uninterrupted ones."""
    digest = hashlib.sha256(f"{seed}:{task_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def select_problems(
    task: Task,
    split: str | None,
    limit: int | None,
    sample: int | None = None,
    seed: int = 0,
) -> list[Problem]:
    """The task's problems in dataset order, restricted to ``split`` and the first ``limit``,
    or to ``sample`` problems drawn at random (seeded by ``seed``, kept in dataset order).

    Why both: the first N problems are quick for a smoke test but not a fair sample (HumanEval's
    early problems are easier); a random sample estimates the whole benchmark's pass rate
    without bias, which is what comparing with a published figure needs."""
    problems = task.problems()
    if split is not None:
        chosen = [p for p in problems if p.meta.get("split") == split]
        if not chosen:
            raise CodeduelError(
                f"task {task.name} has no problems in split {split!r}",
                "omit --split or use one the task defines",
            )
        problems = chosen
    if limit is not None:
        if limit < 1:
            raise CodeduelError(f"invalid --limit {limit}", "give a positive number of problems")
        problems = problems[:limit]
    if sample is not None:
        if limit is not None:
            raise CodeduelError("--limit and --sample both given", "give one of them")
        if not 0 < sample <= len(problems):
            raise CodeduelError(f"invalid --sample {sample}", f"give 1 to {len(problems)} problems")
        rng = random.Random(f"{seed}:{task.name}:{split}")
        chosen_ids = set(rng.sample([p.task_id for p in problems], sample))
        problems = [p for p in problems if p.task_id in chosen_ids]
    return problems


def batches(
    todo: Sequence[tuple[Problem, GenPrompt, GenParams]], size: int
) -> Iterator[list[tuple[Problem, GenPrompt, GenParams]]]:
    """Consecutive problems that may share one backend call: greedy (so each problem's own
    seed cannot matter), same style, encoding, stops and generation parameters."""

    def key(item: tuple[Problem, GenPrompt, GenParams]) -> tuple[Any, ...] | None:
        _, prompt, params = item
        if not params.greedy:
            return None  # sampled problems keep one call each: their seeds differ
        shared = params.model_dump(exclude={"seed"})
        return (prompt.style, bool(prompt.segments), sorted(shared.items(), key=str))

    chunk: list[tuple[Problem, GenPrompt, GenParams]] = []
    for item in todo:
        if chunk and (len(chunk) >= size or key(item) is None or key(item) != key(chunk[0])):
            yield chunk
            chunk = []
        chunk.append(item)
    if chunk:
        yield chunk


def run(
    model: str | None = None,
    task: str = "humaneval",
    *,
    style: Style | None = None,
    n: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int | None = None,
    max_new_tokens: int = 512,
    seed: int = 0,
    limit: int | None = None,
    split: str | None = None,
    k: Sequence[int] = DEFAULT_K,
    data_dir: str | Path | None = None,
    store: str | Path | Store | None = None,
    workers: int | None = None,
    loaded_model: Model | None = None,
    progress: ProgressFn | None = None,
    base_url: str | None = None,
    fim_order: str | None = None,
    fim_format: InfillFormat | str | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    gen_workers: int | None = None,
    require_isolation: str | Sequence[str] | None = None,
    hash_seed: int = 0,
    variant: PromptVariant | None = None,
    batch_size: int | None = None,
    reuse_finished: bool = False,
    rejudge: bool = False,
    sample: int | None = None,
    speculative: str | None = None,
    task_options: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> RunResult:
    """Generate ``n`` samples per problem with ``model``, judge them, and record everything.

    ``model`` is a spec (``gguf:PATH``, ``hf:ORG/NAME``, a preset name, or None for the embedded
    default). Rerunning with the same arguments resumes an unfinished run. ``loaded_model``
    lets a caller reuse a model already in memory (its spec must still be given for the record).
    ``base_url`` is the server of an ``openai:`` model (default: ``$OPENAI_BASE_URL`` or OpenAI).
    ``fim_order`` (``psm``/``spm``, infilling tasks only) picks the FIM prompt order;
    ``fim_format`` overrides the preset's FIM sentinels (needed for a model without a preset).
    ``executor`` names the executor that judges (``"local"`` or ``"ray"``, see
    :mod:`codeduel.execution.registry`); it is not part of the run's identity, so a run started
    on one executor resumes on another with the same verdicts. ``workers``: its sandboxes.
    ``gen_workers``: generate on that many Ray actors, one model replica each (one GPU each
    where the cluster has GPUs), taking problems from a shared queue; None generates here.
    ``require_isolation``: sandbox layers that must be active (``"all"`` or names);
    ``hash_seed``: the sandboxes' ``PYTHONHASHSEED`` (recorded in every verdict).
    ``variant``: a departure from the task's default prompt (see
    :class:`~codeduel.tasks.prompting.PromptVariant`); ``batch_size``: greedy problems per
    backend call instead of the backend's own; ``speculative``: llama.cpp's speculative decoding
    (``"ngram"``; in-process llama.cpp models only); all three are part of the run's identity.
    ``reuse_finished``: a finished run of the same spec is read back instead of made again
    (experiments that revisit a configuration, e.g. ``reproduce``).
    ``sample``: a random sample of that many problems (seeded by ``seed``) instead of the
    first ``limit``. ``rejudge``: every timed-out program runs again alone on a one-worker
    executor; both verdicts are kept (the second in ``details["rejudge"]``) and changed ones are
    counted as load-dependent in the summary. ``task_options``: the task's own settings (APPS
    ``difficulty``; LiveCodeBench ``release``, ``since``, ``until``, ``platform``), passed to
    :func:`~codeduel.tasks.get_task` and recorded in the run's spec (its identity).
    ``name``: what ``runs``, ``compare`` and ``report`` call the run (``spec["name"]``; default
    the model). It is not part of the identity: rerunning under another name resumes the run
    and renames it.
    """
    started = time.perf_counter()
    task = resolve_task_name(task)  # an alias (openai_humaneval) is recorded as what it names
    # Everything a user can get wrong is checked before a model is loaded or a run recorded.
    if style not in (None, *STYLES):
        raise CodeduelError(f"unknown --style {style!r}", f"use one of {', '.join(STYLES)}")
    check_params(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        n=n,
        seed=seed,
    )
    require_positive(limit=limit, workers=workers, batch_size=batch_size, sample=sample)
    name = check_run_name(name)
    resolved = resolve(model)  # once: the record name, the preset, the backend
    spec_name, preset = resolved.name, resolved.record_preset
    if speculative is not None:
        check_speculative(speculative, resolved)
    # Plain JSON values (a date becomes its ISO text), as the spec is hashed as JSON.
    chosen_options = {
        name: value if isinstance(value, str | int | float | bool) else str(value)
        for name, value in (task_options or {}).items()
        if value is not None
    }
    the_task = get_task(task, Path(data_dir) if data_dir is not None else None, **chosen_options)
    family: Family = family_for(task).bind(
        RunOptions(
            model=spec_name,
            preset=preset,
            fim_order=fim_order,
            fim_format=fim_format,
            variant=variant or PromptVariant(),
        )
    )
    chosen_style: Style = (
        style or family.fixed_style or (preset.prompt_style if preset else "completion")
    )
    split = split if split is not None else DEFAULT_SPLITS.get(task)
    problems = select_problems(the_task, split, limit, sample, seed)
    dataset = the_task.dataset()
    ks = parse_ks(k)

    life = RunLifecycle(store)
    db = life.db
    own_model = loaded_model is None
    lm: Model | None = loaded_model
    pool: RayModelPool | None = None
    judge: SubmittingExecutor | None = None
    try:
        # The executor starts first: a bad --executor, --workers or --ray-address (or a missing
        # required isolation layer) fails in a second, before minutes of model loading.
        use_pool = gen_workers is not None and loaded_model is None
        # --ray-address serves the generation workers too; only then may a local executor see it.
        exec_address = None if use_pool and executor == "local" else ray_address
        exec_opts = executor_options(
            the_task.packages,
            workers=workers,
            data_dir=data_dir,
            ray_address=exec_address,
            require_isolation=require_isolation,
            hash_seed=hash_seed,
        )
        judge = open_executor(executor, exec_opts)
        check = getattr(the_task, "check_sample", None)  # e.g. a missing toolchain: say so
        if check is not None:  # before minutes of model loading
            check({})
        options: dict[str, Any] = {}
        if base_url is not None:
            if resolved.prefix != "openai":
                raise CodeduelError(
                    "--base-url applies only to openai: models", "use --model openai:NAME"
                )
            options["base_url"] = base_url
        if speculative is not None:
            options["speculative"] = speculative
        if use_pool and gen_workers is not None:
            from codeduel.cluster.generation import RayModelPool

            pool = RayModelPool(resolved, gen_workers, address=ray_address, options=options)
            info = pool.info()
        else:
            if lm is None:
                lm = load_model(resolved, **options)
            elif getattr(lm, "speculative", None) != speculative:
                if speculative is not None:
                    raise CodeduelError(
                        f"the loaded model was not loaded with speculative={speculative!r}",
                        "load it with that option, or leave speculative unset",
                    )
                speculative = lm.speculative  # type: ignore[attr-defined]  # recorded as loaded
            info = lm.info()
        template = family.prompt(the_task, problems[0], chosen_style).template
        spec = RunSpec(
            model=spec_name,
            weights_id=info.weights_id,
            weights_sha256=info.sha256,
            task=task,
            dataset_version=dataset.version,
            dataset_sha256=dataset.sha256,
            style=chosen_style,
            template=template,
            split=split,
            limit=limit,
            n=n,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            max_new_tokens=max_new_tokens,
            seed=seed,
            fim_order=family.order if isinstance(family, InfillingFamily) else None,
            batch_size=batch_size,
            sample=sample,
            speculative=speculative,
            task_options=chosen_options or None,
        )
        if reuse_finished:
            done_run = db.finished_run(kind="run", key=spec.key())
            if done_run is not None:
                summary = done_run.summary or {}
                reused = _score(
                    db,
                    done_run.id,
                    spec,
                    dataset,
                    problems,
                    ks,
                    preset,
                    resumed=True,
                    gen_tokens=int(summary.get("generated_tokens", 0)),
                    gen_seconds=float(summary.get("generation_s", 0.0)),
                    duration_s=float(summary.get("duration_s", 0.0)),
                    warnings=list(summary.get("warnings", [])),
                    evalplus=evalplus_dataset(the_task),
                )
                reused.reused = True
                reused.name = str(done_run.spec.get("name") or spec.model)
                return reused
        # The name is recorded beside the spec, outside spec.key(): a rename is no new run.
        run_id, resumed = life.start(
            kind="run",
            key=spec.key(),
            spec={**spec.model_dump(), "name": name or spec.model, "model_info": info.model_dump()},
            task=task,
            dataset=dataset,
        )
        run_name = db.get_run(run_id).spec.get("name")
        if resumed and name is not None and run_name != name:
            db.rename_run(run_id, name)
            run_name = name
        run_name = str(run_name or spec.model)

        the_task.prepare(judge, [p.task_id for p in problems])
        pending: list[tuple[str, int, Future[Verdict]]] = []
        by_id = {p.task_id: p for p in problems}
        total = len(problems) * n
        judged_count = 0

        def submit(task_id: str, idx: int, sample: dict[str, Any]) -> None:
            program = the_task.program(by_id[task_id], sample, key=f"{task_id}#{idx}")
            assert judge is not None
            pending.append((task_id, idx, judge.submit(program)))

        def drain(wait: bool = False) -> None:
            """Store every finished verdict (all of them when ``wait``) in one transaction."""
            nonlocal judged_count
            ready = [item for item in pending if wait or item[2].done()]
            if not ready:
                return
            db.add_verdicts(run_id, [(tid, idx, fut.result()) for tid, idx, fut in ready])
            taken = {id(item) for item in ready}
            pending[:] = [item for item in pending if id(item) not in taken]
            judged_count += len(ready)
            if progress:
                progress("execute", judged_count, total)

        # Resume: judge stored samples that have no verdict yet; skip generated problems.
        done = db.sample_keys(run_id)
        judged = db.sample_keys(run_id, judged=True)
        judged_count = len(judged & {(p.task_id, i) for p in problems for i in range(n)})
        for rec in db.samples(run_id):
            key_ = (rec.task_id, rec.sample_idx)
            if key_ in done and key_ not in judged and rec.task_id in by_id:
                submit(rec.task_id, rec.sample_idx, (rec.extra or {}).get("sample", {}))
        generated = sum(1 for p in problems if (p.task_id, 0) in done)
        if progress:
            progress("generate", generated * n, total)

        gen_tokens = 0
        gen_seconds = 0.0

        def record(
            problem: Problem, prompt: GenPrompt, params: GenParams, completions: list[Any]
        ) -> None:
            """Store one problem's samples in one transaction, then send them to be judged."""
            nonlocal gen_tokens, generated
            records = []
            answers = []
            for idx, comp in enumerate(completions):
                answer = family.answer(problem, prompt, comp.text)
                answers.append(answer)
                if idx == 0 or not params.greedy:  # greedy decodes once, repeats n times
                    gen_tokens += comp.completion_tokens
                records.append(
                    SampleRecord(
                        task_id=problem.task_id,
                        sample_idx=idx,
                        completion=answer.code,
                        prompt=prompt.as_record(),
                        raw_output=comp.text,
                        params=json.loads(params.to_json()),
                        extra={
                            "sample": answer.sample,
                            # a backend that cut at a stop itself reports it, not "eos"
                            "extraction": (
                                comp.finish_reason
                                if answer.extraction == "eos"
                                else answer.extraction
                            ),
                            "template": prompt.template,
                            "finish_reason": comp.finish_reason,
                            "stop_sequence": comp.stop_sequence,
                            "prompt_tokens": comp.prompt_tokens,
                            "completion_tokens": comp.completion_tokens,
                            "seconds": comp.seconds,
                        },
                    )
                )
            db.add_samples(run_id, records)
            for idx, answer in enumerate(answers):
                submit(problem.task_id, idx, answer.sample)
            generated += 1
            if progress:
                progress("generate", generated * n, total)
            drain()

        todo: list[tuple[Problem, GenPrompt, GenParams]] = []
        for problem in problems:
            if (problem.task_id, 0) in done:
                continue
            prompt = family.prompt(the_task, problem, chosen_style)
            params = GenParams(
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                top_p=top_p,
                top_k=top_k,
                n=n,
                stop=prompt.stop,
                seed=_problem_seed(seed, problem.task_id),
            )
            todo.append((problem, prompt, params))
        if pool is None:
            assert lm is not None
            # Greedy problems go to the backend together (up to its greedy_batch samples per
            # call); each is stored as soon as its call returns, so a crash loses one call.
            size = max(1, (batch_size or lm.greedy_batch) // n)
            for chunk in batches(todo, size):
                t0 = time.perf_counter()
                outs = generate_many(lm, [prompt for _, prompt, _ in chunk], chunk[0][2])
                gen_seconds += time.perf_counter() - t0
                for (problem, prompt, params), completions in zip(chunk, outs, strict=True):
                    record(problem, prompt, params, completions)
        else:
            # Every replica takes problems from one queue (greedy ones batched as above);
            # store them in completion order.
            t0 = time.perf_counter()
            size = max(1, (batch_size or pool.greedy_batch) // n)
            futures = {
                pool.submit_many([prompt for _, prompt, _ in chunk], chunk[0][2]): chunk
                for chunk in batches(todo, size)
            }
            for fut in as_completed(futures):
                for item, completions in zip(futures[fut], fut.result(), strict=True):
                    record(*item, completions)
            gen_seconds = time.perf_counter() - t0
        drain(wait=True)
        warnings = _lost_workers(pool, judge)
        rejudged = None
        if rejudge:
            judge.close()  # its workers are idle now; the second opinion needs the CPUs
            rejudged = _rejudge(the_task, by_id, db, run_id, executor, exec_opts)
            if rejudged[1]:
                warnings.append(
                    f"{len(rejudged[1])} of {rejudged[0]} timed-out verdict(s) are "
                    f"load-dependent: run alone they did not time out ({', '.join(rejudged[1][:5])}"
                    f"{' ...' if len(rejudged[1]) > 5 else ''}; see details.rejudge)"
                )
        result = _score(
            db,
            run_id,
            spec,
            dataset,
            problems,
            ks,
            preset,
            resumed=resumed,
            gen_tokens=gen_tokens,
            gen_seconds=gen_seconds,
            duration_s=time.perf_counter() - started,
            warnings=warnings,
            evalplus=evalplus_dataset(the_task),
        )
        if rejudged is not None:
            result.rejudged, result.load_dependent = rejudged[0], len(rejudged[1])
        result.name = run_name
        summary = result.to_dict()
        summary.pop("run_id")
        if meta := view_meta(the_task, problems):
            summary["problem_meta"] = meta
        life.finish(summary)
        return result
    except BaseException as err:
        life.fail(err)
        raise
    finally:
        if judge is not None:
            judge.close()
        if own_model and lm is not None:
            lm.close()
        if pool is not None:
            pool.close()
        life.close()


def _rejudge(
    task: Task,
    by_id: dict[str, Problem],
    db: Store,
    run_id: int,
    executor: str,
    options: ExecutorOptions,
) -> tuple[int, list[str]]:
    """Run every timed-out program of the run again, alone (one worker), and store the second
    verdict in the first one's ``details["rejudge"]`` (the first stays the verdict). Returns how
    many were re-judged and ``task_id#idx`` of those whose status changed."""
    from codeduel.flows.evaluate import record_second_verdict, stored_verdict

    first = {
        (v.task_id, v.sample_idx): stored_verdict(v)
        for v in db.verdicts(run_id)
        if v.status == "timed out" and v.task_id in by_id
    }
    if not first:
        return 0, []
    samples = {(s.task_id, s.sample_idx): s for s in db.samples(run_id)}
    programs = [
        task.program(
            by_id[tid], (samples[(tid, idx)].extra or {}).get("sample", {}), key=f"{tid}#{idx}"
        )
        for tid, idx in first
    ]
    other = open_executor(executor, replace(options, workers=1))
    changed: list[str] = []
    try:
        for second in other.run(programs):
            tid, _, idx = second.key.rpartition("#")
            if record_second_verdict(first[(tid, int(idx))], second, "rejudge"):
                changed.append(second.key)
    finally:
        other.close()
    db.add_verdicts(run_id, [(tid, idx, v) for (tid, idx), v in first.items()])
    return len(first), sorted(changed)


def _lost_workers(pool: RayModelPool | None, judge: Any) -> list[str]:
    """Say so when Ray workers died and their work was redone (the results are unaffected)."""
    out = []
    if pool is not None and pool.lost:
        out.append(
            f"{pool.lost} generation worker(s) lost; {pool.requeued} problem(s) re-generated "
            "on other workers"
        )
    stats = getattr(judge, "stats", None)  # only the Ray executor keeps these
    if stats is not None and int(getattr(stats, "actors_lost", 0)):
        out.append(
            f"{stats.actors_lost} executor worker(s) lost; {stats.resubmitted} program(s) "
            "re-run on other workers"
        )
    return out


def _score(
    db: Store,
    run_id: int,
    spec: RunSpec,
    dataset: DatasetInfo,
    problems: list[Problem],
    ks: tuple[int, ...],
    preset: Preset | None,
    *,
    resumed: bool,
    gen_tokens: int,
    gen_seconds: float,
    duration_s: float,
    warnings: list[str],
    evalplus: str | None = None,
) -> RunResult:
    """A run's result computed from its stored verdicts (the store is the only truth, so a
    resumed run counts its earlier verdicts too)."""
    wanted = {p.task_id for p in problems}
    per_problem: dict[str, tuple[int, int]] = {}
    counts = {"passed": 0, "failed": 0, "timed out": 0}
    kept = []
    for v in db.verdicts(run_id):
        if v.task_id not in wanted:
            continue
        kept.append(v)
        n_, c_ = per_problem.get(v.task_id, (0, 0))
        per_problem[v.task_id] = (n_ + 1, c_ + int(v.passed))
        counts[v.status] = counts.get(v.status, 0) + 1
    samples = db.samples(run_id)
    failures = sum(1 for s in samples if (s.extra or {}).get("extraction") == "none")
    # Published figures exist for the original benchmarks only (not the plus variants).
    published: dict[str, float | None] = {}
    if preset is not None:
        for kk in ks:
            value = preset.published.value(spec.task, kk)
            if value is not None or spec.task in ("humaneval", "mbpp"):
                published[f"pass@{kk}"] = value
    return RunResult(
        run_id=run_id,
        spec=spec,
        dataset=dataset,
        n_problems=len(per_problem),
        n_samples=sum(n for n, _ in per_problem.values()),
        pass_at_k=pass_at_k_table(per_problem, ks),
        counts=counts,
        extraction_failures=failures,
        resumed=resumed,
        generated_tokens=gen_tokens,
        generation_s=gen_seconds,
        duration_s=duration_s,
        published=published,
        store_path=db.path,
        warnings=warnings,
        base=None
        if evalplus is None
        else base_scores(
            evalplus,
            [v.task_id for v in kept],
            [phase_verdict(v.status, v.details) for v in kept],
            ks,
        ),
    )
