"""`cs-tui serve`: the real server (uvicorn on a loopback port) driven by real HTTP and WebSocket clients."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from cs_env import ENV_ID
from cs_env.domain import STRATEGY_NAMES
from cs_env.env import OBS_NAMES, CustomerSupportEnv
from cs_tui.server.limits import Limits
from cs_tui.server.run import ServeError, check_token
from tests.server_helpers import CEILING_S, Running, running_server

SAVES = Path(__file__).resolve().parents[1] / "saves"
TOKEN = "a-test-token-of-enough-length"


@pytest.fixture(scope="module")
def saves(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("served") / "saves"
    shutil.copytree(SAVES / "default", folder / "default")
    return folder


@pytest.fixture(scope="module")
def server(saves: Path) -> Iterator[Running]:
    with running_server(saves) as running:
        yield running


@pytest.fixture
def client(server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=CEILING_S) as c:
        yield c


def _wait_for(predicate: object, what: str) -> None:
    deadline = time.monotonic() + CEILING_S
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


# -- sessions --------------------------------------------------------------------------------------
def test_a_session_plays_exactly_the_env_python_plays(client: httpx.Client) -> None:
    created = client.post("/sessions", json={"industry": "retail", "max_turns": 6})
    assert created.status_code == 201 and created.json()["env_id"] == ENV_ID
    sid = created.json()["session"]
    options = {"sentiment": "angry", "tier": "vip", "urgency": 4}
    env = CustomerSupportEnv("retail", max_turns=6)
    obs, _ = env.reset(seed=11, options=options)
    reply = client.post(f"/sessions/{sid}/reset", json={"seed": 11, "options": options}).json()
    assert reply["observation"] == [float(x) for x in obs]
    for strategy in (0, "technical", 6, 6, 6, 6):
        if reply["terminated"] or reply["truncated"]:
            break
        obs, reward, terminated, truncated, info = env.step(
            strategy if isinstance(strategy, int) else STRATEGY_NAMES.index(strategy)
        )
        reply = client.post(f"/sessions/{sid}/step", json={"strategy": strategy}).json()
        assert reply["observation"] == [float(x) for x in obs]
        assert (reply["reward"], reply["terminated"], reply["truncated"]) == (reward, terminated, truncated)
        shown = {key: value for key, value in reply["info"].items() if not key.startswith("hidden_")}
        public = {key: value for key, value in env.named_info(info).items() if not key.startswith("hidden_")}
        assert shown == json.loads(json.dumps(public))  # names, as the protocol gives them
        # a remote agent is scored like ours: it sees the hidden truth only once the conversation is over
        hidden = {key for key in reply["info"] if key.startswith("hidden_")}
        if reply["terminated"] or reply["truncated"]:
            assert {"hidden_traits", "hidden_satisfaction", "hidden_offer_sold"} <= hidden
            assert reply["info"]["hidden_traits"] == json.loads(json.dumps(env.hidden_traits()))
        else:
            assert not hidden, hidden
    assert reply["terminated"] or reply["truncated"], "the conversation should have ended within six turns"
    state = client.get(f"/sessions/{sid}/state").json()
    assert state["done"] == (reply["terminated"] or reply["truncated"]) and state["steps"] >= 1
    assert client.delete(f"/sessions/{sid}").status_code == 204
    assert client.get(f"/sessions/{sid}/state").status_code == 404


def test_every_turn_has_a_text_view_and_the_respond_tool(client: httpx.Client) -> None:
    created = client.post("/sessions", json={"industry": "bfsi"}).json()
    tool = created["tool"]["function"]
    assert tool["name"] == "respond" and tool["parameters"]["required"] == ["strategy"]
    assert tool["parameters"]["properties"]["strategy"]["enum"] == list(STRATEGY_NAMES)
    sid = created["session"]
    env = CustomerSupportEnv("bfsi")
    info = env.named_info(env.reset(seed=5)[1])
    first = client.post(f"/sessions/{sid}/reset", json={"seed": 5, "view": "text"}).json()
    assert "observation" not in first
    assert first["text"]["customer_says"] == env.conversation()[0].text
    assert first["text"]["facts"]["inquiry_type"] == info["inquiry_type"]
    assert first["text"]["facts"]["tier"] == info["tier"]
    env.step(0)
    turn = client.post(f"/sessions/{sid}/step", json={"strategy": "empathetic", "message": "I hear you."}).json()
    exchange = env.conversation()[1][-1]
    assert turn["text"]["customer_says"] == exchange.customer.text
    assert turn["text"]["agent_said"] == exchange.agent.text
    assert turn["text"]["facts"]["sentiment"] in ("angry", "frustrated", "neutral", "satisfied", "delighted")
    assert client.get(f"/sessions/{sid}/state").json()["messages"] == ["I hear you."]


def test_a_websocket_session_lives_as_long_as_its_socket(server: Running, client: httpx.Client) -> None:
    before = client.get("/sessions").json()["count"]
    with connect(f"{server.ws_url}/sessions/ws?industry=tech") as ws:
        hello = json.loads(ws.recv())
        assert hello["type"] == "session" and hello["industry"] == "tech"
        assert client.get("/sessions").json()["count"] == before + 1
        ws.send(json.dumps({"type": "reset", "seed": 2}))
        reset = json.loads(ws.recv())
        env = CustomerSupportEnv("tech")
        assert reset["observation"] == [float(x) for x in env.reset(seed=2)[0]]
        ws.send(json.dumps({"type": "step", "strategy": "technical"}))
        assert json.loads(ws.recv())["observation"] == [float(x) for x in env.step(1)[0]]
        ws.send('{"type": "step", "strategy": 1, "extra": true}')
        error = json.loads(ws.recv())
        assert error["type"] == "error" and error["status"] == 422 and error["detail"][0]["field"] == "step.extra"
        ws.send("not json")
        assert json.loads(ws.recv())["status"] == 422  # the socket stays open after a bad message
    _wait_for(lambda: client.get("/sessions").json()["count"] == before, "the session ends with its socket")


def test_an_http_session_takes_one_websocket_and_outlives_it(server: Running, client: httpx.Client) -> None:
    sid = client.post("/sessions", json={}).json()["session"]
    with connect(f"{server.ws_url}/sessions/{sid}/ws") as ws:
        json.loads(ws.recv())
        with pytest.raises((InvalidStatus, ConnectionClosed)), connect(f"{server.ws_url}/sessions/{sid}/ws") as second:
            second.recv()
        ws.send(json.dumps({"type": "reset", "seed": 1}))
        assert json.loads(ws.recv())["type"] == "reset"
    assert client.get(f"/sessions/{sid}/state").json()["episodes"] == 1
    client.delete(f"/sessions/{sid}")


def test_many_websocket_sessions_at_once(server: Running) -> None:
    def play(seed: int) -> list[float]:
        with connect(f"{server.ws_url}/sessions/ws") as ws:
            ws.recv()
            ws.send(json.dumps({"type": "reset", "seed": seed, "view": "numeric"}))
            assert json.loads(ws.recv())["type"] == "reset"
            rewards, done = [], False
            while not done:
                ws.send(json.dumps({"type": "step", "strategy": 6, "view": "numeric"}))
                turn = json.loads(ws.recv())
                rewards.append(turn["reward"])
                done = turn["terminated"] or turn["truncated"]
            return rewards

    with ThreadPoolExecutor(16) as pool:
        served = list(pool.map(play, range(16)))
    for seed, rewards in enumerate(served):
        env = CustomerSupportEnv()
        env.reset(seed=seed)
        expected, done = [], False
        while not done:
            _, reward, terminated, truncated, _ = env.step(6)
            expected.append(reward)
            done = terminated or truncated
        assert rewards == expected, (seed, len(rewards), len(expected), rewards, expected)


# -- bad input: a 4xx naming the field, never a 500 or a traceback --------------------------------
@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("step", '{"strategy": 9}', 422, "strategy"),
        ("step", '{"strategy": "shout"}', 422, "strategy"),
        ("step", '{"strategy": NaN}', 422, "strategy"),
        ("step", '{"strategy": 1e999}', 422, "strategy"),
        ("step", '{"strategy": 1, "mood": "happy"}', 422, "mood"),
        ("step", '{"strategy": 1, "message": ' + json.dumps("x" * 3000) + "}", 422, "message"),
        ("step", "{not json", 422, "body"),
        ("step", "[1, 2]", 422, "body"),
        ("reset", '{"seed": 99999999999999999999999}', 422, "seed"),
        ("reset", '{"seed": -1}', 422, "seed"),
        ("reset", '{"seed": "7"}', 422, "seed"),
        ("reset", '{"options": {"inquiry": "order_status"}}', 422, "options"),
        ("reset", '{"options": {"patience": 2}}', 422, "options.patience"),
        ("reset", '{"options": {"mood": 1}}', 422, "options.mood"),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_field(
    client: httpx.Client, path: str, body: str, status: int, field: str
) -> None:
    sid = client.post("/sessions", json={"industry": "bfsi"}).json()["session"]
    client.post(f"/sessions/{sid}/reset", json={"seed": 0})
    response = client.post(f"/sessions/{sid}/{path}", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert field in [d["field"] for d in response.json()["detail"]]
    assert "Traceback" not in response.text and "x" * 100 not in response.text  # the input is not echoed
    client.delete(f"/sessions/{sid}")


def test_runs_and_models_are_named_never_paths(client: httpx.Client, saves: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    shutil.copytree(saves / "default", outside)
    (saves / "linked").symlink_to(outside)
    try:
        for path in ("/models/..%2F..%2Fetc/evaluate", "/models/%2Fetc%2Fpasswd/predict"):
            assert 400 <= client.post(path, json={}).status_code < 500
        linked = client.post("/models/linked/predict", json={"observations": [[0.0] * len(OBS_NAMES)]})
        assert linked.status_code == 404 and "outside" in linked.text
        assert client.get("/training/sessions/nosuch/metrics").status_code == 404
        assert [m["name"] for m in client.get("/models").json()] == ["default"]
    finally:
        (saves / "linked").unlink()


# -- the seed's REST surface --------------------------------------------------------------------------
def test_models_predict_and_evaluate_as_the_core_does(client: httpx.Client, saves: Path) -> None:
    from cs_env.evaluate import evaluate
    from cs_tui.agents import load_agent

    agent = load_agent("default", saves=saves)
    env = CustomerSupportEnv()
    observations = [env.reset(seed=s)[0] for s in range(20)]
    predicted = client.post("/models/default/predict", json={"observations": [o.tolist() for o in observations]})
    assert predicted.json()["actions"] == [int(a) for a in agent(np.asarray(observations))]
    report = client.post("/models/default/evaluate", json={"episodes": 50, "seed": 3}).json()
    assert report["overall"]["pct_of_oracle"] == evaluate(agent, episodes=50, seed=3).pct_of_oracle
    assert client.post("/models/default/evaluate", json={"episodes": 10**9}).status_code == 422
    assert client.get("/health").json()["status"] == "healthy"
    assert client.get("/config").json()["env_id"] == ENV_ID
    overview = client.get("/analytics/overview").json()
    assert overview["best_model"]["name"] == "default"
    metrics = client.get("/training/sessions/default/metrics").json()
    assert metrics["records"] and metrics["next_offset"] > 0
    more = client.get("/training/sessions/default/metrics", params={"offset": metrics["next_offset"]}).json()
    assert more["next_offset"] >= metrics["next_offset"]
    assert (
        client.get("/docs").status_code == 200
        and "/sessions/{session_id}/step" in client.get("/openapi.json").json()["paths"]
    )


def test_training_starts_streams_events_and_stops(tmp_path: Path) -> None:
    saves = tmp_path / "saves"
    saves.mkdir()
    with (
        running_server(saves, limits=Limits(max_concurrent_trainings=1)) as server,
        httpx.Client(base_url=server.url, timeout=CEILING_S) as client,
        connect(f"{server.ws_url}/ws/events") as events,
    ):
        assert json.loads(events.recv())["type"] == "system_alert"
        started = client.post("/training/start", json={"name": "tiny", "timesteps": 10_000_000 // 10, "seed": 1})
        assert started.status_code == 202
        second = client.post("/training/start", json={"name": "other", "timesteps": 100})
        assert second.status_code == 429 and "trainings" in second.text
        assert client.post("/training/start", json={"name": "tiny"}).status_code == 409
        seen = set()
        while "running" not in seen:  # the events stream follows the run (a ceiling: the recv timeout)
            event = json.loads(events.recv(timeout=CEILING_S * 3))
            if event.get("run") == "tiny":
                seen.add(event["status"])
        stop = client.post("/training/sessions/tiny/stop").json()
        assert stop["stop"] == "signalled"
        _wait_for(
            lambda: client.get("/training/sessions").json()[0]["status"] == "interrupted", "the run is interrupted"
        )


# -- security --------------------------------------------------------------------------------------
def test_binding_beyond_loopback_requires_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CS_TUI_TOKEN", raising=False)
    with pytest.raises(ServeError, match="token"):
        check_token("0.0.0.0", None)
    with pytest.raises(ServeError, match="16 characters"):
        check_token("0.0.0.0", "short")
    assert check_token("127.0.0.1", None) is None
    monkeypatch.setenv("CS_TUI_TOKEN", TOKEN)
    assert check_token("0.0.0.0", None) == TOKEN


def test_a_token_guards_every_request_and_websocket(saves: Path) -> None:
    with running_server(saves, token=TOKEN) as server:
        assert httpx.get(f"{server.url}/health").status_code == 401
        assert httpx.get(f"{server.url}/docs").status_code == 401
        assert httpx.get(f"{server.url}/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{server.url}/health", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        with pytest.raises((InvalidStatus, ConnectionClosed)), connect(f"{server.ws_url}/sessions/ws") as ws:
            ws.recv()
        with connect(f"{server.ws_url}/sessions/ws?token={TOKEN}") as ws:
            assert json.loads(ws.recv())["type"] == "session"


def test_bounded_sessions_steps_bodies_and_rates(saves: Path) -> None:
    limits = Limits(max_sessions=3, max_steps_per_session=2, max_body_bytes=1000, rate_per_s=5, burst=40)
    with running_server(saves, limits=limits) as server, httpx.Client(base_url=server.url) as client:
        sids = [client.post("/sessions", json={}).json()["session"] for _ in range(3)]
        full = client.post("/sessions", json={})
        assert full.status_code == 429 and full.json()["detail"][0]["field"] == "sessions"
        client.post(f"/sessions/{sids[0]}/reset", json={"seed": 0, "options": {"patience": 1.0}})
        statuses = [client.post(f"/sessions/{sids[0]}/step", json={"strategy": 0}).status_code for _ in range(3)]
        assert statuses[-1] in (409, 429)  # ended, or out of steps: never a third step
        big = client.post(f"/sessions/{sids[1]}/step", content=b"{" + b" " * 2000 + b"}")
        assert big.status_code == 413
        flood = [client.get("/health").status_code for _ in range(60)]
        assert 429 in flood  # a burst of 40 then 5 a second: the flood is refused, not queued


def test_idle_sessions_are_closed(saves: Path) -> None:
    with (
        running_server(saves, limits=Limits(idle_timeout_s=0.2)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        sid = client.post("/sessions", json={}).json()["session"]
        _wait_for(lambda: client.get("/sessions").json()["count"] == 0, "the idle session is closed")
        assert client.post(f"/sessions/{sid}/reset", json={}).status_code == 404


def test_a_websocket_flood_gets_429s_and_a_body_must_say_its_length(saves: Path) -> None:
    with running_server(saves, limits=Limits(rate_per_s=1, burst=10)) as server:
        with connect(f"{server.ws_url}/sessions/ws") as ws:
            ws.recv()
            for _ in range(30):
                ws.send('{"type": "state"}')
            replies = [json.loads(ws.recv()) for _ in range(30)]
        refused = [r for r in replies if r["type"] == "error"]
        assert refused and all(r["status"] == 429 for r in refused)
        assert any(r["type"] == "state" for r in replies)  # the first ones were served
    with running_server(saves) as server, httpx.Client(base_url=server.url) as client:
        chunked = client.post("/sessions", content=iter([b"{", b"}"]))
        assert chunked.status_code == 411


def test_no_body_makes_the_server_fail(client: httpx.Client) -> None:
    """Whatever JSON arrives (any shape, any type, huge or odd numbers), the answer is a 2xx or a 4xx."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    sid = client.post("/sessions", json={}).json()["session"]
    client.post(f"/sessions/{sid}/reset", json={"seed": 0})
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["strategy", "seed", "options", "view", "message", "type", "tier", "x"]), inner, max_size=4
    ), max_leaves=12)  # fmt: skip
    paths = st.sampled_from(
        [
            f"/sessions/{sid}/step",
            f"/sessions/{sid}/reset",
            "/sessions",
            "/models/default/predict",
            "/training/start",
        ]  # fmt: skip  (no body names a run: "name" is not among the keys drawn)
    )

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(paths, values)
    def check(path: str, body: object) -> None:
        text = json.dumps(body, allow_nan=True)  # NaN and Infinity too, as a careless client sends them
        response = client.post(path, content=text, headers={"content-type": "application/json"})
        assert response.status_code < 500, (path, text, response.text)
        assert "Traceback" not in response.text
        if response.status_code == 201:  # a session was made: do not let them pile up to the limit
            client.delete(f"/sessions/{response.json()['session']}")

    check()
    client.delete(f"/sessions/{sid}")


def test_a_server_with_lower_limits_holds_them_naming_the_field(saves: Path) -> None:
    limits = Limits(max_eval_episodes=10, max_predict_rows=2, max_message_chars=5, max_train_timesteps=100)
    with running_server(saves, limits=limits) as server, httpx.Client(base_url=server.url) as client:
        row = [0.0] * len(OBS_NAMES)
        asks = [
            ("/models/default/evaluate", {"episodes": 11}, "episodes"),
            ("/models/default/predict", {"observations": [row] * 3}, "observations"),
            ("/training/start", {"name": "big", "timesteps": 101}, "timesteps"),
        ]
        sid = client.post("/sessions", json={}).json()["session"]
        client.post(f"/sessions/{sid}/reset", json={})
        asks.append((f"/sessions/{sid}/step", {"strategy": 0, "message": "too long"}, "message"))
        for path, body, field in asks:
            response = client.post(path, json=body)
            assert response.status_code == 422 and response.json()["detail"][0]["field"] == field, path
            assert "at most" in response.text
        assert not (saves / "big").exists()
