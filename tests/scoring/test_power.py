"""Power of the paired test: the exact formula against simulation of the test codeduel runs,
sample sizes at the boundary, and the `plan` command on real stored runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from codeduel import api
from codeduel.cli import app
from codeduel.errors import CodeduelError
from codeduel.scoring.power import (
    independent_discordance,
    mcnemar_power,
    minimum_detectable_difference,
    plan,
    problems_needed,
)
from codeduel.scoring.stats import mcnemar_exact
from codeduel.tasks import get_task


def _simulated_power(n: int, p: float, delta: float, psi: float, reps: int, seed: int) -> float:
    """Draw paired outcomes with the stated rates and run codeduel's own McNemar test."""
    rng = np.random.default_rng(seed)
    a_only, b_only = (psi - delta) / 2, (psi + delta) / 2
    both = p - a_only
    cells = np.array([both, a_only, b_only, 1 - both - a_only - b_only])
    rejected = 0
    for _ in range(reps):
        kind = rng.choice(4, size=n, p=cells)
        a = (kind == 0) | (kind == 1)
        b = (kind == 0) | (kind == 2)
        rejected += mcnemar_exact(a, b).p_value <= 0.05
    return rejected / reps


@pytest.mark.parametrize(
    ("n", "p", "delta", "psi"),
    [(100, 0.4, 0.1, 0.2), (164, 0.45, 0.05, 0.12), (60, 0.7, -0.1, 0.3), (80, 0.5, 0.0, 0.2)],
)
def test_exact_power_matches_simulating_the_test_compare_uses(
    n: int, p: float, delta: float, psi: float
) -> None:
    exact = mcnemar_power(n, p, delta, discordance=psi)
    simulated = _simulated_power(n, p, delta, psi, reps=3000, seed=n)
    se = max(np.sqrt(exact * (1 - exact) / 3000), 1e-3)
    assert abs(exact - simulated) < 4 * se, (exact, simulated)
    if delta == 0:
        assert exact <= 0.05  # the exact test never exceeds its level


def test_power_curve_rises_with_the_gain_and_the_problems() -> None:
    gains = [mcnemar_power(164, 0.45, d, discordance=0.2) for d in (0.02, 0.05, 0.1, 0.15)]
    assert gains == sorted(gains) and gains[0] < 0.2 and gains[-1] > 0.95
    sizes = [mcnemar_power(n, 0.45, 0.05, discordance=0.2) for n in (100, 400, 1600)]
    assert sizes == sorted(sizes) and sizes[-1] > 0.99
    # more disagreement at the same gain is harder to tell from noise
    assert mcnemar_power(164, 0.45, 0.05, discordance=0.1) > mcnemar_power(
        164, 0.45, 0.05, discordance=0.3
    )


def test_problems_needed_is_the_boundary_and_agrees_with_the_normal_approximation() -> None:
    n = problems_needed(0.45, 0.05, discordance=0.2)
    assert n is not None
    assert mcnemar_power(n, 0.45, 0.05, discordance=0.2) >= 0.8
    assert mcnemar_power(n - 1, 0.45, 0.05, discordance=0.2) < 0.8
    # McNemar's classical sample size: (z_a/2 + z_b)^2 * psi / delta^2 (a few % below exact)
    approx = (1.959964 + 0.841621) ** 2 * 0.2 / 0.05**2
    assert approx <= n <= 1.1 * approx
    psi = independent_discordance(0.45, 0.03)
    assert psi == pytest.approx(0.45 * 0.52 + 0.55 * 0.48)
    assert problems_needed(0.45, 0.03) > 4 * problems_needed(0.45, 0.03, discordance=0.12)


