"""A model file's policy network run with numpy alone: the opponent's suggestions without torch.

Loading a model with torch costs a fresh process seconds before its first answer on a busy machine
(importing torch, then torch's compiler at the first optimizer the optimizer-state check builds):
the play pane said ``default suggests`` 8-10 s after launch. The shipped agents are small MLPs
(SB3's ``MlpPolicy`` for PPO and A2C, DQN's Q-network), so this module reads their tensors with
:func:`~cs_tui.training.model_file.torch_zip.read_torch_file` (numpy, no unpickling) after the same
:func:`~cs_tui.training.model_file.open_checked` as every loader, checks them by the same rules and in
the same words as :mod:`cs_tui.training.model_file.tensors` (names, shapes, dtypes, finiteness, the
optimizer state's layout, no stray variables), and computes what :class:`~cs_tui.training.policy_net.PolicyNet`
computes: the softmax of the action logits (PPO, A2C) or the Q-values (DQN), frame stacks included.

What it does not express (a recurrent policy's LSTM, an optimizer state of another torch version's
settings, a tensor file written some other way) raises :class:`~cs_tui.training.model_file.torch_zip.Unsupported`,
and the caller loads the file with torch instead (:mod:`cs_tui.training.policy_process`). numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cs_tui.training import model_file
from cs_tui.training.memory import Network
from cs_tui.training.model_file.tensors import (
    check_dtype,
    check_layout,
    check_names,
    check_variables,
    non_finite,
    not_dense,
    optimizer_slots,
    unreadable,
)
from cs_tui.training.model_file.torch_zip import TensorRef, Unsupported, read_torch_file

#: SB3's defaults where the description names none, as :mod:`cs_tui.training.policy_net` builds them
DEFAULT_ARCH = [64, 64]
DEFAULT_ACTIVATION = {"ppo": "tanh", "a2c": "tanh", "dqn": "relu"}
DEFAULT_OPTIMIZER = {"ppo": "adam", "a2c": "rmsprop", "dqn": "adam"}
#: the settings a fresh torch optimizer's parameter group holds (torch 2.13; a test checks them against
#: the installed torch): a file whose groups hold others is left to torch, which decides
OPTIMIZER_SETTINGS = {
    "adam": frozenset(["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach", "capturable",
                       "differentiable", "fused", "decoupled_weight_decay", "params"]),
    "rmsprop": frozenset(["lr", "momentum", "alpha", "eps", "centered", "weight_decay", "capturable", "foreach",
                          "maximize", "differentiable", "params"]),
}  # fmt: skip


def _gelu(x: np.ndarray) -> np.ndarray:
    """torch's exact GELU, ``x * Phi(x)`` (numpy has no erf: math's, element by element)."""
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return (0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))).astype(np.float32)


#: torch's activations (their defaults, as SB3 builds them: no arguments), in float32
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, np.float32(0)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, np.float32(0)))),
    "leaky_relu": lambda x: np.where(x >= 0, x, x * np.float32(0.01)),
    "gelu": _gelu,
    "silu": lambda x: x / (np.float32(1) + np.exp(-x)),
}


def _linears(prefix: str, inputs: int, sizes: list[int], outputs: int | None) -> list[tuple[str, int, int]]:
    """``(name, inputs, outputs)`` of each ``Linear`` of an MLP laid out as SB3's (one activation between)."""
    layers = []
    for index, size in enumerate([*sizes, *([outputs] if outputs is not None else [])]):
        layers.append((f"{prefix}.{2 * index}", inputs, size))
        inputs = size
    return layers


