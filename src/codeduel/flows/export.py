"""Exporting a stored run as another tool's result file (``codeduel export``).

Any finished run that judged samples (``evaluate`` or ``run``) can be written as evalplus's
``eval_results.json`` (HumanEval+/MBPP+ runs) or as bigcode-evaluation-harness's metrics JSON,
from the store alone: nothing is judged again. The evalplus file needs the task's dataset (the
same sha256 the run recorded) for the solutions' prompts and the failing inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from codeduel.errors import CodeduelError
from codeduel.formats.writers import (
    EvalPlusRow,
    bigcode_metrics,
    bigcode_task_name,
    evalplus_pass_at_k,
    evalplus_results,
    write_json,
)
from codeduel.records.store import RunRecord, SampleRecord, Store, VerdictRecord
from codeduel.scoring.passk import pass_at_k_table, tally
from codeduel.tasks import get_task
from codeduel.tasks.evalplus import EvalPlusTask, phase_verdict
from codeduel.tasks.humaneval import sample_code

_DEFAULT_K = (1, 10, 100)  # what evalplus and bigcode's code_eval report


@dataclass
class ExportResult:
    """What was written: the file, its format, and the pass@k it holds (fractions)."""

    run_id: int
    format: str
    output: Path
    task: str
    n_problems: int
    n_samples: int
    pass_at_k: dict[str, float | None]  # base + extra for HumanEval+/MBPP+
    base_pass_at_k: dict[str, float | None] | None = None  # evalplus only: base tests alone
    size_bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (what ``codeduel export --json`` prints)."""
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "format": self.format,
            "output": str(self.output),
            "task": self.task,
            "n_problems": self.n_problems,
            "n_samples": self.n_samples,
            **self.pass_at_k,
        }
        if self.base_pass_at_k is not None:
            out["base"] = dict(self.base_pass_at_k)
        out["size_bytes"] = self.size_bytes
        out["warnings"] = list(self.warnings)
        return out


