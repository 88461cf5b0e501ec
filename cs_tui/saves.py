"""Where the saves folder is: ``--saves``, else ``$CS_TUI_SAVES``, else ``./saves``.

The standard library only: the app resolves it before its first frame, which must not wait for numpy,
Gymnasium or the env (what :mod:`cs_tui.training.runs`, the run folders' own module, imports).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "CS_TUI_SAVES"


def saves_dir(cli_value: str | None = None) -> Path:
    """Where runs are kept: ``--saves`` if given, else ``$CS_TUI_SAVES``, else ``./saves``."""
    if cli_value:
        return Path(cli_value).expanduser()
    env_value = os.environ.get(ENV_VAR)
    if env_value:
        return Path(env_value).expanduser()
    return Path("saves")
