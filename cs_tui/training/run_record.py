"""What a run's ``meta.json`` holds, typed: a :class:`RunRecord`, and the evaluations in it, :class:`EvalRecord`.

The trainer builds one record when a run starts and changes its fields as the run goes (status, steps
done, evaluations, the process training it); the app and the command line read the same fields by
name. :meth:`RunRecord.to_json` writes the keys and format meta.json has always had, so the run folders
of earlier versions (and the shipped ``saves/default``) read and write unchanged.

Reading is strict about types and lenient about age:

- a field of the wrong type, or a missing one of the few that say what the run is (:data:`REQUIRED`),
  is a :class:`RunError` naming the field and the file, which the app shows as it
  shows an unreadable meta.json;
- a field an earlier version did not write yet reads as None (or its default: one frame, no curriculum);
- a key this version does not know is kept in :attr:`RunRecord.extra` and written back.

The run's status words (:class:`RunStatus`) and :class:`RunError` live here, with the record that holds them.

This module is read by the app: it stays light (no torch, no numpy).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cs_env.files import is_int
from cs_tui.files import FileFormatError
from cs_tui.numbers import finite

#: The version of meta.json's layout.
SCHEMA = 1


class RunStatus(enum.StrEnum):
    """A run's status: the first five are what ``meta.json`` records; the views add the last three.

    A ``StrEnum``, so a status compares equal to the word meta.json holds (``RunStatus.DIED == "died"``).
    """

    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"  # stopped by a signal (Ctrl-C, SIGTERM, SIGHUP, the app's x): resumable
    FAILED = "failed"  # an error, recorded in meta.json
    PRUNED = "pruned"  # a trial of `cs-tui tune` its study's pruner stopped early (checkpointed, resumable)
    DIED = "died"  # recorded running, but no process trains it (kill -9, a crash, a reboot): resumable
    STARTING = "starting"  # the app launched a trainer that has not written meta.json yet
    BROKEN = "broken"  # meta.json cannot be read


#: The statuses a trainer records in meta.json.
STATUSES = tuple(s.value for s in (RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.INTERRUPTED, RunStatus.FAILED,
                                   RunStatus.PRUNED))  # fmt: skip


class RunError(FileFormatError):
    """A run folder or one of its files cannot be read; the message names the file and the problem."""


@dataclass
class EvalRecord:
    """One evaluation during training (``last_eval``, ``best_eval``, the ``"eval"`` lines of metrics.jsonl,
    the ``eval`` of ``best.zip``): the evaluation's own figures plus the trainer's own keys.

    ``metrics`` is the evaluation's own dict, ``cs_env.evaluate.Metrics.as_dict()``: the names
    ``cs-tui evaluate`` prints (``mean_return``, ``ci95``, ``pct_of_oracle``, ``resolution_rate``, ...,
    ``strategy_usage``). On disk they sit beside ``"type": "eval"``, ``time``, ``timesteps`` and ``is_best``
    in one flat object, as they always have.
    """

    #: the model's step count when it was evaluated
    timesteps: int
    #: the evaluation's figures by name: numbers (null where none was measured) and ``strategy_usage``
    metrics: dict[str, Any]
    #: when (seconds since the epoch); records written by hand may lack it
    time: float | None = None
    #: whether it was the best evaluation of the run so far (its model is ``best.zip``)
    is_best: bool = False

    @classmethod
    def from_json(cls, data: Any, where: str) -> EvalRecord:
        """The record in ``data``; :class:`RunError` starting with ``where`` (``"…/meta.json: last_eval"``)."""
        if not isinstance(data, dict):
            raise RunError(f"{where} must be an evaluation record (a JSON object), got {data!r:.60}")
        if data.get("type", "eval") != "eval":
            raise RunError(f"{where}: type must be 'eval', got {data['type']!r:.40}")
        if "timesteps" not in data:
            raise RunError(f"{where}: the field 'timesteps' is missing")
        timesteps = _convert(data["timesteps"], int, f"{where}: timesteps")
        when = _convert(data.get("time"), float | None, f"{where}: time")
        is_best = _convert(data.get("is_best", False), bool, f"{where}: is_best")
        metrics = {}
        for key, value in data.items():
            if key in _EVAL_OWN_KEYS:
                continue
            if not (_is_figure(value) or (isinstance(value, dict) and all(map(_is_figure, value.values())))):
                raise RunError(f"{where}: {key} must be a number (or null), or an object of numbers, got {value!r:.60}")
            metrics[key] = copy.deepcopy(value)
        return cls(timesteps=timesteps, metrics=metrics, time=when, is_best=is_best)

    def to_json(self) -> dict[str, Any]:
        """The flat JSON object meta.json, metrics.jsonl and best.zip hold."""
        when = {} if self.time is None else {"time": self.time}
        return {"type": "eval", **when, "timesteps": self.timesteps, **copy.deepcopy(self.metrics),
                "is_best": self.is_best}  # fmt: skip

    def figure(self, name: str) -> float | None:
        """The figure ``name`` as a finite float, or None (not measured, or not a number)."""
        return finite(self.metrics.get(name))

    @property
    def mean_return(self) -> float | None:
        return self.figure("mean_return")

    @property
    def ci95(self) -> float | None:
        return self.figure("ci95")

    @property
    def pct_of_oracle(self) -> float | None:
        """% of oracle, ×100 (``97.3``)."""
        return self.figure("pct_of_oracle")

    @property
    def resolution_rate(self) -> float | None:
        return self.figure("resolution_rate")

    @property
    def strategy_usage(self) -> dict[str, float]:
        """Each strategy's share of the turns (the finite ones; empty if the record has none)."""
        usage = self.metrics.get("strategy_usage")
        if not isinstance(usage, dict):
            return {}
        return {name: share for name, value in usage.items() if (share := finite(value)) is not None}


