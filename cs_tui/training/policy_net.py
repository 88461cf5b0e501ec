"""Load only what ``predict`` needs: a model file's policy network, without SB3's algorithm or optimizer.

Rebuilding the whole algorithm (:func:`cs_tui.training.safe_load.load_model`) imports stable-baselines3
and makes an env, a rollout buffer (a replay buffer for DQN) and an optimizer: seconds on a loaded
machine, before an opponent can suggest anything. Acting needs only the MLP from observation to
action. This module builds that MLP with plain torch from the file's validated ``cs_tui.json``, naming
its layers as SB3's ``MlpPolicy`` does, so the file opens through the same
:func:`~cs_tui.training.model_file.open_checked` as the whole-algorithm loader (the zip's allow-list and
size caps, the description's validation, the ``data`` member's pickles) and its tensors load through the
same :func:`~cs_tui.training.model_file.tensors.load_weights` (a ``weights_only`` torch load, nothing
unpickled, every tensor's name, shape, dtype and finiteness against the network built here).
stable-baselines3 is never imported.

The net answers as SB3's ``predict(deterministic=True)`` does: observations go in as float32 as they
are (SB3 does not rescale a ``Box``), PPO and A2C pick the most likely action of the categorical
distribution over the action logits, DQN the action with the highest Q-value.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cs_tui.training import model_file, safe_load
from cs_tui.training.memory import Network
from cs_tui.training.model_file.format import META_MEMBER, ModelLoadError, first_line
from cs_tui.training.model_file.tensors import load_weights
from cs_tui.training.model_file.writer import torch_classes

if TYPE_CHECKING:
    import torch


#: SB3's MlpPolicy defaults where the description names none (ActorCriticPolicy and DQNPolicy, and
#: sb3-contrib's RecurrentActorCriticPolicy).
DEFAULT_ARCH = {"ppo": [64, 64], "a2c": [64, 64], "dqn": [64, 64], "recurrent_ppo": [64, 64]}
DEFAULT_ACTIVATION = {"ppo": "tanh", "a2c": "tanh", "dqn": "relu", "recurrent_ppo": "tanh"}
DEFAULT_LSTM = {"lstm_hidden_size": 256, "n_lstm_layers": 1}


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

    activations, _ = torch_classes()
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
    inputs = obs_size
    if algorithm == "recurrent_ppo":
        # RecurrentActorCriticPolicy: an LSTM for the actor and one for the critic (its defaults: no
        # shared LSTM), then the MLP extractor on the LSTM's output
        hidden = policy_kwargs.get("lstm_hidden_size", DEFAULT_LSTM["lstm_hidden_size"])
        layers = policy_kwargs.get("n_lstm_layers", DEFAULT_LSTM["n_lstm_layers"])
        root.lstm_actor = torch.nn.LSTM(obs_size, hidden, num_layers=layers)
        root.lstm_critic = torch.nn.LSTM(obs_size, hidden, num_layers=layers)  # unused to act; checked
        inputs = hidden
    extractor = torch.nn.Module()
    extractor.policy_net = torch.nn.Sequential(*_layers(inputs, pi, activation))
    extractor.value_net = torch.nn.Sequential(*_layers(inputs, vf, activation))
    root.mlp_extractor = extractor
    root.action_net = torch.nn.Linear(pi[-1] if pi else inputs, n_actions)
    root.value_net = torch.nn.Linear(vf[-1] if vf else inputs, 1)  # unused to act, but in the file: checked
    return root


#: The parameters SB3's optimizer holds, by top-level module, in its order: DQN's optimizer holds the online
#: Q-network only; RecurrentPPO builds its LSTMs after the MLP and the heads, and its optimizer after both.
OPTIMIZED = {
    "ppo": ("mlp_extractor", "action_net", "value_net"),
    "a2c": ("mlp_extractor", "action_net", "value_net"),
    "dqn": ("q_net",),
    "recurrent_ppo": ("mlp_extractor", "action_net", "value_net", "lstm_actor", "lstm_critic"),
}
#: The optimizer SB3 gives each algorithm when the policy kwargs name none (A2C: RMSprop, the rest Adam).
DEFAULT_OPTIMIZER = {"ppo": "adam", "a2c": "rmsprop", "dqn": "adam", "recurrent_ppo": "adam"}


def _optimizer_like_sb3s(meta: dict[str, Any], network: torch.nn.Module) -> Any:
    """A fresh optimizer of the class SB3 would build, over ``network``'s parameters in SB3's order: what a
    file's optimizer state is checked against (its settings' names, its parameters' shapes)."""
    algorithm = meta["algorithm"]
    kwargs = safe_load.policy_kwargs_from_json(meta["model"]["policy_kwargs"])
    _, optimizers = torch_classes()
    optimizer_class = kwargs.get("optimizer_class", optimizers[DEFAULT_OPTIMIZER[algorithm]])
    named = list(network.named_parameters())
    ordered = [p for prefix in OPTIMIZED[algorithm] for name, p in named if name.split(".")[0] == prefix]
    return optimizer_class(ordered, lr=1.0, **kwargs.get("optimizer_kwargs", {}))


