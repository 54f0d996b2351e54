"""The report's plots, drawn once with matplotlib and written as inline SVG, PNG and SVG files.

Why matplotlib: the same figure object goes into the offline HTML page (as inline SVG, no
JavaScript library, no CDN) and into a paper (``--figures DIR``: PNG at 200 dpi and SVG), so the
numbers a reader sees in the browser are exactly the ones in the exported files.
Each function returns ``None`` when its section has nothing to draw.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: never needs a display

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from codeduel.report.data import ReportData, short_model

#: Okabe-Ito: distinguishable for colour-blind readers and on a projector.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
STYLE: Any = {  # matplotlib rc keys (typed as literals there)
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "axes.titleweight": "bold",
    "axes.titlesize": 11,
    "legend.frameon": False,
    "svg.fonttype": "none",  # text stays text: selectable in the page, editable in papers
    "svg.hashsalt": "codeduel",  # stable ids: the same data gives the same file
}


@dataclass(frozen=True)
class Plot:
    """One drawn figure: its id (file name and page anchor) and caption."""

    name: str
    caption: str
    figure: Figure

    def svg(self) -> str:
        """The figure as an inline ``<svg>`` element (XML prologue stripped)."""
        buf = io.StringIO()
        self.figure.savefig(buf, format="svg", bbox_inches="tight")
        text = buf.getvalue()
        return text[text.index("<svg") :]

    def save(self, folder: Path) -> list[Path]:
        """Write ``NAME.png`` and ``NAME.svg`` into ``folder``."""
        out = []
        for fmt in ("png", "svg"):
            path = folder / f"{self.name}.{fmt}"
            self.figure.savefig(path, format=fmt, dpi=200, bbox_inches="tight")
            out.append(path)
        return out


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _pct(x: float | None) -> float:
    return float("nan") if x is None else 100.0 * x


def outside_legend(target: Axes | Figure, **kwargs: Any) -> None:
    """A legend to the right of the plotting area, never over data. Call it after
    ``tight_layout`` so the axes keep their width: ``savefig`` with ``bbox_inches="tight"``
    widens the image to hold the legend instead."""
    if isinstance(target, Figure):
        target.legend(loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize=8, **kwargs)
    else:
        target.legend(
            loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize=8, **kwargs
        )


def leaderboard_plot(data: ReportData) -> Plot | None:
    """pass@(smallest k) with its interval per run (a forest plot), one panel per task and
    dataset, as the tables: runs are never placed on one scale across tasks. The published
    figure is a diamond; incomplete runs are drawn hollow and grey, below the complete ones."""
    boards = [
        (b, [e for e in b.rows if e.row.metrics and e.row.metrics[0].estimate is not None])
        for b in data.boards
    ]
    boards = [(b, rows) for b, rows in boards if rows]
    if not boards:
        return None
    k = boards[0][1][0].row.metrics[0].k
    heights = [0.42 * len(rows) + 0.7 for _, rows in boards]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            len(boards), 1, figsize=(7.5, sum(heights) + 0.6), squeeze=False, sharex=True,
            gridspec_kw={"height_ratios": heights},
        )  # fmt: skip
        for i, (ax, (board, rows)) in enumerate(zip(axes[:, 0], boards, strict=True)):
            for y, entry in enumerate(rows):
                m = entry.row.metrics[0]
                color = "#8a8f99" if entry.incomplete else _color(i)
                ax.errorbar(
                    _pct(m.estimate),
                    y,
                    xerr=[[_pct(m.estimate) - _pct(m.low)], [_pct(m.high) - _pct(m.estimate)]],
                    fmt="o",
                    color=color,
                    mfc="white" if entry.incomplete else color,
                    capsize=3,
                    markersize=6,
                )
                if m.published is not None:
                    ax.plot(_pct(m.published), y, "D", color="#444", markersize=5, fillstyle="none")
                ax.annotate(
                    f"{_pct(m.estimate):.1f}",
                    (_pct(m.high), y),
                    xytext=(6, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=8,
                    color="#333",
                )
            names = [
                _mpl_text(data.labels[e.row.run_id].short)
                + (" (incomplete)" if e.incomplete else "")
                for e in rows
            ]
            ax.set_yticks(range(len(rows)), names, fontsize=8)
            ax.set_ylim(len(rows) - 0.5, -0.5)
            ax.set_xlim(0, 112)
            title = board.task + (f" ({board.dataset_version})" if board.dataset_version else "")
            ax.set_title(_mpl_text(title), fontsize=10, loc="left")
        axes[-1][0].set_xlabel(
            f"pass@{k} (%), 95% interval;  ◇ published figure (source in the table)"
        )
        fig.tight_layout()
    return Plot("leaderboard", f"pass@{k} per run with 95% intervals, one panel per task", fig)


def pass_at_k_plot(data: ReportData) -> Plot | None:
    """pass@k against k (log scale) per run, with its 95 % band (the leaderboard's rule)."""
    if not data.curves:
        return None
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.0, 4.2))
        for i, curve in enumerate(data.curves):
            ks = [p.k for p in curve.points]
            ax.plot(
                ks,
                [_pct(p.estimate) for p in curve.points],
                "o-",
                color=_color(i),
                label=f"{curve.run.short} · {curve.run.task}",
                markersize=4,
            )
            ax.fill_between(
                ks,
                [_pct(p.low) for p in curve.points],
                [_pct(p.high) for p in curve.points],
                color=_color(i),
                alpha=0.15,
                linewidth=0,
            )
        ax.set_xscale("log")
        all_ks = sorted({p.k for c in data.curves for p in c.points})
        ax.set_xticks(all_ks, [str(k) for k in all_ks])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("k (samples allowed per problem)")
        ax.set_ylabel("pass@k (%)")
        ax.set_ylim(0, 100)
        ax.set_title("pass@k against k")
        fig.tight_layout()
        outside_legend(ax)
    return Plot(
        "pass_at_k",
        "pass@k against k with 95% bands (intervals as in the leaderboard's methods note)",
        fig,
    )


