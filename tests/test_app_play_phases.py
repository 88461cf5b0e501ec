"""The play pane's phases, as the key bar shows them: each phase offers exactly the keys that do something.

live (answer 1-8), waiting (you finished, the opponent still plays), reviewing (yours and theirs, v
switches), replaying (a recording), and empty (no customer could start). A key the bar leaves out does
nothing when pressed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from app_helpers import screen_text, wait_for, wait_for_toast
from test_app_play import SEED, FakeDQN, finish, make_app, ready, settle
from textual.pilot import Pilot

from cs_tui.screens.play import PlayScreen
from cs_tui.screens.play_dialogs import ChoiceDialog
from cs_tui.screens.play_phase import Phase
from cs_tui.widgets.action_picker import ActionPicker
from cs_tui.widgets.transcript import Transcript

#: the pane's keys as the key bar labels them
LABELS = {
    "answer": "12345678 answer",
    "next": "⏎ Next",
    "new": "n New…",
    "opponent": "o Opponent",
    "blind": "b Blind",
    "theirs": "v Theirs",
    "yours": "v Yours",
    "replays": "r Replays",
}
#: the keys every phase offers
ALWAYS = {"new", "opponent", "blind", "replays"}
#: the pane's actions, each as the key bar's binding runs it
ACTIONS = {
    "answer": ("answer", (0,)),
    "next": ("next_customer", ()),
    "new": ("new_episode", ()),
    "opponent": ("pick_opponent", ()),
    "blind": ("toggle_blind", ()),
    "theirs": ("toggle_view", ("theirs",)),
    "yours": ("toggle_view", ("yours",)),
    "replays": ("recordings", ()),
    "copy": ("copy_conversation", ()),
}
WIDE = (120, 30)  # room for every key on the bar


def keys_shown(pilot: Pilot[int]) -> set[str]:
    """The pane's keys on the key bar (the bottom line), by name."""
    bar = screen_text(pilot.app).splitlines()[-1]
    assert "? Help" in bar, bar  # the whole bar fits: nothing cut at the end
    return {name for name, label in LABELS.items() if label in bar}


def actions_allowed(screen: PlayScreen) -> set[str]:
    """The pane's actions its check_action allows now (c, kept off the bar for room, included)."""
    return {name for name, (action, parameters) in ACTIONS.items() if screen.check_action(action, parameters)}


def opponent_line(screen: PlayScreen) -> str:
    return str(screen.query_one("#opponent-line").render())


class SlowAgent(FakeDQN):
    """An opponent that plays only once ``go`` is set: the pane waits for it meanwhile."""

    name = "slow"

    def __init__(self) -> None:
        self.go = threading.Event()

    def __call__(self, obs: object, state: object = None) -> int:
        self.go.wait(timeout=600)  # (set by every test, at its end at the latest: only a hang bound)
        return 6


async def answer_to_the_end(pilot: Pilot[int], screen: PlayScreen, key: str = "7") -> None:
    """Answer with ``key`` until the conversation ends (not waiting for the opponent's part)."""
    for _ in range(10):
        if screen.phase is not Phase.LIVE:
            return
        await pilot.press(key)


