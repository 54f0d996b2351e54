"""The preset table and spec resolution (no model is loaded here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeduel import models
from codeduel.errors import CodeduelError
from codeduel.models import (
    get_preset,
    list_presets,
    load_model,
    register_backend,
    resolve_spec,
)
from codeduel.models.formats import CODE_LLAMA_FIM, QWEN_FIM, STARCODER_FIM


def test_every_model_of_the_paper_has_a_preset() -> None:
    names = {p.name for p in list_presets()}
    for size in (7, 13, 34):
        for suffix in ("", "-python", "-instruct"):
            assert f"codellama-{size}b{suffix}" in names
    for size in (7, 13, 70):
        assert f"llama-2-{size}b" in names
        assert f"llama-2-{size}b-chat" in names
    assert {"starcoder", "starcoderbase", "gpt-3.5-turbo", "gpt-4"} <= names
    assert {"qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"} <= names
    assert len(names) == len(list_presets())


def test_code_llama_presets_carry_weights_style_and_infilling() -> None:
    base = get_preset("codellama-7b")
    assert base.spec == "hf:codellama/CodeLlama-7b-hf"
    assert base.prompt_style == "completion" and base.infill is CODE_LLAMA_FIM
    assert base.published.humaneval_pass1 == 33.5 and base.published.humaneval_pass100 == 85.9
    instruct = get_preset("codellama-13b-instruct")
    assert instruct.weights_id == "codellama/CodeLlama-13b-Instruct-hf"
    assert instruct.prompt_style == "chat" and instruct.chat_format == "llama2"
    assert instruct.infill is CODE_LLAMA_FIM
    # No FIM for the Python models nor for 34B (paper §2.3).
    for name in ("codellama-7b-python", "codellama-13b-python", "codellama-34b"):
        assert not get_preset(name).supports_infilling
    assert get_preset("codellama-34b-instruct").published.humaneval_pass1 == 41.5
    assert get_preset("codellama-7b-python").weights_id == "codellama/CodeLlama-7b-Python-hf"


def test_other_presets() -> None:
    assert get_preset("starcoder").infill is STARCODER_FIM
    assert get_preset("starcoder").published.humaneval_pass1 == 33.6
    assert get_preset("llama-2-70b").published.humaneval_pass1 == 30.5
    assert get_preset("llama-2-7b-chat").chat_format == "llama2"
    gpt4 = get_preset("gpt-4")
    assert gpt4.backend == "openai" and gpt4.published.humaneval_pass1 == 67.0
    qwen = get_preset("qwen2.5-coder-0.5b-instruct")
    assert qwen.infill is QWEN_FIM and qwen.context_window == 32768
    assert qwen.published.humaneval_pass1 == 61.6


def test_presets_serialise_to_json() -> None:
    dumped = get_preset("codellama-7b").model_dump(mode="json")
    assert dumped["infill"]["prefix"] == "<PRE>"


def test_spec_resolution() -> None:
    assert resolve_spec("gguf:/m/x.gguf")[:2] == ("gguf", "/m/x.gguf")
    assert resolve_spec("/m/x.gguf")[:2] == ("gguf", "/m/x.gguf")
    assert resolve_spec("hf:codellama/CodeLlama-7b-hf")[:2] == ("hf", "codellama/CodeLlama-7b-hf")
    backend, target, preset = resolve_spec(None)
    assert (backend, target) == ("embedded", "embedded:qwen2.5-coder-0.5b-instruct")
    assert preset is not None and preset.name == "qwen2.5-coder-0.5b-instruct"
    assert resolve_spec("embedded:")[1] == "embedded:qwen2.5-coder-0.5b-instruct"
    backend, target, preset = resolve_spec("codellama-7b")
    assert (backend, target) == ("hf", "codellama/CodeLlama-7b-hf") and preset is not None
    assert resolve_spec("qwen2.5-coder-1.5b-instruct")[:2] == (
        "embedded",
        "embedded:qwen2.5-coder-1.5b-instruct",
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuch-model", "unknown model preset"),
        ("foo:bar", "unknown model backend 'foo'"),
        ("gguf:", "names no model"),
        ("gguf:/nonexistent/model.gguf", "GGUF file not found"),
    ],
)
def test_bad_specs_fail_in_one_line(spec: str, message: str) -> None:
    with pytest.raises(CodeduelError, match=message) as err:
        load_model(spec)
    assert "\n" not in str(err.value)


def test_backend_without_an_implementation_says_not_available_yet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(models, "_BACKENDS", dict(models._BACKENDS))
    register_backend("later", "codeduel.models._not_written_yet")
    with pytest.raises(CodeduelError, match="backend later is not available yet"):
        load_model("later:some/model")


def test_a_file_that_is_not_gguf_fails_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 60)
    with pytest.raises(CodeduelError, match="could not load") as err:
        load_model(f"gguf:{bad}", n_threads=1)
    assert "\n" not in str(err.value)
    assert capfd.readouterr().err == ""  # llama.cpp's own log is silenced by default
