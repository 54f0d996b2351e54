"""The memorisation probe: detectors find and mask personal data, nothing raw is stored, the
Wilson intervals are right, and a real small run on the embedded model is recorded."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeduel import api
from codeduel.cli.app import app
from codeduel.flows.contamination.memorisation import (
    CONTEXTS,
    TEMPLATE_VERSION,
    TEMPLATES,
    run_memorisation,
    scan_output,
    select_templates,
    wilson_interval,
)
from codeduel.models.base import Completion, GenParams, Message, Model, ModelInfo, TokenLogprobs

pytestmark = pytest.mark.timeout(300)

EMAIL = "jane.roe1984@gmail.com"
HANDLE = "coolcoder99"
ANSWERER = "jsmith42"
GITHUB_URL = "https://github.com/janeroe/fastjson"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
PEM_BODY = "MIIEowIBAAKCAQEA7bq98Jx"
HOLDER = "Jonathan Quux"
RAW = (EMAIL, HANDLE, ANSWERER, GITHUB_URL, AWS_KEY, PEM_BODY, HOLDER)

OUTPUT = (
    f"answered by {ANSWERER}\n"
    f"Thanks @{HANDLE}, mail me at {EMAIL}\n"
    f"Code: {GITHUB_URL}\n"
    f"AWS_ACCESS_KEY_ID={AWS_KEY}\n"
    f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----\n"
    f"# Copyright (c) 2016 {HOLDER}\n"
    "# Permission is hereby granted, free of charge, to any person\n"
    "\x1b[2J\u202e"
)


def test_detectors_find_and_mask_every_kind() -> None:
    masked, found = scan_output("", OUTPUT)
    categories = {d.category for d in found}
    assert {"handle", "email", "url", "secret", "licence"} <= categories
    detectors = {d.detector for d in found}
    assert "datafog:email" in detectors
    assert "detect-secrets:AWSKeyDetector" in detectors
    assert "detect-secrets:PrivateKeyDetector" in detectors
    assert "attribution" in detectors and "at-handle" in detectors
    for raw in RAW:
        assert raw not in masked, raw
    for label in ("<EMAIL>", "<HANDLE>", "<URL>", "<SECRET>"):
        assert label in masked
    assert "Permission is hereby granted" in masked  # a licence is detected, not personal
    assert "\x1b" not in masked and "\u202e" not in masked


def test_prompt_context_makes_an_attribution() -> None:
    masked, found = scan_output("commit 9fceb02\nAuthor:", " Jonathan Quux <jq@example.org>\n")
    assert masked == " <HANDLE> <<EMAIL>>\n"
    assert [d.category for d in found] == ["handle", "email"]


def test_plain_code_is_clean() -> None:
    code = "@property\ndef size(self) -> int:\n    return len(self.items)  # commit 3f2a9c1b7d4e\n"
    masked, found = scan_output("", code)
    assert found == [] and masked == code


def test_wilson_interval_known_values() -> None:
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)
    lo, hi = wilson_interval(1, 1)
    assert lo == pytest.approx(0.2065, abs=1e-4) and hi == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_templates_are_fixed_and_balanced() -> None:
    ids = [t.id for t in TEMPLATES]
    assert len(ids) == len(set(ids))
    for context in CONTEXTS:
        assert 10 <= sum(t.context == context for t in TEMPLATES) <= 20
    first = select_templates(4)
    assert [t.context for t in first] == ["stackoverflow", "github"] * 2
    assert len(select_templates(None)) == len(TEMPLATES)


class _Leaky(Model):
    """A model that answers every prompt with :data:`OUTPUT`."""

    backend = "fake"

    def generate(self, prompts: Sequence[object], params: GenParams) -> list[list[Completion]]:
        done = Completion(
            text=OUTPUT, finish_reason="length", prompt_tokens=1, completion_tokens=9, seconds=0.0
        )
        return [[done] * params.n for _ in prompts]

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenParams
    ) -> list[list[Completion]]:
        raise NotImplementedError

    def loglikelihood(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        raise NotImplementedError

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        return [0]

    def info(self) -> ModelInfo:
        return ModelInfo(backend="fake", spec="fake:leaky", weights_id="leaky", context_window=512)


def test_raw_values_appear_nowhere_in_the_store(tmp_path: Path) -> None:
    path = tmp_path / "leak.sqlite"
    result = run_memorisation("fake:leaky", loaded_model=_Leaky(), store=path, limit=3)
    assert result.rates["all"]["hits"] == 3 and result.rates["all"]["n"] == 3
    assert result.examples and "<EMAIL>" in result.examples[0]["masked"]
    dumped = json.dumps(result.to_dict())
    with sqlite3.connect(path) as db:
        dumped += "\n".join(db.iterdump())
    dumped += path.read_bytes().decode("latin-1")
    for raw in RAW:
        assert raw not in dumped, raw


def test_real_small_run_on_the_embedded_model(tmp_path: Path) -> None:
    path = tmp_path / "mem.sqlite"
    result = api.memorisation(None, limit=4, max_new_tokens=16, store=path, n_threads=2)
    assert result.n_prompts == 4 and result.n_outputs == 4
    assert set(result.rates) == {"stackoverflow", "github", "all"}
    for cell in result.rates.values():
        lo, hi = cell["ci"]
        assert 0.0 <= lo <= (cell["rate"] or 0.0) <= hi <= 1.0
    run = api.get_run(result.run_id, path)
    assert run.kind == "memorisation" and run.status == "finished"
    assert run.spec["template_version"] == TEMPLATE_VERSION
    assert run.summary is not None and run.summary["rates"]["all"]["n"] == 4


def test_cli_json_prints_one_object(tmp_path: Path) -> None:
    path = tmp_path / "cli.sqlite"
    args = ["memorisation", "--limit", "2", "--max-new-tokens", "8", "--threads", "2"]
    result = CliRunner().invoke(app, [*args, "--store", str(path), "--json"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert obj["template_version"] == TEMPLATE_VERSION and obj["n_outputs"] == 2
