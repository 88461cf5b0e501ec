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
from cs_env.domain import FINAL_OUTCOME_NAMES, N_STRATEGIES, OUTCOME_NAMES, TIER_NAMES
from cs_env.dynamics import DYNAMICS
from cs_env.env import CODED_INFO_KEYS, REWARD_KEYS
from cs_env.reward import COMPONENTS
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
                ends.append((turns, OUTCOME_NAMES[info["outcome"]], truncated))
                break
    return max(t for t, _, _ in ends), ends


# -- 1. one episode length ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "length"),
    [
        ({}, 10),
        ({"max_turns": 20}, 20),
        ({"max_turns": 4}, 4),
    ],
)
def test_gym_make_gives_the_asked_length_and_no_time_limit(kwargs: dict[str, Any], length: int) -> None:
    env = gym.make(ENV_ID, industry="retail", **kwargs)
    # no TimeLimit: the spec says none (gym.make(env.spec) would add one that sets truncated on the last
    # turn even when the conversation ended there), and the env's own count is the length
    assert env.spec is not None and env.spec.max_episode_steps is None
    assert env.unwrapped.max_turns == length and env.observation_space.high[3] == length
    longest, ends = _longest_run(env)
    assert longest == length
    for turns, outcome, truncated in ends:  # every cut is the env's own timeout, never a silent one
        assert truncated == (outcome == "timeout") == (turns == length)
    # a spec recreates the same env (as SB3's and RL Zoo's saved configs do)
    again = gym.make(env.spec)
    assert again.unwrapped.max_turns == length and again.spec == env.spec


def _play(env: gym.Env, episodes: int, seed: int) -> tuple[list[tuple[Any, ...]], int]:
    """``episodes`` conversations of seeded random play: every step as it came out, and the steps on
    which ``terminated`` and ``truncated`` were both True."""
    rng = np.random.default_rng(seed)
    steps: list[tuple[Any, ...]] = []
    both = 0
    env.reset(seed=seed)
    for _ in range(episodes):
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(int(rng.integers(N_STRATEGIES)))
            steps.append((obs.tobytes(), reward, terminated, truncated, info["outcome"]))
            both += terminated and truncated
            done = terminated or truncated
        env.reset()
    return steps, both


@pytest.mark.parametrize("kwargs", [{}, {"max_turns": 4}])
def test_make_from_the_spec_plays_the_same_3000_episodes_as_make_from_the_id(kwargs: dict[str, Any]) -> None:
    """The spec round trip (SB3's and RL Zoo's saved configs, AsyncVectorEnv's workers): 42 of 3,000
    episodes at 10 turns (306 of 2,000 at 4) ended with both flags while the spec reported the turn
    limit as a time limit, which made gym.make(env.spec) add a TimeLimit."""
    env = gym.make(ENV_ID, **kwargs)
    again = gym.make(env.spec)
    first, both = _play(env, 3000, seed=11)
    assert both == 0
    assert _play(again, 3000, seed=11) == (first, 0)
    # the case at stake was played: conversations that ended by themselves on their last turn
    limit = env.unwrapped.max_turns
    assert sum(1 for obs, _, terminated, _, _ in first if terminated and np.frombuffer(obs, np.float32)[3] == limit) > 5


def _vector_episodes(envs: gym.vector.VectorEnv, steps: int) -> tuple[list[int], list[str], int]:
    """Every ended episode's length and outcome under random play, and the steps with both flags."""
    envs.reset(seed=0)
    envs.action_space.seed(0)
    turns = np.zeros(envs.num_envs, dtype=int)
    lengths: list[int] = []
    outcomes: list[str] = []
    both = 0
    restarting = np.zeros(envs.num_envs, dtype=bool)  # next-step autoreset: this step only starts anew
    for _ in range(steps):
        _, _, terminated, truncated, info = envs.step(envs.action_space.sample())
        turns = np.where(restarting, 0, turns + 1)
        ended = terminated | truncated
        both += int((terminated & truncated).sum())
        lengths += turns[ended].tolist()
        outcomes += [OUTCOME_NAMES[o] for o in info["outcome"][ended]]
        turns[ended] = 0
        restarting = ended
    return lengths, outcomes, both


@pytest.mark.parametrize("mode", ["sync", "async", "vector_entry_point"])
def test_make_vec_gives_the_asked_length_in_every_mode(mode: str) -> None:
    envs = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode=mode, max_turns=4)
    try:
        assert envs.single_observation_space.high[3] == 4
        lengths, outcomes, both = _vector_episodes(envs, 400)
    finally:
        envs.close()
    assert both == 0 and max(lengths) == 4 and len(lengths) > 200
    assert {n for n, o in zip(lengths, outcomes, strict=True) if o == "timeout"} == {4}  # the env's own cut


def test_max_episode_steps_is_not_taken_for_the_length_where_the_env_sees_it() -> None:
    """The batched env gets make_vec's max_episode_steps (sync mode gives it to a TimeLimit outside each
    env): it used to become max_turns, read in the single env from gymnasium.make's call frame."""
    with pytest.raises(ValueError, match=r"max_episode_steps=4: the conversation.s length is max_turns \(pass"):
        gym.make_vec(ENV_ID, 2, vectorization_mode="vector_entry_point", max_episode_steps=4)
    assert CustomerSupportVectorEnv(2, max_turns=4).max_turns == 4


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
    assert {*range(len(OUTCOME_NAMES))} >= {int(o) for info in infos for o in np.atleast_1d(info["outcome"])}


