"""Every command explains itself: an example in its help, help text on every option, and shell
completion that really completes (issue 18, point 7)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main

from codeduel.cli.app import app


def _commands() -> Iterator[tuple[str, Any]]:
    def walk(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), command

    yield from walk(typer.main.get_command(app), [])


COMMANDS = dict(_commands())


def test_every_command_is_walked() -> None:
    assert {"evaluate", "run", "compare", "report", "audit determinism"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_shows_an_example_that_names_itself(name: str) -> None:
    text = COMMANDS[name].help or ""
    examples = [line.strip() for line in text.splitlines() if line.strip().startswith("Example")]
    assert examples, f"`codeduel {name} --help` has no example"
    assert all(f"codeduel {name}" in line for line in examples), examples


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_says_what_it_does(name: str) -> None:
    bare = [
        "/".join(p.opts)
        for p in COMMANDS[name].params
        if type(p).__name__.endswith("Option") and not (p.help or "").strip()
    ]
    assert not bare, f"`codeduel {name}` options without help: {bare}"


def _complete(words: str) -> list[str]:
    env = {
        **os.environ,
        "_CODEDUEL_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    done = subprocess.run(
        [sys.executable, "-c", "from codeduel.cli.app import main; main()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_shell_completion_completes_commands_and_options() -> None:
    assert "evaluate" in _complete("codeduel ev")
    assert "--task" in _complete("codeduel evaluate --ta")


def test_bootstrap_resamples_default_the_same_everywhere() -> None:
    """`compare`, `report` and the API draw their intervals with the same number of resamples,
    so the same runs get the same intervals whichever door a user takes."""
    import inspect

    from codeduel import api
    from codeduel.scoring.stats import DEFAULT_N_BOOT

    defaults = {
        name: next(p.default for p in command.params if p.name == "bootstrap")
        for name, command in COMMANDS.items()
        if any(p.name == "bootstrap" for p in command.params)
    }
    assert {"compare", "report"} <= set(defaults)
    assert set(defaults.values()) == {DEFAULT_N_BOOT}
    for function in (api.compare, api.report):
        assert inspect.signature(function).parameters["n_boot"].default == DEFAULT_N_BOOT
