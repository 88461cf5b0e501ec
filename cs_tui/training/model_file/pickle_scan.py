"""The ``data`` member of a model file, read without running it: SB3's entries and the pickles inside.

The loaders never use ``data``; :func:`check_data` protects users who later open the file with SB3's
own ``load``, which unpickles every ``":serialized:"`` value, known key or not. It must be plain JSON
with only the entries SB3 writes for such a model (:data:`SB3_DATA_KEYS`), and each pickled value may
import only what SB3 pickles for that model (:data:`SB3_DATA_GLOBALS`) plus numpy and container
reconstructors (:data:`DATA_GLOBALS`), read from the pickle's opcodes by :func:`pickle_globals`
without running them. No torch here.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cs_tui.training.model_file.format import ModelLoadError, first_line


def check_data(path: Path, algorithm: str, raw: bytes) -> None:
    """Refuse a ``data`` member with entries SB3's ``save`` would not write for this algorithm.

    The loaders never use ``data``; this check protects users who later open the file with SB3's own
    ``load``, which unpickles every ``":serialized:"`` value, known key or not. The JSON is parsed as
    plain JSON; the serialized strings inside are never decoded. The rules are tables
    (:data:`SB3_DATA_KEYS`, :data:`SB3_DATA_GLOBALS`), not a model, so the network-only loader applies them too.
    """
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ModelLoadError(f"{path}: the data member is not valid JSON: {first_line(e)}") from None
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
        raise ValueError(f"{type(e).__name__}: {first_line(e)}") from None
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
