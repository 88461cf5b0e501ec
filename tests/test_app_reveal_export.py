"""The play pane's reveal after a conversation (issue 27 item 4) and the app's export of a play session and a
scenario run (item 6): driven by keys, read from the screen and from the files written."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from app_helpers import PaneApp, screen_text, wait_for, wait_for_toast
from test_app_play import SEED, finish, make_app, ready, settle
from textual.widgets import Input, Select

from cs_env.scenarios import load_scenarios
from cs_tui.export import EXPORTS_DIR, FORMAT, SCENARIO_COLUMNS
from cs_tui.play_session import SESSION_COLUMNS, Conversation
from cs_tui.screens.play_phase import Live, Phase, Reviewing
from cs_tui.screens.scenarios import ScenariosScreen
from cs_tui.widgets.transcript import Transcript


def arrival(seed: int) -> dict[str, Any]:
    """The customer of ``seed`` as they arrive, read straight from a fresh env's hidden state."""
    s = Conversation(industry="mixed", max_turns=10, seed=seed).env.hidden_state
    return {"complexity": s.complexity, "savvy": s.savvy, "openness": s.openness, "patience": s.patience}


async def test_the_customer_is_revealed_when_the_conversation_ends_for_both_sides(tmp_path: Path) -> None:
    app = make_app(tmp_path, opponent="baseline:heuristic")
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await ready(pilot)
        await pilot.press("4")  # an offer first: the reveal says whether it sold
        assert isinstance(screen.state, Live)
        assert "revealed" not in screen.query_one(Transcript).plain  # hidden while the conversation goes on
        await finish(pilot, screen)
        state = screen.state
        assert isinstance(state, Reviewing) and state.agent is not None
        human, agent = state.human, state.agent
        truth = arrival(SEED)
        text = " ".join(screen_text(app).split())
        assert (
            f"the customer, revealed: complexity {truth['complexity']:.2f} · savvy {truth['savvy']:.2f} · "
            f"openness {truth['openness']:.2f} · patience {truth['patience']:.2f}"
        ) in text
        assert human.traits is not None and agent.traits is not None
        sold = "sold" if human.turns[0].sold else "not sold"
        assert f"you: product_recommend (turn 1) {sold}" in text
        assert f"patience left {human.traits['patience_left']:.2f}" in text
        assert f"heuristic: {'no offer' if not any(t.sold is not None for t in agent.turns) else ''}" in text
        await pilot.press("v")  # the opponent's conversation carries the same reveal
        assert "the customer, revealed: complexity" in screen.query_one(Transcript).plain


def test_leaving_a_conversation_reveals_the_customer_too() -> None:
    c = Conversation(industry="mixed", max_turns=10, seed=SEED)
    c.play(0)
    assert c.episode.traits is None
    c.leave()
    assert c.episode.outcome == "left" and c.episode.traits is not None
    assert c.episode.traits["patience"] == arrival(SEED)["patience"]


