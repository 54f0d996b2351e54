"""Flows: what a command does from start to end (evaluate a samples file, generate and judge,
sweep temperatures, long-context probes, self-instruct data). Each flow records its run through
:class:`codeduel.records.lifecycle.RunLifecycle`; :mod:`codeduel.api` exposes them."""
