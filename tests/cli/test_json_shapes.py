"""Every command's ``--json`` output against the field tables of docs/cli.md.

Why: scripts read these objects; a renamed key or a rate printed in percent breaks them silently.
The tables are parsed from the docs, so the docs and the code cannot drift apart: the cheap
commands run for real here (a real store, real reference samples), and every documented example
is checked against its own table. Rates must be fractions in [0, 1]; a percentage must be named
``*_pct`` (the rule stated at the top of docs/cli.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"

RANGES: dict[str, tuple[float, float]] = {
    "fraction": (0.0, 1.0),
    "fraction difference": (-1.0, 1.0),
    "percent": (0.0, 100.0),
}
UNITS = {*RANGES, "count", "seconds", "-"}

#: The commands whose JSON must hold exactly the documented keys; for the others (owned by
#: other parts of the CLI and still growing) the documented keys must be there, more may be.
EXACT = {
    "tasks",
    "models",
    "infill-formats",
    "doctor",
    "plan",
    "sweep",
    "reproduce",
    "audit determinism",
    "key-retrieval",
    "perplexity",
    "contamination",
    "memorisation",
    "selfinstruct",
}


@dataclass
class Node:
    """One documented path segment: its row (if documented) and its documented children."""

    type: str = "object"
    unit: str = "-"
    optional: bool = False
    children: dict[str, Node] = field(default_factory=dict)

    def child(self, key: str) -> Node | None:
        if key in self.children:
            return self.children[key]
        for name, node in self.children.items():
            if "<" in name and _pattern(name).fullmatch(key):
                return node
        return None


@dataclass
class Section:
    command: str
    example: Any
    root: Node
    rows: list[tuple[str, str, str]]


def _pattern(name: str) -> re.Pattern[str]:
    parts = re.split(r"(<[^>]+>)", name)
    return re.compile("".join(".+" if p.startswith("<") else re.escape(p) for p in parts))


def _segments(path: str) -> list[str]:
    """``a[].b.<k>`` -> ["a", "[]", "b", "<k>"]; ``[]`` alone first: the value is a list."""
    out: list[str] = []
    for part in path.split("."):
        if part.endswith("[]"):
            if part[:-2]:
                out.append(part[:-2])
            out.append("[]")
        else:
            out.append(part)
    return out


def parse_doc(text: str) -> dict[str, Section]:
    """Each ``## `codeduel X` `` section: its JSON example and its field table."""
    sections: dict[str, Section] = {}
    for chunk in re.split(r"^## ", text, flags=re.M)[1:]:
        title = chunk.splitlines()[0]
        m = re.fullmatch(r"`codeduel ([a-z -]+)`", title.strip())
        if not m:
            continue
        example = re.search(r"```json\n(.*?)\n```", chunk, flags=re.S)
        assert example, f"{title}: no JSON example"
        root = Node()
        rows = []
        for line in chunk.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 4 or not cells[0].startswith("`"):
                continue
            path, type_, unit = cells[0].strip("`"), cells[1], cells[2]
            assert unit in UNITS, f"{title}: {path}: unknown unit {unit!r}"
            rows.append((path, type_, unit))
            node = root
            for seg in _segments(path):
                node = node.children.setdefault(seg, Node())
            node.type, node.unit, node.optional = type_, unit, "optional" in type_
        assert rows, f"{title}: no field table"
        sections[m.group(1)] = Section(m.group(1), json.loads(example.group(1)), root, rows)
    return sections


SECTIONS = parse_doc(DOC.read_text(encoding="utf-8"))


def _check_number(value: Any, unit: str, where: str, problems: list[str]) -> None:
    low, high = RANGES[unit]
    if isinstance(value, (list, dict)):  # an interval [low, high], or figures by name
        for v in value.values() if isinstance(value, dict) else value:
            _check_number(v, unit, where, problems)
        return
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(f"{where}: {value!r} is not a number ({unit})")
    elif not low <= value <= high:
        problems.append(f"{where}: {value!r} is outside [{low:g}, {high:g}] ({unit})")


