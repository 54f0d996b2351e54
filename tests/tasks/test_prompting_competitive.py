"""APPS and LiveCodeBench prompts byte for byte, and programs read back from model output.

Problems are built by hand (no data files): a stdin problem and a call-based one per benchmark.
"""

from __future__ import annotations

from typing import Any

from codeduel.models.requests import GenPrompt
from codeduel.tasks.base import Problem
from codeduel.tasks.prompting import (
    APPS_STOPS,
    LCB_SYSTEM_MESSAGE,
    assemble_program,
    family_for,
    lcb_extract_code,
)

STARTER = "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"


def problem(task_id: str, statement: str, *, fn_name: str | None, starter: str = "") -> Problem:
    meta: dict[str, Any] = {
        "difficulty": "interview",
        "starter_code": starter,
        "fn_name": fn_name,
        "title": "t",
    }
    return Problem(task_id, statement, fn_name, "", meta)


STDIN = problem("4001", "Read n and print n+1.\n\n-----Input-----\nn", fn_name=None)
CALL = problem("2", "Return the two indices.", fn_name="twoSum", starter=STARTER)


def test_apps_completion_prompt_stdin_is_the_apps_format() -> None:
    prompt = family_for("apps").prompt(None, STDIN, "completion")  # type: ignore[arg-type]
    assert prompt.template == "apps-completion"
    assert prompt.text == (
        "\nQUESTION:\nRead n and print n+1.\n\n-----Input-----\nn"
        "\nUse Standard Input format\nANSWER:\n"
    )
    assert prompt.stop == APPS_STOPS


def test_apps_completion_prompt_call_based_shows_the_starter_code() -> None:
    prompt = family_for("apps").prompt(None, CALL, "completion")  # type: ignore[arg-type]
    assert prompt.text == (
        "\nQUESTION:\nReturn the two indices.\n" + STARTER + "\nUse Call-Based format\nANSWER:\n"
    )


def test_livecodebench_chat_prompts_byte_for_byte() -> None:
    family = family_for("livecodebench")
    stdin = family.prompt(None, STDIN, "chat")  # type: ignore[arg-type]
    system, user = stdin.messages
    assert system.role == "system" and system.content == LCB_SYSTEM_MESSAGE
    assert user.content == (
        "### Question:\nRead n and print n+1.\n\n-----Input-----\nn\n\n"
        "### Format: Read the inputs from stdin solve the problem and write the answer to "
        "stdout (do not directly test on the sample inputs). Enclose your code within "
        "delimiters as follows.\n```python\n# YOUR CODE HERE\n```\n\n"
        "### Answer: (use the provided format with backticks)\n\n"
    )
    call = family.prompt(None, CALL, "chat")  # type: ignore[arg-type]
    assert call.messages[1].content == (
        "### Question:\nReturn the two indices.\n\n"
        "### Format: You will use the following starter code to write the solution to the "
        "problem and enclose your code within delimiters.\n"
        f"```python\n{STARTER}\n```\n\n"
        "### Answer: (use the provided format with backticks)\n\n"
    )


def test_livecodebench_base_prompt_layout() -> None:
    prompt = family_for("livecodebench").prompt(None, CALL, "completion")  # type: ignore[arg-type]
    assert prompt.template == "livecodebench-base-0shot"
    assert prompt.text == (
        f"### Question\nReturn the two indices.\n\n### Starter Code\n{STARTER}\n\n### Answer\n\n"
    )


CHAT_ANSWER = """Here is my plan. First a sketch:

```python
print("sketch")
```

And the final program:

```python
n = int(input())
print(n + 1)
```
Hope it helps. <b>bold</b>
"""


def test_chat_extraction_takes_the_first_fenced_block_as_livecodebench_does() -> None:
    ex = lcb_extract_code(CHAT_ANSWER)
    assert ex.method == "fence" and ex.code == 'print("sketch")'
    assert lcb_extract_code("no code at all").method == "none"
    assert lcb_extract_code("```python\nx = 1\n").code == ""  # unclosed: a failure, as in LCB
    thinking = "<think>```python\nwrong\n```</think>\n```\nright = 1\n```"
    assert lcb_extract_code(thinking).code == "right = 1"


def test_chat_answer_becomes_a_solution_sample() -> None:
    family = family_for("livecodebench")
    prompt = family.prompt(None, STDIN, "chat")  # type: ignore[arg-type]
    answer = family.answer(STDIN, prompt, CHAT_ANSWER)
    assert answer.sample == {"solution": 'print("sketch")'}
    assert answer.extraction == "fence"
    apps = family_for("apps")
    answer = apps.answer(STDIN, apps.prompt(None, STDIN, "chat"), "```\nprint(1)\n```")  # type: ignore[arg-type]
    assert answer.sample == {"solution": "print(1)"}


def test_apps_base_completion_cut_at_the_next_question() -> None:
    family = family_for("apps")
    prompt = family.prompt(None, STDIN, "completion")  # type: ignore[arg-type]
    answer = family.answer(STDIN, prompt, "n = int(input())\nprint(n + 1)\nQUESTION:\nmore")
    assert answer.sample == {"solution": "n = int(input())\nprint(n + 1)"}
    assert answer.extraction == "stop"


def test_call_based_completion_assembles_a_whole_program() -> None:
    family = family_for("apps")
    prompt: GenPrompt = family.prompt(None, CALL, "completion")  # type: ignore[arg-type]
    rewritten = STARTER + "        return [0, 1]\n"
    assert family.answer(CALL, prompt, rewritten).sample == {"solution": rewritten}
    body = "        return [0, 1]\n"
    assert family.answer(CALL, prompt, body).sample == {"solution": STARTER + body}
    assert assemble_program(STDIN, "print(1)") == "print(1)"
    lcb = family_for("livecodebench")
    base = lcb.prompt(None, CALL, "completion")  # type: ignore[arg-type]
    fenced = "```python\n" + rewritten + "```\n### Question\nnext"
    assert lcb.answer(CALL, base, fenced).sample == {"solution": rewritten.rstrip("\n")}