def test_minimum_detectable_difference_on_humaneval_size() -> None:
    mdd = minimum_detectable_difference(164, 0.45, discordance=0.15)
    assert mdd is not None
    assert mcnemar_power(164, 0.45, mdd, discordance=0.15) >= 0.8
    assert mcnemar_power(164, 0.45, mdd - 0.001, discordance=0.15) < 0.8


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"p_base": 1.2, "delta": 0.1}, "baseline"),
        ({"p_base": 0.95, "delta": 0.1}, "outside 0..1"),
        ({"p_base": 0.5, "delta": 0.0}, "delta is 0"),
        ({"p_base": 0.5, "delta": 0.1, "discordance": 0.05}, "impossible"),
        ({"p_base": 0.5, "delta": 0.1, "power": 1.5}, "power"),
    ],
)
def test_bad_plans_are_one_line(kwargs: dict, words: str) -> None:
    with pytest.raises(CodeduelError) as exc:
        plan(**kwargs)
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_plan_command_measures_disagreement_from_two_stored_runs(
    tmp_path: Path, data_dir: Path
) -> None:
    """Two real greedy runs of HumanEval (canonical solutions; the same with every 4th body
    returning None) disagree on a quarter of the problems: --like measures that share."""
    store = tmp_path / "r.sqlite"
    ids = []
    for name, body in (("good", None), ("bad", "    return None\n")):
        path = tmp_path / f"{name}.jsonl"
        rows = []
        for i, p in enumerate(get_task("humaneval", data_dir).problems()[:20]):
            broken = body is not None and i % 4 == 0
            rows.append({"task_id": p.task_id, "completion": body if broken else p.reference})
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        ids.append(api.evaluate(path, "humaneval", data_dir=data_dir, store=store, k=(1,)).run_id)
    good, bad_run = (api.run_verdicts(i, store) for i in ids)
    disagree = [a.passed != b.passed for a, b in zip(good, bad_run, strict=True)]
    args = ["plan", "--baseline", "45", "--delta", "5", "--like", f"{ids[0]},{ids[1]}"]
    args += ["--store", str(store), "--task", "humaneval", "--data-dir", str(data_dir), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert sum(disagree) == 5
    assert report["discordance"] == pytest.approx(0.25)
    assert report["n_problems"] == 164 and report["problems_needed"] > 0
    assert not report["assumed_independent"]
    bad = CliRunner().invoke(app, ["plan", "--baseline", "45", "--delta", "5", "--like", "1"])
    assert bad.exit_code == 2 and "two run ids" in bad.output
    bad = CliRunner().invoke(app, ["plan", "--baseline", "45", "--delta", "5", "--samples", "x"])
    assert bad.exit_code == 2 and "invalid --samples 'x'" in bad.output
    args = ["plan", "--baseline", "45", "--delta", "30", "--samples", "1,4"]
    shown = CliRunner().invoke(app, args)
    assert shown.exit_code == 0, shown.output
    assert "1 sample(s) per problem:" in shown.output and "4 sample(s) per problem:" in shown.output


def test_simulated_power_with_one_sample_matches_the_exact_mcnemar_power() -> None:
    """The simulation applies the test `compare` runs; with one sample per problem that is
    McNemar's, whose power is known exactly once the population's discordance is."""
    from scipy import stats as sps

    from codeduel.scoring.power import _population, simulated_power

    p_base, delta = 0.45, 0.08
    a, b, shift = _population(p_base, delta, 1.0)
    grid = np.clip(sps.beta.ppf((np.arange(4000) + 0.5) / 4000, a, b), 1e-9, 1 - 1e-9)
    better = 1 / (1 + np.exp(-(np.log(grid) - np.log1p(-grid) + shift)))
    assert better.mean() - grid.mean() == pytest.approx(delta, abs=1e-6)
    psi = float((grid * (1 - better) + (1 - grid) * better).mean())
    for problems in (150, 300):
        exact = mcnemar_power(problems, p_base, delta, discordance=psi)
        simulated = simulated_power(problems, 1, p_base, delta, simulations=400)
        assert simulated == pytest.approx(exact, abs=0.07)  # 400 draws: SE <= 0.025


def test_more_samples_per_problem_need_fewer_problems_and_the_null_holds_its_level() -> None:
    from codeduel.scoring.power import samples_plan, simulated_power

    # 60 problems: hopeless with one sample each, ample with ten (within-problem noise averages)
    one = simulated_power(60, 1, 0.45, 0.08, simulations=150)
    ten = simulated_power(60, 10, 0.45, 0.08, simulations=150)
    assert one < 0.4 and ten > 0.8
    assert simulated_power(200, 10, 0.45, 0.0, simulations=200) <= 0.08  # alpha 0.05
    plan_ = samples_plan(0.45, 0.3, (1, 10), simulations=60)
    assert plan_[1] is not None and plan_[10] is not None and plan_[10] < plan_[1]
