"""TorchRL on the env, knowing only its id string, as its docs use it: ``GymEnv``, its specs, a rollout,
and the reward components read from ``info`` by TorchRL's own info reader.

Not here: ``GymEnv(ID, num_envs=4)``. Its constructor registers TorchRL's default info reader over every
info key, and that reader specs neither a string (``outcome``, ``sentiment``, ...) nor a nested dict
(``reward_components``), with no argument to leave them out (torchrl 0.14.1). See the env's Information.
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
