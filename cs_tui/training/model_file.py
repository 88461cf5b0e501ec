"""The model file format: stable-baselines3's own ``.zip`` plus ``cs_tui.json``, a description in plain JSON.

A model file is SB3's ``.zip`` (so ``PPO.load`` still works for users who trust the file) plus one
member, ``cs_tui.json``: the algorithm, the constructor hyperparameters and policy kwargs in plain JSON,
the industry, ``max_turns``, the observation and action spaces, and where the model came from. This
module writes it (:func:`save_model`, :func:`describe_model`) and reads it back without torch
(:func:`read_members`: the zip's allow-list, size caps and member kinds; :func:`parse_meta`: the
description, every field checked). The loaders are :mod:`cs_tui.training.safe_load` (the whole
algorithm) and :mod:`cs_tui.training.policy_net` (the network alone); the ``data`` member's pickles
are read by :mod:`cs_tui.training.pickle_scan`.

torch is imported inside functions only (to name activation and optimizer classes).
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_env import files
from cs_tui.files import atomic_write_bytes
from cs_tui.numbers import finite
from cs_tui.training import runs
from cs_tui.training.registry import ALGORITHMS, RUN_NAME, RUN_NAME_RULE, check_algorithm

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

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
    atomic_write_bytes(Path(path), buffer.getvalue())


def describe_model(model: BaseAlgorithm, meta: dict[str, Any]) -> dict[str, Any]:
    """The ``cs_tui.json`` document for ``model``: ``meta`` plus what rebuilding it needs."""
    from cs_env.env import ENV_ID

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
        env_id=ENV_ID,
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


def torch_classes() -> tuple[dict[str, Any], dict[str, Any]]:
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
    activation_classes, optimizer_classes = torch_classes()
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


# -- reading ---------------------------------------------------------------------------------
def read_model_meta(path: Path | str) -> dict[str, Any]:
    """The validated ``cs_tui.json`` of a model file, without torch (for listings).

    Raises:
        ModelLoadError: the file is missing, not a model file, or its description is invalid.
    """
    path = Path(path)
    members = read_members(path, only=META_MEMBER)
    return parse_meta(path, members)


def read_members(path: Path, only: str | None = None) -> dict[str, bytes]:
    """The zip's members by name, after the allow-list and size checks; the ``data`` member is never decoded.

    Everything that can be refused from the central directory is refused before a byte is inflated:
    the member count (read from the end record, before ``zipfile`` parses a directory of any size),
    the names, duplicates, the compression methods and each member's declared size. Members are then
    inflated in bounded chunks, so a header that lies about its size is refused at the cap too.
    ``only`` names the one member to inflate (a listing needs ``cs_tui.json``, not the weights).
    """
    try:  # a FIFO, a device, a folder or a symlink loop is refused at once, never read
        fd = files.open_regular(path)
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: no such file") from None
    except files.FileReadError as e:
        raise ModelLoadError(f"{path}: {e.strerror}: not a file a model can be read from") from None
    except OSError as e:
        raise ModelLoadError(f"{path}: cannot read the file: {e.strerror or e}") from None
    handle = os.fdopen(fd, "rb")  # (closed below, after the archive that reads it)
    size = os.fstat(fd).st_size
    if size > MAX_FILE_BYTES:
        handle.close()
        raise ModelLoadError(f"{path}: {size} bytes is too large for a model file (at most {MAX_FILE_BYTES})")
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
                # raw bytes only: "data"'s pickled values are never decoded (see check_data)
                return {
                    info.filename: _read_member(path, archive, info)
                    for info in infos
                    if only is None or info.filename == only
                }
    except ModelLoadError:
        raise
    except Exception as e:  # zipfile and zlib each report a damaged archive their own way
        raise ModelLoadError(f"{path}: not a readable model file (truncated or corrupt zip: {first_line(e)})") from None


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


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= 200 else line[:200] + "…"


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
    if not is_int(stack) or not 1 <= stack <= MAX_FRAME_STACK:
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


def is_number(value: Any) -> bool:
    """A finite number that has a float (an integer of 400 digits has none: refused, not an OverflowError)."""
    return finite(value) is not None


def is_int(value: Any) -> bool:
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
