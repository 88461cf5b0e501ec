"""Scenarios: the catalog is valid data, trials replay exactly, pass^k is right, and the criteria discriminate."""

from __future__ import annotations

import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from cs_env import CustomerSupportEnv
from cs_env.domain import STRATEGY_NAMES
from cs_env.policies import HeuristicPolicy, OraclePolicy, RandomPolicy
from cs_env.scenarios import (
    SCENARIO_DIR,
    Criterion,
    Scenario,
    ScenarioDataError,
    ScenarioResult,
    Threshold,
    Thresholds,
    Trial,
    load_scenarios,
    load_thresholds,
    pass_hat_k,
    replay,
    run_scenario,
)


# -- the catalog -------------------------------------------------------------------------------
def test_catalog_has_at_least_15_scenarios_and_4_per_industry() -> None:
    catalog = load_scenarios()
    assert len(catalog) >= 15
    per_industry = Counter(s.industry for s in catalog)
    assert all(per_industry[industry] >= 4 for industry in ("bfsi", "retail", "tech")), per_industry
    assert len({s.name for s in catalog}) == len(catalog)


def test_every_scenario_pins_a_start_the_env_accepts_and_states_a_criterion() -> None:
    for scenario in load_scenarios():
        env = scenario.make_env()
        info = env.named_info(env.reset(seed=1, options=scenario.options)[1])
        if "inquiry" in scenario.options:
            assert info["inquiry_type"] == scenario.options["inquiry"]
        if "tier" in scenario.options:
            assert info["tier"] == scenario.options["tier"]
        assert scenario.criterion.outcomes and scenario.criterion.describe()
        assert scenario.title and scenario.description


def test_the_shipped_thresholds_load_and_name_catalog_scenarios() -> None:
    thresholds = load_thresholds()
    assert thresholds.k >= 1
    assert thresholds.overall.min_pass_rate is not None
    assert set(thresholds.per_scenario) <= {s.name for s in load_scenarios()}


GOOD = """
[scenarios.probe]
title = "A probe"
industry = "bfsi"
description = "For tests."
start = { inquiry = "fraud_report", urgency = 4 }
[scenarios.probe.pass]
outcome = "escalated"
max_turns = 2
"""


def write(folder: Path, text: str, name: str = "probe.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_scenario_can_ask_for_the_sale(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("max_turns = 2", 'sold = true\navoid = "upsell"'))
    (probe,) = load_scenarios(tmp_path)
    assert probe.criterion == Criterion(outcomes=("escalated",), sold=True, avoid=("upsell",))
    assert probe.criterion.describe() == "escalated, sold, no upsell"


def test_a_new_file_adds_scenarios(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    (probe,) = load_scenarios(tmp_path)
    assert probe.name == "probe" and probe.industry == "bfsi"
    assert probe.options == {"inquiry": "fraud_report", "urgency": 4}
    assert probe.criterion == Criterion(outcomes=("escalated",), max_turns=2)
    assert probe.path == tmp_path / "probe.toml"


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ('industry = "bfsi"', 'industry = "banking"', "scenarios.probe.industry", "valid: bfsi, retail, tech, mixed"),
        ("urgency = 4 }", "urgency = 9 }", "scenarios.probe.start", "urgency"),
        ("urgency = 4 }", 'mood = "sad" }', "scenarios.probe.start", "unknown reset option 'mood'"),
        ('"fraud_report"', '"order_status"', "scenarios.probe.start", "is not one of 'bfsi'"),
        ('outcome = "escalated"', 'outcome = "won"', "scenarios.probe.pass.outcome", "unknown value 'won'"),
        ("max_turns = 2", "max_turns = 0", "scenarios.probe.pass.max_turns", "from 1 to 1,000"),
        ('title = "A probe"', 'title = "A probe"\nmax_turns = 5000', "scenarios.probe.max_turns", "from 1 to 1,000"),
        ("max_turns = 2", "min_satisfaction = 1.5", "scenarios.probe.pass.min_satisfaction", "outside [0.0, 1.0]"),
        ("max_turns = 2", 'avoid = ["shouting"]', "scenarios.probe.pass.avoid", "valid: empathetic"),
        ("max_turns = 2", "sold = false", "scenarios.probe.pass.sold", "got false; valid: true (leave the key out"),
        ("max_turns = 2", 'sold = "yes"', "scenarios.probe.pass.sold", "got 'yes'; valid: true"),
        ("max_turns = 2", "sold = 1", "scenarios.probe.pass.sold", "got 1; valid: true"),
        (
            "max_turns = 2",
            'sold = true\navoid = ["upsell", "product_recommend"]',
            "scenarios.probe.pass.sold",
            "can never hold: a sale needs an offer (product_recommend or upsell) and avoid rules out both",
        ),
        ("max_turns = 2", "within = 2", "scenarios.probe.pass.within", "unknown key"),
        ('title = "A probe"\n', "", "scenarios.probe.title", "missing"),
        ('outcome = "escalated"\n', "", "scenarios.probe.pass.outcome", "missing"),
    ],
)
def test_a_malformed_file_is_refused_naming_file_key_and_problem(
    tmp_path: Path, old: str, new: str, key: str, problem: str
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ScenarioDataError) as err:
        load_scenarios(tmp_path)
    message = str(err.value)
    assert str(path) in message and f"key '{key}'" in message and problem in message, message


