"""Gymnasium's own tools on the env, knowing only its id string, as Gymnasium's docs use them.

Episode lengths are not asserted exactly (only bounded by the registered time limit), so these tests
hold whatever the env's turn-limit rules become.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from cs_env.env import OBS_SIZE

ID = "cs_env:cs_env/CustomerSupport-v1"  # the module form: nothing of ours is imported by hand
LIMIT = gym.make("cs_env/CustomerSupport-v1").spec.max_episode_steps  # the env's turn limit (conftest imports cs_env)


def random_steps(env: gym.Env, n: int, seed: int = 0) -> list[tuple[np.ndarray, float, bool, bool]]:
    """``n`` steps of seeded random actions, resetting after each end; what each step gave."""
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out = []
    for _ in range(n):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        out.append((np.asarray(obs), float(reward), bool(terminated), bool(truncated)))
        if terminated or truncated:
            obs, _ = env.reset()
    return out


@pytest.mark.parametrize("render_mode", [None, "ansi", "rgb_array"])
def test_check_env_passes_in_every_render_mode(render_mode: str | None) -> None:
    env = gym.make(ID, render_mode=render_mode)
    check_env(env.unwrapped, skip_render_check=False)


def test_record_episode_statistics_counts_each_conversation() -> None:
    env = gym.wrappers.RecordEpisodeStatistics(gym.make(ID), buffer_length=1000)
    total, returns, lengths, episode_return, episode_length = 0, [], [], 0.0, 0
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(2000):
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        episode_return += float(reward)
        episode_length += 1
        if terminated or truncated:
            total += 1
            returns.append(info["episode"]["r"])
            lengths.append(info["episode"]["l"])
            assert info["episode"]["r"] == pytest.approx(episode_return)
            assert info["episode"]["l"] == episode_length
            episode_return, episode_length = 0.0, 0
            env.reset()
    assert total > 100
    assert len(env.return_queue) == total
    assert np.allclose(list(env.return_queue), returns)
    assert all(1 <= n <= LIMIT for n in lengths)
    assert np.isfinite(returns).all()


def test_record_episode_statistics_on_the_sync_and_the_batched_vector_env() -> None:
    for mode in ("sync", "vector_entry_point"):
        envs = gym.wrappers.vector.RecordEpisodeStatistics(gym.make_vec(ID, num_envs=4, vectorization_mode=mode))
        envs.reset(seed=0)
        envs.action_space.seed(0)
        ended = 0
        for _ in range(300):
            _, _, terminated, truncated, info = envs.step(envs.action_space.sample())
            if "episode" in info:
                done = info["_episode"]
                assert np.array_equal(done, terminated | truncated)
                assert np.isfinite(info["episode"]["r"][done]).all()
                assert ((info["episode"]["l"][done] >= 1) & (info["episode"]["l"][done] <= LIMIT)).all()
            ended += int((terminated | truncated).sum())
        assert ended > 100
        assert len(envs.return_queue) == min(ended, envs.return_queue.maxlen)
        envs.close()


@pytest.mark.parametrize(
    ("wrap", "shape"),
    [
        (gym.wrappers.FlattenObservation, (OBS_SIZE,)),
        (gym.wrappers.NormalizeObservation, (OBS_SIZE,)),
        (lambda env: gym.wrappers.FrameStackObservation(env, stack_size=4), (4, OBS_SIZE)),
    ],
)
def test_observation_wrappers(wrap: Callable[[gym.Env], gym.Env], shape: tuple[int, ...]) -> None:
    env = wrap(gym.make(ID))
    assert env.observation_space.shape == shape
    for obs, reward, _, _ in random_steps(env, 300):
        assert obs.shape == shape
        assert np.isfinite(obs).all() and np.isfinite(reward)


def test_normalize_observation_learns_the_statistics() -> None:
    env = gym.wrappers.NormalizeObservation(gym.make(ID))
    obs = np.array([o for o, *_ in random_steps(env, 3000)])
    # after a while the running mean/variance centre each varying feature near 0 with unit spread
    late = obs[1000:]
    varying = late.std(axis=0) > 1e-3
    assert np.abs(late.mean(axis=0)[varying]).max() < 0.5
    assert np.all(np.abs(late.std(axis=0)[varying] - 1) < 0.5)


def test_normalize_reward_scales_rewards_and_keeps_them_finite() -> None:
    raw = [r for _, r, _, _ in random_steps(gym.make(ID), 2000)]
    scaled = [r for _, r, _, _ in random_steps(gym.wrappers.NormalizeReward(gym.make(ID), gamma=0.99), 2000)]
    assert np.isfinite(scaled).all()
    # the same episodes (same seeds), each reward divided by one positive running scale
    assert all((a > 0) == (b > 0) and (a < 0) == (b < 0) for a, b in zip(raw, scaled, strict=True))
    assert not np.allclose(raw, scaled)


def test_make_from_the_spec_round_trips() -> None:
    env = gym.make(ID, industry="tech")
    again = gym.make(env.spec)
    assert again.spec == env.spec
    assert again.unwrapped.industry == "tech"
    a, b = random_steps(env, 200, seed=4), random_steps(again, 200, seed=4)
    assert all(np.array_equal(x[0], y[0]) and x[1:] == y[1:] for x, y in zip(a, b, strict=True))


def test_the_env_pickles_mid_conversation_and_carries_on_the_same() -> None:
    env = gym.make(ID, industry="bfsi")
    env.reset(seed=9)
    env.step(0)
    copy = pickle.loads(pickle.dumps(env))
    for action in (1, 6, 0, 6, 5):
        a, b = env.step(action), copy.step(action)
        assert np.array_equal(a[0], b[0]) and a[1:4] == b[1:4]
        if a[2] or a[3]:
            break


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec_with_wrappers(mode: str) -> None:
    def clip(env: gym.Env) -> gym.Env:
        return gym.wrappers.ClipReward(env, min_reward=0.0, max_reward=0.5)

    envs = gym.make_vec(
        ID, num_envs=3, vectorization_mode=mode, wrappers=[lambda env: gym.wrappers.FrameStackObservation(env, 2), clip]
    )
    try:
        obs, _ = envs.reset(seed=0)
        assert obs.shape == (3, 2, OBS_SIZE)
        rewards = []
        for _ in range(100):
            obs, reward, *_ = envs.step(envs.action_space.sample())
            assert obs.shape == (3, 2, OBS_SIZE)
            rewards.append(reward)
        assert np.min(rewards) >= 0.0 and np.max(rewards) == 0.5  # every env wrapped: rewards clipped
    finally:
        envs.close()


def rollout(envs: gym.vector.VectorEnv, seed: int, steps: int = 60) -> tuple[np.ndarray, np.ndarray]:
    obs, _ = envs.reset(seed=seed)
    envs.action_space.seed(seed)
    seen, rewards = [obs], []
    for _ in range(steps):
        obs, reward, *_ = envs.step(envs.action_space.sample())
        seen.append(obs)
        rewards.append(reward)
    return np.array(seen), np.array(rewards)


@pytest.mark.parametrize("mode", ["sync", "async", "vector_entry_point"])
def test_make_vec_seeded_gives_the_same_episodes_twice(mode: str) -> None:
    runs = []
    for seed in (3, 3, 4):
        envs = gym.make_vec(ID, num_envs=4, vectorization_mode=mode)
        try:
            runs.append(rollout(envs, seed))
        finally:
            envs.close()
    (obs_a, rew_a), (obs_b, rew_b), (obs_c, _) = runs
    assert np.array_equal(obs_a, obs_b) and np.array_equal(rew_a, rew_b)
    assert not np.array_equal(obs_a, obs_c)


def cleanrl_loop(envs: gym.vector.VectorEnv, steps: int) -> tuple[list[float], list[int], int]:
    """CleanRL's rollout loop (ppo.py), random actions in place of the policy: its episode logging."""
    returns, lengths = [], []
    envs.reset(seed=1)
    envs.action_space.seed(1)
    ends = 0
    for _ in range(steps):
        action = envs.action_space.sample()
        _, _, terminations, truncations, infos = envs.step(action)
        next_done = np.logical_or(terminations, truncations)
        ends += int(next_done.sum())
        if "episode" in infos:  # CleanRL's gymnasium-1.x logging
            for i in np.nonzero(infos["_episode"])[0]:
                returns.append(float(infos["episode"]["r"][i]))
                lengths.append(int(infos["episode"]["l"][i]))
    return returns, lengths, ends


def test_cleanrl_style_loop_on_the_sync_vector_env_and_on_the_batched_one() -> None:
    def make_env(idx: int) -> Callable[[], gym.Env]:
        def thunk() -> gym.Env:
            return gym.wrappers.RecordEpisodeStatistics(gym.make(ID))

        return thunk

    sync = gym.vector.SyncVectorEnv([make_env(i) for i in range(4)])
    batched = gym.wrappers.vector.RecordEpisodeStatistics(
        gym.make_vec(ID, num_envs=4, vectorization_mode="vector_entry_point")
    )
    results = {}
    for name, envs in (("sync", sync), ("batched", batched)):
        returns, lengths, ends = cleanrl_loop(envs, 500)
        envs.close()
        assert len(returns) == ends > 300, name  # every ended conversation is logged once
        assert np.isfinite(returns).all() and all(1 <= n <= LIMIT for n in lengths)
        results[name] = (np.mean(returns), np.mean(lengths))
    # the same rules behind both: random play scores alike (means of ~600 episodes each)
    assert results["sync"][0] == pytest.approx(results["batched"][0], abs=0.15)
    assert results["sync"][1] == pytest.approx(results["batched"][1], abs=0.5)
