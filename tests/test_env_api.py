"""The env behind the standard Gymnasium API: checkers, registration, vectorization, bad input."""

from __future__ import annotations

import dataclasses
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import INDUSTRIES
from gymnasium.utils.env_checker import check_env as gym_check_env

from cs_env import ENV_ID, CustomerSupportEnv
from cs_env.domain import OUTCOME_NAMES, SENTIMENT_NAMES, TIER_NAMES
from cs_env.dynamics import DYNAMICS
from cs_env.env import CODED_INFO_KEYS, REWARD_KEYS
from cs_env.reward import COMPONENTS, STEP_REWARD_BOUNDS
from cs_env.turn import sentiment_of


@pytest.mark.parametrize("industry", INDUSTRIES)
def test_gymnasium_and_sb3_checkers_pass_with_warnings_as_errors(industry: str) -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(gym.make(ENV_ID, industry=industry).unwrapped)
        sb3_check_env(gym.make(ENV_ID, industry=industry).unwrapped, warn=True)


def test_spaces_match_the_documented_layout() -> None:
    env = CustomerSupportEnv(max_turns=12)
    assert env.action_space == gym.spaces.Discrete(8)
    space = env.observation_space
    assert space.shape == (18,) and space.dtype == np.float32
    assert space.high[:5].tolist() == [14, 4, 4, 12, 2]
    assert (space.low == 0).all() and (space.high[5:] == 1).all()


def test_make_ends_conversations_within_the_default_ten_turns() -> None:
    env = gym.make(ENV_ID)
    assert env.unwrapped.max_turns == 10
    env.reset(seed=0)
    ended = False
    for _ in range(10):
        _, _, terminated, truncated, _ = env.step(0)  # empathy alone never resolves
        ended = terminated or truncated
        if ended:
            break
    assert ended


def test_timeout_is_truncation_not_termination() -> None:
    env = CustomerSupportEnv(max_turns=3)
    env.dynamics = dataclasses.replace(DYNAMICS, leave_base=0.0, leave_per_impatience=0.0)  # nobody leaves
    for seed in range(50):
        env.reset(seed=seed, options={"patience": 1.0, "needs_specialist": False})
        flags = [env.step(0)[2:4] for _ in range(3)]
        assert flags[:2] == [(False, False), (False, False)]
        assert flags[2] == (False, True)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec_sync_and_async(mode: str) -> None:
    envs = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode=mode, industry="retail")
    try:
        obs, info = envs.reset(seed=1)
        assert obs.shape == (3, 18)
        for _ in range(15):
            obs, reward, _, _, info = envs.step(envs.action_space.sample())
            assert obs.shape == (3, 18) and reward.shape == (3,)
        assert info["industry"].dtype == np.int64  # codes, stacked into arrays as for any numeric info
        assert {CustomerSupportEnv("retail").info_names["industry"][i] for i in info["industry"]} == {"retail"}
    finally:
        envs.close()


def test_info_carries_the_documented_fields() -> None:
    env = CustomerSupportEnv("bfsi")
    obs, codes = env.reset(seed=4)
    # numbers only, of fixed dtypes (what vector envs stack and TorchRL's info reader specs) ...
    assert {type(v) for k, v in codes.items() if k in CODED_INFO_KEYS} == {np.int64}
    assert {type(v) for k, v in codes.items() if k not in (*CODED_INFO_KEYS, "hidden_offer_sold")} == {np.float64}
    assert type(codes["hidden_offer_sold"]) is np.int64
    assert set(codes) == {"hidden_satisfaction", "hidden_offer_sold", *CODED_INFO_KEYS, *REWARD_KEYS}
    # ... which named_info names
    info = env.named_info(codes)
    assert info["outcome"] == "ongoing" and info["industry"] == "bfsi"
    assert info["sentiment"] in SENTIMENT_NAMES and info["tier"] in TIER_NAMES
    assert info["sentiment"] == SENTIMENT_NAMES[int(obs[1])] and codes["sentiment"] == int(obs[1])
    # index 5 is what the customer's words show: the hidden satisfaction (in info, named so) plus noise
    assert 0.0 <= info["hidden_satisfaction"] <= 1.0
    assert abs(info["hidden_satisfaction"] - obs[5]) <= DYNAMICS.sat_cue_noise / 2 + 1e-6
    done = False
    while not done:
        obs, reward, terminated, truncated, codes = env.step(env.action_space.sample())
        info = env.named_info(codes)
        done = terminated or truncated
        assert set(info["reward_components"]) == set(COMPONENTS)
        assert [info["reward_components"][c] for c in COMPONENTS] == [codes[k] for k in REWARD_KEYS]
        assert reward == pytest.approx(sum(info["reward_components"].values()))
        assert STEP_REWARD_BOUNDS[0] <= reward <= STEP_REWARD_BOUNDS[1]
    assert info["outcome"] in OUTCOME_NAMES[1:]


# -- determinism --------------------------------------------------------------------------------
def _trajectory(env: gym.Env, seed: int, actions: list[int]) -> list:
    obs, info = env.reset(seed=seed)
    out = [obs.tobytes(), repr(info)]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        out += [obs.tobytes(), repr(reward), terminated, truncated, repr(info)]
        if terminated or truncated:
            obs, info = env.reset()
            out += [obs.tobytes(), repr(info)]
    return out


