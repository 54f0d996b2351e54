"""Versioned benchmark files: where they come from, what they hash to, where they are found.

Every score codeduel reports names the exact bytes it was computed against, so each file is
pinned by sha256 and record count. A file is looked up, in order, in

1. the ``data_dir`` argument (``--data-dir``),
2. the folder named by ``CODEDUEL_DATA_DIR``,
3. the user cache dir (``platformdirs.user_cache_dir("codeduel")/data``), filled once from the
   file's official source (a copy bundled in an installed package, else its download URLs).

The layout under each folder is the same (``humaneval/HumanEval.jsonl.gz``, ``mbpp/mbpp.jsonl``,
...). A missing or corrupt file is a one-line :class:`~codeduel.errors.DatasetError`. Hashing a
file costs milliseconds, but it is still done once per process per (path, mtime, size).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import platformdirs

from codeduel.errors import DatasetError
from codeduel.tasks.base import DatasetInfo

ENV_DATA_DIR = "CODEDUEL_DATA_DIR"
DOWNLOAD_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DatasetFile:
    """One pinned benchmark file and the places it can be fetched from."""

    name: str
    version: str
    relpath: str
    sha256: str
    records: int
    urls: tuple[str, ...]
    # (package, resource path) of a byte-identical copy shipped inside an installed package.
    bundled: tuple[str, str] | None = None

    @property
    def source(self) -> str:
        """Where a user can get the file by hand (first download URL)."""
        return self.urls[0]


_HE_COMMIT = "6d43fb980f9fee3c892a914eda09951f772ad10d"
_HEI_COMMIT = "88062ff9859c875d04db115b698ed4b0f0395170"
_GR_MBPP = "https://raw.githubusercontent.com/google-research/google-research/master/mbpp"
_HEP_REL = "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10"
_MBPP_REL = "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0"


def _infilling(name: str, stem: str, sha: str, records: int) -> DatasetFile:
    return DatasetFile(
        name=name,
        version=_HEI_COMMIT[:12],
        relpath=f"humaneval-infilling/{stem}.jsonl.gz",
        sha256=sha,
        records=records,
        urls=(
            f"https://raw.githubusercontent.com/openai/human-eval-infilling/{_HEI_COMMIT}"
            f"/data/{stem}.jsonl.gz",
        ),
    )


_FILES: tuple[DatasetFile, ...] = (
    DatasetFile(
        name="humaneval",
        version="1.0.3",
        relpath="humaneval/HumanEval.jsonl.gz",
        sha256="b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
        records=164,
        urls=(
            f"https://raw.githubusercontent.com/openai/human-eval/{_HE_COMMIT}"
            "/data/HumanEval.jsonl.gz",
        ),
        bundled=("human_eval", "data/HumanEval.jsonl.gz"),
    ),
    DatasetFile(
        name="mbpp",
        version="google-research-master-2022-08",
        relpath="mbpp/mbpp.jsonl",
        sha256="ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f",
        records=974,
        urls=(f"{_GR_MBPP}/mbpp.jsonl",),
    ),
    DatasetFile(
        name="mbpp-sanitized",
        version="google-research-master-2022-08",
        relpath="mbpp/sanitized-mbpp.json",
        sha256="ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9",
        records=427,
        urls=(f"{_GR_MBPP}/sanitized-mbpp.json",),
    ),
    DatasetFile(
        name="humaneval+",
        version="v0.1.10",
        relpath="evalplus/HumanEvalPlus-v0.1.10.jsonl.gz",
        sha256="272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101",
        records=164,
        urls=(f"{_HEP_REL}/HumanEvalPlus.jsonl.gz",),
    ),
    DatasetFile(
        name="humaneval+-mini",
        version="v0.1.10",
        relpath="evalplus/HumanEvalPlus-Mini-v0.1.10.jsonl.gz",
        sha256="91486741f1627101021fbe50523df08eebb5b0bf5e804b633dcd5ca3c14dbd2f",
        records=164,
        urls=(f"{_HEP_REL}/HumanEvalPlus-Mini.jsonl.gz",),
    ),
    DatasetFile(
        name="humaneval+-noextreme",
        version="v0.1.10",
        relpath="evalplus/HumanEvalPlus-NoExtreme-v0.1.10.jsonl.gz",
        sha256="298f79977b2663b8b8ab6b5fa50b17d6f23a92603d24f39e26203fe58c37eeda",
        records=164,
        urls=(f"{_HEP_REL}/HumanEvalPlus-NoExtreme.jsonl.gz",),
    ),
    DatasetFile(
        name="mbpp+",
        version="v0.2.0",
        relpath="evalplus/MbppPlus-v0.2.0.jsonl.gz",
        sha256="af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63",
        records=378,
        urls=(f"{_MBPP_REL}/MbppPlus.jsonl.gz",),
    ),
    DatasetFile(
        name="mbpp+-noextreme",
        version="v0.2.0",
        relpath="evalplus/MbppPlus-NoExtreme-v0.2.0.jsonl.gz",
        sha256="72d32acaea73d5606cb97041b30d45bbda9435a675369d3e31965513ee94e564",
        records=378,
        urls=(f"{_MBPP_REL}/MbppPlus-NoExtreme.jsonl.gz",),
    ),
    _infilling(
        "humaneval-infilling-single-line",
        "HumanEval-SingleLineInfilling",
        "1277073e7ddce163ef68598c2bca777f688a53df99422f097e37362090f88e1f",
        1033,
    ),
    _infilling(
        "humaneval-infilling-multi-line",
        "HumanEval-MultiLineInfilling",
        "2f341612eee1d35da1357a4f365e0c0b3ba6e2b62eb491e88aaefa4855af0349",
        5815,
    ),
    _infilling(
        "humaneval-infilling-random-span",
        "HumanEval-RandomSpanInfilling",
        "b4f330d8a8ff97bf85d9def497dffcae4d741e506449386a877236e422e33e8d",
        1640,
    ),
    _infilling(
        "humaneval-infilling-random-span-light",
        "HumanEval-RandomSpanInfillingLight",
        "1432250ecac0cb56e6f97f8faf0970419ef892a98fda7e1f5aa4c4b87209b760",
        164,
    ),
)

# MultiPL-E's "reworded" HumanEval translations (Cassano et al. 2023), as of the upstream commit
# that regenerated the Racket prompts; evaluation use only (the repository's licence forbids
# training on them).
_MPE_COMMIT = "d2201bc793e2e94944a696d2a784238f92430b79"


def _multipl_e(lang: str, sha: str, records: int) -> DatasetFile:
    return DatasetFile(
        name=f"multipl-e-{lang}",
        version=_MPE_COMMIT[:12],
        relpath=f"multipl-e/humaneval-{lang}-reworded.json",
        sha256=sha,
        records=records,
        urls=(
            f"https://raw.githubusercontent.com/nuprl/MultiPL-E/{_MPE_COMMIT}"
            f"/prompts/humaneval-{lang}-reworded.json",
        ),
    )


_FILES += (
    _multipl_e("cpp", "e0c65762fc8b1786dcdecfb5693e37521cef6e5d5faab5e33c6983f23abb5251", 161),
    _multipl_e("cs", "dd4dbda4e0da4e0bbab2d53dbe0d189f1daada648e1483d830b70de01e93d3e2", 158),
    _multipl_e("d", "74d5e8eb0057ee43e789f5c843040559492d1f35a9f7e5eea1ac815ead946b73", 156),
    _multipl_e("go", "108196e1d9bd668eaf094384931c0bde381505c1897d3c4c411063729b376e99", 154),
    _multipl_e("java", "42f29a6e2bb9b0df69ee4e846a4f8929fe05ec69dcc4abff7000c5983b77cf27", 158),
    _multipl_e("jl", "98f8617cc6cddb0f5850450b969bc9f31df29a5ef78e6d87975619f11d3c0a86", 159),
    _multipl_e("js", "198aed40c78fe8e1f579e1c804fc5bb02a6b4c1aef18854ec4847c0dea21e671", 161),
    _multipl_e("lua", "627c6fea0b6598783a5ca8ed3db9181366526ef550c39c2591b2655830291545", 161),
    _multipl_e("php", "1cfc5f31c3775ddbec6df501692ec923b2f3c114fce92e746a8971750d69e1e2", 161),
    _multipl_e("pl", "36a202f3705b983c6f66b3f746a6ef87e198b24398a88116d2852cab5ecc1ed1", 161),
    _multipl_e("py", "87774ae6e7543d4d9d817307215c8269c5e618854dadb3c969bff5ede49e83af", 161),
    _multipl_e("r", "315c70aa337b4c19fe28be7ba93f64628e20b957251384dda03d1453490932f6", 161),
    _multipl_e("rb", "e80d22826b26321b606d6b8642f8cb2a7919452e5c9ec8c68083c4a01cb4f42e", 161),
    _multipl_e("rkt", "aa6638e844410a5ab4c38f256bd4396176313dafc10c0b468232e38aedccb865", 161),
    _multipl_e("rs", "89425fd4cfaeeb6bd7a55f487f5938844ac3d93cf0c1f1f5c59a49dafa302018", 156),
    _multipl_e("scala", "d5a0af226097212e0e4d5007c2a149cfd1626748b6b0261c252843b955eef3b1", 160),
    _multipl_e("sh", "31720b68a528dfdd1ffa4bb94c4d5a1e5d1a276933f1f7fdc276c87830634996", 158),
    _multipl_e("swift", "0183a2486acbefb2afa74544f3ceba98764217f01e133735ce4d43b4097dc03e", 158),
    _multipl_e("ts", "b894d4a67a5dddb01ab3e66c64931fbfb880292e197e8e8bdbda7d05f151cbb0", 159),
)

DATASETS: dict[str, DatasetFile] = {f.name: f for f in _FILES}

_verified: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def get_file(name: str) -> DatasetFile:
    """The registered file called ``name``, or a one-line error listing the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise DatasetError(f"unknown dataset {name!r}", f"choose one of: {known}") from None


