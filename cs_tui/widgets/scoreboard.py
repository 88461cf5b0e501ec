"""Human vs agent over the session: episodes, mean return, share handled, and whether it is significant.

*Handled* counts the conversations resolved and those escalated when only a specialist could solve them
(urgent fraud, a bug only engineering can fix): a right escalation is the job done, not a failure.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from cs_tui.labels import first_fitting, middle_cut, tone
from cs_tui.play_session import MIN_PAIRS, Comparison, Episode, scored_return

NAME_WIDTH = 12  # a longer opponent name (a run's, ppo-mixed-20261125-032111) is cut in the middle to fit 80 columns


def _result(outcome: str, value: float, turns: int, compact: bool = False) -> str:
    if compact:  # "abandoned -0.30, 10t": for the rare pair of long results that would not fit
        return f"{outcome} {value:+.2f}, {turns}t"
    return f"{outcome} {value:+.2f}, {turns} turn{'s' if turns != 1 else ''}"


class Scoreboard(Widget):
    """The last customer side by side, then the session: you and the opponent on the same customers.

    Each line fits the width it is drawn at, without wrapping: the results are written shorter
    ("3t"), and on a narrow terminal the session's averages and shares handled take the two rows.
    """

    DEFAULT_CSS = """
    Scoreboard {
        height: 4;
        padding: 0 1;
        border-top: solid $primary;
    }
    """

    comparison: reactive[Comparison | None] = reactive(None)
    """The session so far (None before the first finished episode)."""
    last: reactive[tuple[Episode, Episode] | None] = reactive(None)
    """The last customer: your episode and the opponent's."""
    opponent: reactive[str] = reactive("the opponent")
    """The opponent's name."""

    def render(self) -> Text:
        c = self.comparison
        name = middle_cut(self.opponent, NAME_WIDTH)
        width = self.size.width or 10**6  # (not laid out yet: the widest layout)
        if c is None or c.episodes == 0 or self.last is None:
            return Text(
                first_fitting(
                    width,
                    f"Scoreboard: finish a conversation and {name} plays the same customer.",
                    f"Scoreboard: {name} plays each customer after you.",
                ),
                style=tone("dim"),
            )
        human, agent = self.last
        # the last customer and the session, results spelled out, then "3t"; on a narrow terminal the
        # session alone (the last customer's results are in the conversation's closing lines)
        layouts = [self._rows(c, human, agent, compact=False), self._rows(c, human, agent, compact=True)]
        rows = next((r for r in layouts if _width(r, name) <= width), self._session_rows(c))
        head, mine = _columns(rows)
        text = Text()
        for i, (label, you, them) in enumerate(rows):
            if i:
                text.append("\n")
            text.append(f"{label:<{head}}  ", style=tone("bold"))
            text.append("you ", style=tone("bold cyan"))
            text.append(f"{you:<{mine}}  ")
            text.append(f"{name} ", style=tone("bold magenta"))
            text.append(them)
        text.append("\n")
        if math.isnan(c.ci_low):
            more = f"{MIN_PAIRS - c.episodes} more customer{'s' if MIN_PAIRS - c.episodes > 1 else ''}"
            line = first_fitting(
                width,
                f"you − {name}: {more} for a paired bootstrap CI",
                f"you − {name}: a 95% CI after {more}",
                f"a 95% CI after {more}",
            )
            text.append(line, style=tone("dim"))
            return text
        # the mean difference is the gap between the two averages above; the CI says if it is real
        # "(paired)" not ", paired bootstrap": the line fits 80 columns with a 12-cell name (? explains it)
        ci = f"you − {name}: 95% CI [{c.ci_low:+.2f}, {c.ci_high:+.2f}]"
        if not c.significant:
            verdicts, style = ["not significant yet", "not significant"], "dim"
        else:
            verdicts = ["you ahead"] if c.mean_difference > 0 else [f"{name} ahead", "you behind"]
            style = "bold"
        # the fullest wording that fits: "(paired)" goes first, then "yet", then a long name for "you behind"
        wordings = [(" (paired) → ", verdicts[0])] + [(" → ", v) for v in verdicts]
        joint, verdict = next((w for w in wordings if len(ci + w[0] + w[1]) <= width), wordings[-1])
        text.append(ci + joint)
        text.append(verdict, style=tone(style))
        return text

    @staticmethod
    def _rows(c: Comparison, human: Episode, agent: Episode, compact: bool) -> list[tuple[str, str, str]]:
        return [
            (
                "last",
                _result(human.outcome, scored_return(human, agent), len(human.turns), compact),
                _result(agent.outcome, agent.total_return, len(agent.turns), compact),
            ),
            (
                f"{c.episodes} played",
                f"{c.human_mean:+.2f} avg, {c.human_handled:.0%} handled",
                f"{c.agent_mean:+.2f} avg, {c.agent_handled:.0%} handled",
            ),
        ]

    @staticmethod
    def _session_rows(c: Comparison) -> list[tuple[str, str, str]]:
        """The session on two short rows, for a narrow terminal: the averages, then the share handled."""
        return [
            (f"{c.episodes} played", f"{c.human_mean:+.2f} avg", f"{c.agent_mean:+.2f} avg"),
            ("handled", f"{c.human_handled:.0%}", f"{c.agent_handled:.0%}"),
        ]


def _width(rows: list[tuple[str, str, str]], name: str) -> int:
    """The widest line the rows make: label, "you", your result, the opponent's name and result."""
    head, mine = _columns(rows)
    return head + 2 + len("you ") + mine + 2 + len(name) + 1 + max(len(r[2]) for r in rows)


def _columns(rows: list[tuple[str, str, str]]) -> tuple[int, int]:
    """The widths of the label column and of your results (the opponent's come last, unpadded)."""
    return max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
