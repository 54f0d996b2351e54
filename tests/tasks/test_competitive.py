"""The competitive-programming judge (APPS, LiveCodeBench): whole programs in the sandbox, the
comparison in the judge.

Suites here are built by hand so that each rule of the two benchmarks' evaluators is pinned by a
case that passes under one reading and fails under another; the data loaders have their own
tests (test_apps.py, test_livecodebench.py).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

from codeduel.errors import DatasetError
from codeduel.execution import LocalExecutor
from codeduel.execution.base import Verdict
from codeduel.tasks import competitive
from codeduel.tasks.base import PYTHON_PACKAGES
from codeduel.tasks.competitive import TestCase, TestSuite, build_program


@pytest.fixture(scope="module")
def ex() -> Iterator[LocalExecutor]:
    with LocalExecutor(workers=2, packages=PYTHON_PACKAGES) as executor:  # APPS imports numpy
        yield executor


def stdin_suite(
    cases: list[tuple[str, str]], rule: str = "livecodebench", t: float = 2.0
) -> TestSuite:
    return TestSuite("stdin", tuple(TestCase(i, o) for i, o in cases), rule, t)


def call_suite(
    fn: str, cases: list[tuple[list, object]], rule: str = "livecodebench", t: float = 2.0
) -> TestSuite:
    return TestSuite("call", tuple(TestCase(i, o) for i, o in cases), rule, t, fn)


def judge(ex: LocalExecutor, suite: TestSuite, source: str) -> Verdict:
    program = build_program(suite, textwrap.dedent(source), "k")
    return next(iter(ex.run([program])))


def verdicts_of(v: Verdict) -> list[str]:
    return list(v.details["report"]["tests"])


SUM = [("1 2\n", "3\n"), ("10 -4\n", "6\n"), ("0 0\n", "0\n")]


@pytest.mark.parametrize(
    "source",
    [
        "a, b = map(int, input().split())\nprint(a + b)\n",
        "import sys\na, b = map(int, sys.stdin.readline().split())\n"
        "sys.stdout.write(f'{a+b}\\n')\n",
        "a, b = map(int, open(0).read().split())\nprint(a + b)\n",
        "import sys\ndata = sys.stdin.buffer.read().split()\n"
        "sys.stdout.buffer.write(b'%d\\n' % (int(data[0]) + int(data[1])))\n",
        "def main():\n    a, b = map(int, input().split())\n    print(a + b)\n"
        "if __name__ == '__main__':\n    main()\n",
        "import threading, sys\nsys.setrecursionlimit(10**6)\nthreading.stack_size(1 << 26)\n"
        "def main():\n    print(sum(map(int, input().split())))\n"
        "threading.Thread(target=main).start()\n",
        "print(sum(map(int, input().split())))\nexit()\nprint('never')\n",
        # The evaluators' imports are there without an import statement.
        "print(reduce(lambda x, y: x + y, map(int, input().split())))\n",
    ],
    ids=["input", "readline", "open0", "buffer", "main-guard", "thread", "exit", "preamble"],
)
def test_stdin_programs_read_their_input_every_usual_way(ex: LocalExecutor, source: str) -> None:
    v = judge(ex, stdin_suite(SUM), source)
    assert v.passed, (v.result, v.details)
    assert verdicts_of(v) == ["pass", "pass", "pass"]
    assert v.details["report"]["passed"] == 3


def test_a_wrong_answer_names_the_test_and_livecodebench_stops_there(ex: LocalExecutor) -> None:
    v = judge(ex, stdin_suite(SUM), "a, b = map(int, input().split())\nprint(a + b if a else 7)\n")
    assert not v.passed
    assert verdicts_of(v) == ["pass", "pass", "wrong"]
    wrong = judge(ex, stdin_suite(SUM), "print(3)\n")
    assert verdicts_of(wrong) == ["pass", "wrong", "not run"]
    assert "test #1" in wrong.reason and "expected 6" in wrong.reason


def test_apps_runs_every_test_and_keeps_going_after_an_exception(ex: LocalExecutor) -> None:
    source = "a, b = map(int, input().split())\nif a == 10: raise ValueError('boom')\nprint(3)\n"
    v = judge(ex, stdin_suite(SUM, "apps"), source)
    assert verdicts_of(v) == ["pass", "error", "wrong"]
    assert v.reason == "boom" and v.details["exception"] == "ValueError"
    assert v.details["report"]["first_failure"]["got"] == "ValueError: boom"


@pytest.mark.parametrize(
    ("printed", "expected", "lcb", "apps"),
    [
        ("3 \n\n", "3\n", True, True),  # surrounding whitespace
        ("0.50\n", "0.5\n", True, True),  # the same decimal number
        ("1e-3\n", "0.001\n", True, True),
        ("1.000001\n", "1.0\n", False, True),  # APPS: numpy.allclose; LCB: exact decimals
        ("2 1\n", "1 2\n", False, True),  # APPS compares each line as a set of tokens...
        ("b\na\n", "a\nb\n", False, True),  # ...and the lines as a set
        ("a\n\nb\n", "a\nb\n", False, True),  # LCB counts lines; APPS drops empty ones
        # APPS's float fallback: two different 20-digit integers are "close".
        ("12345678901234567891\n", "12345678901234567890\n", False, True),
        ("yes\n", "YES\n", False, False),
    ],
)
def test_each_benchmark_compares_output_by_its_own_rule(
    ex: LocalExecutor, printed: str, expected: str, lcb: bool, apps: bool
) -> None:
    source = f"input()\nprint({printed!r}, end='')\n"
    for rule, want in (("livecodebench", lcb), ("apps", apps)):
        v = judge(ex, stdin_suite([("x\n", expected)], rule), source)
        assert v.passed is want, (rule, printed, expected, v.result)


def test_call_based_solutions_through_solution_or_a_function(ex: LocalExecutor) -> None:
    cases: list[tuple[list, object]] = [([[2, 7, 11, 15], 9], [0, 1]), ([[3, 2, 4], 6], [1, 2])]
    leetcode = """
        class Solution:
            def twoSum(self, nums: List[int], target: int) -> List[int]:
                seen = {}
                for i, x in enumerate(nums):
                    if target - x in seen:
                        return (seen[target - x], i)  # a tuple counts as the list
                    seen[x] = i
    """
    v = judge(ex, call_suite("twoSum", cases), leetcode)
    assert v.passed, v.result
    plain = "def twoSum(nums, target):\n    return [0, 1]\n"
    v = judge(ex, call_suite("twoSum", cases, "apps"), plain)
    assert verdicts_of(v) == ["pass", "wrong"]
    missing = judge(ex, call_suite("twoSum", cases), "def other():\n    pass\n")
    assert not missing.passed and "twoSum" in missing.reason


def test_apps_call_rules_unwrap_expected_values_and_int_keys(ex: LocalExecutor) -> None:
    # APPS stores most expected values wrapped in a list, and JSON made int keys strings.
    cases: list[tuple[list, object]] = [([3], [9]), ([{"1": 2}], [{"1": 2}])]
    source = """
        def f(x):
            if isinstance(x, dict):
                assert all(type(k) is int for k in x), x
                return x
            return x * x
    """
    assert judge(ex, call_suite("f", cases, "apps"), source).passed
    assert not judge(ex, call_suite("f", cases[:1], "livecodebench"), source).passed


def test_a_slow_test_times_out_alone_and_ends_the_run(ex: LocalExecutor) -> None:
    source = "a, b = map(int, input().split())\nwhile a == 10: pass\nprint(a + b)\n"
    v = judge(ex, stdin_suite(SUM, "apps", t=0.5), source)
    assert v.status == "timed out", v.result
    assert verdicts_of(v) == ["pass", "timeout", "not run"]


def test_a_syntax_error_fails_before_any_test(ex: LocalExecutor) -> None:
    for v in (
        judge(ex, stdin_suite(SUM), "print(1 +\n"),
        judge(ex, call_suite("f", [([1], 1)]), "def f(x) return x\n"),
    ):
        assert not v.passed and v.details["exception"] == "SyntaxError", v.result
        assert v.details["stage"] == "candidate module" and "report" not in v.details


def test_large_input_and_output_cross_and_compare(ex: LocalExecutor) -> None:
    n = 200_000
    numbers = "\n".join(str(i) for i in range(n)) + "\n"
    expected = "\n".join(str(2 * i) for i in range(n)) + "\n"
    source = "import sys\nprint('\\n'.join(str(2 * int(x)) for x in sys.stdin.read().split()))\n"
    for rule in ("livecodebench", "apps"):
        v = judge(ex, stdin_suite([(numbers, expected)], rule, t=5.0), source)
        assert v.passed, (rule, v.result)
    off = "import sys\nxs = sys.stdin.read().split()\nxs[-1] = '0'\nprint('\\n'.join(xs))\n"
    v = judge(ex, stdin_suite([(numbers, expected)], "livecodebench", t=5.0), off)
    assert not v.passed and "line 2:" in v.reason


# ------------------------------------------------------------------ attacks


def test_the_expected_output_is_not_in_the_child(ex: LocalExecutor) -> None:
    """The expected outputs stay in the judge: a program that searches its whole process for
    them (every object the collector knows, the runner's frames) finds nothing to print."""
    secret = "EXPECTED-7f3a9c"
    source = """
        import gc, re, sys
        answer = re.compile(r'EXPECTED-[0-9a-f]{6}\\n?')
        found = [o for o in gc.get_objects() if isinstance(o, str) and answer.fullmatch(o)]
        f = sys._getframe()
        while f is not None:
            found += [v for v in f.f_locals.values() if isinstance(v, str) and answer.fullmatch(v)]
            f = f.f_back
        print(found[0] if found else 'nothing', end='')
    """
    v = judge(ex, stdin_suite([("x\n", secret + "\n")]), source)
    assert not v.passed
    assert v.details["report"]["first_failure"]["got"] == "line 1: got nothing, expected " + secret


def test_replacing_the_runner_or_returning_a_fake_equal_fails(ex: LocalExecutor) -> None:
    hijack = """
        import gc
        for o in gc.get_objects():
            if isinstance(o, dict) and 'codeduel_run_stdin' in o:
                o['codeduel_run_stdin'] = lambda data, cap: 'whatever the judge wants\\n'
        print('no')
    """
    v = judge(ex, stdin_suite([("x\n", "yes\n"), ("y\n", "yes\n")], "apps"), hijack)
    assert not v.passed
    # Values cross as exact builtin types: a list subclass arrives as the plain list it holds,
    # any other object with its own __eq__ does not cross at all.
    fake_list = """
        class Eq(list):
            def __eq__(self, other):
                return True
        def f(x):
            return Eq()
    """
    v = judge(ex, call_suite("f", [([1], [5])]), fake_list)
    assert not v.passed and v.details["report"]["first_failure"]["got"] == "[]", v.result
    fake = """
        class Eq:
            def __eq__(self, other):
                return True
        def f(x):
            return Eq()
    """
    v = judge(ex, call_suite("f", [([1], [5])]), fake)
    assert not v.passed and "cannot be checked" in v.reason, v.reason


def test_printing_without_end_is_cut_in_the_child_and_bounded_in_the_judge(
    ex: LocalExecutor,
) -> None:
    flood = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"
    v = judge(ex, stdin_suite([("x\n", "y\n")], t=5.0), flood)
    assert not v.passed and "output limit" in v.reason, v.reason
    # A runner that ignores the cap meets the judge's own message limit (64 MiB).
    bypass = """
        import gc
        for o in gc.get_objects():
            if isinstance(o, dict) and 'codeduel_run_stdin' in o:
                o['codeduel_run_stdin'] = lambda data, cap: 'x' * (80 << 20)
    """
    v = judge(ex, stdin_suite([("x\n", "y\n")], t=5.0), bypass)
    assert not v.passed


def test_a_problem_whose_tests_cannot_travel_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(competitive, "MAX_SUITE_BYTES", 100)
    with pytest.raises(DatasetError, match="more than the 0 MiB one judge job may carry"):
        build_program(stdin_suite([("x" * 200, "y")]), "print(1)", "k")


def test_a_problem_without_tests_is_never_passed() -> None:
    with pytest.raises(DatasetError, match="no test cases"):
        build_program(stdin_suite([]), "print(1)", "k")