def cache_dir() -> Path:
    """Where downloaded files live when neither ``--data-dir`` nor the env var is set."""
    return Path(platformdirs.user_cache_dir("codeduel")) / "data"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks so large files do not fill memory."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(df: DatasetFile, path: Path, fix: str) -> None:
    """Check ``path`` hashes to ``df.sha256``; remembered per (path, mtime, size)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    with _lock:
        if _verified.get(key) == df.sha256:
            return
    actual = sha256_of(path)
    if actual != df.sha256:
        raise DatasetError(
            f"dataset file {path} is corrupt or another version: sha256 {actual}, "
            f"expected {df.sha256} ({df.name} {df.version})",
            fix,
        )
    with _lock:
        _verified[key] = actual


def _fix_hint(df: DatasetFile) -> str:
    return (
        f"set {ENV_DATA_DIR} / --data-dir to a folder holding {df.relpath}, "
        f"or unset it to allow the download from {df.source}"
    )


def _atomic_write_from(dest: Path, fill: Any) -> None:
    """Write via a temp file in the same folder, then rename, so readers never see half a file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fetch(df: DatasetFile, dest: Path) -> None:
    """Fill ``dest`` from the bundled copy or the first URL that answers; then verify it."""
    errors: list[str] = []
    if df.bundled is not None:
        package, resource = df.bundled
        try:
            src = resources.files(package).joinpath(resource)
            with src.open("rb") as fh:
                _atomic_write_from(dest, lambda out: shutil.copyfileobj(fh, out))
            if sha256_of(dest) == df.sha256:
                return
            errors.append(f"bundled copy in {package} has another sha256")
            dest.unlink(missing_ok=True)
        except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
            errors.append(f"no bundled copy ({type(exc).__name__})")
    for url in df.urls:
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
                _atomic_write_from(dest, lambda out, r=resp: shutil.copyfileobj(r, out))
        except (OSError, ValueError) as exc:
            errors.append(f"{url}: {exc}")
            continue
        if sha256_of(dest) == df.sha256:
            return
        errors.append(f"{url}: downloaded bytes have another sha256")
        dest.unlink(missing_ok=True)
    raise DatasetError(
        f"could not fetch {df.relpath} (sha256 {df.sha256}): {'; '.join(errors)}",
        f"download it by hand from {df.source} to {dest}, or set {ENV_DATA_DIR} / --data-dir "
        f"to a folder holding {df.relpath}",
    )


