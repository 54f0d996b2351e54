"""Benchmarks distributed as several files of a Hugging Face dataset repository (APPS,
LiveCodeBench), found the same way as :mod:`codeduel.tasks.datasets` finds single files.

A folder is looked up, in order, in ``data_dir`` (``--data-dir``), ``$CODEDUEL_DATA_DIR`` and
the codeduel cache (``cache_dir()/<folder>``). Under each, the files sit exactly as the official
repository ships them (``livecodebench/test.jsonl``, ``livecodebench/test2.jsonl``, ...,
``apps/test.jsonl``). Only the cache is ever filled, and only with ``huggingface_hub``'s
``hf_hub_download`` at the pinned repository commit.

Why a folder that hashes to no published release is accepted (with a
:class:`UnpublishedDataWarning`) instead of refused: these layouts are also how a user scores
their own problems or a test fixture. The run still records exactly which bytes it used, as
``DatasetInfo(version="unpublished", sha256=...)``.

``DatasetInfo.sha256`` of several files is the sha256 of the UTF-8 text
``"".join(f"{name}\\t{sha256(name)}\\n" for name in sorted(files))``: one value that changes
when any file does, and that a user can recompute with ``sha256sum`` and ``sort``.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from codeduel.errors import DatasetError
from codeduel.tasks.base import DatasetInfo
from codeduel.tasks.datasets import ENV_DATA_DIR, cache_dir, sha256_of

UNPUBLISHED = "unpublished"


class UnpublishedDataWarning(UserWarning):
    """Benchmark files that hash to no release codeduel knows; scored, and recorded as such."""


@dataclass(frozen=True)
class HubDataset:
    """A pinned Hugging Face dataset repository and the files codeduel reads from it.

    ``sha256`` maps a file name to its published sha256, or to ``None`` where codeduel has no
    pin for it (then every copy counts as unpublished and is scored with a warning)."""

    name: str
    repo_id: str
    revision: str
    folder: str
    sha256: dict[str, str | None]

    @property
    def source(self) -> str:
        """Where a user can get the files by hand."""
        return f"https://huggingface.co/datasets/{self.repo_id}/tree/{self.revision}"


def combined_sha256(hashes: dict[str, str]) -> str:
    """One sha256 for several files: over the sorted ``name<TAB>sha256<LF>`` lines."""
    text = "".join(f"{name}\t{hashes[name]}\n" for name in sorted(hashes))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_hashed: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """sha256 of ``path``, computed once per process per (path, mtime, size): LiveCodeBench's
    files are gigabytes."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    with _lock:
        known = _hashed.get(key)
    if known is not None:
        return known
    digest = sha256_of(path)
    with _lock:
        _hashed[key] = digest
    return digest


def _base(data_dir: Path | str | None) -> tuple[Path | None, str]:
    if data_dir is not None:
        return Path(data_dir), "--data-dir"
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env), ENV_DATA_DIR
    return None, ""


