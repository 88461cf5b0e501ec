"""The Playbook view (k in the models pane) and the playbook's words in the play pane (issue 27 item 3):
the rules with how often each fires and its % of oracle there, as `cs-tui playbook show` computes them;
a broken file is a reason on screen, not a crash; beside a neural opponent, what the playbook's rule says."""

from __future__ import annotations

import shutil
from pathlib import Path

from app_helpers import PaneApp, screen_text, shown, wait_for, wait_for_toast
from textual.widgets import Input, Select, Static

from cs_env.playbook import load
from cs_tui.agents import FALLBACK_PLAYBOOK, default_playbook
from cs_tui.app import AppSettings, CsTuiApp
from cs_tui.commands.playbook import rule_figures
from cs_tui.screens.models import ModelsScreen
from cs_tui.screens.play import PlayScreen, nearest_rules
from cs_tui.screens.playbook import DEFAULT_EPISODES, MAX_EPISODES, PlaybookScreen, parse_episodes

ROOT = Path(__file__).resolve().parents[1]
HEURISTIC = ROOT / "playbooks" / "heuristic.toml"
HEADER = 'format = 1\nenv = "cs_env/CustomerSupport-v1"\n'
TEAM = (
    HEADER
    + '[[rule]]\nstrategy = "empathetic"\nnote = "calm them first"\nsentiment = ["angry", "frustrated"]\n'
    + '[[rule]]\nstrategy = "quick_resolution"\nnote = "everyone else: the quick fix"\n'
)


async def test_the_view_shows_each_rule_with_its_fire_counts_and_pct_of_oracle(tmp_path: Path) -> None:
    """Opened from the models pane on a highlighted playbook: its rules in words with their notes, then the
    same figures `cs-tui playbook show` prints for it (same function, same customers)."""
    (tmp_path / "team.toml").write_text(TEAM)
    app = PaneApp(tmp_path, ModelsScreen)
    async with app.run_test(size=(100, 40)) as pilot:
        models = app.screen
        assert isinstance(models, ModelsScreen)
        await wait_for(pilot, lambda: any(e.kind == "playbook" for e in models.entries))
        table = models.query_one("#models")
        table.move_cursor(row=next(i for i, e in enumerate(models.entries) if e.name == "team.toml"))  # type: ignore[attr-defined]
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, PlaybookScreen))
        view = app.screen
        assert isinstance(view, PlaybookScreen)
        await wait_for(pilot, lambda: not view.measuring)
        expected = rule_figures(load(tmp_path / "team.toml"), industry="mixed", episodes=DEFAULT_EPISODES)
        text = " ".join(shown(view.query_one("#pb-list", Static)).split())
        for row in expected:
            assert f"{row['number']}. {row['rule']}" in text
            assert row["note"] in text
            fires = f"fires on {row['turn_share']:.1%} of turns, in {row['conversation_share']:.1%} of conversations"
            assert fires in text
            assert f"{row['pct_of_oracle']:.1f}% of oracle where it fires" in text
        assert "team.toml · saves: 2 rules, first match decides" in shown(view.query_one("#pb-status", Static))
        await pilot.press("escape")  # back to the models pane
        await wait_for(pilot, lambda: app.screen is models)


async def test_a_file_that_is_not_a_playbook_shows_why_and_the_view_goes_on(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text(HEADER + '[[rule]]\nstrategy = "hug"\n')
    app = PaneApp(tmp_path, lambda: PlaybookScreen(tmp_path / "broken.toml"))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        view = app.screen
        assert isinstance(view, PlaybookScreen)
        await wait_for_toast(pilot, "Not a playbook", "broken.toml:4: rule 1 (strategy): unknown strategy 'hug'")
        assert "valid strategies: empathetic" in shown(view.query_one("#pb-status", Static))
        # a path typed next: the view reads it and measures it
        (tmp_path / "team.toml").write_text(TEAM)
        await pilot.press("f")
        view.query_one("#pb-path", Input).value = str(tmp_path / "team.toml")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not view.measuring and view.path == tmp_path / "team.toml")
        assert "2. otherwise: quick_resolution" in shown(view.query_one("#pb-list", Static))
        assert view.query_one("#pb-file", Select).is_blank()  # written after the list was read: not listed
        assert app.is_running


