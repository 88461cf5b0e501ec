"""Exports: a session, a scenario run or an evaluation as a self-describing JSON file and a CSV beside it.

One writer for every face (the app's export key, the CLI's ``--json``/``--csv``): an :class:`Export` holds
what to write — its ``kind``, the JSON body, and the CSV's rows with each column's meaning — and
:func:`write_export` writes it under a folder as ``<stem>.json`` and ``<stem>.csv``, each to a temp file in
that folder then ``os.replace``d (a crash leaves the old file or the new, never half of one).

The JSON says what it is: ``{"format": "cs-tui export", "version": 1, "kind": ..., "created_at": ...,
"env": ..., "columns": {name: meaning}, ...body}``; the CSV's header row names the same columns, one row per
record (a turn, a trial), so a spreadsheet reads it without the JSON.

The command line's ``--csv`` / ``--summary-csv`` / ``--json`` use the row builders at the end
(:func:`evaluation_episode_rows`, :func:`evaluation_summary_rows`, :func:`scenario_trial_rows`,
:func:`scenario_summary_rows`) with :func:`write_csv` / :func:`write_json`, which write to a file the
same way (atomically) or to standard output for ``-``; a CSV cell reads the same from either face
(lists joined by ``;``, booleans ``true``/``false``, empty for none).

Light to import: the standard library and :mod:`cs_tui.files`' writers; ``cs_env`` (numpy, Gymnasium)
is imported only when a document or rows are built, by then loaded by whatever made the records.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_tui.files import atomic_write_text, now_iso, report_target_problem, to_json, write_report

if TYPE_CHECKING:
    from cs_env.evaluate import Rollouts
    from cs_env.industries import Catalog
    from cs_env.scenarios import ScenarioResult

Row = dict[str, Any]
FORMAT = "cs-tui export"
VERSION = 1
#: where the app writes its exports, under the saves folder
EXPORTS_DIR = "exports"
#: the most files of one stem the app numbers before it gives up (``-2``, ``-3``, ...)
MAX_SAME_STEM = 1000


@dataclass(frozen=True)
class Export:
    """What one export writes: the JSON body and the CSV's rows.

    Attributes:
        kind: what it is (``play-session``, ``scenario-run``, ``evaluation``).
        body: the JSON's own fields (besides the header :func:`document` adds).
        columns: the CSV's columns in order, each with its meaning (written into the JSON too).
        rows: one mapping per CSV row, keyed by column (a missing key is an empty cell).
        description: one sentence saying what the records are.
    """

    kind: str
    body: dict[str, Any]
    columns: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""


def document(export: Export) -> dict[str, Any]:
    """The JSON document of ``export``: the self-describing header, then its body."""
    from cs_env.env import ENV_ID  # (the env module is loaded by whatever made the records)

    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": export.kind,
        "description": export.description,
        "created_at": now_iso(),
        "env": ENV_ID,
        "columns": dict(export.columns),
        **export.body,
    }


def json_text(export: Export) -> str:
    """The JSON file's text (strict JSON: NaN as null)."""
    return to_json(document(export), indent=2) + "\n"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float):
        return repr(value)
    return value


def csv_text(columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """The CSV's text: a header row of ``columns``, then one line per row (lists joined by ``;``)."""
    names = list(columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in names])
    return out.getvalue()


def free_stem(folder: Path, stem: str) -> str:
    """``stem``, or ``stem-2``, ``stem-3``, ... so that neither ``.json`` nor ``.csv`` of it exists yet."""
    for n in range(1, MAX_SAME_STEM + 1):
        candidate = stem if n == 1 else f"{stem}-{n}"
        if not (folder / f"{candidate}.json").exists() and not (folder / f"{candidate}.csv").exists():
            return candidate
    raise FileExistsError(f"{folder}: {MAX_SAME_STEM} exports named {stem}… already; move some away")


