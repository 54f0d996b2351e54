"""``codeduel report`` on a real store, checked in a real headless browser (Debian's chromium).

The store holds real runs: two HumanEval samples files scored by the sandbox (the canonical
solutions, and a copy with broken answers plus one whose code tries to break out of the page),
and tiny real runs of the embedded model for each plot: a temperature sweep, an infilling run
(PSM), key retrieval and perplexity. The browser test loads the page from a file with every
network request refused, and fails on any console error, any request, or any script injected
through a sample.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from codeduel.api import evaluate
from codeduel.errors import CodeduelError
from codeduel.flows.generate import run as run_model
from codeduel.flows.longcontext.keyretrieval import run_key_retrieval
from codeduel.flows.longcontext.perplexity import run_perplexity
from codeduel.flows.sweep import run_sweep
from codeduel.models import load_model
from codeduel.records.store import Store
from codeduel.report import build_report
from codeduel.tasks import get_task

PROBLEMS = 6
# the store fixture runs the embedded model several times (llama.cpp scores perplexity at
# decode speed); its time counts toward the first test
pytestmark = pytest.mark.timeout(1200)
#: A completion that tries to end the page's data script and run its own code.
HOSTILE = (
    "    return None  # </script><script>window.__pwned = 1</script>"
    '<img src=x onerror="window.__pwned = 2">\n'
)
SECTIONS = [
    "leaderboard",
    "pairs",
    "pass-at-k",
    "sweep",
    "infilling",
    "key-retrieval",
    "perplexity",
    "matrix",
    "reproducibility",
]
FIGURES = [
    "leaderboard",
    "pass_at_k",
    "temperature_sweep",
    "infilling",
    "key_retrieval",
    "perplexity",
]


def _samples(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """One store with every kind of run the report draws (about a minute on two cores)."""
    root = tmp_path_factory.mktemp("report")
    db = root / "results.sqlite"
    problems = get_task("humaneval", data_dir).problems()[:PROBLEMS]
    good = [{"task_id": p.task_id, "completion": p.reference} for p in problems for _ in range(3)]
    mixed = []
    for i, p in enumerate(problems):
        for j in range(3):
            if i == 1 and j == 0:
                completion = HOSTILE
            elif (i + j) % 2:
                completion = "    return None\n"
            else:
                completion = p.reference
            mixed.append({"task_id": p.task_id, "completion": completion})
    evaluate(_samples(root / "reference.jsonl", good), "humaneval", data_dir=data_dir, store=db)
    evaluate(_samples(root / "mixed.jsonl", mixed), "humaneval", data_dir=data_dir, store=db)

    run_sweep(
        [None],
        "humaneval",
        temperatures=[0.2, 0.8],
        n=2,
        limit=1,
        max_new_tokens=48,
        k=[1, 2],
        data_dir=data_dir,
        store=db,
        n_threads=2,
    )
    model = load_model(None)
    try:
        run_model(
            None,
            "humaneval-infill-single",
            limit=2,
            max_new_tokens=16,
            fim_order="psm",
            data_dir=data_dir,
            store=db,
            loaded_model=model,
        )
        run_key_retrieval(
            lengths=[256], positions=[0.0, 0.5], examples=1, store=db, loaded_model=model
        )
        run_perplexity(n_files=1, max_tokens=64, edges=[0, 32, 64], store=db, loaded_model=model)
    finally:
        model.close()
    return db


@pytest.fixture(scope="module")
def report(store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("out")
    result = build_report(store, output=out / "report.html", figures_dir=out / "figures")
    assert result.output.is_file() and result.size_bytes > 10_000
    return result.output, out / "figures"


def test_every_section_has_its_content(report: tuple[Path, Path]) -> None:
    html = report[0].read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'<section id="{section}">' in html, section
    # every figure section drew a plot, none fell back to its "nothing to show" text
    for section in ["pass-at-k", "sweep", "infilling", "key-retrieval", "perplexity"]:
        body = html.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]
        assert "<svg" in body and 'class="empty"' not in body, section
    assert "PSM" in html
    assert html.count('class="cell"') >= 2 * PROBLEMS  # both evaluate runs are in the matrix
    board = html.split('<section id="leaderboard">', 1)[1].split("</section>", 1)[0]
    assert ">tier</th>" in board and "Holm" in board  # significance tiers on the leaderboard
    pairs = html.split('<section id="pairs">', 1)[1].split("</section>", 1)[0]
    assert ">p Holm</th>" in pairs


def test_the_file_is_self_contained(report: tuple[Path, Path]) -> None:
    html = report[0].read_text(encoding="utf-8")
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=[\"']?(https?:)?//", html)
    assert "@import" not in html and "url(http" not in html


def test_figures_are_written_as_png_and_svg(report: tuple[Path, Path]) -> None:
    folder = report[1]
    for name in FIGURES:
        png = folder / f"{name}.png"
        svg = folder / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert "<svg" in svg.read_text(encoding="utf-8"), name


def test_leaderboard_and_pair_numbers_match_the_runs(store: Path) -> None:
    from codeduel.report import collect

    with Store(store, create=False) as db:
        data = collect(db, ["1", "2"], n_boot=200)
    assert data.comparison is not None
    by_run = {row.run_id: row for row in data.comparison.leaderboard}
    assert by_run[1].metrics[0].estimate == pytest.approx(1.0)
    # mixed: per problem, samples j with (i + j) even keep the reference (and one is hostile)
    expected = (
        sum(
            sum(1 for j in range(3) if (i + j) % 2 == 0 and not (i == 1 and j == 0)) / 3
            for i in range(PROBLEMS)
        )
        / PROBLEMS
    )
    assert by_run[2].metrics[0].estimate == pytest.approx(expected)
    (pair,) = data.comparison.pairs
    assert pair.n_paired == PROBLEMS
    assert set(data.cells) >= {f"2|HumanEval/{i}" for i in range(PROBLEMS)}
    hostile = data.cells["2|HumanEval/1"]
    assert any(s["completion"] == HOSTILE and s["status"] == "failed" for s in hostile)


def _chromium() -> str | None:
    path = os.environ.get("CODEDUEL_CHROMIUM") or shutil.which("chromium")
    return path if path and Path(path).exists() else None


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Debian's chromium through Playwright; required where CODEDUEL_REQUIRE_BROWSER=1 (CI)."""
    path = _chromium()
    if path is None:
        if os.environ.get("CODEDUEL_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed: apt-get install chromium", pytrace=False)
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=path, args=args)
        yield instance
        instance.close()


