"""Infilling on the real embedded Qwen2.5-Coder-0.5B model: token-exact prompts and a full run.

Kept tiny (a few problems, few tokens, 2 threads): llama.cpp collapses when the CPU is
oversubscribed and these tests share the machine. Never run them under pytest-xdist.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeduel.models import load_model
from codeduel.models.llamacpp import LlamaCppModel
from codeduel.models.presets import get_preset
from codeduel.tasks import get_task
from codeduel.tasks.prompting import RunOptions, family_for

pytestmark = pytest.mark.timeout(900)

FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE = 151659, 151661, 151660


@pytest.fixture(scope="module")
def model() -> Iterator[LlamaCppModel]:
    loaded = load_model(None, n_ctx=1024, n_parallel=1, n_threads=2)
    assert isinstance(loaded, LlamaCppModel)
    with loaded:
        yield loaded


def test_qwen_prompt_token_ids_are_exact(model: LlamaCppModel, data_dir: Path) -> None:
    """The ids sent are <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|>, the text
    parts tokenized as plain text, and equal to what the stored prompt string tokenizes to."""
    task = get_task("humaneval-infill-single", data_dir)
    problem = task.problems()[5]
    preset = get_preset("qwen2.5-coder-0.5b-instruct")
    family = family_for(task.name).bind(RunOptions(model=preset.name, preset=preset))
    prompt = family.prompt(task, problem, "completion")
    ids = model.encode_segments(prompt.segments)
    prefix_ids = model.tokenize(problem.prompt, parse_special=False)
    suffix_ids = model.tokenize(problem.meta["suffix"], parse_special=False)
    assert ids == [FIM_PREFIX, *prefix_ids, FIM_SUFFIX, *suffix_ids, FIM_MIDDLE]
    assert model.tokenize(prompt.text) == ids
    assert model.detokenize(ids) == prompt.text


def test_infilling_run_end_to_end(tmp_path: Path, data_dir: Path) -> None:
    """``codeduel run --task humaneval-infill-single --fim-order psm`` scores real middles."""
    store = tmp_path / "infill.sqlite"
    env = {**os.environ, "CODEDUEL_STORE": str(store), "CODEDUEL_DATA_DIR": str(data_dir)}
    args = ["--task", "humaneval-infill-single", "--limit", "3", "--fim-order", "psm"]
    proc = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", "run", *args, "--max-new-tokens", "24", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=800,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert isinstance(result["pass@1"], float) and 0.0 <= result["pass@1"] <= 1.0
    assert result["n_problems"] == 3 and result["n_samples"] == 3
    spec = result["spec"]
    assert spec["fim_order"] == "psm" and spec["style"] == "completion"
    assert spec["template"] == "humaneval-infill-psm-qwen2.5-coder"
    assert sum(result["counts"].values()) == 3
    db = sqlite3.connect(store)
    try:
        rows = db.execute("SELECT task_id, prompt, completion, extra FROM samples").fetchall()
    finally:
        db.close()
    assert len(rows) == 3
    task = get_task("humaneval-infill-single", data_dir)
    for task_id, prompt, completion, extra in rows:
        problem = task.get(task_id)  # type: ignore[attr-defined]
        assert prompt == (
            f"<|fim_prefix|>{problem.prompt}<|fim_suffix|>{problem.meta['suffix']}<|fim_middle|>"
        )
        meta = json.loads(extra)
        assert meta["sample"] == {"completion": completion}
        assert "<|endoftext|>" not in completion and "<|fim_middle|>" not in completion
        assert meta["prompt_tokens"] > 50 and 0 < meta["completion_tokens"] <= 24


def test_spm_on_qwen_is_refused_in_one_line(tmp_path: Path, data_dir: Path) -> None:
    env = {**os.environ, "CODEDUEL_STORE": str(tmp_path / "s.sqlite")}
    env["CODEDUEL_DATA_DIR"] = str(data_dir)
    args = ["--task", "humaneval-infill-single", "--fim-order", "spm", "--limit", "1"]
    proc = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", "run", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no SPM format" in proc.stderr
    assert "Traceback" not in proc.stderr
