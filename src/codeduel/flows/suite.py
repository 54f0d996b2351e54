"""Suites: several models x tasks x decoding settings from one TOML file, in one resumable
command that ends with one report (``codeduel suite suite.toml``).

Why: comparing two models on two benchmarks at two temperatures is eight ``codeduel run``
lines, each resumed by hand after an interruption, then a ``report`` over run ids picked out
of ``runs``. A suite writes that loop down once. Every cell is one
:func:`codeduel.flows.generate.run` into one store, so a cell resumes exactly as a run does
(the hash of its spec finds the unfinished run), a cell whose run already finished is skipped,
and the report covers the suite's runs and nothing else.

The file is checked completely before a model loads: TOML syntax, unknown keys, wrong types,
unknown model presets and tasks, task options a task does not take, decoding values out of
range, an empty matrix. Each problem is one line naming the file, the key path and the fix.

A cell that fails (a missing toolchain, a server that refuses, a bug) does not stop the
others: it is reported with its error, the report covers the cells that finished, and the
command exits non-zero naming the failed cells. Ctrl-C and SIGTERM stop the suite; the cell's
run is marked failed and rerunning the same command resumes it.
"""

from __future__ import annotations

import time
import tomllib
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from itertools import product
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from codeduel.errors import CodeduelError
from codeduel.flows.generate import DECODING_PRESETS, DEFAULT_K, DEFAULT_SPLITS, ProgressFn
from codeduel.flows.generate import run as run_cell
from codeduel.models import Model, load_model, resolve
from codeduel.models.base import check_params
from codeduel.models.llamacpp import check_speculative
from codeduel.models.spec import ModelSpec
from codeduel.records.store import RunRecord, Store, default_store_path, owner_alive
from codeduel.report import build_report
from codeduel.scoring.passk import parse_ks
from codeduel.tasks import get_task, resolve_task_name
from codeduel.tasks.prompting import RunOptions, family_for

__all__ = [
    "Cell",
    "Suite",
    "SuiteCell",
    "SuiteError",
    "SuiteResult",
    "SuiteSpec",
    "load_suite",
    "pin_datasets",
    "plan_suite",
    "run_suite",
]

#: (cell index from 1, cells in total, the cell's state) whenever a cell starts or ends.
CellFn = Callable[[int, int, "SuiteCell"], None]


class SuiteError(CodeduelError):
    """A suite file that cannot be run as written."""


class _Entry(BaseModel):
    """TOML values are typed already, so nothing is coerced ("1" is not 1) and nothing unknown
    is accepted (a misspelt key would otherwise be a silently ignored setting)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DecodingSettings(_Entry):
    """What ``codeduel run`` takes for decoding; unset values come from ``[defaults]``."""

    preset: Literal["paper-pass1", "paper-pass100"] | None = None
    n: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=5.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=1)
    max_new_tokens: int | None = Field(None, ge=1)
    seed: int | None = Field(None, ge=0)


class Defaults(DecodingSettings):
    """Settings every cell gets unless its decoding or task sets its own."""

    limit: int | None = Field(None, ge=1)
    sample: int | None = Field(None, ge=1)


class Decoding(DecodingSettings):
    """One ``[[decoding]]`` setting of the matrix."""

    name: str = Field(min_length=1)


class ModelEntry(_Entry):
    """One ``[[models]]`` entry: ``model`` as ``codeduel run --model`` takes it."""

    model: str = Field(min_length=1)
    name: str | None = Field(None, min_length=1)
    style: Literal["completion", "chat"] | None = None
    base_url: str | None = None
    threads: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1)
    speculative: str | None = None


class TaskEntry(_Entry):
    """One task: a name from ``codeduel tasks`` with its problem selection and options."""

    name: str = Field(min_length=1)
    label: str | None = Field(None, min_length=1)
    limit: int | None = Field(None, ge=1)
    sample: int | None = Field(None, ge=1)
    split: str | None = None
    difficulty: str | None = None
    release: str | None = None
    since: str | date | None = None
    until: str | date | None = None
    platform: str | None = None

    def options(self) -> dict[str, Any]:
        """The task's own settings, as ``get_task`` and the run's spec take them."""
        given = {
            "difficulty": self.difficulty,
            "release": self.release,
            "since": self.since,
            "until": self.until,
            "platform": self.platform,
        }
        chosen = {k: v for k, v in given.items() if v is not None}
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in chosen.items()}


class Exclude(_Entry):
    """Cells left out of the cross product: every key given must match (by name)."""

    model: str | None = None
    task: str | None = None
    decoding: str | None = None


class SuiteSpec(_Entry):
    """The whole suite file. Paths are relative to the file's folder."""

    store: str | None = None
    report: str | None = None
    title: str | None = None
    data_dir: str | None = None
    k: list[int] = Field(default_factory=lambda: list(DEFAULT_K))
    workers: int | None = Field(None, ge=1)
    defaults: Defaults = Field(default_factory=Defaults)
    models: list[ModelEntry]
    tasks: list[TaskEntry]
    decoding: list[Decoding] = Field(default_factory=list)
    exclude: list[Exclude] = Field(default_factory=list)

    @field_validator("tasks", mode="before")
    @classmethod
    def _task_names(cls, value: Any) -> Any:
        """``tasks = ["humaneval", {name = "apps", difficulty = "introductory"}]``: a bare
        name is a task with no options."""
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value


