"""``codeduel contamination`` end to end on the embedded model: twins made and checked, greedy
answers judged, likelihoods measured, the run recorded, the report showing it escaped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codeduel import api
from codeduel.errors import CodeduelError
from codeduel.records.store import Store


def test_a_small_probe_is_recorded_with_its_evidence(data_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    result = api.contamination(
        None, "humaneval", limit=2, max_new_tokens=96, store=store, workers=1, n_boot=200
    )
    assert result.n_problems == 2
    assert result.n_twins == 2  # HumanEval/0 and /1 both get a checked twin
    assert result.pass_diff is not None and result.pass_original is not None
    d = result.pass_diff
    assert -1.0 <= d["low"] <= d["estimate"] <= d["high"] <= 1.0
    assert result.headline().startswith("pass@1 original ")
    for ev in result.problems:
        assert ev.twin_changes, ev  # what the control changed is kept with the evidence
        assert ev.mink_reference is not None and ev.twin_mink_reference is not None
        assert 0.0 <= ev.recall["similarity"] <= 1.0
        assert ev.continuation
    # llama.cpp gives no full distribution: Min-K%++ is absent and the run says why.
    assert any("Min-K%++" in w for w in result.warnings)
    with Store(store, create=False) as db:
        (run,) = db.list_runs()
    assert run.kind == "contamination" and run.status == "finished"
    summary = run.summary or {}
    scores = [p["score"] for p in summary["ranked"]]
    assert scores == sorted(scores, reverse=True)  # the most evidence first
    assert run.spec["k_percent"] == 0.2 and run.spec["seed"] == 0

    api.report(store=store, output=tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="probes"' in page and summary["headline"].split(",")[0] in page


def test_the_report_shows_stored_model_text_as_text(tmp_path: Path) -> None:
    """A model's answer and a task id are candidate text: shown escaped, never as markup."""
    store = tmp_path / "runs.sqlite"
    attack = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    with Store(store) as db:
        run_id = db.create_run(kind="contamination", spec={"model": "m"}, task="humaneval")
        row = {
            "task_id": "HumanEval/0" + attack,
            "score": 1.0,
            "recall": {"exact": False, "similarity": 0.5},
            "reference_gap": 0.1,
            "passed": True,
            "twin_passed": False,
            "twin_changes": ["renamed numbers -> values"],
            "continuation": attack,
        }
        summary = {
            "headline": "pass@1 original 100 %",
            "ranked": [row],
            "n_problems": 1,
            "recall": {"exact": 0, "mean_similarity": 0.5},
        }
        db.finish_run(run_id, summary=summary)
    api.report(store=store, output=tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="probes"' in page
    assert "<script>alert('x')" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_a_task_without_references_is_refused_before_any_model_loads(data_dir: Path) -> None:
    with pytest.raises(CodeduelError, match="no problems with a reference solution"):
        api.contamination(None, "multipl-e-js", limit=1)


def test_the_cli_prints_one_json_object(data_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from codeduel.cli import app

    args = ["contamination", "--task", "humaneval", "--limit", "1", "--max-new-tokens", "48"]
    args += ["--store", str(tmp_path / "s.sqlite"), "--json", "--workers", "1"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["kind"] == "contamination" and data["n_problems"] == 1
    assert data["ranked"][0]["task_id"] == "HumanEval/0"


# The opening of the MIT licence, which every code model has read thousands of times, and a
# licence paragraph written for this test in the same style, which no model has read.
MIT_HEAD = (
    'LICENSE = """Permission is hereby granted, free of charge, to any person obtaining a copy\n'
    'of this software and associated documentation files (the "Software"), to deal\n'
)
MIT_REST = (
    "in the Software without restriction, including without limitation the rights\n"
    "to use, copy, modify, merge, publish, distribute, sublicense, and/or sell\n"
    "copies of the Software, and to permit persons to whom the Software is\n"
)
FRESH_HEAD = (
    'LICENSE = """Leave is kindly extended, at no charge, to any group holding a replica\n'
    'of these tables and their attached field notes (the "Tables"), to work\n'
)
FRESH_REST = (
    "with the Tables freely, provided each replica keeps the heron emblem on its\n"
    "cover, names the survey crew of the spring transect in its preface, and is\n"
    "never bound together with charts drawn after the eastern flood of the delta.\n"
)


class _PlantedTask:
    """Two problems whose reference solutions are a memorised text and a fresh one."""

    name = "planted-licence"
    packages: tuple[str, ...] = ()

    def __init__(self, data_dir: Path | None = None) -> None:
        from codeduel.tasks.base import DatasetInfo, Problem

        self._info = DatasetInfo(self.name, "test", "0" * 64, "")
        self._problems = [
            Problem("planted/mit", MIT_HEAD, None, MIT_REST),
            Problem("planted/fresh", FRESH_HEAD, None, FRESH_REST),
        ]

    def dataset(self) -> Any:
        return self._info

    def problems(self) -> list[Any]:
        return list(self._problems)

    def get(self, task_id: object) -> Any:
        return next(p for p in self._problems if p.task_id == task_id)

    def prepare(self, executor: Any, task_ids: Any = None) -> None:
        pass

    def program(self, problem: Any, sample: dict[str, Any], key: str) -> Any:
        from codeduel.execution.base import Program

        return Program(key=key, candidate="pass\n", mode="concat")


def test_a_planted_memorised_reference_is_recalled_and_a_fresh_one_is_not(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The verbatim signal on a task whose reference solution is text the model has certainly
    memorised: the greedy continuation of the MIT licence's first lines reproduces the next
    ones; the same for a licence written for this test does not."""
    from codeduel import tasks
    from codeduel.tasks import prompting

    monkeypatch.setitem(tasks._REGISTRY, _PlantedTask.name, _PlantedTask)
    monkeypatch.setitem(prompting._FAMILIES, _PlantedTask.name, prompting.family_for("humaneval"))
    result = api.contamination(
        None, _PlantedTask.name, style="completion", max_new_tokens=64,
        store=tmp_path / "s.sqlite", workers=1, n_boot=200,
    )  # fmt: skip
    by_id = {e.task_id: e for e in result.problems}
    mit, fresh = by_id["planted/mit"], by_id["planted/fresh"]
    assert mit.twin_skipped and "no rewrite" in mit.twin_skipped  # no control for free text
    assert mit.recall["exact"], mit.continuation  # measured: all 45 tokens, in order
    assert mit.recall["longest_common_run"] >= 15, mit.continuation
    assert mit.recall["similarity"] >= 0.6, mit.continuation
    assert fresh.recall["longest_common_run"] < 8, fresh.continuation
    assert fresh.recall["similarity"] < 0.4, fresh.continuation
    assert mit.mink_reference is not None and fresh.mink_reference is not None
    assert mit.mink_reference > fresh.mink_reference  # the memorised text is likelier
    assert result.to_dict()["ranked"][0]["task_id"] == "planted/mit"


def test_the_report_shows_memorisation_rates_and_only_masked_text(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    with Store(store) as db:
        run_id = db.create_run(kind="memorisation", spec={"model": "m"})
        rate = {"hits": 3, "n": 10, "rate": 0.3, "ci": [0.108, 0.603]}
        summary = {
            "template_version": "memorisation-templates-v1",
            "rates": {"stackoverflow": rate, "github": {**rate, "hits": 0, "rate": 0.0}},
            "by_category": {"stackoverflow": {"email": rate}, "github": {"email": rate}},
            "examples": [
                {"context": "github", "template": "gh-1", "masked": "Author: <HANDLE> <b>x</b>"}
            ],
        }
        db.finish_run(run_id, summary=summary)
    api.report(store=store, output=tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="memorisation"' in page
    assert "30 % [11, 60]" in page  # the rate with its Wilson interval
    assert "&lt;HANDLE&gt;" in page and "<b>x</b>" not in page
