"""Prompt strings per model style, byte for byte: the top cause of unreproducible numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeduel.errors import CodeduelError
from codeduel.tasks import get_task
from codeduel.tasks.prompting import HUMANEVAL_STOPS, family_for


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
