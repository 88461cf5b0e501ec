"""``cs_tui.json``, a model file's description, parsed and every field checked: the format and schema, the
env it was made for, the algorithm, its hyperparameters and policy settings within the format's limits, the
spaces, where the model came from and its evaluation. Also the rules a model's hyperparameters are held to
before a model exists (:func:`check_hyperparameters`: ``--hyperparams FILE``, the tuner's search space).
Light: no torch."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_env.files import is_int
from cs_tui.training.model_file.format import (
    ACTIVATIONS,
    FORMAT,
    HYPERPARAMETERS,
    MAX_BUFFER,
    MAX_LAYER_WIDTH,
    MAX_LAYERS,
    MAX_LSTM_LAYERS,
    MAX_STEPS,
    META_MEMBER,
    OPTIMIZERS,
    POLICIES,
    POLICY_KWARGS,
    SCHEMA,
    ModelLoadError,
    first_line,
    frame_stacked,
    is_number,
    space_to_json,
)
from cs_tui.training.registry import RUN_NAME, RUN_NAME_RULE, check_algorithm, frame_stack_problem

if TYPE_CHECKING:
    pass


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def parse_meta(path: Path, members: dict[str, bytes]) -> dict[str, Any]:
    """The validated ``cs_tui.json``, after SB3's two text members (which SB3's ``load`` reads) are checked."""
    _check_text_members(path, members)
    try:
        meta = json.loads(members[META_MEMBER].decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ModelLoadError(f"{path}: {META_MEMBER} is not valid JSON: {first_line(e)}") from None
    try:
        _check_meta(meta)
    except ValueError as e:
        raise ModelLoadError(f"{path}: {META_MEMBER}: {e}") from None
    return meta


def _check_text_members(path: Path, members: dict[str, bytes]) -> None:
    """``_stable_baselines3_version`` holds a version, ``system_info.txt`` a few lines of plain text."""
    version = members.get("_stable_baselines3_version")
    if version is not None and not _WORD.fullmatch(version.decode("ascii", "replace")):
        raise ModelLoadError(f"{path}: member '_stable_baselines3_version' does not hold a version number")
    info = members.get("system_info.txt")
    if info is not None:
        try:
            text = info.decode("utf-8")
        except UnicodeDecodeError:
            text = "\0"
        if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
            raise ModelLoadError(f"{path}: member 'system_info.txt' is not plain text")


def _check_meta(meta: Any) -> None:
    """Validate a ``cs_tui.json`` document; ``ValueError`` says what is wrong."""
    from cs_env.env import check_industry, check_max_turns, version_problem

    if not isinstance(meta, dict):
        raise ValueError("expected a JSON object")
    if meta.get("format") != FORMAT:
        raise ValueError(f"format is {meta.get('format')!r}, expected {FORMAT!r}")
    problem = version_problem(meta.get("env_id"))  # a model of another world is never scored on this one
    if problem:
        raise ValueError(problem)
    if meta.get("schema") != SCHEMA:
        raise ValueError(f"schema {meta.get('schema')!r} is not supported (this cs-tui reads schema {SCHEMA})")
    algorithm = check_algorithm(meta.get("algorithm"))
    check_industry(meta.get("industry"))
    check_max_turns(meta.get("max_turns"))
    model = meta.get("model")
    if not isinstance(model, dict):
        raise ValueError("no 'model' description")
    unknown = sorted(set(model) - set(_MODEL_KEYS))
    if unknown:
        raise ValueError(f"unknown model entry {unknown[0]!r:.40}; a model description holds {', '.join(_MODEL_KEYS)}")
    if model.get("policy") != POLICIES[algorithm]:
        raise ValueError(
            f"policy {model.get('policy')!r} is not supported for {algorithm} (only {POLICIES[algorithm]})"
        )
    stack = model.get("frame_stack", 1)
    problem = frame_stack_problem(stack, algorithm)
    if problem:
        raise ValueError(f"frame_stack {problem}")
    _check_hyperparameters(algorithm, model.get("hyperparameters"))
    _check_policy_kwargs(algorithm, model.get("policy_kwargs"))
    steps = model.get("num_timesteps")
    if not is_int(steps) or steps < 0:
        raise ValueError(f"num_timesteps must be a non-negative integer, got {steps!r}")
    _check_spaces(meta)
    _check_about(meta, algorithm)


#: What a model file says about where it came from: optional (a file saved with less is sound), but each
#: checked when present, since the app and the CLI show them.
ABOUT_KEYS = ("name", "run", "seed", "n_envs", "trained_by", "versions", "hyperparameters", "industry_digest",
              "eval")  # fmt: skip
_DESCRIPTION_KEYS = ("format", "schema", "env_id", "algorithm", "industry", "max_turns", "model")
#: the entries of its ``model`` description (``frame_stack`` is optional: files before it read 1)
_MODEL_KEYS = ("policy", "frame_stack", "hyperparameters", "policy_kwargs", "observation_space", "action_space",
               "num_timesteps")  # fmt: skip
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")  # a package name or version, a record type
_PHRASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")  # "cs-tui train"
_DIGEST = re.compile(r"[0-9a-f]{64}")


def _check_about(meta: dict[str, Any], algorithm: str) -> None:
    """The optional fields of ``cs_tui.json`` (:data:`ABOUT_KEYS`); anything else is refused."""
    unknown = sorted(set(meta) - set(_DESCRIPTION_KEYS) - set(ABOUT_KEYS))
    if unknown:
        raise ValueError(
            f"unknown entry {unknown[0]!r}; a model description holds {', '.join(_DESCRIPTION_KEYS + ABOUT_KEYS)}"
        )
    for key in ("name", "run"):
        if key in meta and not (isinstance(meta[key], str) and RUN_NAME.fullmatch(meta[key])):
            raise ValueError(f"{key} must be a run name ({RUN_NAME_RULE}), got {meta[key]!r:.80}")
    for key, top in (("seed", 2**63 - 1), ("n_envs", 1 << 16)):
        value = meta.get(key, 0 if key == "seed" else 1)
        if not is_int(value) or not (key == "seed" or value >= 1) or not 0 <= value <= top:
            raise ValueError(
                f"{key} must be a whole number from {0 if key == 'seed' else 1} to {top:,}, got {value!r:.80}"
            )
    if "trained_by" in meta and not (isinstance(meta["trained_by"], str) and _PHRASE.fullmatch(meta["trained_by"])):
        raise ValueError(f"trained_by must be a short plain name (like 'cs-tui train'), got {meta['trained_by']!r:.80}")
    if "industry_digest" in meta and not (isinstance(meta["industry_digest"], str)
                                          and _DIGEST.fullmatch(meta["industry_digest"])):  # fmt: skip
        raise ValueError(f"industry_digest must be 64 hex digits, got {meta['industry_digest']!r:.80}")
    versions = meta.get("versions", {})
    if not (
        isinstance(versions, dict)
        and len(versions) <= 32
        and all(isinstance(v, str) and _WORD.fullmatch(k) and _WORD.fullmatch(v) for k, v in versions.items())
    ):
        raise ValueError(f"versions must map package names to versions, got {versions!r:.80}")  # fmt: skip
    if "hyperparameters" in meta:
        given = meta["hyperparameters"]
        if not (
            isinstance(given, dict)
            and set(given) <= {"model", "policy"}
            and all(isinstance(v, dict) for v in given.values())
        ):
            raise ValueError(f"hyperparameters must be {{'model': {{...}}, 'policy': {{...}}}}, got {given!r:.80}")
        try:
            check_hyperparameters(algorithm, given)
        except ValueError as e:
            raise ValueError(f"hyperparameters: {e}") from None
    if "eval" in meta:
        _check_eval(meta["eval"])


def _check_eval(record: Any) -> None:
    """The evaluation a ``best.zip`` carries: words, flags and finite numbers (and one level of them)."""

    def plain(value: Any) -> bool:
        return isinstance(value, bool) or is_number(value) or (isinstance(value, str) and bool(_WORD.fullmatch(value)))

    if not (isinstance(record, dict) and len(record) <= 64):
        raise ValueError(f"eval must be an evaluation record, got {record!r:.80}")
    for key, value in record.items():
        inner = (
            isinstance(value, dict)
            and len(value) <= 64
            and all(_WORD.fullmatch(k) and is_number(v) for k, v in value.items())
        )
        if not (_WORD.fullmatch(key) and (plain(value) or inner)):
            raise ValueError(f"eval entry {key!r:.40} must be a number, a flag or a word, got {value!r:.80}")


def check_hyperparameters(algorithm: str, hyperparameters: dict[str, Any]) -> None:
    """``{"model": {...}, "policy": {...}}`` as a model file would record them; ``ValueError`` saying what is wrong.

    The rules a model file's hyperparameters are held to, for settings that have not made a model yet
    (``cs-tui train --hyperparams FILE``, the search space of ``cs-tui tune``).
    """
    check_algorithm(algorithm)
    _check_hyperparameters(algorithm, hyperparameters.get("model", {}))
    _check_policy_kwargs(algorithm, hyperparameters.get("policy", {}))


def _check_hyperparameters(algorithm: str, hyperparameters: Any) -> None:
    if not isinstance(hyperparameters, dict):
        raise ValueError("hyperparameters must be a JSON object")
    kinds = HYPERPARAMETERS[algorithm]
    unknown = sorted(set(hyperparameters) - set(kinds))
    if unknown:
        raise ValueError(f"unknown {algorithm} hyperparameter {unknown[0]!r}; valid: {', '.join(kinds)}")
    for name, value in hyperparameters.items():
        kind = kinds[name]
        ok = {
            "float": is_number(value) and value >= 0 and value <= 1e6,
            "float?": value is None or (is_number(value) and 0 <= value <= 1e6),
            "bool": isinstance(value, bool),
            "int": is_int(value) and 1 <= value <= MAX_BUFFER,
            "count": is_int(value) and 0 <= value <= MAX_BUFFER,
            "int_or_minus_one": is_int(value) and (value == -1 or 1 <= value <= MAX_STEPS),
            "train_freq": isinstance(value, list)
            and len(value) == 2
            and is_int(value[0])
            and 1 <= value[0] <= MAX_STEPS
            and value[1] in ("step", "episode"),
        }[kind]
        if not ok:
            raise ValueError(f"hyperparameter {name!r} has an invalid value {value!r}")
    for name in ("gamma", "gae_lambda", "tau", "exploration_fraction", "exploration_initial_eps"):
        if name in hyperparameters and hyperparameters[name] > 1:
            raise ValueError(f"hyperparameter {name!r} must lie in [0, 1], got {hyperparameters[name]!r}")
    if hyperparameters.get("exploration_final_eps", 0) > 1:
        raise ValueError("hyperparameter 'exploration_final_eps' must lie in [0, 1]")
    for name in ("n_steps", "n_epochs"):
        if hyperparameters.get(name, 1) > MAX_STEPS:
            raise ValueError(f"hyperparameter {name!r} is larger than {MAX_STEPS}")


def _check_layers(name: str, layers: Any) -> None:
    if (
        not isinstance(layers, list)
        or len(layers) > MAX_LAYERS
        or not all(is_int(n) and 1 <= n <= MAX_LAYER_WIDTH for n in layers)
    ):
        raise ValueError(
            f"policy_kwargs {name} must be a list of at most {MAX_LAYERS} layer sizes in 1-{MAX_LAYER_WIDTH}, "
            f"got {layers!r}"
        )


def _check_policy_kwargs(algorithm: str, kwargs: Any) -> None:
    if not isinstance(kwargs, dict):
        raise ValueError("policy_kwargs must be a JSON object")
    unknown = sorted(set(kwargs) - set(POLICY_KWARGS))
    if unknown:
        raise ValueError(f"unsupported policy_kwargs {unknown[0]!r}; supported: {', '.join(POLICY_KWARGS)}")
    if "net_arch" in kwargs:
        arch = kwargs["net_arch"]
        if isinstance(arch, dict) and algorithm != "dqn":
            if set(arch) != {"pi", "vf"}:
                raise ValueError(f"policy_kwargs net_arch must have keys pi and vf, got {sorted(arch)}")
            for key, layers in arch.items():
                _check_layers(f"net_arch[{key!r}]", layers)
        else:
            _check_layers("net_arch", arch)
    for key, top in (("lstm_hidden_size", MAX_LAYER_WIDTH), ("n_lstm_layers", MAX_LSTM_LAYERS)):
        if key in kwargs and algorithm != "recurrent_ppo":
            raise ValueError(f"policy_kwargs {key} is for recurrent_ppo only, not {algorithm}")
        if key in kwargs and not (is_int(kwargs[key]) and 1 <= kwargs[key] <= top):
            raise ValueError(f"policy_kwargs {key} must be a whole number from 1 to {top}, got {kwargs[key]!r}")
    if "activation_fn" in kwargs and kwargs["activation_fn"] not in ACTIVATIONS:
        raise ValueError(f"unsupported activation_fn {kwargs['activation_fn']!r}; valid: {', '.join(ACTIVATIONS)}")
    if "optimizer_class" in kwargs and kwargs["optimizer_class"] not in OPTIMIZERS:
        raise ValueError(f"unsupported optimizer_class {kwargs['optimizer_class']!r}; valid: {', '.join(OPTIMIZERS)}")
    for key in ("ortho_init", "share_features_extractor", "normalize_images"):
        if key in kwargs and not isinstance(kwargs[key], bool):
            raise ValueError(f"policy_kwargs {key} must be true or false, got {kwargs[key]!r}")
    options = kwargs.get("optimizer_kwargs", {})
    if not isinstance(options, dict):
        raise ValueError("policy_kwargs optimizer_kwargs must be a JSON object")
    for key, value in options.items():
        if key not in ("alpha", "eps", "weight_decay", "momentum", "centered", "betas", "amsgrad"):
            raise ValueError(f"unsupported optimizer_kwargs {key!r}")
        ok = (
            isinstance(value, bool)
            if key in ("centered", "amsgrad")
            else (isinstance(value, list) and len(value) == 2 and all(is_number(v) for v in value))
            if key == "betas"
            else is_number(value)
        )
        if not ok:
            raise ValueError(f"optimizer_kwargs {key} has an invalid value {value!r}")


def _check_spaces(meta: dict[str, Any]) -> None:
    """The model's spaces must be those of the env it was trained for, described exactly."""
    from cs_env.env import CustomerSupportEnv

    stored_obs, stored_act = meta["model"].get("observation_space"), meta["model"].get("action_space")
    env = CustomerSupportEnv(meta["industry"], meta["max_turns"])
    stack = meta["model"].get("frame_stack", 1)
    expected_obs = space_to_json(frame_stacked(env.observation_space, stack))
    expected_act = space_to_json(env.action_space)
    if not isinstance(stored_obs, dict) or not isinstance(stored_act, dict):
        raise ValueError("observation_space and action_space must be JSON objects")
    shape = stored_obs.get("shape") if stored_obs.get("type") == "Box" else stored_obs.get("type")
    n = stored_act.get("n") if stored_act.get("type") == "Discrete" else stored_act.get("type")
    if shape != expected_obs["shape"] or n != expected_act["n"]:
        shape_text = tuple(shape) if isinstance(shape, list) else shape
        raise ValueError(
            f"the model was made for observations of shape {shape_text} and {n} actions, but the "
            f"{meta['industry']} env (max_turns {meta['max_turns']}{f', {stack} frames stacked' if stack > 1 else ''}) "
            f"has observations of shape {tuple(expected_obs['shape'])} and {expected_act['n']} actions"
        )
    if stored_obs != expected_obs or stored_act != expected_act:
        raise ValueError(
            f"the model's observation or action space bounds differ from the {meta['industry']} env's "
            f"(max_turns {meta['max_turns']}): was it trained on other industry data?"
        )
