"""Business metrics of one evaluated policy, or two side by side, as Rich tables.

Both take plain ``EvaluationReport.as_dict()`` dicts, so a report read back from JSON (a run's
``last_eval``) and a fresh evaluation are drawn the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cs_tui.numbers import finite, number, pct_of_oracle, rate
from cs_tui.widgets import tone

Formatter = Callable[[Any], str]


def middle_cut(name: str, width: int) -> str:
    """``name`` in at most ``width`` cells, cut in the middle so the distinctive end stays (``ppo-mixed-…032111``)."""
    if len(name) <= width:
        return name
    if width <= 1:
        return name[:width]
    tail = max(width - 11, min(6, width // 2))  # the head keeps at most 10 cells, the tail at least 6
    return name[: width - 1 - tail] + "…" + name[-tail:]


#: (label, key, formatter, scale of a difference, higher is better?) for the overall rows; scale None: no
#: difference shown; better None: neither direction is better.
OVERALL_ROWS: tuple[tuple[str, str, Formatter, float | None, bool | None], ...] = (
    ("mean return", "mean_return", number, 1.0, True),
    ("± 95% CI", "ci95", number, None, None),
    ("% of oracle", "pct_of_oracle", pct_of_oracle, 1.0, True),
    ("satisfaction", "satisfaction", lambda v: number(v, ".2f"), 1.0, True),
    ("resolved", "resolution_rate", rate, 100.0, True),
    ("escalated", "escalation_rate", rate, 100.0, False),
    ("abandoned", "abandonment_rate", rate, 100.0, False),
    ("mean turns", "mean_turns", lambda v: number(v, ".2f"), 1.0, None),
)

#: decimals of a difference B − A, as many as the row's own values show (rates: percentage points, 1)
DELTA_DIGITS = {"mean_return": 3, "pct_of_oracle": 1, "satisfaction": 2, "mean_turns": 2}

#: (label, key, formatter) of the columns of a breakdown (by industry, by tier).
GROUP_COLUMNS: tuple[tuple[str, str, Formatter], ...] = (
    ("% oracle", "pct_of_oracle", pct_of_oracle),
    ("resolved", "resolution_rate", rate),
    ("escal.", "escalation_rate", rate),
    ("sat.", "satisfaction", lambda v: number(v, ".2f")),
)


def report_title(report: Mapping[str, Any]) -> str:
    """``on mixed · 1,000 episodes · seed 0``."""
    episodes = finite(report.get("episodes"))
    n = f"{episodes:,.0f}" if episodes is not None else "?"
    return f"on {report.get('industry', '?')} · {n} episodes · seed {report.get('seed', '?')}"


def single_report(report: Mapping[str, Any]) -> RenderableType:
    """One policy: overall metrics, then by industry and by tier."""
    overall = report.get("overall") or {}
    top = Table.grid(padding=(0, 2))
    top.add_column()
    top.add_column(justify="right")
    top.add_column()
    top.add_column(justify="right")
    rows = [(label, fn(overall.get(key))) for label, key, fn, _, _ in OVERALL_ROWS]
    for left, right in zip(rows[0::2], rows[1::2], strict=False):
        top.add_row(left[0], left[1], right[0], right[1])
    parts: list[RenderableType] = [Text(report_title(report), style="italic"), top]
    for title, key in (("industry", "by_industry"), ("tier", "by_tier")):
        groups = report.get(key) or {}
        if not groups:
            continue
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
        table.add_column(title)
        for label, _, _ in GROUP_COLUMNS:
            table.add_column(label, justify="right")
        for name, metrics in groups.items():
            table.add_row(name, *(fn(metrics.get(k)) for _, k, fn in GROUP_COLUMNS))
        parts.append(table)
    return Group(*parts)


def _delta(a: Any, b: Any, scale: float | None, better: bool | None, digits: int = 1) -> Text:
    """B − A in the row's own unit and precision (percentage points for rates), green when B is better."""
    x, y = finite(a), finite(b)
    if x is None or y is None or scale is None:
        return Text("")
    d = (y - x) * scale
    shown = f"{d:+.{digits}f}"
    if better is None or abs(d) < 1e-12:
        return Text(shown, style="dim")
    return Text(shown, style=tone("green" if (d > 0) == better else "red"))


def compare_reports(a: Mapping[str, Any], b: Mapping[str, Any], names: tuple[str, str]) -> RenderableType:
    """Two policies on the same customers: overall with the difference B − A, then by industry and tier."""
    oa, ob = a.get("overall") or {}, b.get("overall") or {}
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    table.add_column("")
    table.add_column(f"A {names[0]}"[:20], justify="right")
    table.add_column(f"B {names[1]}"[:20], justify="right")
    table.add_column("B − A", justify="right")
    for label, key, fn, scale, better in OVERALL_ROWS:
        delta = _delta(oa.get(key), ob.get(key), scale, better, DELTA_DIGITS.get(key, 1))
        table.add_row(label, fn(oa.get(key)), fn(ob.get(key)), delta)
    parts: list[RenderableType] = [Text(report_title(a), style="italic"), table]
    for title, key in (("industry", "by_industry"), ("tier", "by_tier")):
        ga, gb = a.get(key) or {}, b.get(key) or {}
        if not ga and not gb:
            continue
        group = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
        group.add_column(title)
        for label in ("A % orc", "B % orc", "A res.", "B res.", "A sat.", "B sat."):
            group.add_column(label, justify="right")
        for name in list(ga) + [n for n in gb if n not in ga]:
            ma, mb = ga.get(name) or {}, gb.get(name) or {}
            group.add_row(
                name,
                pct_of_oracle(ma.get("pct_of_oracle")),
                pct_of_oracle(mb.get("pct_of_oracle")),
                rate(ma.get("resolution_rate")),
                rate(mb.get("resolution_rate")),
                number(ma.get("satisfaction"), ".2f"),
                number(mb.get("satisfaction"), ".2f"),
            )
        parts.append(group)
    return Group(*parts)
