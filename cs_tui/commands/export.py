"""``cs-tui export RUN --onnx FILE``: a run's trained agent as an ONNX file, for any runtime.

Exit status: 0 written; 2 bad input (a run that is not a name under the saves folder, an existing
FILE, a folder that cannot be written, a model that cannot be exported), with one line saying why.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cs_tui.commands.arguments import USAGE_ERROR


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a run's trained agent as an ONNX file",
        description=(
            "Export the policy of the run RUN (its best.zip, else model.zip) as ONNX: input 'observation' "
            "(float32, batch x observation size), outputs 'action' (the greedy strategy) and 'action_values'. "
            "FILE must not exist yet; it is written atomically."
        ),
    )
    parser.add_argument("run", metavar="RUN", help="a run's name in the saves folder (not a path)")
    parser.add_argument("--onnx", metavar="FILE", required=True, help="the ONNX file to write (must not exist)")


def target_problem(target: Path) -> str | None:
    """Why ``target`` cannot be written as a new file, or None."""
    if os.path.lexists(target):
        return f"{target} already exists: remove it or choose another file name"
    parent = Path(os.path.realpath(target)).parent
    while not parent.exists() and parent != parent.parent:  # the atomic write creates missing folders
        parent = parent.parent
    if not parent.is_dir():
        return f"{target}: {parent} is not a folder"
    if not os.access(parent, os.W_OK):
        return f"{target}: the folder {parent} is not writable"
    return None


def run(args: argparse.Namespace) -> int:
    from cs_tui.training.named import named_model
    from cs_tui.training.run_record import RunError
    from cs_tui.training.runs import saves_dir

    target = Path(args.onnx).expanduser()
    try:
        model = named_model(args.run, saves_dir(args.saves))
    except RunError as exc:
        return _fail(str(exc))
    problem = target_problem(target)
    if problem is not None:
        return _fail(f"--onnx {problem}")
    from cs_tui.training.model_file.format import ModelLoadError
    from cs_tui.training.onnx_export import ExportError, export_onnx

    try:
        export_onnx(model, target)
    except (ExportError, ModelLoadError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write --onnx {target}: {exc.strerror or exc}")
    print(f"wrote {target} (the agent of run {args.run!r}, from {model.name})")
    return 0


def _fail(message: str) -> int:
    print(f"cs-tui export: error: {message}", file=sys.stderr)
    return USAGE_ERROR
