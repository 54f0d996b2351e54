"""LiveCodeBench code generation (Jain et al. 2024), ``livecodebench/code_generation_lite``.

Why this benchmark: its problems carry contest dates, so a model is scored only on problems
published after its training cutoff (``since``). Releases are cumulative files: ``release_v1``
is ``test.jsonl``, ``release_vN`` adds ``test2.jsonl`` ... ``testN.jsonl``; ``meta["release"]``
names the release whose file first holds a problem.

Record fields (as LiveCodeBench's ``lcb_runner/benchmarks/code_generation.py`` reads them):
``question_title``, ``question_content``, ``platform`` (leetcode | atcoder | codeforces),
``question_id``, ``contest_id``, ``contest_date`` (ISO datetime), ``starter_code``,
``difficulty`` (easy | medium | hard), ``public_test_cases`` (a JSON string: a list of
``{"input", "output", "testtype"}``), ``private_test_cases`` (the same list as a JSON string,
or that JSON string pickled, zlib-compressed and base64-encoded) and ``metadata`` (a JSON
string; ``func_name`` for LeetCode's call-based problems). ``testtype`` is ``"stdin"`` (input
and output are text) or ``"functional"`` (input: one JSON value per line, one per argument;
output: one JSON value), decoded as LiveCodeBench's ``testing_util.grade_call_based`` does.

The pickles are never unpickled: :func:`decode_pickled_str` reads only the few opcodes a
pickled ``str`` consists of and refuses anything else (a pickle can run arbitrary code).
Test cases are not kept in memory: :meth:`LiveCodeBenchTask.suite` re-reads one problem's line
(by byte offset) when it is judged, and keeps the last few decoded suites.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import zlib
from datetime import date
from pathlib import Path
from typing import Any

from codeduel.errors import DatasetError, SamplesError
from codeduel.tasks import register
from codeduel.tasks.base import PYTHON_PACKAGES, Problem
from codeduel.tasks.competitive import CompetitiveTask, TestCase, TestSuite
from codeduel.tasks.hub import LRU, HubDataset, read_record, resolve_files, scan_jsonl

NAME = "livecodebench"
TIMEOUT_S = 6.0  # lcb_runner's per-test timeout
PLATFORMS = ("leetcode", "atcoder", "codeforces")
FILES = ("test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl", "test6.jsonl")
RELEASES = tuple(f"v{i}" for i in range(1, len(FILES) + 1))

# Pinned commit of livecodebench/code_generation_lite (holds test.jsonl ... test6.jsonl).
# Where the pins come from: the Hugging Face repository itself is not in the reference index
# codeduel's maintainers could search, so neither its LFS pointers nor this commit were read
# from it. The commit is the one several public evaluation repositories pin for release_v5/v6
# (e.g. "livecodebench/code_generation_lite@0fe84c3912ea0c4d4a78037083943e8f0c4dd505"); the
# per-file sha256 values are those a public LiveCodeBench release_v6 run recorded for the
# official files (row counts 400/111/101/101/167/175, which match the published release sizes
# 400/511/612/713/880/1055). Verify them against the repository's LFS pointers when it can be
# reached; a copy that differs is still scored, as "unpublished", with a warning.
REVISION = "0fe84c3912ea0c4d4a78037083943e8f0c4dd505"
DATASET = HubDataset(
    name=NAME,
    repo_id="livecodebench/code_generation_lite",
    revision=REVISION,
    folder="livecodebench",
    sha256={
        "test.jsonl": "2bd02b38beb48e8c46b5b9987095d999ff38cd8efc255ea5d58974317c48f63f",
        "test2.jsonl": "095df7c5daf15f882c51a9deb84085cff1e073495a5dbcf95015a564d485f3a3",
        "test3.jsonl": "28ed26cc83363ce3f1fe2d5fad9f8393077beb1907b167a31bd3b32f80801b79",
        "test4.jsonl": "d711138ddaebfcf5f8ec6a4283ee677298c0f5c5d374a235af92aaf0584510da",
        "test5.jsonl": "7f77571c2a6df0c2a72a3277650309f67e01e0008e18117e624633df53f81214",
        "test6.jsonl": "bb4c364f71921c4495a6ad15abe1a927350b720009f4933e2e71f8af0f6fd1f5",
    },
)


# -- options ---------------------------------------------------------------------------------


def parse_release(release: str) -> str:
    """``"v5"`` or LiveCodeBench's own spelling ``"release_v5"``; ``"release_latest"`` is v6."""
    text = str(release).strip().lower()
    if text == "release_latest":
        text = RELEASES[-1]
    text = text.removeprefix("release_")
    if text not in RELEASES:
        raise DatasetError(
            f"unknown LiveCodeBench release {release!r}",
            f"choose one of {', '.join(RELEASES)} (or release_v1 ... release_v6)",
        )
    return text