def test_the_episodes_field_is_bounded_and_says_so() -> None:
    assert parse_episodes("500") == 500
    for bad in ("0", "x", str(MAX_EPISODES + 1)):
        try:
            parse_episodes(bad)
        except ValueError as exc:
            assert "episodes" in str(exc) and f"{MAX_EPISODES:,}" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")


async def test_the_view_fits_a_tiny_terminal(tmp_path: Path) -> None:
    app = PaneApp(tmp_path, lambda: PlaybookScreen(HEURISTIC))
    async with app.run_test(size=(40, 12)) as pilot:
        view = app.screen
        assert isinstance(view, PlaybookScreen)
        await wait_for(pilot, lambda: not view.measuring)
        await wait_for(pilot, lambda: "1. when" in screen_text(app))
        assert "heuristic.toml" in screen_text(app)  # the file's name has the room
        await pilot.press("down", "pagedown", "end", "o", "escape", "escape")
        assert "where it fires" in screen_text(app)  # scrolled to the last rule's figures
        assert app.is_running and app.screen is view


def test_the_default_playbook_is_the_saves_folders_else_the_heuristic(tmp_path: Path) -> None:
    """`default-playbook.toml` by name in the saves folder first; without one, the shipped heuristic
    playbook (unless the checkout ships a default of its own)."""
    shipped_default = ROOT / "saves" / "default-playbook.toml"
    assert default_playbook(tmp_path) == (shipped_default if shipped_default.is_file() else FALLBACK_PLAYBOOK)
    (tmp_path / "default-playbook.toml").write_text(TEAM)
    assert default_playbook(tmp_path) == tmp_path / "default-playbook.toml"
    rules, problem = nearest_rules(tmp_path)
    assert rules is not None and len(rules.rules) == 2 and problem == ""
    (tmp_path / "default-playbook.toml").write_text("format = 1\n")
    rules, problem = nearest_rules(tmp_path)
    assert rules is None and "default-playbook.toml" in problem and "no env" in problem


async def test_beside_a_neural_opponent_the_playbooks_nearest_rule_says_what_it_would_do(tmp_path: Path) -> None:
    """A trained agent as the opponent: under its suggestion, the line says what the saves folder's default
    playbook's rule for this very situation chooses, naming the rule and its note."""
    shutil.copytree(ROOT / "saves" / "default", tmp_path / "default")
    (tmp_path / "default-playbook.toml").write_text(TEAM)
    app = CsTuiApp(saves=tmp_path, settings=AppSettings(seed=7, opponent="default"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen) and app.screen.agent is not None)
        screen = app.screen
        assert isinstance(screen, PlayScreen)
        line = screen.query_one("#rule-line", Static)
        team = load(tmp_path / "default-playbook.toml")

        def names_the_rule_for_this_situation() -> bool:
            # read afresh at each poll: the line arrives in a message of its own after the turn is played
            _, fired = team.decide(screen.state.conversation.obs)  # type: ignore[union-attr]
            words = ("calm them first", "everyone else: the quick fix")[fired]
            label = ("empathetic", "quick resolution")[fired]
            return f"the playbook's nearest rule says {label} (rule {fired + 1}: {words})" in screen_text(app)

        for key in ("1", "2"):  # the line follows the situation, turn by turn
            await wait_for(pilot, lambda: line.display and names_the_rule_for_this_situation())
            if screen.state.conversation.episode.done:  # type: ignore[union-attr]
                break
            await pilot.press(key)
        await pilot.press("b")  # blind mode hides what would suggest an answer
        await wait_for(pilot, lambda: not line.display)


async def test_a_baseline_opponent_has_no_nearest_rule_line(tmp_path: Path) -> None:
    app = CsTuiApp(saves=tmp_path, settings=AppSettings(seed=7, opponent="baseline:heuristic"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen) and app.screen.agent is not None)
        await pilot.pause()
        assert not app.screen.query_one("#rule-line", Static).display
        assert "nearest rule" not in screen_text(app)