def sweep_plot(data: ReportData) -> Plot | None:
    """The paper's Figure 6: pass@k against sampling temperature, one panel per k."""
    if not data.sweeps:
        return None
    ks = list(dict.fromkeys(k for s in data.sweeps for k in s.pass_at_k))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(ks), figsize=(3.6 * len(ks) + 0.8, 3.6), squeeze=False)
        for ax, k in zip(axes[0], ks, strict=True):
            for i, series in enumerate(data.sweeps):
                values = series.pass_at_k.get(k)
                if not values or all(v is None for v in values):
                    continue
                ax.plot(
                    series.temperatures,
                    [_pct(v) for v in values],
                    "o-",
                    color=_color(i),
                    label=f"{short_model(series.model)} (sweep #{series.sweep_id}, n={series.n})",
                )
            ax.set_title(k)
            ax.set_xlabel("temperature")
            ax.set_ylim(0, 100)
        axes[0][0].set_ylabel("pass@k (%)")
        fig.tight_layout()
        handles, names = axes[0][0].get_legend_handles_labels()
        outside_legend(fig, handles=handles, labels=names)
    return Plot("temperature_sweep", "pass@k against sampling temperature (paper Figure 6)", fig)


def infill_plot(data: ReportData) -> Plot | None:
    """PSM against SPM pass@1 per model and infilling task, with intervals."""
    if not data.infill:
        return None
    groups = list(dict.fromkeys((b.task, b.run.model) for b in data.infill))
    orders = sorted({b.order for b in data.infill})
    width = 0.8 / len(orders)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(groups) + 2), 3.8))
        for j, order in enumerate(orders):
            xs, ys, lo, hi = [], [], [], []
            for g, (task, model) in enumerate(groups):
                bar = next(
                    (
                        b
                        for b in data.infill
                        if (b.task, b.run.model, b.order) == (task, model, order)
                    ),
                    None,
                )
                if bar is None:
                    continue
                xs.append(g + (j - (len(orders) - 1) / 2) * width)
                ys.append(_pct(bar.estimate))
                lo.append(_pct(bar.estimate) - _pct(bar.low))
                hi.append(_pct(bar.high) - _pct(bar.estimate))
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, color=_color(j), label=order)
            for x, y in zip(xs, ys, strict=True):
                ax.annotate(
                    f"{y:.1f}",
                    (x, y),
                    xytext=(0, 3),
                    textcoords="offset points",
                    ha="center",
                    fontsize=8,
                )
        ax.set_xticks(
            range(len(groups)),
            [f"{short_model(m)}\n{t.removeprefix('humaneval-')}" for t, m in groups],
            fontsize=8,
        )
        ax.set_ylabel("pass@1 (%)")
        ax.set_ylim(0, 100)
        ax.set_title("Infilling: PSM against SPM")
        fig.tight_layout()
        outside_legend(ax, title="FIM order")
    return Plot(
        "infilling",
        "Infilling pass@1 by FIM order, 95% intervals as in the leaderboard's methods note",
        fig,
    )


