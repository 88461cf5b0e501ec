"""Run folders: where saves go, atomic writes, the metrics stream a reader tails, listing runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cs_tui.files import atomic_write_json
from cs_tui.training import runs
from cs_tui.training.run_lock import process_token
from cs_tui.training.run_record import RunError
from cs_tui.training.runs import Run, append_jsonl, list_runs, saves_dir


def make_run(root: Path, name: str, **meta: object) -> Run:
    run = Run(root / name)
    run.path.mkdir(parents=True)
    base = {"schema": 1, "name": name, "status": "finished", "created_at": "2026-01-01T00:00:00+00:00"}
    atomic_write_json(run.meta_path, {**base, **meta})
    return run


def test_saves_dir_prefers_the_flag_then_the_environment_then_the_working_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CS_TUI_SAVES", "/env/saves")
    assert saves_dir("/flag/saves") == Path("/flag/saves")
    assert saves_dir(None) == Path("/env/saves")
    monkeypatch.delenv("CS_TUI_SAVES")
    assert saves_dir(None) == Path("saves")


def test_atomic_write_replaces_the_file_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "meta.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2, "nan": float("nan")})
    assert json.loads(target.read_text()) == {"a": 2, "nan": None}  # strict JSON: NaN becomes null
    assert [p.name for p in target.parent.iterdir()] == ["meta.json"]


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "meta.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"a": object()})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_kill_9_during_a_stream_of_atomic_writes_never_leaves_a_broken_file(tmp_path: Path) -> None:
    target = tmp_path / "meta.json"
    code = (
        "import sys\nfrom cs_tui.files import atomic_write_json\n"
        f"i = 0\nprint('ready', flush=True)\nwhile True:\n"
        f"    atomic_write_json({str(target)!r}, {{'i': i, 'pad': 'x' * 200000}}); i += 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 120  # a hang bound: the stream is killed once a few versions are written
    while not (target.exists() and json.loads(target.read_text())["i"] >= 3):
        assert time.monotonic() < deadline and proc.poll() is None, "the writer never wrote"
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    assert json.loads(target.read_text())["i"] >= 0  # whole, whichever version it is


def test_metrics_tailing_returns_only_complete_records_and_continues_from_the_offset(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r")
    append_jsonl(run.metrics_path, {"type": "train", "timesteps": 1})
    records, offset = run.read_metrics()
    assert [r["timesteps"] for r in records] == [1]
    # a writer killed mid-line leaves a partial record: it is not returned until the line is complete
    with open(run.metrics_path, "a") as f:
        f.write('{"type": "train", "timeste')
    records, offset2 = run.read_metrics(offset)
    assert records == [] and offset2 == offset
    with open(run.metrics_path, "a") as f:
        f.write('ps": 2}\n')
    append_jsonl(run.metrics_path, {"type": "eval", "timesteps": 3})
    records, offset3 = run.read_metrics(offset2)
    assert [r["timesteps"] for r in records] == [2, 3]
    assert run.read_metrics(offset3) == ([], offset3)


def test_repair_cuts_a_partial_last_line_so_appends_stay_parseable(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"timesteps": 1}\n{"timeste')
    runs.repair_jsonl(path)
    append_jsonl(path, {"timesteps": 2})
    records, _ = runs.parse_jsonl(path.read_bytes())
    assert [r["timesteps"] for r in records] == [1, 2]


def test_garbage_lines_are_skipped_not_fatal(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r")
    run.metrics_path.write_text('{"timesteps": 1}\nnot json\n[1, 2]\n{"timesteps": 2}\n')
    records, _ = run.read_metrics()
    assert [r["timesteps"] for r in records] == [1, 2]


def test_a_replaced_shorter_metrics_file_is_read_from_the_start(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r")
    run.metrics_path.write_text('{"timesteps": 1}\n' * 10)
    _, offset = run.read_metrics()
    run.metrics_path.write_text('{"timesteps": 7}\n')
    records, _ = run.read_metrics(offset)
    assert [r["timesteps"] for r in records] == [7]


def test_meta_errors_name_the_file(tmp_path: Path) -> None:
    run = make_run(tmp_path, "broken")
    run.meta_path.write_text("{not json")
    with pytest.raises(RunError, match=r"broken/meta\.json: not valid JSON"):
        _ = run.meta
    with pytest.raises(RunError, match="file not found"):
        _ = Run(tmp_path / "nothing").meta


def test_meta_is_reread_when_the_file_changes(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", status="running")
    assert run.recorded_status == "running"
    atomic_write_json(run.meta_path, {**run.meta, "status": "finished", "timesteps_done": 5})
    assert run.meta["status"] == "finished" and run.meta["timesteps_done"] == 5


def test_list_runs_newest_first_and_a_broken_folder_does_not_break_it(tmp_path: Path) -> None:
    make_run(tmp_path, "old", created_at="2026-01-01T00:00:00+00:00")
    make_run(tmp_path, "new", created_at="2026-03-01T00:00:00+00:00")
    broken = make_run(tmp_path, "broken")
    broken.meta_path.write_bytes(b"\x00\xff")
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "stray.txt").write_text("x")
    listed = list_runs(tmp_path)
    assert {r.name for r in listed} == {"old", "new", "broken"}
    good = [r.name for r in listed if r.name != "broken"]
    assert good == ["new", "old"]
    assert list_runs(tmp_path / "missing") == []


def test_status_of_a_run_whose_process_died_reads_interrupted(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = make_run(tmp_path, "dead", status="running", pid=proc.pid)
    alive = make_run(tmp_path, "alive", status="running", pid=os.getpid(), pid_token=process_token())
    assert dead.recorded_status == "running"
    assert not dead.is_alive() and dead.status == "died"
    assert alive.is_alive() and alive.status == "running"
    reused = make_run(tmp_path, "reused", status="running", pid=os.getpid(), pid_token="not-this-process")
    if process_token() is not None:  # where start times are known, a reused pid is not mistaken for the run
        assert not reused.is_alive()


def test_resolve_run_accepts_a_folder_or_a_name_under_saves(tmp_path: Path) -> None:
    run = make_run(tmp_path, "mine")
    assert runs.resolve_run(run.path) == run
    assert runs.resolve_run("mine", saves=tmp_path) == run
    with pytest.raises(RunError, match="not a run folder"):
        runs.resolve_run(tmp_path / "missing")


def test_unique_run_name_does_not_overwrite(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x-2").mkdir()
    assert runs.unique_run_name(tmp_path, "x") == "x-3"
    assert runs.unique_run_name(tmp_path, "y") == "y"


def test_runs_module_does_not_import_torch() -> None:
    code = "import sys, cs_tui.training.runs\nprint('torch' in sys.modules, 'stable_baselines3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
