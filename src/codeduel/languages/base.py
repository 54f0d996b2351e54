"""A programming language codeduel can judge: its toolchain, how a program is built and run,
and where the completion marker goes.

A :class:`Language` turns ``candidate`` text (prompt + completion) and trusted ``tests`` into an
``exec`` :class:`~codeduel.execution.base.Program`. Its ``seal`` places
:data:`~codeduel.execution.base.MARKER_SLOT` in the tests so that it is printed only after the
last test ran: the executor swaps in a random token and passes the program only when the token
appears, so a body that exits with status 0 before the tests fail cannot pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from codeduel.errors import ExecutorError
from codeduel.execution.base import MARKER_SLOT, ExecSpec, Program, Step

# What every toolchain reads: the system's programs and libraries, and the few /etc files the
# dynamic linker and runtimes consult. Not /etc as a whole: the sandbox may keep
# CAP_DAC_READ_SEARCH, which would make /etc/shadow readable.
SYSTEM_ROOTS: tuple[str, ...] = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
)


@dataclass(frozen=True)
class Toolchain:
    """Whether a language's tools are installed here, and where."""

    language: str
    tools: dict[str, str]  # tool name -> absolute path
    missing: tuple[str, ...]
    install: str

    @property
    def available(self) -> bool:
        return not self.missing

    def describe(self) -> str:
        if self.available:
            return "installed (" + ", ".join(sorted(set(self.tools.values()))) + ")"
        return f"missing {', '.join(self.missing)}: {self.install}"


@dataclass(frozen=True)
class Precompiled:
    """A header compiled once, by trusted code, from the text every prompt of a language
    begins with (MultiPL-E's C++ prompts all start ``#include<assert.h>`` and
    ``#include<bits/stdc++.h>``): a program that starts with exactly ``prefix`` is compiled
    with ``-include`` of it, so the compiler loads the precompiled header instead of parsing
    the standard library again. Programs that start otherwise compile as they are."""

    prefix: str
    tool: str
    flags: tuple[str, ...]
    language_flag: str = "c++-header"


@dataclass(frozen=True)
class Prepared:
    """A language's specs for one run: ``plain``, and ``fast`` (with the precompiled prefix)
    for programs that start with ``prefix``."""

    plain: ExecSpec
    fast: ExecSpec | None = None
    prefix: str = ""

    def choose(self, candidate: str) -> ExecSpec:
        if self.fast is not None and self.prefix and candidate.startswith(self.prefix):
            return self.fast
        return self.plain


