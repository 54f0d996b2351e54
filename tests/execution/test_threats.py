"""Hostile completions in rpc mode: each must come out failed or timed out, never passed,
and must not harm the host or the executor. HumanEval/0 (has_close_elements) is the target
unless a test says otherwise."""

from __future__ import annotations

import os
import socket
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from _exec_helpers import SECRET_ENV, SECRET_VALUE, humaneval_program, judge

from codeduel.execution import LocalExecutor, Program

WRONG = "    return True\n"  # a wrong body: fails check() honestly


def _not_passed(ex: LocalExecutor, problem: dict[str, Any], completion: str) -> str:
    v = judge(ex, humaneval_program(problem, completion))
    assert v.status in ("failed", "timed out"), (v.status, v.reason)
    return v.status


@pytest.fixture(scope="module")
def p0(problems: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return problems["HumanEval/0"]


def _require(ex: LocalExecutor, *layers: str) -> None:
    """Skip when none of ``layers`` is active here (e.g. a laptop without Landlock): the
    threat is then outside what this machine can stop, which `codeduel doctor` reports."""
    active = {x.name for x in ex.layers() if x.active}
    if not active.intersection(layers):
        pytest.skip(f"needs one of {layers} active on this machine")


def _canonical_passes(ex: LocalExecutor, p0: dict[str, Any]) -> None:
    v = judge(ex, humaneval_program(p0, p0["canonical_solution"]))
    assert v.status == "passed", v.reason


def test_sys_exit_in_completion(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    _not_passed(executor, p0, "    import sys\n    sys.exit(0)\n")
    _not_passed(executor, p0, WRONG + "\nimport sys\nsys.exit(0)\n")


def test_os_exit_in_completion(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    assert _not_passed(executor, p0, "    import os\n    os._exit(0)\n") == "failed"
    v = judge(executor, humaneval_program(p0, WRONG + "\nimport os\nos._exit(0)\n"))
    assert v.status == "failed"
    assert v.reason == "candidate process exited with status 0"


def test_atexit_hook_that_exits_before_tests(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    completion = WRONG + textwrap.dedent(
        """
        import atexit, os, sys
        atexit.register(lambda: os._exit(0))
        sys.exit(0)
        """
    )
    assert _not_passed(executor, p0, completion) == "failed"


def test_redefining_check(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    completion = WRONG + textwrap.dedent(
        """
        def check(candidate):
            return True
        globals()["check"] = check
        """
    )
    assert _not_passed(executor, p0, completion) == "failed"


def test_patching_builtins(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    completion = WRONG + textwrap.dedent(
        """
        import builtins
        class Quiet(Exception):
            pass
        builtins.AssertionError = Quiet
        builtins.__import__ = lambda *a, **k: None
        builtins.isinstance = lambda *a: True
        """
    )
    assert _not_passed(executor, p0, completion) == "failed"


_EQ_TRUE = "        def __eq__(self, o):\n            return True\n"


@pytest.mark.parametrize(
    "completion",
    [
        "    class Eq:\n" + _EQ_TRUE + "    return Eq()\n",
        "    class B(int):\n" + _EQ_TRUE + "    return B(1)\n",
        "    class S(str):\n" + _EQ_TRUE + "    return S('x')\n",
        "    class T(tuple):\n" + _EQ_TRUE + "    return T()\n",
    ],
    ids=["object", "int-subclass", "str-subclass", "tuple-subclass"],
)
def test_always_equal_results(executor: LocalExecutor, p0: dict[str, Any], completion: str) -> None:
    """The candidate's own class never reaches the comparison; a subclass of a builtin arrives
    as the builtin (its data: 1, 'x', ()), so its `__eq__` is never called either."""
    v = judge(executor, humaneval_program(p0, completion))
    assert v.status == "failed"
    if "class Eq" in completion:
        assert "cannot be checked" in v.reason
    else:
        assert "cannot be checked" not in v.reason


def test_killing_the_parent(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    for attack in (
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
        "import os, signal\nos.killpg(os.getpgid(os.getppid()), signal.SIGKILL)\n",
        "import os, signal\nos.kill(-1, signal.SIGKILL)\n",
        "import os, signal\nos.killpg(0, signal.SIGKILL)\n",
    ):
        _not_passed(executor, p0, WRONG + attack)
        _not_passed(executor, p0, "    " + attack.replace("\n", "\n    ") + "return True\n")
    # Still scoring correctly afterwards, on every worker.
    for _ in range(4):
        _canonical_passes(executor, p0)


@pytest.mark.parametrize(
    "attack",
    [
        "import os\nos.close(1)\nos.close(2)\n",
        "import os\nos.close(0)\nos.close(1)\nos.close(2)\n",
        "import os\nos.closerange(0, 65536)\n",
        "import sys\nsys.stdout.close()\nsys.stderr.close()\n",
    ],
    ids=["stdout-stderr", "fd0-2", "all-fds", "sys-streams"],
)
def test_closing_fds(executor: LocalExecutor, p0: dict[str, Any], attack: str) -> None:
    _not_passed(executor, p0, WRONG + attack)


def test_printing_what_a_passing_run_prints(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    completion = WRONG + textwrap.dedent(
        """
        import os, sys
        print("passed")
        print('{"task_id": "HumanEval/0", "passed": true, "result": "passed"}')
        sys.stdout.flush()
        os._exit(0)
        """
    )
    assert _not_passed(executor, p0, completion) == "failed"


def _leaked(token: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if token in Path(f"/proc/{pid}/comm").read_text():
                    found.append(int(pid))
            except OSError:
                pass
    return found


def test_fork_bomb_and_daemon_leave_no_process(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    _require(executor, "seccomp")  # as root nothing else bounds a fork bomb
    bomb = "import os\nwhile True:\n    os.fork()\n"
    assert _not_passed(executor, p0, WRONG + bomb) == "failed"
    token = f"cdleak{os.getpid() % 10000}"
    daemon = textwrap.dedent(
        f"""
        import ctypes, os, time
        def _hide():
            libc = ctypes.CDLL(None)
            libc.prctl(15, b"{token}", 0, 0, 0)
        try:
            if os.fork() == 0:
                os.setsid()
                _hide()
                time.sleep(60)
        except OSError:
            pass
        try:
            import subprocess
            subprocess.Popen(["sleep", "60"])
        except OSError:
            pass
        """
    )
    assert _not_passed(executor, p0, WRONG + daemon) == "failed"
    time.sleep(0.2)
    assert _leaked(token) == []
    assert _leaked("sleep 60") == []


def _live_children() -> dict[int, list[int]]:
    """ppid -> pids of its live (non-zombie) children, for every process on the machine."""
    out: dict[int, list[int]] = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                out.setdefault(int(fields[1]), []).append(int(pid))
    return out


def test_no_process_survives_a_program(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    _not_passed(executor, p0, "    import time\n    time.sleep(30)\n")  # timed out, killed
    time.sleep(0.3)
    tree = _live_children()
    workers = [w.proc.pid for w in executor._workers if w.proc is not None]
    assert workers
    for worker in workers:
        # A worker's only child is its clean zygote. The zygote's live children are at most
        # the two idle, already-sandboxed processes waiting for the next programs; the killed
        # program's process is gone (or a zombie awaiting its reap).
        zygotes = tree.get(worker, [])
        assert len(zygotes) == 1, tree.get(worker)
        assert len(tree.get(zygotes[0], [])) <= 2, tree.get(zygotes[0])


def test_memory_bomb(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    _not_passed(executor, p0, WRONG + "x = bytearray(8 * 1024**3)\n")
    grow = "    blocks = []\n    while True:\n        blocks.append(bytearray(64 * 1024**2))\n"
    _not_passed(executor, p0, grow)
    _canonical_passes(executor, p0)


def test_infinite_loop_times_out(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    v = judge(executor, humaneval_program(p0, "    while True:\n        pass\n", timeout_s=1.0))
    assert v.status == "timed out"
    v = judge(executor, humaneval_program(p0, WRONG + "while True:\n    pass\n", timeout_s=1.0))
    assert v.status == "timed out"


def test_huge_file_write(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    attack = "with open('big.bin', 'wb') as f:\n    f.write(b'x' * (64 * 1024**2))\n"
    assert _not_passed(executor, p0, WRONG + attack) == "failed"
    big = [
        p
        for p in Path(executor._scratch).rglob("*")
        if p.is_file() and p.stat().st_size > 16 * 1024**2
    ]
    assert big == []


def test_network_access_to_a_loopback_listener(executor: LocalExecutor, p0: dict[str, Any]) -> None:
    _require(executor, "seccomp", "netns")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = listener.getsockname()[1]
        attack = textwrap.dedent(
            f"""
            import socket
            s = socket.create_connection(("127.0.0.1", {port}), timeout=1)
            s.sendall(b"leak")
            """
        )
        v = judge(executor, humaneval_program(p0, attack + p0["canonical_solution"]))
        assert v.status == "failed"
        listener.settimeout(0.3)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_secrets_are_not_readable(executor: LocalExecutor, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET_VALUE)
    candidate = textwrap.dedent(
        f"""
        import os
        def spy():
            out = {{"env": dict(os.environ)}}
            for path in ("/proc/1/environ", f"/proc/{{os.getppid()}}/environ",
                         "/proc/self/environ", {str(secret_file)!r}, "/root/.bashrc"):
                try:
                    with open(path, "rb") as f:
                        out[path] = f.read().decode("latin-1")
                except OSError as e:
                    out[path] = "denied: " + type(e).__name__
            try:
                out["/root"] = os.listdir("/root")
            except OSError as e:
                out["/root"] = "denied: " + type(e).__name__
            return out
        """
    )
    program = Program("spy", candidate, harness="report(spy())\n", expose=("spy",))
    v = judge(executor, program)
    assert v.status == "passed", v.reason
    seen = v.details["report"]
    assert SECRET_ENV not in seen["env"]
    assert SECRET_VALUE not in repr(seen)
    assert str(seen["/root"]).startswith("denied")
    assert str(seen["/proc/1/environ"]).startswith("denied")
    if {x.name: x.active for x in executor.layers()}["landlock"]:
        assert str(seen[str(secret_file)]).startswith("denied")


def test_canonical_solutions_all_pass(
    executor: LocalExecutor, problems: dict[str, dict[str, Any]]
) -> None:
    programs = [
        humaneval_program(p, p["canonical_solution"], key=tid) for tid, p in problems.items()
    ]
    verdicts = {v.key: v for v in executor.run(programs)}
    assert len(verdicts) == 164
    failed = {k: v.result for k, v in verdicts.items() if not v.passed}
    assert failed == {}


def test_candidate_cannot_find_the_tests_in_its_memory(executor: LocalExecutor) -> None:
    marker = "expected-output-3f9c1a"
    candidate = textwrap.dedent(
        """
        import gc, sys
        def spy():
            hits = []
            needle = "".join(["3f9c", "1a"]).encode()  # built at run time, not a constant
            seen = set()
            def walk(value, where, depth):
                if value is needle or id(value) in seen or depth > 6:
                    return
                seen.add(id(value))
                if isinstance(value, (str, bytes)):
                    data = value if isinstance(value, bytes) else value.encode("utf-8", "replace")
                    if needle in data:
                        hits.append(where)
                elif isinstance(value, dict):
                    for k, v in list(value.items()):
                        walk(k, where, depth + 1)
                        walk(v, where, depth + 1)
                elif isinstance(value, (list, tuple, set, frozenset)):
                    for v in list(value):
                        walk(v, where, depth + 1)
                elif type(value).__name__ == "code":
                    walk(value.co_consts, where, depth + 1)
                elif type(value).__name__ == "function":
                    walk(value.__code__, where, depth + 1)
            for name, mod in list(sys.modules.items()):
                walk(getattr(mod, "__dict__", {}), "module " + name, 0)
            for obj in gc.get_objects():
                walk(obj, "gc object", 0)
            frame = sys._getframe().f_back
            while frame is not None:
                walk(frame.f_locals, "frame " + frame.f_code.co_name, 0)
                frame = frame.f_back
            return sorted(set(hits))
        """
    )
    # The same harness twice: the second child is forked after the first was judged.
    harness = f"EXPECTED = {marker!r}\nreport(spy())\n"
    for _ in range(2):
        v = judge(executor, Program("spy", candidate, harness=harness, expose=("spy",)))
        assert v.status == "passed", v.reason
        assert v.details["report"] == []
