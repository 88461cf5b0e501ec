"""The conversation as it is read: customer and agent lines, newest at the bottom."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.selection import Selection
from textual.strip import Strip
from textual.widgets import RichLog

from cs_env.domain import SENTIMENT_NAMES
from cs_tui.labels import strategy_label, tone

#: One line of a transcript as data: ("customer", text, sentiment), ("agent", text, strategy, who) or
#: ("note", text, style). Comparing lists of items tells what is new since the last draw.
Item = tuple[Any, ...]

#: blank cells between the text and the scrollbar (Textual draws it inside the padding, against the text)
GAP = 1

#: sentiment code -> style of the customer's mood label (colour drops out under NO_COLOR; the words stay)
MOOD_STYLES = ("bold red", "red", "yellow", "green", "bold green")


class Transcript(RichLog, inherit_bindings=False):
    """A scrolling conversation.

    A ``RichLog`` renders only the lines in view and appends without laying the screen out again, which
    keeps a turn's update cheap; the lines are also kept as data so a resize re-wraps them. It takes the
    focus, so the arrow keys scroll back through a long conversation and ``?`` shows the pane's help.

    The text can be selected with the mouse and copied with ctrl+c (the screen's copy key), which
    Textual's ``RichLog`` does not do by itself (textual#5333): each line carries the offsets that map a
    mouse position to the text, the selection is painted over the lines, and :meth:`get_selection`
    reads it from the wrapped lines as shown.
    """

    ALLOW_SELECT = True

    BINDINGS: ClassVar[list[BindingType]] = [  # scrolling back, and nothing sideways (lines wrap)
        Binding("up", "scroll_up", "Scroll up", show=False),
        Binding("down", "scroll_down", "Scroll down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "scroll_home", "First line", show=False),
        Binding("end", "scroll_end", "Last line", show=False),
    ]
    DEFAULT_CSS = """
    Transcript {
        height: 1fr;
        padding: 0 0 0 1;  /* on the right, a gap before the scrollbar instead (GAP) */
        background: $background;
        border: none;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: stable;
        overflow-x: hidden;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, wrap=True, markup=False, highlight=False, auto_scroll=True, min_width=1)
        self._texts: list[Text] = []
        self._items: list[Item] = []
        self._wrapped_at = 0
        self._width = 0  # the width lines wrap at; known at the first resize

    @property
    def plain(self) -> str:
        """The conversation as plain text (what a reader sees, without styles)."""
        return "\n".join(t.plain for t in self._texts)

    def clear(self) -> Transcript:
        self._texts = []
        self._items = []
        super().clear()
        return self

    def show(self, items: list[Item]) -> None:
        """Show exactly ``items``: appends when the lines shown so far are where ``items`` starts, else redraws."""
        n = len(self._items)
        if n > len(items) or items[:n] != self._items:
            self.clear()
            n = 0
        for item in items[n:]:
            kind, *args = item
            if kind == "customer":
                self.customer(*args)
            elif kind == "agent":
                self.agent(*args)
            else:
                self.note(*args)
        self._items = list(items)

    def customer(self, text: str, sentiment: int, reward: float | None = None) -> None:
        """A line from the customer, labelled with their mood (and the reward of the turn it answers)."""
        self._line(
            ("Customer ", "bold"),
            (f"({SENTIMENT_NAMES[sentiment]})", MOOD_STYLES[sentiment]),
            (": ", ""),
            (text, ""),
            (f"  {reward:+.2f}" if reward is not None else "", "dim"),
        )

    def agent(self, text: str, strategy: int, who: str = "Agent") -> None:
        """A line from the agent (you or the opponent), labelled with the strategy."""
        self._line((f"{who} ", "bold cyan"), (f"[{strategy_label(strategy)}]", "cyan"), (": ", ""), (text, ""))

    def note(self, text: str, style: str = "dim") -> None:
        """A line about the conversation rather than in it (outcomes, hints)."""
        self._line((text, style))

    def _line(self, *parts: tuple[str, str]) -> None:
        text = Text()
        for chunk, style in parts:
            text.append(chunk, style=tone(style))
        self._texts.append(text)
        self._write(text)

    def _write(self, text: Text) -> None:
        width = self._width
        if width <= 0:  # kept in _texts; written at the first resize
            return
        self._wrapped_at = width
        self.write(text, width=width)

    # -- selecting with the mouse ---------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        scroll_x, scroll_y = self.scroll_offset
        line = scroll_y + y
        selection = self.text_selection
        if selection is not None and line < len(self.lines):
            span = selection.get_span(line)
            if span is not None:
                width = strip.cell_length
                start, end = span
                start, end = (min(max(x - scroll_x, 0), width) for x in (start, width if end == -1 else end))
                style = self.screen.get_component_rich_style("screen--selection")
                chosen = strip.crop(start, end)
                chosen = Strip(Segment.apply_style(chosen, post_style=style), chosen.cell_length)
                strip = Strip.join([strip.crop(0, start), chosen, strip.crop(end)])
        # the offsets let a mouse drag start and end a selection in this text
        return strip.apply_offsets(scroll_x, line)

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The selected text, from the lines as wrapped on screen."""
        text = "\n".join(strip.text.rstrip() for strip in self.lines)
        return selection.extract(text), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self._line_cache.clear()
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        super().on_resize(event)  # learns the size
        # from the event: the widget's region (and so its content region) is set only after this handler
        width = event.size.width - self.styles.gutter.width - self.scrollbar_size_vertical - GAP
        self._width = width
        if width > 0 and width != self._wrapped_at:  # (re-)wrap at the new width
            super().clear()
            for text in self._texts:
                self._write(text)
            self.refresh()  # lines written while the screen is laid out are not painted otherwise
        # a write during the first layout scrolled against a zero height: scroll again once laid out
        self.call_after_refresh(self.scroll_end, animate=False, immediate=True)