async def test_live_offers_the_answers_and_not_next_or_v(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await ready(pilot)
        assert screen.phase is Phase.LIVE
        assert keys_shown(pilot) == ALWAYS | {"answer"}
        assert actions_allowed(screen) == ALWAYS | {"answer", "copy"}
        assert screen.query_one(ActionPicker).enabled
        assert "suggests ★" in opponent_line(screen)
        opening = screen.query_one(Transcript).plain
        await pilot.press("enter", "v")  # not offered: nothing happens
        await pilot.pause()
        assert screen.query_one(Transcript).plain == opening and f"seed {SEED}" in screen_text(app)


@contextlib.asynccontextmanager
async def finished_before_a_slow_opponent(tmp_path: Path) -> AsyncIterator[tuple[Pilot[int], PlayScreen, SlowAgent]]:
    """The pane just after you finished a customer, its opponent playing it until ``go`` is set."""
    app = make_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await ready(pilot)
        slow = SlowAgent()
        screen.post_message(PlayScreen.OpponentLoaded("slow", slow, None))  # type: ignore[arg-type]
        await pilot.pause()
        try:
            await answer_to_the_end(pilot, screen)
            yield pilot, screen, slow
        finally:
            slow.go.set()  # (a failed test must not leave the worker thread waiting)


async def test_waiting_offers_next_but_no_answers_until_the_opponent_has_played(tmp_path: Path) -> None:
    async with finished_before_a_slow_opponent(tmp_path) as (pilot, screen, slow):
        assert screen.phase is Phase.WAITING
        await pilot.pause()
        assert keys_shown(pilot) == ALWAYS | {"next"}
        assert actions_allowed(screen) == ALWAYS | {"next", "copy"}
        assert opponent_line(screen) == "slow is playing the same customer…"
        assert not screen.query_one(ActionPicker).enabled
        ended = screen.query_one(Transcript).plain
        await pilot.press("1", "v")  # not offered: nothing happens
        assert screen.query_one(Transcript).plain == ended and screen.phase is Phase.WAITING
        slow.go.set()
        await settle(pilot)
        assert screen.phase is Phase.REVIEWING  # it played: the two conversations to compare
        assert opponent_line(screen).startswith("slow: ") and "v its conversation · ⏎ next" in opponent_line(screen)


async def test_moving_on_while_the_opponent_plays_keeps_the_new_customer_live(tmp_path: Path) -> None:
    """enter while waiting serves the next customer; the opponent's result for the last one is scored
    when it comes, and the pane stays on the customer you are answering."""
    async with finished_before_a_slow_opponent(tmp_path) as (pilot, screen, slow):
        await pilot.press("enter")
        assert screen.phase is Phase.LIVE and f"seed {SEED + 1}" in screen_text(pilot.app)
        slow.go.set()
        await wait_for(pilot, lambda: len(screen.pairs) == 1)
        await pilot.pause()
        assert screen.phase is Phase.LIVE and screen.pairs[0][0].seed == SEED
        assert "1 played" in screen_text(pilot.app)  # scored
        assert "suggests ★" in opponent_line(screen)  # the line still speaks of the customer on screen
        assert keys_shown(pilot) == ALWAYS | {"answer"}


async def test_reviewing_offers_next_and_v_which_names_where_it_goes(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await ready(pilot)
        await finish(pilot, screen)
        assert screen.phase is Phase.REVIEWING
        assert keys_shown(pilot) == ALWAYS | {"next", "theirs"}
        assert actions_allowed(screen) == ALWAYS | {"next", "theirs", "copy"}
        yours = screen.query_one(Transcript).plain
        await pilot.press("1")  # not offered: nothing happens
        assert screen.query_one(Transcript).plain == yours
        await pilot.press("v")
        await pilot.pause()
        assert screen.phase is Phase.REVIEWING
        assert keys_shown(pilot) == ALWAYS | {"next", "yours"}
        assert "Heuristic with the same customer" in screen.query_one(Transcript).plain
        await pilot.press("enter")
        assert screen.phase is Phase.LIVE and f"seed {SEED + 1}" in screen_text(app)


async def test_replaying_offers_next_and_v_only_when_the_opponent_was_recorded(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await ready(pilot)
        await finish(pilot, screen)
        await pilot.press("enter", "1")  # a customer half-answered: replaying leaves it, once agreed
        await pilot.press("r", "down", "enter")
        # the recordings are read in a thread, then listed (in a dialog like the one that asked to leave)
        await wait_for(
            pilot,
            lambda: isinstance(pilot.app.screen, ChoiceDialog) and "Stay with" not in screen_text(pilot.app),
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.phase is Phase.REPLAYING)
        assert keys_shown(pilot) == ALWAYS | {"next", "theirs"}
        assert opponent_line(screen) == "a replay: v the opponent's conversation · ⏎ a new customer"
        assert not screen.query_one(ActionPicker).enabled
        await pilot.press("v")
        await pilot.pause()
        assert keys_shown(pilot) == ALWAYS | {"next", "yours"}
        assert opponent_line(screen) == "a replay: v your conversation · ⏎ a new customer"
        await pilot.press("enter")  # a new customer, not the half-answered one
        assert screen.phase is Phase.LIVE and "turn 0/10" in screen_text(app)

        # a recording made before the opponent played has no conversation of the opponent's to switch to
        screen.agent = None
        await answer_to_the_end(pilot, screen, key="6")
        assert screen.phase is Phase.WAITING and "still loading" not in opponent_line(screen)
        screen.open_recording(screen.records[screen.state.human])  # type: ignore[union-attr]
        await wait_for(pilot, lambda: screen.phase is Phase.REPLAYING)
        assert keys_shown(pilot) == ALWAYS | {"next"}
        assert opponent_line(screen) == "a replay · ⏎ a new customer"


async def test_with_no_customer_the_pane_offers_next_and_new_only(tmp_path: Path) -> None:
    app = make_app(tmp_path, industry="nowhere")  # a customer of an industry that does not exist
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        screen = await ready(pilot)
        assert screen.phase is Phase.EMPTY
        await wait_for_toast(pilot, "Cannot start a conversation")
        assert keys_shown(pilot) == ALWAYS | {"next"}
        assert opponent_line(screen) == "no customer: ⏎ tries the next seed, n another industry"
        await pilot.press("1")
        assert screen.phase is Phase.EMPTY
        await pilot.press("n")  # another industry: the dialog opens on one that exists
        await pilot.pause()
        await pilot.press("tab", "enter")
        await pilot.pause()
        assert app.screen is screen and screen.phase is Phase.LIVE
        assert keys_shown(pilot) == ALWAYS | {"answer"}