def read_export(folder: Path, prefix: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    (json_path,) = folder.glob(f"{prefix}-*.json")
    (csv_path,) = folder.glob(f"{prefix}-*.csv")
    assert json_path.stem == csv_path.stem
    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return json.loads(json_path.read_text()), rows


async def test_e_exports_the_session_with_both_sides_moves_and_the_reveal(tmp_path: Path) -> None:
    app = make_app(tmp_path, opponent="baseline:heuristic")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await ready(pilot)
        await pilot.press("e")
        await wait_for_toast(pilot, "Nothing to export yet")
        await finish(pilot, screen, key="6")
        await pilot.press("enter")
        await pilot.press("4")
        await finish(pilot, screen, key="7")
        await pilot.press("e")
        toast = await wait_for_toast(pilot, "Exported 2 conversations to")
        assert str(tmp_path / EXPORTS_DIR) in toast and ".csv" in toast
        played = list(screen.session)
    document, rows = read_export(tmp_path / EXPORTS_DIR, "session")
    assert (document["format"], document["version"], document["kind"]) == (FORMAT, 1, "play-session")
    assert document["columns"] == SESSION_COLUMNS
    conversations = document["conversations"]
    assert [c["seed"] for c in conversations] == [SEED, SEED + 1]
    for record, (human, agent) in zip(conversations, played, strict=True):
        you, them = record["players"]
        assert (you["player"], them["player"]) == ("you", "heuristic")
        assert [t["strategy"] for t in you["turns"]] == [s for s in _names(human.actions)]
        assert [t["strategy"] for t in them["turns"]] == [s for s in _names(agent.actions)]
        assert you["outcome"] == human.outcome and them["return"] == agent.total_return
        truth = arrival(record["seed"])
        assert {k: record["reveal"][k] for k in truth} == truth
        assert record["reveal"]["needs_specialist"] == human.needs_specialist
    assert conversations[1]["players"][0]["offers"][0]["strategy"] == "product_recommend"
    assert conversations[1]["players"][0]["offers"][0]["sold"] in (True, False)
    # the CSV: the JSON's columns, one row per turn of either side
    assert list(rows[0]) == list(SESSION_COLUMNS)
    assert len(rows) == sum(len(h.turns) + len(a.turns) for h, a in played if a is not None)
    first = next(r for r in rows if r["conversation"] == "2" and r["player"] == "you" and r["turn"] == "1")
    assert first["strategy"] == "product_recommend" and first["offer_sold"] in ("true", "false")
    assert first["complexity"] == repr(arrival(SEED + 1)["complexity"])


def _names(actions: list[int]) -> list[str]:
    from cs_env.domain import STRATEGY_NAMES

    return [STRATEGY_NAMES[a] for a in actions]


async def test_an_export_that_cannot_be_written_says_why_and_the_app_goes_on(tmp_path: Path) -> None:
    (tmp_path / EXPORTS_DIR).write_text("a file where the exports folder would go\n")
    app = make_app(tmp_path, opponent="baseline:heuristic")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await ready(pilot)
        await finish(pilot, screen)
        await pilot.press("e")
        toast = await wait_for_toast(pilot, "Not exported", "Could not export 1 conversation")
        assert str(tmp_path / EXPORTS_DIR) in toast and "exists" in toast.lower()
        assert app.is_running
        await pilot.press("enter")  # the pane goes on: the next customer
        await wait_for(pilot, lambda: screen.phase is Phase.LIVE)
        await settle(pilot)
    assert (tmp_path / EXPORTS_DIR).is_file()  # and nothing was half-written beside it
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


async def test_e_in_the_scenarios_pane_exports_the_last_run(tmp_path: Path) -> None:
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        screen.query_one("#policy", Select).value = "baseline:heuristic"
        screen.query_one("#trials", Input).value = "2"
        screen.query_one("#k", Input).value = "2"
        screen.query_one("#scenario-table").focus()
        await pilot.press("e")
        await wait_for_toast(pilot, "Nothing to export yet: run the catalog first")
        await pilot.press("r")
        catalog = load_scenarios()
        await wait_for(pilot, lambda: not screen.running and len(screen.results) == len(catalog), timeout=120)
        await pilot.press("e")
        await wait_for_toast(pilot, f"Exported the run of {len(catalog)} scenarios to")
        results = dict(screen.results)
    document, rows = read_export(tmp_path / EXPORTS_DIR, "scenarios")
    assert (document["kind"], document["policy"]) == ("scenario-run", "baseline:heuristic")
    assert document["settings"] == {"trials": 2, "k": 2, "seed": 0}
    assert [s["scenario"] for s in document["scenarios"]] == [s.name for s in catalog]
    for entry in document["scenarios"]:
        assert entry["passes"] == results[entry["scenario"]].passes and len(entry["records"]) == 2
    assert list(rows[0]) == list(SCENARIO_COLUMNS) and len(rows) == 2 * len(catalog)
    row = rows[0]
    trial = results[row["scenario"]].trials[0]
    assert row["passed"] == ("true" if trial.passed else "false") and int(row["seed"]) == trial.seed
    assert row["strategies"] == ";".join(_names(list(trial.actions)))


async def test_w_in_the_models_pane_exports_the_highlighted_evaluation(tmp_path: Path) -> None:
    from cs_tui.screens.models import EvalSettings, ModelsScreen

    app = PaneApp(tmp_path, ModelsScreen)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        screen.query_one("#episodes", Input).value = "50"
        table = screen.query_one("#models")
        table.focus()
        await wait_for(pilot, lambda: screen.entries[1].name == "heuristic")
        table.move_cursor(row=1)  # type: ignore[attr-defined]
        await pilot.press("w")
        await wait_for_toast(pilot, "Evaluate heuristic first (e)")
        await pilot.press("e")
        key = ("baseline:heuristic", EvalSettings("mixed", 50))
        await wait_for(pilot, lambda: key in screen.reports)
        await pilot.press("w")
        await wait_for_toast(pilot, "Exported the evaluation of heuristic to")
        report = screen.reports[key]
    document, rows = read_export(tmp_path / EXPORTS_DIR, "evaluation-heuristic")
    assert document["kind"] == "evaluation" and document["overall"] == report["overall"]
    overall = rows[0]
    assert (overall["scope"], overall["group"]) == ("overall", "all")
    assert float(overall["mean_return"]) == report["overall"]["mean_return"]
    assert float(overall["use_quick_resolution"]) == report["overall"]["strategy_usage"]["quick_resolution"]
    groups = [r["scope"] for r in rows]
    assert groups.count("tier") == len(report["by_tier"]) and groups.count("inquiry") == len(report["by_inquiry"])
