"""Model files: stable-baselines3's own ``.zip`` plus ``cs_tui.json``, a description in plain JSON, and the one
way in: :func:`open_checked`.

A model file is SB3's ``.zip`` (so ``PPO.load`` still works for users who trust the file) plus one
member, ``cs_tui.json``: the algorithm, the constructor hyperparameters and policy kwargs in plain JSON,
the industry, ``max_turns``, the observation and action spaces, and where the model came from.

Every loader opens a file through :func:`open_checked`, which applies every rule that needs no torch in
one order, then loads the tensors through :func:`~cs_tui.training.model_file.tensors.load_weights`: a
rule cannot be applied by one loader and missed by another. The loaders are
:mod:`cs_tui.training.safe_load` (the whole algorithm) and :mod:`cs_tui.training.policy_net` (the
network alone). By job:

- :mod:`~cs_tui.training.model_file.format`: the members, limits and settings a file may hold;
  :class:`~cs_tui.training.model_file.format.ModelLoadError`;
- :mod:`~cs_tui.training.model_file.writer`: :func:`save_model`, :func:`describe_model`;
- :mod:`~cs_tui.training.model_file.zip_guard`: the members read within the allow-list and size caps;
- :mod:`~cs_tui.training.model_file.schema`: ``cs_tui.json`` parsed and every field checked;
- :mod:`~cs_tui.training.model_file.pickle_scan`: the ``data`` member's pickles read without unpickling;
- :mod:`~cs_tui.training.model_file.tensors`: the weights loaded as data only, every tensor checked;
- :mod:`~cs_tui.training.model_file.replay_buffer`: a DQN's replay buffer beside its model.

Light: this package's entry imports no torch (the writer and the tensors import it inside functions).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cs_tui.training.model_file.format import META_MEMBER, ModelLoadError
from cs_tui.training.model_file.pickle_scan import check_data
from cs_tui.training.model_file.schema import parse_meta
from cs_tui.training.model_file.zip_guard import read_members


@dataclass(frozen=True)
class CheckedFile:
    """A model file that passed every check short of its tensors: its members (raw bytes) and description."""

    path: Path
    meta: dict[str, Any]
    members: dict[str, bytes]


def open_checked(path: Path | str) -> CheckedFile:
    """Read ``path`` and check it by every rule that needs no torch, in the one order every loader uses: the
    zip guard (members, sizes, kinds), ``cs_tui.json`` (every field), the weights' presence, the ``data``
    member's pickles (read, never unpickled).

    Raises:
        ModelLoadError: naming the file and the problem.
    """
    path = Path(path)
    members = read_members(path)
    meta = parse_meta(path, members)
    if "policy.pth" not in members:
        raise ModelLoadError(f"{path}: no policy.pth member: the file holds no weights")
    if "data" in members:
        check_data(path, meta["algorithm"], members["data"])
    return CheckedFile(path, meta, members)


def read_model_meta(path: Path | str) -> dict[str, Any]:
    """The validated ``cs_tui.json`` of a model file, without torch (for listings).

    Raises:
        ModelLoadError: the file is missing, not a model file, or its description is invalid.
    """
    path = Path(path)
    members = read_members(path, only=META_MEMBER)
    return parse_meta(path, members)