def check(value: Any, node: Node, *, exact: bool, where: str = "") -> list[str]:
    """Every way ``value`` departs from the documented ``node`` (empty: it matches)."""
    problems: list[str] = []
    if value is None:
        if (node.children or node.unit in RANGES) and "null" not in node.type and where:
            problems.append(f"{where}: null but documented as {node.type}")
        return problems
    if node.unit in RANGES:
        _check_number(value, node.unit, where or "(top)", problems)
    if not node.children:
        return problems
    if "[]" in node.children:
        if not isinstance(value, list):
            return [f"{where or '(top)'}: expected a list, got {type(value).__name__}"]
        for i, item in enumerate(value):
            problems += check(item, node.children["[]"], exact=exact, where=f"{where}[{i}]")
        return problems
    if not isinstance(value, dict):
        return [f"{where or '(top)'}: expected an object, got {type(value).__name__}"]
    for key, item in value.items():
        child = node.child(key)
        if child is None:
            if exact:
                problems.append(f"{where}.{key}: not documented in docs/cli.md")
            continue
        problems += check(item, child, exact=exact, where=f"{where}.{key}")
    for name, child in node.children.items():
        if "<" not in name and not child.optional and name not in value:
            problems.append(f"{where}.{name}: documented but missing")
    return problems


def assert_matches(command: str, value: Any) -> None:
    section = SECTIONS[command]
    problems = check(value, section.root, exact=command in EXACT)
    assert not problems, f"codeduel {command} --json vs docs/cli.md:\n" + "\n".join(problems)


# -- the docs themselves -------------------------------------------------------------------------


def _json_commands() -> set[str]:
    """Every command path (``audit determinism``) that takes ``--json``, from the app itself."""
    import typer

    from codeduel.cli import app

    found: set[str] = set()

    def walk(command: Any, path: str) -> None:
        if hasattr(command, "commands"):  # a group (typer's click may be its own copy)
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}".strip())
        elif any("--json" in getattr(p, "opts", ()) for p in command.params):
            found.add(path)

    walk(typer.main.get_command(app), "")
    return found


def test_every_json_command_is_documented() -> None:
    """Each command taking --json has a section, and each section is such a command."""
    commands = _json_commands()
    assert commands - set(SECTIONS) == set(), "no section in docs/cli.md"
    assert set(SECTIONS) - commands == set(), "documented, but takes no --json"


@pytest.mark.parametrize("command", sorted(SECTIONS))
def test_example_matches_its_table(command: str) -> None:
    """The documented example has exactly the documented fields, rates in range."""
    problems = check(SECTIONS[command].example, SECTIONS[command].root, exact=True)
    assert not problems, f"docs/cli.md example of {command}:\n" + "\n".join(problems)


@pytest.mark.parametrize("command", sorted(SECTIONS))
def test_percent_fields_are_named_pct(command: str) -> None:
    """The naming rule: a percentage ends in ``_pct``, a ``_pct`` field is a percentage, and a
    field named like a rate (pass@k, rate, accuracy, yield) is a fraction."""
    for path, _, unit in SECTIONS[command].rows:
        # the field's name: its last segment that is not a list or a key of a map
        named = [s for s in _segments(path) if s != "[]" and not s.startswith("<")]
        if not named:  # the list or map itself
            continue
        last = named[-1]
        assert (unit == "percent") == last.endswith("_pct"), f"{command}: {path} is {unit}"
        if re.search(r"pass@|rate$|accuracy|yield", last) and unit != "-":
            assert unit == "percent" or unit.startswith("fraction"), f"{command}: {path}"


# -- the commands, run for real ------------------------------------------------------------------


