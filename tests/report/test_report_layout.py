"""The report as a reader meets it: per-task leaderboards, grouped notes, small-n intervals,
incomplete runs, cited sources, navigation, legends, and a 420 px wide phone screen.

The store is a real SQLite results store with runs written the way the flows write them (run,
samples, verdicts, finished), eleven runs on four tasks, so that the notes pile up as they do on
a real store: a preset model whose published figure comes from the Code Llama paper and one
from the Qwen2.5-Coder report, a run that passes everything on six problems (where a percentile
bootstrap says [100, 100]), a better-scoring run that is still running, one that covers half the
problems, a second dataset version, and a model whose name is an HTML injection attempt. The
page is checked in Debian's chromium through Playwright.
"""

from __future__ import annotations

import html as html_lib
import os
import re
import shutil
from pathlib import Path

import pytest

from codeduel.execution.base import Verdict
from codeduel.records.store import SampleRecord, Store
from codeduel.report import build_report, collect
from codeduel.report.data import group_notes
from codeduel.report.figures import close_all, draw_all
from codeduel.scoring.stats import WILSON, wilson_interval
from codeduel.tasks.base import DatasetInfo

CODELLAMA = "codellama-7b"
QWEN = "qwen2.5-coder-0.5b-instruct"
HOSTILE = '<img src=x onerror="window.__pwned=1">'
WIDTH = 420


def record(
    db: Store,
    model: str,
    task: str,
    outcomes: dict[str, list[bool]],
    *,
    version: str = "v1",
    finish: bool = True,
) -> int:
    """One ``run`` of ``model``: each problem's samples passed or failed as ``outcomes`` says."""
    n = max(len(v) for v in outcomes.values())
    spec = {"model": model, "task": task, "temperature": 0.0 if n == 1 else 0.8, "n": n}
    sha = f"{task}-{version}".encode().hex().ljust(64, "0")[:64]
    dataset = DatasetInfo(name=task, version=version, sha256=sha, path="/data")
    run = db.create_run(kind="run", spec=spec, task=task, dataset=dataset)
    keys = [(t, j, ok) for t, oks in outcomes.items() for j, ok in enumerate(oks)]
    samples = [SampleRecord(t, j, "    return 1\n", prompt="def f():\n") for t, j, _ in keys]
    db.add_samples(run, samples)
    db.add_verdicts(
        run,
        [(t, j, Verdict(key=f"{t}/{j}", status="passed" if ok else "failed")) for t, j, ok in keys],
    )
    if finish:
        db.finish_run(run, summary={})
    return run


def problems(prefix: str, passed: list[bool], n: int = 1) -> dict[str, list[bool]]:
    return {f"{prefix}/{i}": [ok] * n for i, ok in enumerate(passed)}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("layout") / "results.sqlite"
    he = "HumanEval"
    with Store(path) as db:
        record(db, CODELLAMA, "humaneval", problems(he, [True, True, False, True, False, True]))
        record(db, QWEN, "humaneval", problems(he, [True] * 6))  # 1: all pass, Wilson
        record(db, HOSTILE, "humaneval", problems(he, [False, True, False, False, False, False]))
        record(db, "big-model", "humaneval", problems(he, [True] * 6), finish=False)  # 4: running
        record(db, "tiny-model", "humaneval", problems(he, [True] * 3))  # 5: half the problems
        record(db, CODELLAMA, "humaneval", problems(he, [True, False] * 3), version="v2")
        record(db, QWEN, "mbpp", problems("Mbpp", [True, False, True, True, False], n=3))
        record(db, CODELLAMA, "mbpp", problems("Mbpp", [False, False, True, True, False], n=3))
        record(db, QWEN, "multipl-e-cpp", problems("HumanEval_cpp", [True, False, True]))
        record(db, CODELLAMA, "multipl-e-cpp", problems("HumanEval_cpp", [True, True, True]))
        record(db, QWEN, "multipl-e-lua", problems("HumanEval_lua", [False, True, True]))
    return path


