"""cs-tui tune: the search space file is checked; trials are run folders scored on held-out
conversations; pruning marks a run pruned; --best writes a file train takes; several worker processes
share one embedded study, one killed with kill -9 mid-trial (no trial lost or counted twice); a
stopped worker leaves its run interrupted and a re-run continues; an unreachable storage exits 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cs_tui.cli import main
from cs_tui.training import runs
from cs_tui.training.hyperparams_file import read_hyperparams
from cs_tui.training.options import HYPERPARAMS_FILE, load_defaults
from cs_tui.training.search_space import SEARCH_SPACE_FILE, load_search_space
from cs_tui.tuning.options import HOLDOUT_SEED, TuneError, TuneOptions
from cs_tui.tuning.results import load_study, trial_rows
from cs_tui.tuning.storage import open_storage, open_study
from cs_tui.tuning.worker import run_worker

# a tiny space and tiny trials: each trial trains 512 steps in about a second
TINY_SPACE = """
[ppo.model.learning_rate]
type = "float"
low = 0.0003
high = 0.003
log = true

[ppo.model.n_steps]
type = "categorical"
choices = [32, 64]

[ppo.model.batch_size]
type = "categorical"
choices = [64, 128]

[ppo.policy.net_arch]
type = "categorical"
choices = [[16], [32, 32]]