def _cli(*args: str) -> Any:
    proc = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, f"--json printed {len(lines)} lines on stdout"
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Any]:
    """Two evaluate runs of reference samples in a fresh store (real sandboxed execution)."""
    root = tmp_path_factory.mktemp("shapes")
    store = root / "results.sqlite"
    ref = root / "ref.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "codeduel.cli",
            "reference",
            "humaneval",
            "-o",
            str(ref),
            "--data-dir",
            str(data_dir),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    lines = ref.read_text(encoding="utf-8").splitlines()
    out: dict[str, Any] = {"store": store}
    for name, chunk in (("a", lines[:3]), ("b", lines[1:4])):
        samples = root / f"{name}.jsonl"
        samples.write_text("\n".join(chunk) + "\n", encoding="utf-8")
        out[name] = _cli(
            "evaluate", str(samples), "--task", "humaneval", "--k", "1,10", "--store", str(store),
            "--data-dir", str(data_dir),
        )  # fmt: skip
    return out


def test_evaluate(evaluated: dict[str, Any]) -> None:
    assert_matches("evaluate", evaluated["a"])
    assert evaluated["a"]["pass@1"] == 1.0 and evaluated["a"]["pass@10"] is None


def test_runs_and_show(evaluated: dict[str, Any]) -> None:
    store = str(evaluated["store"])
    runs = _cli("runs", "--store", store)
    assert len(runs) == 2
    assert_matches("runs", runs)
    shown = _cli("show", str(evaluated["a"]["run_id"]), "--store", store)
    assert_matches("show", shown)
    assert shown["counts"] == {"passed": 3}


def test_runs_of_an_empty_store_is_an_empty_list(tmp_path: Path) -> None:
    assert _cli("runs", "--store", str(tmp_path / "none.sqlite")) == []


def test_compare(evaluated: dict[str, Any]) -> None:
    a, b = evaluated["a"]["run_id"], evaluated["b"]["run_id"]
    result = _cli("compare", str(a), str(b), "--store", str(evaluated["store"]))
    assert_matches("compare", result)
    assert result["pairs"], "runs sharing two problems are paired"


def test_report(evaluated: dict[str, Any], tmp_path: Path) -> None:
    a, b = evaluated["a"]["run_id"], evaluated["b"]["run_id"]
    html = tmp_path / "report.html"
    result = _cli("report", str(a), str(b), "-o", str(html), "--store", str(evaluated["store"]))
    assert_matches("report", result)
    assert html.stat().st_size == result["size_bytes"]


def test_export(evaluated: dict[str, Any], tmp_path: Path) -> None:
    run = str(evaluated["a"]["run_id"])
    out = tmp_path / "metrics.json"
    result = _cli(
        "export", run, "--format", "bigcode", "-o", str(out), "--store", str(evaluated["store"])
    )
    assert_matches("export", result)
    assert result["pass@1"] == 1.0


def test_suite_dry_run(tmp_path: Path, data_dir: Path) -> None:
    """The plan of a suite (no model is loaded with --dry-run)."""
    suite = tmp_path / "suite.toml"
    suite.write_text(
        'store = "suite.sqlite"\n[defaults]\nlimit = 1\n'
        '[[models]]\nmodel = "qwen2.5-coder-0.5b-instruct"\n'
        '[[tasks]]\nname = "humaneval"\n[[tasks]]\nname = "mbpp"\n',
        encoding="utf-8",
    )
    result = _cli("suite", str(suite), "--dry-run", "--data-dir", str(data_dir))
    assert_matches("suite", result)
    assert result["counts"] == {"new": 2}


@pytest.mark.parametrize("command", ["tasks", "models", "infill-formats"])
def test_catalogs(command: str) -> None:
    result = _cli(command)
    assert result
    assert_matches(command, result)


def test_models_published_figures_are_percent_and_named_so() -> None:
    """A paper's 33.5 % stays 33.5 under a ``_pct`` name, never a bare ``humaneval_pass1``."""
    presets = {p["name"]: p for p in _cli("models")}
    published = presets["codellama-7b"]["published"]
    assert published["humaneval_pass1_pct"] == 33.5
    assert not [k for k in published if "pass" in k and not k.endswith("_pct")]


def test_doctor(data_dir: Path) -> None:
    assert_matches("doctor", _cli("doctor", "--data-dir", str(data_dir)))


