"""The models pane: saved models with their metadata, evaluation in a worker, A/B comparison, broken files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from app_helpers import PaneApp, screen_text, shown, toasts, wait_for, wait_for_toast
from textual.widgets import DataTable, Input, Select, Static

from cs_env.env import CustomerSupportEnv
from cs_tui.files import atomic_write_json, now_iso
from cs_tui.screens.models import CompareScreen, ModelsScreen, describe_entry, list_models
from cs_tui.widgets.bars import ShareBars

EPISODES = "200"  # small: the pane's behaviour is under test, not the policy


def write_meta(folder: Path, **extra: Any) -> None:
    meta = {
        "schema": 1,
        "name": folder.name,
        "algorithm": "ppo",
        "industry": "mixed",
        "max_turns": 10,
        "seed": 7,
        "total_timesteps": 5000,
        "timesteps_done": 5000,
        "hyperparameters": {"n_steps": 64},
        "created_at": now_iso(),
        "status": "finished",
        "pid": None,
        "last_eval": {
            "type": "eval",
            "timesteps": 5000,
            "mean_return": 1.25,
            "ci95": 0.04,
            "pct_of_oracle": 61.5,
            "resolution_rate": 0.6,
            "strategy_usage": {"technical": 0.7, "escalate": 0.3},
        },
        **extra,
    }
    atomic_write_json(folder / "meta.json", meta)


@pytest.fixture(scope="module")
def saves(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saves folder with one briefly trained PPO run, as the trainer lays it out."""
    torch = pytest.importorskip("torch")
    sb3 = pytest.importorskip("stable_baselines3")
    from cs_tui.training.model_file.writer import save_model

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("saves")
    run = root / "ppo-small"
    run.mkdir()
    model = sb3.PPO("MlpPolicy", CustomerSupportEnv("mixed", 10), seed=0, device="cpu", n_steps=64, batch_size=32)
    model.learn(64)
    save_model(model, run / "model.zip", {"industry": "mixed", "max_turns": 10})
    write_meta(run)
    return root


async def evaluate_the_first_row(pilot: Any) -> ModelsScreen:
    """Press e on the models list's first row, to be evaluated on EPISODES conversations."""
    screen = pilot.app.screen
    assert isinstance(screen, ModelsScreen)
    screen.query_one("#episodes", Input).value = EPISODES
    screen.query_one("#models", DataTable).focus()
    await pilot.press("e")
    return screen


