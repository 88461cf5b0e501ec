"""The search spaces of ``cs-tui tune``: ``search_space.toml`` beside this file, validated on load.

The file's format is documented at its top. :func:`load_search_space` reads it into
:class:`Parameter` rows per algorithm; a bad entry is a ``ValueError`` naming the file, the key and the
problem (``search_space.toml: key 'ppo.model.gamma': high 1.5 is not allowed: hyperparameter 'gamma'
must lie in [0, 1], got 1.5``), as the industry files' loader does. Every value a range or a choice can
give is checked with the same rules a model file's hyperparameters are (``model_file``), so a study
never starts a trial the trainer or the model loader would refuse.

No Optuna here: :meth:`Parameter.suggest` takes any object with Optuna's ``suggest_*`` methods, so
reading and checking the file stays cheap (the app shows the space without importing Optuna).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cs_env.files import is_int, toml_file
from cs_tui.training.model_file.format import HYPERPARAMETERS, is_number
from cs_tui.training.model_file.schema import check_hyperparameters
from cs_tui.training.registry import ALGORITHMS, MAX_N_ENVS

SEARCH_SPACE_FILE = Path(__file__).with_name("search_space.toml")
TYPES = ("float", "int", "categorical")
#: What each part of a parameter's key may name.
PARTS: dict[str, tuple[str, ...] | None] = {
    "model": None,  # per algorithm: HYPERPARAMETERS[algorithm]
    "policy": ("net_arch", "activation_fn"),
    "trainer": ("n_envs",),
}


@dataclass(frozen=True)
class Parameter:
    """One searched hyperparameter: ``part`` (model, policy, trainer), ``name`` and its range or choices."""

    part: str
    name: str
    type: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    @property
    def key(self) -> str:
        """The name Optuna records (``model.learning_rate``): unique across the parts."""
        return f"{self.part}.{self.name}"

    def suggest(self, trial: Any) -> Any:
        """Draw a value with ``trial``'s ``suggest_*`` (lists are offered to Optuna as JSON text)."""
        if self.type == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return trial.suggest_int(
                self.key, int(self.low or 0), int(self.high or 0), log=self.log, step=self.step or 1
            )
        # Optuna's categorical choices are scalars: a list (net_arch) travels as its JSON text
        labels = [_label(c) for c in self.choices]
        return _unlabel(trial.suggest_categorical(self.key, labels))

    def decode(self, value: Any) -> Any:
        """A value as Optuna stored it (``"[64, 64]"``) back to the hyperparameter (``[64, 64]``)."""
        return _unlabel(value) if self.type == "categorical" else value


def format_params(params: dict[str, Any]) -> str:
    """``learning_rate=0.00123 net_arch=64x64``: a trial's parameters in one short line."""

    def short(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}"
        if isinstance(value, list):
            return "x".join(map(str, value))
        return str(value)

    return " ".join(f"{key.split('.', 1)[-1]}={short(value)}" for key, value in params.items())


def shown_value(row: dict[str, Any]) -> tuple[str, float | None]:
    """A trial row's % of oracle as shown ("91.3"; a trial without one shows its last evaluation,
    marked "*") and the number behind it."""
    value = row["value"] if row["value"] is not None else row["last_eval"]
    if value is None:
        return "–", None
    return f"{value:.1f}" + ("" if row["value"] is not None else "*"), float(value)


#: how each shown trial state is coloured, in the app's tuning view and ``cs-tui tune``'s table
STATE_STYLE = {"complete": "green", "pruned": "yellow", "fail": "red", "running": "cyan", "waiting": "dim",
               "stopped": "yellow"}  # fmt: skip


def shown_state(row: dict[str, Any]) -> str:
    """A trial row's state as shown: a trial failed because its worker was stopped reads ``stopped``."""
    return "stopped" if row["state"] == "fail" and row.get("interrupted") else str(row["state"])


def _label(choice: Any) -> Any:
    return json.dumps(choice) if isinstance(choice, list) else choice


