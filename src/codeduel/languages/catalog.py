"""The languages of MultiPL-E (Cassano et al. 2023), under MultiPL-E's own codes.

Each entry follows what MultiPL-E's evaluator does for the language (its
``evaluation/src/eval_<lang>.py`` in github.com/nuprl/MultiPL-E): the same compiler flags
and runtime switches (assertions on for Java, ``DEBUG`` defined for C#, ``-unittest`` for D),
the same "exit status 0 means the tests passed" rule, plus the completion marker (see
:mod:`codeduel.languages.base`). Where codeduel differs, ``notes`` says why.
"""

from __future__ import annotations

import re

from codeduel.languages.base import (
    Language,
    Precompiled,
    RunArgs,
    Toolchain,
    append,
    before_brace,
    replace_last,
)

_APT = "apt-get install -y"
_NODE_ROOTS = ("/etc/ssl/openssl.cnf",)  # node reads OpenSSL's config at start
_FAST_JVM = ("-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1")  # scalac 1.5x faster


def _rust_steps(lang: Language, tc: Toolchain) -> RunArgs:
    """rustc 1.90+ links through its bundled lld by default, found with access(2) under the
    toolchain's (often private) home, which the sandbox user cannot search: use the system
    linker there, as older releases did."""
    found = re.search(r"(\d+)\.(\d+)", lang.version(tc))
    if found and (int(found.group(1)), int(found.group(2))) >= (1, 90):
        compile_ = ("{rustc}", "-Clinker-features=-lld", "-o", "main", "{src}")
        return (("compile", compile_), *lang.steps[1:])
    return lang.steps


