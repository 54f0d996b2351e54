"""Exact prompt strings against the reference formats (Code Llama paper / llama/generation.py)."""

from __future__ import annotations

import pytest

from codeduel.errors import CodeduelError
from codeduel.models.base import Message
from codeduel.models.formats import (
    CODE_LLAMA_FIM,
    DEEPSEEK_FIM,
    QWEN_FIM,
    STARCODER_FIM,
    ChatPiece,
    Special,
    Text,
    llama2_chat,
    llama2_chat_pieces,
)


def m(role: str, content: str) -> Message:
    return Message(role=role, content=content)  # type: ignore[arg-type]


def test_llama2_single_user_turn_is_stripped() -> None:
    assert (
        llama2_chat([m("user", "  Write a function.\n")]) == "<s>[INST] Write a function. [/INST]"
    )


def test_llama2_system_prompt_is_folded_into_first_user_turn() -> None:
    prompt = llama2_chat([m("system", "Be brief."), m("user", "Sort a list.")])
    assert prompt == "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nSort a list. [/INST]"


def test_llama2_multi_turn_matches_reference_layout() -> None:
    dialog = [
        m("system", "S"),
        m("user", " u1 "),
        m("assistant", "\na1\n"),
        m("user", "u2"),
    ]
    # The reference strips the folded "<<SYS>>...u1" as a whole, so u1's own leading space stays.
    expected = (
        "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\n u1 [/INST] a1 </s>"  # BOS ... EOS per exchange
        "<s>[INST] u2 [/INST]"
    )
    assert llama2_chat(dialog) == expected
    assert llama2_chat_pieces(dialog) == [
        ChatPiece("[INST] <<SYS>>\nS\n<</SYS>>\n\n u1 [/INST] a1 ", eos=True),
        ChatPiece("[INST] u2 [/INST]", eos=False),
    ]


def test_llama2_assistant_prefill_is_continued() -> None:
    prompt = llama2_chat([m("user", "Q"), m("assistant", "```python\n")])
    assert prompt == "<s>[INST] Q [/INST] ```python\n"


@pytest.mark.parametrize(
    "dialog",
    [
        [m("assistant", "a")],
        [m("user", "a"), m("user", "b")],
        [m("system", "s")],
        [],
    ],
)
def test_llama2_rejects_bad_turn_order_in_one_line(dialog: list[Message]) -> None:
    with pytest.raises(CodeduelError) as err:
        llama2_chat(dialog)
    assert "\n" not in str(err.value)


PRE, SUF = "def f(x):\n    ", "\n    return y\n"


def test_code_llama_psm_and_spm_strings() -> None:
    assert CODE_LLAMA_FIM.render(PRE, SUF, "psm") == f"<PRE> {PRE} <SUF>{SUF} <MID>"
    assert CODE_LLAMA_FIM.render(PRE, SUF, "spm") == f"<PRE> <SUF>{SUF} <MID> {PRE}"
    assert CODE_LLAMA_FIM.render(PRE, SUF, bos=True) == f"<s><PRE> {PRE} <SUF>{SUF} <MID>"
    assert CODE_LLAMA_FIM.eot == "<EOT>"


def test_code_llama_segments_encode_suffix_without_implicit_space() -> None:
    """Reference: [BOS, PRE] + encode(pre) + [SUF] + encode_infilling(suf) + [MID]."""
    assert CODE_LLAMA_FIM.segments(PRE, SUF, "psm") == [
        Special("<s>"),
        Special("<PRE>"),
        Text(PRE, implicit_space=True),
        Special("<SUF>"),
        Text(SUF, implicit_space=False),
        Special("<MID>"),
    ]
    assert CODE_LLAMA_FIM.segments(PRE, SUF, "spm") == [
        Special("<s>"),
        Special("<PRE>"),
        Special("<SUF>"),
        Text(SUF, implicit_space=False),
        Special("<MID>"),
        Text(PRE, implicit_space=True),
    ]


def test_starcoder_psm_and_spm() -> None:
    assert STARCODER_FIM.render(PRE, SUF) == f"<fim_prefix>{PRE}<fim_suffix>{SUF}<fim_middle>"
    assert STARCODER_FIM.render(PRE, SUF, "spm") == (
        f"<fim_prefix><fim_suffix>{SUF}<fim_middle>{PRE}"
    )


def test_qwen_and_deepseek_psm() -> None:
    assert QWEN_FIM.render(PRE, SUF) == f"<|fim_prefix|>{PRE}<|fim_suffix|>{SUF}<|fim_middle|>"
    assert DEEPSEEK_FIM.render(PRE, SUF) == f"<｜fim▁begin｜>{PRE}<｜fim▁hole｜>{SUF}<｜fim▁end｜>"
    assert DEEPSEEK_FIM.render(PRE, SUF, bos=True).startswith(
        "<｜begin▁of▁sentence｜><｜fim▁begin｜>"
    )


def test_formats_without_spm_refuse_it_in_one_line() -> None:
    with pytest.raises(CodeduelError, match="no SPM format") as err:
        QWEN_FIM.render(PRE, SUF, "spm")
    assert "\n" not in str(err.value)
