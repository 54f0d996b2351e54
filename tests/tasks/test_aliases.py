"""Benchmark names people already type (Hugging Face ids, evalplus, bigcode-evaluation-harness,
lm-evaluation-harness) resolve to the registered task: the same pinned files, the same name."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeduel.errors import CodeduelError
from codeduel.tasks import get_task, resolve_task_name, task_aliases, task_names


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("openai_humaneval", "humaneval"),
        ("openai/openai_humaneval", "humaneval"),
        ("OpenAI/OpenAI_HumanEval", "humaneval"),
        ("humaneval", "humaneval"),
        ("evalplus/humanevalplus", "humaneval+"),
        ("humanevalplus", "humaneval+"),
        ("humaneval_plus", "humaneval+"),
        ("mbpp", "mbpp"),
        ("google-research-datasets/mbpp", "mbpp"),
        ("evalplus/mbppplus", "mbpp+"),
        ("mbppplus", "mbpp+"),
        ("mbpp_plus", "mbpp+"),
        ("multiple-cpp", "multipl-e-cpp"),
        ("humaneval-rs", "multipl-e-rs"),
        ("nuprl/MultiPL-E/humaneval-java", "multipl-e-java"),
    ],
)
def test_aliases_resolve(alias: str, name: str) -> None:
    assert resolve_task_name(alias) == name


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("openai_humaneval", "humaneval"),
        ("evalplus/mbppplus", "mbpp+"),
        ("multiple-py", "multipl-e-py"),
    ],
)
def test_an_alias_is_the_same_task_and_files(data_dir: Path, alias: str, name: str) -> None:
    via_alias, direct = get_task(alias, data_dir), get_task(name, data_dir)
    assert type(via_alias) is type(direct) and via_alias.name == name
    assert via_alias.dataset() == direct.dataset()  # same file, same sha256
    assert [p.task_id for p in via_alias.problems()] == [p.task_id for p in direct.problems()]


def test_every_alias_names_a_registered_task_and_unknown_names_fail() -> None:
    names = task_names()
    aliases = task_aliases()
    assert aliases["multiple-cpp"] == "multipl-e-cpp" and aliases["openai_humaneval"] == "humaneval"
    assert all(target in names for target in aliases.values())
    assert not set(aliases) & set(names)  # an alias never hides a registered name
    with pytest.raises(CodeduelError, match="unknown task 'humaneval-klingon'"):
        resolve_task_name("humaneval-klingon")
    with pytest.raises(CodeduelError, match="unknown task 'nope'"):
        get_task("nope")