def network_layout(algorithm: str, obs_size: int, n_actions: int, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The network's ``Linear`` layers by role (``policy``: from observation to the head's outputs, in
    order), every tensor's name and shape in torch's ``state_dict`` order, and the optimizer's parameters.

    Raises:
        Unsupported: an algorithm this module does not run (recurrent PPO's LSTM).
    """
    if algorithm not in DEFAULT_ACTIVATION:
        raise Unsupported(f"a {algorithm} network")
    arch = kwargs.get("net_arch", DEFAULT_ARCH)
    if algorithm == "dqn":
        online = _linears("q_net.q_net", obs_size, arch, n_actions)
        layers = [*online, *_linears("q_net_target.q_net", obs_size, arch, n_actions)]
        policy, optimized = online, online
    else:
        pi, vf = (arch["pi"], arch["vf"]) if isinstance(arch, dict) else (arch, arch)
        hidden = _linears("mlp_extractor.policy_net", obs_size, pi, None)
        values = _linears("mlp_extractor.value_net", obs_size, vf, None)
        action = ("action_net", pi[-1] if pi else obs_size, n_actions)
        value = ("value_net", vf[-1] if vf else obs_size, 1)
        layers = [*hidden, *values, action, value]
        policy, optimized = [*hidden, action], layers
    shapes: dict[str, tuple[int, ...]] = {}
    for name, inputs, outputs in layers:
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = (outputs, inputs), (outputs,)
    parameters = [shapes[f"{name}.{part}"] for name, _, _ in optimized for part in ("weight", "bias")]
    return {"policy": [name for name, _, _ in policy], "shapes": shapes, "optimized": parameters}


def _array(path: Path, member: str, name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` checked as :mod:`~cs_tui.training.model_file.tensors` checks a tensor (float32 of ``shape``)."""
    if not isinstance(value, TensorRef):
        raise not_dense(path, member, name, value)
    check_layout(path, member, name, value.device, value.shape, shape)
    check_dtype(path, member, name, value.dtype, "torch.float32")
    try:
        array = value.array()
    except ValueError as e:
        raise unreadable(path, member, name, e) from None
    if not np.isfinite(array).all():
        raise non_finite(path, member, name)
    return array


class NumpyPolicyNet(Network):
    """A model file's policy network in numpy: the attributes and answers of
    :class:`~cs_tui.training.policy_net.PolicyNet` (``action_values``, ``new_memory``), float32 inside."""

    def __init__(self, algorithm: str, layers: list[tuple[np.ndarray, np.ndarray]], activation: str,
                 obs_size: int, frame_stack: int = 1) -> None:  # fmt: skip
        self.algorithm = algorithm
        self.layers = layers
        self.activation = ACTIVATIONS[activation]
        self.frame_stack = frame_stack
        self.obs_size = obs_size // frame_stack
        self.kind = "q_values" if algorithm == "dqn" else "probabilities"
        self.remembers = frame_stack > 1

    def values(self, batch: np.ndarray) -> np.ndarray:
        x = np.asarray(batch, dtype=np.float32)
        for number, (weight, bias) in enumerate(self.layers):
            x = x @ weight.T + bias
            if number < len(self.layers) - 1:
                x = self.activation(x)
        if self.kind == "probabilities":  # torch's softmax, in float32
            x = np.exp(x - x.max(axis=-1, keepdims=True))
            x = x / x.sum(axis=-1, keepdims=True)
        return x.astype(np.float64)


def load_numpy_policy(path: Path | str) -> tuple[NumpyPolicyNet, dict[str, Any]]:
    """The policy network in ``path`` as numpy arrays, and the file's validated ``cs_tui.json``; no torch.

    Raises:
        ModelLoadError: naming the file and the problem, as the torch loaders word it.
        Unsupported: a file only torch can tell about (load it with :mod:`cs_tui.training.policy_process`).
    """
    checked = model_file.open_checked(path)
    path, meta, members = checked.path, checked.meta, checked.members
    algorithm, description = meta["algorithm"], meta["model"]
    kwargs = description["policy_kwargs"]
    obs_size = int(np.prod(description["observation_space"]["shape"]))
    layout = network_layout(algorithm, obs_size, int(description["action_space"]["n"]), kwargs)
    settings = OPTIMIZER_SETTINGS[kwargs.get("optimizer_class", DEFAULT_OPTIMIZER[algorithm])]
    if "policy.optimizer.pth" in members and not set(kwargs.get("optimizer_kwargs", {})) <= settings:
        raise Unsupported("optimizer settings the optimizer may not take")  # torch says which
    # in the torch loaders' order: the weights, the optimizer state, the variables; each read, then checked
    state = read_torch_file(path, "policy.pth", members["policy.pth"])
    check_names(path, state, list(layout["shapes"]))
    arrays = {name: _array(path, "policy.pth", name, state[name], shape) for name, shape in layout["shapes"].items()}
    if "policy.optimizer.pth" in members:
        optimizer_state = read_torch_file(path, "policy.optimizer.pth", members["policy.optimizer.pth"])
        _check_optimizer(path, optimizer_state, layout["optimized"], settings)
    if "pytorch_variables.pth" in members:
        check_variables(path, read_torch_file(path, "pytorch_variables.pth", members["pytorch_variables.pth"]))
    layers = [(arrays[f"{name}.weight"], arrays[f"{name}.bias"]) for name in layout["policy"]]
    activation = kwargs.get("activation_fn", DEFAULT_ACTIVATION[algorithm])
    net = NumpyPolicyNet(algorithm, layers, activation, obs_size, int(description.get("frame_stack", 1)))
    return net, meta


def _check_optimizer(path: Path, state: Any, shapes: list[tuple[int, ...]], settings: frozenset[str]) -> None:
    """The optimizer state's layout and tensors, as ``tensors.load_optimizer_state`` checks them."""
    groups = state.get("param_groups") if isinstance(state, dict) else None
    if isinstance(groups, list) and any(isinstance(g, dict) and set(g) != settings for g in groups):
        raise Unsupported("optimizer settings of another torch version")  # torch says whether they fit
    fresh = [{**dict.fromkeys(settings), "params": list(range(len(shapes)))}]
    member = "policy.optimizer.pth"
    for index, slot, value in optimizer_slots(path, state, fresh, len(shapes)):
        _array(path, member, f"state[{index}][{slot!r}]", value, () if slot == "step" else shapes[index])


__all__ = ["NumpyPolicyNet", "load_numpy_policy", "network_layout"]
