"""The seed prototype's REST surface, on our run folders: models, training runs, analytics, config, health.

Models and runs are named, never given as paths (:mod:`cs_tui.training.named`). Evaluations and
predictions load models through the safe loader and run off the event loop, at most
``max_concurrent_evaluations`` at once (more: 429); trainings are ``cs-tui train`` processes started as
the app starts them (:mod:`cs_tui.launcher`), at most ``max_concurrent_trainings`` at once.
``/ws/events`` pushes ``training_update`` (a run's status or progress changed), ``model_update`` (an
evaluation finished) and ``system_alert`` messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, Query, WebSocket, WebSocketDisconnect
from pydantic import Field

from cs_env import ENV_ID
from cs_env.domain import STRATEGY_NAMES
from cs_env.env import OBS_NAMES, valid_industries
from cs_tui import __version__
from cs_tui.seeds import MAX_SEED
from cs_tui.server.app import Strict
from cs_tui.server.limits import Limits, check_at_most
from cs_tui.server.sessions import SessionError, SessionStore
from cs_tui.training.named import named_model, named_run, run_names
from cs_tui.training.registry import ALGORITHMS, RUN_NAME, RUN_NAME_RULE
from cs_tui.training.run_record import RunError, RunStatus
from cs_tui.training.runs import METRICS_FILE, Run, parse_jsonl

#: The most bytes of metrics one request reads (clients follow with ``offset``).
METRICS_CHUNK = 256 * 1024
#: Loaded models kept in memory for predictions.
CACHED_MODELS = 4
#: How often run folders are looked at for ``training_update`` events.
EVENTS_EVERY_S = 1.0


class Evaluate(Strict):
    industry: str | None = Field(None, max_length=40, description="default: the model's training industry")
    episodes: int = Field(500, ge=2, le=Limits().max_eval_episodes)
    seed: int = Field(0, ge=0, le=MAX_SEED)


class Predict(Strict):
    observations: list[list[float]] = Field(max_length=Limits().max_predict_rows)


class TrainStart(Strict):
    algorithm: str = Field("ppo", max_length=20)
    industry: str = Field("mixed", max_length=40)
    timesteps: int = Field(50_000, ge=1, le=Limits().max_train_timesteps)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    name: str = Field(max_length=100, description=RUN_NAME_RULE)


def _named(kind: str, name: str, saves: Path, model: bool = False) -> Path:
    if not RUN_NAME.fullmatch(name):
        raise SessionError(422, "name", f"{name[:40]!r} is not a {kind} name ({RUN_NAME_RULE})")
    try:
        return named_model(name, saves) if model else named_run(name, saves)
    except RunError as exc:
        raise SessionError(404, "name", str(exc)) from None


def _summary(run: Run) -> dict[str, Any]:
    try:
        record = run.record()
    except RunError as exc:
        return {"name": run.name, "status": RunStatus.BROKEN.value, "error": str(exc)}
    best = record.best_eval
    return {
        "name": run.name,
        "status": str(run.status),
        "algorithm": record.algorithm,
        "industry": record.industry,
        "progress": record.progress(),
        "timesteps_done": record.timesteps_done,
        "total_timesteps": record.total_timesteps,
        "created_at": record.created_at,
        "best_pct_of_oracle": best.pct_of_oracle if best else None,
        "has_model": any((run.path / f).is_file() for f in ("best.zip", "model.zip")),
    }


class Events:
    """The ``/ws/events`` subscribers and what they are sent."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queues: set[asyncio.Queue[dict[str, Any]]] = set()

    def publish(self, event: dict[str, Any]) -> None:
        for queue in list(self.queues):
            with contextlib.suppress(asyncio.QueueFull):  # a slow reader loses events, not the server memory
                queue.put_nowait(event)


