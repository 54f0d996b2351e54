"""Sanitizing chat output before it is judged, keeping what was written.

Chat models answer with markdown fences, prose, ``__main__`` blocks and a repeated signature;
scored as written, such samples fail with "invalid syntax" before a single test runs. The rules
are :func:`codeduel.models.postprocess.sanitize`; this module applies them to a sample set and
keeps the text as written on each changed sample (``Sample.raw``, stored as the raw output).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace

from codeduel.formats.samples import SampleSet
from codeduel.models.postprocess import looks_like_chat, sanitize
from codeduel.tasks.base import Problem


@dataclass(frozen=True)
class SanitizeReport:
    """How many samples changed, of how many, and what was removed (most frequent first)."""

    changed: int
    total: int
    fixes: tuple[str, ...]

    def line(self) -> str:
        """The one line the CLI prints."""
        what = f" ({', '.join(self.fixes)})" if self.fixes else ""
        return (
            f"sanitized {self.changed} of {self.total} samples{what}; "
            "--no-sanitize to score them as written"
        )


def chat_like(samples: SampleSet) -> bool:
    """Whether the samples look like chat output (a fence, a [PYTHON] tag, a thinking block):
    the default for ``--sanitize``."""
    return any(looks_like_chat(s.code) for s in samples.samples)


def sanitize_samples(
    samples: SampleSet, problems: Mapping[str, Problem], *, python: bool = True
) -> tuple[SampleSet, SanitizeReport]:
    """Every sample sanitized; a changed one keeps its text as written in ``raw`` and its
    record's code replaced (a completion that repeated the signature becomes a ``solution``,
    the whole program)."""
    out = []
    fixes: Counter[str] = Counter()
    changed = 0
    for sample in samples.samples:
        problem = problems.get(sample.task_id)
        whole = "solution" in sample.record and "completion" not in sample.record
        # an infilled middle (a problem with a suffix) is neither a program nor a body: only
        # fences and prose come off it
        middle = problem is not None and "suffix" in problem.meta
        done = sanitize(
            sample.code,
            prompt=problem.prompt if problem else "",
            entry_point=problem.entry_point if problem and not middle else None,
            whole_program=whole,
            python=python,
        )
        if not done.fixes:
            out.append(sample)
            continue
        changed += 1
        fixes.update(done.fixes)
        record = dict(sample.record)
        if done.whole_program:
            record.pop("completion", None)
            record["solution"] = done.code
        else:
            record["completion"] = done.code
        out.append(replace(sample, record=record, raw=sample.code, fixes=done.fixes))
    report = SanitizeReport(changed, len(samples), tuple(name for name, _ in fixes.most_common()))
    return replace(samples, samples=out), report
