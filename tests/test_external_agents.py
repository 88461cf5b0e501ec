"""External agents (`--agent URL`, `--agent-cmd CMD`) meet the very customers in-process agents meet and are
scored the same; a misbehaving one fails its trials with the reason, and the run goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from cs_env.evaluate import evaluate
from cs_env.scenarios import load_scenarios, pass_hat_k_interval, run_scenario
from cs_tui.agents import load_agent
from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
SAVES = ROOT / "saves"
AGENTS = Path(__file__).parent / "agents"
TRIALS = 4
EPISODES = 60


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    """``cs-tui --saves SAVES ARGV --json``: status, the JSON printed, and stderr."""
    from cs_tui.cli import main

    try:
        code = main(["--saves", str(SAVES), *argv, "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out), err


@pytest.fixture(scope="module")
def default_over_http() -> Iterator[str]:
    """The default agent behind a URL, answering one observation per POST (in a thread of this process)."""
    agent = load_agent("default", saves=SAVES)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            turn = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body = json.dumps({"strategy": int(agent(np.asarray(turn["observation"], dtype=np.float32)))}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _doors(url: str) -> list[tuple[str, ...]]:
    replay = f"{sys.executable} {AGENTS / 'replay_default.py'} {SAVES}"
    # the replaying child imports torch before its first answer: seconds on a busy machine
    return [("--agent", url), ("--agent-cmd", replay, "--agent-timeout", "300")]


def test_an_agent_replaying_the_default_scores_its_pass_hat_k_through_each_door(
    capsys: pytest.CaptureFixture[str], default_over_http: str
) -> None:
    _, ours, _ = _run(capsys, "test", "--trials", str(TRIALS))
    for door in _doors(default_over_http):
        _, theirs, err = _run(capsys, "test", "--trials", str(TRIALS), *door)
        assert "failed to answer" not in err
        assert theirs["overall"] == ours["overall"], door
        for mine, other in zip(ours["scenarios"], theirs["scenarios"], strict=True):
            assert (other["pass_hat_k"], other["pass_hat_k_ci95"]) == (mine["pass_hat_k"], mine["pass_hat_k_ci95"])
            assert [t["actions"] for t in other["records"]] == [t["actions"] for t in mine["records"]]


def test_an_agent_replaying_the_default_scores_its_percent_of_oracle_through_each_door(
    capsys: pytest.CaptureFixture[str], default_over_http: str
) -> None:
    _, ours, _ = _run(capsys, "evaluate", "default", "--episodes", str(EPISODES))
    for door in _doors(default_over_http):
        _, theirs, _ = _run(capsys, "evaluate", "--episodes", str(EPISODES), *door)
        assert theirs["agent_failures"] == []
        assert theirs["overall"]["pct_of_oracle"] == ours["overall"]["pct_of_oracle"], door
        assert theirs["overall"]["mean_return"] == ours["overall"]["mean_return"], door


def _pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead but not yet reaped by its parent; ours reaps every child it starts
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("hang", "no answer within 1 s"),
        ("crash", "exited with status 3: bot.py: out of ideas"),
        ("garbage", "answered '<html>oops</html>', which is not JSON"),
        ("invalid", "answered strategy 99: valid are 0-7"),
    ],
)
def test_a_misbehaving_agent_fails_its_trials_with_the_reason_and_the_run_goes_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: str, reason: str
) -> None:
    pids = tmp_path / "pids"
    command = f"{sys.executable} {AGENTS / 'misbehaving.py'} {mode} {pids}"
    flags = ("--trials", "2", "--k", "1", "--industry", "bfsi", "--agent-timeout", "1")
    code, report, err = _run(capsys, "test", *flags, "--agent-cmd", command)
    assert code == 1  # thresholds missed, not a crash of ours
    records = [t for s in report["scenarios"] for t in s["records"]]
    assert len(records) == 2 * len([s for s in load_scenarios() if s.industry == "bfsi"])  # every trial was run
    failed = [t for t in records if t["outcome"] == "agent_failed"]
    assert failed and all(not t["passed"] and reason in t["reason"] for t in failed)
    assert all(t["reason"].startswith("the agent failed at turn 2") for t in failed)
    # trials that ended on the first turn (an escalation, say) never met the misbehaviour
    assert all(t["turns"] == 1 for t in records if t["outcome"] != "agent_failed")
    assert "failed to answer" in err and reason in err
    started = _pids(pids)
    assert started and not [pid for pid in started if _alive(pid)]  # no child outlives the command


def test_an_agent_that_hangs_in_evaluate_ends_its_conversations_unresolved(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    command = f"{sys.executable} {AGENTS / 'misbehaving.py'} invalid {tmp_path / 'pids'}"
    code, report, err = _run(capsys, "evaluate", "--episodes", "20", "--agent-cmd", command)
    assert code == 0
    assert report["overall"]["episodes"] == 20
    assert report["agent_failures"] and "strategy 99" in report["agent_failures"][0]
    assert "failed to answer" in err


def test_a_command_that_cannot_start_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(capsys, "test", "--agent-cmd", "/no/such/bot")
    assert code == 2 and "cannot be started" in err and "Traceback" not in err
    code, err = run_cli(capsys, "evaluate", "--agent", "ftp://x")
    assert code == 2 and "http:// or https://" in err
    code, err = run_cli(capsys, "evaluate", "baseline:random", "--agent", "http://127.0.0.1:9/")
    assert code == 2 and "name one agent" in err


def test_an_unreachable_url_fails_trials_not_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, err = _run(capsys, "test", "--trials", "1", "--k", "1", "--agent", "http://127.0.0.1:9/")
    assert "could not be reached" in err
    assert code == 1
    records = [t for s in report["scenarios"] for t in s["records"]]
    assert all(t["outcome"] == "agent_failed" and "could not be reached" in t["reason"] for t in records)


# -- the worked examples ------------------------------------------------------------------------
def _example_rule() -> object:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from jsonl_agent import choose  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    from cs_env.domain import STRATEGY_NAMES
    from cs_env.env import OBS_NAMES

    def one(obs: np.ndarray) -> int:
        return STRATEGY_NAMES.index(choose({"observation": obs.tolist(), "observation_names": list(OBS_NAMES)}))

    def policy(obs: np.ndarray) -> object:
        batch = np.asarray(obs, dtype=np.float64)
        return one(batch) if batch.ndim == 1 else np.array([one(row) for row in batch], dtype=np.int64)

    return policy


@pytest.fixture
def http_example() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "http_agent.py"), "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.kill()
        process.wait()


def test_the_worked_examples_score_what_their_rule_scores_in_process(
    capsys: pytest.CaptureFixture[str], http_example: str
) -> None:
    rule = _example_rule()
    scenario = next(s for s in load_scenarios() if s.name == "angry_dispute")
    expected = run_scenario(rule, scenario, TRIALS).pass_hat_k(TRIALS)
    expected_pct = evaluate(rule, episodes=EPISODES).pct_of_oracle
    jsonl = f"{sys.executable} {ROOT / 'examples' / 'jsonl_agent.py'}"
    for door in (("--agent", http_example), ("--agent-cmd", jsonl)):
        _, report, _ = _run(capsys, "test", "--trials", str(TRIALS), "--k", str(TRIALS), *door)
        ran = next(s for s in report["scenarios"] if s["scenario"] == "angry_dispute")
        assert ran["pass_hat_k"] == expected
        _, evaluated, _ = _run(capsys, "evaluate", "--episodes", str(EPISODES), *door)
        assert evaluated["overall"]["pct_of_oracle"] == expected_pct


# -- the interval ---------------------------------------------------------------------------------
def test_the_pass_hat_k_interval_holds_the_figure_and_narrows_with_more_trials() -> None:
    rule = _example_rule()
    scenarios = load_scenarios()[:6]
    few = [run_scenario(rule, s, 8) for s in scenarios]
    many = [run_scenario(rule, s, 64) for s in scenarios]
    for results in (few, many):
        low, high = pass_hat_k_interval(results, 4)
        figure = float(np.mean([r.pass_hat_k(4) for r in results]))
        assert low <= figure <= high
    assert np.subtract(*pass_hat_k_interval(many, 4)[::-1]) < np.subtract(*pass_hat_k_interval(few, 4)[::-1])
    assert pass_hat_k_interval(few, 4) == pass_hat_k_interval(few, 4)  # seeded: a report reads the same twice


def test_junit_carries_the_interval(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    junit = tmp_path / "report.xml"
    run_cli(capsys, "test", "--policy", "baseline:heuristic", "--trials", "4", "--junit", str(junit))
    suite = ET.parse(junit).getroot()
    names = {p.get("name"): p.get("value") or "" for p in suite.find("properties") or []}
    assert 0 <= float(names["pass_hat_k_ci95_low"]) <= float(names["pass_hat_k_ci95_high"]) <= 1
    for case in suite.iter("testcase"):
        if case.get("name") != "overall_thresholds":
            assert {p.get("name") for p in case.iter("property")} == {"pass_hat_k_ci95_low", "pass_hat_k_ci95_high"}


def test_the_agent_process_dies_with_the_command_even_on_kill_9(tmp_path: Path) -> None:
    import signal
    import time

    pids = tmp_path / "pids"
    bot = f"{sys.executable} {AGENTS / 'misbehaving.py'} hang {pids}"
    command = subprocess.Popen(
        [sys.executable, "-m", "cs_tui", "--saves", str(SAVES), "test", "--agent-cmd", bot, "--agent-timeout", "600"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not _pids(pids):  # the agent has started (and will hang on its second turn)
        assert time.monotonic() < deadline and command.poll() is None
        time.sleep(0.05)
    command.send_signal(signal.SIGKILL)  # no chance to clean up: the kernel must end the child
    command.wait()
    child = _pids(pids)[0]
    while _alive(child):
        assert time.monotonic() < deadline, "the agent process outlived the command"
        time.sleep(0.05)
