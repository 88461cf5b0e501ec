"""A loader that never unpickles a model file: the algorithm rebuilt from its description, then tensors only.

SB3's ``load`` unpickles the values stored behind ``":serialized:"`` keys of the zip's ``data`` member,
and ``custom_objects`` cannot stop a payload placed under a key it does not name: a crafted file runs
code. :func:`load_model` never unpickles those values. It rebuilds the algorithm from the validated
``cs_tui.json`` (:mod:`cs_tui.training.model_file`), checks the ``data`` member
(:mod:`cs_tui.training.pickle_scan`), then loads tensors only (``torch.load(weights_only=True)``) after
checking every name, shape, dtype and value against the freshly built policy.

The format's names that loading callers use are re-exported here (``save_model``, ``read_model_meta``,
``ModelLoadError``, …): this module is where callers load and save models. torch and stable-baselines3
are imported inside functions only.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_tui.training.model_file import (
    MAX_FRAME_STACK,
    META_MEMBER,
    POLICIES,
    ModelLoadError,
    first_line,
    is_int,
    is_number,
    parse_meta,
    read_members,
    read_model_meta,
    save_model,
    torch_classes,
)
from cs_tui.training.pickle_scan import check_data

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecEnv

__all__ = [
    "MAX_FRAME_STACK",
    "POLICIES",
    "ModelLoadError",
    "load_model",
    "load_model_with_meta",
    "load_optimizer_state",
    "load_policy",
    "model_class",
    "policy_kwargs_from_json",
    "read_model_meta",
    "save_model",
    "torch_load",
]
# A DQN built only to act needs no million-transition replay buffer.
INFERENCE_BUFFER_SIZE = 1


def load_model(path: Path | str, *, env: VecEnv | None = None) -> BaseAlgorithm:
    """Rebuild the model in ``path`` from its ``cs_tui.json`` and load its weights, never unpickling.

    Args:
        path: a model file written by :func:`save_model`.
        env: the env to attach (to resume training); its spaces must be the model's. Without it the
            model is built for acting only (a DQN gets a one-transition replay buffer).

    Raises:
        ModelLoadError: naming the file and the problem, for anything but a sound model file.
    """
    return load_model_with_meta(path, env=env)[0]


def load_model_with_meta(path: Path | str, *, env: VecEnv | None = None) -> tuple[BaseAlgorithm, dict[str, Any]]:
    """:func:`load_model`, also returning the file's validated ``cs_tui.json``."""
    path = Path(path)
    members = read_members(path)
    meta = parse_meta(path, members)
    if "policy.pth" not in members:
        raise ModelLoadError(f"{path}: no policy.pth member: the file holds no weights")
    model = _rebuild(path, meta, env)
    if "data" in members:
        check_data(path, meta["algorithm"], members["data"])
    load_policy(path, model, members["policy.pth"])
    if "policy.optimizer.pth" in members:
        _load_optimizer(path, model, members["policy.optimizer.pth"])
    if "pytorch_variables.pth" in members:
        variables = torch_load(path, "pytorch_variables.pth", members["pytorch_variables.pth"])
        if variables != {}:  # PPO, A2C and DQN keep none; anything here is not ours
            raise ModelLoadError(f"{path}: pytorch_variables.pth holds unexpected variables")
    _check_outputs(path, model)
    model.num_timesteps = int(meta["model"]["num_timesteps"])
    return model, meta


