"""RayModelPool: N model replicas as Ray actors taking problems from one shared queue.

Why: generation is the slow part of a run, and a model replica per GPU across a cluster is
how it scales. Each actor loads the model once (any backend ``load_model`` knows: hf, vllm,
llamacpp...; one GPU each where the cluster has GPUs) and generates one problem's ``n``
samples per call. The driver keeps each actor busy with one problem at a time from a shared
queue, so a fast replica takes more problems and no problem waits behind a slow one.

Fault tolerance mirrors the Ray executor: a replica that dies loses only the problem it was
generating; that problem goes back to the front of the queue and a replacement replica is
started. Samples reach the store only when a problem's completions return to the driver, so
a problem is stored once. Per-problem seeds make the re-generated samples the ones the lost
replica would have made.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from codeduel.errors import CodeduelError
from codeduel.models.base import Completion, GenParams, ModelInfo
from codeduel.models.requests import GenPrompt, generate_many
from codeduel.models.spec import ModelSpec

__all__ = ["RayModelPool"]

_POLL_S = 0.05


class _GenActor:
    """One model replica. Load errors are reported by :meth:`info`, not raised, so the driver
    can print them as one line."""

    def __init__(self, spec: str | ModelSpec | None, options: dict[str, Any]) -> None:
        self._model: Any = None
        self._error: str | None = None
        try:
            from codeduel.models import load_model, resolve

            options = dict(options)
            if resolve(spec).in_process_cpu and "n_threads" not in options:
                import ray

                cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
                options["n_threads"] = max(1, int(cpus))  # llama.cpp: threads = own cores
            self._model = load_model(spec, **options)
        except Exception as e:
            self._error = str(e).splitlines()[0] if str(e) else type(e).__name__

    def info(self) -> dict[str, Any]:
        import socket

        import codeduel

        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "version": codeduel.__version__,
            "error": self._error,
            "model": None if self._model is None else self._model.info().model_dump(),
            "greedy_batch": 1 if self._model is None else int(self._model.greedy_batch),
        }

    def generate(self, prompts: list[GenPrompt], params: GenParams) -> list[list[Completion]]:
        return generate_many(self._model, prompts, params)

    def close(self) -> None:
        if self._model is not None:
            with contextlib.suppress(Exception):
                self._model.close()


@dataclass
class _Job:
    prompts: list[GenPrompt]
    params: GenParams
    future: Future[Any]
    single: bool  # submit(): the future holds one prompt's completions, not a list of them
    attempts: int = 0


@dataclass
class _Replica:
    handle: Any
    info: dict[str, Any]
    busy: bool = False
    alive: bool = True


class RayModelPool:
    """``workers`` replicas of model ``spec`` on the Ray cluster at ``address``.

    ``num_gpus``: per replica (None: 1 if the cluster has GPUs, else 0); ``num_cpus``: per
    replica. ``options`` go to the backend's ``load`` unchanged. ``max_attempts``: replica
    losses one problem survives before its future fails.
    """

    def __init__(
        self,
        spec: str | ModelSpec | None,
        workers: int,
        address: str | None = None,
        options: dict[str, Any] | None = None,
        num_cpus: float = 1,
        num_gpus: float | None = None,
        max_attempts: int = 3,
        start_timeout_s: float = 600.0,
    ) -> None:
        from codeduel.cluster.executor import acquire_ray, release_ray

        if workers < 1:
            raise CodeduelError(f"invalid --gen-workers {workers}", "give at least 1")
        self._release = release_ray
        ray = acquire_ray(address)
        self._ray = ray
        self.spec = spec
        self.max_attempts = max_attempts
        self.start_timeout_s = start_timeout_s
        self._lock = threading.Condition()
        self._queue: collections.deque[_Job] = collections.deque()
        self._running: dict[Any, tuple[_Replica, _Job]] = {}
        self._starting: dict[Any, Any] = {}
        self._replicas: list[_Replica] = []
        self._closed = False
        self._fatal: CodeduelError | None = None
        self.lost = 0
        self.requeued = 0
        self._thread: threading.Thread | None = None
        try:
            if num_gpus is None:
                num_gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
            self._actor_cls = ray.remote(_GenActor).options(
                num_cpus=num_cpus,
                num_gpus=num_gpus,
                max_restarts=0,
                max_task_retries=0,
                max_concurrency=2,
                scheduling_strategy="SPREAD",
            )
            self._options = dict(options or {})
            self._replacements_left = 2 * workers
            self._start(workers)
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._dispatch, daemon=True, name="codeduel-gen")
        self._thread.start()

    # ----------------------------------------------------------------- public API

    def info(self) -> ModelInfo:
        """The model as the first replica loaded it (every replica loads the same weights)."""
        return ModelInfo.model_validate(self._replicas[0].info["model"])

    def workers_info(self) -> list[dict[str, Any]]:
        """pid and host of each live replica."""
        with self._lock:
            return [dict(r.info) for r in self._replicas if r.alive]

    @property
    def greedy_batch(self) -> int:
        """How many greedy problems one replica takes per call (the backend's own hint)."""
        return int(self._replicas[0].info.get("greedy_batch", 1))

    def submit(self, prompt: GenPrompt, params: GenParams) -> Future[list[Completion]]:
        """Queue one problem; the future resolves to its ``params.n`` completions."""
        return self._enqueue([prompt], params, single=True)

    def submit_many(
        self, prompts: Sequence[GenPrompt], params: GenParams
    ) -> Future[list[list[Completion]]]:
        """Queue problems that one replica generates in one call (see runner.batches); the
        future resolves to their completions, aligned with ``prompts``."""
        return self._enqueue(list(prompts), params, single=False)

    def _enqueue(self, prompts: list[GenPrompt], params: GenParams, single: bool) -> Future[Any]:
        fut: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise CodeduelError("the generation pool is closed", "create a new one")
            if self._fatal is not None:
                raise self._fatal
            self._queue.append(_Job(prompts, params, fut, single))
            self._lock.notify()
        return fut

    def close(self) -> None:
        """Cancel what is queued, stop the replicas, release Ray. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            jobs = list(self._queue) + [job for _, job in self._running.values()]
            self._queue.clear()
            self._running.clear()
            handles = [r.handle for r in self._replicas] + list(self._starting.values())
            self._replicas = []
            self._starting.clear()
        for job in jobs:
            if not job.future.done():
                job.future.cancel()
        for handle in handles:
            with contextlib.suppress(Exception):
                self._ray.kill(handle)
        self._release()

    # ----------------------------------------------------------------- internals

    def _new(self) -> Any:
        return self._actor_cls.remote(self.spec, self._options)

    @staticmethod
    def _check(info: dict[str, Any]) -> None:
        if info.get("error"):
            raise CodeduelError(
                f"a generation worker on {info.get('host')} cannot load the model: {info['error']}",
                "check the model spec and that every node has its backend and weights",
            )

    def _start(self, n: int) -> None:
        from codeduel.cluster.executor import start_actors

        started = start_actors(
            self._ray,
            self._new,
            n,
            self.start_timeout_s,
            "generation worker",
            "check `ray status` for free GPUs/CPUs, or pass fewer --gen-workers",
            self._check,
        )
        self._replicas.extend(_Replica(handle, info) for handle, info in started)

    def _dispatch(self) -> None:
        ray = self._ray
        while True:
            with self._lock:
                if self._closed:
                    return
                for replica in self._replicas:
                    if not self._queue:
                        break
                    if replica.alive and not replica.busy:
                        job = self._queue.popleft()
                        if job.attempts == 0 and not job.future.set_running_or_notify_cancel():
                            continue
                        ref = replica.handle.generate.remote(job.prompts, job.params)
                        replica.busy = True
                        self._running[ref] = (replica, job)
                refs = list(self._running) + list(self._starting)
                if not refs:
                    self._lock.wait(timeout=0.5)
                    continue
            ready, _ = ray.wait(refs, num_returns=1, timeout=_POLL_S)
            for ref in ready:
                if ref in self._starting:
                    self._replacement_ready(ref)
                else:
                    self._done(ref)

    def _done(self, ref: Any) -> None:
        ray = self._ray
        with self._lock:
            replica, job = self._running.pop(ref)
            replica.busy = False
        try:
            completions = ray.get(ref)
        except ray.exceptions.RayActorError:
            with self._lock:
                self._lost(replica, job)
            return
        except ray.exceptions.RayError as e:
            job.future.set_exception(
                CodeduelError(
                    f"generation failed on a Ray worker: {str(e).splitlines()[0]}",
                    "rerun the same command to resume",
                )
            )
            return
        job.future.set_result(completions[0] if job.single else completions)

    def _lost(self, replica: _Replica, job: _Job) -> None:
        """(lock held) Re-queue the dead replica's problem in front; start a replacement."""
        if replica.alive:
            replica.alive = False
            self.lost += 1
            with contextlib.suppress(Exception):
                self._ray.kill(replica.handle)
            if self._replacements_left > 0:
                self._replacements_left -= 1
                handle = self._new()
                self._starting[handle.info.remote()] = handle
        job.attempts += 1
        if job.attempts >= self.max_attempts:
            job.future.set_exception(
                CodeduelError(
                    f"a problem was lost with its generation worker {job.attempts} times",
                    "check the cluster's nodes (`ray status`), then rerun to resume",
                )
            )
        else:
            self.requeued += 1
            self._queue.appendleft(job)
        if not any(r.alive for r in self._replicas) and not self._starting:
            self._fail_all()

    def _replacement_ready(self, ref: Any) -> None:
        ray = self._ray
        with self._lock:
            handle = self._starting.pop(ref)
        try:
            info = ray.get(ref)
            self._check(info)
        except (ray.exceptions.RayError, CodeduelError):
            with contextlib.suppress(Exception):
                ray.kill(handle)
            with self._lock:
                if not any(r.alive for r in self._replicas) and not self._starting:
                    self._fail_all()
            return
        with self._lock:
            self._replicas = [r for r in self._replicas if r.alive]
            self._replicas.append(_Replica(handle, info))

    def _fail_all(self) -> None:
        """(lock held) No replica left or coming: fail every queued problem."""
        self._fatal = CodeduelError(
            "every generation worker was lost", "check the cluster (`ray status`), then rerun"
        )
        while self._queue:
            job = self._queue.popleft()
            if not job.future.done():
                job.future.set_exception(self._fatal)
