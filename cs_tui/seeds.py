"""The one range of seeds every command and form takes, and the check they all share.

torch keeps its seed in a signed 64-bit integer and refuses larger ones ("Overflow when unpacking
long long"), and numpy and Gymnasium take any non-negative integer: so a seed is an integer from 0
to 2**63 - 1. (Seeds derived from it, ``seed + i`` for the i-th conversation or env, may pass the
top: numpy takes them, and the trainer folds what it hands torch and SB3 back into their ranges.)
Light on purpose (no numpy, no torch): the CLI's ``--help`` and the app's forms import it.

    parser.add_argument("--seed", type=seed_arg(), ...)           # argparse: a usage error, exit 2
    seed = parse_seed(text)                                       # a form field: ValueError with the range
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

#: The largest seed anywhere: 2**63 - 1, the top of torch's signed 64-bit seed.
MAX_SEED = 2**63 - 1

RANGE = f"0 to {MAX_SEED:,} (2**63 - 1)"


def check_seed(seed: int) -> int:
    """``seed`` if it is in range; else ``ValueError`` naming the range."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"a seed is a whole number from {RANGE}, not {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed {seed:,} is out of range: a seed is from {RANGE}")
    return seed


def parse_seed(text: str, *, empty: int | None = 0) -> int:
    """A seed typed into a form or a flag (commas and ``_`` allowed); ``ValueError`` naming the range.

    ``empty``: the value of a blank field (None: a blank field is an error).
    """
    cleaned = text.replace(",", "").replace("_", "").strip()
    if not cleaned and empty is not None:
        return check_seed(empty)
    try:
        value = int(cleaned)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a whole number: a seed is from {RANGE}") from None
    return check_seed(value)


def seed_arg() -> Callable[[str], int]:
    """An argparse ``type=`` for ``--seed``: out of range is a usage error (exit status 2) naming the range."""

    def parse(text: str) -> int:
        try:
            return parse_seed(text, empty=None)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


__all__ = ["MAX_SEED", "RANGE", "check_seed", "parse_seed", "seed_arg"]
