from __future__ import annotations

from pathlib import Path

import pytest

import cs_env  # noqa: F401  (registers the env ids for every test)

INDUSTRIES = ("bfsi", "retail", "tech", "mixed")


@pytest.fixture(autouse=True)
def own_config_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own config folder: a theme saved on this machine must not change what a test sees."""
    home = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home
