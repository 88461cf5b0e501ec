"""evaluate(): the business metrics; and `cs-tui evaluate`: tables on a terminal, JSON for scripts, clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from cs_env.domain import ResponseStrategy
from cs_env.evaluate import evaluate, metrics, reference_returns, reference_rollouts, rollout
from cs_env.industries import default_catalog
from cs_env.policies import FixedPolicy, HeuristicPolicy, OraclePolicy, RandomPolicy
from cs_tui.cli import main

EPISODES = 300


# -- evaluate() --------------------------------------------------------------------------------
def test_percent_of_oracle_is_0_for_random_and_100_for_the_oracle_on_the_same_customers() -> None:
    oracle = evaluate(OraclePolicy("mixed", 10, seed=0), industry="mixed", episodes=EPISODES, seed=0)
    random = evaluate(RandomPolicy(0), industry="mixed", episodes=EPISODES, seed=0)
    assert oracle.pct_of_oracle == pytest.approx(100.0)
    assert random.pct_of_oracle == pytest.approx(0.0)
    # and per group too: the reference is the same customers of that group
    for name, group in random.by_tier.items():
        assert group.pct_of_oracle == pytest.approx(0.0), name
    heuristic = evaluate(HeuristicPolicy(), industry="mixed", episodes=EPISODES, seed=0)
    assert 40 < heuristic.pct_of_oracle < 95
    assert (heuristic.random_return, heuristic.oracle_return) == reference_returns("mixed", EPISODES, 0, 10)


def test_overall_metrics_are_the_rollouts_metrics() -> None:
    report = evaluate(HeuristicPolicy(), industry="retail", episodes=EPISODES, seed=3)
    direct = metrics(rollout(HeuristicPolicy(), industry="retail", episodes=EPISODES, seed=3))
    assert report.overall.mean_return == direct.mean_return
    assert report.overall.resolution_rate == direct.resolution_rate
    assert report.overall.strategy_usage == direct.strategy_usage


def test_breakdowns_partition_the_episodes_and_list_only_this_industrys_inquiries() -> None:
    report = evaluate(HeuristicPolicy(), industry="bfsi", episodes=EPISODES, seed=1)
    bfsi = [i.name for i in default_catalog().inquiries if i.industry == "bfsi"]
    assert list(report.by_inquiry) == bfsi
    assert list(report.by_industry) == ["bfsi"]
    assert list(report.by_tier) == ["basic", "premium", "vip"]
    for breakdown in (report.by_industry, report.by_tier, report.by_inquiry):
        assert sum(m.episodes for m in breakdown.values()) == EPISODES
    mixed = evaluate(HeuristicPolicy(), industry="mixed", episodes=EPISODES, seed=1)
    assert list(mixed.by_industry) == ["bfsi", "retail", "tech"] and len(mixed.by_inquiry) == 15
    weighted = sum(m.episodes * m.mean_return for m in mixed.by_industry.values()) / EPISODES
    assert weighted == pytest.approx(mixed.overall.mean_return)


def test_each_group_reports_its_own_strategy_usage() -> None:
    report = evaluate(HeuristicPolicy(), industry="mixed", episodes=EPISODES, seed=2)
    for group in report.by_inquiry.values():
        assert sum(group.strategy_usage.values()) == pytest.approx(1.0)
    # the heuristic escalates urgent fraud and never escalates a balance question
    assert report.by_inquiry["fraud_report"].strategy_usage["escalate"] > 0.3
    assert report.by_inquiry["account_balance"].strategy_usage["escalate"] == 0.0
    fixed = evaluate(FixedPolicy(ResponseStrategy.TECHNICAL), industry="tech", episodes=50, seed=0)
    assert fixed.overall.strategy_usage["technical"] == 1.0


def test_report_is_json_ready_without_nan() -> None:
    report = evaluate(HeuristicPolicy(), industry="tech", episodes=20, seed=0)  # some inquiries may be empty
    text = json.dumps(report.as_dict(), allow_nan=False)
    data = json.loads(text)
    assert data["policy"] == "heuristic" and data["episodes"] == 20
    assert set(data["overall"]) >= {
        "mean_return",
        "ci95",
        "pct_of_oracle",
        "satisfaction",
        "resolution_rate",
        "escalation_rate",
        "abandonment_rate",
        "mean_turns",
        "strategy_usage",
    }


def test_references_are_computed_once_per_setting() -> None:
    reference_rollouts.cache_clear()
    evaluate(HeuristicPolicy(), industry="bfsi", episodes=100, seed=9)
    evaluate(RandomPolicy(1), industry="bfsi", episodes=100, seed=9)
    reference_returns("bfsi", 100, 9, 10)
    info = reference_rollouts.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_evaluate_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown industry 'banking'; valid industries: bfsi, retail, tech, mixed"):
        evaluate(HeuristicPolicy(), industry="banking", episodes=10, seed=0)
    with pytest.raises(ValueError, match="episodes must be an integer of at least 2"):
        evaluate(HeuristicPolicy(), industry="bfsi", episodes=1, seed=0)


# -- the command -------------------------------------------------------------------------------
def test_json_output_parses_and_matches_the_function(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "baseline:heuristic", "--episodes", str(EPISODES), "--seed", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    direct = evaluate(HeuristicPolicy(), industry="mixed", episodes=EPISODES, seed=4).as_dict()
    assert data["policy"] == "baseline:heuristic"
    assert data["overall"] == direct["overall"]
    assert data["by_inquiry"] == direct["by_inquiry"]


def test_tables_show_every_business_metric(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["evaluate", "baseline:heuristic", "--industry", "bfsi", "--episodes", "200"]) == 0
    out = capsys.readouterr().out
    report = evaluate(HeuristicPolicy(), industry="bfsi", episodes=200, seed=0)
    for text in ("% of oracle", "satisfaction", "resolved", "escalated", "abandoned", "timed out", "mean turns"):
        assert text in out
    assert re.search(rf"mean return +{report.overall.mean_return:.3f} +± 95% CI +{report.overall.ci95:.3f}", out)
    assert re.search(rf"% of oracle +{report.pct_of_oracle:.1f}\b", out)
    tier = report.by_tier["basic"]
    assert re.search(rf"basic +{tier.episodes} +{tier.mean_return:.3f}±{tier.ci95:.3f} +{tier.pct_of_oracle:.1f}", out)
    for heading in ("By tier", "By inquiry", "Strategy usage"):
        assert heading in out
    assert "transaction_dispute" in out and "order_status" not in out


def test_unknown_industry_is_a_usage_error_listing_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "baseline:heuristic", "--industry", "banking"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'banking'" in err and "'bfsi', 'retail', 'tech', 'mixed'" in err


@pytest.mark.parametrize("argv", [["--episodes", "1"], ["--episodes", "many"], ["--bogus"]])
def test_bad_flags_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "baseline:heuristic", *argv])
    assert exit_info.value.code == 2
    assert "usage: cs-tui" in capsys.readouterr().err


SEEDED_COMMANDS = [["evaluate", "baseline:random"], ["demo"], ["test"], ["train"], ["tune"]]


@pytest.mark.parametrize("command", SEEDED_COMMANDS)
def test_a_negative_seed_is_a_usage_error_everywhere(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Gymnasium refuses negative seeds deep inside; every command says so up front, not with a traceback."""
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--seed", "-1"])
    assert exit_info.value.code == 2
    assert "argument --seed: seed -1 is out of range: a seed is from 0 to 9,223,372,036,854,775,807" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("command", SEEDED_COMMANDS)
