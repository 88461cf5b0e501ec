"""Model files that describe themselves, and a loader that never unpickles them.

A model file is stable-baselines3's own ``.zip`` (so ``PPO.load`` still works for users who trust the
file) plus one member, ``cs_tui.json``: the algorithm, the constructor hyperparameters and policy
kwargs in plain JSON, the industry, ``max_turns`` and the observation and action spaces.

SB3's ``load`` unpickles the values stored behind ``":serialized:"`` keys of the zip's ``data`` member,
and ``custom_objects`` cannot stop a payload placed under a key it does not name: a crafted file runs
code. :func:`load_model` never unpickles those values. It rebuilds the algorithm from the validated
``cs_tui.json``, then loads tensors only (``torch.load(weights_only=True)``) after checking every
name, shape, dtype and value against the freshly built policy.

The ``data`` member is not needed, but it is checked so that a file this loader accepts is also safe
for SB3's ``load``: it must be plain JSON with only the entries SB3 writes for such a model, and each
pickled value may import only what SB3 pickles for that model plus numpy and container
reconstructors, read from the pickle's opcodes (:func:`pickle_globals`) without running them.

torch and stable-baselines3 are imported inside functions only.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import stat
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_tui.training import runs
from cs_tui.training.registry import ALGORITHMS, RUN_NAME, RUN_NAME_RULE, check_algorithm

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecEnv

#: The member we add to SB3's zip.
META_MEMBER = "cs_tui.json"
FORMAT = "cs_tui.model"
SCHEMA = 1
#: Every member a model file may hold (SB3 2.x writes the first six for PPO, A2C and DQN).
ALLOWED_MEMBERS = (
    "data",
    "policy.pth",
    "policy.optimizer.pth",
    "pytorch_variables.pth",
    "_stable_baselines3_version",
    "system_info.txt",
    META_MEMBER,
)
#: Uncompressed size caps per member, so a zip bomb is refused before it is inflated. The weights'
#: caps fit the largest network a file may describe (MAX_LAYERS layers of MAX_LAYER_WIDTH, two heads:
#: about 42 MB of float32) and the optimizer's two moments per weight.
MAX_MEMBER_BYTES = {
    "data": 16 << 20,
    "policy.pth": 48 << 20,
    "policy.optimizer.pth": 96 << 20,
    "pytorch_variables.pth": 1 << 20,
    "_stable_baselines3_version": 1024,
    "system_info.txt": 64 << 10,
    META_MEMBER: 1 << 20,
}
MAX_FILE_BYTES = sum(MAX_MEMBER_BYTES.values())

# Constructor hyperparameters recorded per algorithm: name -> kind. Kinds: "float" (finite number),
# "int" (positive integer), "count" (non-negative integer), "int_or_minus_one" (DQN's gradient_steps),
# "bool", "float?" (number or None), "train_freq" ([int, "step"|"episode"]). Only these are ever passed
# back to the constructor.
HYPERPARAMETERS: dict[str, dict[str, str]] = {
    "ppo": {
        "learning_rate": "float",
        "n_steps": "int",
        "batch_size": "int",
        "n_epochs": "int",
        "gamma": "float",
        "gae_lambda": "float",
        "clip_range": "float",
        "clip_range_vf": "float?",
        "normalize_advantage": "bool",
        "ent_coef": "float",
        "vf_coef": "float",
        "max_grad_norm": "float",
        "target_kl": "float?",
    },
    "a2c": {
        "learning_rate": "float",
        "n_steps": "int",
        "gamma": "float",
        "gae_lambda": "float",
        "ent_coef": "float",
        "vf_coef": "float",
        "max_grad_norm": "float",
        "normalize_advantage": "bool",
    },
    "dqn": {
        "learning_rate": "float",
        "buffer_size": "int",
        "learning_starts": "count",
        "batch_size": "int",
        "tau": "float",
        "gamma": "float",
        "train_freq": "train_freq",
        "gradient_steps": "int_or_minus_one",
        "target_update_interval": "int",
        "exploration_fraction": "float",
        "exploration_initial_eps": "float",
        "exploration_final_eps": "float",
        "max_grad_norm": "float",
    },
}
HYPERPARAMETERS["recurrent_ppo"] = HYPERPARAMETERS["ppo"]  # sb3-contrib's RecurrentPPO takes PPO's
# Upper bounds that keep a crafted file from asking for absurd allocations.
MAX_LAYER_WIDTH = 1024
MAX_LAYERS = 6
MAX_LSTM_LAYERS = 4
#: observations side by side (``--frame-stack``): a conversation is at most a few dozen turns
MAX_FRAME_STACK = 16
#: the policy a model file names, per algorithm (the MLP, or the MLP behind an LSTM)
POLICIES = {"ppo": "MlpPolicy", "a2c": "MlpPolicy", "dqn": "MlpPolicy", "recurrent_ppo": "MlpLstmPolicy"}
#: the classes cs-tui trains, by the name a model file gives them
MODEL_CLASSES = {"PPO": "ppo", "A2C": "a2c", "DQN": "dqn", "RecurrentPPO": "recurrent_ppo"}
MAX_STEPS = 1 << 16
MAX_BUFFER = 10_000_000
ACTIVATIONS = ("tanh", "relu", "elu", "leaky_relu", "gelu", "silu")
OPTIMIZERS = ("adam", "rmsprop")
POLICY_KWARGS = (
    "net_arch",
    "activation_fn",
    "ortho_init",
    "optimizer_class",
    "optimizer_kwargs",
    "share_features_extractor",
    "normalize_images",
    "lstm_hidden_size",  # recurrent_ppo only
    "n_lstm_layers",  # recurrent_ppo only
)
# A DQN built only to act needs no million-transition replay buffer.
INFERENCE_BUFFER_SIZE = 1


class ModelLoadError(ValueError):
    """A model file that cannot be loaded safely; the message names the file and the problem."""


# -- writing ---------------------------------------------------------------------------------
def save_model(model: BaseAlgorithm, path: Path | str, meta: dict[str, Any]) -> None:
    """Write ``model`` to ``path`` atomically as SB3's ``.zip`` plus a ``cs_tui.json`` member.

    Args:
        model: a PPO, A2C or DQN model with an ``MlpPolicy``.
        path: the file to write (its folder must exist); replaced atomically.
        meta: JSON-able metadata; must hold ``industry`` and ``max_turns``. Its keys are kept in
            ``cs_tui.json``; the keys this function derives from the model (``format``, ``schema``,
            ``algorithm``, ``model``, ``versions``) take precedence.

    Raises:
        ValueError: the model or ``meta`` cannot be described in plain JSON (e.g. a custom policy).
    """
    document = describe_model(model, meta)
    text = json.dumps(document, indent=2, sort_keys=True, allow_nan=False)
    buffer = io.BytesIO()
    model.save(buffer)
    with zipfile.ZipFile(buffer, mode="a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(META_MEMBER, text)
    runs.atomic_write_bytes(Path(path), buffer.getvalue())


def describe_model(model: BaseAlgorithm, meta: dict[str, Any]) -> dict[str, Any]:
    """The ``cs_tui.json`` document for ``model``: ``meta`` plus what rebuilding it needs."""
    algorithm = MODEL_CLASSES.get(type(model).__name__, "")
    if algorithm not in ALGORITHMS:
        raise ValueError(
            f"cannot save a {type(model).__name__} model: supported algorithms are {', '.join(MODEL_CLASSES)}"
        )
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a dict, got {type(meta).__name__}")
    if "algorithm" in meta and str(meta["algorithm"]).lower() != algorithm:
        raise ValueError(f"meta says algorithm {meta['algorithm']!r} but the model is {algorithm}")
    for key in ("industry", "max_turns"):
        if key not in meta:
            raise ValueError(f"meta must hold {key!r} (the env the model was trained for)")
    if getattr(model, "use_sde", False):
        raise ValueError("cannot save a model trained with use_sde: it is not described in model files")
    policy = type(model.policy).__name__
    if policy not in ("ActorCriticPolicy", "DQNPolicy", "MlpPolicy", "RecurrentActorCriticPolicy"):
        raise ValueError(f"cannot save a model with policy {policy}: only MlpPolicy and MlpLstmPolicy models")
    description = {
        "policy": POLICIES[algorithm],
        "frame_stack": _frame_stack_of(model, meta),
        "hyperparameters": _hyperparameters_of(model, algorithm),
        "policy_kwargs": _policy_kwargs_to_json(dict(model.policy_kwargs)),
        "observation_space": _space_to_json(model.observation_space),
        "action_space": _space_to_json(model.action_space),
        "num_timesteps": int(model.num_timesteps),
    }
    document = dict(meta)
    document.update(
        format=FORMAT,
        schema=SCHEMA,
        algorithm=algorithm,
        model=description,
        versions=runs.versions(),
    )
    try:
        json.dumps(document, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"meta is not plain JSON: {e}") from e
    try:  # never write a file the loader would refuse
        _check_meta(document)
    except ValueError as e:
        raise ValueError(f"cannot save this model: {e}") from e
    return document


def _frame_stack_of(model: BaseAlgorithm, meta: dict[str, Any]) -> int:
    """How many observations the model reads side by side (1: one), from its observation space."""
    from cs_env.env import CustomerSupportEnv

    single = CustomerSupportEnv(meta["industry"], meta["max_turns"]).observation_space.shape or (1,)
    shape = model.observation_space.shape or (1,)
    return max(1, int(shape[-1]) // int(single[-1]))


def frame_stacked(space: Any, k: int) -> Any:
    """``space`` as SB3's ``VecFrameStack(k)`` describes it: ``k`` observations side by side (its bounds
    are each bound repeated ``k`` times in place, ``np.repeat``, as SB3 builds them)."""
    import numpy as np
    from gymnasium import spaces

    if k == 1:
        return space
    return spaces.Box(np.repeat(space.low, k, axis=-1), np.repeat(space.high, k, axis=-1), dtype=space.dtype)


def _hyperparameters_of(model: BaseAlgorithm, algorithm: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, kind in HYPERPARAMETERS[algorithm].items():
        value = getattr(model, name)
        if kind == "train_freq":
            found[name] = [int(value.frequency), str(value.unit.value)]
            continue
        if callable(value):  # a schedule: recorded by its starting value (progress_remaining = 1)
            value = value(1.0)
        if kind == "bool":
            found[name] = bool(value)
        elif value is None:
            found[name] = None
        elif kind in ("int", "count", "int_or_minus_one"):
            found[name] = int(value)
        else:
            found[name] = float(value)
    return found


def _torch_classes() -> tuple[dict[str, Any], dict[str, Any]]:
    """The activation and optimizer classes a model file may name, by name (torch is imported here)."""
    import torch

    activations = {
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
        "elu": torch.nn.ELU,
        "leaky_relu": torch.nn.LeakyReLU,
        "gelu": torch.nn.GELU,
        "silu": torch.nn.SiLU,
    }
    return activations, {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}


def _policy_kwargs_to_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    activation_classes, optimizer_classes = _torch_classes()
    activations = {cls: name for name, cls in activation_classes.items()}
    optimizers = {cls: name for name, cls in optimizer_classes.items()}
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key == "device":
            continue
        if key not in POLICY_KWARGS:
            raise ValueError(f"cannot describe policy_kwargs[{key!r}] in a model file; supported: {POLICY_KWARGS}")
        if key == "activation_fn":
            if value not in activations:
                raise ValueError(f"unsupported activation_fn {value!r}; supported: {', '.join(ACTIVATIONS)}")
            out[key] = activations[value]
        elif key == "optimizer_class":
            if value not in optimizers:
                raise ValueError(f"unsupported optimizer_class {value!r}; supported: Adam, RMSprop")
            out[key] = optimizers[value]
        elif key == "net_arch":
            out[key] = dict(value) if isinstance(value, dict) else list(value)
        elif key == "optimizer_kwargs":
            out[key] = {str(k): v for k, v in dict(value).items()}
        else:
            out[key] = value
    return out


def _space_to_json(space: Any) -> dict[str, Any]:
    from gymnasium import spaces

    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "shape": [int(n) for n in space.shape],
            "dtype": str(space.dtype),
            "low": [float(x) for x in space.low.ravel()],
            "high": [float(x) for x in space.high.ravel()],
        }
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    raise ValueError(f"cannot describe a {type(space).__name__} space; supported: Box, Discrete")


# -- reading ---------------------------------------------------------------------------------
def read_model_meta(path: Path | str) -> dict[str, Any]:
    """The validated ``cs_tui.json`` of a model file, without torch (for listings).

    Raises:
        ModelLoadError: the file is missing, not a model file, or its description is invalid.
    """
    path = Path(path)
    members = _read_members(path, only=META_MEMBER)
    return _parse_meta(path, members)


def load_model(path: Path | str, *, env: VecEnv | None = None) -> BaseAlgorithm:
    """Rebuild the model in ``path`` from its ``cs_tui.json`` and load its weights, never unpickling.

    Args:
        path: a model file written by :func:`save_model`.
        env: the env to attach (to resume training); its spaces must be the model's. Without it the
            model is built for acting only (a DQN gets a one-transition replay buffer).

    Raises:
        ModelLoadError: naming the file and the problem, for anything but a sound model file.
    """
    return load_model_with_meta(path, env=env)[0]


def load_model_with_meta(path: Path | str, *, env: VecEnv | None = None) -> tuple[BaseAlgorithm, dict[str, Any]]:
    """:func:`load_model`, also returning the file's validated ``cs_tui.json``."""
    path = Path(path)
    members = _read_members(path)
    meta = _parse_meta(path, members)
    if "policy.pth" not in members:
        raise ModelLoadError(f"{path}: no policy.pth member: the file holds no weights")
    model = _rebuild(path, meta, env)
    if "data" in members:
        _check_data(path, meta["algorithm"], members["data"])
    _load_policy(path, model, members["policy.pth"])
    if "policy.optimizer.pth" in members:
        _load_optimizer(path, model, members["policy.optimizer.pth"])
    if "pytorch_variables.pth" in members:
        variables = _torch_load(path, "pytorch_variables.pth", members["pytorch_variables.pth"])
        if variables != {}:  # PPO, A2C and DQN keep none; anything here is not ours
            raise ModelLoadError(f"{path}: pytorch_variables.pth holds unexpected variables")
    _check_outputs(path, model)
    model.num_timesteps = int(meta["model"]["num_timesteps"])
    return model, meta


