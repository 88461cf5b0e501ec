"""cs_tui.evaluation_view: one evaluation drawn one way at every width, and two compared from the same rows."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from rich.console import Console, RenderableType

from cs_env.evaluate import evaluate
from cs_env.policies import HeuristicPolicy, RandomPolicy
from cs_tui.evaluation_view import HEADLINE, METRICS, comparison, evaluation

WIDTHS = (24, 44, 60, 80, 120)  # the Models pane's right side at 60 and 80 columns, terminals
COMPARE_WIDTHS = (34, 54, 74, 120)  # the comparison (a full-screen dialog) at 40, 60 and 80 columns


@pytest.fixture(scope="module")
def reports() -> tuple[dict[str, Any], dict[str, Any]]:
    a = evaluate(HeuristicPolicy(), industry="mixed", episodes=200, seed=0).as_dict()
    b = evaluate(RandomPolicy(0), industry="mixed", episodes=200, seed=0).as_dict()
    return a, b


def text(renderable: RenderableType, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), record=True)
    console.print(renderable)
    return [line.rstrip() for line in console.export_text().splitlines()]


@pytest.mark.parametrize(("view", "width"), [("one", w) for w in WIDTHS] + [("two", w) for w in COMPARE_WIDTHS])
def test_every_width_shows_whole_figures_within_it(
    reports: tuple[dict[str, Any], dict[str, Any]], view: str, width: int
) -> None:
    a, b = reports
    lines = text(evaluation(a) if view == "one" else comparison(a, b, ("heuristic", "random")), width)
    assert max(len(line) for line in lines) <= width
    # a column Rich squeezed ends in "…"; a name cut in the middle keeps letters on both sides
    assert not [line for line in lines if re.search(r"…(\s|$)", line)]
    for key in ("pct_of_oracle", "resolution_rate"):  # the most telling figures are there at every width
        assert METRICS[key].value(a["overall"][key]) in "\n".join(lines)


def test_a_terminal_of_80_columns_gets_every_column(reports: tuple[dict[str, Any], dict[str, Any]]) -> None:
    lines = text(evaluation(reports[0]), 80)
    heads = ["inquiry", "n", "return ±95%", "%orc", "sat", "res %", "esc %", "abd %", "turns"]
    assert heads in [_heads(line) for line in lines]
    m = reports[0]["by_inquiry"]["order_status"]
    row = next(line for line in lines if line.startswith("order_status"))
    assert row.split() == [
        "order_status", str(m["episodes"]), f"{m['mean_return']:.3f}±{m['ci95']:.3f}", f"{m['pct_of_oracle']:.1f}",
        f"{m['satisfaction']:.2f}", f"{100 * m['resolution_rate']:.1f}", f"{100 * m['escalation_rate']:.1f}",
        f"{100 * m['abandonment_rate']:.1f}", f"{m['mean_turns']:.2f}",
    ]  # fmt: skip


def _heads(line: str) -> list[str]:
    return [h.strip() for h in re.split(r" {2,}", line.strip())]


def test_a_metric_reads_the_same_in_one_evaluation_and_in_a_comparison(
    reports: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    a, b = reports
    single = text(evaluation(a), 120)
    compared = text(comparison(a, b, ("heuristic", "random")), 120)
    for key in HEADLINE:
        m = METRICS[key]
        shown = m.value(a["overall"][key])
        assert re.search(rf"{re.escape(m.label)} +{re.escape(shown)}(\s|$)", "\n".join(single)), m.label
        row = next(line for line in compared if line.startswith(m.label))
        assert row.split()[len(m.label.split())] == shown, row


def test_the_difference_is_coloured_by_which_way_is_better() -> None:
    assert METRICS["resolution_rate"].delta(0.5, 0.6).style == "green"
    assert str(METRICS["resolution_rate"].delta(0.5, 0.6)) == "+10.0"  # percentage points
    assert METRICS["escalation_rate"].delta(0.1, 0.2).style == "red"
    assert METRICS["abandonment_rate"].delta(0.2, 0.1).style == "green"
    assert METRICS["mean_turns"].delta(3.0, 4.0).style == "dim"  # neither way is better
    assert str(METRICS["ci95"].delta(0.03, 0.05)) == ""  # a difference of intervals says nothing
    assert str(METRICS["mean_return"].delta(1.0, None)) == ""


def test_a_report_read_back_from_json_with_empty_groups_is_drawn_with_dashes() -> None:
    data = json.loads(json.dumps(evaluate(HeuristicPolicy(), industry="tech", episodes=3, seed=0).as_dict()))
    assert any(m["mean_return"] is None for m in data["by_inquiry"].values())  # an inquiry nobody asked
    lines = text(evaluation(data), 80)
    empty = next(name for name, m in data["by_inquiry"].items() if m["mean_return"] is None)
    assert next(line for line in lines if line.startswith(empty)).split()[1:3] == ["0", "–"]
    assert text(evaluation({}), 44)  # nothing at all: drawn, not raised


def test_strategy_usage_names_each_strategy_in_words(reports: tuple[dict[str, Any], dict[str, Any]]) -> None:
    lines = text(evaluation(reports[0]), 80)
    usage = lines[lines.index("Strategy usage (share of turns)") + 1 :]
    share = reports[0]["overall"]["strategy_usage"]["quick_resolution"]
    assert any(re.fullmatch(rf"quick resolution +█*[▏▎▍▌▋▊▉]? *{100 * share:.1f}%", line) for line in usage)
    assert not [line for line in usage if "_" in line]  # cs_env's names stay in the JSON, not on screen
