"""What the commands share on their command line: argparse types with their limits, the ``--industry``
choices, and the usage-error exit status.

A count a person types has a ceiling named in its error; every command reads its numbers through these
types, so the messages read alike. Costs nothing to import (each type imports what it checks lazily).
"""

from __future__ import annotations

import argparse
from typing import Any

USAGE_ERROR = 2


def at_least(minimum: int) -> Any:
    """An argparse type: an integer ``>= minimum`` (else a usage error, exit status 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def count_up_to(minimum: int, maximum: int, why: str) -> Any:
    """An argparse type: an integer in ``[minimum, maximum]``; ``why`` says what the maximum protects."""
    lower = at_least(minimum)

    def parse(text: str) -> int:
        value = lower(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,} ({why}), got {value:,}")
        return value

    return parse


def industry_choices() -> tuple[str, ...] | None:
    """Valid ``--industry`` values (every industry file, and mixed); None while the industry files
    cannot be read (``cs-tui`` then names the file and the problem once ``--help`` has had its say)."""
    from cs_env.env import valid_industries
    from cs_env.industries import IndustryDataError

    try:
        return valid_industries()
    except IndustryDataError:
        return None


def seconds_up_to(maximum: float) -> Any:
    """An argparse type: a number of seconds in ``(0, maximum]``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
        if not 0 < value <= maximum:
            raise argparse.ArgumentTypeError(f"must be more than 0 and at most {maximum:g} seconds, got {text}")
        return value

    return parse
