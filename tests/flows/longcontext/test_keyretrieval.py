"""Key retrieval: deterministic haystacks, bad input as one line, a tiny real run.

The haystack tests use the embedded Qwen2.5-Coder-0.5B tokenizer (cheap); the end-to-end run
is tiny (256- and 512-token contexts, 2 examples per cell, 2 threads) so it fits CI's 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeduel.errors import CodeduelError
from codeduel.flows.longcontext.keyretrieval import (
    DISTRACTOR,
    SUFFIX,
    HaystackBuilder,
    parse_int_list,
    parse_positions,
    python_files,
    run_key_retrieval,
    score,
    stdlib_dir,
)
from codeduel.models import Model, load_model
from codeduel.records.store import Store

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def model() -> Iterator[Model]:
    with load_model(None, n_ctx=1024, n_parallel=1, n_threads=2) as loaded:
        yield loaded


def _cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEDUEL_STORE": str(store)}
    return subprocess.run(
        [sys.executable, "-m", "codeduel.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )


def test_same_seed_gives_the_same_prompt(model: Model) -> None:
    first = HaystackBuilder(model.tokenize, seed=7).build(512, 0.4, 0)
    again = HaystackBuilder(model.tokenize, seed=7).build(512, 0.4, 0)
    other = HaystackBuilder(model.tokenize, seed=8).build(512, 0.4, 0)
    assert first == again
    assert other.prompt != first.prompt
    assert 10 <= first.expected <= 99


@pytest.mark.parametrize(("length", "position"), [(256, 0.0), (512, 0.2), (512, 0.4)])
def test_needle_sits_at_the_requested_position(model: Model, length: int, position: float) -> None:
    ex = HaystackBuilder(model.tokenize, seed=1).build(length, position, 3)
    assert ex.prompt.endswith(SUFFIX)
    assert 0.85 * length <= ex.prompt_tokens <= length
    assert ex.prompt_tokens == len(model.tokenize(ex.prompt))
    lines = ex.prompt.split("\n")
    at = lines.index("def my_function() -> int:")
    assert ex.prompt.count("def my_function") == 1
    assert lines[at + 1] == f"    {DISTRACTOR}"
    assert lines[at + 2] == f"    return {ex.expected}"
    assert abs(at - round(position * ex.haystack_lines)) <= 1
    assert ex.needle_line == at


def test_a_user_corpus_is_used(model: Model) -> None:
    corpus = stdlib_dir() / "json"
    ex = HaystackBuilder(model.tokenize, corpus, seed=0).build(256, 0.2, 0)
    assert ex.sources and all(not s.startswith("/") for s in ex.sources)
    assert {Path(s).name for s in ex.sources} <= {p.name for p in corpus.glob("*.py")}


def test_scoring_reads_the_first_integer() -> None:
    assert score("42\n", 42) == (42, True)
    assert score(" 42)", 42) == (42, True)
    assert score("17", 42) == (17, False)
    assert score('"Note that', 42) == (None, False)


@pytest.mark.parametrize("text", ["1x", "", "1024,,2048", "-5", "8M"])
def test_bad_lengths_are_one_line_errors(text: str) -> None:
    with pytest.raises(CodeduelError, match="invalid --lengths"):
        parse_int_list(text, "--lengths")


def test_lengths_accept_k_suffix() -> None:
    assert parse_int_list("8K,16k,1024", "--lengths") == [8192, 16384, 1024]


@pytest.mark.parametrize("text", ["a", "1", "0,1.5", "-0.2", ""])
def test_bad_positions_are_one_line_errors(text: str) -> None:
    with pytest.raises(CodeduelError, match="invalid --positions"):
        parse_positions(text)


def test_bad_corpus_folders(tmp_path: Path) -> None:
    with pytest.raises(CodeduelError, match="does not exist"):
        python_files(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CodeduelError, match="is empty"):
        python_files(empty)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "notes.txt").write_text("no code here\n")
    with pytest.raises(CodeduelError, match="has no Python files"):
        python_files(tmp_path / "text")


def test_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, needle in [
        (["--positions", "0,0.2,middle"], "invalid --positions"),
        (["--lengths", "1K,two"], "invalid --lengths"),
        (["--corpus", str(empty)], "is empty"),
        (["--lengths", "40000,50000"], "exceeds the 32768-token context window"),
    ]:
        proc = _cli(tmp_path / "s.sqlite", "key-retrieval", *args)
        assert proc.returncode == 2, proc.stderr
        assert needle in proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_tiny_run_end_to_end(tmp_path: Path) -> None:
    store = tmp_path / "kr.sqlite"
    args = ["key-retrieval", "--lengths", "256,512,40000", "--positions", "0,0.4"]
    args += ["--examples", "2", "--threads", "2"]
    proc = _cli(store, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result["cells"]) == {"256@0", "256@0.4", "512@0", "512@0.4"}
    for cell in result["cells"].values():
        assert cell["examples"] == 2
        assert 0.0 <= cell["accuracy"] <= 1.0
        assert cell["mean_prompt_tokens"] <= cell["length"]
    assert result["skipped"] == [
        {"length": 40000, "reason": "longer than the model's 32768-token context window"}
    ]
    with Store(store) as db:
        run = db.get_run(result["run_id"])
        assert run.kind == "key-retrieval" and run.status == "finished"
        samples = db.samples(run.id)
    assert len(samples) == 8
    for s in samples:
        extra = s.extra or {}
        assert {"prompt_tokens", "expected", "correct", "answer"} <= set(extra)
        assert s.raw_output is not None
        assert extra["correct"] == (extra["answer"] == extra["expected"])
    table = _cli(
        store,
        "key-retrieval",
        "--lengths",
        "256,40000",
        "--positions",
        "0.4",
        "--examples",
        "1",
        "--threads",
        "2",
    )
    assert table.returncode == 0, table.stderr
    assert "256@0.4" in table.stdout and "skipped 40000 tokens" in table.stdout


def test_an_interrupted_run_resumes_where_it_stopped(model: Model, tmp_path: Path) -> None:
    store = tmp_path / "resume.sqlite"
    calls: list[tuple[int, int]] = []

    def stop_after_first(done: int, total: int) -> None:
        calls.append((done, total))
        if done == 1:
            raise KeyboardInterrupt

    kwargs = {"lengths": [256], "positions": [0.2], "examples": 2, "store": store}
    with pytest.raises(KeyboardInterrupt):
        run_key_retrieval(loaded_model=model, progress=stop_after_first, **kwargs)
    progress: list[tuple[int, int]] = []
    result = run_key_retrieval(
        loaded_model=model, progress=lambda d, t: progress.append((d, t)), **kwargs
    )
    assert result.resumed is True
    assert progress == [(1, 2), (2, 2)]  # only the missing example was generated
    assert result.cells["256@0.2"]["examples"] == 2
    with Store(store) as db:
        assert [r.status for r in db.list_runs()] == ["finished"]
