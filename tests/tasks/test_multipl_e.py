"""MultiPL-E in the sandbox: every installed language, judged by the real toolchain.

The solutions in ``multipl_e_solutions/<lang>.json`` were written for these tests (never taken
from a model or a benchmark): ``correct`` must pass, ``wrong`` must fail, and ``exit_early`` (a
wrong body that ends the process with status 0) must fail although its exit status alone says
"passed". A language whose toolchain is missing is skipped with the reason, except where
``CODEDUEL_REQUIRE_TOOLCHAINS=1`` (CI, which installs them): there it fails.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeduel.errors import SamplesError
from codeduel.execution import LocalExecutor
from codeduel.languages import LANGUAGES, get_language
from codeduel.tasks import get_task
from codeduel.tasks.multipl_e import MultiplETask

SOLUTIONS = Path(__file__).parent / "multipl_e_solutions"
PAPER = ("cpp", "java", "php", "cs", "ts", "sh", "js")  # Table 4's six, and JavaScript
NOT_INSTALLABLE = ("jl", "swift")  # no Debian or npm package: CI cannot have them
REQUIRE = os.environ.get("CODEDUEL_REQUIRE_TOOLCHAINS") == "1"
FULL = os.environ.get("CODEDUEL_MULTIPL_E_FULL") == "1"
# Languages whose programs cost under ~0.2 s each: the empty-body sweep covers every problem.
CHEAP = ("cs", "js", "php", "sh", "py", "rb", "lua", "pl", "rs", "r", "d", "rkt")
MARKER_MISSING = "before its tests finished"


def need_toolchain(code: str) -> None:
    tc = get_language(code).toolchain()
    if tc.available:
        return
    if REQUIRE and code not in NOT_INSTALLABLE:
        pytest.fail(f"{code}: toolchain required in CI but {tc.describe()}")
    pytest.skip(f"{code}: {tc.describe()}")


@pytest.fixture(scope="module")
def executor() -> Iterator[LocalExecutor]:
    with LocalExecutor(workers=2) as ex:
        yield ex


def solutions(code: str) -> dict[str, dict[str, str]]:
    data = json.loads((SOLUTIONS / f"{code}.json").read_text(encoding="utf-8"))
    assert data["language"] == code
    problems: dict[str, dict[str, str]] = data["problems"]
    return problems


def judge(task: MultiplETask, ex: LocalExecutor, samples: list[tuple[str, str, str]]) -> dict:
    """Verdicts by key for (key, task_id, completion) triples."""
    programs = [
        task.program(task.get(tid), {"completion": completion}, key)
        for key, tid, completion in samples
    ]
    return {v.key: v for v in ex.run(programs)}


def test_every_multipl_e_language_is_a_task_with_its_data(tmp_path: Path) -> None:
    codes = {"cpp", "cs", "d", "go", "java", "jl", "js", "lua", "php", "pl", "py", "r", "rb"}
    codes |= {"rkt", "rs", "scala", "sh", "swift", "ts"}
    assert set(LANGUAGES) == codes
    task = get_task("multipl-e-cpp")
    info = task.dataset()
    assert info.name == "multipl-e-cpp" and info.sha256.startswith("e0c65762")
    assert len(task.problems()) == 161
    # MultiPL-E's name and the HumanEval id name the same problem.
    assert task.get("HumanEval/13") is task.get("HumanEval_13_greatest_common_divisor")
    with pytest.raises(SamplesError, match="not a problem of multipl-e-cpp"):
        task.get("Mbpp/2")
    # HumanEval/32 (poly) is one MultiPL-E could not translate to C++.
    with pytest.raises(SamplesError, match="no C\\+\\+ translation"):
        task.get("HumanEval/32")
    # MultiPL-E ships no reference solutions: `codeduel reference` says so, writes nothing.
    from codeduel.api import write_reference_samples
    from codeduel.errors import CodeduelError

    with pytest.raises(CodeduelError, match="has no reference solutions"):
        write_reference_samples("multipl-e-cpp", tmp_path / "ref.jsonl")
    assert not (tmp_path / "ref.jsonl").exists()


def test_a_toolchain_cache_inside_the_project_stays_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI keeps its caches under the checkout, which is on ``sys.path`` and so closed to
    candidates: the precompiled header codeduel built there must still be readable (it was
    not, and every C++ program failed to compile), while a header placed inside a benchmark
    location is never admitted."""
    need_toolchain("cpp")
    project = tmp_path / "project"
    monkeypatch.setenv("XDG_CACHE_HOME", str(project / ".cache"))
    monkeypatch.syspath_prepend(str(project))
    name, kinds = next(iter(solutions("cpp").items()))
    task = get_task("multipl-e-cpp")
    assert isinstance(task, MultiplETask)
    spec = task.exec_spec(task.get(name).prompt)
    assert spec.own_paths and spec.own_paths[0].startswith(str(project))
    with LocalExecutor(workers=1) as ex:
        verdicts = judge(task, ex, [("ok", name, kinds["correct"])])
        assert verdicts["ok"].passed, verdicts["ok"].reason
        # The same folder inside a dataset location is left out of the read rules.
        assert ex.toolchain_paths((), spec.own_paths)
        monkeypatch.setenv("CODEDUEL_DATA_DIR", str(project))
    with LocalExecutor(workers=1) as ex:
        assert ex.toolchain_paths((), spec.own_paths) == []
        verdicts = judge(task, ex, [("closed", name, kinds["correct"])])
        assert not verdicts["closed"].passed
        assert "Permission denied" in verdicts["closed"].reason


