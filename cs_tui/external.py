"""External agents: a policy that lives behind a URL or in a child process, scored like ours.

Two doors, one message. Each turn the agent is sent one JSON object::

    {"observation": [numbers], "observation_names": ["inquiry_type", ...], "strategies": ["empathetic", ...]}

and answers one JSON object ``{"strategy": 6}`` or ``{"strategy": "quick_resolution"}``.

* :class:`HttpAgent` (``--agent URL``): the message is POSTed to the URL; the reply is the response body.
* :class:`CommandAgent` (``--agent-cmd "python bot.py"``): the message is one line on the child's stdin;
  the reply is one line on its stdout (JSON lines: the simplest thing any language speaks).

An agent that hangs (no answer within ``timeout`` seconds), crashes, prints garbage or answers a
strategy that does not exist raises :class:`~cs_env.policies.PolicyFailure` for that observation, so
the scenario runner fails that trial with the reason and goes on; on a batch (``evaluate``) the row's
answer is ``NO_ANSWER`` and its conversation ends unresolved. :attr:`ExternalAgent.failures` keeps every
reason. A child that hung or died is killed and started afresh for the next call; it never outlives
the command (killed on :meth:`close`, at exit, and by the kernel when this process dies).

Importing this module imports neither torch nor an HTTP client; httpx is loaded by the first HTTP agent.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import selectors
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from typing import Any

import numpy as np

from cs_env.domain import N_STRATEGIES, STRATEGY_NAMES
from cs_env.env import OBS_NAMES
from cs_env.files import is_int
from cs_env.policies import NO_ANSWER, PolicyFailure
from cs_tui.agents import Agent

#: Seconds an agent may take for one answer unless told otherwise.
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 600.0
#: The longest answer read: a strategy is a few bytes; anything longer is not an answer.
MAX_ANSWER_BYTES = 64 * 1024
#: Failures reported in full (the count covers them all).
MAX_KEPT_FAILURES = 100
#: After this many restarts of a child that keeps dying, every further call fails at once.
MAX_RESTARTS = 20


def message(obs: np.ndarray) -> bytes:
    """The JSON an agent is sent for one observation."""
    body = {
        "observation": [float(x) for x in np.asarray(obs, dtype=np.float64).reshape(-1)],
        "observation_names": list(OBS_NAMES),
        "strategies": list(STRATEGY_NAMES),
    }
    return json.dumps(body).encode()


def parse_answer(data: bytes) -> int:
    """The strategy in an agent's answer; :class:`PolicyFailure` naming what is wrong with it."""
    shown = data[:80].decode("utf-8", "replace")
    try:
        answer = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise PolicyFailure(f"answered {shown!r}, which is not JSON") from None
    if not isinstance(answer, dict) or "strategy" not in answer:
        raise PolicyFailure(f'answered {shown!r}: expected an object such as {{"strategy": 6}}')
    strategy = answer["strategy"]
    if isinstance(strategy, str) and strategy in STRATEGY_NAMES:
        return STRATEGY_NAMES.index(strategy)
    if is_int(strategy) and 0 <= strategy < N_STRATEGIES:
        return strategy
    whole = isinstance(strategy, float) and math.isfinite(strategy) and strategy.is_integer()
    if whole and 0 <= strategy < N_STRATEGIES:
        return int(strategy)
    raise PolicyFailure(
        f"answered strategy {strategy!r}: valid are 0-{N_STRATEGIES - 1} or a name ({', '.join(STRATEGY_NAMES)})"
    )


