"""A real local Ray cluster for tests: a head and one more node process on this machine."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

import ray
from ray.cluster_utils import Cluster


@contextlib.contextmanager
def two_node_cluster(num_cpus: int, prefix: str) -> Iterator[str]:
    """Yield the head's address; every process of both nodes is torn down at the end."""
    node = {"num_cpus": num_cpus, "object_store_memory": 100 * 2**20}
    temp = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    # Ray 2.60 writes the cluster address into its *default* temp dir even when the cluster
    # has its own, and fails when that dir does not exist yet (a fresh machine).
    os.makedirs(os.path.join(tempfile.gettempdir(), "ray"), exist_ok=True)
    cluster = Cluster(
        initialize_head=True,
        head_node_args={**node, "include_dashboard": False, "temp_dir": temp},
    )
    try:
        cluster.add_node(**node)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