@dataclass(frozen=True)
class Cell:
    """One (model, task, decoding) of the matrix with every argument its run takes."""

    model: str  # the [[models]] name
    task: str  # the task's label
    decoding: str  # the [[decoding]] name
    model_index: int
    spec: str | None  # for run(): None is the embedded default, recorded under its preset name
    record_model: str  # the model name its run records
    task_name: str
    params: dict[str, Any]  # n, temperature, top_p, top_k, max_new_tokens, seed
    selection: dict[str, Any]  # limit, sample, split
    task_options: dict[str, Any]
    style: str  # as given, else the one `codeduel run` would choose
    batch_size: int | None
    speculative: str | None
    dataset_sha256: str | None = None  # set when the suite runs (None: not known yet)

    @property
    def label(self) -> str:
        return f"{self.model} × {self.task} × {self.decoding}"

    @property
    def run_name(self) -> str:
        """What ``runs``, ``compare`` and the report call the cell's run: the model and the
        decoding (the report already separates tasks). Not part of the run's identity."""
        return f"{self.model} {self.decoding}"

    def matches(self, run: RunRecord) -> bool:
        """``run`` is this cell's: the same model, task, decoding and problems (the fields of
        the run's spec the suite sets; what the run picks itself, like the prompt template,
        follows from them)."""
        want: dict[str, Any] = {
            "model": self.record_model,
            "task": self.task_name,
            **self.params,
            **self.selection,
            "task_options": self.task_options or None,
        }
        for name in ("style", "batch_size", "speculative", "dataset_sha256"):
            if getattr(self, name) is not None:
                want[name] = getattr(self, name)
        return run.kind == "run" and all(run.spec.get(k) == v for k, v in want.items())


@dataclass
class SuiteCell:
    """What became of one cell. ``status``: ``done``, ``skipped`` (its run had finished
    before) or ``failed`` at the end; ``started`` or ``resuming`` while it runs; with
    ``dry_run``: ``new``, ``resume`` or ``skip``."""

    model: str
    task: str
    decoding: str
    model_spec: str
    status: str
    run_id: int | None = None
    resumed: bool = False
    pass_at_k: dict[str, float | None] = field(default_factory=dict)
    n_problems: int | None = None
    n_samples: int | None = None
    duration_s: float | None = None
    error: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.model} × {self.task} × {self.decoding}"


