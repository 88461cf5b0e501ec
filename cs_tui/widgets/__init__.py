"""The app's widgets, one (or one tight family) per module."""

from __future__ import annotations

import os

#: style words that are not colours: kept under NO_COLOR
_PLAIN = frozenset({"bold", "dim", "italic", "underline", "reverse", "strike", "not"})


def tone(style: str) -> str:
    """``style`` as given, or without its colours when ``NO_COLOR`` is set.

    Textual honours ``NO_COLOR`` by turning every colour into a grey of the same luminance, which leaves
    dark red text nearly invisible on a dark background; the widgets drop their colours instead and keep
    bold and dim, so every label still reads (the words, not the colours, carry the meaning).
    """
    if "NO_COLOR" not in os.environ:
        return style
    return " ".join(word for word in style.split() if word in _PLAIN)
