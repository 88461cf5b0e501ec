"""A hyperparameter file: one algorithm's settings, as ``cs-tui tune --best`` writes them and
``cs-tui train --hyperparams FILE`` reads them.

    algorithm = "ppo"        # the algorithm the settings are for
    n_envs = 32              # optional: parallel conversations
    [model]                  # stable-baselines3 constructor arguments (hyperparams.toml's [<algorithm>.model])
    learning_rate = 0.0008
    [policy]                 # net_arch, activation_fn
    net_arch = [128, 128]

What the file leaves out keeps its default from ``hyperparams.toml``. Values are checked with the rules
a model file's hyperparameters are held to (``model_file``); a problem is a ``ValueError`` naming the file,
the key and the problem. No torch here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cs_env.files import is_int, toml_file
from cs_tui.files import atomic_write_text
from cs_tui.training.model_file.schema import check_hyperparameters
from cs_tui.training.registry import ALGORITHMS

TOP_KEYS = ("algorithm", "n_envs", "model", "policy")


@dataclass(frozen=True)
class Hyperparams:
    """A read and checked hyperparameter file."""

    path: Path
    algorithm: str
    n_envs: int | None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_hyperparams(path: Path | str) -> Hyperparams:
    """Read and check ``path``; ``ValueError`` naming the file, the key and the problem."""
    path = Path(path)
    data = toml_file(path)
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise ValueError(f"{path}: key {unknown[0]!r}: unknown; valid: {', '.join(TOP_KEYS)}")
    algorithm = data.get("algorithm")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"{path}: key 'algorithm': {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
    n_envs = data.get("n_envs")
    if n_envs is not None and (not is_int(n_envs) or not 1 <= n_envs <= 1024):
        raise ValueError(f"{path}: key 'n_envs': must be an integer in 1-1024, got {n_envs!r}")
    overrides: dict[str, dict[str, Any]] = {}
    for part in ("model", "policy"):
        values = data.get(part, {})
        if not isinstance(values, dict):
            raise ValueError(f"{path}: key {part!r}: must be a table ([{part}])")
        for name, value in values.items():
            try:
                check_hyperparameters(algorithm, {part: {name: value}})
            except ValueError as exc:
                raise ValueError(f"{path}: key '{part}.{name}': {exc}") from None
        overrides[part] = dict(values)
    return Hyperparams(path, algorithm, n_envs, overrides)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written to TOML")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ValueError(f"{value!r} ({type(value).__name__}) cannot be written to a hyperparameter file")


def hyperparams_text(
    algorithm: str, n_envs: int | None, hyperparameters: dict[str, dict[str, Any]], comment: str = ""
) -> str:
    """The file's text (read back by :func:`read_hyperparams` to the same settings)."""
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines.append(f"algorithm = {_toml_value(algorithm)}")
    if n_envs is not None:
        lines.append(f"n_envs = {n_envs}")
    for part in ("model", "policy"):
        values = hyperparameters.get(part) or {}
        lines += ["", f"[{part}]"] + [f"{name} = {_toml_value(v)}" for name, v in values.items()]
    return "\n".join(lines) + "\n"


def write_hyperparams(
    path: Path | str, algorithm: str, n_envs: int | None, hyperparameters: dict[str, dict[str, Any]], comment: str = ""
) -> None:
    """Write the file atomically (temp file in the same folder, then ``os.replace``)."""
    atomic_write_text(path, hyperparams_text(algorithm, n_envs, hyperparameters, comment))