def test_report_in_a_real_browser(browser, report: tuple[Path, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: problems.append(f"dialog: {d.message}"))

    def refuse(route) -> None:  # type: ignore[no-untyped-def]
        if not route.request.url.startswith("file://"):
            problems.append(f"network request: {route.request.url}")
            route.abort()
        else:
            route.continue_()

    page.route("**/*", refuse)
    page.goto(report[0].as_uri())
    for section in SECTIONS:
        assert page.locator(f"section#{section}").is_visible(), section
    assert page.locator("section#sweep svg").count() == 1

    # a cell of the mixed run: its drill-down shows that sample's extracted code
    page.locator('button.cell[data-cell="2|HumanEval/0"]').click()
    panel = page.locator("#drilldown")
    assert "HumanEval/0" in panel.locator("h3").inner_text()
    shown = panel.locator(".sample").inner_text()
    assert "has_close_elements" in shown or "return None" in shown
    assert "extracted code" in shown.lower()

    # the hostile sample is shown as text and runs nothing
    page.locator('button.cell[data-cell="2|HumanEval/1"]').click()
    tabs = panel.locator(".tabs button")
    for i in range(tabs.count()):
        tabs.nth(i).click()
        if "window.__pwned" in panel.locator(".sample").inner_text():
            break
    assert "</script><script>window.__pwned = 1</script>" in panel.locator(".sample").inner_text()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#drilldown img").count() == 0

    shot_dir = Path(os.environ.get("CODEDUEL_SCREENSHOT_DIR", tmp_path))
    shot_dir.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot_dir / "report.png"), full_page=True)
    assert (shot_dir / "report.png").stat().st_size > 10_000
    assert problems == []
    page.close()


def test_legends_are_never_over_data(store: Path, legends_over_axes) -> None:  # type: ignore[no-untyped-def]
    """Every figure of the full report, each kind of plot drawn from real runs."""
    from codeduel.report import collect
    from codeduel.report.figures import close_all, draw_all

    with Store(store, create=False) as db:
        plots = draw_all(collect(db, n_boot=200))
    try:
        assert set(FIGURES) <= set(plots)
        assert legends_over_axes(plots) == []
    finally:
        close_all(plots)


def test_report_at_420_px(browser, report: tuple[Path, Path], assert_readable) -> None:  # type: ignore[no-untyped-def]
    """On a phone: the navigation names only sections with content, notes come after the
    leaderboard and collapsed, and nothing scrolls the page sideways or overlaps."""
    page = browser.new_page(viewport={"width": 420, "height": 900})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    page.goto(report[0].as_uri())
    anchors = [a.get_attribute("href") for a in page.locator("nav a").all()]
    assert anchors[0] == "#leaderboard" and set(f"#{s}" for s in SECTIONS) <= set(anchors)
    for anchor in anchors:
        section = page.locator(f"section{anchor}")
        assert section.count() == 1 and section.locator(".empty").count() == 0, anchor
    assert "#experiments" not in anchors and page.locator("section#experiments").count() == 0
    assert page.locator("section#leaderboard div.board").count() >= 2  # one per task
    notes = page.locator("section#notes details.notes")
    assert notes.get_attribute("open") is None
    assert page.evaluate(
        "document.querySelector('#leaderboard').compareDocumentPosition("
        "document.querySelector('#notes')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    assert_readable(page, 420)
    page.close()


def test_bad_input_is_one_line(store: Path, tmp_path: Path) -> None:
    with pytest.raises(CodeduelError, match="no run id or model"):
        build_report(store, ["no-such-model"], output=tmp_path / "r.html")
    with pytest.raises(CodeduelError, match="does not exist"):
        build_report(store, output=tmp_path / "missing" / "r.html")
    empty = tmp_path / "empty.sqlite"
    Store(empty).close()
    with pytest.raises(CodeduelError, match="has no runs"):
        build_report(empty, output=tmp_path / "r.html")
    with pytest.raises(CodeduelError, match="no results store"):
        build_report(tmp_path / "nothing.sqlite", output=tmp_path / "r.html")


def test_cli_writes_the_report_and_names_partial_runs(store: Path, tmp_path: Path) -> None:
    """A run still in progress is drawn as partial and said so; the CLI exits 0."""
    copy = tmp_path / "copy.sqlite"
    with sqlite3.connect(store) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    with Store(copy, create=False) as db:
        db.reopen_run(2)
    env = {**os.environ, "CODEDUEL_STORE": str(copy)}
    out = tmp_path / "r.html"
    proc = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", "report", "1", "2", "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "is still running: partial" in proc.stderr
    html = out.read_text(encoding="utf-8")
    assert "(partial)" in html
    bad = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", "report", "999", "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