def test_info_is_numbers_of_fixed_dtypes_with_a_flat_key_per_reward_component() -> None:
    """What array-minded clients (TorchRL's info reader: ``val.dtype``, no strings, no nested dicts) need:
    float64 numbers and int64 codes, the reward components as flat keys, the same in the single env and
    every vector mode; ``named_info`` gives the names and the components together."""
    env = gym.make(ENV_ID)
    infos = [env.reset(seed=0)[1], *(env.step(action)[4] for action in (0, 3, 1))]
    for info in infos:
        assert set(info) == {"hidden_satisfaction", "hidden_offer_sold", *CODED_INFO_KEYS, *REWARD_KEYS}
        for key, value in info.items():
            dtype = np.int64 if key in (*CODED_INFO_KEYS, "hidden_offer_sold") else np.float64
            assert isinstance(value, dtype), (key, type(value))
        named = env.unwrapped.named_info(info)  # type: ignore[attr-defined]
        assert [named["reward_components"][c] for c in COMPONENTS] == [info[key] for key in REWARD_KEYS]
        assert named["outcome"] in OUTCOME_NAMES and named["tier"] in TIER_NAMES
    for mode in ("sync", "vector_entry_point"):
        envs = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode=mode)
        envs.reset(seed=0)
        info = envs.step(np.array([0, 3, 2]))[4]
        for key in REWARD_KEYS:
            assert info[key].dtype == np.float64 and info["_" + key].all(), (mode, key)
        for key in CODED_INFO_KEYS:
            assert info[key].dtype == np.int64 and info["_" + key].all(), (mode, key)
        assert info["hidden_offer_sold"].dtype == np.int64 and info["_hidden_offer_sold"].all(), mode
        assert info[REWARD_KEYS[3]].tolist() == [0.0, 0.0, -0.3]  # the escalation's penalty, in env 2 only
        envs.close()


@pytest.mark.heavy
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
    assert 0 in set(collector.buffer.info.outcome.tolist())  # ongoing's code


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
        outcomes.update(OUTCOME_NAMES[o] for o in info["outcome"][ended])
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


RECOMMEND, UPSELL = 3, 7


class RepeatedOffers(gym.Wrapper):
    """Counts the offers played of a kind already made in the conversation (what the masks rule out)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.repeats = self.offers = 0
        self._made: set[int] = set()

    def reset(self, **kwargs: Any) -> Any:
        self._made = set()
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        a = int(action)
        if a in (RECOMMEND, UPSELL):
            self.offers += 1
            self.repeats += a in self._made
            self._made.add(a)
        return self.env.step(action)


def test_the_masks_rule_out_a_second_offer_of_a_kind_in_both_envs() -> None:
    env = CustomerSupportEnv()
    env.reset(seed=0, options={"patience": 1.0, "needs_specialist": False})
    assert env.action_masks().all()
    env.step(RECOMMEND)
    assert env.action_masks().tolist() == [i != RECOMMEND for i in range(N_STRATEGIES)]
    env.step(UPSELL)
    assert env.action_masks().tolist() == [i not in (RECOMMEND, UPSELL) for i in range(N_STRATEGIES)]
    env.reset()
    assert env.action_masks().all()  # a new conversation: no offer made yet
    # the batched env: the same rows, and all true for an env the next step restarts (its action is ignored)
    envs = CustomerSupportVectorEnv(3)
    envs.reset(seed=0)
    envs.step(np.array([RECOMMEND, UPSELL, 0]))
    ended = envs.step(np.array([2, 0, 0]))[2]  # env 0 escalates: its conversation ends
    assert ended.tolist() == [True, False, False]
    assert envs.action_masks().tolist() == [[True] * 8, [i != UPSELL for i in range(8)], [True] * 8]


@pytest.mark.heavy
def test_maskable_ppo_reads_the_masks_and_never_repeats_an_offer() -> None:
    import torch
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
    from stable_baselines3.common.vec_env import DummyVecEnv

    from cs_tui.training.vecenv import make_training_env

    torch.set_num_threads(1)
    played = {}
    for masking in (True, False):
        recorders = [RepeatedOffers(gym.make(ENV_ID)) for _ in range(2)]
        venv = DummyVecEnv([lambda r=r: r for r in recorders])
        assert is_masking_supported(venv)
        model = MaskablePPO("MlpPolicy", venv, n_steps=256, batch_size=64, n_epochs=1, seed=0)
        model.learn(512, use_masking=masking)
        played[masking] = (sum(r.offers for r in recorders), sum(r.repeats for r in recorders))
    # untrained policies offer often: without the masks some offers repeat, with them none does
    assert played[False][1] > 5 and played[True][0] > 20 and played[True][1] == 0, played
    batched = make_training_env("mixed", 8, seed=0, kind="batched")  # our SB3 adapter over the batched env
    batched.reset()
    batched.step(np.full(8, RECOMMEND))
    masks = get_action_masks(batched)
    assert masks.shape == (8, N_STRATEGIES) and not masks[:, RECOMMEND].any() and masks[:, UPSELL].all()


def test_one_seed_per_env_gives_sync_modes_customers() -> None:
    """The README's recipe: the batched env's reset(seed=[0, 1, ...]) meets sync mode's reset(seed=0) customers."""
    sync = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode="sync")
    sync_obs, sync_info = sync.reset(seed=0)
    obs, info = CustomerSupportVectorEnv(4).reset(seed=[0, 1, 2, 3])
    np.testing.assert_allclose(obs, sync_obs, rtol=1e-6)
    assert list(info["inquiry_type"]) == list(sync_info["inquiry_type"])
    sync.close()
