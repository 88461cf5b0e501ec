"""A real PostgreSQL server for the tests, started from Debian's binaries on 127.0.0.1 in a temp folder.

PostgreSQL refuses to run as root: as root (CI, the dev machines) the server runs as the ``postgres``
user that Debian's package creates. ``./dev test`` installs the package when it is missing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL's server binaries are missing (/usr/lib/postgresql/*/bin): `./dev test` installs "
            "Debian's postgresql package; or: apt-get install postgresql"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_server(folder: Path) -> Iterator[str]:
    """Start a server with one database, ``studies``; yields its URL; stops it afterwards."""
    bin_dir = _binaries()
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    port = _free_port()

    def run(*command: str) -> None:
        subprocess.run([*prefix, *command], check=True, capture_output=True, text=True, cwd=folder)

    run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "tuner", "--no-sync")
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "120",
        "-o", f"-h 127.0.0.1 -p {port} -k {folder} -F", "start")  # fmt: skip
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "tuner", "studies")
        yield f"postgresql://tuner@127.0.0.1:{port}/studies"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
