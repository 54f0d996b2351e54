"""Cluster: codeduel on Ray. Starting and waiting for actors, the distributed executor (a
sandboxed LocalExecutor per node) and model replicas that generate from a shared queue."""
