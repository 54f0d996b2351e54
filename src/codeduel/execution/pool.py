"""LocalExecutor: a pool of zygote workers, one per core, fed from a shared queue.

Each worker is a separate ``python -s -S -P`` process (see :mod:`codeduel.execution.worker`)
driven by one thread here. Programs go in through :meth:`LocalExecutor.submit` (thread-safe,
returns a future) or :meth:`LocalExecutor.run` (lazy, bounded in flight, yields as they
finish), so generation can feed programs while the model is still producing them.

A worker that dies or stops answering is replaced and its program re-run once; a second loss
reports the program failed with the reason. Closing kills every worker; each worker's zygote
and children die with it (PDEATHSIG chain) and with the optional cgroup.
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import asdict
from pathlib import Path
from typing import Any

from codeduel.errors import ExecutorError
from codeduel.execution import codec, readable
from codeduel.execution.base import LayerStatus, Limits, Program, Verdict, run_bounded
from codeduel.execution.harness import prepare_text
from codeduel.execution.sandbox import remove_tree
from codeduel.execution.wire import recv_msg, send_msg
from codeduel.machine import cpu_ids, usable_cpus

__all__ = ["ISOLATION_LEVELS", "LAYERS", "LocalExecutor", "parse_required_layers"]

ISOLATION_LEVELS = ("auto", "strict", "none")
# Every layer a worker reports, in the order `codeduel doctor` prints them.
LAYERS = ("process", "rlimits", "netns", "scratch", "landlock", "setuid", "seccomp", "cgroup")
_STRICT_LAYERS = ("rlimits", "seccomp")
_WATCHDOG_GRACE_S = 10.0
_START_TIMEOUT_S = 60.0
_START_FAILURES_BEFORE_ABORT = 3  # programs in a row whose worker would not (re)start


def parse_required_layers(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """``"all"``, a comma-separated list or a sequence of layer names -> the names; an unknown
    name is a one-line error (a CI pipeline must not silently ask for nothing)."""
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    names: list[str] = []
    for part in parts:
        name = part.strip().lower()
        if not name:
            continue
        if name == "all":
            names.extend(LAYERS)
        elif name in LAYERS:
            names.append(name)
        else:
            raise ExecutorError(
                f"unknown isolation layer {part.strip()!r} in --require-isolation",
                f"use all or a comma-separated list of {', '.join(LAYERS)}",
            )
    return tuple(dict.fromkeys(names))


# The worker imports its own modules (codec, sandbox, wire, worker) through stub packages, so
# neither codeduel's nor codeduel.execution's __init__ runs (importlib.metadata alone pulls in
# ~150 modules, and every page the zygote touches is copied on each fork).
_BOOT = (
    "import sys,types\n"
    "sys.path[:0]=[p for p in sys.argv[2].split('\\n') if p]\n"
    "for n,d in (('codeduel',sys.argv[3]),('codeduel.execution',sys.argv[3]+'/execution')):\n"
    " m=types.ModuleType(n);m.__path__=[d];sys.modules[n]=m\n"
    "from codeduel.execution.worker import main\n"
    "main(int(sys.argv[1]))\n"
)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _scratch_root() -> str:
    """tmpfs when available: mkdtemp+rmtree costs ~4 ms on ext4 and ~0.04 ms on tmpfs."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return tempfile.gettempdir()


def _owner_alive(name: str) -> bool:
    """``codeduel-<pid>-<hex>`` names carry the creating process id; is it still running?"""
    try:
        pid = int(name.split("-")[1])
    except (IndexError, ValueError):
        return True
    return os.path.exists(f"/proc/{pid}") if os.path.isdir("/proc") else True


