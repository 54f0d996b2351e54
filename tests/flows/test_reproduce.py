"""``reproduce`` and ``audit determinism``: the factor design, the paired effects (checked by
simulation), and both flows end to end on the embedded model at small scale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codeduel import api
from codeduel.errors import CodeduelError
from codeduel.flows.determinism import first_difference
from codeduel.flows.experiment import Arm, ArmResult, paired_effect
from codeduel.flows.reproduce import FACTORS, Context, _toward, combine, parse_factors
from codeduel.records.store import Store
from codeduel.tasks.prompting import PromptVariant, family_for

BASE = Arm("baseline", "baseline", "as codeduel run", style="chat")


def _ctx(**changes: object) -> Context:
    fields: dict[str, object] = {
        "baseline": BASE,
        "style": "chat",
        "knobs": family_for("humaneval").variant_knobs,
        "has_chat_template": True,
        "backend_batch": 1,
        "token_levels": (256,),
        "batch_levels": (),
        "alt_models": (),
    }
    fields.update(changes)
    return Context(**fields)  # type: ignore[arg-type]


def _arm_result(name: str, passed: list[bool], factor: str = "f") -> ArmResult:
    rate = sum(passed) / len(passed)
    return ArmResult(
        arm=Arm(name, factor, name),
        run_id=0,
        template="t",
        style="chat",
        pass_at_1=rate,
        low=rate,
        high=rate,
        n_problems=len(passed),
        generated_tokens=0,
        generation_s=0.0,
        reused=False,
        passed={f"P/{i}": p for i, p in enumerate(passed)},
    )


def test_every_factor_offers_levels_or_says_why_not() -> None:
    ctx = _ctx()
    offered = {name: f.levels(ctx) for name, f in FACTORS.items()}
    assert [a.name for a in offered["template"]] == ["chat template off"]  # type: ignore[union-attr]
    assert offered["template"][0].style == "completion"  # type: ignore[index]
    assert offered["prefill"][0].variant == PromptVariant(prefill=False)  # type: ignore[index]
    assert offered["strip"][0].variant == PromptVariant(strip=True)  # type: ignore[index]
    assert [a.variant.stops for a in offered["stops"]] == ["bigcode", "none"]  # type: ignore[union-attr]
    assert [a.max_new_tokens for a in offered["max-tokens"]] == [256]  # type: ignore[union-attr]
    assert [a.batch_size for a in offered["batch"]] == [8]  # a one-at-a-time backend: try 8
    assert isinstance(offered["weights"], str) and "--alt-model" in offered["weights"]

    # a backend that batches is tried one at a time; other weights become arms
    assert [a.batch_size for a in FACTORS["batch"].levels(_ctx(backend_batch=16))] == [1]  # type: ignore[union-attr]
    alt = FACTORS["weights"].levels(_ctx(alt_models=("gguf:/w/q8.gguf",)))
    assert [a.model for a in alt] == ["gguf:/w/q8.gguf"]  # type: ignore[union-attr]
    # MBPP's prompt has no stop-list, strip or prefill choice; a base model has no template
    mbpp = _ctx(knobs=family_for("mbpp").variant_knobs)
    for name in ("prefill", "strip", "stops"):
        assert isinstance(FACTORS[name].levels(mbpp), str)
    base = _ctx(style="completion", has_chat_template=False)
    assert "base model" in FACTORS["template"].levels(base)  # type: ignore[operator]
    assert isinstance(FACTORS["prefill"].levels(base), str)


def test_factor_names_are_checked() -> None:
    assert parse_factors(None) == list(FACTORS) == parse_factors("all")
    assert parse_factors("stops, batch,stops") == ["stops", "batch"]
    with pytest.raises(CodeduelError, match="unknown --factors quant"):
        parse_factors("stops,quant")


def test_combined_arm_applies_each_change_once() -> None:
    arms = [
        BASE.changed(name="stop list none", variant=PromptVariant(stops="none")),
        BASE.changed(name="batch size 8", batch_size=8),
        BASE.changed(name="prompt stripped", variant=PromptVariant(strip=True)),
    ]
    both = combine(arms, BASE)
    assert both is not None
    assert both.variant == PromptVariant(strip=True, stops="none")
    assert both.batch_size == 8 and both.style == "chat" and both.factor == "combined"
    assert both.level == "stop list none + batch size 8 + prompt stripped"


def test_combined_arm_leaves_out_changes_that_cannot_apply_together() -> None:
    unfilled = BASE.changed(name="unfilled", variant=PromptVariant(prefill=False))
    bigcode = BASE.changed(name="bigcode", variant=PromptVariant(stops="bigcode"))
    batch = BASE.changed(name="batch", batch_size=8)
    raw = BASE.changed(name="raw", style="completion")
    # a chat answer written without a pre-fill has no stop list to swap
    one = combine([unfilled, bigcode, batch], BASE)
    assert one is not None and one.level == "unfilled + batch"
    assert one.variant == PromptVariant(prefill=False) and one.batch_size == 8
    # completion has no pre-fill to leave out
    two = combine([raw, unfilled, bigcode], BASE)
    assert two is not None and two.level == "raw + bigcode" and two.variant.prefill
    # fewer than two changes left: nothing new to run
    assert combine([unfilled, bigcode], BASE) is None
    assert combine([raw, unfilled], BASE) is None


def test_only_levels_that_move_toward_the_published_figure_are_combined() -> None:
    base = _arm_result("baseline", [True] * 5 + [False] * 5)
    effects = [
        paired_effect(_arm_result("a1", [True] * 7 + [False] * 3, "stops"), base),  # +20
        paired_effect(_arm_result("a2", [True] * 6 + [False] * 4, "stops"), base),  # +10
        paired_effect(_arm_result("b", [True] * 3 + [False] * 7, "batch"), base),  # -20
        paired_effect(_arm_result("c", [True] * 5 + [False] * 5, "strip"), base),  # 0
    ]
    assert [e.arm for e in _toward(effects, gap=+0.3)] == ["a1"]
    assert [e.arm for e in _toward(effects, gap=-0.3)] == ["b"]


def test_paired_effect_is_exact_on_the_common_problems() -> None:
    ref = _arm_result("ref", [True, True, False, False, True])
    arm = _arm_result("arm", [True, False, True, True, True])
    e = paired_effect(arm, ref)
    assert e.diff.estimate == pytest.approx(0.2)
    assert (e.test.a_wins, e.test.b_wins, e.test.n_pairs) == (2, 1, 5)
    # problems only one arm scored are left out of the pairing
    del arm.passed["P/4"]
    assert paired_effect(arm, ref).test.n_pairs == 4


def test_effect_intervals_cover_a_known_effect_at_their_level_by_simulation() -> None:
    """120 simulated experiments, 300 problems, true effect +8 points from correlated arms:
    the paired 95 % interval covers the truth in 90-99 % of them, and McNemar rejects at
    alpha 0.05 in most of them (power) but rarely when the arms are exchangeable."""
    rng = np.random.default_rng(7)
    n, sims, truth = 300, 120, 0.08
    covered = rejected = false_alarms = 0
    for _ in range(sims):
        base = rng.random(n) < 0.5
        flips_up = (~base) & (rng.random(n) < 2 * truth)  # +16 % of the failures: +8 points
        arm = base | flips_up
        e = paired_effect(_arm_result("arm", list(arm)), _arm_result("ref", list(base)))
        expected = float(np.mean(arm) - np.mean(base))
        covered += e.diff.low <= truth <= e.diff.high
        rejected += e.test.p_value < 0.05
        assert e.diff.estimate == pytest.approx(expected)
        same = base.copy()
        swap = rng.random(n) < 0.1
        same[swap] = ~same[swap]  # noise both ways, no effect on average
        null = paired_effect(_arm_result("arm", list(same)), _arm_result("ref", list(base)))
        false_alarms += null.test.p_value < 0.05
    assert 0.90 <= covered / sims <= 0.99
    assert rejected / sims > 0.9
    assert false_alarms / sims < 0.10


def test_the_second_backend_serves_the_same_weights() -> None:
    from codeduel.flows.determinism import second_backend

    # torch and transformers come with the test extra, so a GGUF has its transformers twin
    assert second_backend(None) == "hf:embedded:qwen2.5-coder-0.5b-instruct"
    assert second_backend("gguf:/models/q4.gguf") == "hf:/models/q4.gguf"
    assert second_backend("openai:gpt-4o") is None  # a server's engine is not ours to switch


def test_a_random_sample_is_seeded_kept_in_order_and_checked(data_dir: Path) -> None:
    from codeduel.flows.generate import select_problems
    from codeduel.tasks import get_task

    task = get_task("humaneval", data_dir)
    order = {p.task_id: i for i, p in enumerate(task.problems())}
    first = [p.task_id for p in select_problems(task, None, None, 40, seed=0)]
    assert len(first) == 40 and first == sorted(first, key=order.__getitem__)
    assert first == [p.task_id for p in select_problems(task, None, None, 40, seed=0)]
    assert first != [p.task_id for p in select_problems(task, None, None, 40, seed=1)]
    assert max(order[t] for t in first) > 100  # drawn from the whole benchmark, not its start
    with pytest.raises(CodeduelError, match="invalid --sample 165"):
        select_problems(task, None, None, 165)
    with pytest.raises(CodeduelError, match="--limit and --sample both given"):
        select_problems(task, None, 5, 3)


def test_first_difference() -> None:
    assert first_difference("abc", "abc") is None
    assert first_difference("abc", "abd") == 2
    assert first_difference("ab", "abc") == 2


def _cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEDUEL_STORE": str(store)}
    return subprocess.run(
        [sys.executable, "-m", "codeduel.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_bad_experiment_input_is_one_line(tmp_path: Path) -> None:
    for args, needle in [
        (["reproduce", "--factors", "quant"], "unknown --factors quant"),
        (["reproduce", "--published", "150"], "invalid --published"),
        (["reproduce", "--token-levels", "0"], "invalid --token-levels"),
        (["reproduce", "--task", "humaneval-infill-single"], "one fixed prompt format"),
        (["audit", "determinism", "--batch-size", "1"], "--batch-size 1 is the reference"),
        (["audit", "determinism", "--against", "embedded"], "model on the same backend"),
    ]:
        proc = _cli(tmp_path / "s.sqlite", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize(
    ("levels", "needle"),
    [({"token_levels": [256, 0]}, "invalid --token-levels 0"),
     ({"batch_levels": [-1]}, "invalid --batch-levels -1")],
)  # fmt: skip
def test_the_api_names_a_bad_level_by_its_option(levels: dict, needle: str) -> None:
    with pytest.raises(api.CodeduelError, match=needle):
        api.reproduce(None, "humaneval", **levels)


def test_reproduce_end_to_end_on_the_embedded_model(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "r.sqlite"
    opts = {"limit": 1, "data_dir": data_dir, "store": store, "n_threads": 2}
    factors = "prefill,stops,batch,weights"
    result = api.reproduce(None, "humaneval", factors=factors, published=0.0, **opts)  # type: ignore[arg-type]
    names = [a.arm.name for a in result.arms]
    assert names[:5] == [
        "baseline",
        "signature not pre-filled",
        "stop list bigcode",
        "stop list none",
        "batch size 8",
    ]
    assert "--alt-model" in result.not_offered["weights"]
    base = result.arms[0]
    assert result.published == 0.0 and result.gap == pytest.approx(-base.pass_at_1)
    with Store(store) as db:
        exp = db.get_run(result.reproduce_id)
        assert exp.kind == "reproduce" and exp.status == "finished" and exp.summary
        assert [a["run_id"] for a in exp.summary["arms"]] == [a.run_id for a in result.arms]
        for arm in result.arms:
            run = db.get_run(arm.run_id)
            assert run.kind == "run" and run.status == "finished"
            assert run.spec["template"] == arm.template and run.spec["temperature"] == 0.0
            assert len(db.samples(arm.run_id)) == 1
        by_name = {a.arm.name: a for a in result.arms}
        assert db.get_run(by_name["batch size 8"].run_id).spec["batch_size"] == 8
        assert by_name["signature not pre-filled"].template == "humaneval-chat"
        # with no stop list nothing is cut: the stored code is the raw output
        for s in db.samples(by_name["stop list none"].run_id):
            assert s.completion == s.raw_output and (s.extra or {})["stop_sequence"] is None
    for effect in result.effects:
        arm = result.arm(effect.arm)
        assert effect.diff.estimate == pytest.approx(arm.pass_at_1 - base.pass_at_1)
    closest = result.arm(result.closest or "")
    assert all(abs(closest.pass_at_1) <= abs(a.pass_at_1) for a in result.arms)
    assert result.subset == "the first 1 of 164 problems, not a fair sample (use --sample)"
    assert result.headline.startswith(f"baseline {100 * base.pass_at_1:.1f} % on the first 1")

    again = api.reproduce(None, "humaneval", factors=factors, published=0.0, **opts)  # type: ignore[arg-type]
    assert [a.run_id for a in again.arms] == [a.run_id for a in result.arms]
    assert all(a.reused for a in again.arms)

    audit = api.audit_determinism(None, "humaneval", **opts)  # type: ignore[arg-type]
    assert [a.arm.batch_size for a in audit.arms] == [1, 8]
    with Store(store) as db:
        texts = [{s.task_id: s.raw_output for s in db.samples(a.run_id)} for a in audit.arms]
    differing = {t for t in texts[0] if texts[0][t] != texts[1][t]}
    assert {d.task_id for d in audit.divergences} == differing
    assert audit.deterministic == (not differing)
    assert audit.effects[0].diff.estimate == pytest.approx(
        audit.arms[1].pass_at_1 - audit.arms[0].pass_at_1
    )

    page = tmp_path / "report.html"
    api.report(store, [str(result.reproduce_id), str(audit.audit_id)], output=page)
    html = page.read_text()
    assert f"#{result.reproduce_id} reproduce: qwen2.5-coder-0.5b-instruct on humaneval" in html
    assert f"#{audit.audit_id} audit-determinism" in html
    assert "signature not pre-filled" in html and "<svg" in html

    table = _cli(store, "reproduce", "--factors", factors, "--published", "0", "--limit", "1",
                 "--data-dir", str(data_dir), "--threads", "2")  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "not varied: weights" in table.stdout and "closest:" in table.stdout
    args = ["audit", "determinism", "--limit", "1", "--data-dir", str(data_dir), "--json"]
    out = json.loads(_cli(store, *args).stdout)
    assert [a["run_id"] for a in out["arms"]] == [a.run_id for a in audit.arms]
