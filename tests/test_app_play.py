"""The play pane, driven by keys as a user would: the conversation, the opponent, blind mode, recordings."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from app_helpers import screen_text, shown, toasts, wait_for, wait_for_toast
from textual.pilot import Pilot
from textual.widgets import Static
from textual.worker import WorkerCancelled

from cs_env import ENV_ID
from cs_tui.app import AppSettings, CsTuiApp
from cs_tui.play_session import Conversation, compare, play_agent
from cs_tui.screens.play import PlayScreen
from cs_tui.screens.play_dialogs import ChoiceDialog
from cs_tui.screens.play_phase import Live, Phase
from cs_tui.widgets.action_picker import ActionPicker
from cs_tui.widgets.key_bar import KeyBar
from cs_tui.widgets.reward_breakdown import RewardBreakdown
from cs_tui.widgets.scoreboard import Scoreboard
from cs_tui.widgets.sentiment_gauge import SentimentGauge
from cs_tui.widgets.transcript import Transcript

SEED = 7  # a retail discount inquiry: quick answers resolve it in a few turns


def make_app(saves: Path, **settings: object) -> CsTuiApp:
    return CsTuiApp(saves=saves, settings=AppSettings(seed=SEED, **settings))  # type: ignore[arg-type]


async def settle(pilot: Pilot[int]) -> None:
    """Let the opponent's workers (loading, playing) finish and their messages land."""
    screen = pilot.app.screen
    for _ in range(50):
        await pilot.pause()
        with contextlib.suppress(WorkerCancelled):  # a newer load replaced an older one
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not getattr(screen, "opponent_loading", False) and not pilot.app.workers:
            return


async def ready(pilot: Pilot[int]) -> PlayScreen:
    app = pilot.app
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, PlayScreen)
    assert screen.agent is not None, "the opponent should be loaded"
    return screen


async def finish(pilot: Pilot[int], screen: PlayScreen, key: str = "7") -> None:
    """Answer with ``key`` until the conversation ends, then let the opponent play."""
    for _ in range(10):
        if screen.phase is not Phase.LIVE:
            break
        await pilot.press(key)
    await settle(pilot)