def write_export(folder: Path, stem: str, export: Export) -> tuple[Path, Path]:
    """Write ``export`` as ``<folder>/<stem>.json`` and ``.csv`` (a free name: see :func:`free_stem`), each
    atomically; the two paths. ``OSError`` (naming the path) if the folder cannot be made or written."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = free_stem(folder, stem)
    json_path, csv_path = folder / f"{stem}.json", folder / f"{stem}.csv"
    atomic_write_text(json_path, json_text(export))
    atomic_write_text(csv_path, csv_text(export.columns, export.rows))
    return json_path, csv_path


def export_and_say(folder: Path, stem: str, export: Export, what: str) -> tuple[str, bool]:
    """Write ``export`` (see :func:`write_export`) and say so as a face shows it: ``(message, ok)``, the
    message naming the files written or why nothing was (never raises ``OSError``)."""
    try:
        json_path, csv_path = write_export(folder, stem, export)
    except OSError as exc:
        where = exc.filename or folder
        return f"Could not export {what} to {where}: {exc.strerror or exc}", False
    return f"Exported {what} to {json_path} and {csv_path.name}", True


def stamp() -> str:
    """A file-name-safe UTC timestamp, ``20261207-061530``."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime())


def exports_dir(saves: Path) -> Path:
    """The folder the app writes its exports into."""
    return saves / EXPORTS_DIR


def _plain(value: Any) -> Any:
    """A JSON/CSV-ready value: numpy scalars as Python numbers, NaN and infinities as None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- scenario runs -----------------------------------------------------------------------------

SCENARIO_COLUMNS = {
    "policy": "the policy that played",
    "scenario": "the scenario's name (cs_env/scenarios/*.toml)",
    "title": "the scenario in words",
    "industry": "the scenario's industry",
    "trial": "the trial's number within the scenario, from 1",
    "seed": "the trial's seed: with the scenario's start and the strategies it replays the conversation",
    "passed": "whether the trial met the scenario's pass rule",
    "outcome": "how the conversation ended",
    "turns": "turns played",
    "return": "the sum of the rewards",
    "satisfaction": "the satisfaction cue at the end (0-1)",
    "offers_sold": "offers the customer bought (what a scenario's sold = true asks for)",
    "strategies": "the strategies played, in order, separated by ;",
    "reason": "why it failed, or what it achieved when it passed",
}


#: A trial record's values that a row carries as they are, in :data:`SCENARIO_COLUMNS` order.
_TRIAL_VALUES = ("seed", "passed", "outcome", "turns", "return", "satisfaction", "offers_sold")


def scenario_trial_rows(results: Iterable[Any], *, policy: str) -> list[Row]:
    """One row per trial of each scenario (``cs_env.scenarios.ScenarioResult``), keyed by
    :data:`SCENARIO_COLUMNS`: the app's scenario export and ``cs-tui test --csv`` write the same rows."""
    rows = []
    for result in results:
        s = result.scenario
        for number, trial in enumerate(result.trials, start=1):
            record = trial.as_dict()
            rows.append(
                {"policy": policy, "scenario": s.name, "title": s.title, "industry": s.industry, "trial": number}
                | {key: _plain(record[key]) for key in _TRIAL_VALUES}
                | {"strategies": record["strategies"], "reason": record["reason"]}
            )
    return rows


def scenario_run_export(results: Iterable[Any], *, policy: str, trials: int, k: int, seed: int) -> Export:
    """A scenario run (``cs_env.scenarios.ScenarioResult`` per scenario) as an export: per scenario its pass
    rate and pass^k with every trial in the JSON; one CSV row per trial."""
    done = list(results)
    rows = scenario_trial_rows(done, policy=policy)
    body = {
        "policy": policy,
        "settings": {"trials": trials, "k": k, "seed": seed},
        "scenarios": [result.as_dict(k) for result in done],
    }
    return Export(
        "scenario-run",
        body,
        SCENARIO_COLUMNS,
        rows,
        f"{policy} against {len(done)} scenarios of the catalog, {trials} trials each (pass^{k})",
    )


# -- evaluations -------------------------------------------------------------------------------

#: the metrics of a group, in the CSV's order (``cs_env.evaluate.Metrics``), then the usage of each strategy
METRIC_COLUMNS = {
    "episodes": "conversations in the group",
    "mean_return": "mean return per conversation",
    "ci95": "half-width of the mean return's 95 % confidence interval",
    "pct_of_oracle": "(return - random's) / (oracle's - random's) x 100 on the same customers (empty: noise)",
    "resolution_rate": "share resolved",
    "escalation_rate": "share escalated",
    "abandonment_rate": "share where the customer left",
    "timeout_rate": "share that ran out of turns",
    "satisfaction": "mean satisfaction at the end (0-1)",
    "mean_turns": "mean turns per conversation",
}
#: the groups of an evaluation's report, as its JSON names them, and as the CSV's ``scope`` column says
GROUPS = {"overall": "overall", "by_industry": "industry", "by_tier": "tier", "by_inquiry": "inquiry"}


