"""RayExecutor: judge programs on a Ray cluster, each node sandboxing exactly as LocalExecutor.

Why this shape:

- Every executor actor owns a :class:`~codeduel.execution.pool.LocalExecutor` on its node, so
  each program gets the same per-program isolation (zygote fork, rlimits, seccomp, cgroup,
  deadline) wherever it runs; Ray only moves programs and verdicts.
- The driver sends small batches (Ray costs ~1 ms a call, a program ~3 ms) and resolves one
  future per program as its batch returns, so the runner streams verdicts into the store as
  they finish, exactly as it does with the local executor.
- Fault tolerance is done here, not by Ray's task retries: when an actor (or its node) dies,
  its unfinished batches go back to the front of the queue for the surviving actors and a
  replacement actor is started. A program may therefore *run* twice, but each future is set
  once, so the caller records one verdict per program. Verdicts are deterministic functions of
  the program, so a re-run yields the verdict an undisturbed run would have.
- Connecting is checked up front (a TCP probe of the address, then the cluster's CPUs, then
  each actor reporting that it imported codeduel and started its sandbox), so a bad address or
  a cluster without codeduel is one line, not a Ray traceback.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from codeduel.errors import ExecutorError
from codeduel.execution.base import LayerStatus, Limits, Program, Verdict, run_bounded
from codeduel.execution.registry import ExecutorOptions

__all__ = ["RayExecutor", "acquire_ray", "release_ray"]

_PROBE_TIMEOUT_S = 5.0
_POLL_S = 0.02
_FIX_ADDRESS = "start one with `ray start --head` or fix --ray-address / $RAY_ADDRESS"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorError(
            "--executor ray and --gen-workers need the ray package",
            "pip install 'codeduel[ray]'",
        ) from None
    return ray


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:300]


def _probe(address: str) -> None:
    """Fail fast on an unreachable ``host:port`` (Ray itself retries for a long time)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "local", "ray://..." and the like: let Ray decide
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), _PROBE_TIMEOUT_S)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ExecutorError(
            f"cannot reach the Ray cluster at {address} ({reason})", _FIX_ADDRESS
        ) from None


def _connect(ray: Any, address: str | None) -> None:
    """Join the cluster at ``address`` ($RAY_ADDRESS when None; no address: a local Ray)."""
    target = address or os.environ.get("RAY_ADDRESS") or None
    if target is not None:
        _probe(target)
    try:
        ray.init(
            address=target,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError...
        where = f"at {target}" if target else "on this machine"
        raise ExecutorError(f"cannot start Ray {where}: {_first_line(e)}", _FIX_ADDRESS) from None


_session_lock = threading.Lock()
_session_users = 0
_session_owned = False


def acquire_ray(address: str | None) -> Any:
    """The ``ray`` module, connected; shared by every codeduel user in this process (the
    executor and the generation workers), and shut down by the last :func:`release_ray` only
    if codeduel connected it (a caller's own ``ray.init`` is left alone)."""
    global _session_users, _session_owned
    ray = _import_ray()
    with _session_lock:
        if not ray.is_initialized():
            _connect(ray, address)
            _session_owned = True
        _session_users += 1
    return ray


def release_ray() -> None:
    """Undo one :func:`acquire_ray`."""
    global _session_users, _session_owned
    with _session_lock:
        _session_users = max(0, _session_users - 1)
        if _session_users == 0 and _session_owned:
            _session_owned = False
            import ray

            with contextlib.suppress(Exception):
                ray.shutdown()


def _missing_module(err: BaseException) -> str | None:
    found = re.search(r"No module named '([^']+)'", str(err))
    return found.group(1) if found else None


def actor_start_error(err: BaseException, what: str) -> ExecutorError:
    """The one-line error for a Ray actor (``what``) that died while starting: a node that
    lacks a module says which, anything else gives the error's first line."""
    missing = _missing_module(err)
    if missing is not None:
        return ExecutorError(
            f"a Ray node cannot import {missing!r}",
            "install codeduel (pip install 'codeduel[ray]') into every node's Python",
        )
    return ExecutorError(
        f"a {what} failed to start: {_first_line(err)}", "check the cluster with `ray status`"
    )


def start_actors(
    ray: Any,
    new: Callable[[], Any],
    n: int,
    timeout_s: float,
    what: str,
    hint: str,
    check: Callable[[dict[str, Any]], None],
) -> list[tuple[Any, dict[str, Any]]]:
    """Start ``n`` actors with ``new()`` and wait for each one's ``info()``, which ``check``
    may refuse. Any failure kills them all and raises one line: a timeout (``hint`` says the
    fix), an actor that died starting (:func:`actor_start_error`), or ``check``'s own error.
    Shared by the executor's actors and the generation replicas; ``what`` names them."""
    handles = [new() for _ in range(n)]
    refs = [h.info.remote() for h in handles]
    try:
        _ready, rest = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        if rest:
            raise ExecutorError(
                f"{len(rest)} of {n} {what}s did not start within {timeout_s:.0f} s", hint
            )
        started = []
        for handle, ref in zip(handles, refs, strict=True):
            try:
                info = ray.get(ref)
            except ray.exceptions.RayError as e:
                raise actor_start_error(e, what) from None
            check(info)
            started.append((handle, info))
        return started
    except BaseException:
        for handle in handles:
            with contextlib.suppress(Exception):
                ray.kill(handle)
        raise


class _ExecActor:
    """One Ray actor: a LocalExecutor on its node. Errors are reported, not raised, from
    ``__init__`` so the driver can print them as one line."""

    def __init__(
        self, workers: int, limits: Limits, isolation: str, sandbox: dict[str, Any] | None = None
    ) -> None:
        self._error: str | None = None
        self._ex: Any = None
        try:
            from codeduel.execution.pool import LocalExecutor

            # Not pinned: several actors share a node, each with its own worker 0.
            self._ex = LocalExecutor(
                workers=workers,
                limits=limits,
                isolation=isolation,
                pin_cpus=False,
                **(sandbox or {}),
            )
        except Exception as e:
            self._error = str(e)

    def info(self) -> dict[str, Any]:
        import codeduel

        out: dict[str, Any] = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "version": codeduel.__version__,
            "python": sys.version.split()[0],
            "error": self._error,
            "layers": [],
        }
        with contextlib.suppress(Exception):
            import ray

            out["node_id"] = ray.get_runtime_context().get_node_id()
        if self._ex is not None:
            out["layers"] = [(x.name, x.active, x.detail) for x in self._ex.layers()]
        return out

    def run_batch(self, programs: list[Program]) -> list[Verdict]:
        """Judge a batch concurrently on this node's pool; verdicts in input order."""
        futures = [self._ex.submit(p) for p in programs]
        return [f.result() for f in futures]


