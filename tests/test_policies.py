"""The blind script and the lookup table: the baselines that show what a trained agent adds over a table."""

from __future__ import annotations

import numpy as np

from cs_env.domain import ResponseStrategy
from cs_env.evaluate import metrics, rollout
from cs_env.policies import FixedPolicy, LookupTablePolicy, ScriptPolicy, fit_lookup_table, lookup_cells

S = ResponseStrategy


def observations(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    obs = rng.random((n, 18)).astype(np.float32)
    obs[:, 0] = rng.integers(0, 15, n)
    obs[:, 1] = rng.integers(0, 5, n)
    obs[:, 3] = rng.integers(0, 10, n)
    obs[:, 4] = rng.integers(0, 3, n)
    return obs


def test_the_blind_script_plays_empathy_then_the_quick_fix_then_technical_to_the_end() -> None:
    obs = observations(40)
    expected = np.where(obs[:, 3] == 0, S.EMPATHETIC, np.where(obs[:, 3] == 1, S.QUICK_RESOLUTION, S.TECHNICAL))
    np.testing.assert_array_equal(ScriptPolicy()(obs), expected)
    assert ScriptPolicy()(obs[0]) == int(expected[0]) and isinstance(ScriptPolicy()(obs[0]), int)


def test_the_lookup_table_reads_only_the_inquiry_sentiment_tier_and_turn() -> None:
    policy = LookupTablePolicy("mixed", 10)
    policy._table = fit_lookup_table("mixed", 10, episodes=1000, seed=99, passes=1)
    assert policy._table.shape == (15 * 5 * 3, 10)
    obs = observations(200)
    other = observations(200, seed=1)
    other[:, [0, 1, 3, 4]] = obs[:, [0, 1, 3, 4]]  # everything else differs
    np.testing.assert_array_equal(policy(obs), policy(other))
    cells = (obs[:, 0].astype(int) * 5 + obs[:, 1].astype(int)) * 3 + obs[:, 4].astype(int)
    np.testing.assert_array_equal(policy(obs), policy._table[cells, obs[:, 3].astype(int)])


def test_the_hint_binned_table_also_reads_the_specialist_hint_in_three_bins() -> None:
    obs = observations(3)
    obs[:, 17] = (0.2, 0.5, 0.9)  # the frontline's, either, a specialist's
    plain = lookup_cells(obs, ("sentiment", "tier"))
    np.testing.assert_array_equal(lookup_cells(obs, ("sentiment", "tier", "hint")), plain * 3 + np.arange(3))
    assert LookupTablePolicy("mixed", 10, ("sentiment", "tier", "hint")).name == "lookup_hint"


def test_a_fitted_table_beats_every_fixed_strategy_on_conversations_it_was_not_fitted_on() -> None:
    policy = LookupTablePolicy("mixed", 10)
    policy._table = fit_lookup_table("mixed", 10, episodes=3000, seed=99, passes=1)
    table = metrics(rollout(policy, episodes=3000, seed=5)).mean_return
    best_fixed = max(metrics(rollout(FixedPolicy(a), episodes=3000, seed=5)).mean_return for a in range(8))
    assert table > best_fixed + 0.1
