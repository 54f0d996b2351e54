"""``codeduel contamination``: has the model seen the test? Paired original-vs-twin evidence."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from codeduel import api
from codeduel.cli.console import err, guard, out, print_json, safe
from codeduel.cli.options import (
    DataDirOpt,
    JsonOpt,
    LimitOpt,
    MaxNewTokensOpt,
    ModelOpt,
    SampleOpt,
    SeedOpt,
    StoreOpt,
    StyleOpt,
    WorkersOpt,
)

TOP = 10  # problems shown in the ranked table (all are in --json and the store)


def _num(x: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "—" if x is None else f"{scale * x:.{digits}f}"


def contamination(
    model: ModelOpt = None,
    task: Annotated[
        str, typer.Option("--task", "-t", help="A task whose problems ship a reference solution.")
    ] = "humaneval",
    limit: LimitOpt = None,
    sample: SampleOpt = None,
    seed: SeedOpt = 0,
    k_percent: Annotated[
        float,
        typer.Option("--k-percent", help="Min-K%: percent of lowest-probability tokens averaged."),
    ] = 20.0,
    max_new_tokens: MaxNewTokensOpt = 384,
    style: StyleOpt = None,
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    workers: WorkersOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Verbatim recall, Min-K% likelihood and pass@1 on each problem against a rewritten twin
    no training set holds; the paired difference with its interval, and a ranked list.

    Example: codeduel contamination --task humaneval --sample 40
    """
    with guard():
        result = api.contamination(
            model,
            task,
            data_dir=data_dir,
            limit=limit,
            sample=sample,
            seed=seed,
            k_percent=k_percent / 100.0,
            max_new_tokens=max_new_tokens,
            style=style,
            workers=workers,
            store=store,
            progress=None if as_json else (lambda msg: err.print(safe(msg), highlight=False)),
        )
        data = result.to_dict()
        if as_json:
            print_json(data)
            return
        _print(data)


def _print(data: dict[str, Any]) -> None:
    from rich.table import Table

    out.print(safe(f"{data['model']} on {data['task']}: {data['headline']}"), soft_wrap=True)
    gap = data.get("likelihood_gap")
    if gap:
        out.print(
            safe(
                f"Min-K% of the reference minus its twin's: {gap['estimate']:+.3f} "
                f"[{gap['low']:+.3f}, {gap['high']:+.3f}] over {gap['n']} problems "
                f"(Wilcoxon p = {gap['p_value']:.3g}; > 0: the original is likelier)"
            ),
            soft_wrap=True,
        )
    recall = data["recall"]
    out.print(
        f"verbatim: {recall['exact']} of {data['n_problems']} references reproduced exactly; "
        f"mean similarity {recall['mean_similarity']:.2f}; longest common run "
        f"{recall['max_common_run']} tokens",
        soft_wrap=True,
    )
    table = Table(title=f"problems with the most evidence (top {TOP})")
    for column in ("problem", "score", "exact", "similar", "gap", "passed", "twin"):
        table.add_column(column, justify="left" if column == "problem" else "right")
    for p in data["ranked"][:TOP]:
        twin = "—" if p["twin_passed"] is None else ("pass" if p["twin_passed"] else "fail")
        table.add_row(
            safe(p["task_id"]),
            f"{p['score']:.2f}",
            "yes" if p["recall"].get("exact") else "",
            _num(p["recall"].get("similarity")),
            _num(p.get("reference_gap"), digits=3),
            "pass" if p["passed"] else "fail",
            twin,
        )
    out.print(table)
    for warning in data.get("warnings", []):
        err.print(f"warning: {safe(warning)}", style="yellow", highlight=False, soft_wrap=True)
    out.print(f"store:   {safe(data['store'])} (run {data['run_id']})", highlight=False)


def register(app: typer.Typer) -> None:
    """Attach ``codeduel contamination``."""
    app.command("contamination")(contamination)