@dataclass
class SuiteResult:
    """Every cell's outcome, where they are recorded and the report over them."""

    suite: Path
    store_path: Path
    report: Path | None
    cells: list[SuiteCell]
    dry_run: bool = False
    report_error: str | None = None
    duration_s: float = 0.0

    @property
    def failed(self) -> list[SuiteCell]:
        return [c for c in self.cells if c.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape: pass@k values are fractions in [0, 1]."""
        counts: dict[str, int] = {}
        for c in self.cells:
            counts[c.status] = counts.get(c.status, 0) + 1
        return {
            "suite": str(self.suite),
            "store": str(self.store_path),
            "report": None if self.report is None else str(self.report),
            "report_error": self.report_error,
            "dry_run": self.dry_run,
            "counts": counts,
            "failed": [c.label for c in self.failed],
            "cells": [asdict(c) for c in self.cells],
            "duration_s": round(self.duration_s, 3),
        }


@dataclass
class Suite:
    """A checked suite file: its spec, the cells to run, and where results and report go."""

    path: Path
    spec: SuiteSpec
    cells: list[Cell]
    store: Path
    report: Path
    data_dir: Path | None
    ks: tuple[int, ...]


# ---- reading and checking the file ----------------------------------------------------------

_EXPECTED = {
    "int_type": ("a whole number", "2"),
    "int_from_float": ("a whole number", "2"),
    "float_type": ("a number", "0.8"),
    "string_type": ("a quoted string", '"text"'),
    "bool_type": ("true or false", "true"),
    "list_type": ("a list", "[...]"),
    "model_type": ("a table", "{...} or a [section]"),
    "dict_type": ("a table", "{...} or a [section]"),
    "date_type": ("a date", "2024-06-01"),
}


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model class inside ``X``, ``list[X]`` or ``X | None``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


def _walk(loc: Sequence[int | str]) -> tuple[list[int | str], type[BaseModel] | None]:
    """The key path of an error (pydantic's union member tags dropped) and the table class
    holding its last key (None past a leaf value)."""
    cls: type[BaseModel] | None = SuiteSpec
    path: list[int | str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            path.append(part)
            continue
        if cls is None:
            break  # a union tag ('str', 'date') after a leaf value
        path.append(part)
        if part not in cls.model_fields:
            return path, cls if i == len(loc) - 1 else None
        parent, cls = cls, _inner_model(cls.model_fields[part].annotation)
        if i == len(loc) - 1:
            return path, parent
    return path, cls


def _key_path(path: Sequence[int | str]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "the file"


def _validation_error(file: Path, e: ValidationError) -> SuiteError:
    """The first pydantic error as one line naming the file, the key path and the fix."""
    first = e.errors()[0]
    path, holder = _walk(first.get("loc", ()))
    where = _key_path(path)
    key = next((p for p in reversed(path) if isinstance(p, str)), "value")
    kind = first["type"]
    got = first.get("input")
    if kind == "extra_forbidden":
        known = ", ".join(holder.model_fields) if holder is not None else ""
        return SuiteError(
            f"{file}: unknown key {where}", f"remove it or use one of: {known}" if known else None
        )
    if kind == "missing":
        example = '"embedded"' if key == "model" else '"humaneval"' if key == "name" else "..."
        what = 'a [[models]] table with model = "embedded"' if key == "models" else ""
        what = what or f"{key} = {example}"
        if key == "tasks":
            what = 'tasks = ["humaneval"] (before the first [section])'
        return SuiteError(f"{file}: {where} is missing", f"add {what}")
    if kind == "list_type" and key in ("models", "decoding", "exclude"):
        return SuiteError(
            f"{file}: {where} must be a list of tables, not {got!r}",
            f"write [[{key}]] (double brackets) above each entry",
        )
    if kind in _EXPECTED:
        expected, example = _EXPECTED[kind]
        example = "2024-06-01" if key in ("since", "until") else example
        return SuiteError(
            f"{file}: {where} must be {expected}, not {got!r}", f"write {key} = {example}"
        )
    if kind == "literal_error":
        expected = str((first.get("ctx") or {}).get("expected", ""))
        return SuiteError(f"{file}: {where} is {got!r}", f"use one of {expected}")
    msg = str(first.get("msg", "invalid")).lower()
    return SuiteError(f"{file}: {where} is {got!r}: {msg}", f"change {where} in {file}")


def _in_file(file: Path, where: str, e: CodeduelError) -> SuiteError:
    """A check of the registries, reworded to say where in the suite file it failed."""
    return SuiteError(f"{file}: {where}: {e.problem}", e.fix)


def _relative(base: Path, value: str | Path | None) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _unique(file: Path, section: str, names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise SuiteError(
                f"{file}: {section}[{i}] is named {name!r} like an earlier one",
                f"give it another {what}",
            )
        seen.add(name)


def _decodings(file: Path, spec: SuiteSpec) -> list[tuple[str, dict[str, Any]]]:
    """Each decoding's full settings: its own values, then ``[defaults]``, then the preset,
    then ``codeduel run``'s (greedy, n = 1, 512 new tokens, seed 0)."""
    entries: list[tuple[str, str, DecodingSettings]] = [
        (d.name, f"decoding[{i}]", d) for i, d in enumerate(spec.decoding)
    ] or [(spec.defaults.preset or "default", "defaults", spec.defaults)]
    fields = list(DecodingSettings.model_fields)
    out = []
    for name, where, entry in entries:
        given = {f: getattr(entry, f) for f in fields}
        for f in fields:
            if given[f] is None:
                given[f] = getattr(spec.defaults, f)
        chosen: dict[str, Any] = {"n": 1, "temperature": 0.0, "top_p": 1.0}
        if given["preset"] is not None:
            chosen.update(DECODING_PRESETS[given["preset"]])
        for f in ("n", "temperature", "top_p"):
            if given[f] is not None:
                chosen[f] = given[f]
        chosen["top_k"] = given["top_k"]
        chosen["max_new_tokens"] = given["max_new_tokens"] or 512
        chosen["seed"] = given["seed"] if given["seed"] is not None else 0
        try:
            check_params(**chosen)
        except CodeduelError as e:
            raise _in_file(file, where, e) from None
        out.append((name, chosen))
    return out


def _default_style(task: str, model: ModelSpec) -> str:
    """The prompt style ``codeduel run`` picks when none is given (the task's fixed one, else
    the preset's, else completion), so a cell knows its run without loading the model. Also
    refuses, before anything runs, a task with no prompts for generation or a pairing of an
    infilling task with a model whose FIM sentinels are unknown."""
    preset = model.record_preset
    family = family_for(task).bind(RunOptions(model=model.name, preset=preset))
    return family.fixed_style or (preset.prompt_style if preset else "completion")


def _task_label(task: TaskEntry) -> str:
    if task.label is not None:
        return task.label
    opts = {**task.options(), **({"split": task.split} if task.split else {})}
    inside = ",".join(f"{k}={v}" for k, v in opts.items())
    return f"{task.name}[{inside}]" if inside else task.name


def load_suite(
    path: str | Path,
    *,
    store: str | Path | None = None,
    report: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> Suite:
    """Read and check a suite file completely (nothing is loaded or recorded) and expand its
    matrix. ``store``, ``report`` and ``data_dir`` override the file's (relative to the
    current folder, where the file's are relative to the file's folder)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise SuiteError(
            f"suite file {file} {'is a folder' if file.is_dir() else 'not found'}",
            "give the path of a suite TOML file (docs/suites.md shows one)",
        )
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SuiteError(f"{file}: not valid TOML: {e}", "fix the syntax at that line") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SuiteError(f"cannot read suite file {file}: {e}", "check the file") from None
    try:
        spec = SuiteSpec.model_validate(raw)
    except ValidationError as e:
        raise _validation_error(file, e) from None
    base = file.parent
    data = _relative(Path.cwd(), data_dir) or _relative(base, spec.data_dir)
    if not spec.models:
        raise SuiteError(f"{file}: models is empty", 'add a [[models]] table with model = "..."')
    if not spec.tasks:
        raise SuiteError(f"{file}: tasks is empty", 'name at least one, e.g. tasks = ["humaneval"]')
    if not spec.k or min(spec.k) < 1:
        raise SuiteError(f"{file}: k is {spec.k}", "give positive whole numbers, e.g. k = [1, 10]")
    ks = parse_ks(spec.k)

    models: list[tuple[str, str | None, ModelSpec]] = []
    for i, m in enumerate(spec.models):
        where = f"models[{i}]"
        text = None if m.model in ("embedded", "default") else m.model
        try:
            resolved = resolve(text)
            if m.speculative is not None:
                check_speculative(m.speculative, resolved)
        except CodeduelError as e:
            raise _in_file(file, f"{where}.model", e) from None
        if m.base_url is not None and resolved.prefix != "openai":
            raise SuiteError(
                f"{file}: {where}.base_url applies only to openai: models",
                f'write model = "openai:NAME" or remove {where}.base_url',
            )
        models.append((m.name or m.model, text, resolved))
    _unique(file, "models", [name for name, _, _ in models], "name (name = ...)")

    tasks: list[tuple[str, TaskEntry]] = []
    for i, t in enumerate(spec.tasks):
        try:
            get_task(t.name, data, **t.options())
            # an alias (openai_humaneval) is the task it names, in the cells and their runs
            t = t.model_copy(update={"name": resolve_task_name(t.name)})
        except CodeduelError as e:
            raise _in_file(file, f"tasks[{i}]", e) from None
        tasks.append((_task_label(t), t))
    _unique(file, "tasks", [label for label, _ in tasks], "label (label = ...)")

    decodings = _decodings(file, spec)
    _unique(file, "decoding", [name for name, _ in decodings], "name")

    names = {
        "model": [n for n, _, _ in models],
        "task": [n for n, _ in tasks],
        "decoding": [n for n, _ in decodings],
    }
    for i, ex in enumerate(spec.exclude):
        given = {k: v for k, v in ex.model_dump().items() if v is not None}
        if not given:
            raise SuiteError(
                f"{file}: exclude[{i}] excludes nothing", "give model, task or decoding names"
            )
        for key, value in given.items():
            if value not in names[key]:
                raise SuiteError(
                    f"{file}: exclude[{i}].{key} names no {key} {value!r}",
                    f"use one of: {', '.join(names[key])}",
                )

    cells: list[Cell] = []
    for (mi, (mname, text, resolved)), (ti, (tlabel, t)), (dname, params) in product(
        enumerate(models), enumerate(tasks), decodings
    ):
        here = {"model": mname, "task": tlabel, "decoding": dname}
        if any(all(here[k] == v for k, v in ex.model_dump().items() if v) for ex in spec.exclude):
            continue
        m = spec.models[mi]
        try:
            style = m.style or _default_style(t.name, resolved)
        except CodeduelError as e:
            raise _in_file(file, f"tasks[{ti}] with models[{mi}]", e) from None
        own = t.limit is not None or t.sample is not None
        cells.append(
            Cell(
                model=mname,
                task=tlabel,
                decoding=dname,
                model_index=mi,
                spec=text,
                record_model=resolved.name,
                task_name=t.name,
                params=params,
                selection={
                    "limit": t.limit if own else spec.defaults.limit,
                    "sample": t.sample if own else spec.defaults.sample,
                    "split": t.split if t.split is not None else DEFAULT_SPLITS.get(t.name),
                },
                task_options=t.options(),
                style=style,
                batch_size=m.batch_size,
                speculative=m.speculative,
            )
        )
    if not cells:
        raise SuiteError(f"{file}: every cell is excluded", "remove an [[exclude]] entry")
    for cell in cells:
        sel = cell.selection
        if sel["limit"] is not None and sel["sample"] is not None:
            raise SuiteError(
                f"{file}: the {cell.task} cells get both limit and sample",
                "set one of them (in the task or in [defaults])",
            )
    return Suite(
        path=file,
        spec=spec,
        cells=cells,
        store=_relative(Path.cwd(), store) or _relative(base, spec.store) or default_store_path(),
        report=_relative(Path.cwd(), report)
        or _relative(base, spec.report)
        or file.with_suffix(".html"),
        data_dir=data,
        ks=ks,
    )


# ---- running it ------------------------------------------------------------------------------


def _state(cell: Cell, status: str, **values: Any) -> SuiteCell:
    settings = {**cell.params, **cell.selection, **cell.task_options}
    return SuiteCell(
        model=cell.model,
        task=cell.task,
        decoding=cell.decoding,
        model_spec=cell.record_model,
        status=status,
        settings=settings,
        **values,
    )


def _from_run(cell: Cell, status: str, run: RunRecord) -> SuiteCell:
    """A cell read back from its finished run's summary."""
    s = run.summary or {}
    return _state(
        cell,
        status,
        run_id=run.id,
        pass_at_k={k: v for k, v in s.items() if k.startswith("pass@")},
        n_problems=s.get("n_problems"),
        n_samples=s.get("n_samples"),
        duration_s=s.get("duration_s"),
    )


def _find(runs: Sequence[RunRecord], cell: Cell, finished: bool) -> RunRecord | None:
    """The newest run of this cell that is finished, or else the one its run will resume:
    unfinished and not being written by a live process (a suite running in another terminal
    keeps its run; this one then starts another, as ``run`` does)."""
    return next(
        (
            r
            for r in runs
            if cell.matches(r)
            and (r.status == "finished" if finished else not owner_alive(r))
            and (r.status == "finished") == finished
        ),
        None,
    )


def _load(suite: Suite, cell: Cell) -> Model:
    """The cell's model with its backend options (loaded once for all of its cells)."""
    entry = suite.spec.models[cell.model_index]
    resolved = resolve(cell.spec)
    options: dict[str, Any] = {}
    if entry.base_url is not None:
        options["base_url"] = entry.base_url
    if entry.speculative is not None:
        options["speculative"] = entry.speculative
    if entry.threads is not None and resolved.in_process_cpu:
        options["n_threads"] = entry.threads
    return load_model(resolved, **options)


def _run_one(
    suite: Suite,
    db: Store,
    cell: Cell,
    lm: Model,
    workers: int | None,
    progress: ProgressFn | None,
) -> SuiteCell:
    """One cell as one ``codeduel run`` (resumed by the hash of its spec, as ``run`` is)."""
    result = run_cell(
        cell.spec,
        cell.task_name,
        style=cell.style,  # type: ignore[arg-type]
        **cell.params,
        **cell.selection,
        k=suite.ks,
        data_dir=suite.data_dir,
        store=db,
        workers=workers,
        loaded_model=lm,
        progress=progress,
        batch_size=cell.batch_size,
        speculative=cell.speculative,
        task_options=cell.task_options or None,
        name=cell.run_name,
    )
    return _state(
        cell,
        "done",
        run_id=result.run_id,
        resumed=result.resumed,
        pass_at_k=dict(result.pass_at_k),
        n_problems=result.n_problems,
        n_samples=result.n_samples,
        duration_s=result.duration_s,
    )


def pin_datasets(suite: Suite) -> list[Cell]:
    """The cells with their task's dataset sha256, so a run on other data (a new benchmark
    release, another data dir) is not taken for the cell's. A dataset that cannot be read
    leaves it unset: the cell's run then fails with the dataset's own error."""
    shas: dict[str, str | None] = {}
    for cell in suite.cells:
        if cell.task not in shas:
            try:
                task = get_task(cell.task_name, suite.data_dir, **cell.task_options)
                shas[cell.task] = task.dataset().sha256
            except Exception:  # best effort: the cell's own run reports why
                shas[cell.task] = None
    return [replace(c, dataset_sha256=shas[c.task]) for c in suite.cells]


def plan_suite(suite: Suite) -> list[SuiteCell]:
    """What running the suite now would do with each cell (``new``, ``resume`` or ``skip``),
    from the store as it is; nothing is created."""
    runs: list[RunRecord] = []
    if suite.store.exists():
        with Store(suite.store, create=False) as db:
            runs = db.list_runs()
    planned = []
    for cell in pin_datasets(suite):
        done = _find(runs, cell, finished=True)
        if done is not None:
            planned.append(_from_run(cell, "skip", done))
            continue
        partial = _find(runs, cell, finished=False)
        if partial is not None:
            planned.append(_state(cell, "resume", run_id=partial.id))
        else:
            planned.append(_state(cell, "new"))
    return planned


def run_suite(
    path: str | Path,
    *,
    store: str | Path | None = None,
    report: str | Path | None = None,
    data_dir: str | Path | None = None,
    workers: int | None = None,
    dry_run: bool = False,
    on_cell: CellFn | None = None,
    progress: ProgressFn | None = None,
) -> SuiteResult:
    """Run every cell of the suite file at ``path`` not finished before (resuming the
    interrupted ones), then write one report over the suite's runs. A failed cell does not
    stop the others (see :attr:`SuiteResult.failed`); an interrupt stops the suite and
    rerunning resumes it. ``dry_run``: check the file and say what each cell would do."""
    started = time.perf_counter()
    suite = load_suite(path, store=store, report=report, data_dir=data_dir)
    workers = workers if workers is not None else suite.spec.workers
    if dry_run:
        return SuiteResult(
            suite=suite.path,
            store_path=suite.store,
            report=None,
            cells=plan_suite(suite),
            dry_run=True,
            duration_s=time.perf_counter() - started,
        )
    results: list[SuiteCell] = []
    total = len(suite.cells)

    def emit(result: SuiteCell) -> None:
        """Say what a cell is doing: before it runs (as cell len+1), after (as cell len)."""
        if on_cell is not None:
            index = len(results) + (result.status in ("started", "resuming"))
            on_cell(index, total, result)

    with Store(suite.store) as db:
        by_model: dict[int, list[Cell]] = {}
        for cell in pin_datasets(suite):
            by_model.setdefault(cell.model_index, []).append(cell)
        for cells in by_model.values():
            lm: Model | None = None
            load_error: str | None = None
            try:
                for cell in cells:
                    runs = db.list_runs()
                    done = _find(runs, cell, finished=True)
                    if done is not None:
                        results.append(_from_run(cell, "skipped", done))
                        emit(results[-1])
                        continue
                    if load_error is not None:
                        results.append(_state(cell, "failed", error=load_error))
                        emit(results[-1])
                        continue
                    partial = _find(runs, cell, finished=False)
                    emit(
                        _state(cell, "resuming", run_id=partial.id)
                        if partial is not None
                        else _state(cell, "started")
                    )
                    t0 = time.perf_counter()
                    try:
                        if lm is None:
                            try:
                                lm = _load(suite, cell)
                            except Exception as e:
                                load_error = f"loading {cell.model}: {_describe(e)}"
                                raise
                        results.append(_run_one(suite, db, cell, lm, workers, progress))
                    except Exception as e:  # the other cells go on; this one is reported
                        error = load_error or _describe(e)
                        elapsed = time.perf_counter() - t0
                        results.append(_state(cell, "failed", error=error, duration_s=elapsed))
                    emit(results[-1])
            finally:
                if lm is not None:
                    lm.close()
        outcome = SuiteResult(suite=suite.path, store_path=db.path, report=None, cells=results)
        run_ids = [str(c.run_id) for c in results if c.status != "failed" and c.run_id]
        if run_ids:
            try:
                written = build_report(
                    db,
                    run_ids,
                    output=suite.report,
                    title=suite.spec.title or f"codeduel suite {suite.path.stem}",
                )
                outcome.report = written.output
            except CodeduelError as e:
                outcome.report_error = str(e)
    outcome.duration_s = time.perf_counter() - started
    return outcome


def _describe(e: Exception) -> str:
    """One line for a failed cell: a user error as it is, anything else with its type."""
    if isinstance(e, CodeduelError):
        return str(e)
    return f"{type(e).__name__}: {e}".splitlines()[0]
