"""Rich rendering shared by ``cs-tui evaluate``, ``test`` and ``demo``: tables and conversations.

Functions here only build renderables from results computed elsewhere (``cs_env.evaluate``,
``cs_env.scenarios``, an env's history); printing and exit codes belong to the commands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import IO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cs_env.domain import ONGOING_NAME, OUTCOME_NAMES, SENTIMENT_NAMES, STRATEGY_NAMES, TIER_NAMES
from cs_env.env import CustomerSupportEnv
from cs_env.evaluate import EvaluationReport, Metrics
from cs_env.reward import COMPONENTS as REWARD_COMPONENTS
from cs_env.scenarios import ScenarioResult
from cs_tui.numbers import number, pct_of_oracle, rate, share

#: Reward components in the order of ``info["reward_components"]``, with short names.
SHORT_NAMES = {"satisfaction": "sat", "efficiency": "eff", "business_impact": "biz", "escalation_penalty": "esc"}
#: the reward components in cs_env's order, with the short names the tables use
COMPONENTS = tuple((name, SHORT_NAMES[name]) for name in REWARD_COMPONENTS)
SENTIMENT_STYLES = ("bold red", "red", "yellow", "green", "bold green")
OUTCOME_STYLES = {"resolved": "green", "escalated": "yellow", "abandoned": "red", "timeout": "red"}
BAR_WIDTH = 24


def make_console(file: IO[str] | None = None) -> Console:
    """A console on stdout (or ``file``); colours only on a terminal, so pipes get plain text."""
    return Console(file=file, highlight=False, soft_wrap=False)


def _return(m: Metrics) -> str:
    ci = f"±{m.ci95:.3f}" if math.isfinite(m.ci95) else ""
    return number(m.mean_return) + ci


def _table(title: str | None = None) -> Table:
    # a light frame with single spaces between columns: the breakdowns fit 80 columns
    return Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True
    )


def _metrics_table(title: str, label: str, rows: dict[str, Metrics]) -> Table:
    table = _table(title)
    table.add_column(label, no_wrap=True)
    for name in ("n", "return ±95%", "%orc", "sat", "res %", "esc %", "abd %", "turns"):
        table.add_column(name, justify="right", no_wrap=True)
    for name, m in rows.items():
        table.add_row(
            name,
            str(m.episodes),
            _return(m),
            pct_of_oracle(m.pct_of_oracle),
            number(m.satisfaction, ".2f"),
            share(m.resolution_rate),
            share(m.escalation_rate),
            share(m.abandonment_rate),
            number(m.mean_turns, ".2f"),
        )
    return table


def usage_table(usage: dict[str, float]) -> Table:
    """Strategy usage as a share and a bar."""
    table = _table("Strategy usage (share of turns)")
    table.add_column("strategy")
    table.add_column("share", justify="right")
    table.add_column("")
    top = max(usage.values(), default=0.0) or 1.0
    for name in STRATEGY_NAMES:
        used = usage.get(name, 0.0)
        table.add_row(name, rate(used), "█" * round(BAR_WIDTH * used / top))
    return table


def evaluation(report: EvaluationReport) -> RenderableType:
    """Everything ``cs-tui evaluate`` shows: the headline, breakdowns and strategy usage."""
    m = report.overall
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("policy", report.policy)
    head.add_row(
        "setting",
        f"{report.industry}, {report.episodes} episodes, seed {report.seed}, at most {report.max_turns} turns each",
    )
    head.add_row("mean return", f"{_return(m)}  (random {report.random_return:.3f}, oracle {report.oracle_return:.3f})")
    head.add_row("% of oracle", f"{pct_of_oracle(m.pct_of_oracle)} %")
    head.add_row("satisfaction", number(m.satisfaction, ".3f"))
    head.add_row(
        "outcomes",
        f"resolved {rate(m.resolution_rate)} · escalated {rate(m.escalation_rate)} · "
        f"abandoned {rate(m.abandonment_rate)} · timeout {rate(m.timeout_rate)}",
    )
    head.add_row("mean turns", number(m.mean_turns, ".2f"))
    parts: list[RenderableType] = [head, Text()]
    if len(report.by_industry) > 1:
        parts += [_metrics_table("By industry", "industry", report.by_industry), Text()]
    parts += [_metrics_table("By tier", "tier", report.by_tier), Text()]
    parts += [_metrics_table("By inquiry", "inquiry", report.by_inquiry), Text()]
    parts.append(usage_table(m.strategy_usage))
    return Group(*parts)


def scenarios(results: Sequence[ScenarioResult], k: int, missed: Sequence[str] = ()) -> RenderableType:
    """The ``cs-tui test`` table: per scenario its pass rate and pass^k, criterion and a failure; then the verdict."""
    table = _table()
    table.add_column("scenario", no_wrap=True)
    table.add_column("industry", no_wrap=True)
    table.add_column("passed", justify="right", no_wrap=True)
    table.add_column("rate", justify="right", no_wrap=True)
    table.add_column(f"pass^{k}", justify="right", no_wrap=True)
    table.add_column("criterion · a failing trial", ratio=1)
    for r in results:
        failure = next((t for t in r.trials if not t.passed), None)
        style = "green" if r.pass_rate == 1 else "red" if r.pass_rate == 0 else "yellow"
        detail = Text(r.scenario.criterion.describe(), style="dim")
        if failure is not None:
            detail.append(f"\nseed {failure.seed}: {failure.reason}", style="red")
        table.add_row(
            r.scenario.name,
            r.scenario.industry,
            f"{r.passes}/{len(r.trials)}",
            Text(f"{r.pass_rate:.0%}", style=style),
            f"{r.pass_hat_k(k):.2f}",
            detail,
            end_section=True,
        )
    parts: list[RenderableType] = [table]
    if results:
        rate = sum(r.pass_rate for r in results) / len(results)
        hat = sum(r.pass_hat_k(k) for r in results) / len(results)
        parts.append(Text(f"\nmean over {len(results)} scenarios: pass rate {rate:.1%}, pass^{k} {hat:.2f}"))
    if missed:
        parts.append(Text("FAILED thresholds:\n" + "\n".join(f"  - {m}" for m in missed), style="bold red"))
    else:
        parts.append(Text("all thresholds met", style="bold green"))
    return Group(*parts)


def _signed(value: float) -> str:
    return f"{value + 0.0:+.2f}"  # + 0.0 turns the penalty's -0.0 into 0.0


def _mood(sentiment: int) -> Text:
    return Text(SENTIMENT_NAMES[sentiment], style=SENTIMENT_STYLES[sentiment])


def conversation(env: CustomerSupportEnv, title: str) -> Panel:
    """One conversation of ``env`` so far: narrated turns with the customer's mood and each turn's reward parts."""
    s = env.hidden_state
    inquiry = env.catalog.inquiries[s.inquiry].name
    industry = env.catalog.industry_names[s.industry]
    body = Text(f"{industry} / {inquiry} · tier {TIER_NAMES[s.tier]} · urgency {s.urgency}/4\n", style="bold")
    opening, exchanges = env.conversation()
    body.append("Customer (").append_text(_mood(env.opening_sentiment)).append(f"): {opening.text}\n")
    total = 0.0
    for ex in exchanges:
        rec = ex.record
        total += rec.reward
        body.append(f"\n{ex.turn}. Agent [{STRATEGY_NAMES[rec.action]}]: ", style="bold").append(ex.agent.text + "\n")
        body.append("   Customer (").append_text(_mood(rec.sentiment)).append(f"): {ex.customer.text}\n")
        parts = " · ".join(f"{short} {_signed(c)}" for (_, short), c in zip(COMPONENTS, rec.components, strict=True))
        body.append(f"   reward {_signed(rec.reward)} = {parts}\n", style="dim")
    last = OUTCOME_NAMES[env.history[-1].outcome] if env.history else ONGOING_NAME
    if last != ONGOING_NAME:
        turns = len(env.history)
        body.append(f"\n{last} after {turns} turn{'s' if turns != 1 else ''}", style=OUTCOME_STYLES.get(last, ""))
    else:
        body.append("\nongoing")
    body.append(f" · satisfaction {s.sat:.2f} · return {_signed(total)}")
    return Panel(body, title=title, title_align="left")


__all__ = ["conversation", "evaluation", "make_console", "scenarios", "usage_table"]
