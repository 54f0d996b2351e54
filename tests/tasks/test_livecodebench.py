"""LiveCodeBench's data layer, read from fixtures in the official on-disk format."""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import zlib
from pathlib import Path

import pytest

from codeduel.errors import CodeduelError, DatasetError, SamplesError
from codeduel.tasks import get_task
from codeduel.tasks.hub import UnpublishedDataWarning, combined_sha256, file_sha256
from codeduel.tasks.livecodebench import decode_pickled_str, decode_private_tests

FIXTURES = Path(__file__).parent / "fixtures"
LCB = FIXTURES / "livecodebench"
ALL_IDS = ["abc901_a", "9101", "1901A", "abc951_b", "9102"]


def load(**options: object):
    with pytest.warns(UnpublishedDataWarning):
        return get_task("livecodebench", FIXTURES, **options)


def test_releases_are_cumulative_files() -> None:
    v1 = load(release="v1")
    v2 = load(release="release_v2")
    assert [p.task_id for p in v1.problems()] == ALL_IDS[:3]
    assert [p.task_id for p in v2.problems()] == ALL_IDS
    assert {p.task_id: p.meta["release"] for p in v2.problems()} == {
        "abc901_a": "v1",
        "9101": "v1",
        "1901A": "v1",
        "abc951_b": "v2",
        "9102": "v2",
    }


def test_unpublished_copy_is_recorded_by_its_sha256() -> None:
    with pytest.warns(UnpublishedDataWarning, match="unpublished") as caught:
        task = get_task("livecodebench", FIXTURES, release="v2")
    assert "test.jsonl" in str(caught[0].message)
    info = task.dataset()
    hashes = {n: file_sha256(LCB / n) for n in ("test.jsonl", "test2.jsonl")}
    assert info.name == "livecodebench"
    assert info.version == "unpublished"
    assert info.sha256 == combined_sha256(hashes)
    assert info.sha256 in str(caught[0].message)
    assert Path(info.path) == LCB


def test_env_var_finds_the_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEDUEL_DATA_DIR", str(FIXTURES))
    with pytest.warns(UnpublishedDataWarning):
        task = get_task("livecodebench", release="v1")
    assert len(task.problems()) == 3


def test_meta_and_prompt() -> None:
    task = load(release="v2")
    p = task.get("9101")
    assert p.prompt == "Return a + b."
    assert p.entry_point == "addTwo"
    assert p.reference == ""
    assert p.meta == {
        "difficulty": "easy",
        "starter_code": "class Solution:\n    def addTwo(self, a: int, b: int) -> int:\n        ",
        "fn_name": "addTwo",
        "title": "Add Two",
        "platform": "leetcode",
        "contest_id": "weekly-contest-901",
        "contest_date": "2023-09-03",
        "release": "v1",
    }
    stdin = task.get(" abc901_a ")
    assert stdin.entry_point is None
    assert stdin.meta["fn_name"] is None
    assert stdin.meta["platform"] == "atcoder"


def test_stdin_suite_public_then_private() -> None:
    task = load(release="v1")
    suite = task.suite(task.get("abc901_a"))
    assert suite.kind == "stdin"
    assert suite.compare == "livecodebench"
    assert suite.timeout_s == 6.0
    assert suite.fn_name is None
    assert [(c.input, c.output) for c in suite.cases] == [
        ("3\n1 5 2\n", "5\n"),
        ("1\n-7\n", "-7\n"),
        ("4\n9 9 1 0\n", "9\n"),
    ]
    plain = task.suite(task.get("1901A"))  # private tests stored as plain JSON
    assert [c.output for c in plain.cases] == ["cba\n", "x\n", "olleh\n"]


def test_functional_suite_decodes_json_arguments() -> None:
    task = load(release="v2")
    suite = task.suite(task.get("9102"))
    assert suite.kind == "call"
    assert suite.fn_name == "countChar"
    assert [(c.input, c.output) for c in suite.cases] == [
        ([["a", "b", "a"], "a"], 2),
        ([[], "z"], 0),
        ([["q", "q"], "q"], 2),
    ]
    assert task.suite(task.get("9102")) is suite  # cached


