"""Playbook files in the app: listed in the Scenarios, Models and play panes' pickers, run like any agent,
and a broken one is a notification, not a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app_helpers import PaneApp, wait_for
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Select

from cs_env.policies import HeuristicPolicy
from cs_env.scenarios import load_scenarios, run_scenario
from cs_tui.screens.models import list_models
from cs_tui.screens.scenarios import ScenariosScreen, policy_choices

HEURISTIC = Path(__file__).resolve().parents[1] / "playbooks" / "heuristic.toml"


def test_playbook_files_in_the_saves_folder_are_listed_in_the_pickers(tmp_path: Path) -> None:
    (tmp_path / "team.toml").write_text(HEURISTIC.read_text())
    spec = f"playbook:{tmp_path / 'team.toml'}"
    assert ("playbook: team.toml", spec) in policy_choices(tmp_path)
    entry = next(e for e in list_models(tmp_path) if e.spec == spec)
    assert entry.kind == "playbook" and entry.name == "team.toml"


async def test_the_scenarios_pane_runs_a_playbook_like_the_policy_it_writes_down(tmp_path: Path) -> None:
    (tmp_path / "team.toml").write_text(HEURISTIC.read_text())
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        table: DataTable[Any] = screen.query_one("#scenario-table", DataTable)
        screen.query_one("#policy", Select).value = f"playbook:{tmp_path / 'team.toml'}"
        screen.query_one("#trials").value = "3"  # type: ignore[attr-defined]
        screen.query_one("#k").value = "2"  # type: ignore[attr-defined]
        table.focus()
        await pilot.press("r")
        catalog = load_scenarios()
        await wait_for(pilot, lambda: not screen.running and len(screen.results) == len(catalog), timeout=60)
        for scenario in catalog[:4]:
            expected = run_scenario(HeuristicPolicy(), scenario, 3, 0)
            row = table.get_row_index(scenario.name)
            assert str(table.get_cell_at(Coordinate(row, 0))) == f"{expected.passes}/3"


async def test_a_broken_playbook_is_a_notification_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('format = 1\nenv = "cs_env/CustomerSupport-v1"\n[[rule]]\nstrategy = "hug"\n')
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        screen.query_one("#policy", Select).value = f"playbook:{tmp_path / 'broken.toml'}"
        screen.query_one("#scenario-table").focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: any("Could not run the scenarios" in n.message for n in app._notifications))
        notes = " ".join(n.message for n in app._notifications)
        assert "broken.toml:4: rule 1 (strategy): unknown strategy 'hug'" in notes
        assert not screen.running and app.is_running


async def test_the_play_pane_says_which_rule_a_playbook_opponent_applied(tmp_path: Path) -> None:
    from app_helpers import screen_text

    from cs_tui.app import AppSettings, CsTuiApp
    from cs_tui.screens.play import PlayScreen

    team = tmp_path / "team.toml"
    team.write_text(
        'format = 1\nenv = "cs_env/CustomerSupport-v1"\n[[rule]]\nstrategy = "technical"\nnote = "always technical"\n'
    )
    app = CsTuiApp(saves=tmp_path, settings=AppSettings(seed=7, opponent=f"playbook:{team}"))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen) and app.screen.agent is not None)
        await wait_for(pilot, lambda: "rule 1: always technical" in screen_text(app))
        line = next(row for row in screen_text(app).splitlines() if "rule 1" in row)
        assert "★ technical · rule 1: always technical" in line, line


def test_the_models_pane_reads_a_playbooks_rules_or_says_why_it_cannot(tmp_path: Path) -> None:
    from cs_tui.screens.models import describe_entry

    (tmp_path / "team.toml").write_text(HEURISTIC.read_text())
    (tmp_path / "broken.toml").write_text("format = 1\n")
    entries = {e.name: e for e in list_models(tmp_path) if e.kind == "playbook"}
    shown = describe_entry(entries["team.toml"]).plain
    assert "a playbook of 9 rules" in shown
    assert "1. when inquiry_type is fraud_report and urgency ≥ 3: escalate  (urgent fraud goes" in shown
    assert "9. otherwise: educational" in shown
    assert "no env" in describe_entry(entries["broken.toml"]).plain