def test_broken_toml_and_duplicate_names_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "a", GOOD.replace("[scenarios.probe.pass]", "[scenarios.probe.pass"))
    with pytest.raises(ScenarioDataError, match=f"{path}: cannot be read as TOML"):
        load_scenarios(tmp_path / "a")
    write(tmp_path / "b", GOOD, "one.toml")
    second = write(tmp_path / "b", GOOD, "two.toml")
    with pytest.raises(ScenarioDataError, match=f"{second}: key 'scenarios.probe': name already used in one.toml"):
        load_scenarios(tmp_path / "b")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScenarioDataError, match="no scenario files"):
        load_scenarios(tmp_path / "empty")


def test_a_malformed_thresholds_file_names_file_key_and_problem(tmp_path: Path) -> None:
    catalog = load_scenarios()
    bad_name = write(tmp_path, "k = 2\n[scenarios.no_such]\nmin_pass_rate = 0.5\n", "t1.toml")
    with pytest.raises(ScenarioDataError, match=f"{bad_name}: key 'scenarios.no_such': no such scenario; known: "):
        load_thresholds(bad_name, scenarios=catalog)
    bad_value = write(tmp_path, "[overall]\nmin_pass_rate = 75\n", "t2.toml")
    with pytest.raises(ScenarioDataError, match=r"key 'overall.min_pass_rate': 75 is outside \[0.0, 1.0\]"):
        load_thresholds(bad_value, scenarios=catalog)
    missing = tmp_path / "nope.toml"
    with pytest.raises(ScenarioDataError, match=f"{missing}: cannot be read"):
        load_thresholds(missing, scenarios=catalog)


def test_a_copy_of_the_shipped_catalog_loads_from_another_folder(tmp_path: Path) -> None:
    for path in SCENARIO_DIR.glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    assert [s.name for s in load_scenarios(tmp_path)] == [s.name for s in load_scenarios()]


# -- running and replaying ---------------------------------------------------------------------
def test_trial_records_replay_exactly_through_the_public_env_api() -> None:
    catalog = load_scenarios()
    checked = 0
    for policy in (HeuristicPolicy(), RandomPolicy(3)):
        for scenario in catalog[::3]:
            result = run_scenario(policy, scenario, trials=3, seed=11)
            assert [t.seed for t in result.trials] == [11, 12, 13]
            for trial in result.trials:
                env = CustomerSupportEnv(scenario.industry, max_turns=scenario.max_turns)
                env.reset(seed=trial.seed, options=scenario.options)
                rewards, info = [], {}
                for action in trial.actions:
                    _, reward, terminated, truncated, info = env.step(action)
                    rewards.append(reward)
                assert terminated or truncated
                assert tuple(rewards) == trial.rewards  # bit for bit, not approximately
                assert (
                    env.named_info(info)["outcome"] == trial.outcome
                    and info["hidden_satisfaction"] == trial.satisfaction
                )
                assert trial.turns == len(trial.actions) and trial.total_return == sum(trial.rewards)
                checked += 1
    assert checked >= 30


def test_replay_helper_and_the_oracle_agree_with_the_run() -> None:
    scenario = next(s for s in load_scenarios() if s.name == "critical_bug_vip")
    result = run_scenario(OraclePolicy("mixed", 10, seed=0), scenario, trials=4, seed=5)
    for trial in result.trials:
        env = replay(scenario, trial)
        assert [rec.action for rec in env.history] == list(trial.actions)
        assert [rec.reward for rec in env.history] == list(trial.rewards)


def test_same_policy_and_seed_give_the_same_result() -> None:
    scenario = load_scenarios()[2]
    first = run_scenario(RandomPolicy(7), scenario, trials=6, seed=3)
    second = run_scenario(RandomPolicy(7), scenario, trials=6, seed=3)
    assert first.trials == second.trials


def test_run_scenario_refuses_a_bad_trial_count() -> None:
    with pytest.raises(ValueError, match="trials must be a positive integer"):
        run_scenario(HeuristicPolicy(), load_scenarios()[0], trials=0)


