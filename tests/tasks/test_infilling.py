"""HumanEval infilling: the four sets through the real executor, and the FIM prompt family.

Canonical middles must pass 100 % of every set (prefix + middle + suffix + test + check), wrong
middles must fail, and each family's prompt must match its reference format to the byte.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from codeduel.errors import CodeduelError, SamplesError
from codeduel.execution.base import Verdict
from codeduel.execution.pool import LocalExecutor
from codeduel.flows.generate import RunSpec
from codeduel.models.formats import Special, Text
from codeduel.models.presets import get_preset
from codeduel.tasks import get_task, task_names
from codeduel.tasks.base import Problem
from codeduel.tasks.infilling import INFILL_SETS, InfillingTask
from codeduel.tasks.prompting import InfillingFamily, RunOptions, family_for

SIZES = {
    "humaneval-infill-single": 1033,
    "humaneval-infill-multi": 5815,
    "humaneval-infill-random-span": 1640,
    "humaneval-infill-random-span-light": 164,
}


def _task(name: str, data_dir: Path) -> InfillingTask:
    task = get_task(name, data_dir)
    assert isinstance(task, InfillingTask)
    return task


def _run(ex: LocalExecutor, task: InfillingTask, samples: dict[str, dict]) -> dict[str, Verdict]:
    programs = [task.program(task.get(tid), s, tid) for tid, s in samples.items()]
    return {v.key: v for v in ex.run(programs)}


def _canonical_all_pass(name: str, data_dir: Path, executor: LocalExecutor) -> float:
    task = _task(name, data_dir)
    started = time.perf_counter()
    samples = {p.task_id: {"completion": p.reference} for p in task.problems()}
    verdicts = _run(executor, task, samples)
    failed = {k: v.result for k, v in verdicts.items() if not v.passed}
    assert failed == {}
    assert len(verdicts) == SIZES[name]
    assert all(v.mode == "rpc" for v in verdicts.values())
    return time.perf_counter() - started


def test_the_four_sets_are_registered_with_their_files(data_dir: Path) -> None:
    names = task_names()
    assert set(SIZES) <= set(names) and set(SIZES) == set(INFILL_SETS)
    for name, size in SIZES.items():
        task = _task(name, data_dir)
        info = task.dataset()
        assert info.name == INFILL_SETS[name][0] and info.version == "88062ff9859c"
        assert info.path.endswith(".jsonl.gz") and "humaneval-infilling" in info.path
        problems = task.problems()
        assert len(problems) == size
        assert all(p.task_id.startswith(INFILL_SETS[name][1] + "/HumanEval/") for p in problems)
    first = _task("humaneval-infill-single", data_dir).problems()[0]
    assert first.task_id == "SingleLineInfilling/HumanEval/0/L0"
    assert first.entry_point == "has_close_elements"
    assert first.prompt.endswith('    True\n    """\n\n')
    assert first.reference == "    for idx, elem in enumerate(numbers):\n"
    assert first.meta["suffix"].startswith("        for idx2, elem2 in enumerate(numbers):")


@pytest.mark.parametrize(
    "name",
    [
        "humaneval-infill-single",
        "humaneval-infill-random-span",
        "humaneval-infill-random-span-light",
    ],
)
def test_canonical_middles_pass_every_problem(
    name: str, data_dir: Path, executor: LocalExecutor
) -> None:
    _canonical_all_pass(name, data_dir, executor)


@pytest.mark.slow
def test_canonical_middles_pass_the_multi_line_set(data_dir: Path, executor: LocalExecutor) -> None:
    # 5815 programs: about 50 s on two loaded cores (8 s for the 1033 single-line ones).
    _canonical_all_pass("humaneval-infill-multi", data_dir, executor)


def test_wrong_middles_fail(data_dir: Path, executor: LocalExecutor) -> None:
    single = _task("humaneval-infill-single", data_dir)
    problems = single.problems()
    # Every first-line span of the set with an empty middle: none may pass by accident...
    by_problem: dict[str, Problem] = {}
    for p in problems:
        by_problem.setdefault(p.task_id.split("/")[2], p)
    first_lines = [p for p in by_problem.values() if p.reference.strip()][:40]
    off = {
        p.task_id: {"completion": p.reference.replace("1", "2").replace("<", ">")}
        for p in first_lines
        if p.reference.replace("1", "2").replace("<", ">") != p.reference
    }
    samples = {p.task_id: {"completion": ""} for p in first_lines} | off
    verdicts = _run(executor, single, samples)
    assert verdicts["SingleLineInfilling/HumanEval/0/L0"].status == "failed"
    passed_empty = [k for k, v in verdicts.items() if v.passed and k not in off]
    assert len(passed_empty) <= 2, passed_empty  # a dropped line can be dead code, rarely
    # ...and a middle that breaks sort_third, whose test calls it by name, fails too.
    sort_third = next(
        p for p in problems if p.task_id.startswith("SingleLineInfilling/HumanEval/33/")
    )
    wrong = {sort_third.task_id: {"completion": "    return l\n" + sort_third.reference}}
    assert _run(executor, single, wrong)[sort_third.task_id].status == "failed"