[ppo.trainer.n_envs]
type = "categorical"
choices = [4]
"""
TINY = ["--timesteps", "512", "--eval-every", "256", "--eval-episodes", "30", "--holdout-episodes", "30",
        "--reference-episodes", "30", "--heartbeat", "2"]  # fmt: skip


@pytest.fixture
def space(tmp_path: Path) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(TINY_SPACE)
    return path


def tune_args(saves: Path, space: Path, study: str, trials: int, *extra: str) -> list[str]:
    return ["--saves", str(saves), "tune", "--study", study, "--trials", str(trials), "--search-space", str(space),
            *TINY, *extra]  # fmt: skip


def study_of(saves: Path, name: str, storage: str | None = None) -> Any:
    return load_study(open_storage(storage, saves, 1), name)


# -- the search space file -------------------------------------------------------------------


def test_shipped_search_space_loads_for_every_algorithm() -> None:
    spaces = load_search_space()
    assert set(spaces) == {"ppo", "a2c", "dqn", "recurrent_ppo"}
    assert all(spaces[a] for a in spaces)
    assert "model.learning_rate" in {p.key for p in spaces["ppo"]}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('[ppo.model.gamma]\ntype = "float"\nlow = 0.9\nhigh = 1.5', "key 'ppo.model.gamma': high 1.5 is not allowed"),
        ('[ppo.model.learning_rate]\ntype = "float"\nlow = 0.01\nhigh = 0.001', "low 0.01 is not below high 0.001"),
        ('[ppo.model.ent_coef]\ntype = "float"\nlow = 0.0\nhigh = 0.1\nlog = true', "a log range needs low > 0"),
        ('[ppo.model.learnin_rate]\ntype = "float"\nlow = 0.1\nhigh = 0.2', "key 'ppo.model.learnin_rate': unknown"),
        ('[ppo.model.n_steps]\ntype = "categorical"\nchoices = []', "choices must be a non-empty list"),
        ('[ppo.policy.activation_fn]\ntype = "categorical"\nchoices = ["tanh", "swish"]', "'swish' is not allowed"),
        ('[ppo.trainer.n_envs]\ntype = "int"\nlow = 0\nhigh = 8', "n_envs must be an integer in 1-1024"),
        ('[ppo.model.n_steps]\ntype = "range"', "type 'range' is not one of"),
        ('[sac.model.gamma]\ntype = "float"\nlow = 0.9\nhigh = 0.99', "unknown algorithm section [sac]"),
    ],
)
def test_bad_search_space_is_refused_naming_file_key_and_problem(tmp_path: Path, entry: str, problem: str) -> None:
    path = tmp_path / "space.toml"
    path.write_text(entry + "\n")
    with pytest.raises(ValueError) as caught:
        load_search_space(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_bad_search_space_is_a_usage_error_on_the_command_line(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "space.toml"
    path.write_text('[ppo.model.gamma]\ntype = "float"\nlow = 0.9\nhigh = 1.5\n')
    code = main(tune_args(tmp_path / "saves", path, "s", 1))
    err = capsys.readouterr().err
    assert code == 2
    assert "key 'ppo.model.gamma'" in err and "Traceback" not in err


# -- a study end to end ----------------------------------------------------------------------


@pytest.mark.heavy
def test_a_study_runs_trials_as_run_folders_and_best_writes_a_file_train_takes(
    tmp_path: Path, space: Path, capsys: Any
) -> None:
    saves = tmp_path / "saves"
    assert main(tune_args(saves, space, "tiny", 2, "--json")) == 0
    study = study_of(saves, "tiny")
    complete = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert len(complete) == 2
    for trial in complete:
        run = runs.Run(saves / trial.user_attrs["run"])
        assert run.name == f"tiny-t{trial.number:04d}"
        meta = run.meta
        assert meta["status"] == "finished" and run.best_path.is_file() and run.metrics_path.is_file()
        assert meta["tune"]["study"] == "tiny" and meta["tune"]["trial"] == trial.number
        assert meta["seed"] == trial.number  # study seed 0 + trial number
        # the trial's hyperparameters are the run's
        assert meta["hyperparameters"]["model"]["n_steps"] == trial.params["model.n_steps"]
        assert meta["n_envs"] == 4
        # the objective is what `cs-tui evaluate RUN --episodes 30 --seed 1000000000` prints
        capsys.readouterr()
        assert main(["--saves", str(saves), "evaluate", run.name, "--episodes", "30", "--seed",
                     str(HOLDOUT_SEED), "--json"]) == 0  # fmt: skip
        import json

        report = json.loads(capsys.readouterr().out)
        assert report["overall"]["pct_of_oracle"] == pytest.approx(trial.value)

    out = tmp_path / "best.toml"
    assert main(["--saves", str(saves), "tune", "--study", "tiny", "--best", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    best = max(complete, key=lambda t: t.value)
    assert f"best: trial {best.number}" in printed
    chosen = read_hyperparams(out)
    assert chosen.algorithm == "ppo" and chosen.n_envs == 4
    assert chosen.overrides["model"]["learning_rate"] == pytest.approx(best.params["model.learning_rate"])
    # a whole set: the defaults the space does not search are written too
    assert chosen.overrides["model"]["ent_coef"] == load_defaults()["ppo"].model["ent_coef"]
    code = main(["--saves", str(saves), "train", "--hyperparams", str(out), "--timesteps", "256", "--name", "again",
                 "--eval-episodes", "30", "--reference-episodes", "30", "--quiet"])  # fmt: skip
    assert code == 0
    meta = runs.Run(saves / "again").meta
    assert meta["hyperparameters"]["model"]["learning_rate"] == pytest.approx(best.params["model.learning_rate"])
    assert meta["hyperparameters"]["policy"]["net_arch"] == chosen.overrides["policy"]["net_arch"]


def test_a_hyperparams_file_with_a_bad_value_is_a_usage_error(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "h.toml"
    path.write_text('algorithm = "ppo"\n[model]\ngamma = 2.0\n')
    code = main(["--saves", str(tmp_path), "train", "--hyperparams", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "key 'model.gamma'" in err and str(path) in err


@pytest.mark.heavy
def test_a_trial_below_the_median_is_pruned_and_its_run_says_pruned(tmp_path: Path, space: Path) -> None:
    import optuna

    saves = tmp_path / "saves"
    options = TuneOptions(study="prune", trials=1, saves=saves, search_space=space, timesteps=512,
                                eval_every=256, eval_episodes=30, holdout_episodes=30, reference_episodes=30,
                                heartbeat=1, startup_trials=1)  # fmt: skip
    storage = open_storage(None, saves, 1)
    study = open_study(options, storage, "prune")
    # a finished trial that scored 100 % at every evaluation: any real trial is below it
    study.add_trial(
        optuna.trial.create_trial(
            params={"model.learning_rate": 0.001},
            distributions={"model.learning_rate": optuna.distributions.FloatDistribution(0.0003, 0.003, log=True)},
            value=100.0,
            intermediate_values={256: 100.0, 512: 100.0},
        )
    )
    options.trials = 2
    result = run_worker(options)
    assert result.exit_code == 0
    trial = study_of(saves, "prune").get_trials()[1]
    assert trial.state.name == "PRUNED"
    run = runs.Run(saves / trial.user_attrs["run"])
    assert run.status == "pruned"
    assert run.meta["timesteps_done"] < run.meta["total_timesteps"]  # stopped early, checkpointed
    assert run.model_path.is_file()


# -- several workers, faults -----------------------------------------------------------------


def _worker(
    saves: Path, space: Path, study: str, trials: int, storage: str | None = None, *extra: str
) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "cs_tui", *tune_args(saves, space, study, trials, *extra)]
    if storage is not None:
        command += ["--storage", storage]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _running_trial_of(
    saves: Path, study: str, worker: subprocess.Popen[str], deadline: float, storage: str | None = None
) -> Any:
    """Wait until ``worker`` is training a trial (its run folder has an evaluation, and is not yet
    recorded finished). A worker that ends first fails the test at once, with what it said."""
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            out, err = worker.communicate()
            raise AssertionError(f"worker {worker.pid} ended ({worker.returncode}) before training a trial: {out}{err}")
        try:
            for trial in study_of(saves, study, storage).get_trials():
                if trial.state.name == "RUNNING" and trial.user_attrs.get("pid") == worker.pid:
                    run = runs.Run(saves / trial.user_attrs["run"])
                    if run.metrics_path.is_file() and run.model_path.is_file() and run.recorded_status == "running":
                        return trial
        except TuneError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"worker {worker.pid} never got to training a trial")


def _kill_one_worker_mid_trial(saves: Path, space: Path, storage: str | None) -> None:
    """Two workers on one study, one killed with kill -9 while training: the study still ends with
    exactly the trials asked for, the killed trial failed and retried once, nothing counted twice."""
    trials = 3
    # trials long enough (8,192 steps) that one is caught between its first checkpoint and its end: at 512
    # steps a quiet machine finished the victim's trials between two looks
    longer = ("--timesteps", "8192")
    victim = _worker(saves, space, "shared", trials, storage, *longer)
    survivor = _worker(saves, space, "shared", trials, storage, *longer)
    killed = _running_trial_of(saves, "shared", victim, time.monotonic() + 600, storage)
    victim.kill()  # kill -9: no chance to say anything
    victim.wait()
    _, err = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, err

    study = study_of(saves, "shared", storage)
    states = [t.state.name for t in study.get_trials()]
    assert states.count("COMPLETE") + states.count("PRUNED") == trials
    assert states.count("RUNNING") == 0 and states.count("WAITING") == 0
    failed = [t for t in study.get_trials() if t.state.name == "FAIL"]
    assert [t.number for t in failed] == [killed.number]
    rows = trial_rows(study)
    retries = [r for r in rows if r["retry_of"] == killed.number]
    assert len(retries) == 1 and retries[0]["state"] in ("complete", "pruned")
    assert retries[0]["params"] == dict(killed.params)
    runs_named = [r["run"] for r in rows]
    assert len(set(runs_named)) == len(runs_named)  # one run folder per trial
    # the killed trial's run folder reads died (its process is gone), resumable from its checkpoint;
    # the trial's last steps (256 here) may have been trained and recorded in the moment before the kill
    # (the trial then still had its held-out scoring to do): the folder then truly reads finished
    killed_run = runs.Run(saves / killed.user_attrs["run"])
    if killed_run.status == "finished":
        assert killed_run.meta["timesteps_done"] >= killed_run.meta["total_timesteps"]
    else:
        assert killed_run.status == "died" and killed_run.model_path.is_file()
    # re-running the command finds the study done and starts nothing
    command = [sys.executable, "-m", "cs_tui", *tune_args(saves, space, "shared", trials, *longer)]
    if storage is not None:
        command += ["--storage", storage]
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "0 trials run here" in again.stdout
    assert len(study_of(saves, "shared", storage).get_trials()) == len(states)


@pytest.mark.heavy
def test_workers_share_an_embedded_study_and_one_killed_mid_trial_loses_no_trial(tmp_path: Path, space: Path) -> None:
    _kill_one_worker_mid_trial(tmp_path / "saves", space, None)


@pytest.mark.heavy
def test_workers_share_a_study_on_a_real_postgresql_server(tmp_path: Path, space: Path, postgres_url: str) -> None:
    _kill_one_worker_mid_trial(tmp_path / "saves", space, postgres_url)


@pytest.mark.heavy
def test_workers_opening_a_fresh_postgresql_database_together_all_get_in(postgres_url: str) -> None:
    """Workers on several hosts start at once on an empty database: every one of them opens the storage.
    Optuna creates its tables as it opens, and PostgreSQL's CREATE ... IF NOT EXISTS is not atomic:
    before the schema lock, 8 of 10 such starts had a worker fail on a duplicate key."""
    import sqlalchemy

    admin = sqlalchemy.create_engine(
        "postgresql+psycopg" + postgres_url.removeprefix("postgresql"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        for n in range(3):
            connection.execute(sqlalchemy.text(f"CREATE DATABASE fresh{n}"))
    admin.dispose()
    code = (
        "import sys; from pathlib import Path; from cs_tui.tuning.storage import open_storage; "
        "open_storage(sys.argv[1], Path('.'))"
    )
    for n in range(3):
        url = postgres_url.rsplit("/", 1)[0] + f"/fresh{n}"
        openers = [subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
                   for _ in range(4)]  # fmt: skip
        for opener in openers:
            _, err = opener.communicate(timeout=300)
            assert opener.returncode == 0, err
        assert open_storage(url, Path(".")).get_all_studies() == []  # the tables are there, and empty


@pytest.mark.heavy
def test_sigterm_stops_a_worker_with_its_run_interrupted_and_a_rerun_continues(tmp_path: Path, space: Path) -> None:
    saves = tmp_path / "saves"
    # longer trials than the others: the signal must land while the trial still trains, even on a slow machine
    worker = _worker(saves, space, "stop", 1, None, "--timesteps", "16384")
    trial = _running_trial_of(saves, "stop", worker, time.monotonic() + 600)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=300)
    assert worker.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    assert runs.Run(saves / trial.user_attrs["run"]).status == "interrupted"
    study = study_of(saves, "stop")
    assert study.get_trials()[trial.number].state.name == "FAIL"

    # one trial asked for: the interrupted one does not count, so the rerun must run it again
    longer = tune_args(saves, space, "stop", 1, "--timesteps", "16384")
    rerun = subprocess.run([sys.executable, "-m", "cs_tui", *longer],
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    trials = study_of(saves, "stop").get_trials()
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) == 1
    # the interrupted trial's parameters were tried again
    assert any(t.params == trial.params and t.state.name in ("COMPLETE", "PRUNED") for t in trials)


def test_other_settings_for_an_existing_study_are_refused(tmp_path: Path, space: Path, capsys: Any) -> None:
    saves = tmp_path / "saves"
    options = TuneOptions(study="s", trials=1, saves=saves, timesteps=512)
    open_study(options, open_storage(None, saves, 1), "s")
    code = main(["--saves", str(saves), "tune", "--study", "s", "--trials", "1", "--timesteps", "1024"])
    err = capsys.readouterr().err
    assert code == 2 and "timesteps 512 (not 1024)" in err


def test_an_unreachable_storage_is_a_clear_error_with_exit_status_2(tmp_path: Path) -> None:
    url = "postgresql://tuner:secret@127.0.0.1:9/studies"  # port 9 (discard): nothing listens there
    done = subprocess.run([sys.executable, "-m", "cs_tui", "--saves", str(tmp_path), "tune", "--trials", "1",
                           "--storage", url], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 2
    assert "cannot reach the study storage postgresql://tuner:***@127.0.0.1:9/studies" in done.stderr
    assert "secret" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [["--trials", "0"], ["--seed", "100000000", "--trials", "1"], ["--jobs", "0"],
                                  ["--study", "bad name", "--trials", "1"], []])  # fmt: skip
def test_bad_arguments_are_usage_errors(tmp_path: Path, args: list[str], capsys: Any) -> None:
    with pytest.raises(SystemExit) as caught:  # argparse's own checks exit 2 themselves
        code = main(["--saves", str(tmp_path), "tune", *args])
        raise SystemExit(code)
    assert caught.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_shipped_space_file_is_the_default() -> None:
    assert SEARCH_SPACE_FILE.name == "search_space.toml" and SEARCH_SPACE_FILE.is_file()
    assert os.path.dirname(SEARCH_SPACE_FILE) == os.path.dirname(HYPERPARAMS_FILE)


# -- the app's tuning view -------------------------------------------------------------------


@pytest.mark.heavy
async def test_the_tuning_view_lists_studies_and_their_trials_live(tmp_path: Path, space: Path) -> None:
    from app_helpers import PaneApp, screen_text, wait_for

    from cs_tui.screens.tuning import TuningScreen

    saves = tmp_path / "saves"
    assert main(tune_args(saves, space, "view", 2, "--json")) == 0
    study = study_of(saves, "view")
    values = [t.value for t in study.get_trials()]
    app = PaneApp(saves, TuningScreen)
    async with app.run_test(size=(100, 30)) as pilot:
        # the view redraws every few seconds: wait for one frame that shows it all, not for its first line
        shown = ("view-t0001", "complete", f"{max(values):.1f}", "learning_rate=", "% of oracle by trial (0-100): ")
        await wait_for(pilot, lambda: all(part in screen_text(app) for part in shown))
        # a trial finishing elsewhere shows up without a key press
        options = TuneOptions(study="view", trials=3, saves=saves, search_space=space, timesteps=512,
                                    eval_every=256, eval_episodes=30, holdout_episodes=30, reference_episodes=30,
                                    heartbeat=1)  # fmt: skip
        run_worker(options)
        await wait_for(pilot, lambda: "view-t0002" in screen_text(app))


async def test_the_tuning_view_says_why_when_the_storage_cannot_be_read(tmp_path: Path) -> None:
    from app_helpers import PaneApp, screen_text, wait_for

    from cs_tui.screens.tuning import TuningScreen

    app = PaneApp(tmp_path, lambda: TuningScreen(storage="postgresql://u:pw@127.0.0.1:9/none"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "cannot read the studies" in screen_text(app))
        assert "pw" not in screen_text(app).replace("postgresql://u:***", "")


def test_optuna_stays_off_the_start_up_path() -> None:
    """`cs-tui --help`, the app and the tuning view's module load neither Optuna nor torch."""
    code = (
        "import sys, contextlib, io\n"
        "import cs_tui.app, cs_tui.screens.tuning, cs_tui.screens.training\n"
        "from cs_tui.cli import build_parser\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    build_parser().parse_args(['tune', '--help'])\n"
        "print(sorted(m for m in ('optuna', 'torch', 'sqlalchemy') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_study_form_refuses_bad_fields_naming_them() -> None:
    from cs_tui.screens.study_form import validate_study

    good = dict(algorithm="ppo", industry="mixed", trials="20", jobs="1", timesteps="", seed="0", study="")
    request = validate_study(**good)
    assert (request.study, request.trials, request.jobs, request.timesteps) == ("ppo-mixed", 20, 1, None)
    for field, value, message in [
        ("algorithm", "sac", "algorithm: choose one of ppo, a2c, dqn"),
        ("industry", "space", "industry: choose one of"),
        ("trials", "0", "trials: at least 1"),
        ("trials", "many", "trials: 'many' is not a whole number"),
        ("jobs", "0", "workers: at least 1"),
        ("jobs", "65", "workers: at most 64"),
        ("timesteps", "0", "timesteps: at least 1"),
        ("seed", "-1", "seed:"),
        ("seed", "100000000", "seed: at most 99,999,999"),
        ("study", "bad name", "study: letters, digits"),
    ]:
        with pytest.raises(ValueError, match=message):
            validate_study(**{**good, field: value})
    argv = validate_study(**{**good, "algorithm": "a2c", "jobs": "2", "timesteps": "4,096"}).argv(
        Path("s"), "sqlite://"
    )
    args = __import__("cs_tui.cli", fromlist=["build_parser"]).build_parser().parse_args(argv)
    assert (args.algorithm, args.industry, args.trials, args.jobs, args.timesteps) == ("a2c", "mixed", 20, 2, 4096)
    assert (args.study, args.storage, args.seed) == ("a2c-mixed", "sqlite://", 0)


@pytest.mark.heavy
async def test_a_study_started_from_the_form_runs_as_its_own_process(tmp_path: Path) -> None:
    """``n`` → the form → ``cs-tui tune`` in its own session; its trial shows up in the view when done."""
    from app_helpers import PaneApp, screen_text, wait_for
    from textual.widgets import Input

    from cs_tui.screens.study_form import NewStudyForm
    from cs_tui.screens.tuning import TuningScreen

    saves = tmp_path / "saves"
    app = PaneApp(saves, TuningScreen)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewStudyForm))
        form = app.screen
        await pilot.pause()
        assert "^s Start esc Cancel" in screen_text(app)  # the form's keys, not the pane's, at the bottom
        assert "New study" not in screen_text(app).splitlines()[-1]
        form.query_one("#trials", Input).value = "0"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "trials: at least 1" in screen_text(app))
        assert isinstance(app.screen, NewStudyForm)  # a bad field keeps the form open
        form.query_one("#trials", Input).value = "1"
        await pilot.pause()
        assert "trials: at least 1" not in screen_text(app)  # the complaint goes once the field changes
        form.query_one("#timesteps", Input).value = "256"
        form.query_one("#study", Input).value = "fromform"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, TuningScreen))
        await wait_for(pilot, lambda: "fromform-t0000" in screen_text(app) and "complete" in screen_text(app),
                       timeout=600)  # fmt: skip
    log = (saves / ".logs" / "tune-fromform.log").read_text()
    assert "Traceback" not in log
    assert study_of(saves, "fromform").user_attrs["settings"]["timesteps"] == 256


