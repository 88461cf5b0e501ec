"""What the commands share on their command line: argparse types with their limits, the ``--industry``
choices, the usage-error exit status, and the export flags (``--csv``, ``--summary-csv``) evaluate and
test share.

A count a person types has a ceiling named in its error; every command reads its numbers through these
types, so the messages read alike. Costs nothing to import (each type imports what it checks lazily).
"""

from __future__ import annotations

import argparse
import sys
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


def add_export_flags(parser: argparse.ArgumentParser, rows: str, summary: str) -> None:
    """``--csv FILE`` (``rows``) and ``--summary-csv FILE`` (``summary``); ``-`` writes to standard output."""
    parser.add_argument("--csv", metavar="FILE", default=None, help=f"also write {rows} as CSV (- for stdout)")
    parser.add_argument(
        "--summary-csv", metavar="FILE", default=None, help=f"also write {summary} as CSV (- for stdout)"
    )


def export_problem(args: argparse.Namespace) -> str | None:
    """Why the export flags cannot be honoured (checked before any conversation is played), or None."""
    from cs_tui.export import STDOUT, target_problem

    named = {"--csv": args.csv, "--summary-csv": args.summary_csv}
    to_stdout = [flag for flag, path in named.items() if path == STDOUT] + (["--json"] if args.json else [])
    if len(to_stdout) > 1:
        return f"{' and '.join(to_stdout)} all write to standard output: send all but one to a file"
    for flag, path in named.items():
        problem = None if path is None else target_problem(path)
        if problem is not None:
            return f"{flag} {problem}"
    return None


def write_exports(command: str, args: argparse.Namespace, rows: Any, summary: Any) -> bool:
    """Write ``rows()`` to ``--csv`` and ``summary()`` to ``--summary-csv`` (each built only if asked for);
    False after printing why one could not be written."""
    from cs_tui.export import write_csv

    for flag, path, build in (("--csv", args.csv, rows), ("--summary-csv", args.summary_csv, summary)):
        if path is None:
            continue
        try:
            write_csv(path, build())
        except OSError as exc:
            print(f"cs-tui {command}: error: cannot write {flag} {path}: {exc.strerror or exc}", file=sys.stderr)
            return False
    return True
