"""APPS / LiveCodeBench views in ``compare`` and the report: pass@k by difficulty and month, the
contamination check against a training cutoff, and Table 3 beside measured APPS figures.

The store is a real SQLite results store; problem metadata comes from tiny throwaway tasks
registered under ``apps`` and ``livecodebench`` (the views read meta from the task, as they do
for the real datasets).
"""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from codeduel import api
from codeduel.errors import CodeduelError
from codeduel.execution.base import Verdict
from codeduel.models.presets import PRESETS
from codeduel.records.store import SampleRecord, Store
from codeduel.report import build_report, collect
from codeduel.scoring.competitive import parse_cutoff
from codeduel.tasks import _REGISTRY, task_names
from codeduel.tasks.base import DatasetInfo, Problem

HOSTILE = "<img src=x onerror=alert(1)>"
LCB_META = {  # task_id: (difficulty, contest_date, passed)
    "p1": ("easy", "2023-05-10", True),
    "p2": ("easy", "2023-05-20", False),
    "p3": ("medium", "2023-06-01", True),
    "p4": ("hard", "2023-08-15", False),
    "p5": ("medium", "2023-09-02", False),
    "p6": ("hard", "2023-09-20", True),
}
APPS_META = {  # task_id: (difficulty, passing samples of 5)
    "1": ("introductory", 2),
    "2": ("introductory", 0),
    "3": ("interview", 5),
    "4": ("competition", 0),
}


class TinyTask:
    packages: tuple[str, ...] = ()

    def __init__(self, name: str, problems: list[Problem]) -> None:
        self.name = name
        self._problems = problems

    def dataset(self) -> DatasetInfo:
        return DatasetInfo(name=self.name, version="t", sha256="0" * 64, path="/x")

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def get(self, task_id: object) -> Problem:
        return next(p for p in self._problems if p.task_id == str(task_id))


def _lcb(data_dir: Path | None) -> TinyTask:
    meta = [
        {"difficulty": d, "contest_date": c, "starter_code": ""} for d, c, _ in LCB_META.values()
    ]
    return TinyTask(
        "livecodebench", [Problem(t, "q", None, "", m) for t, m in zip(LCB_META, meta, strict=True)]
    )


def _apps(data_dir: Path | None) -> TinyTask:
    if data_dir is not None and not data_dir.exists():
        raise CodeduelError(f"no APPS data in {data_dir}", "download it")
    return TinyTask(
        "apps", [Problem(t, "q", None, "", {"difficulty": d}) for t, (d, _) in APPS_META.items()]
    )


def _add(store: Store, spec: dict[str, Any], outcomes: dict[str, list[bool]]) -> int:
    task = spec["task"]
    dataset = DatasetInfo(name=task, version="t", sha256="0" * 64, path="/x")
    run_id = store.create_run(kind="run", spec=spec, task=task, dataset=dataset)
    keys = [(t, j, ok) for t, oks in outcomes.items() for j, ok in enumerate(oks)]
    store.add_samples(run_id, [SampleRecord(t, j, "x", prompt="p") for t, j, _ in keys])
    store.add_verdicts(
        run_id,
        [(t, j, Verdict(key=f"{t}-{j}", status="passed" if ok else "failed")) for t, j, ok in keys],
    )
    store.finish_run(run_id, summary={})
    return run_id


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    task_names()  # the real modules register first; ours replace them for this test only
    monkeypatch.setitem(_REGISTRY, "livecodebench", _lcb)
    monkeypatch.setitem(_REGISTRY, "apps", _apps)
    path = tmp_path / "results.sqlite"
    with Store(path) as db:
        _add(
            db,
            {"model": HOSTILE, "task": "livecodebench", "temperature": 0.0, "n": 1},
            {t: [ok] for t, (_, _, ok) in LCB_META.items()},
        )
        apps_spec = {"model": "codellama-7b", "task": "apps", "temperature": 0.6, "top_p": 0.95}
        _add(
            db,
            {**apps_spec, "n": 5},
            {t: [i < c for i in range(5)] for t, (_, c) in APPS_META.items()},
        )
        _add(
            db,
            {**apps_spec, "n": 1, "data_dir": str(tmp_path / "missing")},
            {"1": [True]},
        )
    return path