class ExternalAgent(Agent):
    """An agent outside this process: one call per observation; failures kept in :attr:`failures`."""

    def __init__(self, name: str, timeout: float) -> None:
        super().__init__(name=name, kind="external")
        if not (isinstance(timeout, int | float) and 0 < timeout <= MAX_TIMEOUT):
            raise ValueError(f"timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}], got {timeout!r}")
        self.timeout = float(timeout)
        self.failures: list[str] = []
        self.failure_count = 0

    def ask(self, obs: np.ndarray) -> int:
        """The agent's strategy for one observation, or :class:`PolicyFailure`."""
        raise NotImplementedError

    def _answer(self, obs: np.ndarray) -> int:
        try:
            return self.ask(obs)
        except PolicyFailure as exc:
            self.failure_count += 1
            if len(self.failures) < MAX_KEPT_FAILURES:
                self.failures.append(str(exc))
            raise

    def __call__(self, obs: np.ndarray, state: Any = None) -> Any:
        batch = np.asarray(obs)
        if batch.ndim == 1:
            return self._answer(batch)
        actions = np.empty(len(batch), dtype=np.int64)
        for i, row in enumerate(batch):
            try:
                actions[i] = self._answer(row)
            except PolicyFailure:
                actions[i] = NO_ANSWER
        return actions

    def close(self) -> None:
        """Release what the agent holds (a connection, a child process)."""

    def __enter__(self) -> ExternalAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HttpAgent(ExternalAgent):
    """An agent that answers a POST of the observation at ``url``."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        import httpx

        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"--agent must be an http:// or https:// URL, got {url!r}")
        super().__init__(url, timeout)
        self.url = url
        self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        self._errors = (httpx.HTTPError, httpx.InvalidURL)

    def ask(self, obs: np.ndarray) -> int:
        try:
            with self._client.stream(
                "POST", self.url, content=message(obs), headers={"content-type": "application/json"}
            ) as response:
                data = b""
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_ANSWER_BYTES:
                        raise PolicyFailure(f"answered more than {MAX_ANSWER_BYTES:,} bytes")
        except self._errors as exc:
            kind = "timed out" if "timeout" in type(exc).__name__.lower() else "could not be reached"
            detail = f" after {self.timeout:g} s" if kind == "timed out" else f": {exc or type(exc).__name__}"
            raise PolicyFailure(f"{self.url} {kind}{detail}") from None
        if response.status_code != 200:
            said = data[:80].decode("utf-8", "replace")
            raise PolicyFailure(f"{self.url} answered HTTP {response.status_code}: {said!r}")
        return parse_answer(data)

    def close(self) -> None:
        self._client.close()


def _die_with_parent() -> None:
    """In the child, before exec: the kernel kills it when this process dies (Linux), even by kill -9."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class CommandAgent(ExternalAgent):
    """An agent in a child process speaking JSON lines over its stdin and stdout."""

    def __init__(self, command: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as exc:
            raise ValueError(f"--agent-cmd {command!r}: {exc}") from None
        if not self.argv:
            raise ValueError("--agent-cmd is empty: give the command that starts the agent, e.g. 'python bot.py'")
        super().__init__(command, timeout)
        self.command = command
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._stderr: deque[str] = deque(maxlen=5)
        self._restarts = 0
        self._start()  # a command that cannot start is bad input, reported before any trial
        atexit.register(self.close)

    def _start(self) -> subprocess.Popen[bytes]:
        try:
            process = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group: close() ends its children too
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        except OSError as exc:
            raise ValueError(f"--agent-cmd {self.command!r} cannot be started: {exc.strerror or exc}") from None
        self._process, self._buffer = process, b""
        self._stderr_reader = threading.Thread(target=self._drain_stderr, args=(process,), daemon=True)
        self._stderr_reader.start()
        return process

    def _drain_stderr(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        for line in process.stderr:  # kept so a crash can be explained; never allowed to fill the pipe
            text = line.decode("utf-8", "replace").strip()
            if text:
                self._stderr.append(text[:200])

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            with contextlib.suppress(Exception):
                stream.close()  # type: ignore[union-attr]

    def _crash_reason(self, process: subprocess.Popen[bytes]) -> str:
        code = process.wait()
        self._stderr_reader.join(timeout=1.0)  # its last words, if it said any (stderr is closed by now)
        said = f": {self._stderr[-1]}" if self._stderr else ""
        return f"the agent process exited with status {code}{said}"

    def ask(self, obs: np.ndarray) -> int:
        process = self._process
        if process is None:
            if self._restarts >= MAX_RESTARTS:
                raise PolicyFailure(f"the agent process was restarted {MAX_RESTARTS} times; giving up on it")
            self._restarts += 1
            process = self._start()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(message(obs) + b"\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            reason = self._crash_reason(process)
            self._kill()
            raise PolicyFailure(reason) from None
        line = self._read_line(process)
        return parse_answer(line)

    def _read_line(self, process: subprocess.Popen[bytes]) -> bytes:
        assert process.stdout is not None
        deadline = time.monotonic() + self.timeout
        fd = process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                if len(self._buffer) > MAX_ANSWER_BYTES:
                    self._kill()
                    raise PolicyFailure(f"printed more than {MAX_ANSWER_BYTES:,} bytes without a line end")
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    self._kill()  # its late answer would be read as the next one's
                    raise PolicyFailure(f"no answer within {self.timeout:g} s (the agent process was stopped)")
                chunk = os.read(fd, 65536)
                if not chunk:
                    reason = self._crash_reason(process)
                    self._kill()
                    raise PolicyFailure(reason)
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def close(self) -> None:
        self._kill()


def external_agent(url: str | None, command: str | None, timeout: float = DEFAULT_TIMEOUT) -> ExternalAgent:
    """The agent ``--agent URL`` or ``--agent-cmd CMD`` names; ``ValueError`` for bad input."""
    if (url is None) == (command is None):
        raise ValueError("give either --agent URL or --agent-cmd CMD")
    return HttpAgent(url, timeout) if url is not None else CommandAgent(str(command), timeout)


__all__ = [
    "DEFAULT_TIMEOUT",
    "CommandAgent",
    "ExternalAgent",
    "HttpAgent",
    "external_agent",
    "message",
    "parse_answer",
]