def retrieval_plot(data: ReportData) -> Plot | None:
    """Key-retrieval accuracy heatmaps: context length × needle position, one per run."""
    if not data.retrieval:
        return None
    n = len(data.retrieval)
    with plt.rc_context(STYLE | {"axes.grid": False}):
        fig, axes = plt.subplots(
            1,
            n,
            figsize=(3.4 * n + 1.0, 0.55 * max(len(g.lengths) for g in data.retrieval) + 1.8),
            squeeze=False,
        )
        image = None
        for ax, grid in zip(axes[0], data.retrieval, strict=True):
            values = [[_pct(v) for v in row] for row in grid.accuracy]
            image = ax.imshow(values, cmap="viridis", vmin=0, vmax=100, aspect="auto")
            for i, row in enumerate(values):
                for j, v in enumerate(row):
                    text = "skip" if math.isnan(v) else f"{v:.0f}"
                    ax.text(
                        j,
                        i,
                        text,
                        ha="center",
                        va="center",
                        fontsize=9,
                        color="white" if math.isnan(v) or v < 60 else "black",
                    )
            ax.set_xticks(range(len(grid.positions)), [f"{p:g}" for p in grid.positions])
            ax.set_yticks(range(len(grid.lengths)), [f"{x:,}" for x in grid.lengths])
            ax.set_xlabel("needle position (fraction of context)")
            ax.set_ylabel("context length (tokens)")
            ax.set_title(grid.run.short, fontsize=9)
        if image is not None:
            fig.colorbar(image, ax=axes[0].tolist(), label="accuracy (%)", shrink=0.9)
    return Plot(
        "key_retrieval",
        "Key-retrieval accuracy by context length and position (paper Table 17)",
        fig,
    )


def perplexity_plot(data: ReportData) -> Plot | None:
    """Perplexity against token position: does more context keep helping?"""
    if not data.perplexity:
        return None
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.0, 3.8))
        for i, curve in enumerate(data.perplexity):
            rows = [b for b in curve.buckets if b.get("perplexity") is not None]
            ax.plot(
                range(len(rows)),
                [b["perplexity"] for b in rows],
                "o-",
                color=_color(i),
                label=curve.run.short,
            )
            ax.set_xticks(range(len(rows)), [b["bucket"] for b in rows], fontsize=8)
        ax.set_xlabel("token position in file")
        ax.set_ylabel("perplexity")
        ax.set_title("Perplexity against context position")
        fig.tight_layout()
        outside_legend(ax)
    return Plot("perplexity", "Per-token perplexity by position bucket", fig)


def experiments_plot(data: ReportData) -> Plot | None:
    """Each experiment's arms: pass@1 with its interval, the published figure as a line."""
    if not data.experiments:
        return None
    shown = data.experiments[-4:]  # the newest four; the tables list them all
    heights = [0.9 + 0.32 * len(e.arms) for e in shown]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            len(shown), 1, figsize=(7.0, sum(heights)), squeeze=False,
            gridspec_kw={"height_ratios": heights},
        )  # fmt: skip
        legends: list[Axes] = []
        for ax, exp in zip(axes[:, 0], shown, strict=True):
            ys = list(range(len(exp.arms)))[::-1]
            for y, arm in zip(ys, exp.arms, strict=True):
                colour = _color(0 if arm["diff"] is None else 1)
                ax.errorbar(
                    _pct(arm["pass1"]), y,
                    xerr=[[_pct(arm["pass1"] - arm["low"])], [_pct(arm["high"] - arm["pass1"])]],
                    fmt="o", color=colour, capsize=3,
                )  # fmt: skip
            if exp.published is not None:
                ax.axvline(_pct(exp.published), color=_color(3), ls="--", label="published")
                legends.append(ax)
            ax.set_yticks(ys, [a["name"] for a in exp.arms], fontsize=8)
            ax.set_ylim(-0.6, len(exp.arms) - 0.4)
            ax.set_xlim(0, 100)
            ax.set_title(f"#{exp.run_id} {exp.kind}: {short_model(exp.model)} on {exp.task}")
        axes[-1][0].set_xlabel("pass@1 (%), greedy, 95 % bootstrap interval")
        fig.tight_layout()
        for ax in legends:
            outside_legend(ax)
    return Plot("experiments", "Each arm's greedy pass@1 against the published figure", fig)


def _mpl_text(text: str) -> str:
    """A stored string as matplotlib draws it literally: ``$`` would start mathtext."""
    return text.replace("$", r"\$")


def _row_names(models: list[str]) -> list[str]:
    """Short model names, or the full ones where two short names would read the same."""
    short = [short_model(m) or m for m in models]
    return [s if short.count(s) == 1 else m for s, m in zip(short, models, strict=True)]


