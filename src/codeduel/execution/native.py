"""Judging ``exec`` programs: source compiled and run by its own toolchain, in the sandbox.

Imported by the worker on the first ``exec`` job only (the zygote, forked before any job,
never holds it). Each step is a fresh process forked from the worker that sandboxes itself
and then calls ``execve``: nothing of the worker's memory survives the exec, and no untrusted
code runs before it. The layers are the worker's, adapted to a toolchain:

- own process group, killed as a whole when the step ends (background processes included);
- rlimits: CPU per process (the step's limit), address space where the runtime allows it,
  file size, open files, processes (counted for the worker's uid);
- privilege drop to the worker's own uid (root only; 65534 where none can be set), keeping
  CAP_DAC_READ_SEARCH as an ambient capability only when Landlock limits reads to the
  allowlist;
- the worker's network and mount namespaces and private scratch tmpfs;
- Landlock: read and execute only the toolchain's paths (never a benchmark location, see
  :mod:`codeduel.execution.readable`), write only the scratch dir;
- seccomp: the exec variant of the deny-list (processes and exec allowed, sockets other than
  AF_UNIX, ptrace, mounts, namespaces, keyrings, BPF, ... denied).

Output crosses through pipes the judge reads with a bounded buffer; the verdict is decided
here, from exit statuses and the completion marker, never from anything the program says about
itself beyond printing the marker.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from typing import TYPE_CHECKING, Any

from codeduel.execution import sandbox

if TYPE_CHECKING:
    from codeduel.execution.worker import Worker

MARKER_SLOT = "@@CODEDUEL_MARKER@@"  # the same text as codeduel.execution.base.MARKER_SLOT
OUTPUT_CAP = 32 * 1024 * 1024  # bytes a step may print before it is stopped
_DEVICES = ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"]


class StepResult:
    """What one step did, as the judge saw it."""

    def __init__(self) -> None:
        self.exit_code: int | None = None
        self.signal: int | None = None
        self.timed_out = False
        self.limit = "cpu"  # which limit ended it, when timed_out: "cpu" or "wall"
        self.output_exceeded = False
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.out = bytearray()
        self.err = bytearray()
        self.marker_seen = False
        self.failure_text = ""  # a failure pattern the output matched

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.output_exceeded


class _Tail:
    """The last ``keep`` bytes of a stream, and whether ``marker`` appeared as a line.

    Both searches are one ``bytes.find`` per chunk over the chunk and the few bytes before
    it, so a program printing millions of short lines costs the judge C-speed scans, not a
    Python loop per line."""

    def __init__(self, keep: int, marker: bytes | None, patterns: tuple[bytes, ...] = ()) -> None:
        self.keep = keep
        self.buf = bytearray()
        self.needle = b"\n" + marker if marker else b""
        self.prev = b"\n"  # the stream's start counts as a line start
        self.seen = False
        self.total = 0
        self.patterns = patterns
        self.matched: bytes | None = None  # the first failure pattern seen
        self._overlap = max((len(p) for p in patterns), default=1) - 1

    def feed(self, chunk: bytes) -> None:
        if self.patterns and self.matched is None:
            window = bytes(self.buf[len(self.buf) - self._overlap :]) + chunk
            self.matched = next((p for p in self.patterns if p in window), None)
        self.total += len(chunk)
        self.buf += chunk
        if len(self.buf) > self.keep:
            del self.buf[: len(self.buf) - self.keep]
        if self.needle and not self.seen:
            self.seen = self._find(self.prev + chunk)

    def _find(self, window: bytes) -> bool:
        """Whether ``window`` holds the marker as a whole line (``\n`` or ``\r\n`` after
        it); keeps the tail where a line cut by the chunk boundary may still complete."""
        needle = self.needle
        at = window.find(needle)
        while at >= 0:
            end = at + len(needle)
            after = window[end : end + 2]
            if after[:1] == b"\n" or after == b"\r\n":
                return True
            at = window.find(needle, at + 1)
        self.prev = window[-(len(needle) + 2) :]
        return False


class NativeRunner:
    """Per-worker state for ``exec`` programs: the seccomp filter and Landlock rulesets."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.seccomp: sandbox.SeccompProgram | None = None
        if worker.seccomp is not None:  # the Python filter worked here: build the exec one
            self.seccomp = sandbox.SeccompProgram(
                worker._in_child(lambda: sandbox.seccomp_program(for_exec=True))
            )
        self.abi = sandbox.landlock_abi() if worker.ruleset_fd is not None else 0
        self.rulesets: dict[tuple[tuple[str, ...], bool], int] = {}
        # A step's orphans (a background process whose parent exited) come back to this
        # worker rather than pid 1, which in a container may never reap them: their zombies
        # would keep counting against the sandbox uid's process limit. Groups whose members
        # may still arrive are swept between steps for a while (pgid -> until when).
        self.subreaper = False
        if worker.cpu_clocks:
            with contextlib.suppress(OSError):
                sandbox.prctl(sandbox.PR_SET_CHILD_SUBREAPER, 1)
                self.subreaper = True
        self.groups: dict[int, float] = {}

    def _ruleset(self, read_paths: tuple[str, ...], proc: bool) -> int | None:
        if self.abi <= 0:
            return None
        key = (read_paths, proc)
        fd = self.rulesets.get(key)
        if fd is None:
            paths = [*read_paths, "/proc"] if proc else list(read_paths)
            raw = sandbox.landlock_ruleset(self.abi, paths, [self.worker.box], _DEVICES)
            import fcntl

            fd = fcntl.fcntl(raw, fcntl.F_DUPFD_CLOEXEC, 100)
            os.close(raw)
            self.rulesets[key] = fd
        return fd

    # ----------------------------------------------------------------- one program

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        w = self.worker
        spec: dict[str, Any] = job["exec"]
        timeout = float(job.get("timeout_s") or w.limits["timeout_s"])
        start = time.monotonic()
        marker = "codeduel-done-" + os.urandom(16).hex()
        harness = str(job.get("harness") or "").replace(MARKER_SLOT, marker)
        self._write(str(spec["source_name"]), str(job["candidate"]) + harness)
        for name, text in spec.get("files", ()):
            self._write(str(name), str(text))
        del harness
        ruleset = self._ruleset(tuple(spec.get("read_paths", ())), bool(spec.get("proc")))
        env = {str(k): str(v).replace("{box}", w.box) for k, v in spec.get("env", ())}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.setdefault("HOME", w.box)
        env.setdefault("TMPDIR", w.box)
        env.setdefault("LANG", "C.UTF-8")
        details: dict[str, Any] = {"steps": []}
        status, reason = "passed", ""
        steps = list(spec["steps"])
        last: StepResult | None = None
        keep = int(w.limits["output_bytes"])
        cpu_total = 0.0
        for i, step in enumerate(steps):
            argv = [str(a) for a in step["argv"]]
            step_timeout = float(step.get("timeout_s") or timeout)
            final = i == len(steps) - 1
            patterns = spec.get("fail_patterns", ()) if final else ()
            res = self._step(
                argv, env, step_timeout, spec, ruleset, keep, marker if final else None, patterns
            )
            cpu_total += res.cpu_s
            last = res
            stage = str(step.get("stage", "run"))
            details["steps"].append(
                {
                    "stage": stage,
                    "exit": res.exit_code,
                    "signal": res.signal,
                    "cpu_s": round(res.cpu_s, 4),
                    "wall_s": round(res.wall_s, 4),
                }
            )
            if res.timed_out:
                status, reason = "timed out", ""
                details["limit"] = res.limit
                details["stage"] = stage
                break
            if res.output_exceeded:
                status, reason = "failed", f"{stage} printed more than {OUTPUT_CAP} bytes"
                details["stage"] = stage
                break
            if not res.ok:
                status = "failed"
                details["stage"] = stage
                if res.signal is not None:
                    how = f"killed by signal {res.signal} ({_signame(res.signal)})"
                else:
                    how = f"exited with status {res.exit_code}"
                reason = f"{stage} {how}"
                first = _first_error(res.err) or _first_error(res.out)
                if first:
                    reason += f": {first}"
                break
            if final and res.failure_text:
                status = "failed"
                details["stage"] = stage
                reason = f"{stage} output shows a failed test ({res.failure_text})"
                first = _first_error(res.err) or _first_error(res.out)
                if first:
                    reason += f": {first}"
            elif final and not res.marker_seen:
                status = "failed"
                details["stage"] = stage
                reason = (
                    "the program exited with status 0 before its tests finished "
                    "(the completion marker was not printed)"
                )
        details["cpu_s"] = round(cpu_total, 4)
        out = err = ""
        if last is not None:
            out = _decode(last.out).replace(marker, "<marker>")
            err = _decode(last.err).replace(marker, "<marker>")
        return {
            "key": job["key"],
            "status": status,
            "reason": reason[:4096] if status == "failed" else "",
            "mode": "exec",
            "duration_s": time.monotonic() - start,
            "stdout_tail": out[-keep:],
            "stderr_tail": err[-keep:],
            "details": details,
        }

    def _write(self, name: str, text: str) -> None:
        path = os.path.join(self.worker.box, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        try:
            data = memoryview(text.encode("utf-8", "surrogatepass"))
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
        if self.worker.drop:
            os.chown(path, self.worker.uid, self.worker.uid)

    def _step(
        self,
        argv: list[str],
        env: dict[str, str],
        timeout: float,
        spec: dict[str, Any],
        ruleset: int | None,
        keep: int,
        marker: str | None,
        patterns: Any = (),
    ) -> StepResult:
        w = self.worker
        res = StepResult()
        r_out, w_out = os.pipe()
        r_err, w_err = os.pipe()
        cpu_s = max(1, int(timeout) + 1)
        begin = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which execs or exits
            try:
                os.close(r_out)
                os.close(r_err)
                self._child(argv, env, w_out, w_err, cpu_s, spec, ruleset)
            finally:
                os._exit(127)
        os.close(w_out)
        os.close(w_err)
        on: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        for stream, text in patterns:
            on[str(stream)].append(str(text).encode())
        tails = {
            r_out: _Tail(
                max(keep, 65536), marker.encode() if marker else None, tuple(on["stdout"])
            ),
            r_err: _Tail(max(keep, 65536), None, tuple(on["stderr"])),
        }
        deadline = begin + w.wall_for(timeout)
        try:
            pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        open_fds = {r_out, r_err}
        exited = False
        status = 0
        rusage: Any = None
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    res.timed_out, res.limit = True, "wall"
                    break
                wait_on = list(open_fds) + ([pidfd] if pidfd is not None else [])
                ready, _, _ = select.select(wait_on, [], [], min(remaining, 0.05))
                for fd in ready:
                    if fd == pidfd:
                        continue
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        open_fds.discard(fd)
                        continue
                    tails[fd].feed(chunk)
                if tails[r_out].total + tails[r_err].total > OUTPUT_CAP:
                    res.output_exceeded = True
                    break
                done, st, ru = os.wait4(pid, os.WNOHANG)
                if done:
                    exited, status, rusage = True, st, ru
                    break
            # The process ended (or must end): whatever is still queued in the pipes is read
            # without waiting; a background process keeping them open cannot stall the judge.
            _kill_group(pid)
            for fd in list(open_fds):
                os.set_blocking(fd, False)
                with contextlib.suppress(BlockingIOError, OSError):
                    while (chunk := os.read(fd, 65536)) and tails[fd].total < OUTPUT_CAP:
                        tails[fd].feed(chunk)
            if not exited:
                _, status, rusage = os.wait4(pid, 0)
        finally:
            _kill_group(pid)
            for fd in (r_out, r_err):
                os.close(fd)
            if pidfd is not None:
                os.close(pidfd)
            if self.subreaper:
                self._reap(pid)
        res.wall_s = time.monotonic() - begin
        if rusage is not None:
            res.cpu_s = float(rusage.ru_utime + rusage.ru_stime)
        if os.WIFSIGNALED(status):
            res.signal = os.WTERMSIG(status)
            if res.signal == signal.SIGXCPU or (
                res.signal == signal.SIGKILL and res.cpu_s >= cpu_s - 0.05
            ):
                res.timed_out = True
        elif os.WIFEXITED(status):
            res.exit_code = os.WEXITSTATUS(status)
        if not res.timed_out and res.cpu_s > timeout and exited:
            res.timed_out = True  # it finished, but over its CPU limit
        res.out, res.err = tails[r_out].buf, tails[r_err].buf
        res.marker_seen = tails[r_out].seen
        for fd, stream in ((r_out, "stdout"), (r_err, "stderr")):
            hit = tails[fd].matched
            if hit is not None and not res.failure_text:
                res.failure_text = (
                    f"{stream} contains {_decode(hit)!r}" if hit else f"{stream} is not empty"
                )
        return res

    def _child(
        self,
        argv: list[str],
        env: dict[str, str],
        w_out: int,
        w_err: int,
        cpu_s: int,
        spec: dict[str, Any],
        ruleset: int | None,
    ) -> None:
        """In the forked child: sandbox this process, then exec the step (never returns)."""
        w = self.worker
        os.setpgid(0, 0)
        sandbox.set_oom_score(1000)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        if w.cpu_clocks:  # Linux
            sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != w.pid:
                os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(w_out, 1)
        os.dup2(w_err, 2)
        keep = {0, 1, 2}
        if ruleset is not None:
            keep.add(ruleset)
        sandbox.close_fds(keep, known=sandbox.close_range_works())
        if w.drop:
            sandbox.PrivilegeDrop(w.keep_dac, w.uid).apply(ambient=w.keep_dac)
        memory = spec.get("memory_mb")
        sandbox.apply_rlimits(
            int(memory) if memory else 0,
            cpu_s,
            int(spec.get("file_size_mb", w.limits["file_size_mb"])),
            int(spec.get("open_files", 1024)),
            self._nproc(int(spec.get("processes", 64))),
        )
        if ruleset is not None:
            sandbox.landlock_restrict(ruleset)
            os.close(ruleset)
        if self.seccomp is not None:
            self.seccomp.install()
        os.chdir(w.box)
        os.execve(argv[0], argv, env)

    def _reap(self, pgid: int) -> None:
        """Collect the zombies of the step whose group ``pgid`` was just killed (waiting up to
        0.2 s for the SIGKILLed members to die) and of earlier steps' groups still swept.

        Runs only between steps, when no process of this worker's making is alive but the
        zygote (another group): a pgid is in use while any member lives, so no live step can
        share one of these numbers."""
        now = time.monotonic()
        self.groups[pgid] = now + 10.0
        give_up = now + 0.2
        for group in list(self.groups):
            while True:
                try:
                    got = os.waitid(os.P_PGID, group, os.WEXITED | os.WNOHANG)
                except ChildProcessError:
                    break
                if got is None:  # members alive: being killed
                    if group != pgid or time.monotonic() > give_up:
                        break
                    time.sleep(0.001)
            if self.groups[group] < now:
                del self.groups[group]
        while len(self.groups) > 256:
            del self.groups[next(iter(self.groups))]

    def _nproc(self, processes: int) -> int | None:
        """RLIMIT_NPROC: counted for the worker's uid. Where it is the worker's own, the step's
        ``processes`` plus room for the worker's waiting Python children; where 65534 is
        shared by every worker, room for all of theirs too (one program can then starve
        another worker's: see docs/security.md)."""
        w = self.worker
        if not w.drop:
            return None if w.seccomp is not None else processes
        if w.own_uid:
            return processes + 16
        return processes + int(w.limits.get("nproc_shared", w.limits["processes"]))


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(pid, signal.SIGKILL)


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _decode(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", "replace")


def _first_error(data: bytes | bytearray) -> str:
    """The first line that looks like an error, for a one-line reason (capped)."""
    lines = [line.strip() for line in _decode(data[-16384:]).splitlines() if line.strip()]
    for line in lines:
        low = line.lower()
        if "error" in low or "exception" in low or "assert" in low or "fail" in low:
            return line[:300]
    return lines[-1][:300] if lines else ""