@pytest.mark.parametrize("code", sorted(p.stem for p in SOLUTIONS.glob("*.json")))
def test_correct_pass_wrong_and_early_exit_fail(code: str, executor: LocalExecutor) -> None:
    need_toolchain(code)
    task = get_task(f"multipl-e-{code}")
    assert isinstance(task, MultiplETask)
    problems = solutions(code)
    if code in PAPER:
        assert sum("correct" in v for v in problems.values()) >= 10
        assert sum("exit_early" in v for v in problems.values()) >= 3
    samples = [
        (f"{name}|{kind}", name, text)
        for name, kinds in problems.items()
        for kind, text in kinds.items()
    ]
    verdicts = judge(task, executor, samples)
    for key, v in verdicts.items():
        kind = key.split("|")[1]
        assert v.mode == "exec"
        if kind == "correct":
            assert v.passed, (key, v.reason, v.stderr_tail[-500:])
        else:
            assert not v.passed, (key, v.stdout_tail[-300:])
        if kind == "exit_early":
            # Its process ended with status 0: only the missing marker gives it away, unless
            # the language's runner reports the interrupted test itself (go test does).
            steps = v.details["steps"]
            if steps[-1]["exit"] == 0:
                assert MARKER_MISSING in v.reason, (key, v.reason)


def _sweep(code: str) -> list[str]:
    """Problems the empty-body test covers: all of them for cheap languages (or with
    CODEDUEL_MULTIPL_E_FULL=1), else a fixed random 16."""
    ids = [p.task_id for p in get_task(f"multipl-e-{code}").problems()]
    if FULL or code in CHEAP:
        return ids
    return sorted(random.Random(15).sample(ids, 16))


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_an_empty_body_passes_no_problem(code: str, executor: LocalExecutor) -> None:
    """Nothing passes vacuously: with no completion at all, every problem fails (a test
    file that never called the function, or a seal that printed the marker too early,
    would show up here)."""
    need_toolchain(code)
    task = get_task(f"multipl-e-{code}")
    assert isinstance(task, MultiplETask)
    ids = _sweep(code)
    verdicts = judge(task, executor, [(tid, tid, "") for tid in ids])
    passed = sorted(k for k, v in verdicts.items() if v.passed)
    assert passed == []
    assert len(verdicts) == len(ids)


def test_multipl_e_completions_files_are_samples(tmp_path: Path, executor: LocalExecutor) -> None:
    """MultiPL-E's own completions files (one ``<problem>.json.gz`` per problem, a list of
    ``completions``) score as they are, one file or a folder; another language's are refused."""
    import gzip

    from codeduel.formats.samples import read_samples

    need_toolchain("js")
    problems = solutions("js")
    folder = tmp_path / "completions"
    folder.mkdir()
    names = sorted(problems)[:2]
    for name in names:
        record = {
            "name": name,
            "language": "js",
            "completions": [problems[name]["correct"], problems[name].get("wrong", "")],
        }
        with gzip.open(folder / f"{name}.json.gz", "wt", encoding="utf-8") as fh:
            json.dump(record, fh)
    (folder / "notes.txt").write_text("not a completions file")
    samples = read_samples(folder)
    assert [(s.task_id, s.sample_idx) for s in samples.samples] == [
        (names[0], 0),
        (names[0], 1),
        (names[1], 0),
        (names[1], 1),
    ]
    one = read_samples(folder / f"{names[0]}.json.gz")
    assert len(one) == 2
    task = get_task("multipl-e-js")
    programs = [
        task.program(task.get(s.task_id), s.record, f"{s.task_id}|{s.sample_idx}")
        for s in samples.samples
    ]
    verdicts = {v.key: v.passed for v in executor.run(programs)}
    assert verdicts == {f"{n}|{i}": i == 0 for n in names for i in (0, 1)}
    cpp = get_task("multipl-e-cpp")
    with pytest.raises(SamplesError, match="are js programs, not C\\+\\+"):
        cpp.program(cpp.get(names[0]), samples.samples[0].record, "k")


def test_embedded_model_writes_and_passes_code_in_two_languages(tmp_path: Path) -> None:
    """The real embedded model, prompted in JavaScript and in Bash (chat, the prompt pre-filled
    in the language's fence), judged in the sandbox and stored: small, greedy, end to end."""
    import subprocess
    import sys

    from codeduel.records.store import Store

    for code in ("js", "sh"):
        need_toolchain(code)
    store = tmp_path / "results.sqlite"
    for code in ("js", "sh"):
        args = ["--task", f"multipl-e-{code}", "--limit", "3", "--max-new-tokens", "200"]
        done = subprocess.run(
            [sys.executable, "-m", "codeduel.cli", "run", *args, "--store", str(store), "--json"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        result = json.loads(done.stdout)
        assert result["n_samples"] == 3
        assert result["published"]["pass@1"] == pytest.approx({"js": 0.503, "sh": 0.278}[code])
    db = Store(store)
    runs = db.list_runs()
    assert sorted(r.task for r in runs) == ["multipl-e-js", "multipl-e-sh"]
    for run in runs:
        samples = db.samples(run.id)
        verdicts = db.verdicts(run.id)
        assert len(samples) == len(verdicts) == 3
        code = (run.task or "").removeprefix("multipl-e-")
        assert all((s.extra or {})["template"] == f"multipl-e-{code}-chat-prefill" for s in samples)
        assert all(v.mode == "exec" and v.details.get("steps") for v in verdicts)
    # The model is not useless in either language (published: 50.3 % js, 27.8 % sh).
    assert sum(v.passed for r in runs for v in db.verdicts(r.id)) >= 2
