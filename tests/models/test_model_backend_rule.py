"""Which backend serves a spec: auto/preset specs prefer vLLM on CUDA, explicit prefixes win.

The availability check is injected, so the rule is tested without CUDA or vllm installed.
"""

from __future__ import annotations

import pytest

from codeduel.models import pick_backend, resolve_spec


@pytest.mark.parametrize(
    ("spec", "usable", "expected"),
    [
        ("auto:codellama/CodeLlama-7b-hf", True, "vllm"),
        ("auto:codellama/CodeLlama-7b-hf", False, "hf"),
        ("codellama-7b", True, "vllm"),  # a preset names weights, not an engine
        ("codellama-7b", False, "hf"),
        ("hf:codellama/CodeLlama-7b-hf", True, "hf"),  # an explicit hf: is obeyed
        ("vllm:codellama/CodeLlama-7b-hf", False, "vllm"),
        ("embedded:qwen2.5-coder-0.5b-instruct", True, "embedded"),
    ],
)
def test_auto_and_presets_prefer_vllm_when_usable(spec: str, usable: bool, expected: str) -> None:
    prefix, _, preset = resolve_spec(spec)
    asked: list[bool] = []

    def available() -> bool:
        asked.append(True)
        return usable

    assert pick_backend(prefix, explicit=preset is None, vllm_available=available) == expected
    if prefix in ("hf", "vllm", "embedded") and preset is None:
        assert not asked  # explicit prefixes never probe CUDA


def test_auto_keeps_the_target() -> None:
    assert resolve_spec("auto:org/name")[:2] == ("auto", "org/name")
