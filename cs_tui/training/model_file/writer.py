"""Writing a model file: stable-baselines3's own ``.zip`` plus ``cs_tui.json``, the description in plain JSON
(:func:`save_model`, :func:`describe_model`). torch is imported inside functions only."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_tui.files import atomic_write_bytes
from cs_tui.training import runs
from cs_tui.training.model_file.format import (
    ACTIVATIONS,
    FORMAT,
    HYPERPARAMETERS,
    META_MEMBER,
    MODEL_CLASSES,
    POLICIES,
    POLICY_KWARGS,
    SCHEMA,
    space_to_json,
)
from cs_tui.training.model_file.schema import _check_meta
from cs_tui.training.registry import ALGORITHMS

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

#: The member we add to SB3's zip.


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
    document = describe_model(model, meta)
    text = json.dumps(document, indent=2, sort_keys=True, allow_nan=False)
    buffer = io.BytesIO()
    model.save(buffer)
    with zipfile.ZipFile(buffer, mode="a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(META_MEMBER, text)
    atomic_write_bytes(Path(path), buffer.getvalue())


def describe_model(model: BaseAlgorithm, meta: dict[str, Any]) -> dict[str, Any]:
    """The ``cs_tui.json`` document for ``model``: ``meta`` plus what rebuilding it needs."""
    from cs_env.env import ENV_ID

    algorithm = MODEL_CLASSES.get(type(model).__name__, "")
    if algorithm not in ALGORITHMS:
        raise ValueError(
            f"cannot save a {type(model).__name__} model: supported algorithms are {', '.join(MODEL_CLASSES)}"
        )
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a dict, got {type(meta).__name__}")
    if "algorithm" in meta and str(meta["algorithm"]).lower() != algorithm:
        raise ValueError(f"meta says algorithm {meta['algorithm']!r} but the model is {algorithm}")
    for key in ("industry", "max_turns"):
        if key not in meta:
            raise ValueError(f"meta must hold {key!r} (the env the model was trained for)")
    if getattr(model, "use_sde", False):
        raise ValueError("cannot save a model trained with use_sde: it is not described in model files")
    policy = type(model.policy).__name__
    if policy not in ("ActorCriticPolicy", "DQNPolicy", "MlpPolicy", "RecurrentActorCriticPolicy"):
        raise ValueError(f"cannot save a model with policy {policy}: only MlpPolicy and MlpLstmPolicy models")
    description = {
        "policy": POLICIES[algorithm],
        "frame_stack": _frame_stack_of(model, meta),
        "hyperparameters": _hyperparameters_of(model, algorithm),
        "policy_kwargs": _policy_kwargs_to_json(dict(model.policy_kwargs)),
        "observation_space": space_to_json(model.observation_space),
        "action_space": space_to_json(model.action_space),
        "num_timesteps": int(model.num_timesteps),
    }
    document = dict(meta)
    document.update(
        format=FORMAT,
        schema=SCHEMA,
        env_id=ENV_ID,
        algorithm=algorithm,
        model=description,
        versions=runs.versions(),
    )
    try:
        json.dumps(document, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"meta is not plain JSON: {e}") from e
    try:  # never write a file the loader would refuse
        _check_meta(document)
    except ValueError as e:
        raise ValueError(f"cannot save this model: {e}") from e
    return document


def _frame_stack_of(model: BaseAlgorithm, meta: dict[str, Any]) -> int:
    """How many observations the model reads side by side (1: one), from its observation space."""
    from cs_env.env import CustomerSupportEnv

    single = CustomerSupportEnv(meta["industry"], meta["max_turns"]).observation_space.shape or (1,)
    shape = model.observation_space.shape or (1,)
    return max(1, int(shape[-1]) // int(single[-1]))


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


def torch_classes() -> tuple[dict[str, Any], dict[str, Any]]:
    """The activation and optimizer classes a model file may name, by name (torch is imported here)."""
    import torch

    activations = {
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
        "elu": torch.nn.ELU,
        "leaky_relu": torch.nn.LeakyReLU,
        "gelu": torch.nn.GELU,
        "silu": torch.nn.SiLU,
    }
    return activations, {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}


def _policy_kwargs_to_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    activation_classes, optimizer_classes = torch_classes()
    activations = {cls: name for name, cls in activation_classes.items()}
    optimizers = {cls: name for name, cls in optimizer_classes.items()}
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
