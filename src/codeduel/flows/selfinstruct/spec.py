"""What a self-instruct run is (its spec, the key it resumes by) and what it returns, with the
small helpers every phase shares."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from codeduel.errors import CodeduelError
from codeduel.flows.selfinstruct.prompts import PROMPT_VERSION
from codeduel.models import DEFAULT_SPEC, Message
from codeduel.records.store import spec_key


class SelfInstructSpec(BaseModel):
    """Everything that defines a self-instruct job's outputs; its hash identifies the run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    questioner: str
    questioner_weights: str
    questioner_sha256: str | None
    coder: str
    coder_weights: str
    coder_sha256: str | None
    questions: int = Field(ge=1)
    tests: int = Field(ge=1)
    solutions: int = Field(ge=1)
    seed: int
    question_temperature: float
    question_max_tokens: int
    tests_max_tokens: int
    temperature: float
    top_p: float
    max_new_tokens: int
    near_dup_threshold: float
    decontaminate: tuple[str, ...]
    text_threshold: float
    code_threshold: float
    timeout_s: float
    prompt_version: str = PROMPT_VERSION

    def key(self) -> str:
        """A stable hash of the spec (sorted JSON)."""
        return spec_key(self.model_dump(mode="json"))


@dataclass
class SelfInstructResult:
    """What a self-instruct job produced, where it is, and the counts that explain it."""

    run_id: int
    spec: SelfInstructSpec
    records: list[dict[str, Any]]
    summary: dict[str, Any]
    resumed: bool
    generated_now: dict[str, int]
    duration_s: float
    store_path: Path
    output: Path | None = None
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the summary plus where everything is (what ``--json`` prints)."""
        return {
            "run_id": self.run_id,
            **self.summary,
            "resumed": self.resumed,
            "generated_now": self.generated_now,
            "duration_s": round(self.duration_s, 3),
            "store": str(self.store_path),
            "output": str(self.output) if self.output else None,
            "files": self.files,
            "spec": self.spec.model_dump(mode="json"),
        }


# -- helpers -----------------------------------------------------------------------------------


def qid(index: int) -> str:
    """The id of question ``index`` (also the task_id of its exported problem)."""
    return f"q{index:05d}"


def _spec_name(spec: str | None) -> str:
    """The spec as recorded: the embedded default spelled out, so None and it key alike."""
    return DEFAULT_SPEC if not spec or spec in ("default", "embedded") else spec


def check_output_dir(path: Path) -> Path:
    """Create ``path`` and prove it is writable now, before hours of generation."""
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".codeduel-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise CodeduelError(
            f"output folder {path} is not writable ({err.strerror or err})",
            "pass a writable folder to -o",
        ) from None
    return path


def _validate(counts: dict[str, int], temperatures: Sequence[float], top_p: float) -> None:
    for name, value in counts.items():
        if value < 1:
            raise CodeduelError(f"invalid {name} {value}", f"give {name} a positive number")
    if any(t < 0 for t in temperatures) or not 0 < top_p <= 1:
        raise CodeduelError(
            "invalid decoding parameters", "need temperatures >= 0 and 0 < --top-p <= 1"
        )


def completion_extra(comp: Any) -> dict[str, Any]:
    return {
        "finish_reason": comp.finish_reason,
        "prompt_tokens": comp.prompt_tokens,
        "completion_tokens": comp.completion_tokens,
        "seconds": comp.seconds,
    }


def messages_record(messages: Sequence[Message]) -> str:
    return json.dumps([m.model_dump() for m in messages], ensure_ascii=False)


# -- the job -----------------------------------------------------------------------------------
