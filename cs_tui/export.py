"""Export: evaluations and scenario runs as rows (lists of dicts) and the writers that put them in CSV or JSON.

No UI and no torch: the CLI (``cs-tui evaluate | test --csv``) and the app build the same rows here, so a
column means the same everywhere. Every builder returns plain ``list[dict[str, object]]`` whose values are
``str``, ``int``, ``float``, ``bool`` or ``None`` (JSON- and CSV-ready); the rows of one builder share
their keys in one order, which become the CSV's header.

- :func:`evaluation_episode_rows`: one row per conversation of an evaluation (who came, how it ended, the
  strategies used: ``turns_<strategy>`` columns).
- :func:`evaluation_summary_rows`: one row per group (overall, each industry, tier, inquiry) with the
  business metrics and the strategy use (``use_<strategy>``: share of that group's turns).
- :func:`scenario_trial_rows`: one row per scenario trial (seed, outcome, the strategies in order).
- :func:`scenario_summary_rows`: one row per scenario (pass rate, pass^k and its 95 % interval).
- :func:`write_json` / :func:`write_csv`: to a file (atomically: a temp file in the same folder, then
  ``os.replace``) or to standard output for ``-``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_env.domain import STRATEGY_NAMES, TIER_NAMES, Outcome
from cs_env.evaluate import Metrics

if TYPE_CHECKING:
    from cs_env.evaluate import EvaluationReport, Rollouts
    from cs_env.industries import Catalog
    from cs_env.scenarios import ScenarioResult

Row = dict[str, Any]
#: the path that means standard output
STDOUT = "-"
#: the summary's metrics, in column order: every ``Metrics`` field but the usage (its own columns)
SUMMARY_METRICS = tuple(f.name for f in fields(Metrics) if f.name != "strategy_usage")


def _plain(value: Any) -> Any:
    """A JSON/CSV-ready value: numpy scalars as Python numbers, NaN and infinities as None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def evaluation_episode_rows(
    rollouts: Rollouts, *, catalog: Catalog | None = None, seed: int | None = None
) -> list[Row]:
    """One row per conversation of ``rollouts`` (from :func:`cs_env.evaluate.rollout`); ``catalog`` names
    the inquiries and industries (default: the shipped one); ``seed`` is the evaluation's, repeated per row."""
    from cs_env.industries import default_catalog

    catalog = catalog or default_catalog()
    inquiry_names = {inq.id: inq.name for inq in catalog.inquiries}
    counts = rollouts.episode_strategy_counts
    rows = []
    for i in range(len(rollouts.returns)):
        row: Row = {
            "episode": i,
            "seed": seed,
            "industry": catalog.industry_names[int(rollouts.industries[i])],
            "inquiry": inquiry_names[int(rollouts.inquiries[i])],
            "tier": TIER_NAMES[int(rollouts.tiers[i])],
            "outcome": Outcome(int(rollouts.outcomes[i])).name.lower(),
            "turns": int(rollouts.turns[i]),
            "return": _plain(float(rollouts.returns[i])),
            "satisfaction": _plain(float(rollouts.satisfaction[i])),
            "needs_specialist": None if rollouts.needs_specialist is None else bool(rollouts.needs_specialist[i]),
        }
        for s, name in enumerate(STRATEGY_NAMES):
            row[f"turns_{name}"] = None if counts is None else int(counts[i, s])
        rows.append(row)
    return rows


def _summary_row(report: EvaluationReport, scope: str, group: str, m: Metrics) -> Row:
    row: Row = {"policy": report.policy, "industry": report.industry, "seed": report.seed}
    row.update(scope=scope, group=group)
    row.update({key: _plain(getattr(m, key)) for key in SUMMARY_METRICS})
    row.update({f"use_{name}": _plain(m.strategy_usage.get(name)) for name in STRATEGY_NAMES})
    return row


def evaluation_summary_rows(report: EvaluationReport) -> list[Row]:
    """One row per group of ``report``: ``scope`` is overall, industry, tier or inquiry and ``group`` its name;
    the business metrics and ``use_<strategy>`` (the share of the group's turns that used it)."""
    rows = [_summary_row(report, "overall", "all", report.overall)]
    for scope, groups in (("industry", report.by_industry), ("tier", report.by_tier), ("inquiry", report.by_inquiry)):
        rows.extend(_summary_row(report, scope, name, m) for name, m in groups.items())
    return rows


def scenario_trial_rows(results: Sequence[ScenarioResult], *, policy: str) -> list[Row]:
    """One row per trial of each scenario: the seed that replays it, its outcome, return, whether it passed
    and why, and the strategies it used in order (space-separated)."""
    rows = []
    for result in results:
        for number, trial in enumerate(result.trials, 1):
            rows.append(
                {
                    "policy": policy,
                    "scenario": result.scenario.name,
                    "industry": result.scenario.industry,
                    "trial": number,
                    "seed": trial.seed,
                    "passed": trial.passed,
                    "reason": trial.reason,
                    "outcome": trial.outcome,
                    "turns": trial.turns,
                    "return": _plain(trial.total_return),
                    "satisfaction": _plain(trial.satisfaction),
                    "strategies": " ".join(STRATEGY_NAMES[a] for a in trial.actions),
                }
            )
    return rows


def scenario_summary_rows(results: Sequence[ScenarioResult], *, policy: str, k: int) -> list[Row]:
    """One row per scenario: its criterion, trials, passes, pass rate and pass^k with its bootstrap 95 % interval."""
    from cs_env.scenarios import pass_hat_k_interval

    rows = []
    for result in results:
        low, high = pass_hat_k_interval([result], k)
        rows.append(
            {
                "policy": policy,
                "scenario": result.scenario.name,
                "industry": result.scenario.industry,
                "criterion": result.scenario.criterion.describe(),
                "trials": len(result.trials),
                "passes": result.passes,
                "pass_rate": result.pass_rate,
                "k": k,
                "pass_hat_k": _plain(result.pass_hat_k(k)),
                "pass_hat_k_ci95_low": _plain(low),
                "pass_hat_k_ci95_high": _plain(high),
            }
        )
    return rows


def csv_text(rows: Sequence[Row]) -> str:
    """``rows`` as CSV text: a header of the first row's keys (then any later row's new keys), ``None`` empty."""
    header: dict[str, None] = {}
    for row in rows:
        header.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def json_text(obj: Any) -> str:
    """``obj`` as indented JSON; NaN and infinities (which JSON cannot hold) as null."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return _plain(value)

    return json.dumps(clean(obj), indent=2, allow_nan=False) + "\n"


def _write(path: str | Path, text: str) -> None:
    if str(path) == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from cs_tui.training.runs import write_report  # temp file in the same folder + os.replace

    write_report(path, text)


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` (``-``: standard output); ``OSError`` naming the path if it cannot."""
    _write(path, json_text(obj))


def write_csv(path: str | Path, rows: Sequence[Row]) -> None:
    """Write ``rows`` as CSV to ``path`` (``-``: standard output); ``OSError`` naming the path if it cannot."""
    _write(path, csv_text(rows))


def target_problem(path: str | Path) -> str | None:
    """Why an export cannot be written to ``path`` (checked before the work that makes it), or None."""
    if str(path) == STDOUT:
        return None
    from cs_tui.training.runs import report_target_problem

    return report_target_problem(path)


__all__ = [
    "STDOUT",
    "csv_text",
    "evaluation_episode_rows",
    "evaluation_summary_rows",
    "json_text",
    "scenario_summary_rows",
    "scenario_trial_rows",
    "target_problem",
    "write_csv",
    "write_json",
]
