"""The one range of seeds every command and form takes, and the check they all share.

torch keeps its seed in a signed 64-bit integer and refuses larger ones ("Overflow when unpacking
long long"), and numpy and Gymnasium take any non-negative integer: so a seed is an integer from 0
to 2**63 - 1. (Seeds derived from it, ``seed + i`` for the i-th conversation or env, may pass the
top: numpy takes them, and the trainer folds what it hands torch and SB3 back into their ranges.)
Light on purpose (no numpy, no torch): the CLI's ``--help`` and the app's forms import it.

One rule for what a person types, in every form of the app: an empty field means a random seed, drawn
here and shown back in the field (:func:`draw_seed`); anything else is a whole number in range
(``1,000`` and ``1_000`` allowed), or an error that quotes it and names the range (``3.5`` is an error,
not 35). On the command line an empty ``--seed ""`` is an error: leave the flag out for the default.

    parser.add_argument("--seed", type=seed_arg(), ...)           # argparse: a usage error, exit 2
    seed = parse_seed(text)                                       # a form field: ValueError with the range
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Callable

#: The largest seed anywhere: 2**63 - 1, the top of torch's signed 64-bit seed.
MAX_SEED = 2**63 - 1

RANGE = f"0 to {MAX_SEED:,} (2**63 - 1)"
#: Seeds drawn for an empty field are below this: short enough to read off the screen and type again.
DRAWN_BELOW = 1_000_000
#: a whole number as people write it: digits, ``_`` between digits, or commas between groups of three (a
#: sign too, so that -1 is refused as out of range rather than as not a number)
_WHOLE = re.compile(r"[-+]?(\d+(_\d+)*|\d{1,3}(,\d{3})+)")


def draw_seed() -> int:
    """A random seed for an empty field (the form shows it, so the same customer or run can be had again)."""
    return random.randrange(DRAWN_BELOW)


def check_seed(seed: int) -> int:
    """``seed`` if it is in range; else ``ValueError`` naming the range."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"a seed is a whole number from {RANGE}, not {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed {seed:,} is out of range: a seed is from {RANGE}")
    return seed


def parse_seed(text: str, *, blank: Callable[[], int] | None = draw_seed) -> int:
    """A seed typed into a form or a flag; ``ValueError`` quoting it and naming the range.

    ``blank``: what a blank field gives (a drawn seed; None: a blank field is an error too).
    """
    cleaned = text.strip()
    if not cleaned:
        if blank is None:
            raise ValueError(f"empty: a seed is a whole number from {RANGE}")
        return check_seed(blank())
    if not _WHOLE.fullmatch(cleaned):
        raise ValueError(f"{cleaned!r} is not a whole number: a seed is from {RANGE}")
    return check_seed(int(cleaned.replace(",", "").replace("_", "")))


def seed_arg() -> Callable[[str], int]:
    """An argparse ``type=`` for ``--seed``: out of range is a usage error (exit status 2) naming the range."""

    def parse(text: str) -> int:
        try:
            return parse_seed(text, blank=None)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


__all__ = ["DRAWN_BELOW", "MAX_SEED", "RANGE", "check_seed", "draw_seed", "parse_seed", "seed_arg"]