def evaluation_summary_columns() -> dict[str, str]:
    """The columns of :func:`evaluation_summary_rows`, each with its meaning."""
    from cs_env.domain import STRATEGY_NAMES

    return {
        "policy": "the agent evaluated",
        "industry": "the industry the customers came from",
        "seed": "the customers' seed",
        "scope": "overall, or the breakdown the row is of (industry, tier, inquiry)",
        "group": "the industry, tier or inquiry (all for overall)",
        **METRIC_COLUMNS,
        **{f"use_{s}": f"share of the group's turns answered with {s}" for s in STRATEGY_NAMES},
    }


def evaluation_summary_rows(report: Mapping[str, Any]) -> list[Row]:
    """One row per group of an evaluation's report (``cs_env.evaluate.EvaluationReport.as_dict()``): overall,
    each industry, tier and inquiry, with the business metrics and ``use_<strategy>`` (the share of the
    group's turns that used it). The app's evaluation export and ``cs-tui evaluate --summary-csv`` write these."""
    from cs_env.domain import STRATEGY_NAMES

    head = {"policy": report.get("policy"), "industry": report.get("industry"), "seed": report.get("seed")}
    rows = []
    for key, scope in GROUPS.items():
        groups = {"all": report["overall"]} if key == "overall" else report.get(key) or {}
        for name, m in groups.items():
            usage = m.get("strategy_usage") or {}
            rows.append(
                head
                | {"scope": scope, "group": name}
                | {k: _plain(m.get(k)) for k in METRIC_COLUMNS}
                | {f"use_{s}": _plain(usage.get(s)) for s in STRATEGY_NAMES}
            )
    return rows


def evaluation_export(report: Mapping[str, Any]) -> Export:
    """An evaluation (``cs_env.evaluate.evaluate(...).as_dict()``) as an export: the report as it is in the
    JSON; one CSV row per group (:func:`evaluation_summary_rows`)."""
    customers = f"{report.get('episodes')} {report.get('industry')} customers"
    description = f"{report.get('policy')} on {customers} (seed {report.get('seed')})"
    rows = evaluation_summary_rows(report)
    return Export("evaluation", dict(report), evaluation_summary_columns(), rows, description)


# -- rows for the command line's --csv / --summary-csv / --json -----------------------------------

#: the path that means standard output
STDOUT = "-"


def evaluation_episode_rows(
    rollouts: Rollouts, *, catalog: Catalog | None = None, seed: int | None = None
) -> list[Row]:
    """One row per conversation of ``rollouts`` (from :func:`cs_env.evaluate.rollout`); ``catalog`` names
    the inquiries and industries (default: the shipped one); ``seed`` is the evaluation's, repeated per row."""
    from cs_env.domain import STRATEGY_NAMES, TIER_NAMES, Outcome
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


def rows_csv_text(rows: Sequence[Row]) -> str:
    """``rows`` as CSV text: a header of the first row's keys (then any later row's new keys), each cell as
    :func:`csv_text` writes it."""
    header: dict[str, None] = {}
    for row in rows:
        header.update(dict.fromkeys(row))
    return csv_text(header, rows)


def _write(path: str | Path, text: str) -> None:
    if str(path) == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_report(path, text)  # temp file in the same folder + os.replace


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` (``-``: standard output); ``OSError`` naming the path if it cannot."""
    _write(path, to_json(obj, indent=2) + "\n")


def write_csv(path: str | Path, rows: Sequence[Row]) -> None:
    """Write ``rows`` as CSV to ``path`` (``-``: standard output); ``OSError`` naming the path if it cannot."""
    _write(path, rows_csv_text(rows))


def target_problem(path: str | Path) -> str | None:
    """Why an export cannot be written to ``path`` (checked before the work that makes it), or None."""
    if str(path) == STDOUT:
        return None
    return report_target_problem(path)


__all__ = [
    "EXPORTS_DIR",
    "FORMAT",
    "GROUPS",
    "METRIC_COLUMNS",
    "SCENARIO_COLUMNS",
    "STDOUT",
    "VERSION",
    "Export",
    "csv_text",
    "document",
    "evaluation_episode_rows",
    "evaluation_export",
    "evaluation_summary_rows",
    "export_and_say",
    "exports_dir",
    "free_stem",
    "json_text",
    "rows_csv_text",
    "scenario_run_export",
    "scenario_summary_rows",
    "scenario_trial_rows",
    "stamp",
    "target_problem",
    "write_csv",
    "write_export",
    "write_json",
]
