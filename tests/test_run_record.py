"""The typed run record: meta.json read strictly (a bad or missing field is an error naming it and the
file), written back in the very format it had, old run folders and unknown keys kept."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cs_tui.files import atomic_write_json, to_json
from cs_tui.training.run_record import REQUIRED, EvalRecord, RunError, RunRecord
from cs_tui.training.runs import Run

SHIPPED = Path(__file__).parent.parent / "saves" / "default" / "meta.json"


def shipped() -> dict[str, Any]:
    return json.loads(SHIPPED.read_text())


def test_the_shipped_meta_json_reads_and_writes_back_exactly() -> None:
    data = shipped()
    record = RunRecord.from_json(data, SHIPPED)
    assert record.to_json() == data and list(record.to_json()) == list(data)  # the same keys, in order
    assert to_json(record.to_json(), indent=2) + "\n" == SHIPPED.read_text()  # byte for byte
    assert record.algorithm == "ppo" and record.status == "finished" and record.extra == {}
    assert (
        record.best_eval is not None
        and record.best_eval.is_best
        and record.best_eval.pct_of_oracle == pytest.approx(95.83, abs=0.01)
    )


def test_a_run_folder_written_and_read_through_run_keeps_its_record(tmp_path: Path) -> None:
    run = Run(tmp_path / "default")
    run.path.mkdir()
    record = RunRecord.from_json(shipped(), SHIPPED)
    run.write_record(record)
    again = run.record()
    assert again == record and again.updated_at != shipped()["updated_at"]  # set when written
    assert run.meta == record.to_json()  # the status-level readers see the same words


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_a_missing_field_names_the_field_and_the_file(tmp_path: Path, name: str) -> None:
    data = shipped()
    del data[name]
    path = tmp_path / "r" / "meta.json"
    with pytest.raises(RunError, match=rf"^{re.escape(str(path))}: the field '{name}' is missing"):
        RunRecord.from_json(data, path)


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("max_turns", "ten", "max_turns must be a whole number, got 'ten'"),
        ("seed", True, "seed must be a whole number, got True"),  # JSON's true is no number
        ("total_timesteps", 1.5, "total_timesteps must be a whole number, got 1.5"),
        ("status", 3, "status must be a string, got 3"),
        ("hyperparameters", [1], "hyperparameters must be a JSON object, got [1]"),
        ("pid", "12", "pid must be a whole number or null, got '12'"),
        ("curriculum", "yes", "curriculum must be true or false, got 'yes'"),
        ("command", ["cs-tui", 1], "command must be a list of strings or null"),
        ("versions", {"torch": 2}, "versions must be a JSON object or null"),
        ("last_eval", [], "last_eval must be an evaluation record"),
    ],
)
def test_a_field_of_the_wrong_type_names_the_field_and_the_file(
    tmp_path: Path, name: str, value: object, said: str
) -> None:
    path = tmp_path / "r" / "meta.json"
    with pytest.raises(RunError, match=rf"^{re.escape(str(path))}: ") as caught:
        RunRecord.from_json({**shipped(), name: value}, path)
    assert said in str(caught.value)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"mean_return": "high"}, "last_eval: mean_return must be a number (or null), or an object of numbers"),
        ({"strategy_usage": {"technical": "most"}}, "last_eval: strategy_usage must be a number"),
        ({"timesteps": None}, "last_eval: timesteps must be a whole number, got None"),
        ({"type": "train"}, "last_eval: type must be 'eval'"),
        ({"is_best": 1}, "last_eval: is_best must be true or false"),
    ],
)
def test_a_bad_evaluation_record_names_its_field(tmp_path: Path, change: dict[str, Any], said: str) -> None:
    data = shipped()
    data["last_eval"] = {**data["last_eval"], **change}
    with pytest.raises(RunError) as caught:
        RunRecord.from_json(data, tmp_path / "meta.json")
    assert str(caught.value).startswith(f"{tmp_path / 'meta.json'}: {said}"), caught.value


def test_another_schema_is_refused_naming_the_one_read(tmp_path: Path) -> None:
    with pytest.raises(RunError, match=r"schema 2 is not supported \(this cs-tui reads schema 1\)"):
        RunRecord.from_json({**shipped(), "schema": 2}, tmp_path / "meta.json")


def test_a_run_of_an_earlier_version_reads_with_defaults_and_unknown_keys_are_kept(tmp_path: Path) -> None:
    data = shipped()
    for later in ("timesteps_requested", "keep_checkpoints", "warm_start", "frame_stack", "curriculum"):
        del data[later]  # written by later versions than the first
    data["from_the_future"] = {"x": [1, 2]}
    record = RunRecord.from_json(data, tmp_path / "meta.json")
    assert (record.timesteps_requested, record.keep_checkpoints, record.warm_start) == (None, None, None)
    assert (record.frame_stack, record.curriculum) == (1, False)
    assert record.extra == {"from_the_future": {"x": [1, 2]}}
    written = record.to_json()
    assert written["from_the_future"] == {"x": [1, 2]} and written["frame_stack"] == 1
    assert "tune" not in written and "traceback" not in written  # written only once set, as ever


def test_an_evaluation_record_keeps_the_evaluations_own_figures() -> None:
    data = shipped()["best_eval"]
    evaluation = EvalRecord.from_json(data, "best_eval")
    assert evaluation.to_json() == data
    assert set(evaluation.metrics) == set(data) - {"type", "time", "timesteps", "is_best"}
    assert evaluation.strategy_usage == data["strategy_usage"] and evaluation.timesteps == 850_048
    # a hand-written one (the tests' fixtures) needs only its step count
    small = EvalRecord.from_json({"timesteps": 5, "mean_return": None}, "x")
    assert small.mean_return is None and small.pct_of_oracle is None and not small.is_best and small.time is None


def test_the_app_readers_errors_are_run_errors_so_a_bad_field_is_shown_not_raised(tmp_path: Path) -> None:
    run = Run(tmp_path / "r")
    run.path.mkdir()
    atomic_write_json(run.meta_path, {**shipped(), "max_turns": "ten"})
    with pytest.raises(RunError, match=r"r/meta\.json: max_turns must be a whole number"):
        run.record()
    assert run.recorded_status == "finished"  # the status alone still reads: the run can be stopped, listed


@pytest.mark.parametrize(
    ("status", "done", "steps", "progress"),
    [
        ("running", 2500, None, 0.25),  # meta.json's checkpoint count
        ("running", 2500, 3900, 0.39),  # a fresher count (the latest train record's) wins
        ("running", 0, 10_016, 1.0),  # DQN's last collection round may pass the total: never over 100 %
        ("interrupted", 2500, None, 0.25),
        ("finished", 9000, None, 1.0),  # a finished run is done, whatever its count
    ],
)
def test_progress_is_one_figure_for_every_view(status: str, done: int, steps: int | None, progress: float) -> None:
    data = {**shipped(), "status": status, "timesteps_done": done, "total_timesteps": 10_000}
    assert RunRecord.from_json(data, SHIPPED).progress(steps) == pytest.approx(progress)
