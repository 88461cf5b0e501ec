"""CustomerSupport-v1 is the env; v0 (other dynamics) is refused wherever it turns up: at ``gym.make``,
in a model file, a run folder or a recording, with the reason and what to do, exit status 2."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import gymnasium as gym
import pytest

import cs_env
from cs_env.env import CustomerSupportEnv
from cs_tui.play_session import RecordError, read_recording
from cs_tui.training.model_file import read_model_meta
from cs_tui.training.model_file.format import META_MEMBER
from tests.cli_helpers import run_cli

RETRAIN = "trained on CustomerSupport-v0: retrain"


def test_v1_is_the_registered_id_and_v0_says_what_changed() -> None:
    assert cs_env.ENV_ID == "cs_env/CustomerSupport-v1"
    assert gym.make(cs_env.ENV_ID).spec.id == cs_env.ENV_ID  # type: ignore[union-attr]
    with pytest.raises(gym.error.DeprecatedEnv, match="Please use `cs_env/CustomerSupport-v1`") as caught:
        gym.make("cs_env/CustomerSupport-v0")
    assert "satisfaction is paid on its change" in str(caught.value)  # and names what changed
    with pytest.raises(gym.error.DeprecatedEnv):
        gym.make("cs_env:cs_env/CustomerSupport-v0")  # the module form too


@pytest.fixture(scope="module")
def saves(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saves folder with a v1 run (``now``), the same run as v0 wrote it (``old``: no env id in its
    model files nor meta.json), and one whose files say v0 outright (``said``)."""
    import torch
    from stable_baselines3 import PPO

    from cs_tui.files import atomic_write_json
    from cs_tui.training.model_file.writer import save_model

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("saves")
    model = PPO("MlpPolicy", CustomerSupportEnv(), n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    meta = {
        "schema": 1, "name": "now", "algorithm": "ppo", "industry": "mixed", "max_turns": 10, "seed": 0,
        "n_envs": 1, "total_timesteps": 64, "timesteps_done": 64, "hyperparameters": {"model": {}, "policy": {}},
        "status": "finished", "env_id": cs_env.ENV_ID,
    }  # fmt: skip
    (root / "now").mkdir()
    save_model(model, root / "now" / "best.zip", {"industry": "mixed", "max_turns": 10})
    shutil.copy(root / "now" / "best.zip", root / "now" / "model.zip")
    atomic_write_json(root / "now" / "meta.json", meta)
    for name, env_id in (("old", None), ("said", "cs_env/CustomerSupport-v0")):
        (root / name).mkdir()
        for file in ("best.zip", "model.zip"):
            _with_env_id(root / "now" / file, root / name / file, env_id)
        atomic_write_json(root / name / "meta.json", {**meta, "name": name, "env_id": env_id})
    return root


def _with_env_id(source: Path, target: Path, env_id: str | None) -> None:
    """``source``'s model file with its description's env id set to ``env_id`` (removed for None)."""
    out = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w") as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename == META_MEMBER:
                described = json.loads(data)
                described.pop("env_id")
                if env_id is not None:
                    described["env_id"] = env_id
                data = json.dumps(described).encode()
            new.writestr(item, data)
    target.write_bytes(out.getvalue())


def test_a_model_file_records_v1_and_one_without_it_is_refused(saves: Path) -> None:
    assert read_model_meta(saves / "now" / "best.zip")["env_id"] == cs_env.ENV_ID
    for name in ("old", "said"):
        with pytest.raises(ValueError, match=RETRAIN):
            read_model_meta(saves / name / "best.zip")


@pytest.mark.parametrize("name", ["old", "said"])
@pytest.mark.parametrize(
    "command",
    [
        ("evaluate", "{run}", "--episodes", "20"),
        ("demo", "--policy", "{run}", "--episodes", "1"),
        ("test", "--policy", "{run}", "--trials", "4"),
        ("evaluate", "{zip}", "--episodes", "20"),
    ],
)
def test_every_command_refuses_a_v0_model_with_exit_2(
    saves: Path, name: str, command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [part.format(run=name, zip=saves / name / "best.zip") for part in command]
    code, err = run_cli(capsys, "--saves", str(saves), *argv)
    assert code == 2, err
    assert RETRAIN in err and "Traceback" not in err


def test_a_v1_model_is_scored(saves: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(capsys, "--saves", str(saves), "evaluate", "now", "--episodes", "20")
    assert code == 0, err


@pytest.mark.parametrize("name", ["old", "said"])
def test_a_v0_run_folder_is_not_resumed(saves: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(capsys, "--saves", str(saves), "train", "--resume", name, "--timesteps", "128", "--quiet")
    assert code == 2, err
    assert RETRAIN in err and "Traceback" not in err


def test_a_v0_recording_is_refused_and_a_v1_one_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = {"schema": 1, "seed": 3, "env": {"industry": "mixed", "max_turns": 10, "options": None},
              "human": {"player": "human", "actions": [0, 6]}, "agent": None}  # fmt: skip
    folder = tmp_path / "episodes"
    folder.mkdir()
    (folder / "old.json").write_text(json.dumps(record))
    with pytest.raises(RecordError, match="recorded on CustomerSupport-v0: record it again"):
        read_recording(folder / "old.json")
    code, err = run_cli(capsys, "--saves", str(tmp_path), "train", "--warm-start", str(folder), "--timesteps", "64")
    assert code == 2 and "recorded on CustomerSupport-v0" in err and "Traceback" not in err
    record["env"]["id"] = cs_env.ENV_ID  # type: ignore[index]
    (folder / "new.json").write_text(json.dumps(record))
    assert read_recording(folder / "new.json").parts == (("human", [0, 6]),)
