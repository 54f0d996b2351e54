"""Render :class:`~codeduel.report.data.ReportData` into one self-contained HTML file.

Why jinja2 with autoescaping: every string that came from a model (prompts, outputs, error
messages) is untrusted; the template escapes it, the drill-down data travels as JSON inside a
``<script type="application/json">`` element (with ``</`` neutralised) and the page's script only
ever inserts it with ``textContent``. Plots are inline SVG, so the file opens offline.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from codeduel.report.data import LanguageCell, Matrix, ReportData
from codeduel.report.figures import Plot
from codeduel.scoring.compare import format_p
from codeduel.scoring.stats import SMALL_N

#: Colour scale for pass rates, from none passing to all passing (matches the CSS legend).
SCALE = ["#d73027", "#f46d43", "#fdae61", "#fee08b", "#d9ef8b", "#a6d96a", "#66bd63", "#1a9850"]
NOT_JUDGED = "#c5cad3"

#: Figure sections in page order: (anchor, figure name, title, what to run when it is empty).
FIGURE_SECTIONS = [
    (
        "pass-at-k",
        "pass_at_k",
        "pass@k against k",
        "No run has two or more samples per problem: run with --n 10 (or more) to draw it.",
    ),
    (
        "sweep",
        "temperature_sweep",
        "Temperature sweep",
        "No temperature sweep among the chosen runs: `codeduel sweep --temperatures 0.2,0.8`.",
    ),
    (
        "infilling",
        "infilling",
        "Infilling: PSM vs SPM",
        "No infilling run: `codeduel run --task humaneval-infill-single --fim-order psm`.",
    ),
    (
        "key-retrieval",
        "key_retrieval",
        "Long-context key retrieval",
        "No key-retrieval run: `codeduel key-retrieval --lengths 8k,16k,24k`.",
    ),
    (
        "perplexity",
        "perplexity",
        "Perplexity against context length",
        "No perplexity run: `codeduel perplexity`.",
    ),
]


#: What to run to fill a section that has nothing to show (figure sections: FIGURE_SECTIONS).
ABSENT_HINTS = {
    "pairs": "two runs on the same task and dataset version: `codeduel compare A B`.",
    "experiments": "`codeduel reproduce --limit 20` or `codeduel audit determinism`.",
    "matrix": "a scored run: `codeduel run` or `codeduel evaluate`.",
}


def _figure_hint(anchor: str) -> str:
    return next((e for a, _, _, e in FIGURE_SECTIONS if a == anchor), "")


def _color(rate: float | None) -> str:
    if rate is None:
        return NOT_JUDGED
    return SCALE[min(int(rate * len(SCALE)), len(SCALE) - 1)]


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def _boards(data: ReportData) -> list[dict[str, Any]]:
    """One table per task and dataset; published figures carry a numbered source note."""
    out = []
    for board in data.boards:
        sources: dict[str, int] = {}
        rows = []
        for entry in board.rows:
            row = entry.row
            rows.append(
                {
                    "label": data.labels[row.run_id].short,
                    "rank": "—" if entry.rank is None else entry.rank,
                    "tier": "—" if row.tier is None else row.tier,
                    "n_problems": row.n_problems,
                    "n_samples": row.n_samples,
                    "status": row.status,
                    "incomplete": "; ".join(entry.incomplete),
                    "metrics": [
                        {
                            "estimate": None if m.estimate is None else _pct(m.estimate),
                            "low": _pct(m.low),
                            "high": _pct(m.high),
                            "note": m.note or "",
                            "method": entry.methods.get(m.k, ""),
                        }
                        for m in row.metrics
                    ],
                    "published": [
                        {
                            "k": m.k,
                            "value": _pct(m.published),
                            "protocol": m.protocol or "",
                            "ref": sources.setdefault(entry.sources[m.k], len(sources) + 1),
                        }
                        for m in row.metrics
                        if m.published is not None and m.k in entry.sources
                    ],
                }
            )
        out.append(
            {
                "task": board.task,
                "dataset": board.dataset_version or "",
                "sha": (board.dataset_sha256 or "")[:12],
                "rows": rows,
                "n_complete": sum(1 for e in board.rows if e.rank is not None),
                "sources": [{"ref": i, "text": t} for t, i in sources.items()],
            }
        )
    return out


def _notes(data: ReportData) -> list[dict[str, Any]]:
    return [
        {
            "title": g.title,
            "count": len(g.notes),
            "runs": ", ".join(f"#{r}" for r in g.runs),
            "notes": list(g.notes),
        }
        for g in data.notes
    ]


def _pairs(data: ReportData) -> list[dict[str, Any]]:
    if data.comparison is None:
        return []
    out = []
    for p in data.comparison.pairs:
        diffs: list[dict[str, str] | None] = []
        for k in data.comparison.ks:
            m = next((x for x in p.metrics if x.k == k), None)
            diffs.append(
                None
                if m is None
                else {
                    "diff": f"{100 * m.diff:+.1f}",
                    "low": f"{100 * m.low:+.1f}",
                    "high": f"{100 * m.high:+.1f}",
                }
            )
        verdict = {
            "A better": f"{data.labels[p.run_a].short} better",
            "B better": f"{data.labels[p.run_b].short} better",
        }.get(p.verdict, "not significant")
        out.append(
            {
                "a": data.labels[p.run_a].short,
                "b": data.labels[p.run_b].short,
                "n_paired": p.n_paired,
                "diffs": diffs,
                "test": p.test or "—",
                "p_value": format_p(p.p_value),
                "p_holm": format_p(p.p_holm),
                "verdict": verdict,
                "verdict_class": "ns" if p.verdict == "not significant" else "better",
                "a_only": p.a_solves_b_not,
                "b_only": p.b_solves_a_not,
            }
        )
    return out


def _matrix(mx: Matrix, data: ReportData) -> dict[str, Any]:
    columns = [
        {"run_id": c.run.run_id, "title": f"{c.run.short} · {c.run.status}"} for c in mx.columns
    ]
    rows = []
    for problem in mx.problems:
        cells: list[dict[str, Any] | None] = []
        for c in mx.columns:
            if problem not in c.rates:
                cells.append(None)
                continue
            n, passed = c.rates[problem]
            rate = passed / n if n else None
            cells.append(
                {
                    "key": f"{c.run.run_id}|{problem}",
                    "color": _color(rate),
                    "text": "—"
                    if rate is None
                    else (f"{passed}/{n}" if n > 1 else ("✓" if passed else "✗")),
                    "title": f"{problem} · {c.run.short}: "
                    + ("not judged" if rate is None else f"{passed} of {n} passed"),
                    "total": n,
                }
            )
        rows.append({"problem": problem, "cells": cells})
    return {"task": mx.task, "columns": columns, "rows": rows}


def _language_cell(cell: LanguageCell) -> dict[str, Any]:
    """One cell of the Languages table: its text, and a title that says where it came from."""
    pub = None if cell.published is None else _pct(cell.published)
    where = f"{cell.model} · {cell.task}"
    if cell.run is None:
        title = f"{where}: no run"
        if pub is not None:
            title += f"; published {pub} ({cell.source})"
        return {"run": None, "value": None, "pub": pub, "title": title, "flags": ""}
    flags = [f for f, on in (("partial", cell.partial), ("sampled", not cell.greedy)) if on]
    title = (
        f"{where}: run #{cell.run.run_id}, pass@1 {_pct(cell.estimate)} % "
        f"[{_pct(cell.low)}, {_pct(cell.high)}] on {cell.n_problems} problems"
    )
    if flags:
        title += f" ({', '.join(flags)})"
    if pub is not None:
        title += f"; published {pub} ({cell.source})"
        if cell.protocol and cell.protocol != "paper protocol":
            title += f"; {cell.protocol}"
    if cell.others:
        title += "; other runs not shown: " + ", ".join(f"#{r}" for r in cell.others)
    return {
        "run": cell.run.run_id,
        "value": _pct(cell.estimate),
        "pub": pub,
        "title": title,
        "flags": ", ".join(flags),
    }


def _languages(data: ReportData) -> dict[str, Any] | None:
    grid = data.languages
    if grid is None or not grid.models:
        return None
    return {
        "columns": [{"code": c, "name": n} for c, n in zip(grid.codes, grid.names, strict=True)],
        "rows": [
            {"model": model, "cells": [_language_cell(c) for c in line]}
            for model, line in zip(grid.models, grid.cells, strict=True)
        ],
        "sources": grid.sources,
        # below this the plot scrolls sideways instead of shrinking its labels out of reach
        "min_width": 200 + 72 * len(grid.codes),
    }


def _competitive(data: ReportData) -> list[dict[str, Any]]:
    """The APPS / LiveCodeBench views of each run, as display strings."""
    out = []
    for v in data.competitive:
        tables = []
        for title, groups in (("difficulty", v.by_difficulty), ("contest month", v.by_month)):
            if not groups:
                continue
            rows = []
            for g in groups:
                cells = []
                for m in g.metrics:
                    text = f"pass@{m.k} {_pct(m.estimate)} [{_pct(m.low)}, {_pct(m.high)}]"
                    if m.published is not None:
                        text += f" (paper {_pct(m.published)})"
                    cells.append(text)
                rows.append({"group": g.group, "n": g.n_problems, "cells": cells})
            tables.append({"title": title, "rows": rows})
        c = v.contamination
        contamination = None
        if c is not None:
            contamination = {
                "cutoff": c.cutoff,
                "source": c.source,
                "before": _pct(c.rate_before),
                "after": _pct(c.rate_after),
                "n_before": c.n_before,
                "n_after": c.n_after,
                "diff": None if c.diff is None else _pct(c.diff),
                "low": _pct(c.low),
                "high": _pct(c.high),
                "method": c.method,
            }
        protocol = next((m.protocol for g in v.by_difficulty for m in g.metrics if m.protocol), "")
        out.append(
            {
                "run": v.run_id,
                "model": v.model,
                "task": v.task,
                "tables": tables,
                "contamination": contamination,
                "sources": v.sources,
                "protocol": protocol,
                "note": v.note,
            }
        )
    return out


def _experiments(data: ReportData) -> list[dict[str, Any]]:
    def points(x: Any) -> str:
        return "" if x is None else f"{100 * float(x):+.1f}"

    out = []
    for exp in data.experiments:
        rows = []
        for a in exp.arms:
            effect = "reference"
            if a["diff"] is not None:
                effect = f"{points(a['diff'])} [{points(a['diff_low'])}, {points(a['diff_high'])}]"
            rows.append(
                {
                    "name": a["name"],
                    "template": a["template"],
                    "pass1": f"{_pct(a['pass1'])} [{_pct(a['low'])}, {_pct(a['high'])}]",
                    "effect": effect,
                    "p": "" if a["p_value"] is None else format_p(a["p_value"]),
                    "share": "" if a["share"] is None else f"{100 * a['share']:.0f} %",
                    "run_id": a["run_id"],
                }
            )
        out.append(
            {
                "title": f"#{exp.run_id} {exp.kind}: {exp.model} on {exp.task}",
                "headline": exp.headline,
                "published": _pct(exp.published),
                "rows": rows,
            }
        )
    return out


def _repro(data: ReportData) -> list[dict[str, Any]]:
    out = []
    for run in data.runs:
        out.append(
            {
                "id": run.id,
                "kind": run.kind,
                "model": data.labels[run.id].model,
                "task": run.task or "",
                "dataset_name": run.dataset.get("name") or "",
                "dataset_version": run.dataset.get("version") or "",
                "dataset_sha256": run.dataset.get("sha256") or "",
                "codeduel_version": run.codeduel_version,
                "created": run.created,
                "finished": run.finished or run.status,
                "spec_json": json.dumps(
                    {"spec": run.spec, "machine": run.machine}, indent=2, ensure_ascii=False
                ),
            }
        )
    return out


def _script_json(value: Any) -> str:
    """JSON safe to place inside a <script> element: no ``</script>`` can end it early."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render(data: ReportData, plots: dict[str, Plot]) -> str:
    """The whole page as a string."""
    env = Environment(
        loader=PackageLoader("codeduel.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("report.html.j2")
    settings = data.comparison.settings if data.comparison else {}
    languages = _languages(data)
    competitive = _competitive(data)
    pairs = _pairs(data)
    experiments = _experiments(data)
    matrices = [_matrix(mx, data) for mx in data.matrices]
    notes = _notes(data)
    # only sections with something to show are in the page and its navigation; the others
    # are named once at the end with the command that would fill them
    candidates = [
        ("leaderboard", "Leaderboard", True),
        ("notes", f"Notes ({sum(g['count'] for g in notes)})", bool(notes)),
        ("languages", "Languages", bool(languages)),
        ("competitive", "Competitive", bool(competitive)),
        ("probes", "Contamination", bool(data.probes)),
        ("memorisation", "Memorisation", bool(data.memorisation)),
        ("pairs", "Paired comparisons", bool(pairs)),
        *((a, t, n in plots) for a, n, t, _ in FIGURE_SECTIONS),
        ("experiments", "Reproduce & audits", bool(experiments)),
        ("matrix", "Problems × runs", bool(matrices)),
        ("reproducibility", "Reproducibility", True),
    ]
    sections = [{"id": a, "title": t} for a, t, shown in candidates if shown]
    absent = [
        {"title": t, "hint": hint}
        for a, t, shown in candidates
        if not shown and (hint := ABSENT_HINTS.get(a) or _figure_hint(a))
    ]
    return template.render(
        title=data.title,
        version=data.codeduel_version,
        store_path=data.store_path,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        runs=data.runs,
        sections=sections,
        shown={sec["id"] for sec in sections},
        absent=absent,
        notes=notes,
        n_notes=sum(g["count"] for g in notes),
        small_n=SMALL_N,
        n_boot=settings.get("n_boot", 0),
        level=round(100 * float(settings.get("level", 0.95))),
        alpha=f"{float(settings.get('alpha', 0.05)):g}",
        pass1_test=settings.get("pass1_test", ""),
        ks=data.comparison.ks if data.comparison else [],
        boards=_boards(data),
        pairs=pairs,
        figures={name: plot.svg() for name, plot in plots.items()},
        figure_sections=[
            {
                "id": a,
                "name": n,
                "title": t,
                "empty": e,
                "caption": plots[n].caption if n in plots else "",
            }
            for a, n, t, e in FIGURE_SECTIONS
        ],
        matrices=matrices,
        languages=languages,
        competitive=competitive,
        probes=data.probes,
        memorisation=data.memorisation,
        experiments=experiments,
        scale_css=", ".join(SCALE),
        repro=_repro(data),
        cells_json=_script_json(data.cells),
        runs_json=_script_json(
            {
                str(rid): {"label": label.short, "task": label.task}
                for rid, label in data.labels.items()
            }
        ),
    )
