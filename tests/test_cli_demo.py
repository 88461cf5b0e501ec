"""`cs-tui demo`: narrated conversations with sentiment, tier and each turn's reward breakdown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cs_env import CustomerSupportEnv
from cs_env.domain import OUTCOME_NAMES, SENTIMENT_NAMES
from cs_env.narrate import narrate, opening_line
from cs_env.policies import HeuristicPolicy
from cs_tui.cli import main
from cs_tui.labels import strategy_label


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one line per spoken line, so whole sentences can be matched


def play(industry: str, seed: int) -> CustomerSupportEnv:
    env = CustomerSupportEnv(industry)
    obs, _ = env.reset(seed=seed)
    policy, done = HeuristicPolicy(), False
    while not done:
        obs, _, terminated, truncated, _ = env.step(policy(obs))
        done = terminated or truncated
    return env


def test_demo_narrates_each_conversation_with_mood_tier_and_reward_parts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--industry", "bfsi", "--episodes", "3", "--policy", "baseline:heuristic", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    for i in range(3):
        assert f"{i + 1}/3 · baseline:heuristic · seed {4 + i}" in out
        env = play("bfsi", 4 + i)
        s = env.hidden_state
        inquiry = env.catalog.inquiries[s.inquiry].name
        tier = ("basic", "premium", "vip")[s.tier]
        assert f"bfsi / {inquiry} · tier {tier} · urgency {s.urgency}/4" in out
        first = opening_line(
            inquiry=inquiry, sentiment=env.opening_sentiment, urgency=s.urgency, tier=s.tier, seed=4 + i
        )
        assert f"Customer ({SENTIMENT_NAMES[env.opening_sentiment]}): {first.text}" in out
        before = env.opening_satisfaction
        for turn, rec in enumerate(env.history, start=1):
            agent, customer = narrate(
                inquiry=inquiry,
                strategy=rec.action,
                sentiment_before=rec.sentiment_before,
                sentiment_after=rec.sentiment,
                outcome=OUTCOME_NAMES[rec.outcome],
                turn=turn,
                seed=4 + i,
                satisfaction_change=rec.satisfaction - before,  # what the words showed change (the cue)
            )
            before = rec.satisfaction
            assert f"{turn}. Agent [{strategy_label(rec.action)}]: {agent.text}" in out
            assert f"Customer ({SENTIMENT_NAMES[rec.sentiment]}): {customer.text}" in out
            sat, eff, biz, esc = (c + 0.0 for c in rec.components)
            assert (
                f"reward {rec.reward + 0.0:+.2f} = sat {sat:+.2f} · eff {eff:+.2f} · biz {biz:+.2f} · esc {esc:+.2f}"
                in out
            )
    assert "baseline:heuristic on bfsi: mean return" in out and "over 3 conversations" in out


def test_demo_summary_matches_the_conversations_shown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--industry", "retail", "--episodes", "4", "--policy", "baseline:heuristic"]) == 0
    out = capsys.readouterr().out
    returns = [float(x) for x in re.findall(r"· return ([+-]\d+\.\d+)", out)]
    assert len(returns) == 4
    expected = [sum(rec.reward for rec in play("retail", seed).history) for seed in range(4)]
    assert returns == pytest.approx(expected, abs=0.006)
    mean = float(re.search(r"mean return ([+-]\d+\.\d+)", out).group(1))  # type: ignore[union-attr]
    assert mean == pytest.approx(sum(expected) / 4, abs=0.006)


def test_demo_plays_the_oracle_which_needs_the_hidden_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--industry", "tech", "--episodes", "2", "--policy", "baseline:oracle"]) == 0
    assert "baseline:oracle on tech" in capsys.readouterr().out


def test_demo_without_the_default_agent_says_how_to_choose_a_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--saves", str(tmp_path), "demo", "--industry", "bfsi"]) == 2
    err = capsys.readouterr().err
    assert "the default agent 'default' is not in" in err and "--policy baseline:heuristic" in err


@pytest.mark.parametrize("argv", [["--industry", "health"], ["--episodes", "0"], ["--policy"]])
def test_demo_bad_arguments_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", *argv])
    assert exit_info.value.code == 2
    assert "usage: cs-tui demo" in capsys.readouterr().err