def _remove_stale(scratch_root: str) -> None:
    """Remove scratch dirs and cgroups left by executors whose process was killed (best effort:
    a killed parent cannot clean up, and its empty cgroups and dirs would pile up)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(scratch_root):
            if entry.name.startswith("codeduel-") and not _owner_alive(entry.name):
                remove_tree(entry.path)  # iterative: a program may have nested thousands
    for hierarchy in ("memory", "pids"):
        base = _own_cgroup(hierarchy)
        if base is None:
            continue
        with contextlib.suppress(OSError):
            for d in base.glob("codeduel-*"):
                if not _owner_alive(d.name):
                    with contextlib.suppress(OSError, ValueError):
                        for line in (d / "cgroup.procs").read_text().split():
                            os.kill(int(line), signal.SIGKILL)
                    with contextlib.suppress(OSError):
                        d.rmdir()


def _own_cgroup(hierarchy: str) -> Path | None:
    """The cgroup v1 directory this process is in for ``hierarchy`` (memory, pids).

    The pool's group is made *inside* it, so a limit someone put around codeduel (a CI job's,
    a systemd slice) still applies to the workers: v1 limits are hierarchical.
    """
    root = Path("/sys/fs/cgroup") / hierarchy
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return root if root.is_dir() else None
    for line in lines:
        _, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy in controllers.split(","):
            candidate = root / path.lstrip("/")
            return candidate if candidate.is_dir() else root
    return root if root.is_dir() else None


class _Cgroup:
    """cgroup v1 memory+pids group for the whole pool, nested in the caller's (root only)."""

    def __init__(self, name: str, memory_bytes: int, pids: int) -> None:
        self.dirs: list[Path] = []
        self.status: LayerStatus
        if not sys.platform.startswith("linux") or os.geteuid() != 0:
            self.status = LayerStatus("cgroup", False, "needs root (cgroup v1 memory+pids)")
            return
        mem, pid = _own_cgroup("memory"), _own_cgroup("pids")
        if mem is None or pid is None or not (os.access(mem, os.W_OK) and os.access(pid, os.W_OK)):
            self.status = LayerStatus(
                "cgroup", False, "no writable cgroup v1 memory and pids hierarchies"
            )
            return
        try:
            m, p = mem / name, pid / name
            m.mkdir()
            self.dirs.append(m)
            (m / "memory.limit_in_bytes").write_text(str(memory_bytes))
            p.mkdir()
            self.dirs.append(p)
            (p / "pids.max").write_text(str(pids))
            self.status = LayerStatus(
                "cgroup",
                True,
                f"v1 group {name} inside the caller's: memory {memory_bytes // 2**20} MiB "
                f"(programs + scratch), pids {pids}",
            )
        except OSError as e:
            self.remove()
            self.status = LayerStatus("cgroup", False, f"cgroup v1 setup failed: {e}")

    def add(self, pid: int) -> None:
        for d in self.dirs:
            with contextlib.suppress(OSError):
                (d / "cgroup.procs").write_text(str(pid))

    def kill_all(self) -> None:
        for d in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                for line in (d / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        os.kill(int(line), signal.SIGKILL)

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
        self.dirs = []


class _WorkerDied(Exception):
    pass


class _Worker:
    """One zygote process and the parent's end of its channel."""

    def __init__(self, pool: LocalExecutor, index: int) -> None:
        self.pool = pool
        self.index = index
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.layers: list[LayerStatus] = []
        self.spawns = 0

    def start(self) -> None:
        pool = self.pool
        self.spawns += 1
        box = os.path.join(pool._scratch, f"w{self.index}-{self.spawns}")
        parent, child = socket.socketpair()
        # The environment is built from nothing, so no PYTHON* variable of the caller's reaches
        # the worker; -s -S -P are what -I would set apart from -E, which would also ignore
        # PYTHONHASHSEED (the seed every verdict records and a rerun reproduces).
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": box,
            "PYTHONHASHSEED": str(pool.hash_seed),
        }
        paths = "\n".join(p for p in sys.path if p)
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-s",
                    "-S",
                    "-P",
                    "-c",
                    _BOOT,
                    str(child.fileno()),
                    paths,
                    _PACKAGE_DIR,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(child.fileno(),),
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as e:
            parent.close()
            child.close()
            raise ExecutorError(
                f"cannot start an executor worker ({e})", "check that Python can run here"
            ) from None
        child.close()
        self.sock = parent
        if pool._cgroup is not None:
            pool._cgroup.add(self.proc.pid)
        cfg = {
            # RLIMIT_NPROC counts every task of the sandbox uid, all workers' programs
            # together: room for each to start `threads` threads, so one program's threads
            # never depend on what the others run at the same moment.
            "limits": {**asdict(pool.limits), "nproc_shared": pool.nproc_shared},
            "isolation": "none" if pool.isolation == "none" else "auto",
            "box": box,
            "read_paths": list(pool.read_policy.allowed),
            "cpu": pool._cpus[self.index % len(pool._cpus)] if pool._cpus else None,
        }
        try:
            send_msg(parent.fileno(), codec.dumps(cfg))
            raw = recv_msg(parent.fileno(), _START_TIMEOUT_S)
        except BaseException as e:  # _Timeout is a BaseException
            self.kill()
            raise ExecutorError(
                f"executor worker did not start ({type(e).__name__})",
                "run `codeduel doctor` to see which isolation layer fails",
            ) from None
        reply: dict[str, Any] = (
            codec.loads(raw) if raw else {"error": "worker exited during start-up"}
        )
        if "error" in reply:
            self.kill()
            raise ExecutorError(
                f"executor worker failed to start: {reply['error']}",
                "run `codeduel doctor` or use isolation='none' to debug",
            )
        self.layers = [LayerStatus(str(n), bool(a), str(d)) for n, a, d in reply["layers"]]

    def execute(self, program: Program) -> Verdict:
        assert self.sock is not None
        limits = self.pool.limits
        timeout = program.timeout_s or limits.timeout_s
        harness_text = program.harness
        if program.mode == "rpc" and harness_text:
            try:  # rewritten here once per distinct harness; the worker only compiles it
                harness_text = prepare_text(program.harness, tuple(program.expose))
            except SyntaxError as e:
                return Verdict(
                    program.key, "failed", f"harness does not compile: {e}", program.mode
                )
        native: dict[str, Any] | None = None
        wall = limits.wall_for(timeout)
        if program.exec is not None:
            spec = program.exec
            native = {
                "source_name": spec.source_name,
                "steps": [
                    {"argv": list(s.argv), "stage": s.stage, "timeout_s": s.timeout_s}
                    for s in spec.steps
                ],
                "env": [list(kv) for kv in spec.env],
                "files": [list(f) for f in spec.files],
                "read_paths": self.pool.toolchain_paths(spec.read_paths, spec.own_paths),
                "memory_mb": spec.memory_mb,
                "processes": spec.processes,
                "open_files": spec.open_files,
                "file_size_mb": spec.file_size_mb,
                "proc": spec.proc,
                "fail_patterns": [list(p) for p in spec.fail_patterns],
            }
            wall = spec.wall_for(limits, timeout)
        job = {
            "exec": native,
            "key": program.key,
            "candidate": program.candidate,
            "harness": harness_text,
            "prepared": True,
            "expose": tuple(program.expose),
            "harness_data": program.harness_data,
            "mode": program.mode,
            "timeout_s": float(timeout),
        }
        try:
            payload = codec.dumps(job)
        except codec.UnsupportedType as e:
            return Verdict(
                program.key, "failed", f"harness_data is not plain data: {e}", program.mode
            )
        fd = self.sock.fileno()
        try:
            send_msg(fd, payload)
            raw = recv_msg(fd, wall + _WATCHDOG_GRACE_S)
        except BaseException as e:  # includes the worker module's _Timeout
            if isinstance(e, KeyboardInterrupt):
                raise
            self.kill()
            raise _WorkerDied(f"worker stopped answering ({type(e).__name__})") from None
        if raw is None:
            code = self.kill()
            raise _WorkerDied(f"worker exited with status {code}")
        v = codec.loads(raw)
        v["details"]["hash_seed"] = self.pool.hash_seed
        return Verdict(
            key=v["key"],
            status=v["status"],
            reason=v["reason"],
            mode=v["mode"],
            duration_s=v["duration_s"],
            stdout_tail=v["stdout_tail"],
            stderr_tail=v["stderr_tail"],
            details=v["details"],
        )

    def kill(self) -> int | None:
        """Stop the worker now; its children die with it (PDEATHSIG)."""
        code = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            code = self.proc.wait()
            self.proc = None
        return code

    def stop(self) -> None:
        """Ask the worker to exit (close its channel), then make sure it did."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)
        self.kill()


_STOP = object()


class LocalExecutor:
    """Sandboxed executor on this machine: ``workers`` zygotes (default: one per CPU this
    process may use, see :func:`codeduel.machine.usable_cpus`).

    ``isolation``: ``"auto"`` uses every layer that works here and records the rest;
    ``"strict"`` refuses to start unless rlimits and seccomp work; ``"none"`` keeps only
    fork-per-program, rlimits and the deadline (for debugging and measuring layer costs).

    ``pin_cpus``: bind worker i (its judge, zygote and children) to the i-th CPU this process
    may use. Each verdict is a ping-pong between judge and child; on one core the wake-ups
    stay cheap, while across cores they cost cross-CPU wake-ups and cold caches (measured
    on 2 cores: 400 -> 475 programs/s). Turn it off where several executors share a machine
    (the Ray executor does).

    ``require``: layer names (or ``"all"``) that must be active, else the executor refuses to
    start with one line naming the missing ones (so a CI pipeline fails closed).
    ``packages``: distributions candidates may import beyond the standard library (their files
    join the read allowlist); ``exclude``: more places candidates must never read (a
    ``--data-dir``). ``hash_seed``: every worker's ``PYTHONHASHSEED``, recorded in each
    verdict, so set and dict orders (and verdicts that depend on them) can be reproduced.
    """

    def __init__(
        self,
        workers: int | None = None,
        limits: Limits = Limits(),  # noqa: B008 - frozen dataclass, safe as a default
        isolation: str = "auto",
        max_in_flight: int | None = None,
        pin_cpus: bool = True,
        require: str | tuple[str, ...] | list[str] | None = None,
        packages: tuple[str, ...] | list[str] = (),
        exclude: tuple[str, ...] | list[str] = (),
        hash_seed: int = 0,
    ) -> None:
        if isolation not in ISOLATION_LEVELS:
            raise ExecutorError(
                f"unknown isolation level {isolation!r}",
                f"use one of {', '.join(ISOLATION_LEVELS)}",
            )
        n = workers if workers is not None else usable_cpus()
        if n < 1:
            raise ExecutorError(f"workers must be at least 1, got {n}", "pass workers >= 1")
        required = parse_required_layers(require)
        if isolation == "strict":
            required = tuple(dict.fromkeys((*_STRICT_LAYERS, *required)))
        if type(hash_seed) is not int or not 0 <= hash_seed <= 4294967295:
            raise ExecutorError(
                f"hash seed {hash_seed!r} is invalid", "give an integer from 0 to 4294967295"
            )
        self.hash_seed = hash_seed
        self.limits = limits
        self.isolation = isolation
        self.max_in_flight = max_in_flight or 4 * n
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        _remove_stale(_scratch_root())
        self._scratch = os.path.join(
            _scratch_root(), f"codeduel-{os.getpid()}-{secrets.token_hex(4)}"
        )
        self.read_policy = readable.policy(packages, exclude)
        self._toolchains: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
        os.makedirs(self._scratch, mode=0o711)
        self._cpus = cpu_ids() if pin_cpus else []
        self._cgroup: _Cgroup | None = None
        self._start_failures = 0
        if isolation != "none":
            # Room for each worker's programs *and* its scratch tmpfs (whose pages are
            # charged here): a full scratch must never push the judges out of memory.
            per_worker = limits.memory_mb + 256 + limits.scratch_mb
            self._cgroup = _Cgroup(
                os.path.basename(self._scratch),
                n * per_worker * 2**20,
                n * (limits.processes + limits.threads + 16 + limits.native_processes) + 16,
            )
        self.nproc_shared = n * (limits.processes + limits.threads)
        self._workers = [_Worker(self, i) for i in range(n)]
        self._threads: list[threading.Thread] = []
        try:
            for w in self._workers:
                w.start()
        except BaseException:
            self._teardown()
            raise
        if required:
            missing = [x for x in self.layers() if x.name in required and not x.active]
            if missing:
                self._teardown()
                what = "; ".join(f"{x.name} ({x.detail})" for x in missing)
                raise ExecutorError(
                    f"required isolation layers are not active: {what}",
                    "run `codeduel doctor` on this machine, or require fewer layers",
                )
        for w in self._workers:
            t = threading.Thread(
                target=self._serve, args=(w,), daemon=True, name=f"codeduel-w{w.index}"
            )
            t.start()
            self._threads.append(t)

    # ----------------------------------------------------------------- public API

    def layers(self) -> list[LayerStatus]:
        """Isolation layers as probed by the first worker, plus the pool's cgroup."""
        out = list(self._workers[0].layers) if self._workers else []
        if self._cgroup is not None:
            out.append(self._cgroup.status)
        else:
            out.append(LayerStatus("cgroup", False, "disabled (isolation='none')"))
        return out

    def toolchain_paths(self, roots: tuple[str, ...], own: tuple[str, ...] = ()) -> list[str]:
        """``roots`` (a toolchain's files) as read rules that leave out every benchmark
        location and Python package directory, plus ``own`` (what trusted code built for the
        toolchain) minus the benchmark locations alone; computed once per pair."""
        key = (roots, own)
        with self._lock:
            cached = self._toolchains.get(key)
        if cached is None:
            policy = self.read_policy
            found = readable.expand(roots, policy.excluded)
            found += readable.expand(own, policy.datasets)
            cached = sorted(set(found))
            with self._lock:
                self._toolchains[key] = cached
        return list(cached)

    def submit(self, program: Program) -> Future[Verdict]:
        """Queue one program; thread-safe. The future resolves to its verdict."""
        fut: Future[Verdict] = Future()
        with self._lock:
            if self._closed:
                raise ExecutorError("the executor is closed", "create a new LocalExecutor")
            self._queue.put((program, fut))
        return fut

    def run(self, programs: Iterable[Program]) -> Iterator[Verdict]:
        """Judge programs lazily, at most ``max_in_flight`` at once; yield as they finish."""
        return run_bounded(self.submit, programs, self.max_in_flight)

    def close(self) -> None:
        """Stop every worker and child; pending futures are cancelled. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._drain()
        for _ in self._threads:
            self._queue.put(_STOP)
        # Kill first: a thread blocked on a busy worker sees end-of-file at once, and its
        # program's future gets an ExecutorError instead of waiting for the deadline.
        for w in self._workers:
            proc = w.proc
            if proc is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        for t in self._threads:
            t.join(timeout=self.limits.wall_for(self.limits.timeout_s) + _WATCHDOG_GRACE_S + 5)
        self._teardown()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # ----------------------------------------------------------------- internals

    def _teardown(self) -> None:
        self._closed = True
        for w in self._workers:
            w.stop()
        if self._cgroup is not None:
            self._cgroup.kill_all()
            self._cgroup.remove()
        self._drain()
        remove_tree(self._scratch)  # iterative: never a RecursionError on a deep tree

    def _drain(self) -> None:
        """Cancel every program still queued (not yet running)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                item[1].cancel()

    def _serve(self, worker: _Worker) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            program, fut = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(self._execute(worker, program))
            except BaseException as e:
                fut.set_exception(e)
                if self._closed:
                    return

    def _execute(self, worker: _Worker, program: Program) -> Verdict:
        losses: list[str] = []
        for _attempt in range(2):
            if worker.proc is None:
                if self._closed:
                    raise ExecutorError("the executor was closed", "create a new LocalExecutor")
                try:
                    worker.start()
                except ExecutorError as e:
                    # One bad program must not end the run: it gets its own verdict. Only
                    # a machine where workers keep failing to start aborts.
                    with self._lock:
                        self._start_failures += 1
                        broken = self._start_failures >= _START_FAILURES_BEFORE_ABORT
                    if broken:
                        raise
                    losses.append(f"a replacement worker did not start ({e.problem})")
                    continue
                with self._lock:
                    self._start_failures = 0
            try:
                verdict = worker.execute(program)
            except _WorkerDied as e:
                losses.append(str(e))
                continue
            if losses:
                verdict.details["worker_restarts"] = len(losses)
            return verdict
        return Verdict(
            program.key,
            "failed",
            f"executor worker died twice while running this program: {losses[-1]}",
            program.mode,
            details={"worker_restarts": len(losses)},
        )