def test_filters_and_filtered_out_ids() -> None:
    since = load(release="v2", since="2024-01-01")
    assert [p.task_id for p in since.problems()] == ["abc951_b", "9102"]
    with pytest.raises(SamplesError, match="before --since 2024-01-01") as err:
        since.get("abc901_a")
    assert "\n" not in str(err.value)
    window = load(release="v2", since="2023-09-03", until="2024-05-04")
    assert [p.task_id for p in window.problems()] == ["9101", "1901A", "abc951_b"]
    with pytest.raises(SamplesError, match="after --until 2024-05-04"):
        window.get("9102")
    atcoder = load(release="v2", platform="AtCoder")
    assert [p.task_id for p in atcoder.problems()] == ["abc901_a", "abc951_b"]
    with pytest.raises(SamplesError, match="leetcode problem, not --platform atcoder"):
        atcoder.get(9101)
    codeforces = load(release="v2", platform="codeforces")
    assert [p.task_id for p in codeforces.problems()] == ["1901A"]


def test_unknown_id_says_what_ids_look_like() -> None:
    task = load(release="v1")
    with pytest.raises(SamplesError, match="later --release") as err:
        task.get("9102")  # in v2 only
    assert "question_id" in str(err.value)
    with pytest.raises(SamplesError, match="not a problem"):
        task.get(None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"release": "v7"}, "unknown LiveCodeBench release 'v7'"),
        ({"release": "release_v2", "since": "2024-13-01"}, "invalid --since '2024-13-01'"),
        ({"release": "v2", "until": "yesterday"}, "invalid --until 'yesterday'"),
        ({"release": "v2", "platform": "topcoder"}, "unknown LiveCodeBench platform"),
        ({"release": "v2", "since": "2024-02-01", "until": "2024-01-01"}, "is after --until"),
        ({"difficulty": "easy"}, "has no option 'difficulty'"),
    ],
)
def test_bad_options_are_one_line_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(CodeduelError, match=message) as err:
        get_task("livecodebench", FIXTURES, **options)
    assert "\n" not in str(err.value)
    assert " — " in str(err.value)  # names the fix


def test_missing_release_file_names_the_fix() -> None:
    with pytest.raises(DatasetError, match=r"livecodebench/test3\.jsonl not found") as err:
        get_task("livecodebench", FIXTURES)  # default release v6 needs test.jsonl..test6.jsonl
    assert "--release" in str(err.value)
    assert "\n" not in str(err.value)


def test_published_copy_is_versioned_without_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    from codeduel.tasks import livecodebench

    folder = tmp_path / "livecodebench"
    folder.mkdir()
    shutil.copy(LCB / "test.jsonl", folder / "test.jsonl")
    pins = dict(livecodebench.DATASET.sha256, **{"test.jsonl": file_sha256(LCB / "test.jsonl")})
    monkeypatch.setattr(
        livecodebench,
        "DATASET",
        livecodebench.DATASET.__class__(**{**livecodebench.DATASET.__dict__, "sha256": pins}),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        task = get_task("livecodebench", tmp_path, release="v1")
    assert task.dataset().version == "release_v1@0fe84c3912ea"


# -- the pickled private tests -------------------------------------------------------------------


def encode(obj: bytes) -> str:
    return base64.b64encode(zlib.compress(obj)).decode("ascii")


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickled_str_is_read_without_unpickling(protocol: int) -> None:
    text = json.dumps([{"input": "1\n", "output": "ü\n", "testtype": "stdin"}]) + "x" * 300
    assert decode_pickled_str(pickle.dumps(text, protocol=protocol)) == text


class Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /tmp/codeduel-pwned-by-lcb-fixture",))


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = Path("/tmp/codeduel-pwned-by-lcb-fixture")
    marker.unlink(missing_ok=True)
    evil = encode(pickle.dumps(Boom(), protocol=4))
    with pytest.raises(DatasetError, match="refusing to unpickle") as err:
        decode_private_tests(evil, "x")
    assert "\n" not in str(err.value)
    # The same payload inside a dataset file: loading is fine, judging the problem is refused.
    folder = tmp_path / "livecodebench"
    folder.mkdir()
    record = json.loads((LCB / "test.jsonl").read_text().splitlines()[0])
    record["private_test_cases"] = evil
    (folder / "test.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.warns(UnpublishedDataWarning):
        task = get_task("livecodebench", tmp_path, release="v1")
    with pytest.raises(DatasetError, match=r"refusing to unpickle .* abc901_a"):
        task.suite(task.get("abc901_a"))
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(["a list"], protocol=4),
        pickle.dumps(("a", "b"), protocol=2),
        pickle.dumps("a", protocol=4) + b"extra",
        pickle.dumps("a", protocol=4)[:-1],
        b".",
    ],
)
def test_anything_but_one_str_is_refused(payload: bytes) -> None:
    with pytest.raises(DatasetError, match="refusing to unpickle"):
        decode_pickled_str(payload)


