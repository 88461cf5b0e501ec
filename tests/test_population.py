"""Population files: overrides on an industry's customers, validated naming the key, and played by compare."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cs_env.evaluate import rollout
from cs_env.policies import FixedPolicy
from cs_env.population import PopulationError, load

ANGRY = Path(__file__).resolve().parents[1] / "populations" / "angry-retail.toml"


def test_an_angrier_less_patient_population_changes_who_arrives() -> None:
    population = load(ANGRY)
    assert population.industry == "retail" and population.title == "angry holiday rush"
    policy = FixedPolicy(6)
    shipped = rollout(policy, industry="retail", episodes=4000, seed=3)
    shifted = rollout(policy, industry="retail", episodes=4000, seed=3, catalog=population.catalog)
    assert np.mean(shifted.tiers == 2) > np.mean(shipped.tiers == 2) + 0.1  # more VIPs
    assert np.mean(shifted.outcomes == 1) < np.mean(shipped.outcomes == 1)  # angrier, less patient: fewer resolved
    # other industries are untouched
    bfsi = rollout(policy, industry="bfsi", episodes=500, seed=3)
    same = rollout(policy, industry="bfsi", episodes=500, seed=3, catalog=population.catalog)
    np.testing.assert_array_equal(bfsi.returns, same.returns)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("industry = 'retail'\nmood = 1\n", "key 'mood': unknown key; valid keys: format, industry"),
        ("industry = 'space'\n", "key 'industry': unknown industry 'space'; valid: bfsi, retail, tech"),
        ("industry = 'retail'\nsentiment = [0.5, 0.5, 0.5, 0, 0]\n", "key 'sentiment': probabilities sum to 1.5000"),
        ("industry = 'retail'\npatience_scale = -1\n", "key 'patience_scale': -1 is outside [0.1, 10.0]"),
        ("industry = 'retail'\ntier_shares = { basic = 1 }\n", "key 'tier_shares': expected a table with exactly"),
        (
            "industry = 'retail'\ntier_shares = { basic = -0.2, premium = 0.6, vip = 0.6 }\n",
            "key 'tier_shares': expected 3 non-negative probabilities",
        ),
        (
            "industry = 'retail'\n[inquiry_shares]\norder_status = 0.5\nproduct_return = 0.5\nshipping_issue = 0.5\n"
            "discount_inquiry = 0\nproduct_recommendation = 0\n",
            "key 'inquiry_shares': probabilities sum to 1.5000, not 1",
        ),
        ("industry = 'retail'\npatience_scale = 'slow'\n", "key 'patience_scale': expected a number, got 'slow'"),
        ("", "key 'industry': missing"),
        ("industry = 'retail'\n[inquiry_shares]\norder_status = 1\n", "key 'inquiry_shares': expected a table"),
    ],
)
def test_a_bad_population_names_the_file_and_the_key(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "pop.toml"
    path.write_text("format = 1\n" + body)
    with pytest.raises(PopulationError) as caught:
        load(path)
    assert str(caught.value).startswith(str(path)) and expected in str(caught.value)


def test_compare_scores_each_agent_under_each_population(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cs_tui.cli import main

    heuristic = Path(__file__).resolve().parents[1] / "playbooks" / "heuristic.toml"
    argv = ["--saves", str(tmp_path), "playbook", "compare", f"playbook:{heuristic}", "baseline:empathetic"]
    assert main([*argv, "--populations", str(ANGRY), "--episodes", "200", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["agent"].split(":")[0], r["population"]) for r in rows] == [
        ("playbook", "retail (as shipped)"),
        ("playbook", "angry holiday rush (retail)"),
        ("baseline", "retail (as shipped)"),
        ("baseline", "angry holiday rush (retail)"),
    ]
    assert rows[0]["pct_of_oracle"] > rows[2]["pct_of_oracle"]  # the heuristic beats always-empathetic
    bad = tmp_path / "bad.toml"
    bad.write_text("format = 1\nindustry = 'retail'\nsentiment = [1]\n")
    assert main([*argv, "--populations", str(bad)]) == 2
    assert "key 'sentiment': expected 5 non-negative probabilities" in capsys.readouterr().err


def test_evaluate_with_a_population_plays_its_shifted_customers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cs_env.evaluate import evaluate
    from cs_env.policies import HeuristicPolicy
    from cs_tui.cli import main

    base = ["--saves", str(tmp_path), "evaluate", "baseline:heuristic", "--episodes", "300", "--json"]
    assert main([*base, "--population", str(ANGRY)]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = evaluate(HeuristicPolicy(), industry="retail", episodes=300, catalog=load(ANGRY).catalog)
    assert report["industry"] == "retail" and report["overall"]["mean_return"] == expected.overall.mean_return
    shipped = evaluate(HeuristicPolicy(), industry="retail", episodes=300)
    assert report["by_tier"]["vip"]["episodes"] > shipped.by_tier["vip"].episodes  # more VIPs
    assert main([*base, "--population", str(ANGRY), "--industry", "bfsi"]) == 2
    assert "shifts retail, not --industry bfsi" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("format = 1\nindustry = 'retail'\npatience_scale = 0\n")
    assert main([*base, "--population", str(bad)]) == 2
    assert "key 'patience_scale': 0 is outside [0.1, 10.0]" in capsys.readouterr().err