def resolve(name: str, data_dir: Path | str | None = None, *, download: bool = True) -> Path:
    """Path of the verified file ``name``, fetching it into the cache when allowed."""
    df = get_file(name)
    base: Path | None = None
    where = ""
    if data_dir is not None:
        base, where = Path(data_dir), "--data-dir"
    elif os.environ.get(ENV_DATA_DIR):
        base, where = Path(os.environ[ENV_DATA_DIR]), ENV_DATA_DIR
    if base is not None:
        path = base / df.relpath
        if not path.is_file():
            raise DatasetError(
                f"dataset file {df.relpath} (sha256 {df.sha256}) not found in {base} "
                f"(from {where})",
                _fix_hint(df),
            )
        _verify(df, path, f"replace it with the file from {df.source}")
        return path
    path = cache_dir() / df.relpath
    if not path.is_file():
        if not download:
            raise DatasetError(
                f"dataset file {df.relpath} (sha256 {df.sha256}) is not in the cache {path.parent}",
                _fix_hint(df),
            )
        _fetch(df, path)
    _verify(df, path, f"delete {path} to download it again from {df.source}")
    return path


def info(name: str, data_dir: Path | str | None = None, *, download: bool = True) -> DatasetInfo:
    """The :class:`DatasetInfo` a run records for file ``name`` (resolving it first)."""
    df = get_file(name)
    path = resolve(name, data_dir, download=download)
    return DatasetInfo(name=df.name, version=df.version, sha256=df.sha256, path=str(path))


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of a ``.jsonl``, ``.jsonl.gz`` or ``.json`` (a list) file."""
    name = path.name
    try:
        if name.endswith(".jsonl.gz"):
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        if name.endswith(".jsonl"):
            with path.open(encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        if name.endswith(".json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, list):
                raise ValueError("top level is not a list")
            return data
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(
            f"cannot read {path}: {exc}", "replace it with a verified copy of the file"
        ) from None
    raise DatasetError(f"unsupported dataset file type: {path}", "use .jsonl, .jsonl.gz or .json")


def load(
    name: str, data_dir: Path | str | None = None, *, download: bool = True
) -> tuple[DatasetInfo, list[dict[str, Any]]]:
    """Resolve, verify and parse file ``name``; checks the record count too."""
    ds_info = info(name, data_dir, download=download)
    records = read_records(Path(ds_info.path))
    expected = get_file(name).records
    if len(records) != expected:
        raise DatasetError(
            f"dataset file {ds_info.path} has {len(records)} records, expected {expected}",
            f"replace it with the file from {get_file(name).source}",
        )
    return ds_info, records


__all__ = [
    "DATASETS",
    "ENV_DATA_DIR",
    "DatasetFile",
    "cache_dir",
    "get_file",
    "info",
    "load",
    "read_records",
    "resolve",
    "sha256_of",
]