def _unlabel(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("["):
        return json.loads(value)
    return value


def apply(params: dict[str, Any], space: list[Parameter]) -> tuple[dict[str, dict[str, Any]], int | None]:
    """Optuna's ``trial.params`` as trainer overrides ``{"model": {...}, "policy": {...}}`` and n_envs."""
    by_key = {p.key: p for p in space}
    overrides: dict[str, dict[str, Any]] = {"model": {}, "policy": {}}
    n_envs = None
    for key, value in params.items():
        parameter = by_key.get(key)
        part, _, name = key.partition(".")
        decoded = parameter.decode(value) if parameter else _unlabel(value)
        if part == "trainer" and name == "n_envs":
            n_envs = int(decoded)
        elif part in overrides:
            overrides[part][name] = decoded
    return overrides, n_envs


def load_search_space(path: Path = SEARCH_SPACE_FILE) -> dict[str, list[Parameter]]:
    """Every algorithm's search space from ``path``; ``ValueError`` naming the file, key and problem."""
    data = toml_file(path)
    unknown = sorted(set(data) - set(ALGORITHMS))
    if unknown:
        raise ValueError(f"{path}: unknown algorithm section [{unknown[0]}]; valid: {', '.join(ALGORITHMS)}")
    spaces: dict[str, list[Parameter]] = {}
    for algorithm in ALGORITHMS:
        section = data.get(algorithm, {})
        if not isinstance(section, dict):
            raise ValueError(f"{path}: [{algorithm}] must be a table")
        params = []
        for part, entries in section.items():
            allowed: tuple[str, ...] | None = PARTS.get(part, ())
            if part == "model":
                allowed = tuple(HYPERPARAMETERS[algorithm])
            if part not in PARTS or not isinstance(entries, dict):
                raise ValueError(
                    f"{path}: key '{algorithm}.{part}': not a part of a search space; valid: {', '.join(PARTS)}"
                )
            for name, spec in entries.items():
                key = f"{algorithm}.{part}.{name}"
                if name not in (allowed or ()):
                    raise ValueError(
                        f"{path}: key '{key}': unknown {part} parameter; valid: {', '.join(allowed or ())}"
                    )
                try:
                    params.append(_parameter(algorithm, part, name, spec))
                except ValueError as exc:
                    raise ValueError(f"{path}: key '{key}': {exc}") from None
        spaces[algorithm] = params
    return spaces


def _parameter(algorithm: str, part: str, name: str, spec: Any) -> Parameter:
    if not isinstance(spec, dict):
        raise ValueError("must be a table with type = float, int or categorical")
    kind = spec.get("type")
    if kind not in TYPES:
        raise ValueError(f"type {kind!r} is not one of {', '.join(TYPES)}")
    allowed = {"type", "choices"} if kind == "categorical" else {"type", "low", "high", "log", "step"}
    extra = sorted(set(spec) - allowed)
    if extra:
        raise ValueError(f"{extra[0]!r} does not belong to a {kind} parameter; it takes {', '.join(sorted(allowed))}")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ValueError("choices must be a non-empty list")
        labels = [_label(c) for c in choices]
        if len(set(map(json.dumps, labels))) != len(labels):
            raise ValueError("choices must not repeat a value")
        for choice in choices:
            _check_value(algorithm, part, name, choice, "choice")
        return Parameter(part, name, kind, choices=tuple(choices))
    low, high, log, step = spec.get("low"), spec.get("high"), spec.get("log", False), spec.get("step")
    for label, value in (("low", low), ("high", high)):
        if not is_number(value):
            raise ValueError(f"{label} must be a finite number, got {value!r}")
        if kind == "int" and not isinstance(value, int):
            raise ValueError(f"{label} of an int parameter must be an integer, got {value!r}")
    assert low is not None and high is not None
    if not low < high:
        raise ValueError(f"low {low!r} is not below high {high!r}")
    if not isinstance(log, bool):
        raise ValueError(f"log must be true or false, got {log!r}")
    if log and low <= 0:
        raise ValueError(f"a log range needs low > 0, got {low!r}")
    if step is not None:
        if not is_number(step) or step <= 0 or (kind == "int" and not isinstance(step, int)):
            raise ValueError(f"step must be a positive {'integer' if kind == 'int' else 'number'}, got {step!r}")
        if log:
            raise ValueError("step cannot be combined with log = true (Optuna refuses it)")
    if part == "policy":
        raise ValueError(f'{name} takes choices (type = "categorical"), not a range')
    value_of = int if kind == "int" else float
    for label, value in (("low", low), ("high", high)):
        _check_value(algorithm, part, name, value_of(value), label)
    return Parameter(part, name, kind, low=low, high=high, log=log, step=step)


def _check_value(algorithm: str, part: str, name: str, value: Any, label: str) -> None:
    """``value`` must be something the trainer and the model loader accept for this parameter."""
    if part == "trainer":
        if not is_int(value) or not 1 <= value <= MAX_N_ENVS:
            raise ValueError(f"{label} {value!r} is not allowed: n_envs must be an integer in 1-{MAX_N_ENVS}")
        return
    hyperparameters: dict[str, dict[str, Any]] = {"model": {}, "policy": {}}
    if part == "model" and HYPERPARAMETERS[algorithm][name] == "float" and is_number(value):
        value = float(value)  # 1 in a float's choices means 1.0
    hyperparameters[part][name] = value
    try:
        check_hyperparameters(algorithm, hyperparameters)
    except ValueError as exc:
        raise ValueError(f"{label} {value!r} is not allowed: {exc}") from None
    if part == "model" and name == "learning_rate" and value <= 0:
        raise ValueError(f"{label} {value!r} is not allowed: a learning rate must be above 0")
