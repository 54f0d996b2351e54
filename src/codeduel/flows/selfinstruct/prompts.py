"""The self-instruct prompts: seeded hints, the question, tests and solution prompts, and
the one-shot example (their wording is part of the run key through PROMPT_VERSION)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence

from codeduel.models import Message

PROMPT_VERSION = "2"  # bump when any prompt below changes: it is part of the run key
BATCH = 8  # conversations per chat request (llama.cpp decodes them in parallel slots)

DIFFICULTIES: tuple[str, ...] = ("easy", "medium")
TOPICS: tuple[str, ...] = (
    "string manipulation",
    "list processing",
    "dictionaries and counting",
    "sets",
    "sorting",
    "searching",
    "binary search",
    "two pointers",
    "sliding windows",
    "prefix sums",
    "recursion",
    "dynamic programming",
    "greedy algorithms",
    "number theory",
    "prime numbers",
    "digits of integers",
    "bit manipulation",
    "base conversion",
    "matrices and grids",
    "geometry",
    "intervals",
    "stacks",
    "queues",
    "graphs given as adjacency lists",
    "trees given as nested lists",
    "combinatorics",
    "parsing text",
    "validating input formats",
    "date and time arithmetic",
    "simulation of a simple process",
    "statistics of a list of numbers",
    "word and sentence processing",
    "palindromes and anagrams",
    "encoding and decoding strings",
    "tuples and records",
    "nested lists",
    "run-length encoding",
    "scheduling and calendars",
    "money and unit conversions",
    "text formatting",
)

#: What the function takes: a third seeded hint dimension (40 x 2 x 10 combinations), so that
#: questions sharing a batch (and so a seed) rarely share a prompt.
INPUTS: tuple[str, ...] = (
    "a list of integers",
    "a string",
    "two integers",
    "a list of strings",
    "a dictionary",
    "a list of tuples",
    "a nested list",
    "an integer",
    "two strings",
    "a list of floats",
)

QUESTION_PROMPT = (
    "Write 1 programming interview question of {difficulty} complexity about {topic} that "
    "asks the candidate to write a Python function taking {input}. "
    "Make sure the problem can be solved with a single standalone Python function using "
    "standard libraries. Reply with the question only, in one to three sentences, without a "
    "solution or examples."
)

#: The question answer starts with this (a prefill): a small model otherwise asks conceptual
#: questions ("Can you explain ...") that no function answers.
QUESTION_PREFILL = "Write a Python function"

TESTS_PROMPT = (
    "Your task is to write {k} tests to check the correctness of a function that solves a "
    "programming problem. The tests must be between [TESTS] and [/TESTS] tags. You must write "
    'the comment "#Test case n:" on a separate line directly above each assert statement, '
    "where n represents the test case number, starting from 1 and increasing by one for each "
    "subsequent test case.\n\nProblem: {question}"
)

SOLUTION_PROMPT = (
    "Your task is to write Python code to solve a programming problem. The Python code must be "
    "between [PYTHON] and [/PYTHON] tags. You are given one example test from which you can "
    "infer the function signature.\n\nProblem: {question}\nTest: {test}"
)

EXAMPLE_PROBLEM = "Write a Python function to get the unique elements of a list."
EXAMPLE_TESTS = (
    "assert get_unique_elements([]) == []",
    "assert get_unique_elements([1]) == [1]",
    "assert get_unique_elements([1, 2, 3, 2, 1]) == [1, 2, 3]",
    "assert get_unique_elements([1, 1, 1]) == [1]",
    "assert get_unique_elements([3, 1, 3, 2]) == [3, 1, 2]",
)
EXAMPLE_ENTRY_POINT = "get_unique_elements"
EXAMPLE_SOLUTION = "def get_unique_elements(my_list):\n    return list(dict.fromkeys(my_list))"

ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)
PHASES: tuple[str, ...] = ("questions", "tests", "solutions", "judging")


# -- prompts -----------------------------------------------------------------------------------


def derive_seed(seed: int, label: str) -> int:
    """A seed for one step of the job, derived from the run's seed and the step's label, so
    resumed output equals uninterrupted output."""
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def hint_for(seed: int, index: int) -> dict[str, str]:
    """Topic, difficulty and input type asked of question ``index``: seeded, so resumes repeat
    them."""
    rng = random.Random(derive_seed(seed, f"hint:{index}"))
    return {
        "topic": rng.choice(TOPICS),
        "difficulty": rng.choice(DIFFICULTIES),
        "input": rng.choice(INPUTS),
    }


def question_messages(hint: dict[str, str]) -> list[Message]:
    """The chat asking for one interview question on ``hint``'s topic and difficulty, its
    answer prefilled with :data:`QUESTION_PREFILL`."""
    text = QUESTION_PROMPT.format(**hint)
    return [
        Message(role="user", content=text),
        Message(role="assistant", content=QUESTION_PREFILL),
    ]


def _tests_block(asserts: Sequence[str]) -> str:
    lines = []
    for i, line in enumerate(asserts, start=1):
        lines += [f"# Test case {i}:", line]
    return "\n".join(lines)


def tests_messages(question: str, k: int) -> list[Message]:
    """One-shot chat for ``k`` tests, prefilled with ``[TESTS]`` (the answer continues it)."""
    return [
        Message(role="user", content=TESTS_PROMPT.format(k=k, question=EXAMPLE_PROBLEM)),
        Message(role="assistant", content=f"[TESTS]\n{_tests_block(EXAMPLE_TESTS[:k])}\n[/TESTS]"),
        Message(role="user", content=TESTS_PROMPT.format(k=k, question=question)),
        Message(role="assistant", content="[TESTS]\n"),
    ]


def solution_messages(question: str, first_test: str) -> list[Message]:
    """One-shot chat for a solution shown only the first test, prefilled with ``[PYTHON]``."""
    return [
        Message(
            role="user",
            content=SOLUTION_PROMPT.format(question=EXAMPLE_PROBLEM, test=EXAMPLE_TESTS[2]),
        ),
        Message(role="assistant", content=f"[PYTHON]\n{EXAMPLE_SOLUTION}\n[/PYTHON]"),
        Message(role="user", content=SOLUTION_PROMPT.format(question=question, test=first_test)),
        Message(role="assistant", content="[PYTHON]\n"),
    ]


# -- parsing model answers ---------------------------------------------------------------------
