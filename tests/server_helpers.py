"""Start the real server (uvicorn in a thread, on a free loopback port) for tests that use real clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cs_tui.server.limits import Limits

#: The longest a test waits for the server to start or stop (a ceiling, not a duration to wait).
CEILING_S = 60.0


@dataclass
class Running:
    url: str
    ws_url: str
    server: object


@contextmanager
def running_server(saves: Path, *, token: str | None = None, limits: Limits | None = None,
                   host: str = "127.0.0.1") -> Iterator[Running]:  # fmt: skip
    import uvicorn

    from cs_tui.server.run import server_config

    config = server_config(saves, host, 0, token, limits)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + CEILING_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Running(f"http://{host}:{port}", f"ws://{host}:{port}", server)
    finally:
        server.should_exit = True
        thread.join(CEILING_S)
