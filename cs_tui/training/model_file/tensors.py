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
        check_variables(path, torch_load(path, "pytorch_variables.pth", members["pytorch_variables.pth"]))


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
        raise not_dense(path, member, name, value)
    check_layout(path, member, name, value.device.type, tuple(value.shape), tuple(expected.shape))
    check_dtype(path, member, name, str(value.dtype), str(expected.dtype))
    try:
        finite = not value.is_floating_point() or bool(torch.isfinite(value).all())
    except (RuntimeError, TypeError, ValueError) as e:  # any other tensor that cannot be read as data
        raise unreadable(path, member, name, e) from None
    if not finite:
        raise non_finite(path, member, name)


# -- the words of each refusal, for this loader and the numpy one (cs_tui.training.numpy_policy) alike


def not_dense(path: Path, member: str, name: str, value: Any) -> ModelLoadError:
    return ModelLoadError(f"{path}: {member}: {name!r} is a {type(value).__name__}, expected a dense tensor")


def check_layout(
    path: Path, member: str, name: str, device: str, shape: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    """Refuse a tensor on a device that holds no data (``meta``), or of another shape than ``expected``."""
    if device != "cpu":  # a "meta" tensor has a shape and no data: nothing to load or compute with
        raise ModelLoadError(f"{path}: {member}: tensor {name!r} is on device {device!r} and holds no data to read")
    if shape != expected:
        raise ModelLoadError(f"{path}: {member}: tensor {name!r} has shape {shape}, the model needs {expected}")


def check_dtype(path: Path, member: str, name: str, dtype: str, expected: str) -> None:
    """Refuse a tensor of another dtype than ``expected`` (torch's names: ``torch.float32``)."""
    if dtype != expected:
        raise ModelLoadError(f"{path}: {member}: tensor {name!r} is {dtype}, the model needs {expected}")


def unreadable(path: Path, member: str, name: str, error: BaseException) -> ModelLoadError:
    return ModelLoadError(f"{path}: {member}: tensor {name!r} cannot be read: {first_line(error)}")


def non_finite(path: Path, member: str, name: str) -> ModelLoadError:
    return ModelLoadError(f"{path}: {member}: tensor {name!r} holds non-finite values (NaN or infinity)")


def check_names(path: Path, state: Any, expected: list[str]) -> None:
    """Refuse a ``policy.pth`` that is not a dict of exactly the ``expected`` names."""
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ModelLoadError(f"{path}: policy.pth is not a dict of named tensors")
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        raise ModelLoadError(f"{path}: policy.pth has tensors the model does not have: {', '.join(unexpected[:5])}")
    if missing:
        raise ModelLoadError(f"{path}: policy.pth lacks tensors the model needs: {', '.join(missing[:5])}")


def check_variables(path: Path, variables: Any) -> None:
    if variables != {}:  # PPO, A2C and DQN keep none; anything here is not ours
        raise ModelLoadError(f"{path}: pytorch_variables.pth holds unexpected variables")


def load_policy(path: Path, policy: Any, raw: bytes) -> None:
    """Check ``policy.pth`` against ``policy`` (a torch module: SB3's policy, or the network alone) and load it."""
    state = torch_load(path, "policy.pth", raw)
    expected = policy.state_dict()
    check_names(path, state, list(expected))
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
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, slot, value in optimizer_slots(path, state, fresh["param_groups"], len(params)):
        # "step" is a scalar count; every other slot (moments, averages) is shaped like its parameter
        reference = torch.zeros((), dtype=torch.float32) if slot == "step" else params[index].detach()
        _check_tensor(path, "policy.optimizer.pth", f"state[{index}][{slot!r}]", value, reference)
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError, RuntimeError, TypeError) as e:
        raise ModelLoadError(f"{path}: policy.optimizer.pth does not fit the optimizer: {first_line(e)}") from None


def optimizer_slots(
    path: Path, state: Any, fresh_groups: list[dict[str, Any]], n_params: int
) -> list[tuple[int, str, Any]]:
    """Check an optimizer state's layout against a fresh optimizer's ``param_groups``; its per-parameter
    slots ``(parameter index, slot name, value)``, each for the caller to check as a tensor.

    Raises:
        ModelLoadError: the state's keys, groups, settings or parameter indices do not match.
    """
    member = "policy.optimizer.pth"
    if not isinstance(state, dict) or set(state) != {"state", "param_groups"}:
        raise ModelLoadError(f"{path}: {member} is not an optimizer state (expected keys state and param_groups)")
    groups = state["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(fresh_groups):
        raise ModelLoadError(
            f"{path}: {member} has {_count(groups)} parameter groups, the optimizer has {len(fresh_groups)}"
        )
    for group, reference in zip(groups, fresh_groups, strict=True):
        if not isinstance(group, dict) or set(group) != set(reference):
            raise ModelLoadError(f"{path}: {member}: parameter group settings do not match the optimizer's")
        if group["params"] != reference["params"]:
            raise ModelLoadError(f"{path}: {member}: parameter group indices do not match the optimizer's")
        for key, value in group.items():
            if key != "params" and not _plain_setting(value):
                raise ModelLoadError(f"{path}: {member}: setting {key!r} has an invalid value {value!r}")
    per_param = state["state"]
    if not isinstance(per_param, dict):
        raise ModelLoadError(f"{path}: {member}: 'state' is not a mapping")
    slots: list[tuple[int, str, Any]] = []
    for index, values in per_param.items():
        if not is_int(index) or not 0 <= index < n_params or not isinstance(values, dict):
            raise ModelLoadError(f"{path}: {member}: state for an unknown parameter {index!r}")
        slots += [(index, slot, value) for slot, value in values.items()]
    return slots


def _count(value: Any) -> int | str:
    return len(value) if isinstance(value, list) else type(value).__name__


def _plain_setting(value: Any) -> bool:
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, tuple | list):
        return all(is_number(v) for v in value)
    return is_number(value)