def toolchain_cache() -> Path:
    """Where trusted build products (precompiled headers) live: beside, never inside,
    codeduel's dataset cache, which candidates must not read."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("codeduel-toolchains"))


Seal = Callable[[str], str]
RunArgs = tuple[tuple[str, tuple[str, ...]], ...]  # (stage, argv template) per step


@dataclass(frozen=True)
class Language:
    """One language. ``steps``: (stage, argv) templates where ``{tool}`` names a tool of
    ``tools`` (resolved on PATH by trusted code) and ``{src}`` the source file. ``roots``:
    read roots beyond :data:`SYSTEM_ROOTS` (``~`` expands to the invoking user's home).
    ``env``: extra environment (same ``~`` rule). ``compile_timeout_s``: CPU seconds a
    compile step may take (the program's own limit applies to run steps)."""

    code: str
    name: str
    source_name: str
    tools: tuple[str, ...]
    steps: RunArgs
    seal: Seal
    install: str
    fences: tuple[str, ...]
    roots: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    memory_mb: int | None = None
    processes: int = 64
    proc: bool = False
    compile_timeout_s: float = 30.0
    timeout_s: float = 15.0
    fail_patterns: tuple[tuple[str, str], ...] = ()
    real_path: bool = False  # run the tool by its resolved path (a venv's python3 link)
    prefer: tuple[str, ...] = ()  # absolute paths tried before PATH (the system's python3)
    # Steps that depend on the installed version (rustc >= 1.90 links with its own lld,
    # which it looks for in a way the sandbox's unprivileged user cannot follow).
    adapt: Callable[[Language, Toolchain], RunArgs] | None = None
    precompiled: Precompiled | None = None
    notes: str = ""
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def toolchain(self) -> Toolchain:
        """Find the tools on PATH (and under ``~/.cargo/bin`` and the like given as roots)."""
        found: dict[str, str] = {}
        missing: list[str] = []
        search = os.pathsep.join(
            [os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")]
            + [os.path.join(_expand(r), "bin") for r in self.roots]
        )
        for tool in self.tools:
            names = (tool, *self.aliases.get(tool, ()))
            path = next((p for p in self.prefer if os.access(p, os.X_OK)), None)
            if path is None:
                path = next((p for n in names if (p := shutil.which(n, path=search))), None)
            if path is None:
                missing.append(tool)
            else:
                found[tool] = os.path.realpath(path) if self.real_path else os.path.abspath(path)
        return Toolchain(self.code, found, tuple(missing), self.install)

    def prepare(self, toolchain: Toolchain | None = None) -> Prepared:
        """The specs of one run, building the precompiled prefix once per toolchain version
        (a failed build only means programs compile the slow way)."""
        tc = toolchain or self.toolchain()
        plain = self.exec_spec(tc)
        pre = self.precompiled
        if pre is None:
            return Prepared(plain)
        header = self._build_precompiled(pre, tc)
        if header is None:
            return Prepared(plain)
        steps = tuple(
            Step((s.argv[0], "-include", str(header), *s.argv[1:]), s.stage, s.timeout_s)
            if s.stage == "compile"
            else s
            for s in plain.steps
        )
        fast = replace(
            plain,
            steps=steps,
            own_paths=(*plain.own_paths, str(header.parent)),
        )
        return Prepared(plain, fast, pre.prefix)

    def _build_precompiled(self, pre: Precompiled, tc: Toolchain) -> Path | None:
        tool = tc.tools.get(pre.tool)
        if tool is None:
            return None
        key = hashlib.sha256(
            "\0".join([tool, self.version(tc), *pre.flags, pre.prefix]).encode()
        ).hexdigest()[:16]
        folder = toolchain_cache() / self.code / key
        header = folder / "prefix.h"
        if (folder / "prefix.h.gch").is_file():
            return header
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder.parent, ignore_cleanup_errors=True) as tmp:
                (Path(tmp) / "prefix.h").write_text(pre.prefix, encoding="utf-8")
                done = subprocess.run(
                    [tool, *pre.flags, "-x", pre.language_flag, "prefix.h", "-o", "prefix.h.gch"],
                    cwd=tmp,
                    capture_output=True,
                    timeout=300,
                    check=False,
                )
                if done.returncode != 0:
                    return None
                os.chmod(tmp, 0o755)
                with contextlib.suppress(OSError):  # another process built it first
                    os.rename(tmp, folder)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return header if (folder / "prefix.h.gch").is_file() else None

    def exec_spec(self, toolchain: Toolchain | None = None) -> ExecSpec:
        """The trusted half of every program in this language (one per run)."""
        tc = toolchain or self.toolchain()
        if not tc.available:
            raise ExecutorError(
                f"the {self.name} toolchain is not installed here (missing "
                f"{', '.join(tc.missing)})",
                f"install it: {self.install}",
            )
        roots = {*SYSTEM_ROOTS, *(_expand(r) for r in self.roots)}
        for path in tc.tools.values():  # each tool's install prefix (bin/..)
            real = Path(os.path.realpath(path))
            roots.add(str(real.parent.parent))
        steps = []
        templates = self.adapt(self, tc) if self.adapt is not None else self.steps
        for stage, template in templates:
            argv = tuple(self._fill(a, tc) for a in template)
            timeout = self.compile_timeout_s if stage == "compile" else None
            steps.append(Step(argv, stage, timeout))
        return ExecSpec(
            source_name=self.source_name,
            steps=tuple(steps),
            env=tuple((k, _expand(v)) for k, v in self.env),
            files=self.files,
            read_paths=tuple(sorted(r for r in roots if os.path.exists(r))),
            memory_mb=self.memory_mb,
            processes=self.processes,
            proc=self.proc,
            fail_patterns=self.fail_patterns,
        )

    def _fill(self, arg: str, tc: Toolchain) -> str:
        out = arg.replace("{src}", self.source_name)
        for tool, path in tc.tools.items():
            out = out.replace("{" + tool + "}", path)
        return out

    def program(
        self,
        key: str,
        candidate: str,
        tests: str,
        spec: ExecSpec,
        timeout_s: float | None = None,
    ) -> Program:
        """``candidate`` (untrusted) followed by the sealed ``tests`` (trusted)."""
        return Program(
            key=key,
            candidate=candidate,
            harness=self.seal(tests),
            mode="exec",
            exec=spec,
            timeout_s=timeout_s or self.timeout_s,
        )

    def version(self, toolchain: Toolchain | None = None) -> str:
        """The first line the main tool prints for ``--version`` (recorded with a run)."""
        tc = toolchain or self.toolchain()
        tool = tc.tools.get(self.tools[0])
        if tool is None:
            return "not installed"
        for flag in ("--version", "-version", "version"):
            try:
                done = subprocess.run(
                    [tool, flag], capture_output=True, text=True, timeout=30, check=False
                )
            except (OSError, subprocess.TimeoutExpired):
                continue
            text = (done.stdout or done.stderr).strip()
            if done.returncode == 0 and text:
                return text.splitlines()[0][:200]
        return "unknown"


def _expand(path: str) -> str:
    return os.path.expanduser(path)


# --------------------------------------------------------------------------- seals


def append(statement: str) -> Seal:
    """Tests that run at top level: the marker statement goes after them."""
    line = statement.replace("MARKER", MARKER_SLOT)

    def seal(tests: str) -> str:
        return tests.rstrip() + "\n" + line + "\n"

    return seal


def before_brace(statement: str, from_end: int = 1) -> Seal:
    """Tests inside a ``main`` (or test) function: the marker statement goes before the
    ``from_end``-th closing brace counted from the end (2 when a class closes after main)."""
    line = statement.replace("MARKER", MARKER_SLOT)

    def seal(tests: str) -> str:
        cut = len(tests)
        for _ in range(from_end):
            cut = tests.rfind("}", 0, cut)
            if cut < 0:
                raise ExecutorError(
                    "test code has fewer closing braces than the language's seal expects",
                    "report this problem: its tests do not end like the others",
                )
        return tests[:cut].rstrip() + "\n    " + line + "\n" + tests[cut:]

    return seal


def replace_last(old: str, new: str) -> Seal:
    """Tests that end with a runner call (``os.exit(lu.LuaUnit.run())``): swap it for one
    that prints the marker after the runner returned."""
    text = new.replace("MARKER", MARKER_SLOT)

    def seal(tests: str) -> str:
        at = tests.rfind(old)
        if at < 0:
            raise ExecutorError(
                f"test code does not contain {old!r}",
                "report this problem: its tests do not end like the others",
            )
        return tests[:at] + text + tests[at + len(old) :]

    return seal
