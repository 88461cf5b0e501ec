"""`cs-tui export RUN --onnx FILE`: the agent leaves as ONNX and acts exactly as it does here."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from cs_env.env import CustomerSupportEnv
from cs_tui.agents import load_agent
from tests.cli_helpers import run_cli

SAVES = Path(__file__).resolve().parents[1] / "saves"
N_OBSERVATIONS = 10_000


def _observations(n: int) -> np.ndarray:
    """Half met in play (random strategies), half drawn anywhere in the observation space."""
    env = CustomerSupportEnv("mixed")
    rng = np.random.default_rng(0)
    played: list[np.ndarray] = []
    obs, _ = env.reset(seed=0)
    while len(played) < n // 2:
        played.append(obs)
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(8)))
        if terminated or truncated:
            obs, _ = env.reset()
    env.observation_space.seed(1)
    drawn = [env.observation_space.sample() for _ in range(n - len(played))]
    return np.asarray(played + drawn, dtype=np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cs_tui.cli import main

    target = tmp_path_factory.mktemp("onnx") / "agent.onnx"
    assert main(["--saves", str(SAVES), "export", "default", "--onnx", str(target)]) == 0
    return target


def test_onnxruntime_acts_as_the_agent_on_10000_observations(exported: Path) -> None:
    import onnxruntime as ort

    observations = _observations(N_OBSERVATIONS)
    agent = load_agent("default", saves=SAVES)
    session = ort.InferenceSession(str(exported))
    actions, values = session.run(None, {"observation": observations})  # the batch size is dynamic
    assert actions.shape == (N_OBSERVATIONS,)
    np.testing.assert_array_equal(actions, agent(observations))
    np.testing.assert_allclose(values, agent.action_values(observations).values, rtol=1e-5, atol=1e-6)
    one = session.run(["action"], {"observation": observations[:1]})[0]  # and a batch of one
    assert int(one[0]) == agent(observations[0])


def test_the_written_file_is_complete_and_no_temp_file_is_left(exported: Path) -> None:
    import onnx

    onnx.checker.check_model(onnx.load(str(exported)))
    assert sorted(p.name for p in exported.parent.iterdir()) == ["agent.onnx"]


def _saves_with_default(tmp_path: Path) -> Path:
    saves = tmp_path / "saves"
    shutil.copytree(SAVES / "default", saves / "default")
    return saves


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("nosuch", "no run 'nosuch'"),
        ("saves/default", "not a run name"),
        ("../default", "not a run name"),
        ("/etc", "not a run name"),
    ],
)
def test_a_run_is_named_not_a_path(capsys: pytest.CaptureFixture[str], tmp_path: Path, run: str, expected: str) -> None:
    saves = _saves_with_default(tmp_path)
    code, err = run_cli(capsys, "--saves", str(saves), "export", run, "--onnx", str(tmp_path / "a.onnx"))
    assert code == 2
    assert expected in err and "runs: default" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "a.onnx").exists()


def test_a_run_linked_from_outside_the_saves_folder_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outside = _saves_with_default(tmp_path / "elsewhere")
    saves = tmp_path / "saves"
    saves.mkdir()
    (saves / "linked").symlink_to(outside / "default")
    code, err = run_cli(capsys, "--saves", str(saves), "export", "linked", "--onnx", str(tmp_path / "a.onnx"))
    assert code == 2 and "outside" in err


def test_an_existing_file_is_not_overwritten(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    saves = _saves_with_default(tmp_path)
    target = tmp_path / "a.onnx"
    target.write_text("keep me")
    code, err = run_cli(capsys, "--saves", str(saves), "export", "default", "--onnx", str(target))
    assert code == 2 and "already exists" in err
    assert target.read_text() == "keep me"


def test_a_folder_that_cannot_be_written_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    saves = _saves_with_default(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    # root writes anywhere but in /proc: use a folder this process really cannot write to
    folder = locked if not os.access(locked, os.W_OK) else Path("/proc/1")
    code, err = run_cli(capsys, "--saves", str(saves), "export", "default", "--onnx", str(folder / "a.onnx"))
    assert code == 2 and "not writable" in err
    plain_file = tmp_path / "file"
    plain_file.write_text("")
    code, err = run_cli(capsys, "--saves", str(saves), "export", "default", "--onnx", str(plain_file / "a.onnx"))
    assert code == 2 and "not a folder" in err


@pytest.fixture(scope="module")
def every_algorithm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A briefly trained model file per algorithm (the safe loader's tests' own fixture, reused)."""
    from cs_tui.training.model_file.writer import save_model
    from tests.test_safe_load import ALGORITHMS, META, make_model

    root = tmp_path_factory.mktemp("algorithms")
    found = {}
    for algorithm in ALGORITHMS:
        model = make_model(algorithm)
        model.learn(300)
        save_model(model, root / f"{algorithm}.zip", {**META, "algorithm": algorithm})
        found[algorithm] = root / f"{algorithm}.zip"
    return found


@pytest.mark.parametrize("algorithm", ["ppo", "a2c", "dqn"])
def test_every_feed_forward_algorithm_exports_to_the_same_actions(
    algorithm: str, every_algorithm: dict[str, Path]
) -> None:
    import onnxruntime as ort

    from cs_tui.training.onnx_export import onnx_bytes
    from cs_tui.training.policy_net import load_policy_net

    path = every_algorithm[algorithm]
    observations = _observations(2_000)
    net, _ = load_policy_net(path)
    actions, values = ort.InferenceSession(onnx_bytes(path)).run(None, {"observation": observations})
    np.testing.assert_array_equal(actions, net.predict(observations))
    np.testing.assert_allclose(values, net.action_values(observations), rtol=1e-5, atol=1e-6)


def test_a_model_that_remembers_is_refused_with_the_reason(every_algorithm: dict[str, Path]) -> None:
    from cs_tui.training.onnx_export import ExportError, onnx_bytes

    with pytest.raises(ExportError, match="remembers the conversation"):
        onnx_bytes(every_algorithm["recurrent_ppo"])
