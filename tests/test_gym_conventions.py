"""Gymnasium conventions the stock clients rely on (issue 15), each checked through the client or Gymnasium's API:
one episode length whatever gym.make is given, no None in info (Tianshou), vector info masks in every
vectorization mode, human rendering that prints each line once, and action masks for MaskablePPO."""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import RecordEpisodeStatistics

from cs_env import ENV_ID, CustomerSupportEnv
from cs_env.domain import FINAL_OUTCOME_NAMES, N_STRATEGIES
from cs_env.dynamics import DYNAMICS
from cs_env.vector import CustomerSupportVectorEnv

# a customer who stays: patient, no specialist needed, and apologies that never resolve the issue
STAYS = {"patience": 1.0, "needs_specialist": False, "complexity": 1.0, "openness": 0.0}
APOLOGETIC = 4


def _longest_run(env: gym.Env, episodes: int = 60) -> tuple[int, list[tuple[int, str, bool]]]:
    """(the longest episode, every episode's (length, outcome, truncated)) under apologies, with a customer
    who never leaves (v1's leaving is a hazard never zero for an upset customer)."""
    env.unwrapped.dynamics = dataclasses.replace(DYNAMICS, leave_base=0.0, leave_per_impatience=0.0)  # type: ignore[attr-defined]
    ends = []
    for seed in range(episodes):
        env.reset(seed=seed, options=STAYS)
        turns = 0
        while True:
            _, _, terminated, truncated, info = env.step(APOLOGETIC)
            turns += 1
            if terminated or truncated:
                ends.append((turns, info["outcome"], truncated))
                break
    return max(t for t, _, _ in ends), ends


# -- 1. one episode length ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "length"),
    [
        ({}, 10),
        ({"max_episode_steps": 20}, 20),  # ended at 10 before, while env.spec said 20
        ({"max_turns": 20}, 20),  # cut at 10 by the registered TimeLimit before, with outcome None
        ({"max_episode_steps": 5}, 5),  # the TimeLimit's truncation reported outcome None before
        ({"max_turns": 12, "max_episode_steps": 12}, 12),
        ({"max_turns": 7, "max_episode_steps": -1}, 7),  # -1: gym.make adds no TimeLimit
    ],
)
def test_gym_make_gives_the_asked_length_and_says_so_everywhere(kwargs: dict[str, Any], length: int) -> None:
    env = gym.make(ENV_ID, industry="retail", **kwargs)
    assert env.spec is not None and env.spec.max_episode_steps == length
    assert env.unwrapped.spec is not None and env.unwrapped.spec.max_episode_steps == length
    assert env.observation_space.high[3] == length
    longest, ends = _longest_run(env)
    assert longest == length
    for turns, outcome, truncated in ends:  # every cut is the env's own timeout, never a silent one
        assert truncated == (outcome == "timeout") == (turns == length)
    # a spec recreates the same env (as SB3's and RL Zoo's saved configs do)
    again = gym.make(env.spec)
    assert again.unwrapped.max_turns == length and again.spec is not None and again.spec.max_episode_steps == length


def test_two_different_lengths_are_an_error_at_make() -> None:
    with pytest.raises(ValueError, match=r"max_turns=20 and max_episode_steps=15 disagree: pass one of them"):
        gym.make(ENV_ID, max_turns=20, max_episode_steps=15)
    with pytest.raises(ValueError, match=r"max_turns=20 and max_episode_steps=15 disagree"):
        gym.make_vec(ENV_ID, 2, vectorization_mode="vector_entry_point", max_turns=20, max_episode_steps=15)
    with pytest.raises(
        ValueError, match=r"max_episode_steps must be a positive integer \(or -1: no time limit\), got 0"
    ):
        gym.make(ENV_ID, max_episode_steps=0)