# -- the criterion -----------------------------------------------------------------------------
def test_criterion_checks_each_condition_and_says_which_failed() -> None:
    rule = Criterion(("resolved",), max_turns=5, min_satisfaction=0.7, min_return=1.0, avoid=("upsell",))
    upsell = STRATEGY_NAMES.index("upsell")
    assert rule.failure("resolved", 5, 0.7, 1.0, [0, 1], 0) == ""
    assert rule.failure("escalated", 1, 0.9, 2.0, [2], 0) == "ended escalated, expected resolved"
    assert rule.failure("resolved", 6, 0.9, 2.0, [0], 0) == "took 6 turns, limit 5"
    assert rule.failure("resolved", 3, 0.69, 2.0, [0], 0) == "satisfaction 0.69 below 0.70"
    # never "0.70 below 0.70": enough digits to show the difference
    assert rule.failure("resolved", 3, 0.6996, 2.0, [0], 0) == "satisfaction 0.6996 below 0.7000"
    assert rule.failure("resolved", 3, 0.9, 0.5, [0], 0) == "return 0.50 below 1.00"
    assert rule.failure("resolved", 3, 0.9, 2.0, [0, upsell], 1) == "used upsell, which this scenario rules out"
    assert rule.describe() == "resolved in ≤5 turns, sat ≥0.70, return ≥1.00, no upsell"


def test_a_sale_criterion_passes_only_a_trial_in_which_the_customer_bought() -> None:
    rule = Criterion(("resolved",), max_turns=5, sold=True)
    recommend, upsell = STRATEGY_NAMES.index("product_recommend"), STRATEGY_NAMES.index("upsell")
    assert rule.failure("resolved", 3, 0.9, 2.0, [recommend, 6, 6], 1) == ""
    assert rule.failure("resolved", 3, 0.9, 2.0, [6, 6, 6], 0) == "made no offer, and this scenario asks for a sale"
    assert (
        rule.failure("resolved", 4, 0.9, 2.0, [upsell, recommend, 6, 6], 0)
        == "the customer bought nothing (product_recommend and upsell offered), and this scenario asks for a sale"
    )
    # the other conditions still hold first: a sale does not excuse a conversation that ran too long
    assert rule.failure("resolved", 6, 0.9, 2.0, [recommend, 6, 6, 6, 6, 6], 1) == "took 6 turns, limit 5"
    assert rule.describe() == "resolved in ≤5 turns, sold"


class _OnlyQuickAnswers:
    """Answers every turn with quick_resolution: fast and satisfying, and never an offer."""

    def __call__(self, obs: np.ndarray) -> int:
        return STRATEGY_NAMES.index("quick_resolution")


def test_the_sales_stories_ask_for_a_sale_that_no_offer_cannot_pass() -> None:
    """On v1 a quick answer with no offer reached the sales stories' old return bars; now they ask for the
    sale itself (``sold = true``), so a conversation without an offer never passes them, and a trial
    passes only when the customer bought (what ``info["hidden_offer_sold"]`` says, step by step)."""
    catalog = {s.name: s for s in load_scenarios()}
    sales = {"vip_loan_cross_sell", "vip_discount_upsell", "gift_shopper", "vip_feature_upsell"}
    assert {name for name, s in catalog.items() if s.criterion.sold} == sales
    for name in sorted(sales):
        scenario = catalog[name]
        no_offer = run_scenario(_OnlyQuickAnswers(), scenario, trials=12, seed=0)
        assert no_offer.passes == 0, [t.reason for t in no_offer.trials]
        assert any(t.reason == "made no offer, and this scenario asks for a sale" for t in no_offer.trials)
        for trial in run_scenario(OraclePolicy("mixed", scenario.max_turns, seed=0), scenario, trials=6, seed=0).trials:
            env = scenario.make_env()
            env.reset(seed=trial.seed, options=scenario.options)
            bought = sum(int(env.step(a)[4]["hidden_offer_sold"]) for a in trial.actions)
            assert trial.offers_sold == bought == env.hidden_traits()["offers_sold"]
            assert not trial.passed or bought >= 1


def test_trial_verdicts_follow_the_criterion() -> None:
    for scenario in load_scenarios():
        for trial in run_scenario(RandomPolicy(0), scenario, trials=4, seed=0).trials:
            reason = scenario.criterion.failure(
                trial.outcome, trial.turns, trial.satisfaction, trial.total_return, trial.actions, trial.offers_sold
            )
            assert trial.passed == (reason == "")
            assert trial.reason == (reason or trial.reason) and trial.reason