LANGUAGES: tuple[Language, ...] = (
    Language(
        code="cpp",
        name="C++",
        source_name="main.cpp",
        tools=("g++",),
        steps=(
            ("compile", ("{g++}", "-std=c++17", "-o", "main", "{src}")),
            ("run", ("./main",)),
        ),
        seal=before_brace('std::cout << std::endl << "MARKER" << std::endl;'),
        install=f"{_APT} g++",
        precompiled=Precompiled(
            prefix="#include<assert.h>\n#include<bits/stdc++.h>\n",
            tool="g++",
            flags=("-std=c++17",),
        ),
        notes="programs that start with MultiPL-E's two includes use a precompiled header "
        "of them (built once per g++ version; 3.5x faster compiles, same program)",
        fences=("cpp", "c++", "cxx", "cc"),
    ),
    Language(
        code="java",
        name="Java",
        source_name="Problem.java",
        tools=("java",),
        # One JVM compiles (in memory) and runs: javac's own JVM start is saved (2.2x). The
        # serial GC and the C1 compiler start fastest; tests are small, not hot loops.
        steps=(
            (
                "run",
                (
                    "{java}",
                    "-ea",
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    "-Xshare:auto",
                    "-cp",
                    "/usr/share/java/javatuples.jar",
                    "{src}",
                ),
            ),
        ),
        seal=before_brace('System.out.println(); System.out.println("MARKER");', from_end=2),
        install=f"{_APT} default-jdk-headless libjavatuples-java",
        fences=("java",),
        roots=("/etc/java-17-openjdk", "/etc/java-21-openjdk", "/usr/share/java"),
        proc=True,
        processes=128,
        notes="java's single-file launcher (compile in memory, then run) instead of javac + "
        "java, with -XX:+UseSerialGC -XX:TieredStopAtLevel=1 for a fast start",
    ),
    Language(
        code="cs",
        name="C#",
        source_name="Problem.cs",
        tools=("mcs", "mono"),
        steps=(
            (
                "compile",
                ("{mcs}", "-d:DEBUG", "-r:System.Numerics.dll", "-out:Problem.exe", "{src}"),
            ),
            ("run", ("{mono}", "Problem.exe")),
        ),
        seal=before_brace(
            'System.Console.WriteLine(); System.Console.WriteLine("MARKER");', from_end=2
        ),
        install=f"{_APT} mono-mcs mono-runtime",
        fences=("csharp", "cs", "c#"),
        roots=("/etc/mono",),
        env=(("MONO_TRACE_LISTENER", "Console.Error"),),
        # mono exits 0 after a failed Debug.Assert; MultiPL-E reads these from stderr.
        fail_patterns=(
            ("stderr", "System.Diagnostics.DefaultTraceListener.Fail"),
            ("stderr", "Unhandled Exception"),
        ),
        timeout_s=5.0,
        proc=True,
        processes=128,
    ),
    Language(
        code="ts",
        name="TypeScript",
        source_name="main.ts",
        tools=("tsc", "node"),
        steps=(
            (
                "compile",
                ("{tsc}", "--target", "esnext", "--skipLibCheck", "{src}"),
            ),
            ("run", ("{node}", "main.js")),
        ),
        seal=append('console.log("\\nMARKER");'),
        install="apt-get install -y nodejs npm && npm install -g typescript",
        fences=("typescript", "ts"),
        roots=_NODE_ROOTS,
        proc=True,
    ),
    Language(
        code="js",
        name="JavaScript",
        source_name="main.js",
        tools=("node",),
        steps=(("run", ("{node}", "{src}")),),
        seal=append('console.log("\\nMARKER");'),
        install=f"{_APT} nodejs",
        fences=("javascript", "js", "node"),
        roots=_NODE_ROOTS,
        proc=True,
        timeout_s=5.0,
    ),
    Language(
        code="php",
        name="PHP",
        source_name="main.php",
        tools=("php",),
        steps=(("run", ("{php}", "{src}")),),
        seal=append('echo "\\nMARKER\\n";'),
        install=f"{_APT} php-cli",
        fences=("php",),
        roots=("/etc/php",),
    ),
    Language(
        code="sh",
        name="Bash",
        source_name="main.sh",
        tools=("bash",),
        steps=(("run", ("{bash}", "{src}")),),
        seal=append("printf '\\n%s\\n' 'MARKER'"),
        install=f"{_APT} bash",
        fences=("bash", "sh", "shell"),
    ),
    Language(
        code="py",
        name="Python",
        source_name="main.py",
        tools=("python3",),
        steps=(("run", ("{python3}", "-I", "{src}")),),
        seal=append('print("\\nMARKER")'),
        install=f"{_APT} python3",
        fences=("python", "py", "python3"),
        real_path=True,
        prefer=("/usr/bin/python3",),
    ),
    Language(
        code="rb",
        name="Ruby",
        source_name="main.rb",
        tools=("ruby",),
        steps=(("run", ("{ruby}", "{src}")),),
        seal=append(
            "Test::Unit::AutoRunner.need_auto_run = false\n"
            "codeduel_ok = Test::Unit::AutoRunner.run\n"
            'puts ""\nputs "MARKER"\nexit(codeduel_ok ? 0 : 1)'
        ),
        install=f"{_APT} ruby",
        timeout_s=5.0,
        fences=("ruby", "rb"),
    ),
    Language(
        code="lua",
        name="Lua",
        source_name="main.lua",
        tools=("lua",),
        aliases={"lua": ("lua5.3", "lua5.4")},
        steps=(("run", ("{lua}", "{src}")),),
        seal=replace_last(
            "os.exit(lu.LuaUnit.run())",
            'local codeduel_status = lu.LuaUnit.run()\nprint("\\nMARKER")\n'
            "os.exit(codeduel_status)",
        ),
        install=f"{_APT} lua5.3 lua-unit",
        fences=("lua",),
        roots=("/etc/lua",),
    ),
    Language(
        code="pl",
        name="Perl",
        source_name="main.pl",
        tools=("perl",),
        steps=(("run", ("{perl}", "{src}")),),
        seal=append('print "\\nMARKER\\n";'),
        install=f"{_APT} perl libtest-deep-perl",
        fences=("perl", "pl"),
        fail_patterns=(("stdout", "ERROR"), ("stderr", "ERROR")),
        roots=("/etc/perl",),
    ),
    Language(
        code="go",
        name="Go",
        source_name="main_test.go",
        tools=("go",),
        steps=(("run", ("{go}", "test", "-v", "{src}")),),
        seal=before_brace('fmt.Println("\\nMARKER")'),
        install=f"{_APT} golang-go",
        fences=("go", "golang"),
        fail_patterns=(("stdout", "FAIL"),),
        env=(("GOCACHE", "{box}/.gocache"), ("GOPATH", "{box}/.gopath"), ("GO111MODULE", "off")),
        proc=True,
        processes=256,
        timeout_s=30.0,
    ),
    Language(
        code="rs",
        name="Rust",
        source_name="main.rs",
        tools=("rustc",),
        steps=(
            ("compile", ("{rustc}", "-o", "main", "{src}")),
            ("run", ("./main",)),
        ),
        seal=before_brace('println!("\\nMARKER");'),
        install=f"{_APT} rustc",
        fences=("rust", "rs"),
        roots=("~/.cargo", "~/.rustup"),
        adapt=_rust_steps,
        env=(("RUSTUP_HOME", "~/.rustup"), ("CARGO_HOME", "~/.cargo")),
        proc=True,
        processes=128,
    ),
    Language(
        code="r",
        name="R",
        source_name="main.r",
        tools=("Rscript",),
        steps=(("run", ("{Rscript}", "{src}")),),
        seal=append('cat("\\nMARKER\\n")'),
        install=f"{_APT} r-base-core",
        timeout_s=5.0,
        fences=("r",),
        roots=("/etc/R",),
    ),
    Language(
        code="rkt",
        name="Racket",
        source_name="main.rkt",
        tools=("racket",),
        steps=(("run", ("{racket}", "{src}")),),
        seal=append('(newline)\n(displayln "MARKER")'),
        install=f"{_APT} racket",
        fences=("racket", "rkt", "scheme"),
        roots=("/etc/racket",),
        # rackunit reports a failed check on stderr and still exits 0.
        fail_patterns=(("stderr", ""),),
        timeout_s=15.0,
    ),
    Language(
        code="scala",
        name="Scala",
        source_name="Problem.scala",
        tools=("scalac", "scala"),
        steps=(
            ("compile", ("{scalac}", *_FAST_JVM, "{src}")),
            ("run", ("{scala}", *_FAST_JVM, "Problem")),
        ),
        seal=before_brace('println(); println("MARKER")', from_end=2),
        install=f"{_APT} scala",
        fail_patterns=(("stderr", ""),),
        fences=("scala",),
        roots=("/etc/java-17-openjdk", "/etc/java-21-openjdk", "/usr/share/java"),
        proc=True,
        processes=128,
        compile_timeout_s=45.0,
    ),
    Language(
        code="d",
        name="D",
        source_name="main.d",
        tools=("ldc2",),
        steps=(
            ("compile", ("{ldc2}", "-unittest", "-of=main", "{src}")),
            ("run", ("./main",)),
        ),
        # druntime runs the unittest blocks and then, by default, not main: the marker
        # goes at the end of the unittest block (the brace before `void main(){}`).
        seal=before_brace('{ import std.stdio : writeln; writeln("\\nMARKER"); }', from_end=2),
        install=f"{_APT} ldc",
        fences=("d",),
        roots=("/etc/ldc2.conf",),
    ),
    Language(
        code="jl",
        name="Julia",
        source_name="main.jl",
        tools=("julia",),
        steps=(("run", ("{julia}", "{src}")),),
        seal=append('println("\\nMARKER")'),
        install="no Debian or npm package: install Julia from https://julialang.org/downloads/",
        timeout_s=5.0,
        fences=("julia", "jl"),
        proc=True,
    ),
    Language(
        code="swift",
        name="Swift",
        source_name="main.swift",
        tools=("swiftc",),
        steps=(
            ("compile", ("{swiftc}", "-o", "main", "{src}")),
            ("run", ("./main",)),
        ),
        seal=append('print("\\nMARKER")'),
        install="no Debian or npm package: install Swift from https://www.swift.org/install/",
        compile_timeout_s=45.0,
        timeout_s=5.0,
        fences=("swift",),
        proc=True,
    ),
)
