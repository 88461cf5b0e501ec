"""The model file format's names and limits: its members, their size caps, the description's schema
version, the hyperparameters and policy settings a file may record, and :class:`ModelLoadError`. Light."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cs_tui.numbers import finite

if TYPE_CHECKING:
    pass

#: The member we add to SB3's zip.

#: The member we add to SB3's zip.
META_MEMBER = "cs_tui.json"


FORMAT = "cs_tui.model"


SCHEMA = 1


#: Every member a model file may hold (SB3 2.x writes the first six for PPO, A2C and DQN).
ALLOWED_MEMBERS = (
    "data",
    "policy.pth",
    "policy.optimizer.pth",
    "pytorch_variables.pth",
    "_stable_baselines3_version",
    "system_info.txt",
    META_MEMBER,
)


#: Uncompressed size caps per member, so a zip bomb is refused before it is inflated. The weights'
#: caps fit the largest network a file may describe (MAX_LAYERS layers of MAX_LAYER_WIDTH, two heads:
#: about 42 MB of float32) and the optimizer's two moments per weight.
MAX_MEMBER_BYTES = {
    "data": 16 << 20,
    "policy.pth": 48 << 20,
    "policy.optimizer.pth": 96 << 20,
    "pytorch_variables.pth": 1 << 20,
    "_stable_baselines3_version": 1024,
    "system_info.txt": 64 << 10,
    META_MEMBER: 1 << 20,
}


MAX_FILE_BYTES = sum(MAX_MEMBER_BYTES.values())


# Constructor hyperparameters recorded per algorithm: name -> kind. Kinds: "float" (finite number),
# "int" (positive integer), "count" (non-negative integer), "int_or_minus_one" (DQN's gradient_steps),
# "bool", "float?" (number or None), "train_freq" ([int, "step"|"episode"]). Only these are ever passed
# back to the constructor.
HYPERPARAMETERS: dict[str, dict[str, str]] = {
    "ppo": {
        "learning_rate": "float",
        "n_steps": "int",
        "batch_size": "int",
        "n_epochs": "int",
        "gamma": "float",
        "gae_lambda": "float",
        "clip_range": "float",
        "clip_range_vf": "float?",
        "normalize_advantage": "bool",
        "ent_coef": "float",
        "vf_coef": "float",
        "max_grad_norm": "float",
        "target_kl": "float?",
    },
    "a2c": {
        "learning_rate": "float",
        "n_steps": "int",
        "gamma": "float",
        "gae_lambda": "float",
        "ent_coef": "float",
        "vf_coef": "float",
        "max_grad_norm": "float",
        "normalize_advantage": "bool",
    },
    "dqn": {
        "learning_rate": "float",
        "buffer_size": "int",
        "learning_starts": "count",
        "batch_size": "int",
        "tau": "float",
        "gamma": "float",
        "train_freq": "train_freq",
        "gradient_steps": "int_or_minus_one",
        "target_update_interval": "int",
        "exploration_fraction": "float",
        "exploration_initial_eps": "float",
        "exploration_final_eps": "float",
        "max_grad_norm": "float",
    },
}
HYPERPARAMETERS["recurrent_ppo"] = HYPERPARAMETERS["ppo"]  # sb3-contrib's RecurrentPPO takes PPO's


# Upper bounds that keep a crafted file from asking for absurd allocations.
MAX_LAYER_WIDTH = 1024


MAX_LAYERS = 6


MAX_LSTM_LAYERS = 4


#: the policy a model file names, per algorithm (the MLP, or the MLP behind an LSTM)
POLICIES = {"ppo": "MlpPolicy", "a2c": "MlpPolicy", "dqn": "MlpPolicy", "recurrent_ppo": "MlpLstmPolicy"}


#: the classes cs-tui trains, by the name a model file gives them
MODEL_CLASSES = {"PPO": "ppo", "A2C": "a2c", "DQN": "dqn", "RecurrentPPO": "recurrent_ppo"}


MAX_STEPS = 1 << 16


MAX_BUFFER = 10_000_000


ACTIVATIONS = ("tanh", "relu", "elu", "leaky_relu", "gelu", "silu")


OPTIMIZERS = ("adam", "rmsprop")


POLICY_KWARGS = (
    "net_arch",
    "activation_fn",
    "ortho_init",
    "optimizer_class",
    "optimizer_kwargs",
    "share_features_extractor",
    "normalize_images",
    "lstm_hidden_size",  # recurrent_ppo only
    "n_lstm_layers",  # recurrent_ppo only
)


class ModelLoadError(ValueError):
    """A model file that cannot be loaded safely; the message names the file and the problem."""


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= 200 else line[:200] + "…"


def is_number(value: Any) -> bool:
    """A finite number that has a float (an integer of 400 digits has none: refused, not an OverflowError)."""
    return finite(value) is not None


def frame_stacked(space: Any, k: int) -> Any:
    """``space`` as SB3's ``VecFrameStack(k)`` describes it: ``k`` observations side by side (its bounds
    are each bound repeated ``k`` times in place, ``np.repeat``, as SB3 builds them)."""
    import numpy as np
    from gymnasium import spaces

    if k == 1:
        return space
    return spaces.Box(np.repeat(space.low, k, axis=-1), np.repeat(space.high, k, axis=-1), dtype=space.dtype)


def space_to_json(space: Any) -> dict[str, Any]:
    from gymnasium import spaces

    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "shape": [int(n) for n in space.shape],
            "dtype": str(space.dtype),
            "low": [float(x) for x in space.low.ravel()],
            "high": [float(x) for x in space.high.ravel()],
        }
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    raise ValueError(f"cannot describe a {type(space).__name__} space; supported: Box, Discrete")