async def test_the_study_form_keeps_its_fields_for_the_app_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closed and reopened (cancelled, or started), the form shows what was left in it; a new app opens
    it on the defaults."""
    from types import SimpleNamespace

    from app_helpers import PaneApp, wait_for
    from textual.app import App
    from textual.widgets import Input, Select

    from cs_tui import launcher
    from cs_tui.screens.study_form import NewStudyForm
    from cs_tui.screens.tuning import TuningScreen

    def fields(app: App[None]) -> dict[str, object]:
        form = app.screen
        assert isinstance(form, NewStudyForm)
        values: dict[str, object] = {w.id or "": w.value for w in form.query(Input)}
        return values | {w.id or "": w.value for w in form.query(Select)}

    async def open_form(pilot: Any) -> dict[str, object]:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, NewStudyForm))
        return fields(pilot.app)

    launched: list[list[str]] = []

    def launch(saves: Path, name: str, argv: list[str], **_: object) -> SimpleNamespace:
        launched.append(argv)  # no process: the form is under test
        return SimpleNamespace(log_path=saves / ".logs" / f"{name}.log")

    monkeypatch.setattr(launcher, "launch", launch)
    app = PaneApp(tmp_path, TuningScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        defaults = await open_form(pilot)
        assert defaults == {"trials": "20", "jobs": "1", "timesteps": "", "seed": "0", "study": "",
                            "algorithm": "ppo", "industry": "mixed"}  # fmt: skip
        app.screen.query_one("#algorithm", Select).value = "a2c"
        app.screen.query_one("#industry", Select).value = "tech"
        for field, typed in (("#trials", "5"), ("#jobs", "2"), ("#timesteps", "4096"), ("#study", "mine")):
            app.screen.query_one(field).focus()
            await pilot.press("ctrl+a", "ctrl+k", *typed)
        left = fields(app)
        await pilot.press("escape")  # cancelled: kept all the same
        await wait_for(pilot, lambda: app.screen is screen)
        assert await open_form(pilot) == left != defaults
        await pilot.press("ctrl+s")  # started: kept too (the same study name continues that study)
        await wait_for(pilot, lambda: app.screen is screen)
        assert len(launched) == 1 and launched[0][launched[0].index("--study") + 1] == "mine"
        assert await open_form(pilot) == left

    fresh = PaneApp(tmp_path, TuningScreen)
    async with fresh.run_test(size=(80, 24)) as pilot:
        assert await open_form(pilot) == defaults