# -- pass^k ------------------------------------------------------------------------------------
def test_pass_hat_k_known_values() -> None:
    assert pass_hat_k(4, 3, 2) == pytest.approx(0.5)  # C(3,2)/C(4,2) = 3/6
    assert pass_hat_k(8, 6, 1) == pytest.approx(0.75)  # k = 1 is the pass rate
    assert pass_hat_k(5, 5, 5) == 1.0
    assert pass_hat_k(5, 4, 5) == 0.0  # one failure among n and pass^n is 0
    assert pass_hat_k(10, 2, 3) == 0.0  # fewer passes than k


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_pass_hat_k_is_unbiased_for_p_to_the_k(p: float) -> None:
    n, k = 8, 3
    expectation = sum(math.comb(n, c) * p**c * (1 - p) ** (n - c) * pass_hat_k(n, c, k) for c in range(n + 1))
    assert expectation == pytest.approx(p**k, rel=1e-12)


def test_pass_hat_k_refuses_k_beyond_the_trials() -> None:
    with pytest.raises(ValueError, match="k must be between 1 and the number of trials"):
        pass_hat_k(3, 3, 4)
    with pytest.raises(ValueError, match="passes must be between 0 and trials"):
        pass_hat_k(3, 4, 1)


def _result(scenario: Scenario, verdicts: list[bool]) -> ScenarioResult:
    trials = tuple(Trial(i, (0,), (0.0,), "resolved", 1.0, 1, 0.0, ok, "x", 0) for i, ok in enumerate(verdicts))
    return ScenarioResult(scenario, trials)


def test_thresholds_report_each_miss() -> None:
    first, second = load_scenarios()[:2]
    results = [_result(first, [True, True, True, False]), _result(second, [True, False, False, False])]
    assert results[0].pass_rate == 0.75 and results[0].pass_hat_k(2) == pytest.approx(0.5)
    lenient = Thresholds(k=2, overall=Threshold(0.5, 0.2), per_scenario={})
    assert lenient.misses(results) == []
    strict = Thresholds(k=2, overall=Threshold(0.6, 0.3), per_scenario={second.name: Threshold(min_pass_rate=0.5)})
    assert strict.misses(results) == [
        f"{second.name}: pass rate 25% below 50%",
        "overall: pass rate 50% below 60%",
        "overall: pass^2 0.25 below 0.30",
    ]
    # never "0.55 below 0.55" or "84% below 84%": enough digits to show the difference
    near = Thresholds(k=2, overall=Threshold(0.5 + 0.004, 0.25 + 0.004), per_scenario={})
    assert near.misses(results) == ["overall: pass rate 50.0% below 50.4%", "overall: pass^2 0.250 below 0.254"]


# -- calibration: the criteria mean something ---------------------------------------------------
def test_oracle_passes_most_random_rarely_and_the_heuristic_in_between() -> None:
    catalog = load_scenarios()
    rates = {}
    for name, policy in (
        ("oracle", OraclePolicy("mixed", 10, seed=0)),
        ("heuristic", HeuristicPolicy()),
        ("random", RandomPolicy(0)),
    ):
        # 20 trials: at 10 the heuristic's mean reads 81-87 % over seeds, too loose to place a bar against
        rates[name] = float(np.mean([run_scenario(policy, s, trials=20, seed=100).pass_rate for s in catalog]))
    assert rates["oracle"] >= 0.8, rates
    assert rates["random"] <= 0.25, rates
    assert rates["random"] + 0.2 < rates["heuristic"] < rates["oracle"] - 0.1, rates
    thresholds = load_thresholds()
    assert thresholds.overall.min_pass_rate is not None
    # the shipped bar sits between the hand-written rules and the ceiling
    assert rates["heuristic"] < thresholds.overall.min_pass_rate < rates["oracle"], rates


SOLVABLE_TRIALS = 80
SOLVABLE_BAR = 0.7  # a scenario the oracle passes 80 % of the time fails this bar on 80 trials well under 1 % of runs


@pytest.mark.slow
def test_every_scenario_is_solvable_by_the_best_play_with_full_information() -> None:
    """A scenario the oracle (full information) cannot pass is a badly posed test, not a hard one: the
    catalog is calibrated to oracle >= 80 % per scenario (python -m cs_env.scenarios --trials 100); on
    other seeds each must stay above a bar that sampling noise alone would not cross."""
    rates = {
        s.name: run_scenario(OraclePolicy("mixed", s.max_turns, seed=0), s, SOLVABLE_TRIALS, seed=500).pass_rate
        for s in load_scenarios()
    }
    assert {name: rate for name, rate in rates.items() if rate < SOLVABLE_BAR} == {}, rates
