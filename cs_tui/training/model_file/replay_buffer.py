"""A DQN's replay buffer beside its model file: plain arrays in an ``.npz`` (never a pickle), checked
against the model's buffer when it is read back."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_tui.files import atomic_write_bytes

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

#: The member we add to SB3's zip.


# -- the replay buffer (DQN) beside the model file ----------------------------------------
def save_replay_buffer(model: BaseAlgorithm, path: Path) -> None:
    """DQN's replay buffer as plain arrays in an ``.npz`` (never pickle), written atomically."""
    import numpy as np

    buffer = model.replay_buffer  # type: ignore[attr-defined]
    n = buffer.buffer_size if buffer.full else buffer.pos
    arrays = {name: getattr(buffer, name)[:n] for name in _buffer_fields(buffer)}
    data = io.BytesIO()
    np.savez(data, pos=np.int64(buffer.pos), full=np.bool_(buffer.full), **arrays)
    atomic_write_bytes(path, data.getvalue())


def _buffer_fields(buffer: Any) -> list[str]:
    names = ["observations", "actions", "rewards", "dones", "timeouts"]
    if not buffer.optimize_memory_usage:
        names.append("next_observations")
    return names


def load_replay_buffer(model: BaseAlgorithm, path: Path) -> int:
    """Refill DQN's replay buffer from :func:`save_replay_buffer`'s file; returns the transitions loaded.

    ``ValueError`` naming the file and the problem when the file does not fit the buffer.
    """
    import numpy as np

    buffer = model.replay_buffer  # type: ignore[attr-defined]
    try:
        with np.load(path, allow_pickle=False) as data:
            pos, full = int(data["pos"]), bool(data["full"])
            n = buffer.buffer_size if full else pos
            if not 0 <= pos <= buffer.buffer_size:
                raise ValueError(f"position {pos} outside the buffer of {buffer.buffer_size}")
            loaded = {}
            for name in _buffer_fields(buffer):
                target = getattr(buffer, name)
                array = data[name]
                if array.shape != (n, *target.shape[1:]) or array.dtype != target.dtype:
                    raise ValueError(
                        f"{name} has shape {array.shape} {array.dtype}, "
                        f"expected {(n, *target.shape[1:])} {target.dtype}"
                    )
                loaded[name] = array
    except (OSError, KeyError, ValueError, EOFError) as exc:
        raise ValueError(f"{path}: cannot restore the replay buffer: {exc}") from None
    for name, array in loaded.items():
        getattr(buffer, name)[:n] = array
    buffer.pos, buffer.full = pos % buffer.buffer_size, full
    return n * buffer.n_envs
