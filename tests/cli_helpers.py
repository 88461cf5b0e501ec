"""Helpers for command-line tests: run ``cs-tui`` in-process and get its exit status and stderr."""

from __future__ import annotations

import pytest

from cs_tui.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """``cs-tui ARGV`` in this process: its exit status (argparse's included) and what it wrote to stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def run_cli_output(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``cs-tui ARGV`` in this process: its exit status, what it wrote to stdout and to stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
