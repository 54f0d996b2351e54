"""Stop truncation and code extraction: the places silent zeros come from."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from codeduel.models.postprocess import extract_code, strip_thinking, truncate_at_stops

HE_STOPS = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"]


def test_truncates_at_earliest_stop_and_names_it() -> None:
    text = "    return x\n\nprint(f(1))\ndef g():\n"
    cut = truncate_at_stops(text, HE_STOPS)
    assert cut.text == "    return x\n"
    assert cut.stop == "\nprint("


def test_no_stop_keeps_text() -> None:
    cut = truncate_at_stops("    return 1\n", HE_STOPS)
    assert cut.text == "    return 1\n" and cut.stop is None


def test_longest_stop_wins_a_tie() -> None:
    assert truncate_at_stops("a\n#b", ["\n", "\n#"]).stop == "\n#"


@given(st.text(), st.lists(st.text(min_size=1), max_size=4))
def test_truncation_is_a_prefix_without_any_stop(text: str, stops: list[str]) -> None:
    cut = truncate_at_stops(text, stops)
    assert text.startswith(cut.text)
    assert not any(s in cut.text for s in stops)
    if cut.stop is not None:
        assert text[len(cut.text) :].startswith(cut.stop)


def test_python_tags_win_over_fences() -> None:
    answer = "Here:\n```python\nx = 1\n```\n[PYTHON]\ndef f():\n    return 2\n[/PYTHON]"
    ex = extract_code(answer)
    assert ex.method == "python-tag"
    assert ex.code == "def f():\n    return 2"


def test_fence_defining_entry_point_is_chosen() -> None:
    answer = (
        "Example usage:\n```python\nprint(add(1, 2))\n```\n"
        "Solution:\n```python\ndef add(a, b):\n    return a + b\n```\n"
    )
    ex = extract_code(answer, entry_point="add")
    assert ex.method == "fence"
    assert ex.code == "def add(a, b):\n    return a + b\n"


def test_unclosed_fence_runs_to_end() -> None:
    ex = extract_code("```python\ndef f():\n    return 1\n")
    assert ex.ok and ex.code.startswith("def f():")


def test_thinking_block_is_ignored() -> None:
    answer = "<think>maybe ```python\nwrong()\n``` no</think>```python\ndef f():\n    pass\n```"
    assert extract_code(answer).code == "def f():\n    pass\n"
    assert strip_thinking("<think>never closed ```python\nx\n") == ""


def test_plain_python_answer_and_prose_failure() -> None:
    assert extract_code("def f():\n    return 3\n").method == "plain"
    failed = extract_code("I cannot help with that request, sorry.")
    assert not failed.ok and failed.method == "none"
