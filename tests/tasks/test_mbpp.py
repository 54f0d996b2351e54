"""MBPP (full and sanitized) through the real executor: rpc/concat choice, ids, splits, verdicts."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from codeduel.errors import SamplesError
from codeduel.execution.base import Verdict
from codeduel.execution.pool import LocalExecutor
from codeduel.tasks import Problem, get_task
from codeduel.tasks.mbpp import MbppTask, normalize_mbpp_id, split_of, static_plan


@pytest.fixture(scope="module")
def full(task_cache: Path, data_dir: Path) -> MbppTask:
    t = get_task("mbpp", data_dir)
    assert isinstance(t, MbppTask)
    return t


@pytest.fixture(scope="module")
def sanitized(task_cache: Path, data_dir: Path) -> MbppTask:
    t = get_task("mbpp-sanitized", data_dir)
    assert isinstance(t, MbppTask)
    return t


def _run(ex: LocalExecutor, task: MbppTask, samples: dict[str, dict]) -> dict[str, Verdict]:
    programs = [task.program(task.get(tid), s, tid) for tid, s in samples.items()]
    return {v.key: v for v in ex.run(programs)}


def test_problems_ids_and_splits(full: MbppTask, sanitized: MbppTask) -> None:
    problems = full.problems()
    assert len(problems) == 974
    assert problems[0].task_id == "Mbpp/1" and problems[-1].task_id == "Mbpp/974"
    splits = collections.Counter(p.meta["split"] for p in problems)
    assert splits == {"prompt": 10, "test": 500, "validation": 90, "train": 374}
    assert split_of(11) == "test" and split_of(510) == "test" and split_of(511) == "validation"
    assert len(sanitized.problems()) == 427
    info = sanitized.dataset()
    assert info.name == "mbpp-sanitized"
    assert info.sha256 == "ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9"
    assert full.dataset().sha256.startswith("ccf64cea")


def test_task_id_normalisation(full: MbppTask) -> None:
    for given in (11, "11", "Mbpp/11", "mbpp/11", " Mbpp/011 "):
        assert normalize_mbpp_id(given) == "Mbpp/11"
        assert full.get(given).task_id == "Mbpp/11"
    for bad in ("HumanEval/11", "eleven", "Mbpp/", 1.5, False):
        with pytest.raises(SamplesError):
            normalize_mbpp_id(bad)
    with pytest.raises(SamplesError, match="not in mbpp"):
        full.get(975)


def test_static_plan_before_prepare() -> None:
    plan = static_plan(
        "import math\r\ndef area(r):\r\n  return math.pi * r * r",
        "",
        ["assert math.isclose(area(1), 3.14159, rel_tol=1e-3)"],
    )
    assert plan.mode == "rpc" and plan.expose == ("area",)
    assert "import math" in plan.harness_prefix  # the asserts use the reference's imports
    node = static_plan(
        "class Node:\n  pass\ndef height(n):\n  return 1",
        "import math\nroot = Node()",
        ["assert height(root) == 1"],
    )
    # The solution's class is built in the candidate's process by the setup code; only the
    # result of height(root) crosses, so the assert still runs in the judge.
    assert node.mode == "rpc" and node.expose == ("height",)
    assert node.child_setup == "import math\nroot = Node()\n"
    assert node.harness_prefix == "import math\n"


def test_program_shapes(full: MbppTask) -> None:
    p = full.get(2)
    prog = full.program(p, {"completion": p.reference}, "k")
    assert prog.mode == "rpc" and prog.expose == ("similar_elements",)
    assert prog.candidate == p.reference
    assert "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)" in prog.harness
    node = full.get(367)  # tests build a tree of the solution's Node class
    prog = full.program(node, {"completion": node.reference}, "k")
    assert prog.mode == "rpc" and prog.expose == ("is_tree_balanced",)
    assert node.meta["test_setup_code"].strip()[:10] in prog.candidate  # built in the child
    assert "assert" not in prog.candidate  # ...but the asserts stay in the judge
    assert node.meta["test_list"][-1].strip() in prog.harness


@pytest.mark.slow
def test_all_974_references_pass(full: MbppTask, executor: LocalExecutor, data_dir: Path) -> None:
    full.prepare(executor)
    assert full.prepared
    modes = collections.Counter(full.mode(p) for p in full.problems())
    # Counter/defaultdict results, types as arguments and the solution's own classes (the
    # eight problems that once needed concat) are all judged outside the candidate now.
    assert modes == {"rpc": 974}
    samples = {p.task_id: {"completion": p.reference} for p in full.problems()}
    verdicts = _run(executor, full, samples)
    assert {k: v.result for k, v in verdicts.items() if not v.passed} == {}
    assert collections.Counter(v.mode for v in verdicts.values()) == modes
    # The decision is cached: a new instance starts prepared, with the same modes.
    again = get_task("mbpp", data_dir)
    assert isinstance(again, MbppTask) and again.prepared
    assert {p.task_id: again.mode(p) for p in again.problems()} == {
        p.task_id: full.mode(p) for p in full.problems()
    }


@pytest.mark.slow
def test_all_427_sanitized_references_pass(sanitized: MbppTask, executor: LocalExecutor) -> None:
    sanitized.prepare(executor)
    samples = {p.task_id: {"completion": p.reference} for p in sanitized.problems()}
    verdicts = _run(executor, sanitized, samples)
    assert {k: v.result for k, v in verdicts.items() if not v.passed} == {}
    assert len(verdicts) == 427
    assert {v.mode for v in verdicts.values()} == {"rpc"}


def test_wrong_completions_fail(full: MbppTask, executor: LocalExecutor) -> None:
    test_split = [p for p in full.problems() if p.meta["split"] == "test"][:60]
    samples = {
        p.task_id: {
            "completion": "".join(f"def {n}(*args):\n    return None\n" for n in p_expose(full, p))
        }
        for p in test_split
    }
    verdicts = _run(executor, full, samples)
    assert [k for k, v in verdicts.items() if v.passed] == []
    p11 = full.get(11)  # remove_Occ: remove first and last occurrence of a char
    off_by_one = {
        "Mbpp/11": {
            "completion": "def remove_Occ(s, ch):\n    return s.replace(ch, '', 1)\n",
        },
        "Mbpp/12": {"completion": "def sort_matrix(m):\n    return sorted(m)[1:]\n"},
        "Mbpp/14": {"completion": "def find_Volume(l, b, h):\n    return (l * b * h) / 2 + 1\n"},
    }
    assert "remove_Occ" in p11.meta["test_list"][0]
    verdicts = _run(executor, full, off_by_one)
    assert {k: v.status for k, v in verdicts.items()} == dict.fromkeys(off_by_one, "failed")


def test_asserts_cannot_be_skipped_in_rpc(full: MbppTask, executor: LocalExecutor) -> None:
    p = full.get(2)
    assert full.mode(p) == "rpc"
    fake = "import os\ndef similar_elements(a, b):\n    return ()\nos._exit(0)\n"
    verdicts = _run(executor, full, {"Mbpp/2": {"completion": fake}})
    assert not verdicts["Mbpp/2"].passed


_CHANNEL = (
    "import os, struct\n"
    "_m = b'\\x01t' + struct.pack('>I', 1) + b's' + struct.pack('>I', 4) + b'done'\n"
    "os.write(4, struct.pack('>I', len(_m)) + _m)\n"
)
_FAKES = {
    # Writing ("done",) to the private channel was enough to pass a concat problem.
    "channel": _CHANNEL,
    # An object that equals everything passed the asserts run inside the candidate.
    "always-equal": "class _E:\n    def __eq__(self, o):\n        return True\n",
    "exit": "import os\nos._exit(0)\n",
}
_E_OR = "return _E() if '_E' in globals() else"


@pytest.mark.parametrize("how", list(_FAKES))
@pytest.mark.parametrize(
    ("tid", "body"),
    [
        ("Mbpp/367", "class Node:\n    def __init__(self, data):\n        self.data = data\n"
                     "        self.left = self.right = None\n"
                     f"def is_tree_balanced(root):\n    {_E_OR} 1\n"),
        ("Mbpp/601", "class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n"
                     f"def max_chain_length(arr, n):\n    {_E_OR} 0\n"),
        ("Mbpp/88", f"def freq_count(xs):\n    {_E_OR} {{}}\n"),
    ],
)  # fmt: skip
def test_problems_that_needed_concat_cannot_be_faked(
    full: MbppTask, executor: LocalExecutor, tid: str, body: str, how: str
) -> None:
    """Before, these were judged in concat mode: the whole program ran in the candidate's
    process, so writing to the reply channel or returning an always-equal object passed."""
    fake = _FAKES[how] + body
    verdict = _run(executor, full, {tid: {"completion": fake}})[tid]
    assert verdict.mode == "rpc"
    assert verdict.status == "failed", (how, verdict.result)


def p_expose(task: MbppTask, problem: Problem) -> tuple[str, ...]:
    """The function names the tests call (what a plausible wrong completion defines)."""
    prog = task.program(problem, {"completion": ""}, "probe")
    return prog.expose or ((problem.entry_point,) if problem.entry_point else ())
