"""Sanitizing chat output: fences, prose, ``__main__`` blocks and a repeated signature removed,
the text as written kept beside the code that is judged."""

from __future__ import annotations

import ast
from collections import Counter

from codeduel.formats.samples import SampleSet
from codeduel.formats.sanitize import chat_like, sanitize_samples
from codeduel.models.postprocess import sanitize, strip_main_blocks
from codeduel.tasks.base import Problem

PROMPT = (
    "from typing import List\n\n\n"
    "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
    '    """ Check if in given list of numbers, are any two numbers closer to each other than\n'
    "    given threshold.\n"
    '    """\n'
)
BODY = (
    "    for i, a in enumerate(numbers):\n"
    "        for b in numbers[i + 1:]:\n"
    "            if abs(a - b) < threshold:\n"
    "                return True\n"
    "    return False\n"
)
FUNCTION = "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n" + BODY
# What an instruction-tuned model answers (the shape of evalplus's raw chat outputs).
CHAT = (
    "Sure! Here's an implementation that compares every pair of numbers:\n\n"
    "```python\nfrom typing import List\n\n" + FUNCTION + "\n\n"
    'if __name__ == "__main__":\n'
    "    print(has_close_elements([1.0, 2.8, 3.0], 0.3))\n"
    "```\n\n"
    "The function runs in O(n^2) time, which is fine for short lists."
)
PROBLEM = Problem("HumanEval/0", PROMPT, "has_close_elements", BODY)


def test_chat_answer_as_a_completion_becomes_one_program() -> None:
    # scored as written, prompt + answer is not Python: the "invalid syntax" users see
    try:
        ast.parse(PROMPT + CHAT)
        raise AssertionError("the raw chat answer should not parse")
    except SyntaxError:
        pass
    done = sanitize(CHAT, prompt=PROMPT, entry_point="has_close_elements")
    assert done.fixes == ("markdown fences", "prose", "__main__ blocks", "repeated signature")
    assert done.whole_program
    tree = ast.parse(done.code)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert [d.name for d in defs] == ["has_close_elements"]  # one def, the one with a body
    assert "__main__" not in done.code and "Sure!" not in done.code and "O(n^2)" not in done.code
    namespace: dict[str, object] = {}
    exec(compile(done.code, "<sanitized>", "exec"), namespace)
    check = namespace["has_close_elements"]
    assert check([1.0, 2.8, 3.0], 0.3) is True  # type: ignore[operator]
    assert check([1.0, 2.0], 0.5) is False  # type: ignore[operator]


def test_prose_without_fences_and_bodies_left_alone() -> None:
    answer = "Here is the code:\n" + FUNCTION + "Hope this helps!\n"
    done = sanitize(answer, prompt=PROMPT, entry_point="has_close_elements")
    assert done.fixes == ("prose", "repeated signature")
    assert done.code.startswith("from typing import List") and "Hope" not in done.code
    # a plain body continues the prompt: untouched, not even its whitespace
    assert sanitize(BODY, prompt=PROMPT, entry_point="has_close_elements").fixes == ()
    assert sanitize(BODY, prompt=PROMPT, entry_point="has_close_elements").code == BODY
    # a fenced body stays a completion
    fenced = sanitize("```python\n" + BODY + "```", prompt=PROMPT, entry_point="has_close_elements")
    assert fenced.code == BODY and not fenced.whole_program


def test_main_guard_only_top_level_and_stdin_programs_keep_theirs() -> None:
    inner = 'def f():\n    if __name__ == "__main__":\n        pass\n'
    code = inner + '\nif "__main__" == __name__:\n    f()\n'
    assert strip_main_blocks(code) == inner
    # APPS-style programs (no entry point) run under their __main__ guard: kept
    program = (
        "```python\nimport sys\n\nif __name__ == '__main__':\n    print(sys.stdin.read())\n```"
    )
    done = sanitize(program, entry_point=None, whole_program=True)
    assert "__main__" in done.code and done.fixes == ("markdown fences",)


def test_sample_sets_keep_the_raw_text_and_count() -> None:
    samples = SampleSet(path=None)
    counter: Counter[str] = Counter()
    samples.add(1, "HumanEval/0", {"task_id": "HumanEval/0", "completion": CHAT, "t": 1}, counter)
    samples.add(2, "HumanEval/0", {"task_id": "HumanEval/0", "completion": BODY}, counter)
    assert chat_like(samples)
    out, report = sanitize_samples(samples, {"HumanEval/0": PROBLEM})
    first, second = out.samples
    assert first.raw == CHAT and first.record["t"] == 1 and "completion" not in first.record
    assert first.record["solution"].startswith("from typing import List")
    assert second is samples.samples[1] and second.raw is None
    assert (report.changed, report.total) == (1, 2)
    assert report.line() == (
        "sanitized 1 of 2 samples (markdown fences, prose, __main__ blocks, repeated signature); "
        "--no-sanitize to score them as written"
    )
    plain = SampleSet(path=None)
    plain.add(1, "HumanEval/0", {"task_id": "HumanEval/0", "completion": BODY}, Counter())
    assert not chat_like(plain)


def test_an_infilled_middle_keeps_its_place() -> None:
    """HumanEval infilling judges prefix + middle + suffix: a middle is never made a program."""
    infill = Problem(
        "SingleLineInfilling/HumanEval/0/L0", PROMPT, "has_close_elements", "", {"suffix": "x"}
    )
    samples = SampleSet(path=None)
    answer = "```python\n" + FUNCTION + "```"
    samples.add(1, infill.task_id, {"task_id": infill.task_id, "completion": answer}, Counter())
    out, report = sanitize_samples(samples, {infill.task_id: infill})
    assert out.samples[0].record == {"task_id": infill.task_id, "completion": FUNCTION}
    assert report.fixes == ("markdown fences",)