def languages_plot(data: ReportData) -> Plot | None:
    """Greedy pass@1 per model (rows) and MultiPL-E language (columns), published in brackets."""
    grid = data.languages
    if grid is None or not grid.models:
        return None
    rows, cols = len(grid.models), len(grid.codes)
    values = [[_pct(c.estimate) for c in line] for line in grid.cells]
    with plt.rc_context(STYLE | {"axes.grid": False}):
        fig, ax = plt.subplots(figsize=(1.05 * cols + 2.6, 0.62 * rows + 1.6))
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#eef0f4")
        image = ax.imshow(values, cmap=cmap, vmin=0, vmax=100, aspect="auto")
        for i, line in enumerate(grid.cells):
            for j, cell in enumerate(line):
                v = values[i][j]
                pub = "" if cell.published is None else f"\n(pub {_pct(cell.published):.1f})"
                if math.isnan(v):
                    text, color, style = "no run" + pub, "#5b6475", "italic"
                else:
                    mark = "" if cell.greedy and not cell.partial else "*"
                    text, color, style = (
                        f"{v:.1f}{mark}{pub}",
                        "white" if v < 60 else "black",
                        "normal",
                    )
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color=color,
                        fontstyle=style)  # fmt: skip
        ax.set_xticks(range(cols), [_mpl_text(n) for n in grid.names], fontsize=9)
        ax.set_yticks(range(rows), [_mpl_text(n) for n in _row_names(grid.models)], fontsize=9)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xticks([x - 0.5 for x in range(1, cols)], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, rows)], minor=True)
        ax.grid(which="minor", color="white", linewidth=2, alpha=1.0)
        ax.tick_params(which="minor", length=0)
        ax.xaxis.tick_top()
        ax.set_title("MultiPL-E: greedy pass@1 (%) by language", pad=12)
        fig.colorbar(image, ax=ax, label="pass@1 (%)", shrink=0.9, pad=0.02)
        fig.tight_layout()
    return Plot(
        "languages",
        "Greedy pass@1 in % per model and language; (pub …) is the published figure, "
        "* marks a partial or sampled run",
        fig,
    )


def contamination_plot(data: ReportData) -> Plot | None:
    """pass@1 per contest month for each run with dated problems, the training cutoff marked."""
    runs = [v for v in data.competitive if v.by_month]
    if not runs:
        return None
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 4.0))
        months = sorted({g.group for v in runs for g in v.by_month})
        where = {m: i for i, m in enumerate(months)}
        for v in runs:
            xs = [where[g.group] for g in v.by_month]
            ys = [100 * g.metrics[0].estimate for g in v.by_month]
            lo = [100 * (g.metrics[0].estimate - g.metrics[0].low) for g in v.by_month]
            hi = [100 * (g.metrics[0].high - g.metrics[0].estimate) for g in v.by_month]
            line = ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3,
                               label=_mpl_text(f"#{v.run_id} {v.model}"))  # fmt: skip
            c = v.contamination
            if c is not None:
                cut = c.cutoff[:7]
                x = (sum(1 for m in months if m <= cut) - 0.5) if months else 0
                ax.axvline(x, color=line[0].get_color(), linestyle="--", linewidth=1)
                ax.text(x, 101, _mpl_text(f"cutoff {c.cutoff}"), fontsize=8, ha="center")
        ax.set_xticks(range(len(months)), months, rotation=45, ha="right", fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_ylabel("pass@1 (%)")
        ax.set_title("LiveCodeBench: pass@1 by contest month")
        fig.tight_layout()
        outside_legend(ax)
    return Plot(
        "contamination",
        "pass@1 (%) per contest month with 95% bootstrap intervals; the dashed line is the "
        "model's training cutoff",
        fig,
    )


FIGURES: dict[str, Callable[[ReportData], Plot | None]] = {
    "leaderboard": leaderboard_plot,
    "languages": languages_plot,
    "contamination": contamination_plot,
    "pass_at_k": pass_at_k_plot,
    "temperature_sweep": sweep_plot,
    "infilling": infill_plot,
    "key_retrieval": retrieval_plot,
    "perplexity": perplexity_plot,
    "experiments": experiments_plot,
}


def draw_all(data: ReportData) -> dict[str, Plot]:
    """Every figure that has data, by name."""
    plots = {}
    for name, draw in FIGURES.items():
        plot = draw(data)
        if plot is not None:
            plots[name] = plot
    return plots


def close_all(plots: dict[str, Plot]) -> None:
    """Free the figures (matplotlib keeps them alive otherwise)."""
    for plot in plots.values():
        plt.close(plot.figure)