def _check_outputs(path: Path, model: BaseAlgorithm) -> None:
    """Refuse weights that are finite but so large the policy's outputs are not (±3e38 overflows)."""
    import numpy as np
    import torch

    from cs_env.env import CustomerSupportEnv

    space: Any = model.observation_space
    first, _ = CustomerSupportEnv().reset(seed=0)
    first = np.tile(first, int(space.shape[-1]) // len(first))  # as many frames as the model reads
    probes = np.stack([space.low, space.high, (space.low + space.high) / 2, first]).astype(np.float32)
    policy: Any = model.policy
    try:
        with torch.no_grad():
            tensor, _ = policy.obs_to_tensor(probes)
            if hasattr(policy, "q_net"):
                outputs = [policy.q_net(tensor)]
            elif hasattr(policy, "lstm_actor"):  # a recurrent policy: from the start of a conversation
                lstm = policy.lstm_actor
                zeros = torch.zeros(lstm.num_layers, len(probes), lstm.hidden_size)
                starts = torch.ones(len(probes))
                distribution, _ = policy.get_distribution(tensor, (zeros, zeros), starts)
                values = policy.predict_values(tensor, (zeros, zeros), starts)
                outputs = [distribution.distribution.logits, values]
            else:
                outputs = [policy.get_distribution(tensor).distribution.logits, policy.predict_values(tensor)]
        finite = all(bool(torch.isfinite(out).all()) for out in outputs)
    except ValueError:  # torch's distributions refuse NaN logits
        finite = False
    if not finite:
        raise ModelLoadError(
            f"{path}: the model's outputs are not finite numbers (NaN or infinity) on a probe observation: "
            "its weights are too large to act with"
        )


def _rebuild(path: Path, meta: dict[str, Any], env: VecEnv | None) -> BaseAlgorithm:
    """A fresh model with the file's architecture and hyperparameters (weights still random)."""
    import warnings

    import torch

    from cs_tui.training.vecenv import make_acting_env

    description = meta["model"]
    hyperparameters = dict(description["hyperparameters"])
    if "train_freq" in hyperparameters:
        hyperparameters["train_freq"] = tuple(hyperparameters["train_freq"])
    if env is None:
        target: Any = make_acting_env(meta["industry"], meta["max_turns"], description.get("frame_stack", 1))
        if meta["algorithm"] == "dqn":
            hyperparameters["buffer_size"] = INFERENCE_BUFFER_SIZE
    else:
        target = env
        stored = description["observation_space"]["shape"], description["action_space"]["n"]
        given = list(env.observation_space.shape or ()), getattr(env.action_space, "n", None)
        if stored != given:
            raise ModelLoadError(
                f"{path}: the model was made for observations of shape {tuple(stored[0])} and {stored[1]} actions, "
                f"but the env given has shape {tuple(given[0])} and {given[1]} actions"
            )
    policy_kwargs = policy_kwargs_from_json(description["policy_kwargs"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. PPO's batch-size advice: not the loader's business
            return model_class(meta["algorithm"])(
                description["policy"], target, policy_kwargs=policy_kwargs, device="cpu", verbose=0, **hyperparameters
            )
    except (ValueError, TypeError, AssertionError, RuntimeError, MemoryError, torch.OutOfMemoryError) as e:
        raise ModelLoadError(f"{path}: cannot rebuild the model from {META_MEMBER}: {first_line(e)}") from None


def model_class(algorithm: str) -> Any:
    """The stable-baselines3 (or sb3-contrib) class of ``algorithm``; imported here, as torch is."""
    if algorithm == "recurrent_ppo":
        from sb3_contrib import RecurrentPPO

        return RecurrentPPO
    import stable_baselines3

    return getattr(stable_baselines3, algorithm.upper())


def policy_kwargs_from_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``policy_kwargs`` as stable-baselines3 takes them, from their JSON form (names for torch classes)."""
    activations, optimizers = torch_classes()
    if "activation_fn" in kwargs and kwargs["activation_fn"] not in activations:
        raise ValueError(f"unknown activation_fn {kwargs['activation_fn']!r}; valid: {', '.join(activations)}")
    out = dict(kwargs)
    if "activation_fn" in out:
        out["activation_fn"] = activations[out["activation_fn"]]
    if "optimizer_class" in out:
        out["optimizer_class"] = optimizers[out["optimizer_class"]]
    if "optimizer_kwargs" in out:
        options = dict(out["optimizer_kwargs"])
        if "betas" in options:
            options["betas"] = tuple(options["betas"])
        out["optimizer_kwargs"] = options
    return out


def torch_load(path: Path, member: str, raw: bytes) -> Any:
    """``torch.load`` with ``weights_only=True``: tensors and plain containers only, no code."""
    import pickle

    import torch

    try:
        return torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, OSError, KeyError, TypeError) as e:
        raise ModelLoadError(
            f"{path}: {member} is not a plain tensor file (a weights-only load refused it: {first_line(e)})"
        ) from None
    except Exception as e:  # torch raises many kinds of errors for a malformed archive; none is a crash
        raise ModelLoadError(f"{path}: {member} cannot be read: {type(e).__name__}: {first_line(e)}") from None


def _check_tensor(path: Path, member: str, name: str, value: Any, expected: Any) -> None:
    import torch

    if not isinstance(value, torch.Tensor) or value.layout != torch.strided:
        raise ModelLoadError(f"{path}: {member}: {name!r} is a {type(value).__name__}, expected a dense tensor")
    if value.device.type != "cpu":  # a "meta" tensor has a shape and no data: nothing to load or compute with
        raise ModelLoadError(
            f"{path}: {member}: tensor {name!r} is on device {value.device.type!r} and holds no data to read"
        )
    if tuple(value.shape) != tuple(expected.shape):
        raise ModelLoadError(
            f"{path}: {member}: tensor {name!r} has shape {tuple(value.shape)}, the model needs {tuple(expected.shape)}"
        )
    if value.dtype != expected.dtype:
        raise ModelLoadError(f"{path}: {member}: tensor {name!r} is {value.dtype}, the model needs {expected.dtype}")
    try:
        finite = not value.is_floating_point() or bool(torch.isfinite(value).all())
    except (RuntimeError, TypeError, ValueError) as e:  # any other tensor that cannot be read as data
        raise ModelLoadError(f"{path}: {member}: tensor {name!r} cannot be read: {first_line(e)}") from None
    if not finite:
        raise ModelLoadError(f"{path}: {member}: tensor {name!r} holds non-finite values (NaN or infinity)")


def load_policy(path: Path, model: BaseAlgorithm, raw: bytes) -> None:
    state = torch_load(path, "policy.pth", raw)
    expected = model.policy.state_dict()
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ModelLoadError(f"{path}: policy.pth is not a dict of named tensors")
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        raise ModelLoadError(f"{path}: policy.pth has tensors the model does not have: {', '.join(unexpected[:5])}")
    if missing:
        raise ModelLoadError(f"{path}: policy.pth lacks tensors the model needs: {', '.join(missing[:5])}")
    for name, reference in expected.items():
        _check_tensor(path, "policy.pth", name, state[name], reference)
    model.policy.load_state_dict(state, strict=True)


def _load_optimizer(path: Path, model: BaseAlgorithm, raw: bytes) -> None:
    """Load the optimizer's state (training resumes with it) once it matches the rebuilt optimizer exactly."""
    load_optimizer_state(path, model.policy.optimizer, raw)


def load_optimizer_state(path: Path, optimizer: Any, raw: bytes) -> None:
    """Check ``policy.optimizer.pth`` against ``optimizer`` (a fresh torch optimizer over the policy's
    parameters in SB3's order) and load it into it: the one set of rules for the whole-algorithm loader
    (``--resume``) and the network-only one (:mod:`cs_tui.training.policy_net`).

    Raises:
        ModelLoadError: the state's groups, settings (a NaN learning rate), indices or tensors (shape,
            dtype, non-finite values, a meta tensor) do not match the optimizer.
    """
    import torch

    state = torch_load(path, "policy.optimizer.pth", raw)
    fresh = optimizer.state_dict()
    member = "policy.optimizer.pth"
    if not isinstance(state, dict) or set(state) != {"state", "param_groups"}:
        raise ModelLoadError(f"{path}: {member} is not an optimizer state (expected keys state and param_groups)")
    groups = state["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(fresh["param_groups"]):
        raise ModelLoadError(
            f"{path}: {member} has {_count(groups)} parameter groups, the optimizer has {len(fresh['param_groups'])}"
        )
    for group, reference in zip(groups, fresh["param_groups"], strict=True):
        if not isinstance(group, dict) or set(group) != set(reference):
            raise ModelLoadError(f"{path}: {member}: parameter group settings do not match the optimizer's")
        if group["params"] != reference["params"]:
            raise ModelLoadError(f"{path}: {member}: parameter group indices do not match the optimizer's")
        for key, value in group.items():
            if key != "params" and not _plain_setting(value):
                raise ModelLoadError(f"{path}: {member}: setting {key!r} has an invalid value {value!r}")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    per_param = state["state"]
    if not isinstance(per_param, dict):
        raise ModelLoadError(f"{path}: {member}: 'state' is not a mapping")
    for index, slots in per_param.items():
        if not is_int(index) or not 0 <= index < len(params) or not isinstance(slots, dict):
            raise ModelLoadError(f"{path}: {member}: state for an unknown parameter {index!r}")
        for slot, value in slots.items():
            # "step" is a scalar count; every other slot (moments, averages) is shaped like its parameter
            reference = torch.zeros((), dtype=torch.float32) if slot == "step" else params[index].detach()
            _check_tensor(path, member, f"state[{index}][{slot!r}]", value, reference)
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError, RuntimeError, TypeError) as e:
        raise ModelLoadError(f"{path}: {member} does not fit the optimizer: {first_line(e)}") from None


def _count(value: Any) -> int | str:
    return len(value) if isinstance(value, list) else type(value).__name__


def _plain_setting(value: Any) -> bool:
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, tuple | list):
        return all(is_number(v) for v in value)
    return is_number(value)
