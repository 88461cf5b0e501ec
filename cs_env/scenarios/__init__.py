"""Scenarios are tests for agents: pinned starting situations with a pass criterion, as data files.

Every ``*.toml`` in this folder except ``thresholds.toml`` holds scenarios, one table each::

    [scenarios.urgent_fraud]                  # the scenario's name: unique across all files
    title = "Urgent fraud on a premium account"
    industry = "bfsi"                         # the env it runs in: a catalog industry or mixed
    description = "Money is leaving the account now; only the fraud team can stop it."
    start = { inquiry = "fraud_report", tier = "premium", sentiment = "angry", urgency = 4,
              needs_specialist = true }       # CustomerSupportEnv.reset(options=...): what is pinned
    max_turns = 10                            # the env's turn limit (optional, default 10)
    [scenarios.urgent_fraud.pass]             # every stated condition must hold
    outcome = ["escalated"]                   # how it may end: resolved, escalated, abandoned, timeout
    max_turns = 2                             # at most this many turns (optional)
    min_satisfaction = 0.7                    # final satisfaction at least (optional)
    min_return = 1.5                          # episode return at least (optional)
    sold = true                               # the customer bought an offer made in the trial (optional)
    avoid = ["upsell"]                        # strategies that fail the trial if used (optional)

``start`` keys are validated by the env itself (the same check as ``reset(options=...)``), so a
scenario can pin exactly what the env can. A malformed file is refused with an error naming the
file, the key and the problem, like the industry files (and by the same reader).

``thresholds.toml`` says how good a policy must be for ``cs-tui test`` to pass (see
:func:`load_thresholds`).

A trial's record replays exactly::

    env = CustomerSupportEnv(scenario.industry, max_turns=scenario.max_turns)
    env.reset(seed=trial.seed, options=scenario.options)
    for action in trial.actions: env.step(action)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cs_env.domain import FINAL_OUTCOME_NAMES, OUTCOME_NAMES, STRATEGY_NAMES
from cs_env.dynamics import Dynamics
from cs_env.env import MAX_TURNS_CEILING, CustomerSupportEnv, valid_industries
from cs_env.files import is_int
from cs_env.industries import IndustryDataError, _Reader
from cs_env.policies import PolicyFailure

SCENARIO_DIR = Path(__file__).parent
THRESHOLDS_FILE = "thresholds.toml"
CRITERION_KEYS = ("outcome", "max_turns", "min_satisfaction", "min_return", "sold", "avoid")
SCENARIO_KEYS = ("title", "industry", "description", "start", "max_turns", "pass")
#: The strategies that make an offer the customer may buy (what ``sold = true`` needs one of).
OFFER_STRATEGIES = tuple(name for name, offer in zip(STRATEGY_NAMES, Dynamics().is_offer, strict=True) if offer)


class ScenarioDataError(IndustryDataError):
    """A scenario or thresholds file is malformed: the message names the file, the key and the problem."""


class _ScenarioReader(_Reader):
    """The industry files' reader, raising :class:`ScenarioDataError`."""

    error = ScenarioDataError

    def integer(self, table: dict[str, Any], key: str, prefix: str, lo: int, hi: int | None) -> int:
        """``table[key]``: an integer of at least ``lo`` and, unless ``hi`` is None, at most ``hi``."""
        value = self.get(table, key, prefix)
        if not is_int(value) or value < lo or (hi is not None and value > hi):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
            within = f"of at least {lo}" if hi is None else f"from {lo} to {hi:,}"
            raise self.fail(prefix + key, f"expected an integer {within}, got {shown}")
        return value

    def text(self, table: dict[str, Any], key: str, prefix: str) -> str:
        value = self.get(table, key, prefix)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(prefix + key, f"expected a non-empty string, got {value!r}")
        return value

    def names(self, table: dict[str, Any], key: str, prefix: str, valid: Sequence[str]) -> tuple[str, ...]:
        value = self.get(table, key, prefix)
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
            raise self.fail(prefix + key, f"expected a name or a list of names from {', '.join(valid)}, got {value!r}")
        for item in items:
            if item not in valid:
                raise self.fail(prefix + key, f"unknown value {item!r}; valid: {', '.join(valid)}")
        return tuple(items)

    def sold(self, table: dict[str, Any], key: str, prefix: str) -> bool:
        """``sold = true``, the only value it takes: leaving the key out asks for no sale."""
        value = self.get(table, key, prefix)
        if value is not True:
            shown = "false" if value is False else f"{value!r:.60}"  # as TOML spells it
            raise self.fail(
                prefix + key,
                f"expected true (the customer must buy an offer), got {shown}; valid: true "
                "(leave the key out when no sale is asked; rule offers out with avoid = "
                f"[{', '.join(json.dumps(name) for name in OFFER_STRATEGIES)}])",
            )
        return True

    def only(self, table: dict[str, Any], prefix: str, valid: Sequence[str]) -> None:
        unknown = sorted(set(table) - set(valid))
        if unknown:
            raise self.fail(prefix + unknown[0], f"unknown key; valid keys: {', '.join(valid)}")