@pytest.mark.parametrize("baseline", ["0.30", "30"])
def test_plan_is_in_fractions_whatever_the_input_unit(baseline: str, data_dir: Path) -> None:
    delta = "0.1" if baseline == "0.30" else "10"
    result = _cli(
        "plan", "--task", "humaneval", "--baseline", baseline, "--delta", delta,
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert_matches("plan", result)
    assert result["p_base"] == pytest.approx(0.30) and result["delta"] == pytest.approx(0.10)


# -- the model commands: their results' keys, without a model ------------------------------------


def _top_keys(command: str) -> set[str]:
    return {p for p in SECTIONS[command].root.children if "<" not in p}


def test_model_commands_documented_keys_match_their_results() -> None:
    """The result classes behind sweep, key-retrieval, perplexity and memorisation give
    exactly the documented top-level keys (their ``to_dict`` is ``asdict`` plus renames)."""
    from dataclasses import fields

    from codeduel.flows.contamination.memorisation import MemorisationResult
    from codeduel.flows.longcontext.keyretrieval import KeyRetrievalResult
    from codeduel.flows.longcontext.perplexity import PerplexityResult
    from codeduel.flows.sweep import SweepResult

    for command, cls in (
        ("sweep", SweepResult),
        ("key-retrieval", KeyRetrievalResult),
        ("perplexity", PerplexityResult),
        ("memorisation", MemorisationResult),
    ):
        names = {f.name for f in fields(cls)}
        names = {"store" if n == "store_path" else n for n in names}
        assert names == _top_keys(command), command


def test_the_checker_catches_a_percentage_and_an_unknown_key() -> None:
    """The checks above can fail: a rate printed in percent, a renamed key, a missing one."""
    good = dict(SECTIONS["plan"].example)
    assert check(good, SECTIONS["plan"].root, exact=True) == []
    in_percent = {**good, "p_base": 30.0}
    assert any("outside [0, 1]" in p for p in check(in_percent, SECTIONS["plan"].root, exact=True))
    renamed = {**{k: v for k, v in good.items() if k != "delta"}, "delta_points": 10.0}
    problems = check(renamed, SECTIONS["plan"].root, exact=True)
    assert ".delta_points: not documented in docs/cli.md" in problems
    assert ".delta: documented but missing" in problems
    assert check(renamed, SECTIONS["plan"].root, exact=False) == [".delta: documented but missing"]


def test_experiment_results_documented_keys_match() -> None:
    """reproduce, audit determinism and contamination build their dicts by hand: an empty
    result of each gives exactly the documented top-level keys."""
    from codeduel.flows.contamination.flow import ContaminationResult
    from codeduel.flows.determinism import DeterminismResult
    from codeduel.flows.reproduce import ReproduceResult
    from codeduel.tasks.base import DatasetInfo

    store = Path("results.sqlite")
    audit = DeterminismResult(1, "m", "humaneval", [], [], [], "", 0.0, store)
    reproduce = ReproduceResult(
        1, "m", "humaneval", 0.5, "paper", [], [], {}, None, None, None, None, None, None, "",
        0.0, store,
    )  # fmt: skip
    contamination = ContaminationResult(
        "m", "humaneval", DatasetInfo("humaneval", "1", "0" * 64, "x"), 0, 0, None, None, None,
        None, {"exact": 0, "mean_similarity": None, "max_common_run": 0}, [],
    )  # fmt: skip
    for command, result in (
        ("audit determinism", audit),
        ("reproduce", reproduce),
        ("contamination", contamination),
    ):
        assert_matches(command, result.to_dict())


def test_a_user_error_prints_nothing_on_stdout(tmp_path: Path) -> None:
    """Exit code 2, one line on stderr, stdout empty: a script never parses half a result."""
    store = str(tmp_path / "none.sqlite")
    proc = subprocess.run(
        [sys.executable, "-m", "codeduel.cli", "show", "999", "--json", "--store", store],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "no results store" in proc.stderr