@dataclass
class _Item:
    program: Program
    future: Future[Verdict]
    attempts: int = 0


@dataclass
class _Slot:
    handle: Any
    info: dict[str, Any]
    in_flight: int = 0
    alive: bool = True


@dataclass
class _Stats:
    actors_started: int = 0
    actors_lost: int = 0
    resubmitted: int = 0
    batches: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class RayExecutor:
    """Sandboxed executor across a Ray cluster: ``workers`` actors of ``cpus_per_actor`` CPUs.

    ``address``: the cluster (None: ``$RAY_ADDRESS``, else a local Ray started here and shut
    down by :meth:`close`). ``workers``: executor actors (default: every CPU of the cluster
    divided by ``cpus_per_actor``); each runs a LocalExecutor with ``cpus_per_actor`` sandbox
    processes, ``limits`` and ``isolation`` on its node. ``batch_size``: programs per Ray call.
    ``max_attempts``: how many actor losses one program survives before its future fails.
    ``sandbox``: keyword arguments for every node's LocalExecutor (required layers, packages,
    excluded paths, hash seed; see :meth:`ExecutorOptions.sandbox`).
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        limits: Limits = Limits(),  # noqa: B008 - frozen dataclass, safe as a default
        isolation: str = "auto",
        cpus_per_actor: int = 1,
        batch_size: int = 8,
        max_in_flight: int | None = None,
        max_attempts: int = 3,
        start_timeout_s: float = 120.0,
        sandbox: dict[str, Any] | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise ExecutorError(f"workers must be at least 1, got {workers}", "pass workers >= 1")
        if cpus_per_actor < 1 or batch_size < 1 or max_attempts < 1:
            raise ExecutorError(
                "cpus_per_actor, batch_size and max_attempts must be at least 1",
                "pass positive values",
            )
        ray = acquire_ray(address)
        self._ray = ray
        self._own_ray = True
        self.limits = limits
        self.isolation = isolation
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.start_timeout_s = start_timeout_s
        self._sandbox = dict(sandbox or {})
        self._cpus = cpus_per_actor
        self._lock = threading.Condition()
        self._queue: collections.deque[_Item] = collections.deque()
        self._in_flight: dict[Any, tuple[_Slot, list[_Item]]] = {}
        self._starting: dict[Any, Any] = {}  # info ref -> actor handle (replacements)
        self._slots: list[_Slot] = []
        self._closed = False
        self._fatal: ExecutorError | None = None
        self.stats = _Stats()
        self._thread: threading.Thread | None = None
        try:
            cluster_cpus = int(ray.cluster_resources().get("CPU", 0))
            capacity = cluster_cpus // cpus_per_actor
            free = int(ray.available_resources().get("CPU", 0)) // cpus_per_actor
            n = workers if workers is not None else free
            if n < 1:
                raise ExecutorError(
                    f"the Ray cluster has no free CPU for an executor worker ({cluster_cpus} in "
                    "all, all taken)",
                    "free some CPUs, add a node, or pass --workers",
                )
            if n > capacity:
                raise ExecutorError(
                    f"asked for {n} executor worker(s) of {cpus_per_actor} CPU(s) but the Ray "
                    f"cluster has {cluster_cpus} CPU(s)",
                    "pass fewer --workers or add nodes to the cluster",
                )
            self._actor_cls = ray.remote(_ExecActor).options(
                num_cpus=cpus_per_actor,
                max_restarts=0,
                max_task_retries=0,
                max_concurrency=4,
                scheduling_strategy="SPREAD",
            )
            self._replacements_left = 2 * n
            self.max_in_flight = max_in_flight or 2 * n * cpus_per_actor * batch_size
            self._start_actors(n)
        except BaseException:
            self._shutdown_ray()
            raise
        self._thread = threading.Thread(target=self._dispatch, daemon=True, name="codeduel-ray")
        self._thread.start()

    # ----------------------------------------------------------------- public API

    def submit(self, program: Program) -> Future[Verdict]:
        """Queue one program; thread-safe. The future resolves to its verdict."""
        fut: Future[Verdict] = Future()
        with self._lock:
            if self._closed:
                raise ExecutorError("the executor is closed", "create a new RayExecutor")
            if self._fatal is not None:
                raise self._fatal
            self._queue.append(_Item(program, fut))
            self._lock.notify()
        return fut

    def run(self, programs: Iterable[Program]) -> Iterator[Verdict]:
        """Judge programs lazily, at most ``max_in_flight`` at once; yield as they finish."""
        return run_bounded(self.submit, programs, self.max_in_flight)

    def layers(self) -> list[LayerStatus]:
        """Each layer is active only if it is active on every actor's node."""
        with self._lock:
            infos = [s.info for s in self._slots if s.alive]
        if not infos:
            return []
        out: list[LayerStatus] = []
        for i, (name, _active, detail) in enumerate(infos[0]["layers"]):
            off = [x for x in infos if i >= len(x["layers"]) or not x["layers"][i][1]]
            where = f"{len(infos) - len(off)}/{len(infos)} Ray workers"
            out.append(LayerStatus(name, not off, f"{detail} ({where})"))
        return out

    def workers_info(self) -> list[dict[str, Any]]:
        """pid, host, node id and codeduel version of each live executor actor."""
        with self._lock:
            return [dict(s.info) for s in self._slots if s.alive]

    def close(self) -> None:
        """Stop dispatching, fail what is unfinished, kill the actors. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        closed = ExecutorError("the executor was closed", "create a new RayExecutor")
        with self._lock:
            items = list(self._queue)
            self._queue.clear()
            for _slot, batch in self._in_flight.values():
                items.extend(batch)
            self._in_flight.clear()
            handles = [s.handle for s in self._slots] + list(self._starting.values())
            self._slots = []
            self._starting.clear()
        for item in items:
            if not item.future.done() and not item.future.cancel():
                with contextlib.suppress(Exception):
                    item.future.set_exception(closed)
        for handle in handles:
            with contextlib.suppress(Exception):
                self._ray.kill(handle)
        self._shutdown_ray()

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # ----------------------------------------------------------------- internals

    def _shutdown_ray(self) -> None:
        if self._own_ray:
            self._own_ray = False
            release_ray()

    def _new_actor(self) -> Any:
        self.stats.actors_started += 1
        return self._actor_cls.remote(self._cpus, self.limits, self.isolation, self._sandbox)

    def _check_info(self, info: dict[str, Any]) -> None:
        import codeduel

        if info.get("error"):
            raise ExecutorError(
                f"the executor on Ray node {info.get('host')} cannot start: {info['error']}",
                "run `codeduel doctor` on that node",
            )
        if info.get("version") != codeduel.__version__:
            raise ExecutorError(
                f"Ray node {info.get('host')} has codeduel {info.get('version')}, this driver "
                f"{codeduel.__version__}",
                "install the same codeduel version on every node",
            )

    def _start_actors(self, n: int) -> None:
        """Start ``n`` actors and wait until each has imported codeduel and its sandbox."""
        started = start_actors(
            self._ray,
            self._new_actor,
            n,
            self.start_timeout_s,
            "Ray executor actor",
            "check `ray status` for free CPUs, or pass fewer --workers",
            self._check_info,
        )
        self._slots.extend(_Slot(handle, info) for handle, info in started)

    def _dispatch(self) -> None:
        """The one thread that talks to Ray: send batches, collect verdicts, replace actors."""
        ray = self._ray
        while True:
            with self._lock:
                if self._closed:
                    return
                self._send_batches()
                refs = list(self._in_flight) + list(self._starting)
                if not refs:
                    self._lock.wait(timeout=0.5)
                    continue
            ready, _ = ray.wait(refs, num_returns=1, timeout=_POLL_S)
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in ready:
                if ref in self._starting:
                    self._replacement_ready(ref)
                else:
                    self._batch_done(ref)

    def _send_batches(self) -> None:
        """(lock held) Give each live actor up to two batches, the least busy first."""
        while self._queue:
            live = [s for s in self._slots if s.alive and s.in_flight < 2]
            if not live:
                return
            slot = min(live, key=lambda s: s.in_flight)
            free = sum(2 - s.in_flight for s in live)
            size = min(self.batch_size, max(1, math.ceil(len(self._queue) / free)))
            batch: list[_Item] = []
            while self._queue and len(batch) < size:
                item = self._queue.popleft()
                if item.attempts == 0 and not item.future.set_running_or_notify_cancel():
                    continue  # cancelled before it was sent
                batch.append(item)
            if not batch:
                continue
            ref = slot.handle.run_batch.remote([i.program for i in batch])
            slot.in_flight += 1
            self.stats.batches += 1
            self._in_flight[ref] = (slot, batch)

    def _batch_done(self, ref: Any) -> None:
        ray = self._ray
        with self._lock:
            entry = self._in_flight.pop(ref, None)
        if entry is None:
            return
        slot, batch = entry
        slot.in_flight -= 1
        try:
            verdicts = ray.get(ref)
        except ray.exceptions.RayActorError:
            self._actor_lost(slot, batch)
            return
        except ray.exceptions.RayError as e:
            error = ExecutorError(
                f"a Ray executor actor failed a batch: {_first_line(e)}",
                "rerun the same command to resume; report this if it repeats",
            )
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        for item, verdict in zip(batch, verdicts, strict=True):
            if not item.future.done():  # set once: a re-run's duplicate is dropped here
                item.future.set_result(verdict)

    def _actor_lost(self, slot: _Slot, batch: list[_Item]) -> None:
        """Re-queue the dead actor's unfinished work in front and start a replacement."""
        with self._lock:
            if slot.alive:
                slot.alive = False
                self.stats.actors_lost += 1
                with contextlib.suppress(Exception):
                    self._ray.kill(slot.handle)
                if self._replacements_left > 0 and not self._closed:
                    self._replacements_left -= 1
                    handle = self._new_actor()
                    self._starting[handle.info.remote()] = handle
            for item in reversed(batch):
                item.attempts += 1
                if item.attempts >= self.max_attempts:
                    item.future.set_exception(
                        ExecutorError(
                            f"program {item.program.key} was lost with its Ray worker "
                            f"{item.attempts} times",
                            "check the cluster's nodes (`ray status`), then rerun to resume",
                        )
                    )
                    continue
                self.stats.resubmitted += 1
                self._queue.appendleft(item)
            self._check_alive()

    def _replacement_ready(self, ref: Any) -> None:
        ray = self._ray
        with self._lock:
            handle = self._starting.pop(ref, None)
        if handle is None:
            return
        try:
            info = ray.get(ref)
            self._check_info(info)
        except (ray.exceptions.RayError, ExecutorError):
            with contextlib.suppress(Exception):
                ray.kill(handle)
            with self._lock:
                self._check_alive()
            return
        with self._lock:
            self._slots = [s for s in self._slots if s.alive]
            self._slots.append(_Slot(handle, info))

    def _check_alive(self) -> None:
        """(lock held) With no actor left or coming, fail everything queued."""
        if any(s.alive for s in self._slots) or self._starting:
            return
        self._fatal = ExecutorError(
            "every Ray executor actor was lost", "check the cluster (`ray status`), then rerun"
        )
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(self._fatal)


def from_options(options: ExecutorOptions) -> RayExecutor:
    """The ``ray`` entry of the executor registry (:mod:`codeduel.execution.registry`)."""
    return RayExecutor(
        address=options.ray_address,
        workers=options.workers,
        limits=options.limits,
        isolation=options.isolation,
        sandbox=options.sandbox(),
        **options.extra,
    )