class PolicyNet(Network):
    """A model file's policy network, to act: :meth:`action_values` and :meth:`predict` on observations.

    A network that remembers (an LSTM, or ``frame_stack`` observations side by side) acts through a
    :class:`~cs_tui.training.memory.Memory` (:meth:`new_memory`), which knows whose turn each observation is.
    """

    def __init__(self, algorithm: str, network: torch.nn.Module, obs_size: int, frame_stack: int = 1) -> None:
        self.algorithm = algorithm
        self.network = network.eval()
        self.frame_stack = frame_stack
        #: one observation of the env (the network reads ``frame_stack`` of them)
        self.obs_size = obs_size // frame_stack
        #: "probabilities" (PPO, A2C, recurrent PPO) or "q_values" (DQN)
        self.kind = "q_values" if algorithm == "dqn" else "probabilities"
        self.remembers = algorithm == "recurrent_ppo" or frame_stack > 1

    def _head(self, tensor: torch.Tensor) -> torch.Tensor:
        """From the policy's features (the observation, or an LSTM's output) to action values."""
        import torch

        net: Any = self.network
        if self.algorithm == "dqn":
            return net.q_net.q_net(tensor)
        return torch.softmax(net.action_net(net.mlp_extractor.policy_net(tensor)), dim=-1)

    def values(self, batch: np.ndarray) -> np.ndarray:
        """The head's outputs for a batch of what the network reads (``frame_stack`` observations side by side)."""
        import torch

        with torch.no_grad():
            return self._head(torch.as_tensor(batch)).numpy().astype(np.float64)

    @property
    def lstm_shape(self) -> tuple[int, int] | None:
        """``(layers, hidden size)`` of the actor's LSTM (recurrent PPO), else None."""
        if self.algorithm != "recurrent_ppo":
            return None
        lstm: Any = self.network.lstm_actor
        return int(lstm.num_layers), int(lstm.hidden_size)

    def lstm_step(self, obs: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One step of the actor's LSTM and the head (sb3-contrib's ``_process_sequence`` for a sequence of 1)."""
        import torch

        lstm: Any = self.network.lstm_actor
        with torch.no_grad():
            out, (h_t, c_t) = lstm(torch.as_tensor(obs).unsqueeze(0), (torch.as_tensor(h), torch.as_tensor(c)))
            values = self._head(out[0]).numpy().astype(np.float64)
        return values, h_t.numpy(), c_t.numpy()


def load_policy_net(path: Path | str) -> tuple[PolicyNet, dict[str, Any]]:
    """The policy network in ``path`` and the file's validated ``cs_tui.json``; stable-baselines3 is not imported.

    Raises:
        ModelLoadError: naming the file and the problem (the same checks as ``safe_load.load_model``'s).
    """
    import torch

    checked = model_file.open_checked(path)
    path, meta = checked.path, checked.meta
    description = meta["model"]
    obs_size = int(np.prod(description["observation_space"]["shape"]))
    n_actions = int(description["action_space"]["n"])
    try:
        network = _build(meta["algorithm"], obs_size, n_actions, description["policy_kwargs"])
    except (ValueError, TypeError, KeyError, RuntimeError, MemoryError, torch.OutOfMemoryError) as e:
        raise ModelLoadError(f"{path}: cannot build the policy from {META_MEMBER}: {first_line(e)}") from None
    load_weights(checked, network, lambda: _optimizer_like_sb3s(meta, network))
    return PolicyNet(meta["algorithm"], network, obs_size, int(description.get("frame_stack", 1))), meta


__all__ = ["PolicyNet", "load_policy_net"]