@pytest.fixture(scope="module")
def page(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("layout-out") / "report.html"
    return build_report(store, output=out, n_boot=300).output


def _section(html: str, anchor: str) -> str:
    return html.split(f'<section id="{anchor}">', 1)[1].split("</section>", 1)[0]


def test_one_leaderboard_per_task_and_dataset(store: Path) -> None:
    with Store(store, create=False) as db:
        data = collect(db, n_boot=300)
    keys = [(b.task, b.dataset_version) for b in data.boards]
    assert keys == [
        ("humaneval", "v1"),
        ("humaneval", "v2"),
        ("mbpp", "v1"),
        ("multipl-e-cpp", "v1"),
        ("multipl-e-lua", "v1"),
    ]
    first = data.boards[0]
    order = [e.row.run_id for e in first.rows]
    # complete runs ranked by pass@1, then the incomplete ones, however well they score
    assert order == [2, 1, 3, 4, 5]
    assert [e.rank for e in first.rows] == [1, 2, 3, None, None]
    by_id = {e.row.run_id: e for e in first.rows}
    assert by_id[4].incomplete in {("interrupted",), ("still running",)}
    assert by_id[5].incomplete == ("3 of 6 problems",)
    assert by_id[4].row.tier is None and by_id[2].row.tier == 1
    # the all-passing greedy run: a Wilson interval on 6 problems, not [100, 100]
    metric = by_id[2].row.metrics[0]
    assert (metric.estimate, metric.high) == (1.0, 1.0)
    assert metric.low == pytest.approx(wilson_interval(6, 6).low) and metric.low < 0.7
    assert by_id[2].methods[1] == WILSON
    # published figures name their real source
    assert "arXiv:2308.12950" in by_id[1].sources[1] and "Code Llama paper" in by_id[1].sources[1]
    assert "arXiv:2409.12186" in by_id[2].sources[1]
    assert "Qwen2.5-Coder" in by_id[2].sources[1]


def test_notes_are_grouped(store: Path, tmp_path: Path) -> None:
    with Store(store, create=False) as db:
        data = collect(db, n_boot=300)
    result = build_report(store, output=tmp_path / "r.html", n_boot=300)
    assert result.notes == data.notes and result.warnings == data.warnings
    assert len(data.warnings) > 30  # what the page used to list before the leaderboard
    assert sum(len(g.notes) for g in data.notes) == len(data.warnings)
    assert len(data.notes) <= 4
    tasks = next(g for g in data.notes if g.kind == "different tasks")
    assert len(tasks.notes) > 30 and set(tasks.runs) == set(range(1, 12))
    running = next(g for g in data.notes if g.kind == "running")
    assert running.runs == (4,)


def test_notes_of_other_kinds_group_by_shape() -> None:
    notes = [
        "run 3 (m, humaneval): 2 samples have no verdict",
        "run 4 (m, humaneval): 5 samples have no verdict",
        "the cache at /x holds 3 stale files",
        "the cache at /x holds 7 stale files",
        "the cache at /x holds 7 stale files",  # identical notes count once
        f"something else about {HOSTILE}",
    ]
    groups = group_notes(notes)
    assert [(g.kind, len(g.notes), g.runs) for g in groups] == [
        ("unjudged", 2, (3, 4)),
        ("the cache at /x holds # stale files", 2, ()),
        (f"something else about {HOSTILE}".replace("1", "#"), 1, ()),
    ]
    assert groups[1].title == "the cache at /x holds # stale files"
    assert groups[2].title == f"something else about {HOSTILE}"  # alone: the note itself


def test_page_structure(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    board = _section(html, "leaderboard")
    assert board.count('<table class="board">') == 5
    assert html.index('<section id="leaderboard">') < html.index('<section id="notes">')
    notes = _section(html, "notes")
    assert '<details class="notes">' in notes and "<details open" not in notes
    # empty sections are neither in the page nor in the navigation
    nav = html.split("<nav>", 1)[1].split("</nav>", 1)[0]
    anchors = re.findall(r'href="#([^"]+)"', nav)
    assert anchors[:2] == ["leaderboard", "notes"]
    for missing in ("sweep", "infilling", "key-retrieval", "perplexity", "experiments"):
        assert missing not in anchors and f'id="{missing}"' not in html
    for anchor in anchors:
        assert 'class="empty"' not in _section(html, anchor), anchor
    assert "Not in this report" in html and "codeduel sweep" in html
    # the methods note says which interval is used where
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", board))
    assert "Wilson score interval" in text and "percentile bootstrap" in text
    assert "[61.0, 100.0]" in text  # Wilson on 6 of 6 problems, in %
    # the hostile model name is text wherever it appears
    assert HOSTILE not in html and html_lib.escape(HOSTILE, quote=False) in board


def test_legends_are_never_over_data(store: Path, legends_over_axes) -> None:  # type: ignore[no-untyped-def]
    with Store(store, create=False) as db:
        data = collect(db, n_boot=300)
    plots = draw_all(data)
    try:
        assert "leaderboard" in plots and "pass_at_k" in plots
        assert legends_over_axes(plots) == []
        # the leaderboard draws one panel per task and dataset
        assert len(plots["leaderboard"].figure.axes) == len(data.boards)
    finally:
        close_all(plots)


def _chromium() -> str | None:
    path = os.environ.get("CODEDUEL_CHROMIUM") or shutil.which("chromium")
    return path if path and Path(path).exists() else None


def test_report_at_420_px(page: Path, assert_readable) -> None:  # type: ignore[no-untyped-def]
    path = _chromium()
    if path is None:
        if os.environ.get("CODEDUEL_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed: apt-get install chromium", pytrace=False)
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=args)
        try:
            tab = browser.new_page(viewport={"width": WIDTH, "height": 900})
            problems: list[str] = []
            tab.on("pageerror", lambda e: problems.append(str(e)))
            tab.on("dialog", lambda d: problems.append(f"dialog: {d.message}"))
            tab.goto(page.as_uri())

            # one table per task and dataset, each in its own box
            boards = tab.locator("section#leaderboard div.board")
            assert boards.count() == 5
            first = boards.nth(0)
            assert first.locator("h3").inner_text().startswith("humaneval")
            rows = first.locator("tbody tr")
            flags = [rows.nth(i).get_attribute("class") or "" for i in range(rows.count())]
            assert flags == ["", "", "", "incomplete", "incomplete"]  # complete ones first
            assert "(partial)" in rows.nth(3).inner_text()
            assert rows.nth(3).locator("td").first.inner_text() == "—"  # not ranked
            wilson = rows.nth(0).locator('td[data-method="Wilson score"]').first
            assert re.search(r"100\.0 \[6\d\.\d, 100\.0\]", wilson.inner_text())
            sources = first.locator("ol.sources").inner_text()
            assert "arXiv:2308.12950" in sources and "arXiv:2409.12186" in sources

            # notes: after the leaderboard, collapsed, with a count
            notes = tab.locator("section#notes details.notes")
            assert notes.get_attribute("open") is None
            assert re.match(r"\d+ notes in \d groups?", notes.locator("summary").first.inner_text())
            assert not tab.locator("details.note-group").first.is_visible()
            # every link in the navigation leads to a section with content
            for link in tab.locator("nav a").all():
                target = tab.locator(f"section{link.get_attribute('href')}")
                assert target.count() == 1 and target.locator(".empty").count() == 0

            assert_readable(tab, WIDTH)
            assert tab.evaluate("typeof window.__pwned") == "undefined"
            assert problems == []
        finally:
            browser.close()


def test_the_command_line_groups_the_notes_too(store: Path, tmp_path: Path) -> None:
    """`codeduel report` says one line per kind of note, not 30+ (every note with -v)."""
    import subprocess
    import sys

    def report(*flags: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "codeduel", *flags, "report", "--store", str(store),
             "-o", str(tmp_path / "r.html"), "--bootstrap", "300"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return [line for line in done.stderr.splitlines() if line.startswith("warning:")]

    grouped, every = report(), report("-v")
    assert len(grouped) <= 4 < 30 < len(every)
    assert any("notes (runs 1, 2, 3, 4, 5, 6, 7, 8 and 3 more;" in line for line in grouped)
    assert any("is still running" in line for line in grouped)  # a group of one: the note
