"""Exporting a finished self-instruct run: chat records for TRL, a ``datasets`` copy, and
the problems and samples ``codeduel evaluate`` re-scores."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codeduel.errors import CodeduelError
from codeduel.tasks.selfinstruct import (
    PROBLEMS_RELPATH,
)


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def export(
    records: Sequence[dict[str, Any]],
    summary: dict[str, Any],
    out_dir: Path,
    *,
    save_hf: bool = False,
) -> dict[str, str]:
    """Write the dataset folder; returns ``{what: path}``.

    - ``train.jsonl``: one chat record per line (``messages``: user question, assistant
      solution in ``[PYTHON]`` tags), the shape TRL's ``SFTTrainer`` takes, plus metadata;
    - ``selfinstruct/problems.jsonl`` and ``samples.jsonl``: the kept records as a task and its
      samples, so ``codeduel evaluate DIR/samples.jsonl --task selfinstruct --data-dir DIR``
      re-runs every kept solution against its tests;
    - ``summary.json``; with ``save_hf`` also ``hf/`` (``datasets.Dataset.save_to_disk``).
    """
    files: dict[str, str] = {}
    try:
        train = out_dir / "train.jsonl"
        _write_jsonl(train, records)
        files["train"] = str(train)
        problems = out_dir / PROBLEMS_RELPATH
        problems.parent.mkdir(parents=True, exist_ok=True)
        _write_jsonl(
            problems,
            [
                {
                    "task_id": r["id"],
                    "question": r["question"],
                    "entry_point": r["entry_point"],
                    "tests": r["tests"],
                    "solution": r["solution"],
                }
                for r in records
            ],
        )
        files["problems"] = str(problems)
        samples = out_dir / "samples.jsonl"
        _write_jsonl(samples, [{"task_id": r["id"], "solution": r["solution"]} for r in records])
        files["samples"] = str(samples)
        summary_path = out_dir / "summary.json"
        summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        files["summary"] = str(summary_path)
    except OSError as err:
        raise CodeduelError(
            f"cannot write to {out_dir}: {err.strerror or err}",
            "pass a writable folder to -o (the data is kept in the store; rerun to export)",
        ) from None
    if save_hf:
        try:
            import datasets as hf_datasets
        except ImportError:
            raise CodeduelError(
                "saving a Hugging Face dataset needs the `datasets` package",
                "pip install datasets, or drop --hf",
            ) from None
        quiet = getattr(hf_datasets, "disable_progress_bars", None)
        if quiet is not None:
            quiet()  # its bars would interleave with ours on stderr
        hf_dir = out_dir / "hf"
        hf_datasets.Dataset.from_list(list(records)).save_to_disk(str(hf_dir))
        files["hf"] = str(hf_dir)
    return files
