"""Prompt formats, exactly as the reference code builds them: chat and fill-in-the-middle.

Why a module of its own: "I can't reproduce the published number" is the most common complaint
about code-eval harnesses, and its usual cause is a prompt that differs by a space or a sentinel.
Every format here is a pure function with a test that compares the exact string with the
reference (the Code Llama paper and ``facebookresearch/codellama``'s ``llama/generation.py``).

Each format has two views:

* a **string** (``render`` / ``llama2_chat``), the textual form printed in the paper, good for
  backends whose tokenizer parses special-token text (llama.cpp, OpenAI-compatible servers);
* **segments** (``segments`` / ``llama2_chat_pieces``), for backends that can build token ids
  themselves (``hf``, ``llamacpp`` with a token-id prompt). This is the only exact encoding for
  Code Llama, whose SentencePiece tokenizer adds an implicit leading space to every text it
  encodes. The reference encodes the PSM prompt as
  ``[BOS, <PRE>] + encode(prefix) + [<SUF>] + encode_infilling(suffix) + [<MID>]`` and the SPM
  prompt as ``[BOS, <PRE>, <SUF>] + encode_infilling(suffix) + [<MID>] + encode(prefix)``, where
  ``encode`` keeps the implicit space (the space after ``<PRE>`` / ``<MID>`` in the string form)
  and ``encode_infilling`` drops it (no space after ``<SUF>``). A backend encodes a
  :class:`Text` segment with ``implicit_space=False`` by encoding ``"☺" + text`` and dropping
  the first two tokens (what the reference does), or with a tokenizer option that disables the
  dummy prefix. The spaces before ``<SUF>``/``<MID>``/``<EOT>`` in the string form belong to
  those special tokens' pieces (``▁<SUF>``), never to the text. BPE tokenizers (StarCoder, Qwen,
  DeepSeek) have no implicit space, so for them string and segments coincide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from codeduel.errors import CodeduelError
from codeduel.models.base import Message

InfillMode = Literal["psm", "spm"]

# -- Llama 2 / Code Llama Instruct chat ----------------------------------------------------

B_INST, E_INST = "[INST]", "[/INST]"
B_SYS, E_SYS = "<<SYS>>\n", "\n<</SYS>>\n\n"
BOS, EOS = "<s>", "</s>"


@dataclass(frozen=True)
class ChatPiece:
    """One ``BOS + text (+ EOS)`` unit of the Llama 2 chat encoding; ``text`` has no specials."""

    text: str
    eos: bool


def _fold_system(messages: Sequence[Message]) -> list[Message]:
    """Merge a leading system message into the first user turn, as the reference does."""
    if not messages:
        raise CodeduelError("a chat needs at least one user message", "pass a user message")
    turns = list(messages)
    if turns[0].role == "system":
        if len(turns) < 2 or turns[1].role != "user":
            raise CodeduelError(
                "a system message must be followed by a user message", "add the user message"
            )
        folded = B_SYS + turns[0].content + E_SYS + turns[1].content
        turns = [Message(role="user", content=folded), *turns[2:]]
    for i, turn in enumerate(turns):
        expected = "user" if i % 2 == 0 else "assistant"
        if turn.role != expected:
            raise CodeduelError(
                f"Llama 2 chat turns must alternate user/assistant; turn {i} is {turn.role}",
                "reorder the messages (one optional system message first)",
            )
    return turns


def llama2_chat_pieces(messages: Sequence[Message]) -> list[ChatPiece]:
    """The token-level structure of the Llama 2 / Code Llama Instruct chat format.

    Completed exchanges become ``BOS "[INST] {user} [/INST] {answer} " EOS``; the final user
    turn ``BOS "[INST] {user} [/INST]"``. All contents are ``strip()``-ped (after the system
    prompt is folded in). A trailing assistant message is a prefill: it is appended after
    ``[/INST]`` with one space, unstripped on the right, and the model continues it.
    """
    turns = _fold_system(messages)
    prefill = turns.pop().content if turns[-1].role == "assistant" else None
    pieces = [
        ChatPiece(f"{B_INST} {u.content.strip()} {E_INST} {a.content.strip()} ", eos=True)
        for u, a in zip(turns[:-1:2], turns[1::2], strict=True)
    ]
    last = f"{B_INST} {turns[-1].content.strip()} {E_INST}"
    if prefill is not None:
        last += " " + prefill.lstrip()
    pieces.append(ChatPiece(last, eos=False))
    return pieces


def llama2_chat(messages: Sequence[Message]) -> str:
    """The Llama 2 chat prompt as text:
    ``<s>[INST] {user} [/INST] {answer} </s><s>[INST] {user} [/INST]``."""
    return "".join(f"{BOS}{p.text}{EOS if p.eos else ''}" for p in llama2_chat_pieces(messages))


# -- fill in the middle ---------------------------------------------------------------------


@dataclass(frozen=True)
class Special:
    """A sentinel that must be encoded as its single special token id."""

    token: str


@dataclass(frozen=True)
class Text:
    """Plain text; ``implicit_space`` says whether a SentencePiece tokenizer may add its
    dummy leading space (Code Llama's ``encode``) or must not (``encode_infilling``)."""

    text: str
    implicit_space: bool = False


Segment = Special | Text


@dataclass(frozen=True)
class InfillFormat:
    """A model family's FIM sentinels and the layout of its PSM and SPM prompts.

    ``sentencepiece`` marks Code Llama-style formats whose string form shows the tokenizer's
    implicit spaces (``<PRE> {prefix} <SUF>{suffix} <MID>``).
    """

    name: str
    prefix: str
    suffix: str
    middle: str
    eot: str
    bos: str = ""
    sentencepiece: bool = False
    modes: tuple[InfillMode, ...] = ("psm", "spm")

    def segments(self, prefix: str, suffix: str, mode: InfillMode = "psm") -> list[Segment]:
        """Token-level layout; see the module docstring for how to encode each segment."""
        self._check_mode(mode)
        start: list[Segment] = [Special(self.bos)] if self.bos else []
        sp = self.sentencepiece
        if mode == "psm":
            return [
                *start,
                Special(self.prefix),
                Text(prefix, implicit_space=sp),
                Special(self.suffix),
                Text(suffix),
                Special(self.middle),
            ]
        return [
            *start,
            Special(self.prefix),
            Special(self.suffix),
            Text(suffix),
            Special(self.middle),
            Text(prefix, implicit_space=sp),
        ]

    def render(
        self, prefix: str, suffix: str, mode: InfillMode = "psm", *, bos: bool = False
    ) -> str:
        """The prompt as text, as printed in the paper (Code Llama) or the model card.

        Code Llama PSM: ``<PRE> {prefix} <SUF>{suffix} <MID>``; SPM:
        ``<PRE> <SUF>{suffix} <MID> {prefix}``. ``bos=True`` prepends the BOS text for
        backends that do not add it themselves.
        """
        out = []
        for seg in self.segments(prefix, suffix, mode):
            if isinstance(seg, Special):
                if seg.token == self.bos and not bos:
                    continue
                # SentencePiece sentinels after the first carry a leading "▁" (a space).
                lead = " " if self.sentencepiece and seg.token in (self.suffix, self.middle) else ""
                out.append(lead + seg.token)
            else:
                out.append((" " if seg.implicit_space else "") + seg.text)
        return "".join(out)

    def _check_mode(self, mode: str) -> None:
        if mode not in self.modes:
            raise CodeduelError(
                f"{self.name} infilling has no {mode.upper()} format",
                f"use one of: {', '.join(m.upper() for m in self.modes)}",
            )


CODE_LLAMA_FIM = InfillFormat(
    name="codellama",
    prefix="<PRE>",
    suffix="<SUF>",
    middle="<MID>",
    eot="<EOT>",
    bos=BOS,
    sentencepiece=True,
)
#: StarCoder / StarCoderBase (and SantaCoder-style) sentinels. SPM is the FIM paper's
#: "variant 2", as trained by BigCode: ``<fim_prefix><fim_suffix>{suffix}<fim_middle>{prefix}``.
STARCODER_FIM = InfillFormat(
    name="starcoder",
    prefix="<fim_prefix>",
    suffix="<fim_suffix>",
    middle="<fim_middle>",
    eot="<|endoftext|>",
)
#: Qwen2.5-Coder: PSM only (its model card documents no SPM).
QWEN_FIM = InfillFormat(
    name="qwen2.5-coder",
    prefix="<|fim_prefix|>",
    suffix="<|fim_suffix|>",
    middle="<|fim_middle|>",
    eot="<|endoftext|>",
    modes=("psm",),
)
#: DeepSeek-Coder: fullwidth bars (U+FF5C) and U+2581 in its sentinels; "hole" marks the gap.
DEEPSEEK_FIM = InfillFormat(
    name="deepseek-coder",
    prefix="<\uff5cfim\u2581begin\uff5c>",
    suffix="<\uff5cfim\u2581hole\uff5c>",
    middle="<\uff5cfim\u2581end\uff5c>",
    eot="<\uff5cend\u2581of\u2581sentence\uff5c>",
    bos="<\uff5cbegin\u2581of\u2581sentence\uff5c>",
    modes=("psm",),
)

INFILL_FORMATS: dict[str, InfillFormat] = {
    f.name: f for f in (CODE_LLAMA_FIM, STARCODER_FIM, QWEN_FIM, DEEPSEEK_FIM)
}
