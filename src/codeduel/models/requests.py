"""What the generate flow asks a model for, shared by local generation and Ray replicas.

Why here: the generate flow and the Ray generation replicas both send a batch of prompts of one
style to one backend call; keeping the request type and the call in the models room lets the
cluster code use them without importing the flow that uses the cluster (a cycle before).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from codeduel.models.base import Completion, GenParams, Message, Model
from codeduel.models.formats import Segment

__all__ = ["GenPrompt", "Style", "generate_many"]

Style = Literal["completion", "chat"]


@dataclass(frozen=True)
class GenPrompt:
    """What to send to the model for one problem, and the template's name for the record."""

    template: str
    style: Style
    text: str = ""
    messages: tuple[Message, ...] = ()
    stop: tuple[str, ...] = ()
    # Token-level layout of ``text`` (infilling): backends with exact segments send ids.
    segments: tuple[Segment, ...] = ()

    def as_record(self) -> str:
        """The exact prompt as stored: the text, or the messages as JSON lines."""
        if self.style == "completion":
            return self.text
        return "\n".join(m.model_dump_json() for m in self.messages)


def generate_many(
    model: Model, prompts: Sequence[GenPrompt], params: GenParams
) -> list[list[Completion]]:
    """Several problems' completions in one backend call (what a Ray generation replica runs
    too); the prompts share a style; the result is aligned with them."""
    style = prompts[0].style
    if style == "completion":
        if prompts[0].segments and model.exact_segments:
            # Token ids: the only exact encoding of FIM prompts (Code Llama's suffix space).
            return model.generate([model.encode_segments(p.segments) for p in prompts], params)
        return model.generate([p.text for p in prompts], params)
    return model.chat([list(p.messages) for p in prompts], params)
