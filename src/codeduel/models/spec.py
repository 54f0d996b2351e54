"""A model spec, resolved once into what every caller needs to know about it.

Why: ``codeduel run --model X`` used to split ``X`` three times (for the record name, the
preset and the backend), and three callers kept their own copy of "which prefixes are llama.cpp
in-process" to decide whether to pass ``n_threads``/``n_ctx``. A :class:`ModelSpec` carries the
backend prefix, the target, the preset and the record name; the backend table says once which
backends run in this process on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeduel.models.presets import Preset, get_preset

__all__ = ["IN_PROCESS_CPU", "ModelSpec"]

#: Backends that run llama.cpp in this process: they take ``n_threads`` and ``n_ctx``.
IN_PROCESS_CPU = frozenset({"llamacpp", "gguf", "embedded"})


@dataclass(frozen=True)
class ModelSpec:
    """``text`` as the user gave it (None: the embedded default), split into the backend
    ``prefix``, its ``target`` and the ``preset`` it names, if any."""

    text: str | None
    prefix: str
    target: str
    preset: Preset | None

    @property
    def name(self) -> str:
        """The model's name in records and tables: what the user wrote, else the preset's."""
        if self.text:
            return self.text
        return self.preset.name if self.preset is not None else self.target

    @property
    def in_process_cpu(self) -> bool:
        """llama.cpp in this process: the backend takes ``n_threads`` and ``n_ctx``."""
        return self.prefix in IN_PROCESS_CPU

    @property
    def record_preset(self) -> Preset | None:
        """The preset whose published figures a run of this spec is compared with."""
        if self.preset is None and self.prefix == "embedded":
            return get_preset(self.target.removeprefix("embedded:"))
        return self.preset