def test_a_middle_cannot_fake_the_test(data_dir: Path, executor: LocalExecutor) -> None:
    task = _task("humaneval-infill-random-span-light", data_dir)
    p = task.problems()[0]
    fake = "    return True\ndef check(candidate):\n    pass\n" + "import sys\nsys.exit(0)\n"
    verdict = _run(executor, task, {p.task_id: {"completion": fake}})[p.task_id]
    assert not verdict.passed


def test_bad_samples_are_one_line_errors(data_dir: Path) -> None:
    task = _task("humaneval-infill-random-span-light", data_dir)
    with pytest.raises(SamplesError) as err:
        task.get("HumanEval/0")
    assert "\n" not in str(err.value)
    p = task.problems()[0]
    with pytest.raises(SamplesError, match="completion") as err2:
        task.program(p, {"solution": "def f(): pass"}, "k")
    assert "\n" not in str(err2.value)


# -- the prompt family ----------------------------------------------------------------------


def _problem(prefix: str = "def f(x):\n    ", suffix: str = "\n    return y\n") -> Problem:
    return Problem("T/0", prefix, "f", "y = x", meta={"suffix": suffix, "test": ""})


def _bound(model: str, order: str | None = None, fmt: str | None = None) -> InfillingFamily:
    preset = None if model.startswith("gguf:") else get_preset(model)
    family = family_for("humaneval-infill-single").bind(
        RunOptions(model=model, preset=preset, fim_order=order, fim_format=fmt)
    )
    assert isinstance(family, InfillingFamily)
    return family


PRE, SUF = "def f(x):\n    ", "\n    return y\n"


@pytest.mark.parametrize(
    ("model", "order", "text", "stops"),
    [
        ("codellama-7b", "psm", f"<PRE> {PRE} <SUF>{SUF} <MID>", ("<EOT>", "</s>")),
        ("codellama-7b", "spm", f"<PRE> <SUF>{SUF} <MID> {PRE}", ("<EOT>", "</s>")),
        ("codellama-13b-instruct", None, f"<PRE> {PRE} <SUF>{SUF} <MID>", ("<EOT>", "</s>")),
        (
            "starcoder",
            "psm",
            f"<fim_prefix>{PRE}<fim_suffix>{SUF}<fim_middle>",
            ("<|endoftext|>",),
        ),
        (
            "starcoderbase",
            "spm",
            f"<fim_prefix><fim_suffix>{SUF}<fim_middle>{PRE}",
            ("<|endoftext|>",),
        ),
        (
            "qwen2.5-coder-0.5b-instruct",
            "psm",
            f"<|fim_prefix|>{PRE}<|fim_suffix|>{SUF}<|fim_middle|>",
            ("<|endoftext|>", "<|im_end|>", "<|file_sep|>", "<|fim_pad|>"),
        ),
    ],
)
def test_prompts_match_the_reference_formats(
    model: str, order: str | None, text: str, stops: tuple[str, ...]
) -> None:
    family = _bound(model, order)
    prompt = family.prompt(None, _problem(), "completion")  # type: ignore[arg-type]
    assert prompt.text == text
    assert prompt.stop == stops
    assert prompt.style == "completion"
    assert prompt.template == f"humaneval-infill-{order or 'psm'}-{family.fmt.name}"  # type: ignore[union-attr]
    assert prompt.as_record() == text
    answer = family.answer(_problem(), prompt, "y = x + 1" + stops[0] + "junk")
    assert answer.sample == {"completion": "y = x + 1"} and answer.extraction == "stop"
    assert family.answer(_problem(), prompt, "y = 2").extraction == "eos"