@pytest.mark.parametrize("mode", ["sync", "vector_entry_point"])
@pytest.mark.parametrize("kwargs", [{"max_episode_steps": 20}, {"max_turns": 20}])
def test_make_vec_gives_the_asked_length_in_every_mode(mode: str, kwargs: dict[str, Any]) -> None:
    envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode=mode, **kwargs)
    try:
        assert envs.single_observation_space.high[3] == 20
        turns = envs.get_attr("max_turns") if mode == "sync" else [envs.unwrapped.max_turns]
        assert set(turns) == {20}
        if mode == "vector_entry_point":
            assert envs.spec is not None and envs.spec.max_episode_steps == 20
    finally:
        envs.close()


# -- 2. no None in info ------------------------------------------------------------------------


def _values(info: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for value in info.values():
        out += _values(value) if isinstance(value, dict) else list(np.atleast_1d(value))
    return out


def test_no_info_value_is_ever_none() -> None:
    env, envs = CustomerSupportEnv(), CustomerSupportVectorEnv(64, autoreset_mode="same_step")
    infos = [env.reset(seed=0)[1], envs.reset(seed=0)[1]]
    rng = np.random.default_rng(0)
    for _ in range(30):
        *_, terminated, truncated, info = env.step(int(rng.integers(N_STRATEGIES)))
        infos += [info, envs.step(rng.integers(0, N_STRATEGIES, 64))[4]]
        if terminated or truncated:
            infos.append(env.reset()[1])
    assert not any(value is None for info in infos for value in _values(info))
    assert {"ongoing", *FINAL_OUTCOME_NAMES} >= {str(o) for info in infos for o in np.atleast_1d(info["outcome"])}


def test_tianshous_buffer_holds_our_infos_without_nulls() -> None:
    """What Tianshou's trainer checks after every collection (``MalformedBufferError: Encountered NaNs in
    buffer``, which stopped every Tianshou user while ``outcome`` was None on ongoing turns)."""
    import tianshou as ts
    import torch
    from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
    from tianshou.utils.net.common import Net

    torch.set_num_threads(1)
    # one env: a ReplayBuffer (a VectorReplayBuffer compiles numba code for many seconds; the infos are the same)
    envs = ts.env.DummyVectorEnv([lambda: gym.make(ENV_ID)])
    envs.seed(0)
    space = gym.make(ENV_ID)
    net = Net(state_shape=space.observation_space.shape, action_shape=N_STRATEGIES, hidden_sizes=[8])
    policy = DiscreteQLearningPolicy(model=net, action_space=space.action_space)
    collector = ts.data.Collector(policy, envs, ts.data.ReplayBuffer(200))
    collector.reset()
    stats = collector.collect(n_step=100, random=True)
    assert stats.n_collected_episodes > 0
    assert not collector.buffer.hasnull()
    assert set(collector.buffer.info.outcome) >= {"ongoing"}


# -- 3. vector info masks ----------------------------------------------------------------------


def _consumer(envs: gym.vector.VectorEnv, steps: int = 40) -> tuple[int, set[str], int]:
    """Code written against sync mode: vector RecordEpisodeStatistics and a loop reading ``_outcome``."""
    envs = RecordEpisodeStatistics(envs)
    envs.reset(seed=0)
    envs.action_space.seed(0)
    episodes, outcomes, turns_ok = 0, set(), 0
    for _ in range(steps):
        _, _, terminated, truncated, info = envs.step(envs.action_space.sample())
        ended = (terminated | truncated) & info["_outcome"]
        outcomes.update(info["outcome"][ended])
        assert (info["reward_components"]["_satisfaction"] == info["_reward_components"]).all()
        if "_episode" in info:
            episodes += int(info["_episode"].sum())
            turns_ok += int((info["episode"]["l"][info["_episode"]] >= 1).all())
    return episodes, outcomes, turns_ok


@pytest.mark.parametrize("mode", ["sync", "async", "vector_entry_point"])
def test_the_same_vector_consumer_runs_in_every_mode(mode: str) -> None:
    envs = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode=mode)
    try:
        episodes, outcomes, _ = _consumer(envs)
    finally:
        envs.close()
    assert episodes > 0 and outcomes and outcomes <= set(FINAL_OUTCOME_NAMES)


