"""TorchRL on the env, knowing only its id string, as its docs use it: ``GymEnv``, its specs, a rollout,
the reward components read from ``info`` by TorchRL's own info reader, and ``GymEnv(ID, num_envs=4)``,
whose constructor registers that reader over every info key: it specs neither a string nor a nested dict
(torchrl 0.14.1), so info carries numbers only (int64 codes, float64 values, flat reward keys).
"""

from __future__ import annotations

import numpy as np
import pytest

from cs_env.reward import STEP_REWARD_BOUNDS

ID = "cs_env:cs_env/CustomerSupport-v1"  # the module form: nothing of ours is imported by hand

pytestmark = [pytest.mark.slow, pytest.mark.heavy]


def test_gym_env_specs_check_and_a_rollout_crosses_conversations() -> None:
    import torch
    from torchrl.envs import GymEnv
    from torchrl.envs.utils import check_env_specs

    torch.set_num_threads(1)
    env = GymEnv(ID)
    check_env_specs(env)
    assert env.observation_spec["observation"].shape == (18,)
    assert env.action_spec.shape == (8,)  # one-hot over the eight strategies, TorchRL's default for Discrete
    data = env.rollout(60, break_when_any_done=False)
    assert data["next", "observation"].shape == (60, 18)
    reward = data["next", "reward"].squeeze(-1)
    assert (
        torch.isfinite(reward).all()
        and reward.min() >= STEP_REWARD_BOUNDS[0] - 1e-6
        and reward.max() <= STEP_REWARD_BOUNDS[1] + 1e-6
    )
    assert data["next", "done"].sum() >= 6  # at most 10 turns a conversation: several ended, and restarted
    assert not (data["next", "terminated"] & data["next", "truncated"]).any()


def test_the_reward_components_arrive_through_torchrls_info_reader() -> None:
    """``default_info_dict_reader`` calls ``value.dtype``: plain floats failed (``'float' object has no
    attribute 'dtype'``), and the components were only in a nested dict, which it cannot read."""
    import torch
    from torchrl.data import Unbounded
    from torchrl.envs import GymEnv, default_info_dict_reader
    from torchrl.envs.utils import check_env_specs

    from cs_env.env import REWARD_KEYS

    torch.set_num_threads(1)
    env = GymEnv(ID)
    env.set_info_dict_reader(
        default_info_dict_reader(list(REWARD_KEYS), spec=[Unbounded((), dtype=torch.float64)] * len(REWARD_KEYS))
    )
    check_env_specs(env)
    data = env.rollout(200, break_when_any_done=False)
    parts = torch.stack([data["next", key] for key in REWARD_KEYS])
    assert parts.dtype == torch.float64 and parts.shape == (4, 200)
    # the four parts add up to the step's reward (TorchRL keeps the reward in float32)
    np.testing.assert_allclose(parts.sum(0).numpy(), data["next", "reward"].squeeze(-1).numpy(), atol=1e-6)
    assert (parts[0] > 0).any() and (parts[3] < 0).any()  # satisfaction paid, escalations charged


def test_gym_env_with_four_envs_reads_every_info_key_and_rolls_out() -> None:
    """``GymEnv(ID, num_envs=4)`` failed to build (``expand_specs wasn't specified in the TensorDictPrimer
    constructor``): its info reader met strings and the nested ``reward_components`` dict."""
    import torch
    from torchrl.envs import GymEnv

    from cs_env import OUTCOME_NAMES
    from cs_env.env import CODED_INFO_KEYS, REWARD_KEYS

    torch.set_num_threads(1)
    env = GymEnv(ID, num_envs=4)
    try:
        assert env.batch_size == torch.Size([4])
        start = env.reset()
        assert start["observation"].shape == (4, 18)
        assert (start["outcome"] == 0).all()  # ongoing
        data = env.rollout(40, break_when_any_done=False)  # a random policy: TorchRL's rand_step
        assert data["next", "observation"].shape == (4, 40, 18)
        for key in CODED_INFO_KEYS:
            assert data["next", key].dtype == torch.int64, key
        outcomes = data["next", "outcome"]
        assert ((outcomes >= 0) & (outcomes < len(OUTCOME_NAMES))).all()
        done = data["next", "done"].squeeze(-1)
        assert done.sum() >= 8  # at most 10 turns a conversation: many ended, and went on
        # the four reward components arrive, and add up to each step's reward. Not on a step that ends a
        # conversation, nor on the one after: over Gymnasium's next-step autoreset, TorchRL 0.14.1 shows
        # there the next customer's first observation and info, then a reset step of reward 0
        parts = torch.stack([data["next", key] for key in REWARD_KEYS])
        assert parts.dtype == torch.float64 and parts.shape == (4, 4, 40)
        after_done = torch.cat([torch.zeros_like(done[:, :1]), done[:, :-1]], dim=1)
        inside = ~done & ~after_done
        assert inside.sum() >= 40
        np.testing.assert_allclose(
            parts.sum(0)[inside].numpy(), data["next", "reward"].squeeze(-1)[inside].numpy(), atol=1e-6
        )
        assert (parts[0][inside] != 0).any()  # satisfaction moved
    finally:
        env.close()
