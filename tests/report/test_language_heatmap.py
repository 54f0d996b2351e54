"""The report's Languages section: a model × MultiPL-E language heatmap of greedy pass@1.

The store is a real SQLite results store with runs written the way the flows write them (a run
row, its samples, their verdicts, then finished), for two models on three ``multipl-e-*`` tasks:
a preset (``qwen2.5-coder-0.5b-instruct``, whose published MultiPL-E figures are shown beside the
measured ones) and a model whose name is an HTML injection attempt.
"""

from __future__ import annotations

import html as html_lib
import os
import re
import shutil
from pathlib import Path

import pytest

from codeduel.execution.base import Verdict
from codeduel.models.presets import PRESETS
from codeduel.records.store import SampleRecord, Store
from codeduel.report import build_report, collect
from codeduel.report.data import language_order
from codeduel.tasks.base import DatasetInfo

QWEN = "qwen2.5-coder-0.5b-instruct"
HOSTILE = "<script>alert(1)</script>"


def add_run(
    store: Store,
    model: str,
    code: str,
    passed: list[bool],
    *,
    temperature: float = 0.0,
    n: int = 1,
    judged: int | None = None,
    finish: bool = True,
) -> int:
    """A ``run`` of ``model`` on ``multipl-e-<code>``: one problem per entry of ``passed`` (each
    sample of a problem gets that outcome); only the first ``judged`` samples get verdicts."""
    task = f"multipl-e-{code}"
    dataset = DatasetInfo(name=task, version="v3.0", sha256=code.ljust(64, "0"), path="/x")
    spec = {"model": model, "task": task, "temperature": temperature, "top_p": 0.95, "n": n}
    run_id = store.create_run(kind="run", spec=spec, task=task, dataset=dataset)
    keys = [(f"HumanEval_{i}_p", j, ok) for i, ok in enumerate(passed) for j in range(n)]
    store.add_samples(run_id, [SampleRecord(t, j, "x", prompt="p") for t, j, _ in keys])
    verdicts = [
        (t, j, Verdict(key=f"{t}-{j}", status="passed" if ok else "failed"))
        for t, j, ok in keys[: len(keys) if judged is None else judged]
    ]
    store.add_verdicts(run_id, verdicts)
    if finish:
        store.finish_run(run_id, summary={})
    return run_id


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "results.sqlite"
    with Store(path) as db:
        add_run(db, QWEN, "cpp", [True, True, False, False])  # older finished: 50.0
        add_run(db, QWEN, "lua", [True, False, True, False])  # 50.0, nothing published
        add_run(db, QWEN, "cpp", [True, True, True, False])  # newest finished: 75.0, shown
        add_run(db, QWEN, "cpp", [True, True, True, True], judged=2, finish=False)  # partial
        add_run(db, QWEN, "sh", [True, False, False, False])  # greedy: 25.0, shown
        add_run(db, QWEN, "sh", [True, True, True, True], temperature=0.8, n=2)  # sampled
        add_run(db, HOSTILE, "cpp", [True, False, False, False, False])  # 20.0
    return path


def _section(page: str, anchor: str) -> str:
    return page.split(f'<section id="{anchor}">', 1)[1].split("</section>", 1)[0]


def _text(fragment: str) -> str:
    """A fragment's text as a reader sees it: tags dropped, entities decoded, spaces squeezed."""
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _rows(section: str) -> dict[str, list[str]]:
    """The Languages table, as {row header text: [cell texts]}."""
    table = section.split('<table class="languages">', 1)[1].split("</table>", 1)[0]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], flags=re.S):
        head = re.search(r'<th scope="row">(.*?)</th>', row, flags=re.S)
        assert head is not None
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        out[_text(head.group(1))] = [_text(c) for c in cells]
    return out


def test_column_order() -> None:
    codes = ["rs", "js", "sh", "py", "cpp", "ts", "lua", "php", "cs", "java"]
    assert language_order(codes) == [
        *("cpp", "java", "php", "ts", "cs", "sh", "js"),
        *("lua", "py", "rs"),
    ]


def test_grid_picks_greedy_complete_newest_runs(store: Path) -> None:
    with Store(store, create=False) as db:
        data = collect(db, n_boot=200)
    grid = data.languages
    assert grid is not None
    assert grid.codes == ["cpp", "sh", "lua"]
    assert grid.names == ["C++", "Bash", "Lua"]
    assert grid.models == [QWEN, HOSTILE]
    qwen, hostile = grid.cells
    cpp, sh, lua = qwen
    assert cpp.run is not None and cpp.run.run_id == 3 and cpp.estimate == pytest.approx(0.75)
    assert not cpp.partial and cpp.greedy and set(cpp.others) == {1, 4}
    assert sh.run is not None and sh.run.run_id == 5 and sh.estimate == pytest.approx(0.25)
    published = PRESETS[QWEN].published
    assert cpp.published == pytest.approx(published.value("multipl-e-cpp", 1) / 100)
    assert sh.published == pytest.approx(published.value("multipl-e-sh", 1) / 100)
    assert lua.estimate == pytest.approx(0.5) and lua.published is None
    assert cpp.source == published.source_for("multipl-e-cpp")
    assert hostile[0].estimate == pytest.approx(0.2) and hostile[0].published is None
    assert [c.run for c in hostile[1:]] == [None, None]