def test_the_batched_envs_masks_match_sync_modes() -> None:
    def masks(info: dict[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
        out = {}
        for key, value in info.items():
            if isinstance(value, dict):
                out.update(masks(value, f"{prefix}{key}."))
            elif key.startswith("_"):
                out[prefix + key] = value
        return out

    sync = gym.make_vec(
        ENV_ID, num_envs=3, vectorization_mode="sync", vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}
    )
    batched = CustomerSupportVectorEnv(3, autoreset_mode="same_step")
    sync_info, info = sync.reset(seed=[0, 1, 2])[1], batched.reset(seed=[0, 1, 2])[1]
    assert masks(info).keys() == masks(sync_info).keys()
    assert all(m.dtype == np.bool_ and m.all() for m in masks(info).values())
    for _ in range(6):  # escalations end every conversation: final_info is masked to the ended envs
        info = batched.step(np.array([2, 0, 2]))[4]
        if "final_info" in info:
            final = masks(info["final_info"])
            assert all(m.tolist() == info["_final_info"].tolist() for m in final.values())
    sync.close()


# -- 4. human rendering ------------------------------------------------------------------------


def test_human_rendering_prints_each_line_once(capsys: pytest.CaptureFixture[str]) -> None:
    env = gym.make(ENV_ID, render_mode="human")
    env.reset(seed=3)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(APOLOGETIC)
        env.render()  # as rl_zoo3's enjoy does after every step
        done = terminated or truncated
    printed = capsys.readouterr().out.splitlines()
    transcript = env.unwrapped.transcript().splitlines()
    assert printed == transcript  # each line once, in order
    env.reset(seed=4)  # a new conversation starts a new transcript
    assert capsys.readouterr().out.splitlines() == env.unwrapped.transcript().splitlines()


def test_ansi_rendering_returns_the_whole_transcript() -> None:
    env = gym.make(ENV_ID, render_mode="ansi")
    env.reset(seed=3)
    env.step(APOLOGETIC)
    first = env.render()
    env.step(APOLOGETIC)
    second = env.render()
    assert isinstance(first, str) and isinstance(second, str)
    assert second.startswith(first) and second == env.unwrapped.transcript()


# -- 5. action masks ---------------------------------------------------------------------------


def test_maskable_ppo_trains_on_the_env_without_a_wrapper() -> None:
    import torch
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
    from stable_baselines3.common.vec_env import DummyVecEnv

    from cs_tui.training.vecenv import make_training_env

    torch.set_num_threads(1)
    # (SB3's make_vec_env asks for render_mode="rgb_array", which the issue-11 branch adds)
    venv = DummyVecEnv([lambda: gym.make(ENV_ID)] * 2)
    assert is_masking_supported(venv)
    assert get_action_masks(venv).tolist() == [[True] * N_STRATEGIES] * 2
    model = MaskablePPO("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0)
    model.learn(64)
    assert model.num_timesteps == 64
    batched = make_training_env("mixed", 8, seed=0, kind="batched")  # our SB3 adapter over the batched env
    assert is_masking_supported(batched) and get_action_masks(batched).shape == (8, N_STRATEGIES)


def test_one_seed_per_env_gives_sync_modes_customers() -> None:
    """The README's recipe: the batched env's reset(seed=[0, 1, ...]) meets sync mode's reset(seed=0) customers."""
    sync = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode="sync")
    sync_obs, sync_info = sync.reset(seed=0)
    obs, info = CustomerSupportVectorEnv(4).reset(seed=[0, 1, 2, 3])
    np.testing.assert_allclose(obs, sync_obs, rtol=1e-6)
    assert list(info["inquiry_type"]) == list(sync_info["inquiry_type"])
    sync.close()
