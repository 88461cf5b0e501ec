"""One evaluation, shown one way: ``cs-tui evaluate`` and the Models pane draw it with these renderables.

They take the plain dict ``EvaluationReport.as_dict()`` makes (what ``cs-tui evaluate --json`` prints),
so a fresh evaluation and one read back from JSON are drawn alike. Every metric is named, written and
compared from its row of :data:`METRICS`; each layout keeps the columns that fit the width it is drawn
at (a terminal's 80 columns, the right half of the Models pane), most telling first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.style import Style
from rich.table import Table
from rich.text import Text

from cs_tui.labels import middle_cut, strategy_label, tone
from cs_tui.numbers import DASH, finite, number, rate, share


@dataclass(frozen=True)
class Metric:
    """One business metric: its key in ``Metrics.as_dict()``, its names, how it is written, which way is better."""

    key: str
    label: str  # in a row of label and value: "resolved"
    short: str  # heading a column: "res %"
    spec: str  # the format of the value as shown (of ×100 for a rate), and of a difference
    percent: bool = False  # a 0-1 rate: "69.2%" in a row, "69.2" under a heading that says %
    better: bool | None = None  # True: higher is better, False: lower, None: neither
    compared: bool = True  # a difference B − A means something (not for a confidence interval)

    def value(self, v: Any) -> str:
        """``v`` beside the metric's label."""
        return rate(v) if self.percent else number(v, self.spec)

    def cell(self, v: Any) -> str:
        """``v`` under the metric's short heading."""
        return share(v) if self.percent else number(v, self.spec)

    def delta(self, a: Any, b: Any) -> Text:
        """B − A at the row's own precision (rates in percentage points), green where B is better."""
        x, y = finite(a), finite(b)
        if x is None or y is None or not self.compared:
            return Text("")
        d = (y - x) * (100 if self.percent else 1)
        shown = number(d, "+" + self.spec)
        if self.better is None or abs(d) < 1e-12:
            return Text(shown, style="dim")
        return Text(shown, style=tone("green" if (d > 0) == self.better else "red"))


METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("episodes", "episodes", "n", ",.0f", compared=False),
        Metric("mean_return", "mean return", "return", ".3f", better=True),
        Metric("ci95", "± 95% CI", "±95%", ".3f", compared=False),
        Metric("pct_of_oracle", "% of oracle", "%orc", ".1f", better=True),  # already ×100: the label says %
        Metric("satisfaction", "satisfaction", "sat", ".2f", better=True),
        Metric("resolution_rate", "resolved", "res %", ".1f", percent=True, better=True),
        Metric("escalation_rate", "escalated", "esc %", ".1f", percent=True, better=False),
        Metric("abandonment_rate", "abandoned", "abd %", ".1f", percent=True, better=False),
        Metric("timeout_rate", "timed out", "t/o %", ".1f", percent=True, better=False),
        Metric("mean_turns", "mean turns", "turns", ".2f"),  # fewer is not better when it means giving up
    )
}
#: the overall metrics, in pairs side by side where two fit
HEADLINE = (
    "mean_return", "ci95", "pct_of_oracle", "satisfaction", "resolution_rate", "escalation_rate", "abandonment_rate",
    "timeout_rate", "mean_turns",
)  # fmt: skip
#: (title, key in the report, heading of the names) of the breakdowns
BREAKDOWNS = (
    ("By industry", "by_industry", "industry"),
    ("By tier", "by_tier", "tier"),
    ("By inquiry", "by_inquiry", "inquiry"),
)
#: a breakdown's columns in the order shown (mean return with its CI); PRIORITY: the order they are kept in
COLUMNS = (
    "episodes", "mean_return", "pct_of_oracle", "satisfaction", "resolution_rate", "escalation_rate",
    "abandonment_rate", "mean_turns",
)  # fmt: skip
PRIORITY = (
    "pct_of_oracle", "resolution_rate", "escalation_rate", "satisfaction", "abandonment_rate", "mean_return",
    "mean_turns", "episodes",
)  # fmt: skip
#: a comparison's breakdown columns, A beside B, in the order they are kept
COMPARED_COLUMNS = ("pct_of_oracle", "resolution_rate", "satisfaction", "escalation_rate", "abandonment_rate")
GAP = 2  # cells between a label and its value, and between two pairs
TABLE_GAP = 2  # cells between two columns of a breakdown (Rich's padding of one on each side)
MIN_NAME = 10  # a group's name is cut (in the middle) to no fewer cells, to leave room for its figures


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def setting(report: Mapping[str, Any]) -> str:
    """``mixed · 1,000 episodes · seed 0 · at most 10 turns``: whom the policy met."""
    parts = [str(report.get("industry", "?")), f"{METRICS['episodes'].cell(report.get('episodes'))} episodes"]
    parts.append(f"seed {report.get('seed', '?')}")
    if finite(report.get("max_turns")) is not None:
        parts.append(f"at most {report['max_turns']} turns")
    return " · ".join(parts)


