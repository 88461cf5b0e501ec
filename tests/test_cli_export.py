"""Export from the CLI: ``cs-tui evaluate | test --csv / --summary-csv / --json``, the rows of cs_tui.export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cs_env.domain import STRATEGY_NAMES
from tests.cli_helpers import run_cli, run_cli_output

cli = run_cli_output


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_evaluate_exports_every_conversation_and_the_summary_that_the_json_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    episodes, summary = tmp_path / "episodes.csv", tmp_path / "summary.csv"
    argv = ("evaluate", "baseline:heuristic", "--episodes", "120", "--seed", "3")
    code, out, err = cli(capsys, "--saves", str(tmp_path), *argv, "--csv", str(episodes),
                         "--summary-csv", str(summary), "--json")  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    rows = read_csv(episodes)
    assert len(rows) == 120 == len(report["conversations"])
    assert sum(float(r["return"]) for r in rows) / 120 == pytest.approx(report["overall"]["mean_return"])
    assert [r["outcome"] for r in rows] == [c["outcome"] for c in report["conversations"]]
    resolved = sum(r["outcome"] == "resolved" for r in rows) / 120
    assert resolved == pytest.approx(report["overall"]["resolution_rate"])
    for r in rows:  # the strategy columns count the conversation's turns
        assert sum(int(r[f"turns_{s}"]) for s in STRATEGY_NAMES) == int(r["turns"])
    groups = read_csv(summary)
    overall = groups[0]
    assert (overall["scope"], overall["group"]) == ("overall", "all")
    assert float(overall["pct_of_oracle"]) == pytest.approx(report["overall"]["pct_of_oracle"])
    uses = {s: float(overall[f"use_{s}"]) for s in STRATEGY_NAMES}
    assert uses == pytest.approx(report["overall"]["strategy_usage"]) and sum(uses.values()) == pytest.approx(1)
    assert {g["group"] for g in groups if g["scope"] == "tier"} == set(report["by_tier"])
    assert {g["group"] for g in groups if g["scope"] == "inquiry"} == set(report["by_inquiry"])


def test_evaluate_csv_to_stdout_is_the_whole_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "--saves", str(tmp_path), "evaluate", "baseline:empathetic", "--episodes", "30",
                         "--csv", "-")  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("episode,seed,industry,inquiry,tier,outcome,turns,return") and len(lines) == 31
    assert all(line.split(",")[-8] != "" for line in lines[1:])  # turns_empathetic filled in


def test_test_exports_every_trial_and_each_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trials, summary = tmp_path / "trials.csv", tmp_path / "scenarios.csv"
    argv = ("test", "--policy", "baseline:heuristic", "--trials", "4", "--k", "2", "--industry", "retail")
    code, out, err = cli(capsys, "--saves", str(tmp_path), *argv, "--csv", str(trials),
                         "--summary-csv", str(summary), "--json")  # fmt: skip
    assert code in (0, 1), err
    report = json.loads(out)
    rows = read_csv(trials)
    records = [(s["scenario"], t) for s in report["scenarios"] for t in s["records"]]
    expected = [(name, t["seed"], t["passed"], t["strategies"]) for name, t in records]
    got = [(r["scenario"], int(r["seed"]), r["passed"] == "true", r["strategies"].split(";")) for r in rows]
    assert got == expected and {r["industry"] for r in rows} == {"retail"}
    per_scenario = read_csv(summary)
    assert [s["scenario"] for s in per_scenario] == [s["scenario"] for s in report["scenarios"]]
    for ours, theirs in zip(per_scenario, report["scenarios"], strict=True):
        assert float(ours["pass_rate"]) == pytest.approx(theirs["pass_rate"])
        assert float(ours["pass_hat_k"]) == pytest.approx(theirs["pass_hat_k"]) and ours["k"] == "2"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("evaluate", "baseline:heuristic", "--json", "--csv", "-"), "--csv and --json all write to standard output"),
        (("test", "--policy", "baseline:heuristic", "--csv", "-", "--summary-csv", "-"), "--csv and --summary-csv"),
        (("evaluate", "baseline:heuristic", "--summary-csv", "{tmp}"), "--summary-csv {tmp} is a folder"),
        (("test", "--policy", "baseline:heuristic", "--csv", "{tmp}"), "--csv {tmp} is a folder"),
    ],
)
def test_an_export_that_cannot_be_written_is_refused_before_any_conversation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], expected: str
) -> None:
    argv = tuple(a.replace("{tmp}", str(tmp_path)) for a in argv)
    code, err = run_cli(capsys, "--saves", str(tmp_path), *argv)
    assert code == 2 and expected.replace("{tmp}", str(tmp_path)) in err and "Traceback" not in err


def test_write_csv_replaces_a_file_whole_and_leaves_no_temp_file(tmp_path: Path) -> None:
    from cs_tui.export import write_csv, write_json

    target = tmp_path / "out.csv"
    target.write_text("old,contents\n1,2\n3,4\n")
    write_csv(target, [{"a": 1, "b": None}, {"a": 2.5, "b": "x,y"}])
    assert target.read_text() == 'a,b\n1,\n2.5,"x,y"\n'
    write_json(tmp_path / "out.json", {"nan": float("nan"), "rows": [{"a": 1}]})
    assert json.loads((tmp_path / "out.json").read_text()) == {"nan": None, "rows": [{"a": 1}]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.json"]


def test_both_faces_export_every_metric_of_an_evaluation() -> None:
    """The app's evaluation export and the CLI's summary rows name the same metrics: every Metrics field."""
    from dataclasses import fields

    from cs_env.evaluate import Metrics
    from cs_tui.export import METRIC_COLUMNS

    expected = {f.name for f in fields(Metrics)} - {"strategy_usage"}
    assert set(METRIC_COLUMNS) == expected