def _below(value: float, limit: float, digits: int = 2, kind: str = "f") -> str:
    """``"0.52 below 0.70"`` (or ``"75% below 84%"`` with ``kind="%"`` and ``digits=0``), with more digits
    when the shorter form would show equal numbers."""
    while f"{value:.{digits}{kind}}" == f"{limit:.{digits}{kind}}" and digits < 6:
        digits += 1
    return f"{value:.{digits}{kind}} below {limit:.{digits}{kind}}"


@dataclass(frozen=True)
class Criterion:
    """When a trial passes: every stated condition holds (None means not asked)."""

    outcomes: tuple[str, ...]
    max_turns: int | None = None
    min_satisfaction: float | None = None
    min_return: float | None = None
    sold: bool = False  # the customer bought at least one offer made in the trial
    avoid: tuple[str, ...] = ()

    def failure(
        self,
        outcome: str,
        turns: int,
        satisfaction: float,
        total_return: float,
        actions: Sequence[int],
        offers_sold: int,
    ) -> str:
        """Why a finished trial fails this criterion, or ``""`` if it passes (``offers_sold``: how many
        offers the customer bought, the sum of the steps' ``info["hidden_offer_sold"]``)."""
        if outcome not in self.outcomes:
            return f"ended {outcome}, expected {' or '.join(self.outcomes)}"
        if self.max_turns is not None and turns > self.max_turns:
            return f"took {turns} turns, limit {self.max_turns}"
        if self.min_satisfaction is not None and satisfaction < self.min_satisfaction:
            return f"satisfaction {_below(satisfaction, self.min_satisfaction)}"
        if self.min_return is not None and total_return < self.min_return:
            return f"return {_below(total_return, self.min_return)}"
        if self.sold and offers_sold < 1:
            offered = sorted({STRATEGY_NAMES[a] for a in actions if STRATEGY_NAMES[a] in OFFER_STRATEGIES})
            if not offered:
                return "made no offer, and this scenario asks for a sale"
            return f"the customer bought nothing ({' and '.join(offered)} offered), and this scenario asks for a sale"
        used = [STRATEGY_NAMES[a] for a in actions if STRATEGY_NAMES[a] in self.avoid]
        if used:
            return f"used {used[0]}, which this scenario rules out"
        return ""

    def describe(self) -> str:
        """The criterion in short words, e.g. ``resolved in ≤5 turns, sat ≥0.70, no upsell``."""
        parts = [" or ".join(self.outcomes) + (f" in ≤{self.max_turns} turns" if self.max_turns is not None else "")]
        if self.min_satisfaction is not None:
            parts.append(f"sat ≥{self.min_satisfaction:.2f}")
        if self.min_return is not None:
            parts.append(f"return ≥{self.min_return:.2f}")
        if self.sold:
            parts.append("sold")
        if self.avoid:
            parts.append(f"no {'/'.join(self.avoid)}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Scenario:
    """A pinned starting situation and what counts as handling it well."""

    name: str
    title: str
    industry: str
    description: str
    start: tuple[tuple[str, Any], ...]  # reset options, as pairs so the scenario stays hashable
    criterion: Criterion
    max_turns: int = 10
    path: Path = field(default=SCENARIO_DIR, compare=False)

    @property
    def options(self) -> dict[str, Any]:
        """The ``reset(options=...)`` that pins this scenario's start (a fresh dict each time)."""
        return dict(self.start)

    def make_env(self) -> CustomerSupportEnv:
        """The env this scenario runs in."""
        return CustomerSupportEnv(self.industry, max_turns=self.max_turns)


def _load_file(path: Path) -> list[Scenario]:
    reader = _ScenarioReader(path)
    data = reader.read()
    reader.only(data, "", ("scenarios",))
    found = []
    for name, table, prefix in reader.tables(data, "scenarios"):
        reader.only(table, prefix, SCENARIO_KEYS)
        industry = reader.get(table, "industry", prefix)
        if industry not in valid_industries():
            raise reader.fail(
                prefix + "industry", f"unknown industry {industry!r}; valid: {', '.join(valid_industries())}"
            )
        max_turns = reader.integer(table, "max_turns", prefix, 1, MAX_TURNS_CEILING) if "max_turns" in table else 10
        start = reader.get(table, "start", prefix)
        if not isinstance(start, dict):
            raise reader.fail(prefix + "start", f"expected a table of reset options, got {start!r}")
        try:  # the env's own check of reset options: a scenario pins exactly what the env can
            CustomerSupportEnv(industry, max_turns=max_turns).reset(seed=0, options=start)
        except ValueError as exc:
            raise reader.fail(prefix + "start", str(exc)) from None
        rule = reader.get(table, "pass", prefix)
        if not isinstance(rule, dict):
            raise reader.fail(prefix + "pass", f"expected a table with keys from {', '.join(CRITERION_KEYS)}")
        found.append(
            Scenario(
                name=name,
                title=reader.text(table, "title", prefix),
                industry=industry,
                description=reader.text(table, "description", prefix),
                start=tuple(start.items()),
                criterion=_criterion(reader, rule, prefix + "pass."),
                max_turns=max_turns,
                path=path,
            )
        )
    return found


def _criterion(reader: _ScenarioReader, rule: dict[str, Any], prefix: str) -> Criterion:
    reader.only(rule, prefix, CRITERION_KEYS)
    criterion = Criterion(
        outcomes=reader.names(rule, "outcome", prefix, FINAL_OUTCOME_NAMES),
        max_turns=reader.integer(rule, "max_turns", prefix, 1, MAX_TURNS_CEILING) if "max_turns" in rule else None,
        min_satisfaction=(
            reader.number(rule, "min_satisfaction", prefix, 0.0, 1.0) if "min_satisfaction" in rule else None
        ),
        # an episode's return lies in [-0.3, 4.3]
        min_return=reader.number(rule, "min_return", prefix, -0.3, 4.3) if "min_return" in rule else None,
        sold=reader.sold(rule, "sold", prefix) if "sold" in rule else False,
        avoid=reader.names(rule, "avoid", prefix, STRATEGY_NAMES) if "avoid" in rule else (),
    )
    if criterion.sold and set(OFFER_STRATEGIES) <= set(criterion.avoid):
        raise reader.fail(
            prefix + "sold",
            f"can never hold: a sale needs an offer ({' or '.join(OFFER_STRATEGIES)}) and avoid rules out both",
        )
    return criterion


def load_scenarios(directory: Path | None = None) -> list[Scenario]:
    """Every scenario in ``directory`` (default: the shipped catalog), validated, in file then table order."""
    directory = SCENARIO_DIR if directory is None else Path(directory)
    paths = sorted(p for p in directory.glob("*.toml") if p.name != THRESHOLDS_FILE)
    if not paths:
        raise ScenarioDataError(f"{directory}: no scenario files (*.toml) found")
    scenarios: list[Scenario] = []
    seen: dict[str, Path] = {}
    for path in paths:
        for scenario in _load_file(path):
            if scenario.name in seen:
                raise ScenarioDataError(
                    f"{path}: key 'scenarios.{scenario.name}': name already used in {seen[scenario.name].name}"
                )
            seen[scenario.name] = path
            scenarios.append(scenario)
    return scenarios


# -- running ---------------------------------------------------------------------------------------
#: A trial's outcome when the agent failed to answer (see ``cs_env.policies.PolicyFailure``).
AGENT_FAILED = "agent_failed"


@dataclass(frozen=True)
class Trial:
    """One trial as it happened; ``seed`` + the scenario's options + ``actions`` replay it exactly."""

    seed: int
    actions: tuple[int, ...]
    rewards: tuple[float, ...]
    outcome: str
    satisfaction: float
    turns: int
    total_return: float
    passed: bool
    reason: str  # why it failed, or what it achieved when it passed
    offers_sold: int  # offers the customer bought (the steps' info["hidden_offer_sold"], summed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "actions": list(self.actions),
            "strategies": [STRATEGY_NAMES[a] for a in self.actions],
            "rewards": list(self.rewards),
            "outcome": self.outcome,
            "satisfaction": self.satisfaction,
            "turns": self.turns,
            "return": self.total_return,
            "offers_sold": self.offers_sold,
            "passed": self.passed,
            "reason": self.reason,
        }