def test_bad_cutoff_is_a_one_line_error(store: Path) -> None:
    assert str(parse_cutoff("2023-06")) == "2023-06-30"
    for bad in ("2023-13-01", "yesterday", "2023/06/30"):
        with pytest.raises(CodeduelError, match="invalid --cutoff"):
            parse_cutoff(bad)
    with pytest.raises(CodeduelError, match="invalid --cutoff"):
        api.compare(["1"], store=store, cutoff="June")


def test_compare_gives_difficulty_month_and_contamination(store: Path) -> None:
    result = api.compare(["1", "2", "3"], store=store, cutoff="2023-06-30", n_boot=500)
    lcb, apps, missing = result.competitive
    assert [g.group for g in lcb.by_difficulty] == ["easy", "medium", "hard"]
    assert [g.metrics[0].estimate for g in lcb.by_difficulty] == pytest.approx([0.5, 0.5, 0.5])
    assert [g.group for g in lcb.by_month] == ["2023-05", "2023-06", "2023-08", "2023-09"]
    assert [g.metrics[0].estimate for g in lcb.by_month] == pytest.approx([0.5, 1.0, 0.0, 0.5])
    c = lcb.contamination
    assert c is not None and c.cutoff == "2023-06-30" and c.source == "--cutoff"
    assert (c.n_before, c.n_after) == (3, 3)
    assert c.rate_before == pytest.approx(2 / 3) and c.rate_after == pytest.approx(1 / 3)
    assert c.diff == pytest.approx(-1 / 3)
    assert c.low is not None and c.high is not None
    assert -1.0 <= c.low < c.diff < c.high <= 1.0

    by = {g.group: {m.k: m for m in g.metrics} for g in apps.by_difficulty}
    assert list(by) == ["introductory", "interview", "competition"]
    assert by["introductory"][1].estimate == pytest.approx(0.2)
    assert by["introductory"][5].estimate == pytest.approx(0.5)
    assert by["interview"][1].estimate == pytest.approx(1.0)
    assert by["competition"][5].estimate == pytest.approx(0.0)
    table3 = PRESETS["codellama-7b"].published
    assert by["introductory"][5].published == pytest.approx(
        table3.apps_value("introductory", 5) / 100
    )
    assert table3.apps_value("introductory", 5) == 10.8  # Table 3, Code Llama 7B
    assert by["introductory"][1].published is None  # Table 3 has no pass@1
    assert "two-shot" in (by["interview"][5].protocol or "")
    assert apps.sources == [table3.apps_source] and "Table 3" in apps.sources[0]
    assert apps.contamination is None  # APPS problems carry no release date

    assert missing.by_difficulty == [] and missing.note is not None
    assert "not available" in missing.note

    doc = json.loads(result.to_json())
    assert doc["competitive"][0]["contamination"]["n_after"] == 3
    assert "## livecodebench" in result.to_markdown()


def test_preset_cutoff_used_without_the_option(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(store, create=False) as db:
        data = collect(db, ["1"], n_boot=200)
    (lcb,) = data.competitive
    assert lcb.contamination is None and "pass --cutoff" in (lcb.note or "")
    assert PRESETS["codellama-7b"].cutoff == "2023-07"
    assert "model card" in PRESETS["codellama-7b"].cutoff_source


def test_report_has_the_competitive_section_and_escapes(store: Path, tmp_path: Path) -> None:
    result = build_report(
        store, output=tmp_path / "r.html", figures_dir=tmp_path / "f", cutoff="2023-06-30"
    )
    page = result.output.read_text(encoding="utf-8")
    assert "contamination" in result.sections
    assert (tmp_path / "f" / "contamination.png").exists()
    section = page.split('<section id="competitive">', 1)[1].split("</section>", 1)[0]
    assert '<a href="#competitive">Competitive</a>' in page
    assert "<svg" in section
    text = html_lib.unescape(section)
    assert "Cutoff 2023-06-30 (--cutoff)" in text
    assert "after − before" in text and "-33.3" in text
    assert "paper 10.8" in text and "Table 3" in text
    assert "not available" in text
    assert HOSTILE not in section  # the model name is text, never markup
    assert "&lt;img src=x onerror=alert(1)&gt;" in section
    # elsewhere it travels only as JSON data in <script type="application/json">
    markup = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)
    assert HOSTILE not in markup
