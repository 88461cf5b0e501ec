from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import cs_env  # noqa: F401  (registers the env ids for every test)

INDUSTRIES = ("bfsi", "retail", "tech", "mixed")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on 127.0.0.1 (tests/postgres_server.py), for this test only."""
    from postgres_server import postgres_server

    # not under pytest's temp folder: that is private to root, and the server runs as postgres
    folder = Path(tempfile.mkdtemp(prefix="cs-tui-postgres-"))
    try:
        with postgres_server(folder) as url:
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def own_config_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own config folder: a theme saved on this machine must not change what a test sees."""
    home = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home
