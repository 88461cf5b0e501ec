"""A model file's tensors, loaded as data only: ``torch.load(weights_only=True)`` (nothing unpickled), then
every name, shape, dtype and value checked against the network or optimizer they are loaded into.

:func:`load_weights` is what both loaders (the whole algorithm and the network alone) load a checked file's
tensors through, so a rule cannot be applied by one and missed by the other. torch is imported inside
functions only.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cs_env.files import is_int
from cs_tui.training.model_file import CheckedFile
from cs_tui.training.model_file.format import ModelLoadError, first_line, is_number


def load_weights(checked: CheckedFile, policy: Any, optimizer: Callable[[], Any]) -> None:
    """Load a checked file's tensors: ``policy.pth`` into ``policy`` (a torch module); ``policy.optimizer.pth``,
    when the file has one, into the optimizer ``optimizer()`` makes (the rules ``--resume`` holds it to,
    though acting never needs it); ``pytorch_variables.pth`` must hold none.

    Raises:
        ModelLoadError: naming the file, the member and the tensor that does not fit.
    """
    path, members = checked.path, checked.members
    load_policy(path, policy, members["policy.pth"])
    if "policy.optimizer.pth" in members:
        load_optimizer_state(path, optimizer(), members["policy.optimizer.pth"])
    if "pytorch_variables.pth" in members:
        variables = torch_load(path, "pytorch_variables.pth", members["pytorch_variables.pth"])
        if variables != {}:  # PPO, A2C and DQN keep none; anything here is not ours
            raise ModelLoadError(f"{path}: pytorch_variables.pth holds unexpected variables")


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


def load_policy(path: Path, policy: Any, raw: bytes) -> None:
    """Check ``policy.pth`` against ``policy`` (a torch module: SB3's policy, or the network alone) and load it."""
    state = torch_load(path, "policy.pth", raw)
    expected = policy.state_dict()
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
    policy.load_state_dict(state, strict=True)


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