def test_opening_the_app_imports_neither_torch_nor_sb3(tmp_path: Path) -> None:
    # a fresh interpreter: this test process may have imported torch for other tests
    code = f"""
import asyncio, sys
from cs_tui.app import CsTuiApp, AppSettings
async def main():
    app = CsTuiApp(saves={str(tmp_path)!r}, settings=AppSettings(seed=1))
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("1")
        assert app.screen.query_one("Transcript").plain.count("You [") == 1
asyncio.run(main())
heavy = [m for m in ("torch", "stable_baselines3") if m in sys.modules]
assert not heavy, heavy
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok" in result.stdout


async def test_playing_by_keys_updates_transcript_gauge_and_rewards(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        transcript = screen.query_one(Transcript)
        opening = transcript.plain
        assert opening.startswith("Customer (")
        assert "turn 0/10" in screen_text(app)
        gauge = screen.query_one(SentimentGauge)
        before = gauge.satisfaction

        await pilot.press("1")  # empathetic
        text = screen_text(app)
        assert "You [empathetic]:" in transcript.plain
        assert transcript.plain.startswith(opening)  # newest at the bottom
        assert "turn 1/10" in text
        first = screen.state.shown.turns[0]  # type: ignore[union-attr]
        assert gauge.satisfaction == pytest.approx(first.satisfaction)
        assert gauge.change == pytest.approx(first.satisfaction - before)
        rewards = screen.query_one(RewardBreakdown)
        assert rewards.components == first.components
        assert f"return {first.reward:+.2f}" in text

        await finish(pilot, screen)
        episode = screen.state.shown  # type: ignore[union-attr]
        assert episode.done
        assert rewards.total == pytest.approx(episode.total_return)
        text = screen_text(app)
        assert f"{episode.outcome} after {len(episode.turns)} turn" in text
        assert episode.outcome.upper() in text  # type: ignore[union-attr]
        assert not screen.query_one(ActionPicker).enabled


async def test_the_opponent_plays_the_same_customer_and_the_scoreboard_counts(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await finish(pilot, screen)
        assert len(screen.pairs) == 1
        human, agent = screen.pairs[0]
        assert agent.player == "heuristic"
        assert (agent.seed, agent.opening_line, agent.inquiry) == (human.seed, human.opening_line, human.inquiry)
        # the same reset(seed=...) with the same actions is the same conversation: the env replays exactly
        again = play_agent(screen.agent, industry="mixed", max_turns=10, seed=SEED)
        assert again.actions == agent.actions and again.total_return == pytest.approx(agent.total_return)
        text = screen_text(app)
        assert "1 played" in text
        side_by_side = next(line for line in text.splitlines() if line.lstrip().startswith("last "))
        assert f"you {human.outcome} {human.total_return:+.2f}" in side_by_side
        assert f"heuristic {agent.outcome} {agent.total_return:+.2f}" in side_by_side

        assert "v Theirs" in screen_text(app).splitlines()[-1]
        await pilot.press("v")  # the opponent's conversation with the same customer
        assert "Heuristic with the same customer" in screen.query_one(Transcript).plain
        assert human.opening_line in screen.query_one(Transcript).plain
        await pilot.pause()
        keys = screen_text(app).splitlines()[-1]
        assert "v Yours" in keys and "Theirs" not in keys  # v now goes back
        assert "v your conversation" in screen_text(app)
        await pilot.press("v")
        assert "You [" in screen.query_one(Transcript).plain
        await pilot.pause()
        assert "v Theirs" in screen_text(app).splitlines()[-1]

        await pilot.press("enter")  # next customer: seed + 1
        await finish(pilot, screen, key="6")
        assert [h.seed for h, _ in screen.pairs] == [SEED, SEED + 1]
        text = screen_text(app)
        assert "2 played" in text
        assert "4 more customers for a paired bootstrap CI" in text and "95% CI" not in text  # 2 prove nothing
        for key in "6767":
            await pilot.press("enter")
            await finish(pilot, screen, key=key)
        text = screen_text(app)
        assert "6 played" in text and "95% CI" in text and "(paired) → " in text


async def test_blind_mode_hides_the_suggestion_until_the_human_answers(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        picker = screen.query_one(ActionPicker)
        assert "%" in screen_text(app)  # the heuristic's one-hot probabilities beside the keys
        suggested = picker.agent_view.recommended  # type: ignore[union-attr]

        await pilot.press("b")
        text = screen_text(app)
        assert picker.hidden
        assert "%" not in text.split("1 empathetic")[1].split("opponent")[0]
        assert "hidden until you answer" in text

        await pilot.press("1")
        names = ("empathetic", "technical", "escalate", "product recommend", "apologetic")
        names += ("educational", "quick resolution", "upsell")
        assert f"would have answered {names[suggested]} here" in screen.query_one(Transcript).plain

        await pilot.press("b")
        assert not picker.hidden
        assert "suggests" in screen_text(app)


async def test_a_finished_conversation_is_recorded_and_replays(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await finish(pilot, screen, key="6")
        files = list((tmp_path / "episodes").glob("*.json"))
        assert len(files) == 1
        record = json.loads(files[0].read_text())
        human = screen.state.shown  # type: ignore[union-attr]
        assert record["seed"] == SEED
        assert record["env"] == {"id": ENV_ID, "industry": "mixed", "max_turns": 10, "options": None}
        assert record["human"]["actions"] == human.actions
        assert record["human"]["rewards"] == pytest.approx([t.reward for t in human.turns])
        assert record["agent"]["player"] == "heuristic"
        live_transcript = screen.query_one(Transcript).plain

        await pilot.press("r")  # open the recording (from a live customer, r would ask to leave it first)
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))  # the recordings are read in a thread
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.phase is Phase.REPLAYING)
        shown = screen.query_one(Transcript).plain
        assert shown.startswith(f"replay of {files[0].name}")
        assert shown.split("\n", 1)[1] == live_transcript
        assert not screen.query_one(ActionPicker).enabled  # a replay is read, not played


async def test_a_broken_model_is_a_notification_not_a_crash(tmp_path: Path) -> None:
    run = tmp_path / "default"
    run.mkdir()
    (run / "model.zip").write_bytes(b"this is not a zip file")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        messages = toasts(app)
        assert any("model.zip" in m for m in messages), messages
        screen = app.screen
        assert isinstance(screen, PlayScreen)
        assert screen.agent is not None and screen.agent.name == "baseline:heuristic"  # played against a fallback
        await pilot.press("1")
        assert "You [empathetic]" in screen.query_one(Transcript).plain


async def test_unwritable_saves_is_a_notification(tmp_path: Path) -> None:
    saves = tmp_path / "saves"
    saves.write_text("a file where the saves folder should be")
    app = make_app(saves)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await ready(pilot)
        await finish(pilot, screen)
        await wait_for_toast(pilot, "Not recorded")
        assert screen.pairs  # the session goes on


async def test_new_conversation_with_a_chosen_industry_and_seed(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await ready(pilot)
        await pilot.press("n", "down", "enter")  # mid-conversation: leave this customer first
        await pilot.pause()
        dialog = app.screen
        from textual.widgets import Input, Select

        assert dialog.focused is dialog.query_one(Select)  # the first field, shown first
        dialog.query_one(Select).value = "bfsi"
        dialog.query_one(Input).value = ""
        await pilot.press("tab", "4", "2", "enter")
        await pilot.pause()
        assert app.screen is screen
        episode = screen.state.shown  # type: ignore[union-attr]
        assert (episode.industry, episode.seed, episode.customer_industry) == ("bfsi", 42, "bfsi")
        expected = Conversation(industry="bfsi", max_turns=10, seed=42).episode.opening_line
        assert expected in screen.query_one(Transcript).plain
        assert "seed 42" in screen_text(app)
        # a seed too long to show is refused with the range, and the dialog stays open
        await pilot.press("n", "down", "enter")  # mid-conversation: leave this customer first
        await pilot.pause()
        app.screen.query_one(Input).value = "99999999999999999999999"
        await pilot.press("tab", "enter")
        await pilot.pause()
        assert app.screen is not screen
        await wait_for_toast(pilot, "a seed is from 0 to 9,223,372,036,854,775,807")


async def test_choosing_the_oracle_hides_hints_that_would_leak_hidden_traits(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await pilot.press("o")
        await pilot.pause()
        await pilot.press("down", "enter")  # heuristic is highlighted; the oracle is next
        await settle(pilot)
        assert screen.agent is not None and screen.agent.name == "baseline:oracle"
        assert screen.query_one(ActionPicker).agent_view is None
        assert "sees the hidden traits" in screen_text(app)
        await finish(pilot, screen, key="6")
        assert screen.pairs and screen.pairs[0][1].player == "oracle"


async def test_resizing_to_40x12_and_back(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await pilot.press("1")
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        small = screen_text(app)  # small terminals keep the conversation and all eight keys
        assert "Customer (" in small and "1 empathetic" in small and "8 upsell" in small
        await pilot.press("2")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        text = screen_text(app)
        assert "8 upsell" in text and "turn 2/10" in text
        assert screen.query_one(Transcript).plain.count("You [") == 2


async def test_help_panes_and_palette(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        text = screen_text(app)
        for key in ("12345678 answer", "o Opponent", "b Blind", "r Replays", "ptsm panes", "? Help", "q Quit"):
            assert key in text, key
        from textual.containers import VerticalScroll

        from cs_tui.screens.help import HelpScreen

        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "Help · Play" in text and "A customer writes in" in text
        page = app.screen.query_one(VerticalScroll)
        assert page.max_scroll_y > 0 and page.scroll_y == 0  # longer than 24 rows: the keys scroll it
        await pilot.press("end")
        await pilot.pause()
        assert page.scroll_y == page.max_scroll_y
        text = screen_text(app)
        assert "choose the agent you play against" in text and "the command palette" in text
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, PlayScreen)
        await pilot.press("question_mark", "escape")  # esc closes it too
        await pilot.pause()
        assert isinstance(app.screen, PlayScreen)

        commands = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Go to Training", "Blind", "Opponent", "New…", "Replays", "Keys"):
            assert title in commands, (title, commands)

        for key, mode in (("t", "training"), ("s", "scenarios"), ("m", "models"), ("p", "play")):
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == mode


def test_paired_comparison_says_when_a_difference_is_significant() -> None:
    from cs_env.policies import FixedPolicy, HeuristicPolicy

    heuristic = [play_agent(HeuristicPolicy(), industry="mixed", max_turns=10, seed=s) for s in range(40)]
    escalate = [play_agent(FixedPolicy(2), industry="mixed", max_turns=10, seed=s) for s in range(40)]
    better = compare(list(zip(heuristic, escalate, strict=True)))
    assert better.significant and better.mean_difference > 0 and better.ci_low > 0
    assert better.verdict == "you are significantly better"
    same = compare(list(zip(heuristic, heuristic, strict=True)))
    assert not same.significant and same.verdict == "no significant difference yet"
    assert compare(list(zip(heuristic[:1], escalate[:1], strict=True))).verdict.startswith("play more")
    # two customers going the same way are no evidence: no CI, no verdict until MIN_PAIRS
    few = compare(list(zip(heuristic[:5], escalate[:5], strict=True)))
    assert few.mean_difference > 0 and not few.significant and few.verdict.startswith("play more")


def test_no_color_keeps_bold_and_dim_but_drops_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    from cs_tui.labels import tone

    assert tone("bold red") == "bold red"
    monkeypatch.setenv("NO_COLOR", "1")
    # Textual would grey dark red by luminance (unreadable on a dark background): the widgets drop it
    assert tone("bold red") == "bold"
    assert tone("dim cyan") == "dim"
    assert tone("green") == ""


class FakeDQN:
    """Stands in for a loaded DQN model (the real one needs torch and a trained file)."""

    name = "dqn-fake"
    kind = "model"
    needs_state = False

    def __call__(self, obs: object, state: object = None) -> int:
        return 6

    def action_values(self, obs: object, state: object = None) -> object:
        import numpy as np

        from cs_tui.agents import ActionValues

        return ActionValues("q_values", np.array([0.1, 0.3, -0.3, 0.35, 0.2, 0.33, 0.51, 0.3]))


async def test_q_values_of_a_dqn_opponent_are_shown_beside_the_keys(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        screen.post_message(PlayScreen.OpponentLoaded("dqn-fake", FakeDQN(), None))  # type: ignore[arg-type]
        await pilot.pause()
        text = screen_text(app)
        assert "q+0.51 ★" in text and "q-0.30" in text
        assert "suggests ★ quick resolution (Q-values" in text
        await finish(pilot, screen, key="7")
        assert screen.pairs[-1][1].player == "dqn-fake"
        assert "dqn-fake" in screen_text(app)  # the scoreboard names the opponent


async def test_a_random_opponent_suggests_nothing(tmp_path: Path) -> None:
    app = make_app(tmp_path, opponent="baseline:random")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        text = screen_text(app)
        assert "no preference" in text and "★" not in text


async def test_a_broken_recording_is_a_notification(tmp_path: Path) -> None:
    episodes = tmp_path / "episodes"
    episodes.mkdir()
    (episodes / "20260101-000000-bfsi-seed1.json").write_text(
        '{"seed": 1, "env": {"id": "cs_env/CustomerSupport-v1", "industry": "nowhere"}}'
    )
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await ready(pilot)
        await finish(pilot, screen)  # (mid-conversation, r asks to leave the customer first)
        await pilot.press("r")
        await wait_for(pilot, lambda: "(unreadable)" in screen_text(app))  # the recordings are read in a thread
        await pilot.press("end", "enter")  # the oldest: the broken one
        await wait_for_toast(pilot, "Cannot replay", "seed1.json", "no 'max_turns' field")
        assert app.screen is screen and screen.phase is Phase.REVIEWING  # what was shown stays
        await pilot.press("enter", "1")  # and the next customer can be played
        assert "You [empathetic]" in screen.query_one(Transcript).plain


async def test_the_mouse_works_too(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await pilot.click("#strategy-2")  # technical
        await pilot.pause()
        assert "You [technical]" in screen.query_one(Transcript).plain
        bar = screen.query_one(KeyBar)
        blind = next(start for start, _, action, _ in bar._spans if action == "toggle_blind")
        await pilot.click(KeyBar, offset=(blind, 0))
        await pilot.pause()
        assert screen.blind


async def test_a_conversation_finished_before_the_opponent_loads_is_recorded_once(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        opponent = screen.agent
        screen.agent = None  # as if the opponent were still loading
        await finish(pilot, screen)
        files = list((tmp_path / "episodes").glob("*.json"))
        assert len(files) == 1 and json.loads(files[0].read_text())["agent"] is None
        screen.post_message(PlayScreen.OpponentLoaded("baseline:heuristic", opponent, None))
        await settle(pilot)
        assert len(screen.pairs) == 1
        files = list((tmp_path / "episodes").glob("*.json"))
        assert len(files) == 1 and json.loads(files[0].read_text())["agent"]["player"] == "heuristic"


async def test_a_long_opponent_name_keeps_the_scoreboard_within_80_columns(tmp_path: Path) -> None:
    from cs_tui.widgets.scoreboard import Scoreboard

    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await finish(pilot, screen)
        for key in "67676":  # six customers: enough for the CI line
            await pilot.press("enter")
            await finish(pilot, screen, key=key)
        screen.query_one(Scoreboard).opponent = "ppo-mixed-20261125-032111"  # a run's name, as a model opponent
        await pilot.pause()
        board = screen_text(app).splitlines()[-5:-1]  # the scoreboard's three lines above the keys
        text = "\n".join(board)
        assert "ppo-m…032111" in text and "ppo-mixed-20261125-032111" not in text
        assert text.count("% handled") == 2, text  # yours and the opponent's, on one unwrapped line
        ci = next(line.strip() for line in board if line.lstrip().startswith("you − ppo-m…032111: 95% CI"))
        assert ci.endswith(("not significant yet", "you ahead", "ppo-m…032111 ahead")), ci  # not cut


async def test_at_60x20_the_keys_take_a_row_each_and_the_scoreboard_fits_without_wrapping(tmp_path: Path) -> None:
    """A small terminal (over SSH) leaves the conversation room: each key on one row with the opponent's
    value beside it, the scoreboard on its three rows, the CI line among them rather than wrapped off."""
    from cs_tui.widgets.scoreboard import Scoreboard

    app = make_app(tmp_path)
    async with app.run_test(size=(60, 20)) as pilot:
        screen = await ready(pilot)
        assert screen.query_one(Transcript).region.height >= 8
        assert screen.query_one(ActionPicker).region.height == 5  # its border and four rows of two keys
        assert "7 quick resolution  100% ★" in screen_text(app)  # seed 7: the heuristic's choice
        await finish(pilot, screen)
        for key in "67676":  # six customers: the CI line
            await pilot.press("enter")
            await finish(pilot, screen, key=key)
        assert screen.query_one(Scoreboard).region.height == 4  # its border and three rows, as at 80 columns
        board = [line.strip() for line in screen_text(app).splitlines()[-4:-1]]
        assert board[0].startswith("6 played  you ") and board[0].endswith(" avg"), board
        assert board[1].startswith("handled   you ") and board[1].endswith("%"), board
        assert board[2].startswith("you − heuristic: 95% CI ["), board
        assert board[2].endswith(("→ not significant", "→ you ahead", "→ heuristic ahead")), board
        await pilot.resize_terminal(100, 30)  # room again: the value and its bar under each key's name
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert screen.query_one(ActionPicker).region.height == 5  # its border and two rows of four keys, 2 high
        lines = screen_text(app).splitlines()
        assert any(line.strip().startswith("░░░░░") for line in lines)
        assert any(line.strip().startswith("last      you ") for line in lines)


async def test_the_longest_results_still_fit_80_columns() -> None:
    """Two 10-turn endings beside a 12-cell opponent name after 100 customers: the results go compact
    ("10t") rather than run past the edge; with room to spare they are spelled out."""
    from textual.app import App, ComposeResult

    from cs_tui.play_session import Comparison, Episode, Turn
    from cs_tui.widgets.scoreboard import Scoreboard

    def episode(player: str, outcome: str) -> Episode:
        turn = Turn(0, "", "", 1, 1, 0.3, -0.03, {}, None)
        last = Turn(0, "", "", 0, 0, 0.1, -0.03, {}, outcome)
        return Episode(player, "mixed", 10, 0, None, "tech", "bug_report", "vip", 2, 1, 0.3, "", [turn] * 9 + [last])

    class Board(App[None]):
        def compose(self) -> ComposeResult:
            yield Scoreboard()

    for width, compact in ((80, True), (120, False)):
        app = Board()
        async with app.run_test(size=(width, 6)) as pilot:
            board = app.query_one(Scoreboard)
            board.opponent = "ppo-mixed-20261125-032111"
            board.comparison = Comparison(100, -0.3, 1.61, 0.61, 0.83, -1.91, -2.1, -1.7)
            board.last = (episode("you", "abandoned"), episode("ppo", "escalated"))
            await pilot.pause()
            lines = [line.rstrip() for line in screen_text(app).splitlines() if line.strip()]
            last = next(line for line in lines if line.lstrip().startswith("last"))
            assert all(len(line) <= width for line in lines)
            assert last.endswith("escalated -0.30, 10t" if compact else "escalated -0.30, 10 turns"), last
            assert ("abandoned -0.30, 10t" in last) == compact


async def test_a_new_opponent_chosen_after_a_conversation_says_it_plays_the_next_customer(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await finish(pilot, screen)
        assert "heuristic: " in screen_text(app)  # the opponent's result with this customer
        screen.load_opponent("baseline:random")
        await settle(pilot)
        text = screen_text(app)
        assert "random will play your next customer · ⏎ next" in text and "loading" not in text
        assert "4 more customers" not in text and "finish a conversation and random plays" in text  # a new score


@pytest.mark.parametrize("size", [(80, 24), (40, 12)])
async def test_every_pane_has_a_help_page_that_opens_and_closes_at_any_size(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    from cs_tui.app import PANES
    from cs_tui.screens.help import HelpScreen

    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        for mode, (_, _, title) in PANES.items():
            await app.switch_mode(mode)
            await pilot.pause()
            pane = app.screen
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            assert app.screen.help_text.startswith(f"## {title}")  # every pane says what it is for
            keys = [key for key, _ in app.screen.keys]
            if mode == "play":  # also the keys that do nothing yet (enter: the next customer) or lack room
                assert "⏎ enter" in keys and "c" in keys and "v" in keys  # the glyph and the key's name
            assert "ctrl+q" in shown(app.screen.query_one("#help-keys", Static))  # quits even from a field
            if size == (80, 24):
                assert f"Help · {title}" in screen_text(app)
            await pilot.press("question_mark")
            await pilot.pause()
            assert app.screen is pane


async def test_the_help_says_where_things_are_in_the_layout_on_screen(tmp_path: Path) -> None:
    """Side by side, the help says left and right; stacked (the training pane under 70 columns), top and
    below; and the play pane's help says where the mood and return went when its side panel is left out."""
    from cs_tui.screens.help import HelpScreen

    async def help_page(pilot: Pilot[int]) -> str:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(pilot.app.screen, HelpScreen)
        text = " ".join(pilot.app.screen.help_text.split())  # as read: line breaks are spaces
        await pilot.press("question_mark")
        await pilot.pause()
        return text

    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert "are on the right" in await help_page(pilot)
        await pilot.press("t")
        await pilot.pause()
        wide = await help_page(pilot)
        assert "On the left, every run" in wide and "on the right, the run you follow" in wide
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        stacked = await help_page(pilot)
        assert "On top, every run" in stacked and "below it, the run you follow" in stacked
        assert "left" not in stacked and "right" not in stacked
        await pilot.press("p")
        await pilot.pause()
        narrow = await help_page(pilot)
        assert "the side panel, which needs 64 columns" in narrow and "on the right" not in narrow


