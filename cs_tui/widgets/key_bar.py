"""The keys that apply now, on one line at the bottom: a light stand-in for Textual's ``Footer``.

Textual's ``Footer`` is a container of one widget per key and rebuilds all of them whenever the bindings
change (focus, a key enabled or hidden): seven times while the play pane opens, about 0.3 s of CPU on this
machine, and again on every turn that changes which keys apply. This bar renders the same information
(``Screen.active_bindings``, binding groups, disabled keys dimmed) as one line of text, so a change costs
one repaint. A click on a key runs its action, as in the ``Footer``.

Where the keys do not fit (a small terminal over SSH), the least important go first, by one rule for
every pane: ``? Help`` and ``q Quit`` always stay (they are how a newcomer gets unstuck), then the pane's
first key (its main action), then the pane-switching keys, then the pane's other keys in their order. A
``…`` stands where keys were left out; the help page lists them all (a click on the ``…`` opens it).

Textual leaves out of ``active_bindings`` every key the focused widget would consume (an ``Input`` takes
``r`` as text), so with an ``Input`` focused the ``Footer`` goes blank. This bar still lists the screen's
and the app's keys then, dimmed, so the user sees what the pane offers once they leave the field.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.actions import parse as parse_action
from textual.binding import Binding
from textual.content import Content
from textual.dom import DOMNode
from textual.keys import key_to_character
from textual.screen import Screen
from textual.widget import Widget

KEY_STYLE = "bold $footer-key-foreground"
LABEL_STYLE = "$footer-description-foreground"
#: the app's keys that never leave the bar, however narrow
ALWAYS_SHOWN = frozenset({"toggle_help", "quit"})
MORE = " …"  # where keys were left out for want of room

#: a key (its display, its action, the node whose binding it is, enabled), and the keys of one item
Key = tuple[str, str, DOMNode, bool]


class KeyBar(Widget):
    """Every shown key binding of the screen and the app: ``key description``, groups as ``1234 label``."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: (first cell, last cell, action, the node whose binding it is) of each key, for clicks
        self._spans: list[tuple[int, int, str, DOMNode]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def _bindings_changed(self, screen: Screen) -> None:
        self.refresh()

    def render(self) -> Content:
        # items: (keys, description); a group's keys share one item
        items: list[tuple[list[Key], str]] = []
        groups: list[Binding.Group | None] = []
        seen: set[str] = set()
        for node, binding, enabled, _ in [*self.screen.active_bindings.values(), *self._consumed_bindings()]:
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            key = (self.app.get_key_display(binding), binding.action, node, enabled)
            if binding.group is not None and groups and groups[-1] == binding.group:
                items[-1][0].append(key)
            else:
                items.append(([key], binding.group.description if binding.group else binding.description))
                groups.append(binding.group)
        kept = self._fitting(items, self.size.width)
        parts: list[str | tuple[str, str]] = []
        spans: list[tuple[int, int, str, DOMNode]] = []
        position = 0
        for index, (keys, description) in enumerate(items):
            if index not in kept:
                if index == 0 or index - 1 in kept:  # the first of a run of keys left out
                    parts.append((MORE, "dim"))
                    spans.append((position + 1, position + len(MORE), "toggle_help", self.app))  # lists them
                    position += len(MORE)
                continue
            parts.append(" ")
            position += 1
            for display, action, node, enabled in keys:
                parts.append((display, KEY_STYLE if enabled else "dim"))
                spans.append((position, position + cell_len(display), action, node))
                position += cell_len(display)
            enabled = any(k[3] for k in keys)
            text = f" {description}"
            parts.append((text, LABEL_STYLE if enabled else "dim"))
            position += cell_len(text)
        self._spans = spans
        return Content.assemble(*parts)

    def _fitting(self, items: list[tuple[list[Key], str]], width: int) -> set[int]:
        """The items (by index) the bar shows in ``width`` cells: all if they fit, else the most important.

        Help and Quit always; then the pane's first key, the app's other keys (the panes), and the pane's
        other keys in order, as long as they fit with room left for the ``…`` that stands for the rest.
        """
        if not width:  # not laid out yet
            return set(range(len(items)))

        pane_keys = [i for i, (keys, _) in enumerate(items) if keys[0][2] is not self.app]

        def rank(index: int) -> tuple[int, int]:
            _, action, node, _ = items[index][0][0]
            if node is self.app:
                return (0, index) if action in ALWAYS_SHOWN else (2, index)
            return (1, index) if index == pane_keys[0] else (3, index)

        widths = [1 + sum(cell_len(k[0]) for k in keys) + 1 + cell_len(text) for keys, text in items]
        if sum(widths) <= width:
            return set(range(len(items)))
        kept: set[int] = set()
        used = len(MORE)  # some item is left out: its "…" needs room
        for index in sorted(range(len(items)), key=rank):
            if rank(index)[0] > 0 and used + widths[index] > width:
                break  # the next in importance does not fit: nor does anything after it
            kept.add(index)
            used += widths[index]
        return kept

    def _consumed_bindings(self) -> list[tuple[DOMNode, Binding, bool, str]]:
        """The screen's and app's shown keys that the focused widget takes as input: listed, but dimmed."""
        focused = self.screen.focused
        if focused is None:
            return []
        consumed: list[tuple[DOMNode, Binding, bool, str]] = []
        for node in (self.screen, self.app):
            # Textual has no public view of a node's own bindings (Screen.active_bindings leaves out the
            # very keys the focused widget consumes, which are the ones listed here)
            for key, binding in node._bindings:
                if not binding.show or not focused.check_consume_key(key, key_to_character(key)):
                    continue
                namespace, name, parameters = parse_action(binding.action)
                target = self.app if namespace == "app" else self.screen if namespace == "screen" else node
                if target.check_action(name, parameters) is False:
                    continue  # hidden by the node's check_action, as the Footer would hide it
                consumed.append((node, binding, False, binding.tooltip))
        return consumed

    async def on_click(self, event: events.Click) -> None:
        for start, end, action, node in self._spans:
            if start <= event.x < end:
                event.stop()
                await self.app.run_action(action, node)
                return