def test_garbage_private_tests_are_a_dataset_error() -> None:
    with pytest.raises(DatasetError, match="neither JSON nor base64"):
        decode_private_tests("not base64 at all!")


# -- through the CLI and the judge -------------------------------------------------------------


def test_cli_task_options_reach_the_task_and_the_run(tmp_path: Path, task_cache: Path) -> None:
    """``--release``/``--since`` choose the problems; the fixture's correct programs pass and
    its wrong ones fail through the real judge; the options are recorded with the run."""
    from typer.testing import CliRunner

    from codeduel.cli import app
    from codeduel.records.store import Store

    solutions = json.loads((LCB / "solutions.json").read_text())
    rows = []
    for tid in ("abc951_b", "9102"):
        rows.append({"task_id": tid, "solution": solutions[tid]["correct"]})
        rows.append({"task_id": tid, "solution": solutions[tid]["wrong"]})
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store = tmp_path / "runs.sqlite"
    args = ["evaluate", str(samples), "--task", "livecodebench", "--data-dir", str(FIXTURES)]
    args += ["--release", "v2", "--since", "2024-01-01", "--store", str(store), "--json"]
    args += ["--k", "1", "--workers", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output[result.output.index("{") :])
    assert out["n_problems"] == 2
    assert out["pass@1"] == pytest.approx(0.5)
    with Store(store, create=False) as db:
        (run,) = db.list_runs()
    assert "2024-01-01" in json.dumps(run.spec)
    assert run.dataset["version"] == "unpublished"

    bad = CliRunner().invoke(
        app, ["evaluate", str(samples), "--task", "apps", "--release", "v2", "--json"]
    )
    assert bad.exit_code != 0
    assert "has no option 'release'" in bad.output


def test_a_run_carries_its_problem_dates_so_reports_need_no_dataset(
    tmp_path: Path, task_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's summary records each judged problem's date and difficulty: ``compare`` then
    draws the month and contamination views with the dataset gone (no download attempted)."""
    from codeduel import api

    solutions = json.loads((LCB / "solutions.json").read_text())
    rows = [{"task_id": t, "solution": s["correct"]} for t, s in solutions.items()]
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store = tmp_path / "runs.sqlite"
    with pytest.warns(UnpublishedDataWarning):
        result = api.evaluate(
            samples,
            task="livecodebench",
            data_dir=FIXTURES,
            task_options={"release": "v2"},
            store=store,
            k=(1,),
            workers=2,
        )
    assert result.pass_at_k["pass@1"] == pytest.approx(1.0)
    monkeypatch.delenv("CODEDUEL_DATA_DIR", raising=False)
    comparison = api.compare([result.run_id], store=store, cutoff="2024-01-01", n_boot=200)
    (view,) = comparison.competitive
    assert view.note is None, view.note
    months = {g.group for g in view.by_month}
    assert months == {"2023-06", "2023-09", "2023-12", "2024-05"}
    assert view.contamination is not None


@pytest.mark.parametrize("tail", [b'{"question_title": "cut off', b"not json at all", b"[1, 2]"])
def test_a_truncated_or_foreign_line_is_a_dataset_error(tmp_path: Path, tail: bytes) -> None:
    """A download cut short (or a file of another shape) names the file and line, one line."""
    folder = tmp_path / "livecodebench"
    shutil.copytree(LCB, folder)
    with (folder / "test2.jsonl").open("ab") as fh:
        fh.write(tail)
    lines = (folder / "test2.jsonl").read_bytes().count(b"\n") + 1
    with (
        pytest.raises(DatasetError, match=rf"test2\.jsonl line {lines} is not") as err,
        pytest.warns(UnpublishedDataWarning),
    ):
        get_task("livecodebench", tmp_path, release="v2").problems()
    assert "\n" not in str(err.value)