async def test_text_keeps_a_blank_cell_before_the_scrollbar(tmp_path: Path) -> None:
    """Scrolled text (the conversation, the help page) never runs into its scrollbar: the cell left of
    the scrollbar is blank on every row."""
    from textual.containers import VerticalScroll
    from textual.widget import Widget

    from cs_tui.screens.help import HelpScreen

    def cells_before_scrollbar(widget: Widget) -> str:
        assert widget.show_vertical_scrollbar, "the text should overflow: there is a scrollbar"
        bar = widget.vertical_scrollbar.region
        rows = screen_text(app).splitlines()
        return "".join(rows[y][bar.x - 1] for y in range(bar.y, bar.bottom))

    app = make_app(tmp_path)
    async with app.run_test(size=(60, 20)) as pilot:
        screen = await ready(pilot)
        for key in "15151515":  # a long conversation in a short window
            if screen.phase is not Phase.LIVE:
                break
            await pilot.press(key)
        await pilot.pause()
        transcript = screen.query_one(Transcript)
        assert transcript.plain.count("You [") >= 3
        assert cells_before_scrollbar(transcript).strip() == ""
        # and not by luck of where the words broke: the lines wrap one cell short of the scrollbar
        room = transcript.vertical_scrollbar.region.x - transcript.content_region.x
        assert max(strip.cell_length for strip in transcript.lines) == room - 1
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert cells_before_scrollbar(app.screen.query_one(VerticalScroll)).strip() == ""


