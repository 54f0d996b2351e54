"""Prompt strings per model style, byte for byte: the top cause of unreproducible numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeduel.errors import CodeduelError
from codeduel.tasks import get_task
from codeduel.tasks.base import Problem, Task
from codeduel.tasks.prompting import (
    BIGCODE_STOPS,
    HUMANEVAL_STOPS,
    HumanEvalFamily,
    PromptVariant,
    RunOptions,
    family_for,
)


def test_humaneval_completion_prompt_is_the_raw_unstripped_prompt(data_dir: Path) -> None:
    task = get_task("humaneval", data_dir)
    problem = task.problems()[0]
    prompt = family_for("humaneval").prompt(task, problem, "completion")
    assert prompt.text == problem.prompt
    assert prompt.text.endswith('"""\n')  # the trailing newline that stripping harnesses lose
    assert prompt.stop == HUMANEVAL_STOPS


def test_humaneval_chat_prefills_the_signature(data_dir: Path) -> None:
    task = get_task("humaneval", data_dir)
    problem = task.problems()[2]
    prompt = family_for("humaneval").prompt(task, problem, "chat")
    user, assistant = prompt.messages
    assert user.role == "user" and assistant.role == "assistant"
    assert assistant.content == "```python\n" + problem.prompt
    assert user.content.endswith(problem.prompt + "```")
    answer = family_for("humaneval").answer(problem, prompt, "    return 1.0\n```\nmore")
    assert answer.sample == {"completion": "    return 1.0"}


def test_mbpp_three_shot_prompt_matches_austin_template(data_dir: Path) -> None:
    task = get_task("mbpp", data_dir)
    problem = task.get("Mbpp/11")
    text = family_for("mbpp").prompt(task, problem, "completion").text
    shot = task.get("Mbpp/2")
    expected_first = (
        "You are an expert Python programmer, and here is your task: "
        f"{shot.prompt} Your code should pass these tests:\n\n"
        + "\n".join(shot.meta["test_list"])
        + f"\n[BEGIN]\n{shot.reference}\n[DONE]\n\n"
    )
    assert text.startswith(expected_first)
    assert text.count("[DONE]") == 3
    assert text.endswith(
        f"here is your task: {problem.prompt} Your code should pass these tests:\n\n"
        + "\n".join(problem.meta["test_list"])
        + "\n[BEGIN]\n"
    )


def test_mbpp_instruct_prompt_asks_for_python_tags(data_dir: Path) -> None:
    task = get_task("mbpp", data_dir)
    problem = task.get("Mbpp/11")
    prompt = family_for("mbpp").prompt(task, problem, "chat")
    (user,) = prompt.messages
    assert user.content.endswith(
        " Your code should start with a [PYTHON] tag and end with a [/PYTHON] tag."
    )
    answer = family_for("mbpp").answer(
        problem, prompt, "Sure!\n[PYTHON]\ndef remove_Occ(s, ch):\n    return s\n[/PYTHON]"
    )
    assert answer.sample == {"completion": "def remove_Occ(s, ch):\n    return s"}
    assert answer.extraction == "python-tag"


def test_scoring_only_task_refuses_generation() -> None:
    with pytest.raises(CodeduelError, match="no prompt format"):
        family_for("no-such-task")


def _he(data_dir: Path, variant: PromptVariant) -> tuple[Task, Problem, HumanEvalFamily]:
    task = get_task("humaneval", data_dir)
    family = family_for("humaneval").bind(RunOptions(model="m", variant=variant))
    assert isinstance(family, HumanEvalFamily)
    return task, task.problems()[2], family


def test_default_variant_keeps_the_template_names_runs_were_stored_under(data_dir: Path) -> None:
    task, problem, family = _he(data_dir, PromptVariant())
    assert family.prompt(task, problem, "chat").template == "humaneval-chat-prefill"
    assert family.prompt(task, problem, "completion").template == "humaneval-completion"


def test_stripped_prompt_is_what_the_program_is_built_from(data_dir: Path) -> None:
    task, problem, family = _he(data_dir, PromptVariant(strip=True))
    prompt = family.prompt(task, problem, "completion")
    assert prompt.template == "humaneval-completion+strip"
    assert prompt.text == problem.prompt.strip() and not prompt.text.endswith("\n")
    answer = family.answer(problem, prompt, "\n    return 1.0\ndef other(): pass")
    # bigcode-evaluation-harness runs stripped prompt + completion, so the sample says so
    assert answer.sample == {"solution": problem.prompt.strip() + "\n    return 1.0"}
    chat = family.prompt(task, problem, "chat")
    assert chat.template == "humaneval-chat-prefill+strip"
    assert chat.messages[1].content == "```python\n" + problem.prompt.strip()


def test_stop_lists_swap_and_none_keeps_everything(data_dir: Path) -> None:
    task, problem, family = _he(data_dir, PromptVariant(stops="bigcode"))
    prompt = family.prompt(task, problem, "completion")
    assert prompt.stop == BIGCODE_STOPS and "\n@" in prompt.stop
    assert prompt.template == "humaneval-completion+stops=bigcode"
    raw = "    return 1.0\n@decorator\ndef f(): pass"
    assert family.answer(problem, prompt, raw).code == "    return 1.0"
    task, problem, family = _he(data_dir, PromptVariant(stops="none"))
    chat = family.prompt(task, problem, "chat")
    assert chat.stop == () and chat.template == "humaneval-chat-prefill+stops=none"
    assert family.answer(problem, chat, "    return 1.0\n```\nprose").code == (
        "    return 1.0\n```\nprose"
    )


def test_unfilled_chat_takes_the_whole_function_from_the_fence(data_dir: Path) -> None:
    task, problem, family = _he(data_dir, PromptVariant(prefill=False))
    prompt = family.prompt(task, problem, "chat")
    assert prompt.template == "humaneval-chat" and len(prompt.messages) == 1
    assert prompt.messages[0].role == "user" and prompt.stop == ()
    ep = str(problem.entry_point)
    raw = (
        f"Here:\n```python\ndef {ep}(number: float) -> float:\n    return number % 1.0\n```\nDone."
    )
    answer = family.answer(problem, prompt, raw)
    assert answer.extraction != "none"
    program = problem.prompt + answer.sample["completion"]
    scope: dict[str, object] = {}
    exec(compile(program, "candidate", "exec"), scope)  # our own literal code
    assert scope[ep](3.5) == 0.5
    # no code in the answer: recorded as an extraction failure, and the program cannot pass
    failed = family.answer(problem, prompt, "no code at all")
    assert failed.extraction == "none"
    with pytest.raises(SyntaxError):
        compile(problem.prompt + failed.sample["completion"], "candidate", "exec")


def test_variant_errors_are_one_line(data_dir: Path) -> None:
    with pytest.raises(CodeduelError, match="unknown stop list"):
        PromptVariant(stops="mine")
    with pytest.raises(CodeduelError, match="does not apply to mbpp"):
        family_for("mbpp").bind(RunOptions(model="m", variant=PromptVariant(strip=True)))
    task, problem, family = _he(data_dir, PromptVariant(prefill=False, stops="bigcode"))
    with pytest.raises(CodeduelError, match="stop list applies only"):
        family.prompt(task, problem, "chat")
