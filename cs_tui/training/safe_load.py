"""A loader that never unpickles a model file: the algorithm rebuilt from its description, then tensors only.

SB3's ``load`` unpickles the values stored behind ``":serialized:"`` keys of the zip's ``data`` member,
and ``custom_objects`` cannot stop a payload placed under a key it does not name: a crafted file runs
code. :func:`load_model` never unpickles those values. It rebuilds the algorithm from the validated
``cs_tui.json`` (:mod:`cs_tui.training.model_file`), checks the ``data`` member
(:mod:`cs_tui.training.model_file.pickle_scan`), then loads tensors only (``torch.load(weights_only=True)``) after
checking every name, shape, dtype and value against the freshly built policy.

The file is opened and checked by :func:`~cs_tui.training.model_file.open_checked` and its tensors loaded
by :func:`~cs_tui.training.model_file.tensors.load_weights`, as the network-only loader
(:mod:`cs_tui.training.policy_net`) does. torch and stable-baselines3 are imported inside functions only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_tui.training.model_file import open_checked
from cs_tui.training.model_file.format import META_MEMBER, ModelLoadError, first_line
from cs_tui.training.model_file.tensors import load_weights
from cs_tui.training.model_file.writer import torch_classes

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecEnv

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
    checked = open_checked(path)
    model = _rebuild(checked.path, checked.meta, env)
    load_weights(checked, model.policy, lambda: model.policy.optimizer)
    _check_outputs(checked.path, model)
    model.num_timesteps = int(checked.meta["model"]["num_timesteps"])
    return model, checked.meta


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
