"""The key bar on a small terminal: Help and Quit always stay, the least important keys go first."""

from __future__ import annotations

from pathlib import Path

from app_helpers import wait_for
from textual.pilot import Pilot
from textual.screen import Screen

from cs_tui.app import AppSettings, CsTuiApp
from cs_tui.screens.help import HelpScreen
from cs_tui.widgets.key_bar import KeyBar

APP_KEYS = "ptsm panes ? Help q Quit"


def make_app(saves: Path) -> CsTuiApp:
    return CsTuiApp(saves=saves, settings=AppSettings(seed=7, opponent="baseline:heuristic"))


async def models_pane(pilot: Pilot[int]) -> Screen[None]:
    """The app up (the play pane's opponent loaded), then the models pane."""
    await wait_for(pilot, lambda: getattr(pilot.app.screen, "agent", None) is not None)
    await pilot.press("m")
    await pilot.pause()
    return pilot.app.screen


async def bar_at(pilot: Pilot[int], width: int) -> str:
    """The key bar's line, the terminal ``width`` columns wide."""
    await pilot.resize_terminal(width, 24)
    await pilot.pause()
    return str(pilot.app.screen.query_one(KeyBar).render()).rstrip()


async def test_every_pane_keeps_help_and_quit_at_60_columns_and_drops_its_last_keys_first(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(200, 24)) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "agent", None) is not None)
        for pane_keys in ("", "t", "y", "s", "m"):  # play, training, its tuning view, scenarios, models
            for key in pane_keys:
                await pilot.press(key)
            await pilot.pause()
            full = await bar_at(pilot, 200)
            assert full.endswith(APP_KEYS) and "…" not in full.replace("New…", ""), full
            narrow = await bar_at(pilot, 60)
            assert len(narrow) <= 60 and narrow.endswith(APP_KEYS), (full, narrow)
            if len(full) > 60:  # (the tuning view's fit)
                # the pane's keys that stay are its first ones, in the same order as with room for all
                kept = narrow.removesuffix(" … " + APP_KEYS)
                assert kept != narrow and full.startswith(kept + " "), (full, narrow)
            assert (await bar_at(pilot, 20)) == " … ? Help q Quit"  # however narrow
            await bar_at(pilot, 200)


async def test_keys_go_in_one_order_the_pane_s_last_keys_then_the_panes_then_its_first_key(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(200, 24)) as pilot:
        await models_pane(pilot)
        full = " e Evaluate a Mark A b Mark B c Compare k Playbook r Refresh "
        assert await bar_at(pilot, 200) == full + APP_KEYS
        assert await bar_at(pilot, 60) == " e Evaluate a Mark A b Mark B … " + APP_KEYS
        assert await bar_at(pilot, 40) == " e Evaluate … " + APP_KEYS
        assert await bar_at(pilot, 34) == " e Evaluate … ? Help q Quit"
        assert await bar_at(pilot, 26) == " … ? Help q Quit"


async def test_a_click_on_a_key_after_the_left_out_ones_and_on_the_ellipsis_opens_the_help(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(60, 20)) as pilot:
        pane = await models_pane(pilot)
        text = str(pane.query_one(KeyBar).render())
        for cell in (text.index("?"), text.index("…")):
            await pilot.click(KeyBar, offset=(cell, 0))
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            assert "Models" in app.screen.help_text
            await pilot.press("question_mark")
            await pilot.pause()
            assert app.screen is pane