def _download(ds: HubDataset, filename: str, dest: Path) -> None:
    """Fetch one file at the pinned commit into the cache folder (``huggingface_hub``)."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise DatasetError(
            f"{ds.folder}/{filename} is not in the cache {dest.parent} and huggingface_hub "
            "is not installed",
            f"pip install 'codeduel[hub]', or set {ENV_DATA_DIR} / --data-dir to a folder "
            f"holding {ds.folder}/{filename} from {ds.source}",
        ) from None
    try:
        hf_hub_download(
            ds.repo_id,
            filename,
            repo_type="dataset",
            revision=ds.revision,
            local_dir=str(dest.parent),
        )
    except Exception as exc:  # network, auth, missing file: all end as one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(
            f"could not download {filename} of {ds.repo_id}@{ds.revision[:12]}: {first}",
            f"download it by hand from {ds.source} to {dest}, or set {ENV_DATA_DIR} / "
            f"--data-dir to a folder holding {ds.folder}/{filename}",
        ) from None


# False inside :func:`no_downloads`: readers that only look at data (reports) never fetch it.
DOWNLOADS: contextvars.ContextVar[bool] = contextvars.ContextVar("downloads", default=True)


@contextlib.contextmanager
def no_downloads() -> Iterator[None]:
    """Within this block a missing file is a one-line error, never a download."""
    token = DOWNLOADS.set(False)
    try:
        yield
    finally:
        DOWNLOADS.reset(token)


def resolve_files(
    ds: HubDataset,
    files: Sequence[str],
    data_dir: Path | str | None = None,
    *,
    version: str,
    missing_fix: str | None = None,
    download: bool = True,
) -> tuple[DatasetInfo, dict[str, Path]]:
    """Paths of ``files`` of ``ds`` and the :class:`DatasetInfo` a run records for them.

    ``version`` names the release when every file matches its pin; otherwise the version is
    ``"unpublished"`` and an :class:`UnpublishedDataWarning` says which file differs.
    ``missing_fix`` replaces the default fix of the one-line error for a missing file."""
    base, where = _base(data_dir)
    paths: dict[str, Path] = {}
    if base is not None:
        folder = base / ds.folder
        for name in files:
            path = folder / name
            if not path.is_file():
                raise DatasetError(
                    f"dataset file {ds.folder}/{name} not found in {base} (from {where})",
                    missing_fix
                    or f"put {ds.repo_id}'s {name} from {ds.source} in {folder}, or unset "
                    f"{where} to allow the download",
                )
            paths[name] = path
    else:
        folder = cache_dir() / ds.folder
        for name in files:
            path = folder / name
            if not path.is_file():
                if not download or not DOWNLOADS.get():
                    raise DatasetError(
                        f"dataset file {ds.folder}/{name} is not in the cache {folder}",
                        f"set {ENV_DATA_DIR} / --data-dir to a folder holding it "
                        f"(from {ds.source}), or allow the download",
                    )
                _download(ds, name, path)
                pinned = ds.sha256.get(name)
                got = file_sha256(path)
                if pinned is not None and got != pinned:
                    path.unlink(missing_ok=True)
                    raise DatasetError(
                        f"downloaded {ds.repo_id} {name} hashes to {got}, "
                        f"not the published {pinned}",
                        f"download it by hand from {ds.source} to {path}",
                    )
            paths[name] = path
    hashes = {name: file_sha256(path) for name, path in paths.items()}
    differing = [name for name in files if ds.sha256.get(name) != hashes[name]]
    if differing:
        name = differing[0]
        pinned = ds.sha256.get(name)
        why = (
            f"sha256 {hashes[name]}, published {pinned}"
            if pinned is not None
            else f"sha256 {hashes[name]}; codeduel pins no published sha256 for it"
        )
        warnings.warn(
            f"{ds.name}: {paths[name]} is not the published file ({why}); scoring it as "
            f"unpublished data, recorded with sha256 {combined_sha256(hashes)}",
            UnpublishedDataWarning,
            stacklevel=3,
        )
        version = UNPUBLISHED
    info = DatasetInfo(
        name=ds.name, version=version, sha256=combined_sha256(hashes), path=str(folder)
    )
    return info, paths


def scan_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(byte offset, record) of each line of a ``.jsonl`` file: the offset lets a task read one
    record's large fields again later instead of keeping them in memory."""
    offset = 0
    try:
        with path.open("rb") as fh:
            for lineno, line in enumerate(fh, 1):
                start, offset = offset, offset + len(line)
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise DatasetError(
                        f"{path} line {lineno} is not JSON: {exc}",
                        "replace the file with a verified copy",
                    ) from None
                if not isinstance(record, dict):
                    raise DatasetError(
                        f"{path} line {lineno} is not a JSON object",
                        "replace the file with a verified copy",
                    )
                yield start, record
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}", "check the file's permissions") from None


def read_record(path: Path, offset: int) -> dict[str, Any]:
    """The record on the line that starts at ``offset`` (from :func:`scan_jsonl`)."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            record = json.loads(fh.readline())
    except (OSError, ValueError) as exc:
        raise DatasetError(
            f"cannot read the record at byte {offset} of {path}: {exc}",
            "the file changed since the task loaded it; run again",
        ) from None
    if not isinstance(record, dict):
        raise DatasetError(f"{path} byte {offset} is not a JSON object", "run again")
    return record


K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used cache: decoded test suites can be hundreds of
    megabytes, so only the few being judged stay in memory."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: decoding is slow; a duplicate decode is harmless
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


__all__ = [
    "LRU",
    "UNPUBLISHED",
    "HubDataset",
    "UnpublishedDataWarning",
    "combined_sha256",
    "file_sha256",
    "read_record",
    "resolve_files",
    "scan_jsonl",
]