_EVAL_OWN_KEYS = frozenset({"type", "time", "timesteps", "is_best"})


def _is_figure(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


@dataclass(kw_only=True)
class RunRecord:
    """A run's ``meta.json``: what was trained and how, how far it got, and how it stands.

    The fields are meta.json's keys, in its order. Those without a default (:data:`REQUIRED`) every run
    records; the others are None where a run written by an earlier version (or by hand) lacks them.
    """

    schema: int
    name: str
    algorithm: str
    industry: str
    max_turns: int
    seed: int
    n_envs: int | None = None
    #: the planned total: the steps asked for, rounded up to whole rollouts (what training reaches)
    total_timesteps: int
    #: the steps asked for (``--timesteps``)
    timesteps_requested: int | None = None
    #: the step count of the latest checkpoint (``model.zip``)
    timesteps_done: int
    #: ``{"model": {...}, "policy": {...}}``: the settings the model was built with
    hyperparameters: dict[str, Any]
    #: the industry data's digest (``cs_env.industries``): which customers the run trained on
    industry_digest: str | None = None
    #: the env it trained on (``cs_env.ENV_ID``); runs from before it was recorded trained on v0
    env_id: str | None = None
    #: package versions of the last process that trained it
    versions: dict[str, str] | None = None
    created_at: str | None = None
    updated_at: str | None = None
    #: one of :data:`STATUSES` (a word a later version may add is kept as it is)
    status: str
    #: why a failed run failed
    error: str | None = None
    #: the process that trains (or trained) it and its start token (``run_lock.process_token``)
    pid: int | None = None
    pid_token: str | None = None
    #: random's and the oracle's mean return on the evaluation's customers (0 % and 100 % of oracle)
    reference: dict[str, Any] | None = None
    last_eval: EvalRecord | None = None
    best_eval: EvalRecord | None = None
    eval_every: int | None = None
    eval_episodes: int | None = None
    keep_checkpoints: int | None = None
    tensorboard: str | None = None
    #: ``{"source": ...}`` while the policy is cloned, then what ``warm_start.behaviour_clone`` recorded
    warm_start: dict[str, Any] | None = None
    frame_stack: int = 1
    curriculum: bool = False
    #: the command line that started it
    command: list[str] | None = None
    #: ``cs-tui tune``: the study and trial this run is (written only when set)
    tune: dict[str, Any] | None = None
    #: a failure's traceback, for a bug report (written only when set)
    traceback: str | None = None
    #: keys this version does not know (a later version's), kept and written back as they are
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: Path | str) -> RunRecord:
        """The record ``data`` (meta.json read from ``source``) holds; :class:`RunError` naming ``source``
        and the field for a missing or mistyped one."""
        hints = _hints()
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            if f.name not in data:
                if f.name in REQUIRED:
                    raise RunError(f"{source}: the field {f.name!r} is missing (every run records it)")
                continue
            values[f.name] = _convert(data[f.name], hints[f.name], f"{source}: {f.name}")
        if values["schema"] != SCHEMA:
            raise RunError(f"{source}: schema {values['schema']} is not supported (this cs-tui reads schema {SCHEMA})")
        extra = {key: copy.deepcopy(value) for key, value in data.items() if key not in _FIELD_NAMES}
        return cls(**values, extra=extra)

    def to_json(self) -> dict[str, Any]:
        """meta.json's object: every field in order (``tune``, ``traceback`` and ``env_id`` only when set), then
        :attr:`extra`."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or (value is None and f.name in _WRITTEN_WHEN_SET):
                continue
            out[f.name] = value.to_json() if isinstance(value, EvalRecord) else copy.deepcopy(value)
        return {**out, **copy.deepcopy(self.extra)}

    def progress(self, steps: float | None = None) -> float:
        """The share of the planned steps done, from 0 to 1: ``steps`` (a fresher count, such as the
        latest ``"train"`` record's) or else :attr:`timesteps_done`; 1 once the run is finished.

        The one figure the runs list and the run monitor show.
        """
        if self.status == RunStatus.FINISHED:
            return 1.0
        done = self.timesteps_done if steps is None else steps
        if self.total_timesteps <= 0:
            return 0.0
        return min(max(done / self.total_timesteps, 0.0), 1.0)


#: The fields every run's meta.json has (the fields of :class:`RunRecord` without a default).
REQUIRED = frozenset(
    f.name
    for f in dataclasses.fields(RunRecord)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)
_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(RunRecord)) - {"extra"}
# the trainer writes these keys only once they have a value, as it always has
_WRITTEN_WHEN_SET = frozenset({"tune", "traceback", "env_id"})  # (env_id: runs before it read and write unchanged)


#: The largest magnitude a number field of meta.json may have: 2**63, past every count, seed (``seeds.MAX_SEED``)
#: and pid a run records. A hand-edited ``10**400`` is refused here, naming the field, rather than
#: overflowing the float conversion of whoever shows it.
MAX_MAGNITUDE = 2**63


@functools.cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(RunRecord)


def _convert(value: Any, hint: Any, where: str) -> Any:
    """``value`` checked against the type ``hint`` (a copy for a JSON object or list); :class:`RunError`
    starting with ``where`` if it does not fit."""
    optional = type(None) in typing.get_args(hint)
    if value is None and optional:
        return None
    kind = next((arg for arg in typing.get_args(hint) if arg is not type(None)), hint) if optional else hint
    if kind is EvalRecord:
        return EvalRecord.from_json(value, where)
    origin = typing.get_origin(kind) or kind
    if origin is bool:
        fits = isinstance(value, bool)
    elif origin in (int, float):  # a count, a seed, a pid, a time: nothing a run records passes 64 bits
        accepted = int if origin is int else int | float
        fits = isinstance(value, accepted) and not isinstance(value, bool) and abs(value) <= MAX_MAGNITUDE
    elif origin is str:
        fits = isinstance(value, str)
    elif origin is dict:
        item = typing.get_args(kind)[1]
        fits = isinstance(value, dict) and (item is Any or all(isinstance(v, item) for v in value.values()))
    elif origin is list:
        fits = isinstance(value, list) and all(isinstance(v, typing.get_args(kind)[0]) for v in value)
    else:  # a field of a type this function does not know: a mistake in this module, not in the file
        raise TypeError(f"{where}: cannot check a field of type {kind!r}")
    if not fits:
        expected = _EXPECTED[origin] + (" or null" if optional else "")
        if _is_wide(value):
            got = f"a number of {len(str(abs(value)))} digits (at most {MAX_MAGNITUDE:,})"
        else:
            got = f"{value!r:.60}"
        raise RunError(f"{where} must be {expected}, got {got}")
    return copy.deepcopy(value) if origin in (dict, list) else value


def _is_wide(value: Any) -> bool:
    return is_int(value) and abs(value) > MAX_MAGNITUDE


_EXPECTED = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "a string",
    dict: "a JSON object",
    list: "a list of strings",
}


__all__ = ["REQUIRED", "EvalRecord", "RunRecord"]
