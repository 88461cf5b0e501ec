"""Guards for crashes inside Textual's own widgets, applied once when the app is imported.

Each guard wraps one method of a stock widget so that a key landing at a moment the widget is not ready
for does nothing instead of raising; it changes nothing once the widget is ready. Kept here, not in a
subclass, because the widgets Textual builds for us (``Select``'s overlay) need the guard too.

- ``OptionList`` page up / page down (Textual 8.2): the option list maps options to lines only once it
  has a size; a pageup or pagedown that reaches it before its first layout, or while it is zero lines
  high (a dialog squeezed by a tiny terminal), raised ``KeyError`` on the highlighted index and closed
  the app (the random-key campaign, ``benchmarks/torture.py app``). There is no page to move by then.
"""

from __future__ import annotations

import functools
from typing import Any

from textual.widgets import OptionList


def _guard_move_page() -> None:
    original = OptionList._move_page
    if getattr(original, "_cs_tui_guard", False):
        return

    @functools.wraps(original)
    def move_page(self: OptionList, direction: Any) -> None:
        if self.highlighted is not None and self.highlighted not in self._index_to_line:
            return  # not laid out (or no room): nothing to page through yet
        original(self, direction)

    move_page._cs_tui_guard = True  # type: ignore[attr-defined]
    OptionList._move_page = move_page  # type: ignore[method-assign]


def apply() -> None:
    """Install every guard (idempotent)."""
    _guard_move_page()
