"""``codeduel doctor``: which isolation layers work on this machine, what a candidate can read,
and whether any benchmark file is among it.

It starts one real worker (the same code path as an evaluation) instead of guessing, so what
it prints is what an evaluation would get; the dataset check opens every benchmark file it
knows of from inside a real sandboxed child.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from codeduel.execution.base import Executor, LayerStatus, Limits, Program
from codeduel.execution.pool import LocalExecutor
from codeduel.execution.readable import probe_paths

_PROBE = """
def probe(paths):
    seen = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError:
            continue
        seen.append(path)
    return seen
"""


@dataclass
class DoctorReport:
    """Everything ``codeduel doctor`` prints."""

    layers: list[LayerStatus]
    roots: list[str] = field(default_factory=list)  # directories candidates may read from
    packages: list[str] = field(default_factory=list)  # packages beyond the stdlib
    excluded: list[str] = field(default_factory=list)  # places inside those that stay closed
    probed: int = 0  # benchmark files tried from inside the sandbox
    readable: list[str] = field(default_factory=list)  # ... of which a candidate could read


def doctor_report(limits: Limits | None = None, isolation: str = "auto") -> list[LayerStatus]:
    """Probe every isolation layer by starting one worker; returns one status per layer."""
    with LocalExecutor(workers=1, limits=limits or Limits(), isolation=isolation) as ex:
        return ex.layers()


def readable_datasets(executor: Executor, files: Iterable[str]) -> list[str]:
    """Which of ``files`` a candidate running in ``executor`` can open (should be none)."""
    paths = list(files)
    program = Program(
        "doctor",
        _PROBE,
        harness="report(probe(DATA))\n",
        expose=("probe",),
        harness_data=paths,
        timeout_s=30.0,
    )
    verdict = next(iter(executor.run([program])))
    report = verdict.details.get("report")
    if not verdict.passed or not isinstance(report, list):
        # The probe itself could not run: report every file as unverified rather than safe.
        return paths
    return [str(p) for p in report]


def doctor_check(
    data_dir: str | Path | None = None, packages: tuple[str, ...] = ("numpy",)
) -> DoctorReport:
    """Layers, the read policy (with the packages the Python tasks declare) and the dataset
    probe, from one real worker."""
    extra = [data_dir] if data_dir is not None else []
    with LocalExecutor(workers=1, packages=packages, exclude=[str(p) for p in extra]) as ex:
        files = probe_paths(extra)
        policy = ex.read_policy
        return DoctorReport(
            layers=ex.layers(),
            roots=list(policy.roots),
            packages=list(policy.packages),
            excluded=list(policy.excluded),
            probed=len(files),
            readable=readable_datasets(ex, files),
        )
