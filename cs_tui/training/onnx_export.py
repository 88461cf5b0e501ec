"""A trained agent that leaves: a run's policy network as an ONNX file any runtime can serve.

SB3's documented recipe (docs/guide/export.rst, "Export to ONNX"): wrap the policy in a module whose
``forward`` answers the greedy action and trace it with ``torch.onnx.export``. torch 2.13's default
exporter is the dynamo one, which needs onnxscript (not installed: ``ModuleNotFoundError``) and
``dynamic_shapes`` instead of ``dynamic_axes``; this MLP needs none of it, so the TorchScript exporter
is asked for (``dynamo=False``), with the batch size left dynamic.

The graph takes ``observation`` (float32, ``(batch, the env's observation size)``) and gives
``action`` (int64, ``(batch,)``, the greedy strategy, as ``predict(deterministic=True)``) and
``action_values`` (float32, ``(batch, 8)``: PPO/A2C probabilities, DQN Q-values). Networks that
remember the conversation (recurrent PPO, frame-stacked) need state across calls: refused, with the reason.

Imports torch and onnx when called.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

from cs_tui.files import atomic_write_bytes

INPUT = "observation"
OUTPUTS = ("action", "action_values")
OPSET = 17


class ExportError(ValueError):
    """The model cannot be exported; the message says why."""


def _module(net: Any) -> Any:
    """SB3's ``OnnxableSB3Policy``, for our plain-torch policy network: observation → (action, values)."""
    import torch

    class OnnxablePolicy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = net.network

        def forward(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            values = net._head(observation)
            return torch.argmax(values, dim=-1), values

    return OnnxablePolicy().eval()


def onnx_bytes(model_path: Path) -> bytes:
    """The ONNX file of the policy in ``model_path`` (loaded through the safe loader: nothing unpickled)."""
    import torch

    from cs_tui.training.policy_net import load_policy_net

    net, _ = load_policy_net(model_path)
    if net.remembers:
        raise ExportError(
            f"{model_path}: a {net.algorithm} model that remembers the conversation (LSTM or frame stacking) needs "
            "its state carried between calls; only feed-forward models (ppo, a2c, dqn) export to ONNX"
        )
    module = _module(net)
    example = torch.zeros((1, net.obs_size), dtype=torch.float32)
    with tempfile.TemporaryDirectory(prefix="cs-tui-onnx-") as scratch, torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter is deprecated, not gone: it is the one that exports this MLP
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module,
            (example,),
            Path(scratch) / "policy.onnx",
            input_names=[INPUT],
            output_names=list(OUTPUTS),
            dynamic_axes={INPUT: {0: "batch"}, OUTPUTS[0]: {0: "batch"}, OUTPUTS[1]: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
        data = (Path(scratch) / "policy.onnx").read_bytes()
    import onnx

    onnx.checker.check_model(onnx.load_model_from_string(data))
    return data


def export_onnx(model_path: Path, target: Path) -> None:
    """Write the ONNX file of ``model_path`` to ``target``, atomically (a temp file, then ``os.replace``)."""
    atomic_write_bytes(target, onnx_bytes(model_path))


__all__ = ["INPUT", "OUTPUTS", "ExportError", "export_onnx", "onnx_bytes"]