def export_run(
    run_id: int,
    fmt: str,
    output: str | Path,
    *,
    store: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> ExportResult:
    """Write run ``run_id`` of the store as ``fmt`` (a key of :data:`EXPORT_FORMATS`)."""
    if fmt not in EXPORT_FORMATS:
        raise CodeduelError(
            f"unknown export format {fmt!r}", f"use one of: {', '.join(EXPORT_FORMATS)}"
        )
    output = Path(output)
    with Store(store, create=False) as db:
        run = db.get_run(int(run_id))
        verdicts = db.verdicts(run.id)
        samples = {(s.task_id, s.sample_idx): s for s in db.samples(run.id)}
    task_name = _check_run(run, verdicts)
    ks = tuple(int(k) for k in run.spec.get("k") or _DEFAULT_K)
    result = ExportResult(
        run_id=run.id,
        format=fmt,
        output=output,
        task=task_name,
        n_problems=len({v.task_id for v in verdicts}),
        n_samples=len(verdicts),
        pass_at_k={},
    )
    _EXPORTERS[fmt](_Stored(run, verdicts, samples, ks, data_dir), result)
    return result


@dataclass(frozen=True)
class _Stored:
    """What an exporter reads: the run, its verdicts and samples, the k to report, and where
    its dataset is (the evalplus file needs the task's inputs)."""

    run: RunRecord
    verdicts: list[VerdictRecord]
    samples: dict[tuple[str, int], SampleRecord]
    ks: tuple[int, ...]
    data_dir: str | Path | None


def _check_run(run: RunRecord, verdicts: list[VerdictRecord]) -> str:
    if run.status != "finished":
        raise CodeduelError(
            f"run {run.id} is {'interrupted' if run.interrupted else run.status}, not finished",
            "finish it first (rerunning its command resumes it), then export",
        )
    if not run.task or not verdicts:
        raise CodeduelError(
            f"run {run.id} ({run.kind}) holds no judged samples",
            "export an evaluate or run run (see `codeduel runs`)",
        )
    return run.task


def _bigcode(stored: _Stored, result: ExportResult) -> None:
    """Write the metrics file; fill ``result``'s pass@k and size."""
    run, verdicts, ks = stored.run, stored.verdicts, stored.ks
    task = result.task
    counts = tally((v.task_id, v.passed) for v in verdicts)
    result.pass_at_k = pass_at_k_table(counts, ks)
    spec = run.spec
    temperature = spec.get("temperature")
    # bigcode's own argument names (main.py and bigcode_eval/arguments.py EvalArguments) where
    # the run knows the value; a samples file's run knows no decoding settings (None)
    config = {
        "tasks": bigcode_task_name(task),
        "model": spec.get("model"),
        "n_samples": max(n for n, _ in counts.values()),
        "do_sample": None if temperature is None else temperature > 0,
        "temperature": temperature,
        "top_p": spec.get("top_p"),
        "top_k": spec.get("top_k"),
        "seed": spec.get("seed"),
        "limit": spec.get("limit"),
        "max_new_tokens": spec.get("max_new_tokens"),
        "load_generations_path": spec.get("samples"),
        "codeduel": {"run_id": run.id, "kind": run.kind, "task": task, "dataset": run.dataset},
    }
    metrics = bigcode_metrics(task, result.pass_at_k, config)
    result.size_bytes = write_json(result.output, metrics, indent=2)


def _sample_dict(record: SampleRecord | None) -> dict[str, Any]:
    """The sample as it was judged: a generated run keeps it in ``extra["sample"]``; a samples
    file's run keeps its code and which field it came from (completion or solution)."""
    if record is None:
        return {}
    kept = (record.extra or {}).get("sample")
    if isinstance(kept, dict):
        return kept
    return {(record.params or {}).get("field", "completion"): record.completion}


def _evalplus(stored: _Stored, result: ExportResult) -> None:
    """Write eval_results.json; fill ``result``'s base and plus pass@k (read back from the
    written rows, counted as evalplus counts them) and size."""
    run, verdicts, samples, ks, data_dir = (
        stored.run,
        stored.verdicts,
        stored.samples,
        stored.ks,
        stored.data_dir,
    )
    task_name = result.task
    spec_dir = run.spec.get("data_dir")
    chosen_dir = data_dir if data_dir is not None else spec_dir
    task = get_task(
        task_name,
        Path(chosen_dir) if chosen_dir is not None else None,
        **(run.spec.get("task_options") or {}),
    )
    if not isinstance(task, EvalPlusTask):
        raise CodeduelError(
            f"run {run.id} scored {task_name}: evalplus's eval_results.json holds base and plus "
            "verdicts of humaneval+ or mbpp+ only",
            "export it with --format bigcode, or export a humaneval+/mbpp+ run",
        )
    recorded = (run.dataset or {}).get("sha256")
    if recorded and recorded != task.dataset().sha256:
        raise CodeduelError(
            f"run {run.id} scored {task_name} sha256 {str(recorded)[:12]}, the dataset found now "
            f"is {task.dataset().sha256[:12]}",
            "pass --data-dir with the dataset the run used",
        )
    rows = []
    for v in verdicts:
        problem = task.get(v.task_id)
        solution = sample_code(
            _sample_dict(samples.get((v.task_id, v.sample_idx))), problem.prompt, v.task_id
        )
        phases = phase_verdict(v.status, v.details)
        fails: dict[str, list[Any]] = {"base": [], "plus": []}
        if phases.failed_phase is not None and phases.failed_index is not None:
            fails[phases.failed_phase].append(
                task.failing_input(problem, phases.failed_phase, phases.failed_index)
            )
        rows.append(
            EvalPlusRow(
                task_id=problem.task_id,
                solution=solution,
                base_status=phases.base,
                plus_status=phases.plus,
                base_fail_tests=fails["base"],
                plus_fail_tests=fails["plus"],
            )
        )
    total = len(task.problems())
    if result.n_problems < total:
        result.warnings.append(
            f"run {run.id} covers {result.n_problems} of {total} {task_name} problems: "
            "evalplus's pass@k from this file is over those only"
        )
    when = datetime.fromisoformat(run.finished or run.created)
    data = evalplus_results(rows, dataset_hash=task.evalplus_hash(), date=when)
    result.size_bytes = write_json(result.output, data)
    counted = evalplus_pass_at_k(data)
    result.base_pass_at_k = pass_at_k_table(
        {t: (c["n"], c["base"]) for t, c in counted.items()}, ks
    )
    result.pass_at_k = pass_at_k_table({t: (c["n"], c["plus"]) for t, c in counted.items()}, ks)


_Exporter = Callable[[_Stored, ExportResult], None]
#: format name -> (what it writes, the function that writes it); a new format is one entry
_REGISTRY: dict[str, tuple[str, _Exporter]] = {
    "evalplus": ("evalplus 0.3.1 eval_results.json (humaneval+ and mbpp+ runs)", _evalplus),
    "bigcode": ("bigcode-evaluation-harness metrics JSON ({task: {pass@k}, config})", _bigcode),
}
_EXPORTERS: dict[str, _Exporter] = {name: write for name, (_, write) in _REGISTRY.items()}
#: format name -> what it writes
EXPORT_FORMATS: dict[str, str] = {name: text for name, (text, _) in _REGISTRY.items()}