def test_report_has_the_languages_section(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = build_report(store, output=tmp_path / "report.html", figures_dir=out)
    page = result.output.read_text(encoding="utf-8")
    assert "languages" in result.sections
    assert (out / "languages.png").read_bytes()[:4] == b"\x89PNG"
    nav = page.split("<nav>", 1)[1].split("</nav>", 1)[0]
    assert '<a href="#languages">Languages</a>' in nav
    section = _section(page, "languages")
    assert "<svg" in section  # the heatmap, inline

    header = section.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert re.findall(r'<th scope="col"[^>]*>(.*?)</th>', header) == ["model", "C++", "Bash", "Lua"]
    pub_cpp = PRESETS[QWEN].published.value("multipl-e-cpp", 1)
    pub_sh = PRESETS[QWEN].published.value("multipl-e-sh", 1)
    rows = _rows(section)
    assert list(rows) == [QWEN, HOSTILE]
    cpp, sh, lua = rows[QWEN]
    assert cpp.startswith(f"75.0 (pub {pub_cpp:.1f})") and "#3" in cpp
    assert sh.startswith(f"25.0 (pub {pub_sh:.1f})") and "#5" in sh
    assert lua.startswith("50.0") and "pub" not in lua
    assert rows[HOSTILE][0].startswith("20.0") and "pub" not in rows[HOSTILE][0]
    assert rows[HOSTILE][1:] == ["no run", "no run"]
    assert section.count('class="num norun"') == 2
    assert "Qwen2.5-Coder technical report" in _text(section)  # the source is named

    # the stored model name is text everywhere: escaped in the page, never markup
    assert HOSTILE not in page and "alert(1)</script>" not in page
    assert html_lib.escape(HOSTILE, quote=False) in section


def test_no_multipl_e_runs_no_section(tmp_path: Path) -> None:
    path = tmp_path / "plain.sqlite"
    with Store(path) as db:
        run = db.create_run(
            kind="run",
            spec={"model": QWEN, "task": "humaneval", "temperature": 0.0, "n": 1},
            task="humaneval",
            dataset=DatasetInfo(name="humaneval", version="1", sha256="a" * 64, path="/x"),
        )
        db.add_samples(run, [SampleRecord("HumanEval/0", 0, "x")])
        db.add_verdicts(run, [("HumanEval/0", 0, Verdict(key="k", status="passed"))])
        db.finish_run(run, summary={})
    result = build_report(path, output=tmp_path / "report.html")
    page = result.output.read_text(encoding="utf-8")
    assert 'id="languages"' not in page and 'href="#languages"' not in page
    assert "languages" not in result.sections
    assert '<section id="leaderboard">' in page


def _chromium() -> str | None:
    path = os.environ.get("CODEDUEL_CHROMIUM") or shutil.which("chromium")
    return path if path and Path(path).exists() else None


def test_languages_section_in_a_narrow_browser(store: Path, tmp_path: Path) -> None:
    """At 420 px the section stays inside the page: wide content scrolls in its own box."""
    path = _chromium()
    if path is None:
        if os.environ.get("CODEDUEL_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed: apt-get install chromium", pytrace=False)
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    report = build_report(store, output=tmp_path / "report.html", n_boot=200).output
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=args)
        try:
            page = browser.new_page(viewport={"width": 420, "height": 900})
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("dialog", lambda d: problems.append(f"dialog: {d.message}"))
            page.goto(report.as_uri())
            section = page.locator("section#languages")
            assert section.is_visible()
            assert page.locator('nav a[href="#languages"]').is_visible()
            overflow = section.evaluate("s => s.scrollWidth - s.clientWidth")
            assert overflow <= 1, f"the section is {overflow}px wider than its box"
            box = section.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 420
            cell = section.locator("td.norun").first
            assert cell.inner_text().strip() == "no run"
            assert page.locator("table.languages th[scope=row]").nth(1).inner_text() == HOSTILE
            assert section.locator("script").count() == 0
            assert problems == []
        finally:
            browser.close()


def test_a_named_run_keeps_its_models_published_figures(tmp_path: Path) -> None:
    """`codeduel run --name mine` shows the name, but the published figure is the model's."""
    path = tmp_path / "named.sqlite"
    with Store(path) as db:
        run_id = add_run(db, QWEN, "cpp", [True, False])
        db.rename_run(run_id, "mine")
        data = collect(db, n_boot=200)
    grid = data.languages
    assert grid is not None and grid.models == ["mine"]
    (cpp,) = grid.cells[0]
    published = PRESETS[QWEN].published.value("multipl-e-cpp", 1)
    assert published is not None and cpp.published == pytest.approx(published / 100)