def parse_date(value: str | date | None, option: str) -> date | None:
    """An inclusive ISO date bound (``--since``/``--until``)."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise DatasetError(
            f"invalid {option} {value!r}", f"give an ISO date, e.g. {option} 2024-09-01"
        ) from None


def parse_platform(platform: str | None) -> str | None:
    if platform is None:
        return None
    text = str(platform).strip().lower()
    if text not in PLATFORMS:
        raise DatasetError(
            f"unknown LiveCodeBench platform {platform!r}", f"choose one of {', '.join(PLATFORMS)}"
        )
    return text


# -- the pickled private tests ---------------------------------------------------------------

_PROTO, _FRAME, _STOP = 0x80, 0x95, ord(".")
_SHORT_BINUNICODE, _BINUNICODE, _BINUNICODE8 = 0x8C, ord("X"), 0x8D
_MEMOIZE, _BINPUT, _LONG_BINPUT = 0x94, ord("q"), ord("r")
_UNICODE, _PUT = ord("V"), ord("p")


def decode_pickled_str(data: bytes, where: str = "") -> str:
    """The ``str`` a pickle holds, read without unpickling: only the opcodes ``pickle.dumps``
    of a ``str`` emits (any protocol) are accepted, in that shape; anything else (a global, a
    call, a container) is refused with a one-line :class:`DatasetError`, so nothing runs."""
    at = f" in {where}" if where else ""

    def refuse(why: str) -> DatasetError:
        return DatasetError(
            f"refusing to unpickle LiveCodeBench private tests{at}: {why}",
            "replace the file with the official one; test data must be a pickled str only",
        )

    pos, value = 0, None
    n = len(data)

    def take(size: int) -> bytes:
        nonlocal pos
        if pos + size > n:
            raise refuse("truncated pickle")
        chunk = data[pos : pos + size]
        pos += size
        return chunk

    def line() -> bytes:
        nonlocal pos
        end = data.find(b"\n", pos)
        if end < 0:
            raise refuse("truncated pickle")
        chunk = data[pos:end]
        pos = end + 1
        return chunk

    while True:
        op = take(1)[0]
        if op == _STOP:
            break
        if op == _PROTO:
            take(1)
        elif op == _FRAME:
            take(8)
        elif op in (_SHORT_BINUNICODE, _BINUNICODE, _BINUNICODE8, _UNICODE):
            if value is not None:
                raise refuse("more than one value")
            if op == _SHORT_BINUNICODE:
                raw = take(take(1)[0])
            elif op == _BINUNICODE:
                raw = take(struct.unpack("<I", take(4))[0])
            elif op == _BINUNICODE8:
                raw = take(struct.unpack("<Q", take(8))[0])
            else:
                raw = line()
            try:
                value = (
                    raw.decode("raw-unicode-escape")
                    if op == _UNICODE
                    else raw.decode("utf-8", "surrogatepass")
                )
            except UnicodeDecodeError:
                raise refuse("a string that is not UTF-8") from None
        elif op == _MEMOIZE:
            pass
        elif op == _BINPUT:
            take(1)
        elif op == _LONG_BINPUT:
            take(4)
        elif op == _PUT:
            line()
        else:
            raise refuse(f"opcode {bytes([op])!r} at byte {pos - 1} is not part of a pickled str")
    if value is None:
        raise refuse("it holds no string")
    if pos != n:
        raise refuse("bytes after the end of the pickle")
    return value


def decode_private_tests(raw: str, where: str = "") -> list[dict[str, Any]]:
    """``private_test_cases``: plain JSON, or base64(zlib(pickle(json_text))) as LCB ships it."""
    text = raw.strip()
    if not text:
        return []
    if text[0] != "[":
        try:
            packed = zlib.decompress(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError, zlib.error) as exc:
            raise DatasetError(
                f"private_test_cases{' of ' + where if where else ''} are neither JSON nor "
                f"base64/zlib data: {exc}",
                "replace the file with the official one",
            ) from None
        text = decode_pickled_str(packed, where)
    return _json_tests(text, "private_test_cases", where)


def _json_tests(text: str, field: str, where: str) -> list[dict[str, Any]]:
    try:
        tests = json.loads(text)
    except ValueError as exc:
        raise DatasetError(
            f"{field}{' of ' + where if where else ''} is not JSON: {exc}",
            "replace the file with the official one",
        ) from None
    if not isinstance(tests, list) or not all(
        isinstance(t, dict) and {"input", "output", "testtype"} <= t.keys() for t in tests
    ):
        raise DatasetError(
            f"{field}{' of ' + where if where else ''} is not a list of "
            '{"input", "output", "testtype"} objects',
            "replace the file with the official one",
        )
    return tests


def _case(test: dict[str, Any], where: str) -> TestCase:
    if test["testtype"] == "stdin":
        return TestCase(input=str(test["input"]), output=str(test["output"]))
    try:  # as lcb_runner's grade_call_based: one JSON value per line = per argument
        args = [json.loads(line) for line in str(test["input"]).split("\n")]
        return TestCase(input=args, output=json.loads(str(test["output"])))
    except ValueError as exc:
        raise DatasetError(
            f"a functional test of {where} is not JSON: {exc}",
            "replace the file with the official one",
        ) from None


# -- the task --------------------------------------------------------------------------------


class LiveCodeBenchTask(CompetitiveTask):
    """LiveCodeBench code generation, one release, optionally one platform and date window."""

    packages: tuple[str, ...] = PYTHON_PACKAGES
    id_hint = "use LiveCodeBench question_id values, e.g. 'abc301_a' or '2847'"

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        release: str = "v6",
        since: str | date | None = None,
        until: str | date | None = None,
        platform: str | None = None,
    ) -> None:
        self.release = parse_release(release)
        self.since = parse_date(since, "--since")
        self.until = parse_date(until, "--until")
        self.platform = parse_platform(platform)
        if self.since and self.until and self.since > self.until:
            raise DatasetError(
                f"--since {self.since} is after --until {self.until}",
                "give a --since on or before --until",
            )
        n = RELEASES.index(self.release) + 1
        files = FILES[:n]
        info, paths = resolve_files(
            DATASET,
            files,
            data_dir,
            version=f"release_{self.release}@{REVISION[:12]}",
            missing_fix=_missing_fix(files),
        )
        self._locations: dict[str, tuple[Path, int]] = {}
        self._excluded: dict[str, str] = {}
        problems: list[Problem] = []
        for index, name in enumerate(files):
            for offset, record in scan_jsonl(paths[name]):
                problem = _problem(record, RELEASES[index], paths[name])
                if problem.task_id in self._locations:
                    continue  # a later file never repeats a problem; keep the first if it does
                self._locations[problem.task_id] = (paths[name], offset)
                reason = self._why_excluded(problem)
                if reason is not None:
                    self._excluded[problem.task_id] = reason
                else:
                    problems.append(problem)
        self._suites: LRU[str, TestSuite] = LRU(8)
        super().__init__(NAME, info, problems)

    def _why_excluded(self, problem: Problem) -> str | None:
        meta = problem.meta
        day = date.fromisoformat(meta["contest_date"])
        if self.since is not None and day < self.since:
            return f"its contest date {day} is before --since {self.since}"
        if self.until is not None and day > self.until:
            return f"its contest date {day} is after --until {self.until}"
        if self.platform is not None and meta["platform"] != self.platform:
            return f"it is a {meta['platform']} problem, not --platform {self.platform}"
        return None

    def get(self, task_id: object) -> Problem:
        """A ``question_id``; one filtered out by ``since``/``until``/``platform`` says so."""
        tid = str(task_id).strip()
        reason = self._excluded.get(tid)
        if reason is not None:
            raise SamplesError(
                f"LiveCodeBench problem {tid} is filtered out: {reason}",
                "leave its samples out or widen the filter",
            )
        try:
            return super().get(tid)
        except SamplesError:
            if self.release == RELEASES[-1]:
                raise
            raise SamplesError(
                f"task_id {tid!r} is not a problem of LiveCodeBench release_{self.release}",
                f"{self.id_hint}; a later problem needs a later --release",
            ) from None

    def suite(self, problem: Problem) -> TestSuite:
        """Public then private tests of ``problem``, read from its line of the file now."""
        return self._suites.get(problem.task_id, lambda: self._read_suite(problem))

    def _read_suite(self, problem: Problem) -> TestSuite:
        path, offset = self._locations[problem.task_id]
        where = f"{problem.task_id} ({path.name})"
        record = read_record(path, offset)
        tests = _json_tests(
            str(record.get("public_test_cases") or "[]"), "public_test_cases", where
        )
        tests += decode_private_tests(str(record.get("private_test_cases") or ""), where)
        kinds = {t["testtype"] for t in tests}
        if not kinds <= {"stdin", "functional"} or len(kinds) > 1:
            raise DatasetError(
                f"{where} mixes or misnames test types {sorted(kinds)}",
                "replace the file with the official one",
            )
        functional = kinds == {"functional"}
        fn_name = problem.meta.get("fn_name")
        if functional and not fn_name:
            raise DatasetError(
                f"{where} has functional tests but no metadata func_name",
                "replace the file with the official one",
            )
        return TestSuite(
            kind="call" if functional else "stdin",
            cases=tuple(_case(t, where) for t in tests),
            compare="livecodebench",
            timeout_s=TIMEOUT_S,
            fn_name=fn_name if functional else None,
        )


def _missing_fix(files: tuple[str, ...]) -> str:
    return (
        f"put {', '.join(files)} of {DATASET.repo_id} ({DATASET.source}) in the livecodebench "
        "folder, or pass --release naming the last release whose file is there"
    )


def _problem(record: dict[str, Any], release: str, path: Path) -> Problem:
    try:
        task_id = str(record["question_id"])
        raw_date = str(record["contest_date"])
        contest_date = date.fromisoformat(raw_date[:10]).isoformat()
        metadata = json.loads(record.get("metadata") or "{}")
        if not isinstance(metadata, dict):
            raise ValueError("metadata is not a JSON object")
        return Problem(
            task_id=task_id,
            prompt=str(record["question_content"]),
            entry_point=metadata.get("func_name") or None,
            reference="",
            meta={
                "difficulty": str(record.get("difficulty", "")),
                "starter_code": str(record.get("starter_code") or ""),
                "fn_name": metadata.get("func_name") or None,
                "title": str(record.get("question_title", "")),
                "platform": str(record.get("platform", "")).lower(),
                "contest_id": str(record.get("contest_id", "")),
                "contest_date": contest_date,
                "release": release,
            },
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DatasetError(
            f"{path} holds a record that is not a LiveCodeBench problem ({type(exc).__name__}: "
            f"{exc})",
            "replace the file with the official one",
        ) from None


@register(
    NAME,
    "LiveCodeBench code generation (release v1-v6; --since/--until/--platform): whole "
    "programs judged on public and private tests",
)
def make(
    data_dir: Path | None = None,
    release: str = "v6",
    since: str | None = None,
    until: str | None = None,
    platform: str | None = None,
) -> LiveCodeBenchTask:
    return LiveCodeBenchTask(data_dir, release=release, since=since, until=until, platform=platform)
