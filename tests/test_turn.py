"""The two kernels of cs_env.turn are one set of rules: played side by side they agree exactly."""

from __future__ import annotations

import numpy as np
import pytest

from cs_env.customer import CUSTOMER_DRAWS, TURN_DRAWS, CustomerState, Tables, new_customers
from cs_env.domain import N_STRATEGIES, Outcome
from cs_env.dynamics import DYNAMICS, Dynamics
from cs_env.industries import default_catalog
from cs_env.turn import BatchTurn, observe_one, play_turn

PINS = (
    {"tier": 2, "sentiment": 0, "complexity": 0.9},  # a furious VIP with a complex issue
    {"inquiry": 0, "urgency": 4, "needs_specialist": 1.0},
    {"openness": 1.0, "sentiment": 4, "patience": 0.05},
    {"savvy": 0.0, "complexity": 0.0},
)


def _customers(industry: str, n: int, rng: np.random.Generator) -> CustomerState:
    """n drawn customers and a few pinned ones, as the single env draws them (float64)."""
    tables = Tables.build(default_catalog(), industry)
    drawn = new_customers(tables, rng.random((CUSTOMER_DRAWS, n)))
    pinned = [new_customers(tables, rng.random((CUSTOMER_DRAWS, 1)), pins).unstack()[0] for pins in PINS * 50]
    return CustomerState.stack(drawn.unstack() + pinned)


@pytest.mark.parametrize(("industry", "max_turns"), [("mixed", 10), ("bfsi", 3), ("tech", 6)])
def test_the_scalar_and_the_batch_kernel_play_every_turn_alike(industry: str, max_turns: int) -> None:
    """play_turn on each conversation and BatchTurn on all of them at once, from the same customers
    and draws: the same reward components, outcomes, hidden state and observations, to the last bit.
    A rule changed in one kernel and not the other fails here."""
    rng = np.random.default_rng(7)
    batch = _customers(industry, 4000, rng)
    singles = batch.unstack()
    kernel = BatchTurn(DYNAMICS, max_turns)
    n = len(singles)
    seen_outcomes: set[int] = set()
    for turn in range(max_turns):
        a = rng.integers(0, N_STRATEGIES, n)
        u = rng.random((TURN_DRAWS, n))
        components, outcome = kernel.play(batch, a, u)
        for i, s in enumerate(singles):
            *parts, code = play_turn(DYNAMICS, s, int(a[i]), u[:, i].tolist(), max_turns)
            assert code == outcome[i], (turn, i)
            assert parts == components[:, i].tolist(), (turn, i)
        seen_outcomes.update(outcome.tolist())
        columns = {name: getattr(batch, name).tolist() for name in CustomerState.__slots__}
        for i, s in enumerate(singles):
            for name, column in columns.items():
                assert getattr(s, name) == column[i], (turn, i, name)
        expected = np.stack([observe_one(s) for s in singles])
        assert np.ascontiguousarray(kernel.observe(batch)).tobytes() == expected.tobytes()
    if max_turns == 10:
        assert seen_outcomes == {int(o) for o in Outcome}  # every way a turn can end was compared


def test_a_coefficient_is_one_edit_that_both_kernels_read() -> None:
    """Dynamics is the one table: a changed coefficient moves both kernels, and alike."""
    rng = np.random.default_rng(1)
    base = _customers("retail", 500, rng)
    a = np.full(len(base.sat), 1)  # technical: its time cost drains patience
    u = rng.random((TURN_DRAWS, len(base.sat)))
    slower = Dynamics(time_cost=(0.06, 0.5, 0.04, 0.07, 0.05, 0.13, 0.05, 0.07))
    results = {}
    for name, dynamics in (("default", DYNAMICS), ("slower", slower)):
        batch, singles = base.copy(), base.unstack()
        BatchTurn(dynamics, 10).play(batch, a, u)
        for i, s in enumerate(singles):
            play_turn(dynamics, s, 1, u[:, i].tolist(), 10)
        assert [s.patience for s in singles] == batch.patience.tolist()
        results[name] = batch.patience
    assert (results["slower"] < results["default"]).all()
