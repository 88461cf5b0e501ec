"""Runs by name only: the one gate a client that names a run passes (``cs-tui export``, the server).

A client names a run folder under the saves folder; it never gives a path. A name that is not a valid
run name (so no ``/``, no ``..``, not absolute), that names no run, or whose folder (or model file) is a
symlink leading out of the saves folder is refused with a message that lists the valid names.
Torch-free.
"""

from __future__ import annotations

import os
from pathlib import Path

from cs_tui.training.registry import RUN_NAME, RUN_NAME_RULE
from cs_tui.training.run_record import RunError
from cs_tui.training.runs import META_FILE, short_list

#: A run's model files, preferred first (as the agent loader reads them).
MODEL_FILES = ("best.zip", "model.zip")


def _inside(path: Path, root: Path) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top + os.sep)


def run_names(saves: Path) -> list[str]:
    """The runs under ``saves`` a client may name (valid names, folders inside ``saves``), sorted."""
    try:
        entries = sorted(saves.iterdir())
    except OSError:
        return []
    return [p.name for p in entries if RUN_NAME.fullmatch(p.name) and (p / META_FILE).is_file() and _inside(p, saves)]


def named_run(name: object, saves: Path) -> Path:
    """The folder of the run called ``name`` under ``saves``; :class:`RunError` naming the problem otherwise."""
    if not isinstance(name, str) or not RUN_NAME.fullmatch(name):
        raise RunError(
            f"{name!r} is not a run name ({RUN_NAME_RULE}): give the name of a run in {saves}, not a path; "
            f"runs: {short_list(run_names(saves))}"
        )
    folder = saves / name
    if not (folder / META_FILE).is_file():
        raise RunError(f"no run {name!r} in {saves}; runs: {short_list(run_names(saves))}")
    if not _inside(folder, saves):
        raise RunError(f"run {name!r} is a link to a folder outside {saves}: refused")
    return folder


def named_model(name: object, saves: Path) -> Path:
    """The model file of the run called ``name`` (its ``best.zip``, else ``model.zip``), inside ``saves``."""
    folder = named_run(name, saves)
    for file_name in MODEL_FILES:
        candidate = folder / file_name
        if candidate.is_file():
            if not _inside(candidate, saves):
                raise RunError(f"run {name!r}: {file_name} is a link to a file outside {saves}: refused")
            return candidate
    raise RunError(f"run {name!r} has no model yet (no {' or '.join(MODEL_FILES)})")


__all__ = ["MODEL_FILES", "named_model", "named_run", "run_names"]