def pass_hat_k(trials: int, passes: int, k: int) -> float:
    """τ-bench's pass^k: the chance that k trials drawn from these all pass, C(c, k) / C(n, k), unbiased."""
    if not 0 <= passes <= trials:
        raise ValueError(f"passes must be between 0 and trials ({trials}), got {passes}")
    if not 1 <= k <= trials:
        raise ValueError(f"k must be between 1 and the number of trials ({trials}), got {k}")
    return math.comb(passes, k) / math.comb(trials, k)


#: Resamples of the bootstrap interval of pass^k: the interval's ends move by well under 0.01 beyond this.
BOOTSTRAP_RESAMPLES = 4000


def _pass_hat_k_of(trials: int, passes: np.ndarray, k: int) -> np.ndarray:
    """pass^k for each count of passes in ``passes`` (out of ``trials``), vectorised through a table."""
    table = np.array([math.comb(c, k) for c in range(trials + 1)], dtype=np.float64) / math.comb(trials, k)
    return table[passes]


def pass_hat_k_interval(
    results: Sequence[ScenarioResult], k: int, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """The bootstrap 95 % interval of the mean pass^k over ``results`` (one scenario: its own pass^k).

    Each resample redraws every scenario's trials with replacement (its passes ~ Binomial(n, passes/n)),
    so the interval says how much the figure would move on another run of as many trials: two agents
    whose intervals do not overlap differ for real. Seeded: the same results give the same interval.
    """
    if not results:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    total = np.zeros(resamples)
    for r in results:
        n = len(r.trials)
        redrawn = rng.binomial(n, r.passes / n, size=resamples)
        total += _pass_hat_k_of(n, redrawn, k)
    mean = total / len(results)
    low, high = np.percentile(mean, [2.5, 97.5])
    return float(low), float(high)


@dataclass(frozen=True)
class ScenarioResult:
    """A scenario's trials under one policy."""

    scenario: Scenario
    trials: tuple[Trial, ...]

    @property
    def passes(self) -> int:
        return sum(t.passed for t in self.trials)

    @property
    def pass_rate(self) -> float:
        return self.passes / len(self.trials)

    def pass_hat_k(self, k: int) -> float:
        """The chance that ``k`` trials all pass (see :func:`pass_hat_k`)."""
        return pass_hat_k(len(self.trials), self.passes, k)

    def as_dict(self, k: int | None = None) -> dict[str, Any]:
        s = self.scenario
        return {
            "scenario": s.name,
            "title": s.title,
            "industry": s.industry,
            "criterion": s.criterion.describe(),
            "options": s.options,
            "trials": len(self.trials),
            "passes": self.passes,
            "pass_rate": self.pass_rate,
            **(
                {"k": k, "pass_hat_k": self.pass_hat_k(k), "pass_hat_k_ci95": list(pass_hat_k_interval([self], k))}
                if k is not None
                else {}
            ),
            "records": [t.as_dict() for t in self.trials],
        }


def _act(policy: Any, obs: np.ndarray, env: CustomerSupportEnv) -> int:
    action = policy(obs, state=env.hidden_state) if getattr(policy, "needs_state", False) else policy(obs)
    return int(np.asarray(action).reshape(-1)[0])


def run_trial(policy: Any, scenario: Scenario, seed: int, env: CustomerSupportEnv | None = None) -> Trial:
    """Play one conversation of ``scenario`` from ``seed`` with ``policy`` and judge it."""
    env = env or scenario.make_env()
    obs, info = env.reset(seed=seed, options=scenario.options)
    actions: list[int] = []
    rewards: list[float] = []
    sold = 0
    done = False
    while not done:
        try:
            action = _act(policy, obs, env)
        except PolicyFailure as exc:  # an agent that hung, crashed or answered nonsense: this trial fails
            turn, total = len(actions) + 1, float(sum(rewards))
            reason = f"the agent failed at turn {turn}: {exc}"
            sat = float(info["hidden_satisfaction"])
            return Trial(
                seed, tuple(actions), tuple(rewards), AGENT_FAILED, sat, len(actions), total, False, reason, sold
            )
        obs, reward, terminated, truncated, info = env.step(action)
        actions.append(action)
        rewards.append(float(reward))
        sold += int(info["hidden_offer_sold"])
        done = terminated or truncated
    outcome, satisfaction = OUTCOME_NAMES[int(info["outcome"])], float(info["hidden_satisfaction"])
    total = float(sum(rewards))
    reason = scenario.criterion.failure(outcome, len(actions), satisfaction, total, actions, sold)
    passed = not reason
    if passed:
        reason = f"{outcome} in {len(actions)} turn{'s' if len(actions) > 1 else ''}, satisfaction {satisfaction:.2f}"
        if sold:
            reason += f", sold {sold} offer{'s' if sold > 1 else ''}"
    return Trial(seed, tuple(actions), tuple(rewards), outcome, satisfaction, len(actions), total, passed, reason, sold)


def trial_seeds(trials: int, seed: int) -> list[int]:
    """The env seeds of a run's trials: consecutive from ``seed`` (so a trial is easy to re-run alone)."""
    return [seed + i for i in range(trials)]


def run_scenario(policy: Any, scenario: Scenario, trials: int = 8, seed: int = 0) -> ScenarioResult:
    """Run ``trials`` conversations of ``scenario`` with ``policy`` (env seeds ``seed``, ``seed + 1``, ...)."""
    if not is_int(trials) or trials < 1:
        raise ValueError(f"trials must be a positive integer, got {trials!r}")
    env = scenario.make_env()
    return ScenarioResult(scenario, tuple(run_trial(policy, scenario, s, env) for s in trial_seeds(trials, seed)))


def replay(scenario: Scenario, trial: Trial) -> CustomerSupportEnv:
    """A fresh env that has played ``trial`` again from its seed and actions (for transcripts)."""
    env = scenario.make_env()
    env.reset(seed=trial.seed, options=scenario.options)
    for action in trial.actions:
        env.step(action)
    return env


# -- thresholds ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Threshold:
    """Minimum pass rate and pass^k (None: not asked)."""

    min_pass_rate: float | None = None
    min_pass_hat_k: float | None = None


@dataclass(frozen=True)
class Thresholds:
    """How good a policy must be on the catalog: overall (means over scenarios) and per scenario."""

    k: int
    overall: Threshold
    per_scenario: dict[str, Threshold]
    path: Path | None = None

    def misses(self, results: Sequence[ScenarioResult]) -> list[str]:
        """Every threshold ``results`` miss, in words (empty: the policy passes)."""
        missed: list[str] = []
        k = self.k

        def check(what: str, rule: Threshold, rate: float, hat: float) -> None:
            if rule.min_pass_rate is not None and rate < rule.min_pass_rate:
                missed.append(f"{what}: pass rate {_below(rate, rule.min_pass_rate, 0, '%')}")
            if rule.min_pass_hat_k is not None and hat < rule.min_pass_hat_k:
                missed.append(f"{what}: pass^{k} {_below(hat, rule.min_pass_hat_k)}")

        by_name = {r.scenario.name: r for r in results}
        for name, rule in self.per_scenario.items():
            if name in by_name:
                check(name, rule, by_name[name].pass_rate, by_name[name].pass_hat_k(k))
        if results:
            rate = float(np.mean([r.pass_rate for r in results]))
            hat = float(np.mean([r.pass_hat_k(k) for r in results]))
            check("overall", self.overall, rate, hat)
        return missed


THRESHOLD_KEYS = ("min_pass_rate", "min_pass_hat_k")


def _threshold(reader: _ScenarioReader, table: Any, prefix: str) -> Threshold:
    if not isinstance(table, dict):
        raise reader.fail(prefix[:-1], f"expected a table with keys from {', '.join(THRESHOLD_KEYS)}")
    reader.only(table, prefix, THRESHOLD_KEYS)
    return Threshold(*(reader.number(table, key, prefix, 0.0, 1.0) if key in table else None for key in THRESHOLD_KEYS))


def load_thresholds(path: Path | None = None, scenarios: Sequence[Scenario] | None = None) -> Thresholds:
    """Read a thresholds file (default: the shipped ``thresholds.toml``)::

    k = 4                                         # pass^k is reported and judged at this k
    [overall]                                     # means over all scenarios run
    min_pass_rate = 0.6
    min_pass_hat_k = 0.4
    [scenarios.urgent_fraud]                      # optional, per scenario (names from the catalog)
    min_pass_rate = 0.9
    """
    path = SCENARIO_DIR / THRESHOLDS_FILE if path is None else Path(path)
    reader = _ScenarioReader(path)
    data = reader.read()
    reader.only(data, "", ("k", "overall", "scenarios"))
    k = reader.integer(data, "k", "", 1, None) if "k" in data else 1
    overall = _threshold(reader, data["overall"], "overall.") if "overall" in data else Threshold()
    raw = data.get("scenarios", {})
    if not isinstance(raw, dict):
        raise reader.fail("scenarios", "expected [scenarios.NAME] tables")
    known = [s.name for s in (scenarios if scenarios is not None else load_scenarios())]
    per_scenario = {}
    for name, table in raw.items():
        if name not in known:
            raise reader.fail(f"scenarios.{name}", f"no such scenario; known: {', '.join(known)}")
        per_scenario[name] = _threshold(reader, table, f"scenarios.{name}.")
    return Thresholds(k=k, overall=overall, per_scenario=per_scenario, path=path)


__all__ = [
    "AGENT_FAILED",
    "OFFER_STRATEGIES",
    "SCENARIO_DIR",
    "Criterion",
    "Scenario",
    "ScenarioDataError",
    "ScenarioResult",
    "Threshold",
    "Thresholds",
    "Trial",
    "load_scenarios",
    "load_thresholds",
    "pass_hat_k",
    "pass_hat_k_interval",
    "replay",
    "run_scenario",
    "run_trial",
    "trial_seeds",
]
