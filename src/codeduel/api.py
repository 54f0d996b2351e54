"""The public Python API: everything the ``codeduel`` command does, as typed functions.

The command line is a thin layer over these names (it imports nothing else of codeduel), so a
notebook or script can do exactly what the shell does::

    from codeduel import api

    result = api.evaluate("samples.jsonl", "humaneval")
    print(result.pass_at_k, result.run_id)
    comparison = api.compare([3, "codellama-7b"])   # run ids or run names
    comparison.to_pandas()                          # pandas optional, as every to_pandas()
    api.report(runs=["3", "7"], output="report.html")

A notebook session, step by step: docs/api.md.

Every user-fixable problem raises :class:`CodeduelError` with a one-line message naming the
fix; an interrupted recording command raises :class:`RunInterrupted` (rerunning resumes it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from codeduel.errors import CodeduelError
from codeduel.execution.doctor import DoctorReport
from codeduel.execution.doctor import doctor_check as doctor
from codeduel.flows.contamination.flow import ContaminationResult, contamination
from codeduel.flows.contamination.memorisation import TEMPLATE_VERSION, MemorisationResult
from codeduel.flows.contamination.memorisation import run_memorisation as _run_memorisation
from codeduel.flows.determinism import DeterminismResult
from codeduel.flows.determinism import run_determinism as audit_determinism
from codeduel.flows.evaluate import (
    EvaluateResult,
    evaluate,
    results_path_for,
    write_reference_samples,
)
from codeduel.flows.export import EXPORT_FORMATS, ExportResult
from codeduel.flows.export import export_run as export
from codeduel.flows.generate import DECODING_PRESETS, STYLES, RunResult, decoding, run
from codeduel.flows.longcontext.keyretrieval import (
    KeyRetrievalResult,
    parse_int_list,
    parse_positions,
)
from codeduel.flows.longcontext.keyretrieval import run_key_retrieval as key_retrieval
from codeduel.flows.longcontext.perplexity import PerplexityResult
from codeduel.flows.longcontext.perplexity import run_perplexity as perplexity
from codeduel.flows.reproduce import FACTORS, ReproduceResult
from codeduel.flows.reproduce import run_reproduce as reproduce
from codeduel.flows.selfinstruct import SelfInstructResult, selfinstruct
from codeduel.flows.suite import SuiteCell, SuiteResult
from codeduel.flows.suite import run_suite as suite
from codeduel.flows.sweep import SweepResult, parse_temperatures
from codeduel.flows.sweep import run_sweep as sweep
from codeduel.languages import LANGUAGES, Toolchain
from codeduel.models.formats import INFILL_FORMATS, InfillFormat
from codeduel.models.presets import Preset, list_presets
from codeduel.records.frames import RunList, VerdictList
from codeduel.records.lifecycle import RunInterrupted
from codeduel.records.store import RunRecord, Store, VerdictRecord, default_store_path
from codeduel.report import ReportResult
from codeduel.report import build_report as report
from codeduel.scoring.compare import (
    Comparison,
    SolvedRule,
    compare_runs,
    format_ci,
    format_p,
    run_name,
)
from codeduel.scoring.passk import parse_ks
from codeduel.scoring.power import PowerPlan, discordance_of
from codeduel.scoring.power import plan as _plan
from codeduel.tasks import get_task, task_aliases, task_names

__all__ = [
    "DECODING_PRESETS",
    "EXPORT_FORMATS",
    "FACTORS",
    "STYLES",
    "TEMPLATE_VERSION",
    "CodeduelError",
    "Comparison",
    "ContaminationResult",
    "DeterminismResult",
    "DoctorReport",
    "EvaluateResult",
    "ExportResult",
    "InfillFormat",
    "KeyRetrievalResult",
    "MemorisationResult",
    "PerplexityResult",
    "PowerPlan",
    "Preset",
    "ReportResult",
    "ReproduceResult",
    "RunInterrupted",
    "RunList",
    "RunRecord",
    "RunResult",
    "SelfInstructResult",
    "Store",
    "SuiteCell",
    "SuiteResult",
    "SweepResult",
    "VerdictList",
    "VerdictRecord",
    "audit_determinism",
    "compare",
    "contamination",
    "decoding",
    "default_store_path",
    "doctor",
    "evaluate",
    "export",
    "format_ci",
    "format_p",
    "get_run",
    "infill_formats",
    "key_retrieval",
    "list_models",
    "list_runs",
    "list_task_aliases",
    "list_tasks",
    "memorisation",
    "parse_int_list",
    "parse_ks",
    "parse_positions",
    "parse_temperatures",
    "perplexity",
    "plan",
    "report",
    "reproduce",
    "results_path_for",
    "run",
    "run_name",
    "run_verdicts",
    "selfinstruct",
    "suite",
    "sweep",
    "toolchains",
    "write_reference_samples",
]


def compare(
    runs: Sequence[int | str] | int | str = (),
    *,
    store: str | Path | Store | None = None,
    ks: Sequence[int] | None = None,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    solved: str = "majority",
    cutoff: str | None = None,
) -> Comparison:
    """Leaderboard (pass@k with bootstrap intervals, published figures) and every paired
    comparison of ``runs``: run ids (ints or digit strings), run names (``--name``) or model
    names, mixed freely; none = every run of ``store`` (a path, an open :class:`Store`, or the
    default store). ``cutoff`` (YYYY-MM-DD) is the training cutoff for LiveCodeBench's
    contamination view. The result prints as ``to_markdown()``/``to_csv()``/``to_json()``."""
    rule: SolvedRule = "any" if solved == "any" else "majority"
    if solved not in ("any", "majority"):
        raise CodeduelError(f"unknown --solved rule {solved!r}", "use majority or any")
    # compare(3) or compare("ref"): one run, not the characters of "ref"
    named = [runs] if isinstance(runs, str | int) else list(runs)

    def compared(db: Store) -> Comparison:
        items = [str(r) for r in named] or [str(r.id) for r in reversed(db.list_runs())]
        return compare_runs(
            db, items, ks=ks, n_boot=n_boot, alpha=alpha, seed=seed, solved=rule, cutoff=cutoff
        )

    if isinstance(store, Store):
        return compared(store)
    with Store(store, create=False) as db:
        return compared(db)


def memorisation(
    model: str | None = None,
    *,
    n: int = 1,
    temperature: float = 0.0,
    top_p: float = 0.95,
    max_new_tokens: int = 64,
    seed: int = 0,
    store: str | Path | Store | None = None,
    limit: int | None = None,
    n_threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MemorisationResult:
    """Prompt ``model`` with Stack Overflow and GitHub contexts (templates of version
    ``TEMPLATE_VERSION``) and report how often it emits handles, emails, URLs, licence headers
    or secrets, per context type with 95 % Wilson intervals; outputs are stored masked only."""
    return _run_memorisation(
        model,
        n=n,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
        store=store,
        limit=limit,
        n_threads=n_threads,
        progress=progress,
    )


def list_runs(store: str | Path | None = None) -> RunList:
    """Every run in the results store, newest first (empty when the store does not exist);
    a list with ``to_pandas()`` (one row per run)."""
    path = Path(store).expanduser() if store is not None else default_store_path()
    if not path.exists():
        return RunList()
    with Store(path, create=False) as db:
        return RunList(db.list_runs())


def get_run(run_id: int, store: str | Path | None = None) -> RunRecord:
    """One run of the results store, or a one-line error naming the fix."""
    with Store(store, create=False) as db:
        return db.get_run(run_id)


def run_verdicts(run_id: int, store: str | Path | None = None) -> VerdictList:
    """A run's verdicts with their sample keys, in sample order; a list with ``to_pandas()``
    (one row per judged sample)."""
    with Store(store, create=False) as db:
        return VerdictList(run_id, db.verdicts(run_id))


def plan(
    baseline: float,
    delta: float,
    *,
    task: str | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    discordance: float | None = None,
    like: Sequence[int] = (),
    store: str | Path | None = None,
    data_dir: str | Path | None = None,
    samples: Sequence[int] = (),
    concentration: float = 1.0,
) -> PowerPlan:
    """Problems needed to tell ``baseline + delta`` from ``baseline`` (pass@1 fractions) at
    ``power`` with the paired test ``compare`` uses, and, for ``task``, what its problems can
    detect as they are. ``discordance``: the share of problems two such models disagree on;
    ``like=(run_a, run_b)`` measures it from two stored greedy runs of one task; default:
    the models fail independently (the most conservative case). ``samples``: also the problems
    needed at each number of samples per problem, by simulating the Wilcoxon test ``compare``
    uses for them (``concentration``: how alike the problems' difficulties are; 1 = most are
    almost always or almost never solved, as on HumanEval)."""
    if like:
        if discordance is not None:
            raise CodeduelError(
                "both a discordance and runs to measure it were given", "give one of them"
            )
        discordance = _discordance_of_runs(like, store)
    n_problems = None
    if task is not None:
        n_problems = len(get_task(task, Path(data_dir) if data_dir else None).problems())
    return _plan(
        baseline,
        delta,
        discordance=discordance,
        power=power,
        alpha=alpha,
        n_problems=n_problems,
        samples=tuple(samples),
        concentration=concentration,
    )


def _discordance_of_runs(runs: Sequence[int], store: str | Path | None) -> float:
    """The share of problems two greedy runs disagree on (first sample of each problem)."""
    if len(runs) != 2:
        raise CodeduelError(f"{len(runs)} runs given to --like", "give exactly two run ids")
    firsts = []
    for run_id in runs:
        verdicts = run_verdicts(run_id, store)
        firsts.append({v.task_id: v.passed for v in verdicts if v.sample_idx == 0})
    shared = sorted(firsts[0].keys() & firsts[1].keys())
    if not shared:
        raise CodeduelError(
            f"runs {runs[0]} and {runs[1]} share no problems", "give two runs of the same task"
        )
    return discordance_of([firsts[0][t] for t in shared], [firsts[1][t] for t in shared])


def list_tasks() -> dict[str, str]:
    """The benchmarks codeduel can score: name -> one-line description."""
    return task_names()


def list_task_aliases() -> dict[str, str]:
    """Names other harnesses use (``openai_humaneval``, ``evalplus/mbppplus``,
    ``multiple-cpp``) -> the task each resolves to (the same sha-pinned files)."""
    return task_aliases()


def toolchains() -> dict[str, Toolchain]:
    """Each language's toolchain on this machine (MultiPL-E code -> state, tools, the one
    command that installs what is missing)."""
    return {code: lang.toolchain() for code, lang in LANGUAGES.items()}


def list_models() -> list[Preset]:
    """The model presets: spec, prompt style, infilling, context and published figures."""
    return list_presets()


def infill_formats() -> dict[str, InfillFormat]:
    """Each model family's fill-in-the-middle sentinels (PSM and SPM)."""
    return dict(INFILL_FORMATS)