def test_same_seed_and_actions_give_the_same_trajectory_bit_for_bit() -> None:
    actions = np.random.default_rng(0).integers(0, 8, 60).tolist()
    for seed in range(40):
        first = _trajectory(CustomerSupportEnv(), seed, actions)
        # the global generators are not involved: disturbing them changes nothing
        np.random.seed(seed + 1)
        np.random.random(7)
        assert _trajectory(CustomerSupportEnv(), seed, actions) == first


def test_reseeding_the_same_env_replays_the_episode() -> None:
    env = CustomerSupportEnv("tech")
    actions = [1, 6, 5, 1, 1, 0, 6, 6, 1, 1]
    assert _trajectory(env, 11, actions) == _trajectory(env, 11, actions)


def test_different_seeds_give_different_customers() -> None:
    env = CustomerSupportEnv()
    starts = {env.reset(seed=seed)[0].tobytes() for seed in range(200)}
    assert len(starts) == 200


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("action", [8, -1, 100])
def test_out_of_range_action_names_it_and_the_valid_range(action: int) -> None:
    env = CustomerSupportEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=rf"invalid action {action}.*0-7.*empathetic"):
        env.step(action)


@pytest.mark.parametrize("action", [1.0, "1", None, True, np.array([1, 2]), np.float32(2)])
def test_wrongly_typed_action_is_refused(action: object) -> None:
    env = CustomerSupportEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="expected an integer strategy 0-7"):
        env.step(action)


@pytest.mark.parametrize("action", [np.int64(3), np.array(3), np.array([3])])
def test_numpy_integer_actions_are_accepted(action: object) -> None:
    env = CustomerSupportEnv()
    env.reset(seed=0)
    env.step(action)
    assert env.history[-1].action == 3


def test_unknown_industry_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown industry 'health'.*bfsi, retail, tech, mixed"):
        gym.make(ENV_ID, industry="health")


@pytest.mark.parametrize("max_turns", [0, -3, 2.5, "10", True, 1_001, 10**400])
def test_bad_max_turns_is_refused(max_turns: object) -> None:
    """A turn limit has a ceiling: 10**400 turns once overflowed the float32 observation bounds."""
    with pytest.raises(ValueError, match="max_turns must be an integer from 1 to 1,000"):
        CustomerSupportEnv(max_turns=max_turns)  # type: ignore[arg-type]


def test_bad_render_mode_is_refused() -> None:
    with pytest.raises(ValueError, match=r"render_mode 'rgb'.*'ansi', 'human', 'rgb_array'"):
        CustomerSupportEnv(render_mode="rgb")


def test_step_before_reset_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match=r"before reset\(\)"):
        CustomerSupportEnv().step(0)


def test_step_after_the_end_is_a_clear_error() -> None:
    env = CustomerSupportEnv()
    env.reset(seed=0)
    env.step(2)  # escalation ends the conversation
    with pytest.raises(RuntimeError, match="after the conversation ended"):
        env.step(0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mood": 1}, "unknown reset option 'mood'; valid options: inquiry, tier"),
        ({"inquiry": "order_status"}, "'order_status' is not one of 'bfsi'.*fraud_report"),
        # found by benchmarks/torture.py: an array failed in `in` with numpy's "truth value ... is ambiguous"
        ({"inquiry": np.array([1, 2])}, r"inquiry array\(\[1, 2\]\) is not one of 'bfsi'"),
        ({"tier": "gold"}, "'tier' must be one of basic, premium, vip"),
        ({"sentiment": 7}, "'sentiment' must be one of angry"),
        ({"urgency": 5}, "'urgency' must be one of 0, 1, 2, 3, 4"),
        ({"complexity": 1.5}, "'complexity' must be a number in \\[0, 1\\]"),
        ({"needs_specialist": 1}, "'needs_specialist' must be true or false"),
    ],
)
def test_bad_reset_options_are_refused(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CustomerSupportEnv("bfsi").reset(seed=0, options=options)


def test_reset_options_pin_the_starting_situation() -> None:
    env = CustomerSupportEnv("bfsi")
    for seed in range(20):
        obs, codes = env.reset(
            seed=seed, options={"inquiry": "fraud_report", "tier": "vip", "sentiment": "angry", "urgency": 4}
        )
        info = env.named_info(codes)
        assert info["inquiry_type"] == "fraud_report" and info["tier"] == "vip"
        assert sentiment_of(info["hidden_satisfaction"]) == 0  # the pinned sentiment is the hidden one's ...
        assert info["sentiment"] in ("angry", "frustrated")  # ... and the words show it, or a level nearby
        assert obs[2] == 4


# -- rendering ----------------------------------------------------------------------------------
def test_ansi_render_returns_the_transcript_with_sentiment_and_tier() -> None:
    env = CustomerSupportEnv("retail", render_mode="ansi")
    env.reset(seed=2, options={"tier": "premium"})
    env.step(0)
    env.step(6)
    text = env.render()
    assert isinstance(text, str)
    assert "tier premium" in text and "retail" in text
    assert text.count("Agent [") == 2
    assert any(name in text for name in SENTIMENT_NAMES)


def test_human_render_prints_the_transcript(capsys: pytest.CaptureFixture[str]) -> None:
    env = CustomerSupportEnv("tech", render_mode="human")
    env.reset(seed=2)
    env.step(1)
    printed = capsys.readouterr().out
    assert "Agent [technical]" in printed
