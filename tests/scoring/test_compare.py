"""``codeduel compare`` on real runs: evaluate (real sandbox) and ``codeduel run`` (real runner).

The runs: HumanEval's canonical solutions ("ref"), the same with every third problem answered
``return None`` ("broken", 55 problems lost), with three problems broken ("slight"), and a
replayed ``codellama-7b`` run through the runner so its spec carries the paper's decoding.
Stores are real SQLite files written through the Store API; only the shapes no cheap real path
produces (an empty run, another dataset version) are created with ``Store.create_run``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from scipy import stats as sps

from codeduel.api import evaluate, write_reference_samples
from codeduel.errors import CodeduelError
from codeduel.execution.base import Verdict
from codeduel.flows.generate import run as run_model
from codeduel.models.base import Completion, GenParams, Message, Model, ModelInfo, TokenLogprobs
from codeduel.records.store import SampleRecord, Store
from codeduel.scoring.compare import (
    LeaderRow,
    Metric,
    PairRow,
    assign_tiers,
    compare_runs,
    holm_adjust,
    published_metric,
)
from codeduel.tasks import get_task
from codeduel.tasks.base import DatasetInfo


class ReplayModel(Model):
    """Answers each HumanEval prompt with its canonical body (or ``return None`` if listed)."""

    backend = "replay"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def generate(self, prompts: Sequence[object], params: GenParams) -> list[list[Completion]]:
        out = []
        for prompt in prompts:
            text = self.answers.get(str(prompt), "    return None\n")
            done = Completion(
                text=text, finish_reason="eos", prompt_tokens=1, completion_tokens=1, seconds=0.0
            )
            out.append([done] * params.n)
        return out

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenParams
    ) -> list[list[Completion]]:
        raise NotImplementedError

    def loglikelihood(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        raise NotImplementedError

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        return [ord(ch) for ch in text]

    def info(self) -> ModelInfo:
        return ModelInfo(backend="replay", spec="replay", weights_id="replay", context_window=4096)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One store with the real runs every test reads (built once: ~5 s)."""
    data_dir = Path(os.environ["CODEDUEL_DATA_DIR"]).resolve()
    root = tmp_path_factory.mktemp("compare")
    store = root / "results.sqlite"
    ref_path = root / "ref.jsonl"
    write_reference_samples("humaneval", ref_path, data_dir=data_dir)
    rows = [json.loads(line) for line in ref_path.read_text().splitlines()]
    ids = [r["task_id"] for r in rows]
    broken_ids = ids[::3]
    slight_ids = ids[:3]
    broken = [
        {**r, "completion": "    return None\n"} if r["task_id"] in broken_ids else r for r in rows
    ]
    slight = [
        {**r, "completion": "    return None\n"} if r["task_id"] in slight_ids else r for r in rows
    ]
    runs: dict[str, int] = {}
    for name, content in (("ref", rows), ("broken", broken), ("slight", slight)):
        path = _write(root / f"{name}.jsonl", content)
        result = evaluate(path, "humaneval", data_dir=data_dir, store=store, k=[1])
        runs[name] = result.run_id
    # a partial run: the first 40 problems, reopened as a resume would leave it (running)
    head = _write(root / "head.jsonl", rows[:40])
    runs["head"] = evaluate(head, "humaneval", data_dir=data_dir, store=store, k=[1]).run_id
    with Store(store) as db:
        db.reopen_run(runs["head"])
    # codellama-7b through the real runner, greedy n=1 on all 164 problems (the paper's pass@1)
    task = get_task("humaneval", data_dir)
    answers = {p.prompt: p.reference for p in task.problems() if p.task_id not in broken_ids}
    result = run_model(
        "codellama-7b",
        "humaneval",
        data_dir=data_dir,
        store=store,
        loaded_model=ReplayModel(answers),
        k=[1],
    )
    runs["codellama"] = result.run_id
    limited = run_model(
        "codellama-7b",
        "humaneval",
        data_dir=data_dir,
        store=store,
        loaded_model=ReplayModel(answers),
        k=[1],
        limit=20,
        temperature=0.8,
        top_p=0.95,
        n=2,
        seed=1,
    )
    runs["codellama_limited"] = limited.run_id
    dataset = task.dataset()
    with Store(store) as db:
        # shapes no cheap real path makes: an empty run, and a run on another dataset version
        runs["empty"] = db.create_run(
            kind="evaluate", spec={"samples": "empty.jsonl"}, task="humaneval", dataset=dataset
        )
        other = DatasetInfo(dataset.name, "v-other", "0" * 64, dataset.path)
        runs["other"] = db.create_run(
            kind="evaluate", spec={"samples": "other.jsonl"}, task="humaneval", dataset=other
        )
        db.add_samples(runs["other"], [SampleRecord("HumanEval/0", 0, "pass")])
        db.add_verdicts(runs["other"], [("HumanEval/0", 0, Verdict(key="0", status="passed"))])
        db.finish_run(runs["other"])
    return {
        "store": store,
        "runs": runs,
        "broken_ids": broken_ids,
        "slight_ids": slight_ids,
        "data_dir": data_dir,
    }


