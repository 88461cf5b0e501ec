"""One seed rule in every form of the app (``cs_tui.seeds``): empty is a random seed, shown; anything
else is a whole number in range or an error that quotes it (``3.5`` is an error, not seed 35)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from app_helpers import PaneApp, shown, wait_for, wait_for_toast
from textual.screen import Screen
from textual.widgets import Input, Static

from cs_tui.screens.play_dialogs import NewEpisodeDialog
from cs_tui.screens.scenarios import ScenariosScreen
from cs_tui.screens.study_form import NewStudyForm
from cs_tui.screens.training_form import NewRunForm
from cs_tui.seeds import DRAWN_BELOW, parse_seed


@pytest.mark.parametrize("typed", ["3.5", "3,5", "1e3", "-1", "seven", "0x10", "1,00"])
def test_anything_but_a_whole_number_is_an_error_quoting_it(typed: str) -> None:
    with pytest.raises(ValueError, match="a seed is from 0 to"):
        parse_seed(typed)


def test_whole_numbers_as_people_write_them_and_an_empty_field_draws_one() -> None:
    assert [parse_seed(t) for t in ("35", " 1,000 ", "1_000_000", "0")] == [35, 1000, 1_000_000, 0]
    drawn = {parse_seed("") for _ in range(20)}
    assert all(0 <= seed < DRAWN_BELOW for seed in drawn) and len(drawn) > 1  # random, not a fixed 0
    with pytest.raises(ValueError, match="empty"):
        parse_seed("", blank=None)  # the command line: --seed "" is a usage error


#: each form with a seed field: how to make it, and the key that submits it
FORMS: dict[str, tuple[Callable[[Path], Screen[Any]], str]] = {
    "new conversation": (lambda saves: NewEpisodeDialog(("bfsi", "mixed"), "mixed", 7), "enter"),
    "new training run": (lambda saves: NewRunForm(saves), "ctrl+s"),
    "new study": (lambda saves: NewStudyForm(), "ctrl+s"),
}


def form_error(screen: Screen[Any]) -> str:
    errors = screen.query("#form-error")
    return shown(errors.first(Static)) if errors else ""


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
async def test_every_form_refuses_3_5_and_draws_a_shown_seed_when_empty(
    form: tuple[Callable[[Path], Screen[Any]], str], tmp_path: Path
) -> None:
    make, submit = form
    app = PaneApp(tmp_path, lambda: Screen())
    results: list[Any] = []
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = make(tmp_path)
        app.push_screen(screen, results.append)
        await wait_for(pilot, lambda: app.screen is screen and screen.query("#seed"))
        seed = screen.query_one("#seed", Input)
        seed.focus()
        await pilot.press("ctrl+a", "ctrl+k", "3", ".", "5", submit)  # typed key by key, as a person does
        assert seed.value == "3.5"  # not 35: the field keeps what was typed
        if isinstance(screen, NewEpisodeDialog):
            await wait_for_toast(pilot, "'3.5' is not a whole number")
        else:
            await wait_for(pilot, lambda: "'3.5' is not a whole number" in form_error(screen))
        assert app.screen is screen and not results  # nothing started
        await pilot.press("ctrl+a", "ctrl+k", submit)
        await wait_for(pilot, lambda: results)
    drawn = results[0][1] if isinstance(results[0], tuple) else results[0].seed
    assert 0 <= drawn < DRAWN_BELOW
    assert seed.value == str(drawn)  # shown in the field before the form closed


async def test_the_scenario_runner_refuses_3_5_and_shows_the_seed_it_drew(tmp_path: Path) -> None:
    app = PaneApp(tmp_path, ScenariosScreen)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        await wait_for(pilot, lambda: screen.scenarios)
        screen.query_one("#trials", Input).value = "1"
        screen.query_one("#k", Input).value = "1"
        seed = screen.query_one("#seed", Input)
        seed.focus()
        await pilot.press("ctrl+a", "ctrl+k", "3", ".", "5", "escape", "r")
        await wait_for_toast(pilot, "seed: '3.5' is not a whole number")
        assert seed.value == "3.5" and screen.run_settings is None  # not run
        seed.focus()
        await pilot.press("ctrl+a", "ctrl+k", "escape", "r")
        await wait_for(pilot, lambda: screen.run_settings is not None)
        assert screen.run_settings is not None and seed.value == str(screen.run_settings.seed)
        assert 0 <= screen.run_settings.seed < DRAWN_BELOW
        await wait_for(pilot, lambda: not screen.running)
