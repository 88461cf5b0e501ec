"""Load only what ``predict`` needs: a model file's policy network, without SB3's algorithm or optimizer.

Rebuilding the whole algorithm (:func:`cs_tui.training.safe_load.load_model`) imports stable-baselines3
and makes an env, a rollout buffer (a replay buffer for DQN) and an optimizer: seconds on a loaded
machine, before an opponent can suggest anything. Acting needs only the MLP from observation to
action. This module builds that MLP with plain torch from the file's validated ``cs_tui.json``, naming
its layers as SB3's ``MlpPolicy`` does, so the file's ``policy.pth`` loads into it through
``safe_load``'s own checks: the zip's allow-list and size caps, the description's validation, a
``weights_only`` torch load (nothing unpickled), and every tensor's name, shape, dtype and finiteness
against the network built here. stable-baselines3 is never imported.

The net answers as SB3's ``predict(deterministic=True)`` does: observations go in as float32 as they
are (SB3 does not rescale a ``Box``), PPO and A2C pick the most likely action of the categorical
distribution over the action logits, DQN the action with the highest Q-value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cs_tui.training import safe_load
from cs_tui.training.safe_load import META_MEMBER, ModelLoadError

if TYPE_CHECKING:
    import torch

#: SB3's MlpPolicy defaults where the description names none (ActorCriticPolicy and DQNPolicy).
DEFAULT_ARCH = {"ppo": [64, 64], "a2c": [64, 64], "dqn": [64, 64]}
DEFAULT_ACTIVATION = {"ppo": "tanh", "a2c": "tanh", "dqn": "relu"}


@dataclass(frozen=True)
class _Module:
    """Stands in for an SB3 model where ``safe_load`` checks and loads a ``policy.pth`` (it reads ``.policy``)."""

    policy: Any


def _layers(inputs: int, sizes: list[int], activation: Any) -> list[Any]:
    """``Linear, activation`` per hidden layer, as SB3's ``create_mlp`` and ``MlpExtractor`` lay them out."""
    import torch

    layers: list[Any] = []
    for size in sizes:
        layers += [torch.nn.Linear(inputs, size), activation()]
        inputs = size
    return layers


def _build(algorithm: str, obs_size: int, n_actions: int, policy_kwargs: dict[str, Any]) -> torch.nn.Module:
    """An MLP with SB3's parameter names (``mlp_extractor.policy_net.0.weight``, ``q_net.q_net.0.weight``, …)."""
    import torch

    activations, _ = safe_load._torch_classes()
    activation = activations[policy_kwargs.get("activation_fn", DEFAULT_ACTIVATION[algorithm])]
    arch = policy_kwargs.get("net_arch", DEFAULT_ARCH[algorithm])
    root = torch.nn.Module()
    if algorithm == "dqn":
        # DQNPolicy: q_net and q_net_target, each a QNetwork whose q_net is create_mlp(obs, actions, arch)
        for name in ("q_net", "q_net_target"):
            network = torch.nn.Module()
            last = arch[-1] if arch else obs_size
            network.q_net = torch.nn.Sequential(*_layers(obs_size, arch, activation), torch.nn.Linear(last, n_actions))
            root.add_module(name, network)
        return root
    pi, vf = (arch["pi"], arch["vf"]) if isinstance(arch, dict) else (arch, arch)
    extractor = torch.nn.Module()
    extractor.policy_net = torch.nn.Sequential(*_layers(obs_size, pi, activation))
    extractor.value_net = torch.nn.Sequential(*_layers(obs_size, vf, activation))
    root.mlp_extractor = extractor
    root.action_net = torch.nn.Linear(pi[-1] if pi else obs_size, n_actions)
    root.value_net = torch.nn.Linear(vf[-1] if vf else obs_size, 1)  # unused to act, but in the file: checked
    return root


class PolicyNet:
    """A model file's policy network, to act: :meth:`action_values` and :meth:`predict` on observations."""

    def __init__(self, algorithm: str, network: torch.nn.Module, obs_size: int) -> None:
        self.algorithm = algorithm
        self.network = network.eval()
        self.obs_size = obs_size
        #: "probabilities" (PPO, A2C) or "q_values" (DQN)
        self.kind = "q_values" if algorithm == "dqn" else "probabilities"

    def action_values(self, obs: np.ndarray) -> np.ndarray:
        """Action probabilities (PPO, A2C) or Q-values (DQN), float64, shape ``(8,)`` or ``(n, 8)``."""
        import torch

        batch = np.asarray(obs, dtype=np.float32)
        one = batch.ndim == 1
        tensor = torch.as_tensor(batch.reshape(-1, self.obs_size))
        net: Any = self.network
        with torch.no_grad():
            if self.algorithm == "dqn":
                values = net.q_net.q_net(tensor)
            else:
                values = torch.softmax(net.action_net(net.mlp_extractor.policy_net(tensor)), dim=-1)
        array = values.numpy().astype(np.float64)
        return array[0] if one else array

    def predict(self, obs: np.ndarray) -> np.ndarray:
        """The greedy action of each observation (``int64``; a 0-d array for one observation)."""
        return np.asarray(np.argmax(self.action_values(obs), axis=-1), dtype=np.int64)


def load_policy_net(path: Path | str) -> tuple[PolicyNet, dict[str, Any]]:
    """The policy network in ``path`` and the file's validated ``cs_tui.json``; stable-baselines3 is not imported.

    Raises:
        ModelLoadError: naming the file and the problem (the same checks as ``safe_load.load_model``'s).
    """
    import torch

    path = Path(path)
    members = safe_load._read_members(path)
    meta = safe_load._parse_meta(path, members)
    if "policy.pth" not in members:
        raise ModelLoadError(f"{path}: no policy.pth member: the file holds no weights")
    description = meta["model"]
    obs_size = int(np.prod(description["observation_space"]["shape"]))
    n_actions = int(description["action_space"]["n"])
    try:
        network = _build(meta["algorithm"], obs_size, n_actions, description["policy_kwargs"])
    except (ValueError, TypeError, KeyError, RuntimeError, MemoryError, torch.OutOfMemoryError) as e:
        raise ModelLoadError(
            f"{path}: cannot build the policy from {META_MEMBER}: {safe_load._first_line(e)}"
        ) from None
    # the file-level rules of the whole-algorithm loader, for users who later open the file with SB3's load
    if "data" in members:
        safe_load._check_data(path, meta["algorithm"], members["data"])
    if "policy.optimizer.pth" in members:  # weights only: a crafted pickle is refused, nothing is run
        safe_load._torch_load(path, "policy.optimizer.pth", members["policy.optimizer.pth"])
    # _load_policy reads only the model's .policy: the stand-in hands it this network
    safe_load._load_policy(path, _Module(network), members["policy.pth"])  # type: ignore[arg-type]
    if "pytorch_variables.pth" in members:
        variables = safe_load._torch_load(path, "pytorch_variables.pth", members["pytorch_variables.pth"])
        if variables != {}:  # PPO, A2C and DQN keep none; anything here is not ours
            raise ModelLoadError(f"{path}: pytorch_variables.pth holds unexpected variables")
    return PolicyNet(meta["algorithm"], network, obs_size), meta


__all__ = ["PolicyNet", "load_policy_net"]