@pytest.mark.parametrize("seed", ["99999999999999999999", str(2**63)])
def test_a_seed_past_2_63_is_a_usage_error_naming_the_range_everywhere(
    command: list[str], seed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """torch keeps seeds in 64 signed bits: a larger one failed 15 s into training, exit 1. Now: refused up front."""
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--seed", seed])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"usage: cs-tui {command[0]}" in err
    assert "out of range: a seed is from 0 to 9,223,372,036,854,775,807 (2**63 - 1)" in err


def test_the_largest_seed_is_accepted_where_it_is_used(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--policy", "baseline:heuristic", "--episodes", "2", "--seed", str(2**63 - 1)]) == 0
    assert f"seed {2**63 - 1}" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["evaluate", "baseline:random"], ["demo"], ["test"], ["train"]])
def test_an_unknown_flag_prints_the_commands_own_usage(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--bogus"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: cs-tui {command[0]} ") and "unrecognized arguments: --bogus" in err


def test_unknown_baseline_lists_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "baseline:genius"]) == 2
    err = capsys.readouterr().err
    assert "unknown baseline 'genius'" in err and "baseline:heuristic" in err and "Traceback" not in err


def test_missing_or_corrupt_model_gives_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--saves", str(tmp_path), "evaluate", str(tmp_path / "gone.zip")]) == 2
    assert "no agent" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["--saves", str(tmp_path), "evaluate", str(corrupt)]) == 2
    err = capsys.readouterr().err
    assert str(corrupt) in err and "cs-tui evaluate: error:" in err and "Traceback" not in err


def test_a_saved_model_is_evaluated_on_its_own_industry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch
    from stable_baselines3 import PPO

    from cs_env import CustomerSupportEnv
    from cs_tui.training.model_file.writer import save_model

    torch.set_num_threads(1)
    model = PPO("MlpPolicy", CustomerSupportEnv("tech"), n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    (tmp_path / "tiny").mkdir()
    save_model(model, tmp_path / "tiny" / "model.zip", {"industry": "tech", "max_turns": 10})
    assert main(["--saves", str(tmp_path), "evaluate", "tiny", "--episodes", "100", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["policy"] == "tiny" and data["industry"] == "tech"
    assert list(data["by_industry"]) == ["tech"]
    usage = np.array(list(data["overall"]["strategy_usage"].values()))
    assert usage.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("argv", "fix"),
    [
        (["evaluate", "default"], "cs-tui evaluate baseline:heuristic"),
        (["demo"], "cs-tui demo --policy baseline:heuristic"),
    ],
)
def test_a_missing_default_agent_says_how_to_use_a_baseline_with_this_command(
    argv: list[str], fix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--saves", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert "the default agent 'default' is not in" in err and f"To use a baseline instead: {fix} " in err
