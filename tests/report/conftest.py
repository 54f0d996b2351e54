"""Shared browser checks for the report tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from matplotlib.transforms import Bbox

from codeduel.report.figures import Plot

#: Pairs of visible text runs (outside the inline plots) whose boxes overlap by more than 2 px
#: both ways; a run inside a scrolling or clipping box counts only for the part that box shows.
OVERLAPS_JS = """() => {
  const clips = new Map();
  function clipOf(el) {  // the visible area left by every clipping ancestor of el
    if (!el || el === document.body) return [-1e9, -1e9, 1e9, 1e9];
    if (clips.has(el)) return clips.get(el);
    let box = clipOf(el.parentElement);
    const cs = getComputedStyle(el);
    if (cs.overflowX !== "visible" || cs.overflowY !== "visible") {
      const r = el.getBoundingClientRect();
      box = [Math.max(box[0], r.left), Math.max(box[1], r.top),
             Math.min(box[2], r.right), Math.min(box[3], r.bottom)];
    }
    clips.set(el, box);
    return box;
  }
  const boxes = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || el.closest("svg, script, style")) continue;
    if (!el.checkVisibility({ visibilityProperty: true })) continue;  // e.g. in closed <details>
    const [cl, ct, cr, cb] = clipOf(el);
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      const box = [Math.max(r.left, cl), Math.max(r.top, ct),
                   Math.min(r.right, cr), Math.min(r.bottom, cb)];
      if (box[2] > box[0] && box[3] > box[1]) {
        boxes.push([box, node.textContent.trim().slice(0, 30)]);
      }
    }
  }
  const out = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, ta] = boxes[i], [b, tb] = boxes[j];
      const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
      const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
      if (w > 2 && h > 2) out.push(ta + " / " + tb);
    }
  }
  return out.slice(0, 10);
}"""


def check_readable(page_obj: Any, width: int) -> None:
    """No sideways scrolling of the page and no text over other text, with every collapsed
    part of the page opened (the worst case)."""
    overflow = page_obj.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width + 1, f"the page is {overflow}px wide at {width}px"
    assert page_obj.evaluate(OVERLAPS_JS) == []
    page_obj.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    overflow = page_obj.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width + 1, f"opened, the page is {overflow}px wide at {width}px"
    assert page_obj.evaluate(OVERLAPS_JS) == []


@pytest.fixture
def assert_readable() -> Callable[[Any, int], None]:
    """``assert_readable(page, width)``: a Playwright page at ``width`` px neither scrolls
    sideways nor draws text over text, collapsed parts closed and opened."""
    return check_readable


def legend_overlaps(plots: dict[str, Plot]) -> list[str]:
    """Every legend drawn over an axes of its figure (the data area), as ``name: legend``."""
    found = []
    for name, plot in plots.items():
        fig = plot.figure
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
        for legend in legends:
            box = legend.get_window_extent(renderer)
            if any(Bbox.intersection(box, ax.bbox) for ax in fig.axes):
                found.append(f"{name}: {[t.get_text() for t in legend.get_texts()]}")
    return found


@pytest.fixture
def legends_over_axes() -> Callable[[dict[str, Plot]], list[str]]:
    """``legends_over_axes(plots)``: the legends that cover an axes (none should)."""
    return legend_overlaps
