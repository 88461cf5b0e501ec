"""The scenario runner pane: run the catalog with a baseline, read the table, open a trial's conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from app_helpers import PaneApp, screen_text, shown, toasts, wait_for, wait_for_toast
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Input, Select, Static

from cs_env.policies import FixedPolicy
from cs_env.scenarios import load_scenarios, run_scenario
from cs_tui.screens.scenarios import ScenariosScreen, parse_settings, policy_choices
from cs_tui.widgets.key_bar import KeyBar
from cs_tui.widgets.scenario_trials import ScenarioTrialsScreen


def column(table: DataTable[Any], index: int) -> list[str]:
    return [str(table.get_cell_at(Coordinate(row, index))) for row in range(table.row_count)]


async def test_run_the_catalog_with_a_baseline_and_open_a_failed_trial(tmp_path: Path) -> None:
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        table = screen.query_one("#scenario-table", DataTable)
        catalog = load_scenarios()
        assert table.row_count == len(catalog) >= 15
        # always escalating: passes the urgent-fraud scenario, fails the quick questions
        screen.query_one("#policy", Select).value = "baseline:escalate"
        screen.query_one("#trials").value = "4"  # type: ignore[attr-defined]
        screen.query_one("#k").value = "2"  # type: ignore[attr-defined]
        table.focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: not screen.running and len(screen.results) == len(catalog))
        passed = column(table, 0)
        assert all(p.endswith("/4") for p in passed)
        # the table agrees with the runner called directly
        fraud = next(s for s in catalog if s.name == "urgent_fraud")
        expected = run_scenario(FixedPolicy(2), fraud, 4, 0)
        row = table.get_row_index("urgent_fraud")
        assert str(table.get_cell_at(Coordinate(row, 0))) == f"{expected.passes}/4"
        assert str(table.get_cell_at(Coordinate(row, 2))) == f"{expected.pass_hat_k(2):.2f}"
        assert "mean pass rate" in shown(screen.query_one("#summary", Static))
        # open the worst scenario: a failed trial is shown as a conversation with the reason
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ScenarioTrialsScreen))
        transcript = shown(app.screen.query_one("#transcript", Static))
        assert "Agent [escalate]" in transcript
        assert "FAIL: ended escalated" in transcript
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_a_model_that_cannot_load_is_a_notification_not_a_crash(tmp_path: Path) -> None:
    run = tmp_path / "broken-run"
    run.mkdir()
    (run / "meta.json").write_text('{"name": "broken-run", "status": "finished"}')
    (run / "model.zip").write_bytes(b"this is not a zip file")
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        select = screen.query_one("#policy", Select)
        assert str(run) in [value for _, value in policy_choices(tmp_path)]
        select.value = str(run)
        screen.query_one("#scenario-table").focus()
        await pilot.press("r")
        # the notification is a message: wait for it to be handled, not just for the run to end
        await wait_for_toast(pilot, "Could not run the scenarios")
        notes = toasts(app)
        assert any("model.zip" in m for m in notes), notes
        assert not screen.results and not screen.running
        assert app.is_running


def test_run_settings_are_checked() -> None:
    assert parse_settings("baseline:random", "8", "4", "0").k == 4
    with pytest.raises(ValueError, match="k: between 1 and the number of trials"):
        parse_settings("baseline:random", "3", "4", "0")
    with pytest.raises(ValueError, match="trials"):
        parse_settings("baseline:random", "0", "1", "0")
    with pytest.raises(ValueError, match="policy"):
        parse_settings(Select.NULL, "8", "4", "0")


async def test_resizing_down_to_40x12_and_back_raises_nothing(tmp_path: Path) -> None:
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        screen.query_one("#scenario-table").focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: not screen.running and bool(screen.results))
        for size in ((40, 12), (120, 40), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ScenarioTrialsScreen))
        await pilot.resize_terminal(40, 12)
        await pilot.pause(0.1)
        await pilot.press("escape")


async def test_run_the_catalog_with_a_saved_model(tmp_path: Path) -> None:
    """A model from saves/ is loaded in the worker (torch there, not at start) and fills the table."""
    torch = pytest.importorskip("torch")
    sb3 = pytest.importorskip("stable_baselines3")
    from cs_env.env import CustomerSupportEnv
    from cs_tui.training.model_file.writer import save_model

    torch.set_num_threads(1)
    run = tmp_path / "ppo-tiny"
    run.mkdir()
    model = sb3.PPO("MlpPolicy", CustomerSupportEnv("mixed", 10), seed=0, device="cpu", n_steps=64, batch_size=32)
    save_model(model, run / "model.zip", {"industry": "mixed", "max_turns": 10})
    (run / "meta.json").write_text('{"name": "ppo-tiny", "status": "finished"}')
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        select = screen.query_one("#policy", Select)
        assert policy_choices(tmp_path)[0] == ("model: ppo-tiny", str(run))  # saved models first in the picker
        select.value = str(run)
        screen.query_one("#trials").value = "2"  # type: ignore[attr-defined]
        screen.query_one("#k").value = "1"  # type: ignore[attr-defined]
        screen.query_one("#scenario-table").focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: not screen.running and len(screen.results) == len(screen.scenarios))
        assert all(p.endswith("/2") for p in column(screen.query_one("#scenario-table", DataTable), 0))


async def test_passed_counts_of_200_trials_are_shown_whole_and_failing_rows_say_so(tmp_path: Path) -> None:
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        screen.query_one("#policy", Select).value = "baseline:escalate"
        screen.query_one("#trials").value = "200"  # type: ignore[attr-defined]
        screen.query_one("#scenario-table").focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: not screen.running and len(screen.results) == len(screen.scenarios))
        await pilot.pause()
        text = screen_text(app)
        assert "200/200" in text, text
        assert "verdict" in text and "misses the thresholds of cs-tui test" in text  # not "CI" (intervals)
        table = screen.query_one("#scenario-table", DataTable)
        marks = column(table, 3)
        assert all(marks), marks  # the verdict column always says something
        assert "none" in marks  # always escalating passes no quick question
        # never escalating misses urgent_fraud's own threshold: that row reads FAIL
        screen.query_one("#policy", Select).value = "baseline:empathetic"
        screen.query_one("#trials").value = "8"  # type: ignore[attr-defined]
        await pilot.press("r")
        await wait_for(pilot, lambda: not screen.running and len(screen.results) == len(screen.scenarios))
        await pilot.pause()
        marks = column(table, 3)
        assert all(marks), marks
        assert marks[table.get_row_index("urgent_fraud")] == "FAIL"
        assert "FAIL" in screen_text(app)


async def test_escape_and_enter_leave_a_field_and_the_key_bar_never_goes_blank(tmp_path: Path) -> None:
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        table = screen.query_one("#scenario-table", DataTable)
        await pilot.press("tab")  # from the table into the trials field
        trials = screen.query_one("#trials", Input)
        trials.focus()
        await pilot.press("ctrl+u", "3")
        assert trials.value == "3"
        await pilot.pause()
        bar = str(screen.query_one(KeyBar).render())
        assert "Run" in bar and "Leave field" in bar, bar
        await pilot.press("escape")
        assert screen.focused is table
        assert "Leave field" not in str(screen.query_one(KeyBar).render())
        # enter leaves the field and runs with what it says
        screen.query_one("#k", Input).value = "1"
        trials.focus()
        await pilot.press("enter")
        assert screen.focused is table
        await wait_for(pilot, lambda: not screen.running and len(screen.results) == len(screen.scenarios))
        assert all(p.endswith("/3") for p in column(table, 0))
        await pilot.pause()
        assert "the thresholds are set for pass^4: k 4 to judge" in screen_text(app)  # not silence


async def test_the_pass_rule_is_visible_at_80x24(tmp_path: Path) -> None:
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        await pilot.pause()
        rule = screen.scenarios[0].criterion.describe()
        assert f"pass: {rule[:40]}" in screen_text(app)


async def test_a_trial_shows_its_verdict_and_reason_on_top(tmp_path: Path) -> None:
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        screen.query_one("#policy", Select).value = "baseline:escalate"
        screen.query_one("#scenario-table").focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: not screen.running and len(screen.results) == len(screen.scenarios))
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ScenarioTrialsScreen))
        await pilot.pause()
        transcript = shown(app.screen.query_one("#transcript", Static))
        assert transcript.startswith("FAIL: "), transcript
        reason = transcript.splitlines()[0]
        assert reason in screen_text(app)  # seen without scrolling


async def test_o_opens_the_policy_list_and_enter_takes_the_choice(tmp_path: Path) -> None:
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        select = screen.query_one("#policy", Select)
        before = select.value
        await pilot.press("o")
        await pilot.pause()
        assert select.expanded  # the list is open: something visibly happens
        await pilot.press("down", "enter")
        await pilot.pause()
        assert not select.expanded and select.value != before
        await pilot.press("r")  # and runs with it straight away
        await wait_for(pilot, lambda: bool(screen.results))


async def test_the_default_agent_is_preselected_and_the_choice_is_kept_across_restarts(
    tmp_path: Path, own_config_home: Path
) -> None:
    import json
    import shutil

    from cs_tui.app import CsTuiApp

    saves = tmp_path / "saves"
    shutil.copytree(Path(__file__).parent.parent / "saves" / "default", saves / "default")

    async def policy_shown(app: CsTuiApp, pilot: Any) -> Select[str]:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ScenariosScreen) and app.screen.scenarios)
        return app.screen.query_one("#policy", Select)

    app = CsTuiApp(saves=saves)
    async with app.run_test(size=(100, 30)) as pilot:
        select = await policy_shown(app, pilot)
        assert select.value == str(saves / "default")  # the default agent, not the heuristic
        assert "model: default" in screen_text(app)
        await pilot.press("o", "enter", "down", "down", "enter")  # the dropdown: a baseline below the model
        await wait_for(pilot, lambda: not select.expanded)
        chosen = select.value
        assert isinstance(chosen, str) and chosen.startswith("baseline:")
    settings = own_config_home / "cs-tui" / "settings.json"
    assert json.loads(settings.read_text()) == {"scenario_policy": chosen}  # only the choice the user made

    again = CsTuiApp(saves=saves)
    async with again.run_test(size=(100, 30)) as pilot:
        assert (await policy_shown(again, pilot)).value == chosen
    # a kept choice that no longer exists (a run deleted since): the default agent again
    settings.write_text(json.dumps({"scenario_policy": str(saves / "gone-run")}))
    third = CsTuiApp(saves=saves)
    async with third.run_test(size=(100, 30)) as pilot:
        assert (await policy_shown(third, pilot)).value == str(saves / "default")
