"""A number too wide for a float (10**400) in a run's meta.json or metrics.jsonl: the app shows the run as
broken (naming the field) or shows a dash for the figure, and keeps running. Each variant once killed the
app (``OverflowError`` from ``math.isfinite`` / ``float``) just by showing the training or models pane."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from app_helpers import PaneApp, screen_text, wait_for
from textual.widgets import DataTable

from cs_tui import numbers
from cs_tui.training.run_record import RunError, RunRecord

REPO = Path(__file__).resolve().parents[1]
HUGE = 10**400
DIGITS = "0" * 30  # what would show if the number were printed whole

#: meta.json fields set to 10**400: (field path, whether the record must be refused naming the field)
META_VARIANTS: list[tuple[tuple[str, ...], bool]] = [
    (("total_timesteps",), True),
    (("timesteps_done",), True),
    (("timesteps_requested",), True),
    (("seed",), True),
    (("n_envs",), True),
    (("eval_every",), True),
    (("last_eval", "timesteps"), True),
    (("reference", "oracle_return"), False),  # a free-form table: the figure shows as a dash
    (("reference", "random_return"), False),
    (("last_eval", "pct_of_oracle"), False),
    (("last_eval", "mean_return"), False),
    (("best_eval", "pct_of_oracle"), False),
    (("last_eval", "strategy_usage", "upsell"), False),
]
#: metrics.jsonl lines appended to a good run
METRICS_VARIANTS: list[dict[str, Any]] = [
    {"type": "train", "timesteps": HUGE},
    {"type": "train", "timesteps": 600000, "fps": HUGE, "eta_seconds": HUGE, "episodes": HUGE, "mean_return": HUGE},
    {"type": "train", "timesteps": 600000, "episode_returns": [HUGE, 1.0, -HUGE]},
    {"type": "eval", "timesteps": 600000, "pct_of_oracle": HUGE, "mean_return": HUGE, "ci95": HUGE},
    {"type": "status", "timesteps": HUGE, "status": "running", "time": HUGE},
]


def _set(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


@pytest.fixture(scope="module")
def huge_saves(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run folder per variant, each a copy of the shipped default run with one number made huge."""
    saves = tmp_path_factory.mktemp("huge") / "saves"
    source = REPO / "saves" / "default"
    for i, (path, _) in enumerate(META_VARIANTS):
        run = saves / f"meta{i:02d}"
        shutil.copytree(source, run, ignore=shutil.ignore_patterns("best.zip"))
        meta = json.loads((run / "meta.json").read_text())
        _set(meta, path, HUGE)
        (run / "meta.json").write_text(json.dumps(meta))
    for i, line in enumerate(METRICS_VARIANTS):
        run = saves / f"line{i:02d}"
        shutil.copytree(source, run, ignore=shutil.ignore_patterns("best.zip"))
        with open(run / "metrics.jsonl", "a", encoding="utf-8") as stream:
            stream.write(json.dumps(line) + "\n")
    return saves


def test_every_formatter_writes_a_dash_for_an_integer_too_wide_for_a_float() -> None:
    assert numbers.finite(HUGE) is None and numbers.finite(-HUGE) is None
    assert numbers.finite(2**63) == float(2**63)  # wide but a float: shown as it is
    for formatter in (numbers.number, numbers.rate, numbers.share, numbers.pct_of_oracle, numbers.duration):
        assert formatter(HUGE) == numbers.DASH


@pytest.mark.parametrize(("path", "refused"), META_VARIANTS, ids=lambda v: ".".join(v) if isinstance(v, tuple) else "")
def test_meta_json_with_a_huge_count_is_refused_naming_the_field(path: tuple[str, ...], refused: bool) -> None:
    meta = json.loads((REPO / "saves" / "default" / "meta.json").read_text())
    _set(meta, path, HUGE)
    if not refused:
        record = RunRecord.from_json(meta, "meta.json")
        assert record.progress() == 1.0  # the record reads; the figure itself is the formatters' business
        return
    with pytest.raises(
        RunError, match=rf"meta\.json: {path[0]}.* must be a whole number.*, got a number of 401 digits"
    ):
        RunRecord.from_json(meta, "meta.json")


async def test_the_training_pane_shows_every_run_with_a_huge_number_and_keeps_running(huge_saves: Path) -> None:
    from cs_tui.screens.training import TrainingScreen

    app = PaneApp(huge_saves, TrainingScreen)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        runs = len(META_VARIANTS) + len(METRICS_VARIANTS)
        await wait_for(pilot, lambda: table.row_count == runs, timeout=30)
        table.focus()
        for row in range(runs):
            table.move_cursor(row=row)
            await pilot.press("enter")
            name = str(table.get_row_at(row)[0])
            await wait_for(pilot, lambda name=name: name in screen_text(app), timeout=30)  # type: ignore[misc]
            await pilot.pause(0.2)  # the monitor's first read drawn
            text = screen_text(app)
            assert DIGITS not in text, f"{name}: the huge number is printed whole"
            if name.startswith("meta") and META_VARIANTS[int(name[4:])][1]:
                field = META_VARIANTS[int(name[4:])][0][0]
                await wait_for(pilot, lambda field=field: field in screen_text(app), timeout=30)  # type: ignore[misc]
        assert app.is_running


async def test_the_models_pane_lists_every_run_with_a_huge_number_and_keeps_running(huge_saves: Path) -> None:
    from cs_tui.screens.models import ModelsScreen

    app = PaneApp(huge_saves, ModelsScreen)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#models", DataTable)
        runs = len(META_VARIANTS) + len(METRICS_VARIANTS)
        await wait_for(pilot, lambda: table.row_count >= runs, timeout=30)
        table.focus()
        for _ in range(runs):
            await pilot.press("down")
            await pilot.pause(0.05)
            assert DIGITS not in screen_text(app)
        assert app.is_running
