"""render_mode="rgb_array": a picture of the conversation, drawn only when asked for, and video of it."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from cs_env import ENV_ID
from cs_env.policies import HeuristicPolicy
from cs_env.render import HEIGHT, PANEL_X, TITLE_HEIGHT, WIDTH
from cs_tui.cli import main


def play(seed: int, render_mode: str = "rgb_array") -> tuple[gym.Env, list[np.ndarray]]:
    """A heuristic conversation from ``seed``; the env and a frame after the reset and after each turn."""
    env = gym.make(ENV_ID, render_mode=render_mode)
    obs, _ = env.reset(seed=seed)
    frames = [env.render()]
    policy, done = HeuristicPolicy(), False
    while not done:
        obs, _, terminated, truncated, _ = env.step(policy(obs))
        frames.append(env.render())
        done = terminated or truncated
    return env, frames


def test_a_frame_is_a_video_sized_rgb_picture_at_a_turn_a_second() -> None:
    env, frames = play(3)
    assert env.metadata["render_fps"] == 1
    assert "rgb_array" in env.metadata["render_modes"]
    for frame in frames:
        assert frame.dtype == np.uint8
        assert frame.shape == (HEIGHT, WIDTH, 3)
        assert HEIGHT >= 360 and WIDTH >= 640
        # text is drawn: the transcript and the panel both hold many more colours than their backgrounds
        assert len(np.unique(frame[TITLE_HEIGHT:, :PANEL_X].reshape(-1, 3), axis=0)) > 20
        assert len(np.unique(frame[TITLE_HEIGHT:, PANEL_X:].reshape(-1, 3), axis=0)) > 20


def test_frames_change_as_the_conversation_does_and_replay_the_same() -> None:
    _, frames = play(11)
    assert len(frames) >= 3
    for before, after in itertools.pairwise(frames):
        # each turn adds transcript lines and moves the card's turn counter and the reward parts
        assert not np.array_equal(before[:, :PANEL_X], after[:, :PANEL_X])
        assert not np.array_equal(before[:, PANEL_X:], after[:, PANEL_X:])
    _, again = play(11)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True))
    _, other = play(12)
    assert not np.array_equal(frames[0], other[0])  # another customer looks different


def test_render_before_reset_is_a_frame_saying_so() -> None:
    from cs_env import CustomerSupportEnv

    frame = CustomerSupportEnv(render_mode="rgb_array").render()
    assert frame.shape == (HEIGHT, WIDTH, 3)


def test_stepping_draws_nothing_and_importing_cs_env_loads_no_imaging() -> None:
    code = (
        "import sys, gymnasium as gym, cs_env\n"
        "env = gym.make('cs_env/CustomerSupport-v1', render_mode='rgb_array')\n"
        "env.reset(seed=0)\n"
        "for _ in range(200):\n"
        "    _, _, term, trunc, _ = env.step(env.action_space.sample())\n"
        "    if term or trunc: env.reset()\n"
        "print('PIL' in sys.modules, 'cs_env.render' in sys.modules)\n"
        "env.render()\n"
        "print('PIL' in sys.modules, any(m in sys.modules for m in ('torch', 'textual', 'rich')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True", "False"]


def read_video(path: Path) -> list[np.ndarray]:
    import imageio.v2 as imageio

    with imageio.get_reader(path) as reader:  # type: ignore[no-untyped-call]
        return [np.asarray(f) for f in reader]


def test_gymnasium_record_video_records_each_conversation(tmp_path: Path) -> None:
    env = gym.wrappers.RecordVideo(
        gym.make(ENV_ID, render_mode="rgb_array"),
        str(tmp_path / "videos"),
        episode_trigger=lambda _: True,
        disable_logger=True,
    )
    turns = []
    policy = HeuristicPolicy()
    for seed in (0, 1):
        obs, _ = env.reset(seed=seed)
        done, n = False, 0
        while not done:
            obs, _, terminated, truncated, _ = env.step(policy(obs))
            done, n = terminated or truncated, n + 1
        turns.append(n)
    env.close()
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    assert len(videos) == 2
    for video, n in zip(videos, turns, strict=True):
        frames = read_video(video)
        assert len(frames) == n + 1  # the opening, then one a turn
        assert frames[0].shape == (HEIGHT, WIDTH, 3)


def test_sb3_vec_video_recorder_records_make_vec_env(tmp_path: Path) -> None:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecVideoRecorder

    venv = make_vec_env(ENV_ID, n_envs=4, seed=0)
    venv = VecVideoRecorder(venv, str(tmp_path), record_video_trigger=lambda step: step == 0, video_length=6)
    venv.reset()
    for _ in range(8):
        venv.step(np.array([venv.action_space.sample() for _ in range(4)]))
    venv.close()
    (video,) = tmp_path.glob("*.mp4")
    frames = read_video(video)
    assert len(frames) >= 6
    assert frames[0].shape == (2 * HEIGHT, 2 * WIDTH, 3)  # the four envs tiled two by two
    assert not np.array_equal(frames[0], frames[-1])


def expected_frames(seeds: range) -> int:
    """Frames demo --video writes: per conversation its opening, a turn each, the end held 2 s."""
    return sum(len(play(seed, render_mode="ansi")[0].unwrapped.history) + 1 + 2 for seed in seeds)


def test_demo_writes_its_conversations_as_a_gif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    target = tmp_path / "demo.gif"
    args = ["demo", "--episodes", "2", "--policy", "baseline:heuristic", "--seed", "5", "--video", str(target)]
    assert main(args) == 0
    n = expected_frames(range(5, 7))
    assert f"({n} frames, {n} s)" in capsys.readouterr().out
    with Image.open(target) as gif:
        assert gif.size == (WIDTH, HEIGHT)
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
    assert sum(durations) == n * 1000  # a turn a second (equal frames are merged into longer ones)
    assert gif.n_frames > 4


def test_demo_writes_an_mp4_whose_first_frame_is_the_first_customer(tmp_path: Path) -> None:
    target = tmp_path / "demo.mp4"
    assert (
        main(["demo", "--episodes", "1", "--policy", "baseline:heuristic", "--seed", "5", "--video", str(target)]) == 0
    )
    frames = read_video(target)
    assert len(frames) == expected_frames(range(5, 6))
    first, other = play(5)[1][0].astype(int), play(6)[1][0].astype(int)
    # lossy, but where the two customers' pictures differ, the video's looks like the first one's
    differs = np.abs(first - other).sum(axis=2) > 60
    video = frames[0].astype(int)[differs]
    assert np.abs(video - first[differs]).mean() * 3 < np.abs(video - other[differs]).mean()
    assert not list(tmp_path.glob(".demo.mp4.*"))  # no temp file left behind


@pytest.mark.parametrize(
    ("video", "message"),
    [("out.avi", "must end in .mp4 or .gif"), ("no/such/folder/out.gif", "does not exist")],
)
def test_demo_video_bad_target_is_a_usage_error(
    video: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--policy", "baseline:heuristic", "--video", video]) == 2
    assert message in capsys.readouterr().err