async def test_list_shows_saved_models_with_meta_and_last_eval(saves: Path) -> None:
    app = PaneApp(saves, ModelsScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#models", DataTable)
        assert str(table.get_row_at(0)[0]) == "ppo-small"
        assert "heuristic" in [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        meta = shown(app.screen.query_one("#model-meta", Static))
        assert "PPO · mixed · finished" in meta
        assert "5,000/5,000 steps · seed 7" in meta
        assert "61.5% of oracle" in meta  # the last evaluation during training
        # the usage bars show the last evaluation's strategy usage until the model is evaluated here
        assert app.screen.query_one("#model-usage", ShareBars).values == {"technical": 0.7, "escalate": 0.3}


async def test_evaluate_a_model_then_compare_it_with_a_baseline_by_keys(saves: Path) -> None:
    app = PaneApp(saves, ModelsScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        screen.query_one("#episodes", Input).value = EPISODES
        table = screen.query_one("#models", DataTable)
        table.focus()
        await pilot.press("e")
        await wait_for(pilot, lambda: any(spec.endswith("ppo-small") for spec, _ in screen.reports))
        report = shown(screen.query_one("#model-eval", Static))
        assert "on mixed · 200 episodes" in report
        for words in ("% of oracle", "resolved", "bfsi", "retail", "tech", "basic", "premium", "vip", "order_status"):
            assert words in report
        # the strategy usage is the evaluation's own, drawn in it; the training evaluation's bars are hidden
        assert "Strategy usage" in report and "educational" in report
        assert not screen.query_one("#model-usage", ShareBars).display
        # a report belongs to its setting: another industry has none yet, back again shows it
        screen.query_one("#industry", Select).value = "bfsi"
        await wait_for(pilot, lambda: "not evaluated here" in shown(screen.query_one("#model-eval", Static)))
        screen.query_one("#industry", Select).value = "mixed"
        await wait_for(pilot, lambda: "on mixed · 200 episodes" in shown(screen.query_one("#model-eval", Static)))
        table.focus()
        # A = the model, B = the heuristic; c evaluates B, then opens the comparison
        await pilot.press("a")
        heuristic = [str(table.get_row_at(i)[0]) for i in range(table.row_count)].index("heuristic")
        table.move_cursor(row=heuristic)
        await pilot.press("b", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        compare = shown(app.screen.query_one("#compare-table", Static))
        assert "A ppo-small" in compare and "B heuristic" in compare
        assert "B − A" in compare
        bars = app.screen.query_one("#compare-usage", ShareBars)
        assert bars.values and bars.compare
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_the_pane_shows_an_evaluation_as_cs_tui_evaluate_prints_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cs_tui.cli import main

    app = PaneApp(tmp_path, ModelsScreen)  # no runs: the baselines only, random first
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await evaluate_the_first_row(pilot)
        await wait_for(pilot, lambda: screen.reports)
        in_pane = shown(screen.query_one("#model-eval", Static))
    monkeypatch.setenv("COLUMNS", "200")  # the width shown() draws the pane's text at
    assert main(["--saves", str(tmp_path), "evaluate", "baseline:random", "--episodes", EPISODES]) == 0
    printed = capsys.readouterr().out

    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.splitlines()]

    assert lines(in_pane)[:2] == ["", "Evaluation"]
    assert lines(in_pane)[2:] == lines(printed)  # the same words, figures and columns


async def test_a_broken_model_file_is_a_notification_not_a_crash(tmp_path: Path) -> None:
    run = tmp_path / "ppo-broken"
    run.mkdir()
    (run / "model.zip").write_bytes(b"PK\x03\x04 truncated")
    write_meta(run)
    app = PaneApp(tmp_path, ModelsScreen)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await evaluate_the_first_row(pilot)
        # the notification is a message: wait for it to be handled, not just for the evaluation to end
        await wait_for_toast(pilot, "Could not evaluate ppo-broken")
        messages = toasts(app)
        assert any("model.zip" in m for m in messages), messages
        assert not any("ModelLoadError" in m for m in messages), messages  # words, not an exception's class
        assert app.is_running and not screen.reports and not screen.evaluating


def test_list_models_skips_runs_without_a_model_and_keeps_broken_meta(tmp_path: Path) -> None:
    (tmp_path / "no-model").mkdir()
    write_meta(tmp_path / "no-model")
    broken = tmp_path / "broken-meta"
    broken.mkdir()
    (broken / "meta.json").write_text("[]")
    (broken / "model.zip").write_bytes(b"")
    bad_field = tmp_path / "bad-field"
    bad_field.mkdir()
    write_meta(bad_field, seed="seven")
    (bad_field / "model.zip").write_bytes(b"")
    entries = list_models(tmp_path)
    names = [e.name for e in entries]
    assert "no-model" not in names
    broken_entry = next(e for e in entries if e.name == "broken-meta")
    assert broken_entry.meta_error and "meta.json" in broken_entry.meta_error
    # a field of the wrong type: the entry says which, in the details pane, instead of a crash
    bad = next(e for e in entries if e.name == "bad-field")
    assert bad.record is None and bad.meta_error is not None
    assert "bad-field/meta.json: seed must be a whole number, got 'seven'" in bad.meta_error
    assert "seed must be a whole number" in str(describe_entry(bad))


def test_opening_the_panes_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import cs_tui.screens.training, cs_tui.screens.scenarios, cs_tui.screens.models\n"
        "heavy = [m for m in ('torch', 'stable_baselines3') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


async def test_resizing_down_to_40x12_and_back_raises_nothing(saves: Path) -> None:
    app = PaneApp(saves, ModelsScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for size in ((40, 12), (120, 40), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
        await wait_for(pilot, lambda: app.screen.query_one("#models", DataTable).row_count >= 5)


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40)])
async def test_long_run_names_stay_apart_and_evaluate_is_one_key(tmp_path: Path, size: tuple[int, int]) -> None:
    for name in ("ppo-mixed-20261125-032111", "ppo-mixed-20261125-045502"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.zip").write_bytes(b"")  # listed by its file; not loaded here
        write_meta(tmp_path / name)
    app = PaneApp(tmp_path, ModelsScreen)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#models", DataTable)
        names = {str(table.get_row_at(i)[0]) for i in range(2)}
        if size[0] >= 120:  # wide: whole default names
            assert names == {"ppo-mixed-20261125-032111", "ppo-mixed-20261125-045502"}
        elif size[0] >= 80:  # cut in the middle: the distinctive end stays
            assert names == {"ppo-mixed-…25-032111", "ppo-mixed-…25-045502"}
        else:  # narrow: the details get the room, the names keep their ends
            assert names == {"ppo-mixed…032111", "ppo-mixed…045502"}
        assert all(name in screen_text(app) for name in names)
        keys = screen_text(app).splitlines()[-1]
        assert keys.count("Evaluate") == 1, keys


async def test_at_60_columns_the_details_break_between_facts_and_keep_their_words(tmp_path: Path) -> None:
    """The details beside the list were cut to "last eval: return 1.250 · 61…" at 60 columns: a line of
    facts now breaks between them, each part whole."""
    run = tmp_path / "ppo-mixed-20261125-032111"
    run.mkdir()
    (run / "model.zip").write_bytes(b"")  # listed by its file; not loaded here
    write_meta(run)
    app = PaneApp(tmp_path, ModelsScreen)
    async with app.run_test(size=(60, 20)) as pilot:
        screen = app.screen
        table = screen.query_one("#models", DataTable)
        await wait_for(pilot, lambda: table.row_count > 4)

        def details() -> list[str]:
            area = screen.query_one("#model-detail").region
            rows = screen_text(app).splitlines()[area.y : area.bottom]
            return [row[area.x : area.right - 1].strip() for row in rows]  # (not the scrollbar's cell)

        shown = details()
        assert shown[:3] == ["ppo-mixed-20261125-032111", "PPO · mixed · finished", "5,000/5,000 steps · seed 7"]
        assert shown[4:8] == ["n_steps=64", "last eval: return 1.250", "61.5% of oracle", "resolved 60.0% @ 5,000"]
        assert "not evaluated here: press e" in shown
        assert not any("…" in line for line in shown), shown
        await pilot.press("down")  # a baseline: its description whole too
        await pilot.pause()
        shown = details()
        assert shown[:3] == ["baseline:random", "picks at random", "a yardstick to compare with"], shown


async def test_comparing_a_model_with_itself_is_refused(tmp_path: Path) -> None:
    app = PaneApp(tmp_path, ModelsScreen)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        table = screen.query_one("#models", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        table.focus()
        await pilot.press("a", "b", "c")  # the same row marked twice
        await pilot.pause(0.3)
        assert not isinstance(app.screen, CompareScreen)
        assert not screen.evaluating  # nothing was evaluated for a comparison that says nothing
        await wait_for_toast(pilot, "A and B are both")


def test_the_comparison_shows_each_difference_at_its_rows_own_precision() -> None:
    """The B − A column mixed precisions (+4.123 beside 84.2 and 88.3): each difference now reads like its row."""
    import io
    import re

    from rich.console import Console

    from cs_tui.evaluation_view import comparison

    def report(shift: float) -> dict[str, Any]:
        overall = {
            "mean_return": 1.2 + shift, "ci95": 0.03, "pct_of_oracle": 84.2 + 41 * shift,
            "satisfaction": 0.81 + shift, "resolution_rate": 0.7 + shift, "escalation_rate": 0.1,
            "abandonment_rate": 0.2 - shift, "mean_turns": 3.8 + shift,
        }  # fmt: skip
        return {"overall": overall, "industry": "mixed", "episodes": 200, "seed": 0}

    console = Console(width=120, file=io.StringIO(), record=True)
    console.print(comparison(report(0.0), report(0.1), ("a", "b")))
    for line in console.export_text().splitlines():
        cells = re.findall(r"[+-]?\d+\.(\d+)%?", line)
        if len(cells) == 3:  # A, B and B − A of one row: the same number of decimals
            assert len({len(c) for c in cells}) == 1, line


async def test_the_list_offers_every_baseline_cs_tui_evaluate_takes(tmp_path: Path) -> None:
    """script, lookup and the fixed strategies too, in the core's order (cs_env.policies.BASELINE_NAMES)."""
    from cs_env.policies import BASELINE_NAMES, baselines
    from cs_tui.agents import load_agent

    app = PaneApp(tmp_path, ModelsScreen)  # no runs: the baselines only
    async with app.run_test(size=(80, 40)) as pilot:
        table = app.screen.query_one("#models", DataTable)
        await wait_for(pilot, lambda: table.row_count >= len(BASELINE_NAMES))
        listed = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
    assert listed == list(BASELINE_NAMES) == list(baselines())
    assert {"script", "lookup", "quick_resolution", "upsell"} <= set(listed)
    for name in listed:  # each one is what `cs-tui evaluate baseline:NAME` loads
        assert load_agent(f"baseline:{name}").name == f"baseline:{name}"