def add_rest_routes(app: FastAPI, saves: Path, limits: Limits, store: SessionStore) -> None:
    """Add the seed's REST routes and ``/ws/events`` to ``app``."""
    evaluations = asyncio.Semaphore(limits.max_concurrent_evaluations)
    launched: dict[str, Any] = {}
    models: OrderedDict[tuple[str, float], Any] = OrderedDict()
    events = Events(limits.max_event_clients)

    def runs() -> list[Run]:
        return [Run(saves / name) for name in run_names(saves)]

    def load(path: Path, industry: str = "mixed") -> Any:
        from cs_tui.agents import load_agent

        key = (str(path), path.stat().st_mtime)
        if key not in models:
            models[key] = load_agent(str(path), industry=industry)
            while len(models) > CACHED_MODELS:
                models.popitem(last=False)
        models.move_to_end(key)
        return models[key]

    @app.get("/health", tags=["system"])
    def health() -> dict[str, Any]:
        """Whether the server answers, and what it holds."""
        return {"status": "healthy", "version": __version__, "env_id": ENV_ID, "sessions": len(store)}

    @app.get("/config", tags=["system"])
    def config() -> dict[str, Any]:
        """The env, the valid choices and the server's limits."""
        return {
            "env_id": ENV_ID,
            "industries": list(valid_industries()),
            "strategies": list(STRATEGY_NAMES),
            "observation_names": list(OBS_NAMES),
            "algorithms": list(ALGORITHMS),
            "limits": limits.as_dict(),
        }

    @app.get("/models", tags=["models"])
    def list_models() -> list[dict[str, Any]]:
        """Runs that hold a trained model."""
        return [s for s in (_summary(r) for r in runs()) if s.get("has_model")]

    @app.post("/models/{name}/evaluate", tags=["models"])
    async def evaluate_model(name: str, body: Evaluate | None = None) -> dict[str, Any]:
        """Business metrics of a model (as ``cs-tui evaluate --json``)."""
        body = body or Evaluate.model_validate({})
        check_at_most("episodes", body.episodes, limits.max_eval_episodes)
        path = _named("model", name, saves, model=True)
        if evaluations.locked():
            raise SessionError(429, "evaluations", f"{limits.max_concurrent_evaluations} evaluation(s) already run")

        def work() -> dict[str, Any]:
            from cs_env.evaluate import evaluate
            from cs_tui.training.model_file.format import ModelLoadError

            try:
                agent = load(path)
                industry = body.industry or str(agent.meta.get("industry") or "mixed")
                max_turns = int(agent.meta.get("max_turns") or 10)
                report = evaluate(agent, industry=industry, episodes=body.episodes, seed=body.seed, max_turns=max_turns)
            except (ModelLoadError, ValueError) as exc:
                raise SessionError(422, "industry" if "industry" in str(exc) else "name", str(exc)) from None
            return report.as_dict()

        async with evaluations:
            report = await asyncio.to_thread(work)
        events.publish({"type": "model_update", "model": name, "pct_of_oracle": report["overall"]["pct_of_oracle"]})
        return {"model": name, **report}

    @app.post("/models/{name}/predict", tags=["models"])
    async def predict(name: str, body: Predict) -> dict[str, Any]:
        """The model's strategy (and action values) for each observation."""
        check_at_most("observations", len(body.observations), limits.max_predict_rows)
        path = _named("model", name, saves, model=True)
        size = len(OBS_NAMES)
        for i, row in enumerate(body.observations):
            if len(row) != size:
                raise SessionError(422, f"observations.{i}", f"expected {size} numbers ({', '.join(OBS_NAMES)})")

        def work() -> dict[str, Any]:
            from cs_tui.training.model_file.format import ModelLoadError

            try:
                agent = load(path)
            except (ModelLoadError, ValueError) as exc:
                raise SessionError(422, "name", str(exc)) from None
            if agent.needs_episodes:
                raise SessionError(422, "name", "this model remembers conversations: play it through a session")
            batch = np.asarray(body.observations, dtype=np.float32).reshape(-1, size)
            values = agent.action_values(batch)
            actions = np.argmax(values.values, axis=-1)
            return {
                "model": name,
                "actions": [int(a) for a in actions],
                "strategies": [STRATEGY_NAMES[int(a)] for a in actions],
                "values_kind": values.kind,
                "values": np.asarray(values.values, dtype=np.float64).round(6).tolist(),
            }

        if evaluations.locked():
            raise SessionError(429, "evaluations", "an evaluation is running: try again shortly")
        async with evaluations:
            return await asyncio.to_thread(work)

    @app.get("/training/sessions", tags=["training"])
    def list_runs() -> list[dict[str, Any]]:
        """Every run in the saves folder, with its status and progress."""
        return [_summary(r) for r in runs()]

    def training_count() -> int:
        alive = {r.name for r in runs() if r.status == RunStatus.RUNNING}
        starting = {n for n, item in launched.items() if item.process.poll() is None}
        return len(alive | starting)

    @app.post("/training/start", status_code=202, tags=["training"])
    def start_training(body: TrainStart) -> dict[str, Any]:
        """Start ``cs-tui train`` as its own process (it outlives neither its run folder nor a stop)."""
        from cs_tui import launcher

        if not RUN_NAME.fullmatch(body.name):
            raise SessionError(422, "name", f"{body.name[:40]!r} is not a run name ({RUN_NAME_RULE})")
        check_at_most("timesteps", body.timesteps, limits.max_train_timesteps)
        if body.algorithm not in ALGORITHMS:
            valid = ", ".join(ALGORITHMS)
            raise SessionError(422, "algorithm", f"unknown algorithm {body.algorithm!r}; valid: {valid}")
        if body.industry not in valid_industries():
            raise SessionError(
                422, "industry", f"unknown industry {body.industry!r}; valid: {', '.join(valid_industries())}"
            )
        if os.path.lexists(saves / body.name) or body.name in launched:
            raise SessionError(409, "name", f"a run {body.name!r} exists already: choose another name")
        if training_count() >= limits.max_concurrent_trainings:
            raise SessionError(429, "trainings", f"{limits.max_concurrent_trainings} trainings run already")
        argv = ["--saves", str(saves.absolute()), "train", "--algorithm", body.algorithm, "--industry",
                body.industry, "--timesteps", str(body.timesteps), "--seed", str(body.seed), "--name", body.name,
                "--quiet"]  # fmt: skip
        try:
            launched[body.name] = launcher.launch(saves, body.name, argv)
        except OSError as exc:
            raise SessionError(503, "training", f"cannot start training: {exc.strerror or exc}") from None
        events.publish({"type": "training_update", "run": body.name, "status": "starting"})
        return {"run": body.name, "status": "starting"}

    @app.post("/training/sessions/{name}/stop", tags=["training"])
    def stop_training(name: str) -> dict[str, Any]:
        """Ask a run's trainer to stop (it checkpoints and is recorded interrupted: resumable)."""
        from cs_tui import launcher

        run = Run(_named("run", name, saves))
        try:
            outcome = launcher.stop_run(run, launched.get(name))
        except OSError as exc:
            raise SessionError(409, "name", f"cannot signal run {name!r}: {exc.strerror or exc}") from None
        return {"run": name, "stop": str(outcome)}

    @app.get("/training/sessions/{name}/metrics", tags=["training"])
    def metrics(name: str, offset: Annotated[int, Query(ge=0, le=2**62)] = 0) -> dict[str, Any]:
        """The run's metrics records from byte ``offset`` on (at most a chunk; follow with ``next_offset``)."""
        folder = _named("run", name, saves)
        try:
            with open(folder / METRICS_FILE, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                start = 0 if offset > size else offset
                f.seek(start)
                records, used = parse_jsonl(f.read(METRICS_CHUNK))
        except FileNotFoundError:
            records, start, used, size = [], 0, 0, 0
        return {"run": name, "records": records, "next_offset": start + used, "size": size}

    @app.get("/analytics/overview", tags=["analytics"])
    def overview() -> dict[str, Any]:
        """Runs by status, models, the best model so far, and live sessions."""
        summaries = [_summary(r) for r in runs()]
        by_status: dict[str, int] = {}
        for s in summaries:
            by_status[s["status"]] = by_status.get(s["status"], 0) + 1
        scored = [s for s in summaries if s.get("best_pct_of_oracle") is not None]
        best = max(scored, key=lambda s: s["best_pct_of_oracle"], default=None)
        return {
            "runs": len(summaries),
            "runs_by_status": by_status,
            "models": sum(bool(s.get("has_model")) for s in summaries),
            "best_model": {"name": best["name"], "pct_of_oracle": best["best_pct_of_oracle"]} if best else None,
            "sessions": len(store),
            "trainings_running": training_count(),
        }

    @app.websocket("/ws/events")
    async def event_stream(websocket: WebSocket) -> None:
        """``training_update``, ``model_update`` and ``system_alert`` events as they happen."""
        if len(events.queues) >= events.limit:
            await websocket.close(code=1013, reason=f"at most {events.limit} event listeners")
            return
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)
        events.queues.add(queue)
        await websocket.accept()
        seen: dict[str, tuple[str, float]] = {}

        async def watch() -> None:
            while True:
                for s in await asyncio.to_thread(lambda: [_summary(r) for r in runs()]):
                    now = (s["status"], round(float(s.get("progress") or 0), 3))
                    if seen.get(s["name"]) != now:
                        seen[s["name"]] = now
                        queue.put_nowait({"type": "training_update", "run": s["name"], "status": now[0],
                                          "progress": now[1]})  # fmt: skip
                await asyncio.sleep(EVENTS_EVERY_S)

        async def closed() -> None:
            with contextlib.suppress(WebSocketDisconnect):
                while True:
                    await websocket.receive_text()  # the client says nothing; this notices it leave

        watcher, listener = asyncio.create_task(watch()), asyncio.create_task(closed())
        try:
            await websocket.send_json({"type": "system_alert", "message": f"connected to cs-tui {__version__}"})
            while not listener.done():
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, listener}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    await websocket.send_json(getter.result())
                else:
                    getter.cancel()
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            watcher.cancel()
            listener.cancel()
            events.queues.discard(queue)
