"""The information-ceiling planner (benchmarks/information_ceiling.py) plays from the observations alone.

Its figure, what play that cannot see the hidden traits reaches as a share of the oracle, is honest only if
the planner never reads them: its choices must be a function of what the customer showed (and its own
seed), whatever the customer behind the observations is. Its belief must also be a belief: readings that
point to a specialist's case must move it there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cs_env.env import CustomerSupportEnv
from cs_env.evaluate import rollout
from tests.benchmark_helpers import load_benchmark

ic = load_benchmark("information_ceiling")


def small_planner(seed: int = 3) -> Any:
    return ic.BeliefPlanner(particles=64, plan_particles=4, rollouts=2, seed=seed)


def test_the_planner_asks_for_no_hidden_state() -> None:
    # rollout passes the hidden state only to a policy that sets needs_state (the oracle)
    planner = small_planner()
    assert not getattr(planner, "needs_state", False)
    with pytest.raises(TypeError):
        planner(np.zeros(18, dtype=np.float32), state=object())


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_choices_stay_the_same_when_the_hidden_customer_changes_behind_the_same_observations(seed: int) -> None:
    # A conversation with a customer who needs a specialist; then the same observations shown to a fresh
    # planner (same seed) while the env behind them holds a customer whose every hidden trait differs:
    # the choices must be the same, turn for turn.
    real = CustomerSupportEnv()
    obs, _ = real.reset(seed=seed, options={"inquiry": "fraud_report", "needs_specialist": True, "complexity": 0.9})
    first, shown, done = small_planner(), [obs], False
    actions = []
    while not done:
        actions.append(first(obs))
        obs, _, terminated, truncated, _ = real.step(actions[-1])
        done = terminated or truncated
        shown.append(obs)
    other = CustomerSupportEnv()
    other.reset(
        seed=seed + 100,
        options={
            "inquiry": "fraud_report",
            "needs_specialist": False,
            "complexity": 0.1,
            "savvy": 1.0,
            "patience": 0.1,
        },
    )
    assert other.hidden_traits()["needs_specialist"] != real.hidden_traits()["needs_specialist"]
    second, replayed, other_done = small_planner(), [], False
    for observation in shown[: len(actions)]:
        replayed.append(second(observation))
        if not other_done:  # the other customer goes on being served, unseen by the planner
            _, _, terminated, truncated, _ = other.step(replayed[-1])
            other_done = terminated or truncated
    assert replayed == actions


def test_the_belief_learns_who_needs_a_specialist() -> None:
    # After the opening (the specialist hint) and each turn (what a solution achieved), the belief's
    # P(needs a specialist) must beat the best constant guess (the share of such cases) by a wide margin.
    planner = ic.BeliefPlanner(particles=256, plan_particles=2, rollouts=2, seed=3)
    played = rollout(planner, industry="mixed", episodes=150, seed=21)
    assert played.needs_specialist is not None
    ids, belief, _ = planner.specialist_belief[0]
    truth = played.needs_specialist[ids]
    constant = truth.mean()
    assert np.mean((belief - truth) ** 2) < 0.5 * np.mean((constant - truth) ** 2)
    # the filter explains what the customers showed: a conversation whose readings no particle explains is
    # filtered again from its opening; one still unexplained is rare
    assert planner.collapses <= 3


@pytest.mark.parametrize(
    ("flag", "value"), [("--customers", "0"), ("--customers", "20001"), ("--particles", "9000"), ("--rollouts", "x")]
)
def test_counts_past_their_ceiling_are_usage_errors(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        ic.main([flag, value])
    assert exit_.value.code == 2
    assert flag in capsys.readouterr().err


class _Watched:
    """The planner, keeping per conversation what it was shown and what it chose."""

    def __init__(self, planner: Any) -> None:
        self.planner, self.name = planner, planner.name
        self.seen: dict[int, list[tuple[np.ndarray, int]]] = {}

    def __call__(self, obs: np.ndarray, episodes: np.ndarray) -> np.ndarray:
        actions = np.asarray(self.planner(obs, episodes=episodes))
        for row, e, a in zip(obs, episodes.tolist(), actions.tolist(), strict=True):
            self.seen.setdefault(e, []).append((np.asarray(row, dtype=np.float32), a))
        return actions


def test_recordings_replay_through_the_warm_start_to_what_the_planner_saw_and_chose(tmp_path: Path) -> None:
    # cs-tui train --warm-start DIR fits the policy to the recordings' (observation, action) pairs: they must
    # be the planner's own, turn for turn, or the policy would imitate choices made on other readings
    from cs_tui.training.warm_start import recorded_demonstrations

    watched = _Watched(small_planner())
    returns = ic.record_conversations(watched, tmp_path, 6, 50_000, block=4)
    assert len(returns) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"mixed-seed{50_000 + i}.json" for i in range(6)]
    observations, actions, recordings = recorded_demonstrations(tmp_path)
    turns = [turn for i in range(6) for turn in watched.seen[i]]  # the files sort in seed order
    assert recordings == 6
    assert actions.tolist() == [a for _, a in turns]
    np.testing.assert_array_equal(observations, np.stack([o for o, _ in turns]))


@pytest.mark.parametrize("customers", ["0", "20001", "many"])
def test_a_bad_record_count_is_a_usage_error(
    customers: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        ic.main(["--record", str(tmp_path / "out"), "--customers", customers])
    assert exit_.value.code == 2
    assert "--customers" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_record_into_a_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    with pytest.raises(SystemExit) as exit_:
        ic.main(["--record", str(target), "--customers", "2"])
    assert exit_.value.code == 2
    assert "not a folder" in capsys.readouterr().err