def _check_outputs(path: Path, model: BaseAlgorithm) -> None:
    """Refuse weights that are finite but so large the policy's outputs are not (±3e38 overflows)."""
    import numpy as np
    import torch

    from cs_env.env import CustomerSupportEnv

    space: Any = model.observation_space
    first, _ = CustomerSupportEnv().reset(seed=0)
    first = np.tile(first, int(space.shape[-1]) // len(first))  # as many frames as the model reads
    probes = np.stack([space.low, space.high, (space.low + space.high) / 2, first]).astype(np.float32)
    policy: Any = model.policy
    try:
        with torch.no_grad():
            tensor, _ = policy.obs_to_tensor(probes)
            if hasattr(policy, "q_net"):
                outputs = [policy.q_net(tensor)]
            elif hasattr(policy, "lstm_actor"):  # a recurrent policy: from the start of a conversation
                lstm = policy.lstm_actor
                zeros = torch.zeros(lstm.num_layers, len(probes), lstm.hidden_size)
                starts = torch.ones(len(probes))
                distribution, _ = policy.get_distribution(tensor, (zeros, zeros), starts)
                values = policy.predict_values(tensor, (zeros, zeros), starts)
                outputs = [distribution.distribution.logits, values]
            else:
                outputs = [policy.get_distribution(tensor).distribution.logits, policy.predict_values(tensor)]
        finite = all(bool(torch.isfinite(out).all()) for out in outputs)
    except ValueError:  # torch's distributions refuse NaN logits
        finite = False
    if not finite:
        raise ModelLoadError(
            f"{path}: the model's outputs are not finite numbers (NaN or infinity) on a probe observation: "
            "its weights are too large to act with"
        )


def _read_members(path: Path, only: str | None = None) -> dict[str, bytes]:
    """The zip's members by name, after the allow-list and size checks; the ``data`` member is never decoded.

    Everything that can be refused from the central directory is refused before a byte is inflated:
    the member count (read from the end record, before ``zipfile`` parses a directory of any size),
    the names, duplicates, the compression methods and each member's declared size. Members are then
    inflated in bounded chunks, so a header that lies about its size is refused at the cap too.
    ``only`` names the one member to inflate (a listing needs ``cs_tui.json``, not the weights).
    """
    if not path.exists():
        raise ModelLoadError(f"{path}: no such file")
    if not path.is_file():
        raise ModelLoadError(f"{path}: not a file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelLoadError(f"{path}: {size} bytes is too large for a model file (at most {MAX_FILE_BYTES})")
        handle = open(path, "rb")  # noqa: SIM115  (closed below, after the archive that reads it)
    except OSError as e:
        raise ModelLoadError(f"{path}: cannot read the file: {e.strerror or e}") from None
    try:
        with handle:
            count = _declared_members(handle, size)
            if count > MAX_DECLARED_MEMBERS:  # (a few too many are left to the name check, which names them)
                raise ModelLoadError(
                    f"{path}: the zip declares {count:,} members; a model file holds at most {len(ALLOWED_MEMBERS)}"
                )
            with zipfile.ZipFile(handle) as archive:
                infos = archive.infolist()
                _check_directory(path, infos)
                # raw bytes only: "data"'s pickled values are never decoded (see _check_data)
                return {
                    info.filename: _read_member(path, archive, info)
                    for info in infos
                    if only is None or info.filename == only
                }
    except ModelLoadError:
        raise
    except Exception as e:  # zipfile and zlib each report a damaged archive their own way
        raise ModelLoadError(
            f"{path}: not a readable model file (truncated or corrupt zip: {_first_line(e)})"
        ) from None


#: The compression methods a model file's members use: SB3 stores them, ``save_model`` deflates ours.
COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
#: Beyond this many members a zip is refused from its end record, before its directory is parsed.
MAX_DECLARED_MEMBERS = 64
_END_RECORD = b"PK\x05\x06"
_END_RECORD_SIZE = 22


def _declared_members(handle: Any, size: int) -> int:
    """The member count of the zip's end-of-central-directory record (found within its last 64 KB)."""
    span = min(size, _END_RECORD_SIZE + 0xFFFF)
    handle.seek(size - span)
    tail = handle.read(span)
    at = tail.rfind(_END_RECORD)
    # the record (and its comment) closes the file; one found earlier is a nested zip's (policy.pth is one)
    if at < 0 or at + _END_RECORD_SIZE + int.from_bytes(tail[at + 20 : at + 22], "little") != len(tail):
        raise zipfile.BadZipFile("no end of central directory record at the end of the file")
    handle.seek(0)
    return int.from_bytes(tail[at + 10 : at + 12], "little")


_FILE_KINDS = {stat.S_IFLNK: "symbolic link", stat.S_IFDIR: "directory", stat.S_IFCHR: "character device",
               stat.S_IFBLK: "block device", stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket"}  # fmt: skip


def _check_directory(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse from the central directory alone: unknown or repeated names, other compressions, sizes."""
    # a model file's first member starts at byte 0; otherwise the archive found is something
    # else, e.g. the zip nested in policy.pth once the file's own end was cut off
    if not infos or min(info.header_offset for info in infos) != 0:
        raise zipfile.BadZipFile("no model archive at the start of the file")
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if name not in ALLOWED_MEMBERS:
            raise ModelLoadError(
                f"{path}: unexpected member {name!r} in the model file; "
                f"a model file holds only {', '.join(ALLOWED_MEMBERS)}"
            )
        if name in seen:
            raise ModelLoadError(f"{path}: member {name!r} appears twice in the model file")
        seen.add(name)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG):  # SB3 writes plain files; a symlink or device is a crafted zip
            raise ModelLoadError(
                f"{path}: member {name!r} is a {_FILE_KINDS.get(kind, 'special file')}, not a plain file"
            )
        if info.compress_type not in COMPRESSIONS:
            raise ModelLoadError(
                f"{path}: member {name!r} uses compression method {info.compress_type}; "
                f"a model file's members are {' or '.join(COMPRESSIONS.values())}"
            )
        if info.file_size > MAX_MEMBER_BYTES[name]:
            raise ModelLoadError(
                f"{path}: member {name!r} is {info.file_size} bytes uncompressed, "
                f"more than the {MAX_MEMBER_BYTES[name]} allowed"
            )
    if META_MEMBER not in seen:
        raise ModelLoadError(
            f"{path}: no {META_MEMBER} member: this model was not saved by cs-tui, so it cannot be loaded "
            "safely (if you trust the file, stable-baselines3's own load() can open it)"
        )


def _read_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One member, inflated 1 MB at a time and refused as soon as it passes its cap."""
    cap = MAX_MEMBER_BYTES[info.filename]
    chunks: list[bytes] = []
    total = 0
    with archive.open(info) as stream:
        while chunk := stream.read(1 << 20):
            total += len(chunk)
            if total > cap:
                raise ModelLoadError(f"{path}: member {info.filename!r} inflates past the {cap} bytes allowed")
            chunks.append(chunk)
    return b"".join(chunks)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= 200 else line[:200] + "…"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _parse_meta(path: Path, members: dict[str, bytes]) -> dict[str, Any]:
    """The validated ``cs_tui.json``, after SB3's two text members (which SB3's ``load`` reads) are checked."""
    _check_text_members(path, members)
    try:
        meta = json.loads(members[META_MEMBER].decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ModelLoadError(f"{path}: {META_MEMBER} is not valid JSON: {_first_line(e)}") from None
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
    from cs_env.env import check_industry, check_max_turns

    if not isinstance(meta, dict):
        raise ValueError("expected a JSON object")
    if meta.get("format") != FORMAT:
        raise ValueError(f"format is {meta.get('format')!r}, expected {FORMAT!r}")
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
    if not _is_int(stack) or not 1 <= stack <= MAX_FRAME_STACK:
        raise ValueError(f"frame_stack must be a whole number from 1 to {MAX_FRAME_STACK}, got {stack!r:.80}")
    if stack > 1 and algorithm == "recurrent_ppo":
        raise ValueError("frame_stack must be 1 for recurrent_ppo (its LSTM remembers the conversation)")
    _check_hyperparameters(algorithm, model.get("hyperparameters"))
    _check_policy_kwargs(algorithm, model.get("policy_kwargs"))
    steps = model.get("num_timesteps")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"num_timesteps must be a non-negative integer, got {steps!r}")
    _check_spaces(meta)
    _check_about(meta, algorithm)


#: What a model file says about where it came from: optional (a file saved with less is sound), but each
#: checked when present, since the app and the CLI show them.
ABOUT_KEYS = ("name", "run", "seed", "n_envs", "trained_by", "versions", "hyperparameters", "industry_digest",
              "eval")  # fmt: skip
_DESCRIPTION_KEYS = ("format", "schema", "algorithm", "industry", "max_turns", "model")
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
        if not _is_int(value) or not (key == "seed" or value >= 1) or not 0 <= value <= top:
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
        return isinstance(value, bool) or _is_number(value) or (isinstance(value, str) and bool(_WORD.fullmatch(value)))

    if not (isinstance(record, dict) and len(record) <= 64):
        raise ValueError(f"eval must be an evaluation record, got {record!r:.80}")
    for key, value in record.items():
        inner = (
            isinstance(value, dict)
            and len(value) <= 64
            and all(_WORD.fullmatch(k) and _is_number(v) for k, v in value.items())
        )
        if not (_WORD.fullmatch(key) and (plain(value) or inner)):
            raise ValueError(f"eval entry {key!r:.40} must be a number, a flag or a word, got {value!r:.80}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
            "float": _is_number(value) and value >= 0 and value <= 1e6,
            "float?": value is None or (_is_number(value) and 0 <= value <= 1e6),
            "bool": isinstance(value, bool),
            "int": _is_int(value) and 1 <= value <= MAX_BUFFER,
            "count": _is_int(value) and 0 <= value <= MAX_BUFFER,
            "int_or_minus_one": _is_int(value) and (value == -1 or 1 <= value <= MAX_STEPS),
            "train_freq": isinstance(value, list)
            and len(value) == 2
            and _is_int(value[0])
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
        or not all(_is_int(n) and 1 <= n <= MAX_LAYER_WIDTH for n in layers)
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
        if key in kwargs and not (_is_int(kwargs[key]) and 1 <= kwargs[key] <= top):
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
            else (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value))
            if key == "betas"
            else _is_number(value)
        )
        if not ok:
            raise ValueError(f"optimizer_kwargs {key} has an invalid value {value!r}")


def _check_spaces(meta: dict[str, Any]) -> None:
    """The model's spaces must be those of the env it was trained for, described exactly."""
    from cs_env.env import CustomerSupportEnv

    stored_obs, stored_act = meta["model"].get("observation_space"), meta["model"].get("action_space")
    env = CustomerSupportEnv(meta["industry"], meta["max_turns"])
    stack = meta["model"].get("frame_stack", 1)
    expected_obs = _space_to_json(frame_stacked(env.observation_space, stack))
    expected_act = _space_to_json(env.action_space)
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


def _rebuild(path: Path, meta: dict[str, Any], env: VecEnv | None) -> BaseAlgorithm:
    """A fresh model with the file's architecture and hyperparameters (weights still random)."""
    import warnings

    import torch

    from cs_tui.training.vecenv import make_acting_env

    description = meta["model"]
    hyperparameters = dict(description["hyperparameters"])
    if "train_freq" in hyperparameters:
        hyperparameters["train_freq"] = tuple(hyperparameters["train_freq"])
    if env is None:
        target: Any = make_acting_env(meta["industry"], meta["max_turns"], description.get("frame_stack", 1))
        if meta["algorithm"] == "dqn":
            hyperparameters["buffer_size"] = INFERENCE_BUFFER_SIZE
    else:
        target = env
        stored = description["observation_space"]["shape"], description["action_space"]["n"]
        given = list(env.observation_space.shape or ()), getattr(env.action_space, "n", None)
        if stored != given:
            raise ModelLoadError(
                f"{path}: the model was made for observations of shape {tuple(stored[0])} and {stored[1]} actions, "
                f"but the env given has shape {tuple(given[0])} and {given[1]} actions"
            )
    policy_kwargs = policy_kwargs_from_json(description["policy_kwargs"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. PPO's batch-size advice: not the loader's business
            return model_class(meta["algorithm"])(
                description["policy"], target, policy_kwargs=policy_kwargs, device="cpu", verbose=0, **hyperparameters
            )
    except (ValueError, TypeError, AssertionError, RuntimeError, MemoryError, torch.OutOfMemoryError) as e:
        raise ModelLoadError(f"{path}: cannot rebuild the model from {META_MEMBER}: {_first_line(e)}") from None


def model_class(algorithm: str) -> Any:
    """The stable-baselines3 (or sb3-contrib) class of ``algorithm``; imported here, as torch is."""
    if algorithm == "recurrent_ppo":
        from sb3_contrib import RecurrentPPO

        return RecurrentPPO
    import stable_baselines3

    return getattr(stable_baselines3, algorithm.upper())


def policy_kwargs_from_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``policy_kwargs`` as stable-baselines3 takes them, from their JSON form (names for torch classes)."""
    activations, optimizers = _torch_classes()
    if "activation_fn" in kwargs and kwargs["activation_fn"] not in activations:
        raise ValueError(f"unknown activation_fn {kwargs['activation_fn']!r}; valid: {', '.join(activations)}")
    out = dict(kwargs)
    if "activation_fn" in out:
        out["activation_fn"] = activations[out["activation_fn"]]
    if "optimizer_class" in out:
        out["optimizer_class"] = optimizers[out["optimizer_class"]]
    if "optimizer_kwargs" in out:
        options = dict(out["optimizer_kwargs"])
        if "betas" in options:
            options["betas"] = tuple(options["betas"])
        out["optimizer_kwargs"] = options
    return out


def _check_data(path: Path, algorithm: str, raw: bytes) -> None:
    """Refuse a ``data`` member with entries SB3's ``save`` would not write for this algorithm.

    The loaders never use ``data``; this check protects users who later open the file with SB3's own
    ``load``, which unpickles every ``":serialized:"`` value, known key or not. The JSON is parsed as
    plain JSON; the serialized strings inside are never decoded. The rules are tables
    (:data:`SB3_DATA_KEYS`, :data:`SB3_DATA_GLOBALS`), not a model, so the network-only loader applies them too.
    """
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ModelLoadError(f"{path}: the data member is not valid JSON: {_first_line(e)}") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: the data member is not a JSON object")
    known = SB3_DATA_KEYS[algorithm]
    unexpected = sorted(key for key in data if key not in known)
    if unexpected:
        raise ModelLoadError(
            f"{path}: the data member has an entry a {algorithm.upper()} model does not have: {unexpected[0]!r} "
            "(a crafted file? stable-baselines3's own load() would unpickle it)"
        )
    allowed = SB3_DATA_GLOBALS | DATA_GLOBALS
    for key, value in data.items():
        if not (isinstance(value, dict) and ":serialized:" in value):
            continue
        try:
            found = pickle_globals(base64.b64decode(str(value[":serialized:"]), validate=True))
        except ValueError as e:
            raise ModelLoadError(f"{path}: the data member's {key!r} is not a well-formed pickle: {e}") from None
        strange = sorted(found - allowed)
        if strange:
            module, name = strange[0]
            raise ModelLoadError(
                f"{path}: the data member's {key!r} would call {module}.{name} when unpickled "
                "(a crafted file? stable-baselines3's own load() would run it)"
            )


#: The entries stable-baselines3's ``save`` writes in ``data``, per algorithm (its attributes); a test
#: checks a fresh model of each algorithm against them, so an SB3 that writes more fails the suite.
_SB3_COMMON_KEYS = frozenset(
    ["_current_progress_remaining", "_episode_num", "_last_episode_starts", "_last_obs", "_last_original_obs",
     "_n_updates", "_num_timesteps_at_start", "_stats_window_size", "_total_timesteps", "action_noise",
     "action_space", "ep_info_buffer", "ep_success_buffer", "gamma", "learning_rate", "lr_schedule",
     "max_grad_norm", "n_envs", "n_steps", "num_timesteps", "observation_space", "policy_class", "policy_kwargs",
     "sde_sample_freq", "seed", "start_time", "tensorboard_log", "use_sde", "verbose", "device"]
)  # fmt: skip
_ON_POLICY_KEYS = frozenset(["ent_coef", "gae_lambda", "normalize_advantage", "rollout_buffer_class",
                             "rollout_buffer_kwargs", "vf_coef"])  # fmt: skip
SB3_DATA_KEYS: dict[str, frozenset[str]] = {
    "ppo": _SB3_COMMON_KEYS | _ON_POLICY_KEYS
    | {"batch_size", "clip_range", "clip_range_vf", "n_epochs", "target_kl"},
    "recurrent_ppo": _SB3_COMMON_KEYS | _ON_POLICY_KEYS
    | {"batch_size", "clip_range", "clip_range_vf", "n_epochs", "target_kl"},
    "a2c": _SB3_COMMON_KEYS | _ON_POLICY_KEYS,
    "dqn": _SB3_COMMON_KEYS
    | {"_n_calls", "batch_norm_stats", "batch_norm_stats_target", "batch_size", "buffer_size",
       "exploration_final_eps", "exploration_fraction", "exploration_initial_eps", "exploration_rate",
       "exploration_schedule", "gradient_steps", "learning_starts", "optimize_memory_usage", "replay_buffer_class",
       "replay_buffer_kwargs", "target_update_interval", "tau", "train_freq", "use_sde_at_warmup"},
}  # fmt: skip
#: The classes SB3 pickles into ``data`` for the models cs-tui describes: spaces, buffers, policies,
#: schedules, DQN's train frequency, the activations a model file may name, A2C's RMSprop.
SB3_DATA_GLOBALS = frozenset(
    [("gymnasium.spaces.box", "Box"), ("gymnasium.spaces.discrete", "Discrete"),
     ("stable_baselines3.common.buffers", "ReplayBuffer"), ("stable_baselines3.common.buffers", "RolloutBuffer"),
     ("stable_baselines3.common.policies", "ActorCriticPolicy"), ("stable_baselines3.dqn.policies", "DQNPolicy"),
     ("sb3_contrib.common.recurrent.policies", "RecurrentActorCriticPolicy"),
     ("stable_baselines3.common.type_aliases", "TrainFreq"),
     ("stable_baselines3.common.type_aliases", "TrainFrequencyUnit"),
     ("stable_baselines3.common.utils", "ConstantSchedule"), ("stable_baselines3.common.utils", "FloatSchedule"),
     ("stable_baselines3.common.utils", "LinearSchedule"), ("torch.optim.rmsprop", "RMSprop"),
     *(("torch.nn.modules.activation", name) for name in ("Tanh", "ReLU", "ELU", "LeakyReLU", "GELU", "SiLU"))]
)  # fmt: skip
#: Globals a pickle of plain data may name (numpy arrays, scalars and generators, containers), beyond
#: the classes SB3 itself pickles (:data:`SB3_DATA_GLOBALS`).
DATA_GLOBALS = frozenset(
    [
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        *(
            (core, name)
            for core in ("numpy._core.multiarray", "numpy.core.multiarray")
            for name in ("scalar", "_reconstruct")
        ),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy.random._pickle", "__bit_generator_ctor"),
        ("numpy.random._pickle", "__generator_ctor"),
        ("numpy.random._pickle", "__randomstate_ctor"),
        ("numpy.random._pcg64", "PCG64"),
        ("numpy.random._pcg64", "PCG64DXSM"),
        ("numpy.random._mt19937", "MT19937"),
        ("numpy.random._philox", "Philox"),
        ("numpy.random._sfc64", "SFC64"),
        ("numpy.random._generator", "Generator"),
        ("numpy.random.mtrand", "RandomState"),
        ("numpy.random.bit_generator", "SeedSequence"),
        ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
        ("collections", "deque"),
        ("collections", "OrderedDict"),
        ("copyreg", "_reconstructor"),
        ("builtins", "object"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "complex"),
        ("builtins", "slice"),
        ("builtins", "bytearray"),
        ("_codecs", "encode"),
    ]
)
_STRING_OPS = frozenset(
    ["SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"]
)
_MEMO_GETS = frozenset(["GET", "BINGET", "LONG_BINGET"])
_MEMO_PUTS = frozenset(["PUT", "BINPUT", "LONG_BINPUT"])
_FORBIDDEN_OPS = frozenset(["EXT1", "EXT2", "EXT4", "PERSID", "BINPERSID"])


#: Opcodes that change an object already on the stack, by where their target sits: the stack position
#: (BUILD's object is under its state), or "mark" for the object right below the topmost mark.
_MUTATORS: dict[str, int | str] = {"BUILD": -2, "SETITEM": -3, "APPEND": -2, "SETITEMS": "mark",
                                   "APPENDS": "mark", "ADDITEMS": "mark"}  # fmt: skip


class _Global(tuple[str, str]):
    """A stack value that is an imported module attribute (a class, a function): never to be changed."""


_MARK = object()
_OTHER = object()


def pickle_globals(raw: bytes) -> set[tuple[str, str]]:
    """Every ``(module, name)`` a pickle would import, read from its opcodes without running it.

    The pickle is played on a symbolic stack (each value is a string, an imported global or something
    else), so an opcode that would change an imported class or function — ``BUILD`` setting its
    attributes, ``SETITEM``/``APPEND`` into a module's dict or list — is refused: SB3 only ever builds
    new objects, and such a pickle would rewrite code (say ``ConstantSchedule.__call__``) for the whole
    process once SB3's own ``load`` ran it.

    Raises:
        ValueError: a malformed pickle, an extension-registry or persistent-id opcode, a global whose
            name is computed rather than written as two strings right before ``STACK_GLOBAL``
            (``pickle`` and ``cloudpickle`` always write it that way), or a change to a global.
    """
    import pickletools

    memo: dict[int, Any] = {}
    stack: list[Any] = []
    found: set[tuple[str, str]] = set()
    try:
        for opcode, arg, _ in pickletools.genops(raw):
            op = opcode.name
            if op in _FORBIDDEN_OPS:
                raise ValueError(f"opcode {op} is not allowed")
            if op in _MUTATORS:
                where = _MUTATORS[op]
                target = stack[_below_mark(stack) - 1] if where == "mark" else stack[int(where)]
                if isinstance(target, _Global):
                    raise ValueError(f"opcode {op} would change {target[0]}.{target[1]}, not build a new object")
            if op == "MEMOIZE":
                memo[len(memo)] = stack[-1]
                continue
            if op in _MEMO_PUTS:
                memo[_memo_index(arg)] = stack[-1]
                continue
            if op in _MEMO_GETS:
                stack.append(memo.get(_memo_index(arg), _OTHER))
                continue
            if op == "DUP":
                stack.append(stack[-1])
                continue
            pushed: Any = _OTHER
            if op in _STRING_OPS:
                pushed = arg if isinstance(arg, str) else _OTHER
            elif op == "GLOBAL":
                module, _, name = str(arg).partition(" ")
                found.add((module, name))
                pushed = _Global((module, name))
            elif op == "INST":
                module, _, name = str(arg).partition(" ")
                found.add((module, name))
            elif op == "STACK_GLOBAL":
                if len(stack) < 2 or not all(isinstance(v, str) for v in stack[-2:]):
                    raise ValueError("STACK_GLOBAL with a computed name")
                found.add((stack[-2], stack[-1]))
                pushed = _Global((stack[-2], stack[-1]))
            _pop(stack, opcode.stack_before, pickletools.markobject)
            for kind in opcode.stack_after:
                stack.append(_MARK if kind is pickletools.markobject else pushed)
    except ValueError:
        raise
    except Exception as e:  # pickletools reports truncation and bad arguments with several error types
        raise ValueError(f"{type(e).__name__}: {_first_line(e)}") from None
    return found


def _below_mark(stack: list[Any]) -> int:
    """The index of the topmost mark (its target sits right below it)."""
    for index in range(len(stack) - 1, -1, -1):
        if stack[index] is _MARK:
            return index
    raise ValueError("an opcode needs a mark that is not on the stack")


def _pop(stack: list[Any], before: list[Any], markobject: Any) -> None:
    """Take what an opcode consumes off the symbolic stack (down to a mark, for the ones that use one)."""
    if markobject in before:
        below = before.index(markobject)
        mark = _below_mark(stack)
        if mark < below:
            raise ValueError("stack underflow")
        del stack[mark - below :]
    elif before:
        if len(stack) < len(before):
            raise ValueError("stack underflow")
        del stack[-len(before) :]


def _memo_index(arg: Any) -> int:
    if not isinstance(arg, int):
        raise ValueError(f"memo index {arg!r} is not an integer")
    return arg


def _torch_load(path: Path, member: str, raw: bytes) -> Any:
    """``torch.load`` with ``weights_only=True``: tensors and plain containers only, no code."""
    import pickle

    import torch

    try:
        return torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, OSError, KeyError, TypeError) as e:
        raise ModelLoadError(
            f"{path}: {member} is not a plain tensor file (a weights-only load refused it: {_first_line(e)})"
        ) from None
    except Exception as e:  # torch raises many kinds of errors for a malformed archive; none is a crash
        raise ModelLoadError(f"{path}: {member} cannot be read: {type(e).__name__}: {_first_line(e)}") from None


def _check_tensor(path: Path, member: str, name: str, value: Any, expected: Any) -> None:
    import torch

    if not isinstance(value, torch.Tensor) or value.layout != torch.strided:
        raise ModelLoadError(f"{path}: {member}: {name!r} is a {type(value).__name__}, expected a dense tensor")
    if tuple(value.shape) != tuple(expected.shape):
        raise ModelLoadError(
            f"{path}: {member}: tensor {name!r} has shape {tuple(value.shape)}, the model needs {tuple(expected.shape)}"
        )
    if value.dtype != expected.dtype:
        raise ModelLoadError(f"{path}: {member}: tensor {name!r} is {value.dtype}, the model needs {expected.dtype}")
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ModelLoadError(f"{path}: {member}: tensor {name!r} holds non-finite values (NaN or infinity)")


def _load_policy(path: Path, model: BaseAlgorithm, raw: bytes) -> None:
    state = _torch_load(path, "policy.pth", raw)
    expected = model.policy.state_dict()
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
    model.policy.load_state_dict(state, strict=True)


def _load_optimizer(path: Path, model: BaseAlgorithm, raw: bytes) -> None:
    """Load the optimizer's state (training resumes with it) once it matches the rebuilt optimizer exactly."""
    import torch

    state = _torch_load(path, "policy.optimizer.pth", raw)
    optimizer = model.policy.optimizer
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
        if not _is_int(index) or not 0 <= index < len(params) or not isinstance(slots, dict):
            raise ModelLoadError(f"{path}: {member}: state for an unknown parameter {index!r}")
        for slot, value in slots.items():
            # "step" is a scalar count; every other slot (moments, averages) is shaped like its parameter
            reference = torch.zeros((), dtype=torch.float32) if slot == "step" else params[index].detach()
            _check_tensor(path, member, f"state[{index}][{slot!r}]", value, reference)
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError, RuntimeError, TypeError) as e:
        raise ModelLoadError(f"{path}: {member} does not fit the optimizer: {_first_line(e)}") from None


def _count(value: Any) -> int | str:
    return len(value) if isinstance(value, list) else type(value).__name__


def _plain_setting(value: Any) -> bool:
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, tuple | list):
        return all(_is_number(v) for v in value)
    return _is_number(value)
