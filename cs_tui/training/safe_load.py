"""Model files that describe themselves, and a loader that never unpickles them.

A model file is stable-baselines3's own ``.zip`` (so ``PPO.load`` still works for users who trust the
file) plus one member, ``cs_tui.json``: the algorithm, the constructor hyperparameters and policy
kwargs in plain JSON, the industry, ``max_turns`` and the observation and action spaces.

SB3's ``load`` unpickles the values stored behind ``":serialized:"`` keys of the zip's ``data`` member,
and ``custom_objects`` cannot stop a payload placed under a key it does not name: a crafted file runs
code. :func:`load_model` never reads those values. It rebuilds the algorithm from the validated
``cs_tui.json``, then loads tensors only (``torch.load(weights_only=True)``) after checking every
name, shape, dtype and value against the freshly built policy.

torch and stable-baselines3 are imported inside functions only.
"""

from __future__ import annotations

import io
import json
import platform
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

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
#: Uncompressed size caps per member, so a zip bomb is refused before it is inflated.
MAX_MEMBER_BYTES = {
    "data": 16 << 20,
    "policy.pth": 512 << 20,
    "policy.optimizer.pth": 1024 << 20,
    "pytorch_variables.pth": 1 << 20,
    "_stable_baselines3_version": 1024,
    "system_info.txt": 64 << 10,
    META_MEMBER: 1 << 20,
}
ALGORITHMS = ("ppo", "a2c", "dqn")

# Constructor hyperparameters recorded per algorithm: name -> kind. Kinds: "float" (finite number),
# "int" (positive integer), "count" (non-negative integer), "bool", "float?" (number or None),
# "train_freq" ([int, "step"|"episode"]). Only these are ever passed back to the constructor.
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
# Upper bounds that keep a crafted file from asking for absurd allocations.
MAX_LAYER_WIDTH = 4096
MAX_LAYERS = 8
MAX_STEPS = 1 << 20
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
)
# A DQN built only to act needs no million-transition replay buffer.
INFERENCE_BUFFER_SIZE = 1


class ModelLoadError(ValueError):
    """A model file that cannot be loaded safely; the message names the file and the problem."""


# -- writing ---------------------------------------------------------------------------------
def save_model(model: BaseAlgorithm, path: Path | str, meta: dict[str, Any]) -> None:
    """Write ``model`` to ``path`` atomically as SB3's ``.zip`` plus a ``cs_tui.json`` member.

    Args:
        model: a PPO, A2C or DQN model with an ``MlpPolicy``.
        path: the file to write (its folder must exist); replaced atomically.
        meta: JSON-able metadata; must hold ``industry`` and ``max_turns``. Its keys are kept in
            ``cs_tui.json``; the keys this function derives from the model (``format``, ``schema``,
            ``algorithm``, ``model``, ``versions``) take precedence.

    Raises:
        ValueError: the model or ``meta`` cannot be described in plain JSON (e.g. a custom policy).
    """
    from cs_tui.training.runs import atomic_write_bytes

    document = describe_model(model, meta)
    text = json.dumps(document, indent=2, sort_keys=True, allow_nan=False)
    buffer = io.BytesIO()
    model.save(buffer)
    with zipfile.ZipFile(buffer, mode="a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(META_MEMBER, text)
    atomic_write_bytes(Path(path), buffer.getvalue())


def describe_model(model: BaseAlgorithm, meta: dict[str, Any]) -> dict[str, Any]:
    """The ``cs_tui.json`` document for ``model``: ``meta`` plus what rebuilding it needs."""
    algorithm = type(model).__name__.lower()
    if algorithm not in ALGORITHMS:
        raise ValueError(f"cannot save a {type(model).__name__} model: supported algorithms are PPO, A2C, DQN")
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a dict, got {type(meta).__name__}")
    if "algorithm" in meta and str(meta["algorithm"]).lower() != algorithm:
        raise ValueError(f"meta says algorithm {meta['algorithm']!r} but the model is {algorithm}")
    for key in ("industry", "max_turns"):
        if key not in meta:
            raise ValueError(f"meta must hold {key!r} (the env the model was trained for)")
    policy = type(model.policy).__name__
    if policy not in ("ActorCriticPolicy", "DQNPolicy", "MlpPolicy"):
        raise ValueError(f"cannot save a model with policy {policy}: only MlpPolicy models are supported")
    description = {
        "policy": "MlpPolicy",
        "hyperparameters": _hyperparameters_of(model, algorithm),
        "policy_kwargs": _policy_kwargs_to_json(dict(model.policy_kwargs)),
        "observation_space": _space_to_json(model.observation_space),
        "action_space": _space_to_json(model.action_space),
        "num_timesteps": int(model.num_timesteps),
    }
    document = dict(meta)
    document.update(
        format=FORMAT,
        schema=SCHEMA,
        algorithm=algorithm,
        model=description,
        versions=_versions(),
    )
    try:
        json.dumps(document, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"meta is not plain JSON: {e}") from e
    return document


def _hyperparameters_of(model: BaseAlgorithm, algorithm: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, kind in HYPERPARAMETERS[algorithm].items():
        value = getattr(model, name)
        if kind == "train_freq":
            found[name] = [int(value.frequency), str(value.unit.value)]
            continue
        if callable(value):  # a schedule: recorded by its starting value (progress_remaining = 1)
            value = value(1.0)
        if kind == "bool":
            found[name] = bool(value)
        elif value is None:
            found[name] = None
        elif kind in ("int", "count", "int_or_minus_one"):
            found[name] = int(value)
        else:
            found[name] = float(value)
    return found


def _policy_kwargs_to_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    import torch

    activations = {
        torch.nn.Tanh: "tanh",
        torch.nn.ReLU: "relu",
        torch.nn.ELU: "elu",
        torch.nn.LeakyReLU: "leaky_relu",
        torch.nn.GELU: "gelu",
        torch.nn.SiLU: "silu",
    }
    optimizers = {torch.optim.Adam: "adam", torch.optim.RMSprop: "rmsprop"}
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key == "device":
            continue
        if key not in POLICY_KWARGS:
            raise ValueError(f"cannot describe policy_kwargs[{key!r}] in a model file; supported: {POLICY_KWARGS}")
        if key == "activation_fn":
            if value not in activations:
                raise ValueError(f"unsupported activation_fn {value!r}; supported: {', '.join(ACTIVATIONS)}")
            out[key] = activations[value]
        elif key == "optimizer_class":
            if value not in optimizers:
                raise ValueError(f"unsupported optimizer_class {value!r}; supported: Adam, RMSprop")
            out[key] = optimizers[value]
        elif key == "net_arch":
            out[key] = dict(value) if isinstance(value, dict) else list(value)
        elif key == "optimizer_kwargs":
            out[key] = {str(k): v for k, v in dict(value).items()}
        else:
            out[key] = value
    return out


def _space_to_json(space: Any) -> dict[str, Any]:
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


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("cs-tui", "stable-baselines3", "torch", "gymnasium", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found
