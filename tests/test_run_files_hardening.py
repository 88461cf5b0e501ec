"""A run folder copied from someone else cannot make cs-tui write outside it or wait forever: every file a
trainer writes is opened without following a symlink, every read is bounded and refuses what is not a
regular file at once, and one bad metrics line costs only itself (issue 30 items 4, 5, 14)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from app_helpers import PaneApp, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from campaigns.hostile_runs import plant
from cli_helpers import run_cli
from test_app_training import make_run, train_record

from cs_env.files import FileReadError
from cs_tui.training import runs, trainer
from cs_tui.training.options import TrainOptions
from cs_tui.training.run_lock import RunLock, run_locked
from cs_tui.training.run_record import RunError

FAST = {"eval_episodes": 30, "reference_episodes": 30, "record_seconds": 0.2}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny finished run (2,048 steps, a checkpoint), copied by each test that plants something in it."""
    saves = tmp_path_factory.mktemp("source")
    options = TrainOptions(timesteps=1000, saves=saves, name="r", eval_every=1000, n_envs=16, **FAST)
    result = trainer.train(options)
    assert result.status == "finished"
    return result.run.path


@pytest.fixture
def run_copy(finished_run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "saves" / "r"
    shutil.copytree(finished_run, target)
    return target


def resume(capsys: pytest.CaptureFixture[str], run: Path) -> tuple[int, str]:
    return run_cli(capsys, "train", "--resume", str(run), "--timesteps", "3000", "--quiet")


@pytest.mark.parametrize("name", [".lock", "metrics.jsonl", "meta.json", "model.zip", "best.zip"])
def test_resume_never_writes_through_a_planted_symlink(
    run_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    if name == "meta.json":  # (a link to a copy of the real record: the run would otherwise read as a run)
        victim.write_text((run_copy / name).read_text())
    before = victim.read_bytes(), victim.stat().st_mtime_ns
    (run_copy / name).unlink()
    (run_copy / name).symlink_to(victim)
    code, err = resume(capsys, run_copy)
    assert code == 2 and "Traceback" not in err, err
    assert f"{run_copy / name} is a symbolic link (to {victim})" in err
    assert (victim.read_bytes(), victim.stat().st_mtime_ns) == before  # untouched: not truncated, not appended to
    assert run_locked(run_copy) in (False, None)  # the lock is not left held


def test_resume_never_writes_into_a_folder_a_planted_checkpoints_link_leads_to(
    run_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".keep.zip.x.tmp").write_text("someone's file")
    shutil.rmtree(run_copy / "checkpoints")
    (run_copy / "checkpoints").symlink_to(elsewhere)
    code, err = resume(capsys, run_copy)
    assert code == 2 and "checkpoints is a symbolic link" in err, err
    assert sorted(p.name for p in elsewhere.iterdir()) == [".keep.zip.x.tmp"]


def test_the_writers_refuse_links_themselves(tmp_path: Path) -> None:
    """Beyond the check before a resume: a link planted while a run trains is not written through either."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    run = tmp_path / "run"
    run.mkdir()
    for name in (".lock", "metrics.jsonl"):
        (run / name).symlink_to(victim)
    with pytest.raises(FileReadError, match=r"\.lock: is a symbolic link; a run's files are never written through"):
        RunLock(run).acquire()
    with pytest.raises(FileReadError, match=r"metrics\.jsonl: is a symbolic link"):
        runs.append_jsonl(run / "metrics.jsonl", {"type": "status"})
    with pytest.raises(FileReadError, match=r"metrics\.jsonl: is a symbolic link"):
        runs.repair_jsonl(run / "metrics.jsonl")
    (run / "checkpoints").symlink_to(tmp_path)
    with pytest.raises(FileReadError, match="checkpoints: is a symbolic link"):
        runs.make_run_folder(run / "checkpoints")
    assert victim.read_text() == "precious\n"


def test_a_model_zip_that_is_a_symlink_loop_is_named_not_restarted_from_step_0(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run_copy / "model.zip").unlink()
    (run_copy / "model.zip").symlink_to(run_copy / "model.zip")
    code, err = resume(capsys, run_copy)
    assert code == 2 and f"{run_copy / 'model.zip'} is a symbolic link loop" in err, err
    assert json.loads((run_copy / "meta.json").read_text())["timesteps_done"] == 2048  # nothing restarted


KINDS = {"fifo": "FIFO", "dev_zero": "symbolic link (to /dev/zero)", "folder": "folder", "loop": "symbolic link loop"}


@pytest.mark.parametrize("kind", list(KINDS))
def test_resume_of_a_run_whose_metrics_is_not_a_file_is_one_line_and_exit_2(run_copy: Path, kind: str) -> None:
    plant(run_copy / "metrics.jsonl", kind)
    # a process of its own, with a time limit: a FIFO used to block the resume in open() for good
    done = subprocess.run(
        [sys.executable, "-m", "cs_tui", "train", "--resume", str(run_copy), "--timesteps", "3000", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and KINDS[kind] in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("cs-tui train: error: cannot resume:")
    assert run_locked(run_copy) is False  # the lock was released


@pytest.mark.parametrize("kind", list(KINDS))
def test_reading_the_metrics_of_such_a_run_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    run = make_run(tmp_path, "r")
    plant(run.metrics_path, kind)
    with pytest.raises(RunError, match=r"metrics\.jsonl"):
        run.read_metrics()


def test_one_bad_metrics_line_costs_only_itself(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r")
    bad = [
        "[" * 100_000 + "]" * 100_000,  # nested past the stack
        json.dumps(train_record(1, [0.1], episode_returns=5)),  # wrong kind
        json.dumps(train_record(1, [0.1], timesteps=10**400)),  # a number no float holds
        json.dumps(train_record(1, [0.1], strategy_usage={"a": [1]})),
        '{"type": "train", "x": ' + "1" * 5000 + "}",  # more digits than Python converts
        json.dumps({"type": ["not", "a", "word"]}),
    ]
    good = [train_record(1000, [0.5]), train_record(2000, [0.7, 0.9])]
    with open(run.metrics_path, "w") as f:
        f.write(json.dumps(good[0]) + "\n" + "\n".join(bad) + "\n" + json.dumps(good[1]) + "\n")
    records, offset = run.read_metrics()
    assert [r["timesteps"] for r in records] == [1000, 2000]
    assert offset == run.metrics_path.stat().st_size


def test_a_line_longer_than_a_read_is_skipped_and_reading_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "MAX_METRICS_CHUNK", 1000)
    run = make_run(tmp_path, "r")
    with open(run.metrics_path, "w") as f:
        f.write('{"type": "train", "x": "' + "a" * 5000 + '"}\n' + json.dumps(train_record(3000, [1.0])) + "\n")
    assert [r["timesteps"] for r in run.all_metrics()] == [3000]


def test_a_partial_last_line_is_cut_in_place_without_reading_the_whole_stream(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"type": "a"}\n' * 200_000 + b'{"type": "tr')
    runs.repair_jsonl(path)
    assert path.read_bytes() == b'{"type": "a"}\n' * 200_000
    runs.repair_jsonl(path)  # whole lines: left as they are
    assert path.stat().st_size == 14 * 200_000


@pytest.mark.parametrize("bad_line", ['{"type": "train", "episode_returns": 5}', "[" * 100_000 + "]" * 100_000])
async def test_the_app_follows_a_run_with_a_bad_line_and_the_good_runs_too(tmp_path: Path, bad_line: str) -> None:
    from cs_tui.screens.training import TrainingScreen
    from cs_tui.widgets.sparkline_rewards import RewardSparkline
    from cs_tui.widgets.training_monitor import RunMonitor

    run = make_run(tmp_path, "odd")
    with open(run.metrics_path, "w") as f:
        f.write(json.dumps(train_record(1000, [0.5, 0.7])) + "\n" + bad_line + "\n")
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        spark = app.screen.query_one(RewardSparkline)
        monitor = app.screen.query_one(RunMonitor)
        await wait_for(pilot, lambda: spark.episodes == 2)  # the good line's returns; the bad one skipped
        run.append_metric(train_record(2000, [0.9]))  # polling goes on after the bad line
        await wait_for(pilot, lambda: spark.episodes == 3)
        other = make_run(tmp_path, "good", status="finished")
        other.append_metric(train_record(500, [1.5]))
        monitor.follow(other)
        await wait_for(pilot, lambda: spark.episodes == 1 and monitor.path == other.path)


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
async def test_the_app_following_a_run_whose_metrics_is_a_fifo_or_dev_zero_shows_why(tmp_path: Path, kind: str) -> None:
    from cs_tui.screens.training import TrainingScreen
    from cs_tui.widgets.training_monitor import RunMonitor

    run = make_run(tmp_path, "odd")
    plant(run.metrics_path, kind)
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        monitor = app.screen.query_one(RunMonitor)
        await wait_for(pilot, lambda: monitor.view.status == "broken")
        assert {"fifo": "is a FIFO", "dev_zero": "is a character device"}[kind] in str(monitor.view.reason)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_meta_json_that_is_not_a_file_is_named_by_resume(
    run_copy: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    plant(run_copy / "meta.json", kind)
    code, err = resume(capsys, run_copy)
    assert code == 2 and f"{run_copy / 'meta.json'} is " in err and KINDS[kind] in err, err
