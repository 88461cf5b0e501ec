"""`cs-tui serve` throughput and latency beside in-process env.step, and a load test that must leak nothing.

    python benchmarks/server_throughput.py [--steps N] [--load-sessions 64] [--load-steps 1000]

The server runs as its own process (`python -m cs_tui serve` on a free loopback port), as a user runs it;
the clients run here. Figures, all from the same run:

* in-process ``CustomerSupportEnv.step`` (the reference: what the network costs is the gap);
* WebSocket sessions, 1, 16 and 64 at once (owned sessions, numeric view): total steps/s, p50/p99 of each
  step's round trip; and the same for one session with the text view (the customer's words, the facts);
* HTTP, one client stepping over a keep-alive connection;
* memory per session: the server's RSS growth over 200 idle sessions;
* the load test: ``--load-sessions`` sessions x ``--load-steps`` steps with random disconnects (each
  disconnect ends that session and a new one starts); afterwards the server must hold 0 sessions, its
  open file descriptors and RSS must be back near the baseline, and it must still answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from websockets.asyncio.client import connect

from cs_env.env import CustomerSupportEnv

STEP = json.dumps({"type": "step", "strategy": 6, "view": "numeric"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def in_process(steps: int) -> tuple[float, float, float]:
    env = CustomerSupportEnv()
    env.reset(seed=0)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(6)
        times.append(time.perf_counter() - start)
        if terminated or truncated:
            env.reset()
    return steps / sum(times), *np.percentile(np.array(times) * 1e3, [50, 99])


async def one_session(url: str, steps: int, view: str, latencies: list[float]) -> None:
    step = json.dumps({"type": "step", "strategy": 6, "view": view})
    async with connect(f"{url}/sessions/ws", max_size=2**20) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "reset", "seed": 0, "view": view}))
        await ws.recv()
        for _ in range(steps):
            start = time.perf_counter()
            await ws.send(step)
            turn = json.loads(await ws.recv())
            latencies.append(time.perf_counter() - start)
            if turn["terminated"] or turn["truncated"]:
                await ws.send(json.dumps({"type": "reset", "view": view}))
                await ws.recv()


async def websocket_run(url: str, sessions: int, steps_each: int, view: str = "numeric") -> tuple[float, float, float]:
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(one_session(url, steps_each, view, latencies) for _ in range(sessions)))
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, *np.percentile(np.array(latencies) * 1e3, [50, 99])


def http_run(url: str, steps: int) -> tuple[float, float, float]:
    latencies = []
    with httpx.Client(base_url=url) as client:
        sid = client.post("/sessions", json={}).json()["session"]
        client.post(f"/sessions/{sid}/reset", json={"seed": 0, "view": "numeric"})
        start_all = time.perf_counter()
        for _ in range(steps):
            start = time.perf_counter()
            turn = client.post(f"/sessions/{sid}/step", json={"strategy": 6, "view": "numeric"}).json()
            latencies.append(time.perf_counter() - start)
            if turn["terminated"] or turn["truncated"]:
                client.post(f"/sessions/{sid}/reset", json={"view": "numeric"})
        elapsed = time.perf_counter() - start_all
        client.delete(f"/sessions/{sid}")
    return steps / elapsed, *np.percentile(np.array(latencies) * 1e3, [50, 99])


def memory_per_session(url: str, pid: int, sessions: int = 200) -> float:
    with httpx.Client(base_url=url) as client:
        before = rss_mb(pid)
        ids = []
        for seed in range(sessions):
            sid = client.post("/sessions", json={}).json()["session"]
            client.post(f"/sessions/{sid}/reset", json={"seed": seed, "view": "numeric"})
            ids.append(sid)
        grown = rss_mb(pid) - before
        for sid in ids:
            client.delete(f"/sessions/{sid}")
    return grown * 1024 / sessions


async def load_session(url: str, steps: int, rng: random.Random, counts: dict[str, int]) -> None:
    done = 0
    while done < steps:
        async with connect(f"{url}/sessions/ws") as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "reset", "seed": rng.randrange(2**31), "view": "numeric"}))
            await ws.recv()
            while done < steps:
                if rng.random() < 0.01:  # a client that goes away mid-conversation
                    counts["disconnects"] += 1
                    break
                await ws.send(STEP)
                turn = json.loads(await ws.recv())
                done += 1
                if turn.get("type") == "error":
                    counts["errors"] += 1
                elif turn["terminated"] or turn["truncated"]:
                    await ws.send(json.dumps({"type": "reset", "view": "numeric"}))
                    await ws.recv()
    counts["steps"] += done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="steps per measurement (split across sessions)")
    parser.add_argument("--load-sessions", type=int, default=64)
    parser.add_argument("--load-steps", type=int, default=1000)
    args = parser.parse_args()
    port = free_port()
    saves = tempfile.mkdtemp(prefix="cs-tui-bench-")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    server = subprocess.Popen(
        [sys.executable, "-m", "cs_tui", "--saves", saves, "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    url, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/health")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
                time.sleep(0.1)
        rows = [("in-process env.step", *in_process(args.steps * 10))]
        for sessions in (1, 16, 64):
            rows.append((f"WebSocket, {sessions} session(s)", *asyncio.run(
                websocket_run(ws_url, sessions, max(1, args.steps // sessions)))))  # fmt: skip
        rows.append(("WebSocket, 1 session, text view", *asyncio.run(websocket_run(ws_url, 1, args.steps, "both"))))
        rows.append(("HTTP, 1 client (keep-alive)", *http_run(url, args.steps)))
        print(f"{'':36} {'steps/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
        for name, rate, p50, p99 in rows:
            print(f"{name:36} {rate:10,.0f} {p50:8.3f} {p99:8.3f}")
        print(f"memory per session: {memory_per_session(url, server.pid):.1f} KB (server RSS growth / 200 sessions)")

        baseline_fds, baseline_rss = open_fds(server.pid), rss_mb(server.pid)
        counts = {"steps": 0, "disconnects": 0, "errors": 0}
        rng = random.Random(0)
        start = time.perf_counter()

        async def load() -> None:
            await asyncio.gather(*(load_session(ws_url, args.load_steps, random.Random(rng.random()), counts)
                                   for _ in range(args.load_sessions)))  # fmt: skip

        asyncio.run(load())
        elapsed = time.perf_counter() - start
        deadline = time.monotonic() + 60
        while (left := httpx.get(f"{url}/sessions").json()["count"]) and time.monotonic() < deadline:
            time.sleep(0.1)  # the server ends a session when it notices its socket closed
        fds, rss = open_fds(server.pid), rss_mb(server.pid)
        health = httpx.get(f"{url}/health").status_code
        print(
            f"load test: {args.load_sessions} sessions x {args.load_steps:,} steps = {counts['steps']:,} steps in "
            f"{elapsed:.1f} s ({counts['steps'] / elapsed:,.0f}/s), {counts['disconnects']} random disconnects, "
            f"{counts['errors']} errors"
        )
        print(
            f"  after: sessions left {left}; open fds {fds} (before {baseline_fds}); RSS {rss:.1f} MB "
            f"(before {baseline_rss:.1f} MB, {rss - baseline_rss:+.1f}); /health {health}"
        )
        leaked = left != 0 or fds > baseline_fds + 2 or health != 200 or counts["errors"]
        print("nothing leaked" if not leaked else "LEAK or failure: see above")
        return 1 if leaked else 0
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    raise SystemExit(main())