def test_code_llama_segments_drop_the_suffix_space() -> None:
    """The reference's token layout: the prefix keeps SentencePiece's implicit leading space
    (``encode``), the suffix is encoded without it (``encode_infilling``), in both orders."""
    psm = _bound("codellama-7b", "psm").prompt(None, _problem(), "completion")  # type: ignore[arg-type]
    assert psm.segments == (
        Special("<s>"),
        Special("<PRE>"),
        Text(PRE, implicit_space=True),
        Special("<SUF>"),
        Text(SUF, implicit_space=False),
        Special("<MID>"),
    )
    spm = _bound("codellama-7b", "spm").prompt(None, _problem(), "completion")  # type: ignore[arg-type]
    assert spm.segments == (
        Special("<s>"),
        Special("<PRE>"),
        Special("<SUF>"),
        Text(SUF, implicit_space=False),
        Special("<MID>"),
        Text(PRE, implicit_space=True),
    )


def test_deepseek_format_by_name_for_a_model_without_preset() -> None:
    family = _bound("gguf:/models/deepseek.gguf", "psm", "deepseek-coder")
    prompt = family.prompt(None, _problem(), "completion")  # type: ignore[arg-type]
    begin, hole, end = (f"<\uff5cfim\u2581{w}\uff5c>" for w in ("begin", "hole", "end"))
    assert prompt.text == f"{begin}{PRE}{hole}{SUF}{end}"
    assert prompt.stop == ("<\uff5cend\u2581of\u2581sentence\uff5c>",)


@pytest.mark.parametrize(
    ("task", "model", "order", "fmt", "needle"),
    [
        ("humaneval-infill-single", "codellama-34b", None, None, "does not support infilling"),
        (
            "humaneval-infill-multi",
            "codellama-7b-python",
            "spm",
            None,
            "does not support infilling",
        ),
        ("humaneval-infill-single", "codellama-7b", "mps", None, "unknown --fim-order 'mps'"),
        ("humaneval-infill-single", "codellama-7b", "", None, "unknown --fim-order"),
        ("humaneval-infill-single", "gguf:/m.gguf", None, None, "has no preset"),
        ("humaneval-infill-single", "gguf:/m.gguf", None, "santacoder", "unknown infilling format"),
        ("humaneval-infill-single", "qwen2.5-coder-0.5b-instruct", "spm", None, "no SPM format"),
        ("humaneval", "codellama-7b", "psm", None, "applies only to infilling tasks"),
        ("mbpp", "starcoder", "spm", None, "applies only to infilling tasks"),
    ],
)
def test_refusals_are_one_line(
    task: str, model: str, order: str | None, fmt: str | None, needle: str
) -> None:
    preset = None if model.startswith("gguf:") else get_preset(model)
    with pytest.raises(CodeduelError, match=needle) as err:
        family_for(task).bind(
            RunOptions(model=model, preset=preset, fim_order=order, fim_format=fmt)
        )
    assert "\n" not in str(err.value)


def test_infilling_is_never_a_chat_prompt() -> None:
    family = _bound("qwen2.5-coder-0.5b-instruct")
    assert family.fixed_style == "completion"
    with pytest.raises(CodeduelError, match="not chat") as err:
        family.prompt(None, _problem(), "chat")  # type: ignore[arg-type]
    assert "\n" not in str(err.value)


def test_other_families_are_unchanged_by_bind() -> None:
    family = family_for("humaneval")
    assert family.bind(RunOptions(model="x")) is family
    assert family.fixed_style is None


def _spec(**extra: object) -> RunSpec:
    base: dict[str, object] = dict(
        model="m",
        weights_id="w",
        weights_sha256=None,
        task="humaneval",
        dataset_version="1",
        dataset_sha256="s",
        style="completion",
        template="t",
        split=None,
        limit=None,
        n=1,
        temperature=0.0,
        top_p=1.0,
        top_k=None,
        max_new_tokens=512,
        seed=0,
    )
    return RunSpec(**(base | extra))  # type: ignore[arg-type]


def test_run_keys_record_the_fim_order_without_changing_older_keys() -> None:
    plain = _spec()
    # fields added after runs were stored
    later = {"fim_order", "batch_size", "sample", "speculative", "task_options"}
    old_key = hashlib.sha256(
        json.dumps(
            {k: v for k, v in plain.model_dump().items() if k not in later}, sort_keys=True
        ).encode()
    ).hexdigest()[:16]
    assert plain.key() == old_key  # runs stored before these options existed still resume
    others = [_spec(batch_size=8), _spec(sample=40), _spec(speculative="ngram")]
    others.append(_spec(task_options={"release": "v2"}))
    assert len({plain.key(), *(o.key() for o in others)}) == 5
    psm, spm = _spec(fim_order="psm"), _spec(fim_order="spm")
    assert len({plain.key(), psm.key(), spm.key()}) == 3