async def test_the_conversation_is_selected_with_the_mouse_and_copied(tmp_path: Path) -> None:
    """A drag over the transcript selects its text; ctrl+c copies it; c copies the whole conversation."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await ready(pilot)
        await pilot.press("1")
        transcript = screen.query_one(Transcript)
        first_line = transcript.lines[0].text.rstrip()
        assert first_line.startswith("Customer (")
        # press on the first cell of the text, drag to the end of the first line, let go
        await pilot.mouse_down(Transcript, offset=(1, 0))
        await pilot.hover(Transcript, offset=(len(first_line), 0))
        await pilot.mouse_up(Transcript, offset=(len(first_line), 0))
        await pilot.pause()
        assert screen.get_selected_text() == first_line
        await pilot.press("ctrl+c")
        assert app.clipboard == first_line
        # c: with nothing selected, the whole conversation as shown, every line
        screen.clear_selection()
        await pilot.press("c")
        assert app.clipboard == transcript.plain and "You [empathetic]:" in app.clipboard
        await wait_for_toast(pilot, "Copied the conversation")


def test_a_right_escalation_counts_as_handled_on_the_scoreboard() -> None:
    """An escalation of a case only a specialist can solve was counted as 0 % solved."""
    from cs_tui.widgets.scoreboard import Scoreboard

    def escalated(needs_specialist: bool) -> Conversation:
        options = {"inquiry": "fraud_report", "sentiment": "angry", "urgency": 4, "needs_specialist": needs_specialist}
        conversation = Conversation(industry="bfsi", max_turns=10, seed=3, options=options)
        conversation.play(2)  # escalate
        assert conversation.episode.outcome == "escalated"
        return conversation

    right, wrong = escalated(True).episode, escalated(False).episode
    assert right.handled and not wrong.handled
    comparison = compare([(right, wrong)])
    assert (comparison.human_handled, comparison.agent_handled) == (1.0, 0.0)
    played = Scoreboard._rows(comparison, right, wrong, compact=False)[1]
    assert played[1].endswith("100% handled") and played[2].endswith("0% handled")


async def test_the_chosen_theme_is_remembered_across_restarts(tmp_path: Path, own_config_home: Path) -> None:
    settings = own_config_home / "cs-tui" / "settings.json"
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        default = app.theme
        assert default != "nord"
        app.theme = "nord"  # what ctrl+p → "Change theme" does
        await pilot.pause(0.2)
    assert json.loads(settings.read_text()) == {"theme": "nord"}
    assert not [p for p in settings.parent.iterdir() if p != settings]  # no temp file left behind
    again = make_app(tmp_path)
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.1)
        assert again.theme == "nord"
    # a broken or unknown saved theme is ignored: the app opens with its default
    settings.write_text('{"theme": "no-such-theme"}')
    third = make_app(tmp_path)
    async with third.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.1)
        assert third.theme == default


async def test_the_transcript_names_each_strategy_as_the_picker_does(tmp_path: Path) -> None:
    import re

    from cs_tui.widgets.action_picker import StrategyKey

    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        # "7 quick resolution" on the key: the words after the key's number
        picker = [k.text.plain.splitlines()[0].split(" ", 1)[1] for k in screen.query(StrategyKey)]
        assert picker[6] == "quick resolution" and picker[3] == "product recommend"
        await pilot.press("7")
        transcript = screen.query_one(Transcript).plain
        assert f"You [{picker[6]}]:" in transcript
        await finish(pilot, screen)  # the opponent's answers too, once it has played the same customer
        named = re.findall(r"^\S+ \[([^\]]+)\]:", screen.query_one(Transcript).plain, re.M)
        assert named and set(named) <= set(picker), named


async def test_leaving_a_customer_asks_first_counts_as_a_loss_and_the_opponent_still_plays_it(tmp_path: Path) -> None:
    """n mid-conversation once dropped the customer unasked and the opponent never played it: a player
    could skip every hard customer and look better on the scoreboard."""
    from cs_tui.play_session import LEAVE_PENALTY, read_recording
    from cs_tui.screens.play_dialogs import ChoiceDialog, NewEpisodeDialog

    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await pilot.press("1")  # one turn in: the customer is still there
        live = screen.state
        assert isinstance(live, Live)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        assert "Leave this conversation?" in screen_text(app) and "counts as your loss" in screen_text(app)
        await pilot.press("enter")  # the highlighted choice is to stay
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.state is live and not screen.pairs  # nothing changed
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.press("down", "enter")  # leave
        await wait_for(pilot, lambda: isinstance(app.screen, NewEpisodeDialog))
        await pilot.press("escape")
        await settle(pilot)
        assert len(screen.pairs) == 1  # the opponent played the customer you left
        human, agent = screen.pairs[0]
        assert human is live.conversation.episode and human.outcome == "left" and len(human.turns) == 1
        assert agent.seed == human.seed and agent.done
        comparison = screen.query_one(Scoreboard).comparison
        assert comparison is not None and comparison.episodes == 1
        # your loss, whatever you had so far: at least LEAVE_PENALTY below the opponent
        assert comparison.human_mean <= agent.total_return - LEAVE_PENALTY
        assert comparison.human_mean <= human.total_return - LEAVE_PENALTY
        assert comparison.human_handled == 0
        assert "you left" in screen_text(app)
    (recording,) = (tmp_path / "episodes").glob("*.json")
    assert read_recording(recording).human_left  # a replay shows it as left, too


@pytest.mark.parametrize("size", [(60, 20), (40, 12)], ids=["60x20", "40x12"])
async def test_a_narrow_pane_keeps_the_customers_inquiry_tier_and_mood(tmp_path: Path, size: tuple[int, int]) -> None:
    """Below 64 columns the side panel goes; the line above the conversation keeps what matters of it."""
    from cs_env.domain import SENTIMENT_NAMES

    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await ready(pilot)
        await pilot.press("1")
        await pilot.pause()
        e = screen.state.shown
        assert e is not None
        top = screen_text(app).splitlines()[0]  # in the title's row
        assert e.inquiry.replace("_", " ") in top and e.tier in top
        assert "█" in top and "░" in top  # the mood's gauge
        if size == (60, 20):
            assert f"tier {e.tier}" in top and SENTIMENT_NAMES[e.sentiment] in top
            await pilot.resize_terminal(80, 24)  # room for the side panel again: the line goes
            await pilot.pause(0.2)
            assert not screen.query_one("#customer-line").display
