"""Rich rendering for ``cs-tui test`` and ``demo``: the scenario table and narrated conversations (the
Scenarios pane replays a trial with the same :func:`conversation`).

Functions here only build renderables from results computed elsewhere (``cs_env.scenarios``, an env's
history); printing and exit codes belong to the commands. An evaluation (``cs-tui evaluate`` and the
Models pane) is drawn by :mod:`cs_tui.evaluation_view`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cs_env.domain import ONGOING_NAME, OUTCOME_NAMES, SENTIMENT_NAMES, TIER_NAMES
from cs_env.env import CustomerSupportEnv
from cs_env.reward import COMPONENTS as REWARD_COMPONENTS
from cs_env.scenarios import ScenarioResult, pass_hat_k_interval
from cs_tui.labels import component_label, strategy_label

SENTIMENT_STYLES = ("bold red", "red", "yellow", "green", "bold green")
OUTCOME_STYLES = {"resolved": "green", "escalated": "yellow", "abandoned": "red", "timeout": "red"}


def make_console(file: IO[str] | None = None) -> Console:
    """A console on stdout (or ``file``); colours only on a terminal, so pipes get plain text."""
    return Console(file=file, highlight=False, soft_wrap=False)


def scenarios(results: Sequence[ScenarioResult], k: int, missed: Sequence[str] = ()) -> RenderableType:
    """The ``cs-tui test`` table: per scenario its pass rate and pass^k, criterion and a failure; then the verdict."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)  # a light frame
    table.add_column("scenario", no_wrap=True)
    table.add_column("industry", no_wrap=True)
    table.add_column("passed", justify="right", no_wrap=True)
    table.add_column("rate", justify="right", no_wrap=True)
    table.add_column(f"pass^{k}\n95 % CI", justify="right", no_wrap=True)  # the interval under the figure
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
            Text(f"{r.pass_hat_k(k):.2f}\n").append(_interval(pass_hat_k_interval([r], k)), style="dim"),
            detail,
            end_section=True,
        )
    parts: list[RenderableType] = [table]
    if results:
        rate = sum(r.pass_rate for r in results) / len(results)
        hat = sum(r.pass_hat_k(k) for r in results) / len(results)
        interval = _interval(pass_hat_k_interval(results, k))
        parts.append(
            Text(f"\nmean over {len(results)} scenarios: pass rate {rate:.1%}, pass^{k} {hat:.2f} (95 % CI {interval})")
        )
    if missed:
        parts.append(Text("FAILED thresholds:\n" + "\n".join(f"  - {m}" for m in missed), style="bold red"))
    else:
        parts.append(Text("all thresholds met", style="bold green"))
    return Group(*parts)


def _interval(bounds: tuple[float, float]) -> str:
    """A bootstrap interval as ``0.55-0.69``."""
    return f"{bounds[0]:.2f}-{bounds[1]:.2f}"


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
        body.append(f"\n{ex.turn}. Agent [{strategy_label(rec.action)}]: ", style="bold").append(ex.agent.text + "\n")
        body.append("   Customer (").append_text(_mood(rec.sentiment)).append(f"): {ex.customer.text}\n")
        parts = " · ".join(
            f"{component_label(name, short=True)} {_signed(c)}"
            for name, c in zip(REWARD_COMPONENTS, rec.components, strict=True)
        )
        body.append(f"   reward {_signed(rec.reward)} = {parts}\n", style="dim")
    last = OUTCOME_NAMES[env.history[-1].outcome] if env.history else ONGOING_NAME
    if last != ONGOING_NAME:
        turns = len(env.history)
        body.append(f"\n{last} after {turns} turn{'s' if turns != 1 else ''}", style=OUTCOME_STYLES.get(last, ""))
    else:
        body.append("\nongoing")
    body.append(f" · satisfaction {s.sat:.2f} · return {_signed(total)}")
    return Panel(body, title=title, title_align="left")


__all__ = ["conversation", "make_console", "scenarios"]
