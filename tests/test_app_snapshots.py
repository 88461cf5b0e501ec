"""Snapshots of the panes at 80×24 and a smaller and a larger size (fixed seeds, baselines: deterministic).

Update them with ``pytest tests/test_app_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from cs_tui.app import AppSettings, CsTuiApp

SIZES = [(60, 20), (80, 24), (120, 40)]


def app_for(tmp_path: Path) -> CsTuiApp:
    return CsTuiApp(saves=tmp_path, settings=AppSettings(seed=7, opponent="baseline:heuristic"))


async def opponent_ready(pilot: Pilot[int]) -> None:
    """The opponent loads (and plays) in workers: wait until none is left."""
    for _ in range(50):
        await pilot.pause()
        with contextlib.suppress(WorkerCancelled):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not getattr(pilot.app.screen, "opponent_loading", False) and not pilot.app.workers:
            return


def keys_then_ready(*keys: str) -> Callable[[Pilot[int]], object]:
    async def run(pilot: Pilot[int]) -> None:
        await opponent_ready(pilot)
        for key in keys:
            await pilot.press(key)
        await opponent_ready(pilot)  # the opponent plays the same customer in a worker

    return run


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_play_at_start(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size, run_before=opponent_ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_play_after_a_conversation(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size, run_before=keys_then_ready("1", "6", "6", "6"))


def test_play_blind_mid_conversation(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=(80, 24), run_before=keys_then_ready("b", "1"))


async def study_form_open(pilot: Pilot[int]) -> None:
    """The training pane, its tuning view (an empty saves folder: no studies), then the new-study form."""
    await opponent_ready(pilot)
    for key in ("t", "y"):
        await pilot.press(key)
    for _ in range(100):  # the view's first read of the storage runs in a thread
        await pilot.pause(0.05)
        if "No studies yet" in str(pilot.app.screen.query_one("#tuning-status").render()):
            break
    await pilot.press("n")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_new_study_form(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size, run_before=study_form_open)


async def run_form_open(pilot: Pilot[int]) -> None:
    """The training pane (an empty saves folder), then the new-run form."""
    await opponent_ready(pilot)
    await pilot.press("t")
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_new_run_form(
    snap_compare: Callable[..., bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    monkeypatch.chdir(tmp_path)  # the pane names its saves folder: the same relative one on every machine
    (tmp_path / "saves").mkdir()
    assert snap_compare(app_for(Path("saves")), terminal_size=size, run_before=run_form_open)


def models_evaluated(*keys: str) -> Callable[[Pilot[int]], object]:
    """The models pane (an empty saves folder: the baselines), 200 episodes, then ``keys``; until the
    evaluations are drawn."""

    async def run(pilot: Pilot[int]) -> None:
        from textual.widgets import Input

        from cs_tui.screens.models import ModelsScreen

        await opponent_ready(pilot)
        await pilot.press("m")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, ModelsScreen)
        screen.query_one("#episodes", Input).value = "200"
        screen.query_one("#models").focus()
        await pilot.press(*keys)
        for _ in range(200):
            await pilot.pause(0.05)
            if not screen.evaluating and not pilot.app.workers:
                break
        pilot.app.clear_notifications()  # "Evaluated" toasts would hide the figures
        await pilot.pause()

    return run


@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_models_pane_with_an_evaluation(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size, run_before=models_evaluated("e"))


@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_models_comparison(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    # A random (the first row), B the heuristic (the second); c evaluates both, then compares
    assert snap_compare(app_for(tmp_path), terminal_size=size, run_before=models_evaluated("a", "down", "b", "c"))


async def run_form_dropdown_open(pilot: Pilot[int]) -> None:
    """The new-run form with its algorithm dropdown open: a popup with a border round it."""
    await run_form_open(pilot)
    await pilot.press("enter")  # the focused field is the algorithm
    await pilot.pause()


def test_new_run_form_dropdown_open(
    snap_compare: Callable[..., bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "saves").mkdir()
    assert snap_compare(app_for(Path("saves")), terminal_size=(80, 24), run_before=run_form_dropdown_open)


async def playbook_view_measured(pilot: Pilot[int]) -> None:
    """The models pane (a saves folder holding one playbook, first in the list), then k: the Playbook view on
    that playbook, until its rules are measured."""
    from cs_tui.screens.playbook import PlaybookScreen

    await opponent_ready(pilot)
    await pilot.press("m")
    await pilot.pause()
    await pilot.press("k")
    for _ in range(2400):  # the measurement plays 200 customers (and the oracle's) in a thread
        await pilot.pause(0.05)
        screen = pilot.app.screen
        if isinstance(screen, PlaybookScreen) and not screen.measuring and not pilot.app.workers:
            break
    await pilot.pause()


def test_playbook_view(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    heuristic = Path(__file__).resolve().parents[1] / "playbooks" / "heuristic.toml"
    (tmp_path / "team.toml").write_text(heuristic.read_text())
    assert snap_compare(app_for(tmp_path), terminal_size=(80, 24), run_before=playbook_view_measured)