def _pairs(items: Sequence[tuple[str, str]], width: int) -> Table:
    """Label and value pairs, two pairs to a row where they fit in ``width``."""
    label_width = max((len(label) for label, _ in items), default=0)
    value_width = max((len(value) for _, value in items), default=0)
    step = 2 if 2 * (label_width + GAP + value_width) + GAP <= width else 1
    grid = Table.grid(padding=(0, GAP, 0, 0))
    for _ in range(step):
        grid.add_column(no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
    for i in range(0, len(items), step):
        grid.add_row(*(cell for label, value in items[i : i + step] for cell in (label, value)))
    return grid


@dataclass(frozen=True)
class _Column:
    """A breakdown's column: one metric of one policy's groups (0: A, or the only one; 1: B)."""

    head: str
    key: str
    side: int
    rank: int  # kept before columns of a higher rank when not all fit; columns of one rank go together

    def cell(self, groups: Sequence[Mapping[str, Any]]) -> str:
        m = groups[self.side]
        shown = METRICS[self.key].cell(m.get(self.key))
        ci = finite(m.get("ci95"))
        if self.key != "mean_return" or ci is None or shown == DASH:
            return shown
        return f"{shown}±{METRICS['ci95'].cell(ci)}"  # a group's return carries its confidence interval


def _breakdowns(reports: Sequence[Mapping[str, Any]], columns: Sequence[_Column], width: int) -> list[RenderableType]:
    """Each breakdown of ``reports`` (one, or A and B) as a table of the columns that fit in ``width``."""
    parts: list[RenderableType] = []
    for title, key, head in BREAKDOWNS:
        groups = [_mapping(r.get(key)) for r in reports]
        names = list(dict.fromkeys(name for g in groups for name in g))
        if key == "by_industry" and len(names) < 2:
            continue  # one industry's breakdown repeats the overall figures
        if names:
            rows = {n: [_mapping(g.get(n)) for g in groups] for n in names}
            parts += [Text(), _fitted_table(title, head, rows, columns, width)]
    return parts


def _fitted_table(
    title: str, head: str, rows: Mapping[str, Sequence[Mapping[str, Any]]], columns: Sequence[_Column], width: int
) -> Table:
    """One row per group name, and the columns (by rank) that fit in ``width`` beside the names."""
    name_width = min(max(len(n) for n in [head, *rows]), max(MIN_NAME, width // 2))
    used = name_width
    kept: list[_Column] = []
    for rank in sorted({c.rank for c in columns}):
        together = [c for c in columns if c.rank == rank]  # A's and B's of a metric go together
        used += sum(max(len(c.head), *(len(c.cell(g)) for g in rows.values())) + TABLE_GAP for c in together)
        if used > width:
            break  # the most telling columns, the same in every breakdown of one width
        kept += together
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True
    )
    table.add_column(head, no_wrap=True)
    shown = [c for c in columns if c in kept]
    for c in shown:
        table.add_column(c.head, justify="right", no_wrap=True)
    for name, groups in rows.items():
        table.add_row(middle_cut(name, name_width), *(c.cell(groups) for c in shown))
    return table


class _Fitted:
    """A renderable laid out for the width it is drawn at (a terminal, or a pane that is resized)."""

    def __init__(self, build: Callable[[int], RenderableType]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)


def evaluation(report: Mapping[str, Any]) -> RenderableType:
    """One evaluation: whom it met, the overall metrics, the breakdowns by industry, tier and inquiry, and
    the strategy usage; ``cs-tui evaluate`` prints it, the Models pane shows it."""
    return _Fitted(lambda width: _evaluation(report, width))


def _evaluation(report: Mapping[str, Any], width: int) -> RenderableType:
    overall = _mapping(report.get("overall"))
    parts: list[RenderableType] = [
        Text(str(report.get("policy", "?")), style="bold"),
        Text("on " + setting(report), style="italic"),
        _pairs([(METRICS[k].label, METRICS[k].value(overall.get(k))) for k in HEADLINE], width),
    ]
    random_return, oracle_return = finite(report.get("random_return")), finite(report.get("oracle_return"))
    if random_return is not None and oracle_return is not None:
        parts.append(
            Text(
                f"% of oracle: 0 is random play's mean return ({number(random_return)}), "
                f"100 the oracle's ({number(oracle_return)})",
                style="dim",
            )
        )
    heads = {"mean_return": "return ±95%"}
    columns = [_Column(heads.get(k, METRICS[k].short), k, 0, PRIORITY.index(k)) for k in COLUMNS]
    parts += _breakdowns([report], columns, width)
    parts += [Text(), Text("Strategy usage (share of turns)", style="italic")]
    parts.append(usage_bars([_mapping(overall.get("strategy_usage"))], width))
    return Group(*parts)


def comparison(a: Mapping[str, Any], b: Mapping[str, Any], names: tuple[str, str]) -> RenderableType:
    """Two policies on the same customers: each metric of A and of B with the difference B − A (green
    where B is better), then the breakdowns with A beside B."""
    return _Fitted(lambda width: _comparison(a, b, names, width))


def _comparison(a: Mapping[str, Any], b: Mapping[str, Any], names: tuple[str, str], width: int) -> RenderableType:
    oa, ob = _mapping(a.get("overall")), _mapping(b.get("overall"))
    rows = [
        (m.label, m.value(oa.get(m.key)), m.value(ob.get(m.key)), m.delta(oa.get(m.key), ob.get(m.key)))
        for m in (METRICS[key] for key in HEADLINE)
    ]
    label_width = max(len(r[0]) for r in rows)
    value_width = max(len(v) for r in rows for v in r[1:3])
    delta_width = max(len("B − A"), *(r[3].cell_len for r in rows))
    # columns two cells apart, or one where two do not fit; the policies' names get what is left
    gap = 2 if label_width + 2 * value_width + delta_width + 3 * 2 <= width else 1
    name_width = max(value_width, (width - label_width - delta_width - 3 * gap) // 2)
    table = Table(box=None, padding=(0, 0, 0, gap), show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column(middle_cut(f"A {names[0]}", name_width), justify="right", no_wrap=True)
    table.add_column(middle_cut(f"B {names[1]}", name_width), justify="right", no_wrap=True)
    table.add_column("B − A", justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    columns = [
        _Column(f"{side} {METRICS[key].short}", key, i, rank)
        for rank, key in enumerate(COMPARED_COLUMNS)
        for i, side in enumerate("AB")
    ]
    return Group(Text("on " + setting(a), style="italic"), table, *_breakdowns([a, b], columns, width))


BLOCKS = " ▏▎▍▌▋▊▉█"
#: bars scale to the largest share shown, but never past 50 %: close shares (a near-uniform policy) stay short
MIN_SCALE = 0.5
LABEL_WIDTH = 18
MIN_BAR = 4


def bar(share: float, width: int) -> str:
    """A bar of ``share`` (0-1) of ``width`` cells, with eighth-cell resolution."""
    share = min(max(share, 0.0), 1.0)
    eighths = round(share * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (BLOCKS[part] if part else "")
    return text.ljust(width)


def usage_bars(
    series: Sequence[Mapping[str, float]],
    width: int,
    *,
    styles: Sequence[Style | str] = ("", ""),
) -> Text:
    """One row per strategy, ``name  ████▌     22.0%``; with two series B's bar under A's, each tagged
    (colour is not the only cue)."""
    names: list[str] = []
    for s in series:
        names += [n for n in s if n not in names]
    if not names:
        return Text("no data yet", style="dim")
    top = max([v for s in series for v in s.values()] + [MIN_SCALE])
    tag_width = 2 if len(series) > 1 else 0
    # the share always shows: a narrow width cuts the names first, then the bars (to MIN_BAR cells)
    labels = {n: strategy_label(n) for n in names}  # the keys are cs_env's names: a person reads words
    label_width = max(1, min(max(map(len, labels.values())), LABEL_WIDTH, width - tag_width - 8 - MIN_BAR))
    bar_width = max(MIN_BAR, width - label_width - tag_width - 8)
    text = Text(no_wrap=True, overflow="crop")
    for row, name in enumerate(names):
        for i, s in enumerate(series):
            if row or i:
                text.append("\n")
            text.append(("" if i else labels[name][:label_width]).ljust(label_width) + " ")
            if tag_width:
                text.append("AB"[i] + " ", style="bold")
            value = s.get(name)
            if value is None:
                text.append(" " * bar_width + "     –")
                continue
            text.append(bar(value / top, bar_width), style=styles[i] if i < len(styles) else "")
            text.append(f" {rate(value):>6}")
    return text
