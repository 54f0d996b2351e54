"""Regenerate the model-output corpora of the differential suite (tests/fidelity/corpus/).

Each corpus is what ``codeduel run`` generated with the embedded default model (greedy and
sampled, completion and chat styles, HumanEval and MBPP), exported as a samples file with the
run's spec beside each sample. The tests only read these files; rerun this script when the
embedded model, a prompt or the code extraction changes, then rerun the suite.

    python bench/fidelity_corpus.py            # all corpora (~35 min on 2 cores)
    python bench/fidelity_corpus.py --only he-chat-greedy
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from codeduel import api

CORPUS_DIR = Path(__file__).resolve().parent.parent / "tests" / "fidelity" / "corpus"

# name -> arguments of api.run (the embedded model; problems are each task's first `limit`).
RUNS: dict[str, dict[str, Any]] = {
    "he-completion-greedy": {"task": "humaneval", "style": "completion", "limit": 40},
    "he-chat-greedy": {"task": "humaneval", "style": "chat", "limit": 20},
    "he-completion-sampled": {
        "task": "humaneval",
        "style": "completion",
        "limit": 10,
        "n": 2,
        "temperature": 0.8,
    },
    "mbpp-completion-greedy": {"task": "mbpp", "style": "completion", "limit": 30},
    "mbpp-chat-greedy": {"task": "mbpp", "style": "chat", "limit": 20},
    "mbpp-chat-sampled": {
        "task": "mbpp",
        "style": "chat",
        "limit": 10,
        "n": 2,
        "temperature": 0.8,
    },
}


def generate(name: str, data_dir: str | None, store: Path) -> Path:
    """Run one configuration and write its samples (with provenance) to the corpus folder."""
    args = RUNS[name]
    result = api.run(None, max_new_tokens=384, k=(1,), data_dir=data_dir, store=store, **args)
    out = CORPUS_DIR / f"{name}.jsonl"
    with api.Store(store) as db:
        records = db.samples(result.run_id)
    with out.open("w") as fh:
        for rec in records:
            sample = dict((rec.extra or {}).get("sample") or {"completion": rec.completion})
            line = {"task_id": rec.task_id, **sample, "origin": f"{name}#{rec.sample_idx}"}
            fh.write(json.dumps(line) + "\n")
    print(f"{name}: {len(records)} samples -> {out}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(RUNS))
    parser.add_argument("--data-dir", default=None)
    ns = parser.parse_args()
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ns.only or RUNS:
            generate(name, ns.data_dir, Path(tmp) / "results.sqlite")


if __name__ == "__main__":
    main()