def _compare(world: dict, *items: object, **kw: object):  # type: ignore[no-untyped-def]
    with Store(world["store"], create=False) as db:
        return compare_runs(db, [str(i) for i in items], n_boot=500, **kw)  # type: ignore[arg-type]


def _cli(world: dict, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEDUEL_STORE": str(world["store"])}
    return subprocess.run(
        [sys.executable, "-m", "codeduel.cli", "compare", *args, "--bootstrap", "300"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


# -- the comparison ------------------------------------------------------------------------


def test_ref_beats_broken_with_the_right_diff_lists(world: dict) -> None:
    runs = world["runs"]
    result = _compare(world, runs["ref"], runs["broken"])
    ref_row, broken_row = result.leaderboard
    assert ref_row.metrics[0].estimate == 1.0, "the sandbox failed a canonical solution"
    assert broken_row.metrics[0].estimate == pytest.approx(109 / 164)
    low, high = broken_row.metrics[0].low, broken_row.metrics[0].high
    assert low is not None and high is not None and low < 109 / 164 < high
    (pair,) = result.pairs
    assert pair.n_paired == 164 and pair.n_only_a == pair.n_only_b == 0
    assert pair.a_solves_b_not == world["broken_ids"]
    assert pair.b_solves_a_not == []
    assert pair.p_value == pytest.approx(sps.binomtest(55, 55).pvalue)
    assert pair.test is not None and pair.test.startswith("McNemar exact")
    assert pair.verdict == "A better"
    (diff,) = pair.metrics
    assert diff.diff == pytest.approx(55 / 164)
    assert 0 < diff.low < diff.diff < diff.high
    assert result.warnings == []


def test_three_problems_apart_is_not_significant(world: dict) -> None:
    runs = world["runs"]
    result = _compare(world, runs["slight"], runs["ref"])
    (pair,) = result.pairs
    assert pair.b_solves_a_not == world["slight_ids"] and pair.a_solves_b_not == []
    assert pair.p_value == pytest.approx(0.25)  # 3 discordant problems, all one way
    assert pair.verdict == "not significant"


def test_runs_fall_into_significance_tiers_after_holm(world: dict) -> None:
    """ref (164/164) and slight (161/164) are 3 problems apart: one tier; broken and
    codellama (109/164, failing the same 55 problems) are 55 problems below both: the next
    tier. Holm multiplies the smallest of the six p-values by 6, the next by 5, ..."""
    runs = world["runs"]
    names = ("ref", "slight", "broken", "codellama")
    result = _compare(world, *(runs[n] for n in names))
    tiers = {r.run_id: r.tier for r in result.leaderboard}
    assert [tiers[runs[n]] for n in names] == [1, 1, 2, 2]
    ps = sorted((p.p_value, p.p_holm) for p in result.pairs)
    assert len(ps) == 6
    running = 0.0
    for j, (raw, adjusted) in enumerate(ps):
        running = max(running, min(1.0, (6 - j) * raw))
        assert adjusted == pytest.approx(running)
    assert "tier" in result.to_markdown() and "p Holm" in result.to_markdown()
    rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert {r["tier"] for r in rows if r["table"] == "leaderboard"} == {"1", "2"}
    assert json.loads(result.to_json())["leaderboard"][0]["tier"] == 1


def test_a_run_separated_from_any_member_opens_a_new_tier() -> None:
    """Read down the ranking against every member, not only the tier's leader: A~B, A~C, but
    B and C are told apart, so C cannot share B's tier (a leader-only rule would put it there)."""

    def row(run_id: int, rate: float) -> LeaderRow:
        metric = Metric(1, rate, rate - 0.05, rate + 0.05)
        return LeaderRow(
            run_id, f"m{run_id}", "humaneval", "v", "s", "finished", False, 164, 164, [metric]
        )

    def pair(a: int, b: int, p_value: float) -> PairRow:
        return PairRow(
            "humaneval",
            a,
            f"m{a}",
            b,
            f"m{b}",
            164,
            0,
            0,
            [],
            "McNemar exact",
            p_value,
            "not significant",
            "majority",
            [],
            [],
        )

    rows = [row(1, 0.90), row(2, 0.85), row(3, 0.80)]
    pairs = holm_adjust([pair(1, 2, 0.5), pair(1, 3, 0.4), pair(2, 3, 0.001)])
    assert [p.p_holm for p in pairs] == pytest.approx([0.8, 0.8, 0.003])
    assert [r.tier for r in assign_tiers(rows, pairs, 0.05)] == [1, 1, 2]
    assert [r.tier for r in assign_tiers(rows, pairs, 0.001)] == [1, 1, 1]
    undefined = LeaderRow(
        4, "m4", "humaneval", "v", "s", "finished", False, 0, 0, [Metric(1, None, None, None)]
    )
    assert assign_tiers([*rows, undefined], pairs, 0.05)[-1].tier is None


def test_model_names_pick_the_newest_finished_run(world: dict) -> None:
    runs = world["runs"]
    result = _compare(world, "ref", "broken", "codellama-7b")
    assert [r.run_id for r in result.leaderboard] == [
        runs["ref"],
        runs["broken"],
        runs["codellama_limited"],
    ]
    assert len(result.pairs) == 3


def test_published_number_only_under_the_paper_protocol(world: dict) -> None:
    runs = world["runs"]
    result = _compare(world, runs["codellama"], runs["codellama_limited"], runs["ref"])
    ref, greedy, limited = result.leaderboard  # ranked by pass@1 within the task
    assert greedy.model == "codellama-7b"
    m = greedy.metrics[0]
    assert m.published == pytest.approx(0.335) and m.protocol == "paper protocol"
    assert m.estimate == pytest.approx(109 / 164)
    lm = limited.metrics[0]
    assert lm.published == pytest.approx(0.335)
    assert lm.protocol is not None and lm.protocol.startswith("protocol differs")
    assert "greedy" in lm.protocol and "first 20 problems" in lm.protocol
    assert ref.metrics[0].published is None  # a samples file names no model
    with Store(world["store"], create=False) as db:
        run = db.get_run(runs["codellama_limited"])
    # pass@10's decoding (T=0.8, top-p 0.95) matches; only the --limit differs
    assert published_metric(run, 10, 2) == (
        pytest.approx(0.596),
        "protocol differs: run scored only the first 20 problems",
    )
    # the replayed codellama run equals "broken" problem for problem
    pair = next(p for p in result.pairs if {p.run_a, p.run_b} == {runs["codellama"], runs["ref"]})
    assert pair.b_solves_a_not == world["broken_ids"]


def test_partial_empty_and_other_version_runs(world: dict) -> None:
    runs = world["runs"]
    result = _compare(world, runs["ref"], runs["head"], runs["empty"], runs["other"])
    text = "\n".join(result.warnings)
    assert f"run {runs['head']} (head, humaneval) is still running: partial" in text
    assert f"run {runs['empty']} (empty, humaneval) has no judged samples (empty run)" in text
    assert "different humaneval dataset versions" in text and "not paired" in text
    assert f"paired on the 40 problems both scored (124 only in run {runs['ref']}" in text
    head_row = next(r for r in result.leaderboard if r.run_id == runs["head"])
    assert head_row.partial and head_row.n_problems == 40
    assert {r.run_id for r in result.leaderboard} == {runs["ref"], runs["head"], runs["other"]}
    (pair,) = result.pairs
    assert pair.n_paired == 40 and pair.verdict == "not significant"


def test_different_tasks_are_not_paired(world: dict, tmp_path: Path) -> None:
    rows = [{"task_id": f"Mbpp/{i}", "completion": "pass"} for i in range(11, 14)]
    store = world["store"]
    path = _write(tmp_path / "mbpp.jsonl", rows)
    try:
        mbpp = evaluate(path, "mbpp", data_dir=world["data_dir"], store=store, k=[1]).run_id
    except CodeduelError as err:  # pragma: no cover - task ids spelled another way
        pytest.skip(f"mbpp samples not accepted here: {err}")
    result = _compare(world, world["runs"]["ref"], mbpp)
    assert result.pairs == []
    assert any("different tasks: not paired" in w for w in result.warnings)
    assert len(result.leaderboard) == 2


def test_sampled_runs_use_wilcoxon_and_pass_at_k(world: dict) -> None:
    runs = world["runs"]
    result = _compare(world, runs["codellama_limited"], runs["slight"], ks=[1, 2])
    rows = {r.run_id: r for r in result.leaderboard}
    limited = rows[runs["codellama_limited"]]
    assert [m.k for m in limited.metrics] == [1, 2]
    assert limited.metrics[1].estimate is not None
    slight = rows[runs["slight"]].metrics[1]
    assert slight.estimate is None and slight.note == "needs >= 2 samples per problem"
    (pair,) = result.pairs
    assert pair.test is not None and pair.test.startswith("Wilcoxon")
    assert [pm.k for pm in pair.metrics] == [1]


def test_unknown_inputs_are_errors(world: dict) -> None:
    with pytest.raises(CodeduelError, match="no run 999"):
        _compare(world, 999)
    with pytest.raises(CodeduelError, match="no run id or model 'nobody'"):
        _compare(world, "nobody")
    with pytest.raises(CodeduelError, match="no run with judged samples"):
        _compare(world, world["runs"]["empty"])


# -- the command line ----------------------------------------------------------------------


def test_cli_json_markdown_csv(world: dict, tmp_path: Path) -> None:
    runs = world["runs"]
    ids = [str(runs["ref"]), str(runs["broken"])]
    proc = _cli(world, *ids, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    (pair,) = data["pairs"]
    assert pair["verdict"] == "A better" and pair["a_solves_b_not"] == world["broken_ids"]
    assert data["leaderboard"][1]["metrics"][0]["estimate"] == pytest.approx(109 / 164)

    md = _cli(world, *ids, "--format", "markdown")
    assert md.returncode == 0, md.stderr
    assert "## Leaderboard" in md.stdout and "## Paired comparisons" in md.stdout
    assert "| ref | " in md.stdout and "A better" in md.stdout
    assert "66.5 [" in md.stdout  # 109/164 with its interval

    out = tmp_path / "board.csv"
    written = _cli(world, *ids, "-o", str(out))
    assert written.returncode == 0, written.stderr
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["table"] for r in table] == ["leaderboard", "leaderboard", "pair"]
    assert float(table[1]["value"]) == pytest.approx(109 / 164)
    assert table[2]["verdict"] == "A better" and float(table[2]["p_value"]) < 1e-10


def test_cli_terminal_table_and_warnings(world: dict) -> None:
    runs = world["runs"]
    proc = _cli(world, str(runs["ref"]), str(runs["head"]), str(runs["empty"]))
    assert proc.returncode == 0, proc.stderr
    assert "humaneval: pass@k % with 95% interval" in proc.stdout
    assert "humaneval: A - B on the same problems" in proc.stdout
    assert "(partial)" in proc.stdout
    assert "partial" in proc.stderr and "empty run" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["999"], "no run 999 in"),
        (["nobody"], "no run id or model 'nobody'"),
        (["1", "--format", "xml"], "unknown --format 'xml'"),
        (["1", "--k", "0"], "invalid --k '0'"),
        (["1", "--solved", "some"], "unknown --solved rule 'some'"),
    ],
)
def test_cli_bad_input_is_one_line(world: dict, args: list[str], needle: str) -> None:
    proc = _cli(world, *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr


def test_cli_missing_store_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "CODEDUEL_STORE": str(tmp_path / "none.sqlite")}
    proc = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", "compare", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "no results store" in proc.stderr


