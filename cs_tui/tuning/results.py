"""Reading studies back: their names, their trials as rows, the best trial and its hyperparameters (the
CLI's table and ``--best``, the app's tuning view). Optuna is imported inside functions only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cs_tui.training.options import load_defaults
from cs_tui.training.search_space import Parameter, apply
from cs_tui.tuning.options import TuneError, TuneInputError

if TYPE_CHECKING:
    import optuna


def counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state name (``complete``, ``pruned``, ``running``, ``waiting``, ``fail``)."""
    found = {"complete": 0, "pruned": 0, "running": 0, "waiting": 0, "fail": 0}
    for trial in study.get_trials(deepcopy=False):
        key = trial.state.name.lower()
        found[key] = found.get(key, 0) + 1
    return found


def list_studies(storage: Any) -> list[str]:
    import optuna

    return sorted(s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False))


def load_study(storage: Any, name: str) -> optuna.Study:
    """An existing study; :class:`TuneInputError` listing the studies there when it is not."""
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = list_studies(storage)
        raise TuneInputError(f"no study {name!r} in this storage; studies: {', '.join(names) or 'none yet'}") from None


def trial_rows(study: optuna.Study, space: list[Parameter] | None = None) -> list[dict[str, Any]]:
    """One plain row per trial: number, state, value, params (decoded), run folder, best-so-far."""
    rows = []
    best: float | None = None
    by_key = {p.key: p for p in space or []}
    for trial in study.get_trials(deepcopy=False):
        value = trial.value if trial.state.name == "COMPLETE" else None
        if value is not None:
            best = value if best is None else max(best, value)
        params = {k: (by_key[k].decode(v) if k in by_key else v) for k, v in trial.params.items()}
        intermediate = trial.intermediate_values
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name.lower(),
                "value": value,
                "last_eval": intermediate[max(intermediate)] if intermediate else None,
                "best_so_far": best,
                "params": params,
                "run": trial.user_attrs.get("run"),
                "retry_of": _retry_of(trial),
                "error": trial.user_attrs.get("error"),
                "interrupted": trial.user_attrs.get("interrupted"),  # why it stopped: a signal, not a fault
                "started": trial.datetime_start.isoformat(timespec="seconds") if trial.datetime_start else None,
                "finished": trial.datetime_complete.isoformat(timespec="seconds") if trial.datetime_complete else None,
            }
        )
    return rows


def _retry_of(trial: Any) -> int | None:
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    if "retry_of" in trial.user_attrs:
        return int(trial.user_attrs["retry_of"])
    return RetryHeartbeatStaleTrialCallback.retried_trial_number(trial)


def best_trial(study: optuna.Study) -> Any | None:
    """The complete trial with the highest value, or None before any completed."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.value is not None]
    return max(complete, key=lambda t: (t.value, -t.number)) if complete else None


def best_hyperparams(study: optuna.Study, space: list[Parameter]) -> tuple[str, int | None, dict[str, Any]]:
    """The best trial's algorithm, n_envs and hyperparameters (``{"model":…, "policy":…}``), the
    defaults filled in: a whole set for ``cs-tui train --hyperparams``."""
    trial = best_trial(study)
    if trial is None:
        raise TuneError(f"study {study.study_name!r} has no complete trial yet")
    settings = study.user_attrs.get("settings", {})
    algorithm = str(settings.get("algorithm", "ppo"))
    defaults = load_defaults()[algorithm]
    overrides, n_envs = apply(dict(trial.params), space)
    hyperparameters = defaults.hyperparameters()
    for part, values in overrides.items():
        hyperparameters.setdefault(part, {}).update(values)
    return algorithm, n_envs if n_envs is not None else defaults.n_envs, hyperparameters
