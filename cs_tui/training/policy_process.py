"""A model's policy network in a process of its own, so that torch never enters the app's process.

Importing torch holds the interpreter lock for up to a second at a stretch (its C library loading),
and nothing else in the process runs meanwhile: not the app's keys, not ``q`` (quit took up to 955 ms
while a model loaded). The app reads most models with numpy (:mod:`cs_tui.training.numpy_policy`); what
numpy does not run (a recurrent policy, a file only torch can judge) it loads here instead: a child process
(``python -m cs_tui.training.policy_process FILE``) loads it with :func:`~cs_tui.training.policy_net.
load_policy_net`, every check of the network-only loader included, and answers the app's questions
over its stdin and stdout. Each message is one line of JSON, then the raw bytes of the arrays it
announces (never a pickle). The child ends when the app closes the pipe, which the system does for it
when the app exits, at once or killed.

    net, meta = start(path)          # ModelLoadError naming the file and the problem
    net.action_values(obs)           # as PolicyNet's
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import numpy as np

from cs_tui.training.memory import Network
from cs_tui.training.model_file.format import ModelLoadError

#: the largest message header, and the most numbers one message may carry (a batch of 20,000
#: observations of an LSTM's states is far below it)
MAX_HEADER = 1 << 20
MAX_NUMBERS = 1 << 26


class PolicyProcessError(RuntimeError):
    """The model's process failed or ended; the message says how."""


def _send(stream: IO[bytes], header: dict[str, Any], arrays: tuple[np.ndarray, ...] = ()) -> None:
    header = {**header, "arrays": [[list(a.shape), a.dtype.str] for a in arrays]}
    stream.write(json.dumps(header).encode() + b"\n")
    for array in arrays:
        stream.write(np.ascontiguousarray(array).tobytes())
    stream.flush()


def _receive(stream: IO[bytes]) -> tuple[dict[str, Any], list[np.ndarray]]:
    line = stream.readline(MAX_HEADER)
    if not line.endswith(b"\n"):
        raise EOFError("the other side closed the pipe")
    header = json.loads(line)
    arrays = []
    for shape, dtype in header.get("arrays", []):
        kind = np.dtype(dtype)
        if kind not in (np.dtype("<f4"), np.dtype("<f8")) or int(np.prod(shape)) > MAX_NUMBERS:
            raise ValueError(f"unexpected array {shape} {dtype}")
        size = int(np.prod(shape)) * kind.itemsize
        data = stream.read(size)
        if len(data) != size:
            raise EOFError("the other side closed the pipe mid-message")
        arrays.append(np.frombuffer(data, dtype=kind).reshape(shape))
    return header, arrays


class PolicyProcess(Network):
    """A :class:`~cs_tui.training.policy_net.PolicyNet` that lives in a child process: the same attributes
    and :meth:`action_values` / :meth:`new_memory` (from :class:`~cs_tui.training.memory.Network`), each
    answer a round trip over a pipe (safe from threads)."""

    def __init__(self, process: subprocess.Popen[bytes], path: Path, description: dict[str, Any]) -> None:
        self.process = process
        self.path = path
        self.algorithm: str = description["algorithm"]
        self.kind: str = description["kind"]
        self.obs_size: int = int(description["obs_size"])
        self.frame_stack: int = int(description["frame_stack"])
        self.remembers: bool = bool(description["remembers"])
        lstm = description["lstm_shape"]
        self._lstm_shape = None if lstm is None else (int(lstm[0]), int(lstm[1]))
        self._lock = threading.Lock()

    @property
    def lstm_shape(self) -> tuple[int, int] | None:
        return self._lstm_shape

    def _ask(self, op: str, *arrays: np.ndarray) -> list[np.ndarray]:
        assert self.process.stdin is not None and self.process.stdout is not None
        with self._lock:
            try:
                _send(self.process.stdin, {"op": op}, arrays)
                header, answer = _receive(self.process.stdout)
            except (OSError, EOFError, ValueError) as exc:
                raise PolicyProcessError(f"{self.path}: the model's process ended ({exc})") from None
        if "error" in header:
            raise PolicyProcessError(f"{self.path}: {header['error']}")
        return answer

    def values(self, batch: np.ndarray) -> np.ndarray:
        (answer,) = self._ask("values", np.asarray(batch, dtype=np.float32))
        return answer

    def lstm_step(self, obs: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        values, h_t, c_t = self._ask("lstm", *(np.asarray(a, dtype=np.float32) for a in (obs, h, c)))
        return values, h_t, c_t

    def close(self) -> None:
        """End the child (closing its pipe is enough: it exits when it reads the end)."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()

    def __del__(self) -> None:
        self.close()


def start(path: Path | str) -> tuple[PolicyProcess, dict[str, Any]]:
    """Load the policy network in ``path`` in a child process; it and the file's validated ``cs_tui.json``.

    Raises:
        ModelLoadError: naming the file and the problem (the child's loader's own message).
    """
    path = Path(path)
    package_root = str(Path(__file__).resolve().parents[2])  # the child imports this very cs_tui
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen(
        [sys.executable, "-m", "cs_tui.training.policy_process", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # the terminal's signals are the app's to handle, not the child's
    )
    assert process.stdout is not None
    try:
        header, _ = _receive(process.stdout)
    except (OSError, EOFError, ValueError) as exc:
        process.kill()
        raise ModelLoadError(f"{path}: the process loading the model ended ({exc})") from None
    if "error" in header:
        process.wait()
        raise ModelLoadError(str(header["error"]))
    return PolicyProcess(process, path, header["network"]), header["meta"]


def serve(path: str, requests: IO[bytes], answers: IO[bytes]) -> int:
    """The child: load ``path``, describe it, then answer each request until the pipe closes."""
    try:
        import torch

        from cs_tui.training.policy_net import load_policy_net

        torch.set_num_threads(1)  # a small MLP: more threads only add contention with the app
        net, meta = load_policy_net(path)
    except ModelLoadError as exc:
        _send(answers, {"error": str(exc)})
        return 1
    except Exception as exc:  # anything else: said in words to the app, which shows it
        _send(answers, {"error": f"{path}: {type(exc).__name__}: {exc}"})
        return 1
    network = {
        "algorithm": net.algorithm,
        "kind": net.kind,
        "obs_size": net.obs_size,
        "frame_stack": net.frame_stack,
        "remembers": net.remembers,
        "lstm_shape": net.lstm_shape,
    }
    _send(answers, {"network": network, "meta": meta})
    while True:
        try:
            header, arrays = _receive(requests)
        except EOFError:
            return 0
        try:
            if header.get("op") == "values":
                _send(answers, {}, (net.values(arrays[0]),))
            elif header.get("op") == "lstm":
                _send(answers, {}, net.lstm_step(*arrays))
            else:
                _send(answers, {"error": f"unknown request {header.get('op')!r}"})
        except Exception as exc:
            _send(answers, {"error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    raise SystemExit(serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer))