def test_presets_are_found_by_name_or_by_weights() -> None:
    from codeduel.scoring.compare import preset_for

    assert preset_for("hf:codellama/CodeLlama-7b-hf").name == "codellama-7b"  # type: ignore[union-attr]
    assert preset_for("vllm:codellama/CodeLlama-34b-Instruct-hf").name == "codellama-34b-instruct"  # type: ignore[union-attr]
    assert preset_for("embedded:qwen2.5-coder-0.5b-instruct").name == "qwen2.5-coder-0.5b-instruct"  # type: ignore[union-attr]
    assert preset_for("hf:someone/else") is None
    assert preset_for("ref") is None


def test_one_run_is_a_leaderboard_without_pairs(world: dict) -> None:
    result = _compare(world, world["runs"]["broken"])
    assert result.pairs == [] and result.warnings == []
    data = json.loads(result.to_json())
    assert data["settings"]["solved_means"].startswith("more than half")
    assert "McNemar" in data["settings"]["pass1_test"]
    assert "## Paired comparisons" not in result.to_markdown()


def test_an_all_passing_or_tiny_run_gets_an_interval_that_does_not_collapse(world: dict) -> None:
    """A percentile bootstrap of 164 passes is [100, 100]; Wilson on problems is not, and a
    run of one problem is honestly wide."""
    from scipy.stats import binomtest

    runs = world["runs"]
    result = _compare(world, runs["ref"], runs["other"])
    rows = {r.run_id: r.metrics[0] for r in result.leaderboard}
    ref, one = rows[runs["ref"]], rows[runs["other"]]
    want = binomtest(164, 164).proportion_ci(0.95, method="wilson")
    assert ref.estimate == 1.0 and ref.high == pytest.approx(1.0)
    assert ref.low == pytest.approx(want.low) and ref.low < 0.99
    assert one.estimate == 1.0 and one.low == pytest.approx(0.2065, abs=1e-3)
    assert "Wilson" in result.settings["interval"]
