"""``cs-tui train --warm-start baseline:NAME``: behaviour cloning from a baseline, then reinforcement learning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cs_env.evaluate import rollout
from cs_env.policies import HeuristicPolicy
from cs_tui.cli import main
from cs_tui.training import trainer, warm_start
from cs_tui.training.options import TrainOptions
from cs_tui.training.runs import Run
from cs_tui.training.safe_load import load_model

FAST = {"eval_episodes": 200, "reference_episodes": 200, "record_seconds": 0.2, "eval_every": 2048}


def agreement_with_heuristic(path: Path) -> float:
    model = load_model(path)
    seen: list[np.ndarray] = []

    def heuristic_watched(obs: np.ndarray) -> np.ndarray:
        seen.append(obs)
        return HeuristicPolicy()(obs)

    rollout(heuristic_watched, episodes=500, seed=11)
    obs = np.concatenate(seen)
    return float(np.mean(model.predict(obs, deterministic=True)[0] == HeuristicPolicy()(obs)))


@pytest.mark.heavy
def test_a_warm_started_run_imitates_its_source_and_records_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm_start, "WARM_START_EPISODES", 600)
    runs = {}
    for name, source in (("warm", "baseline:heuristic"), ("cold", None)):
        options = TrainOptions(algorithm="ppo", timesteps=2048, saves=tmp_path, name=name, warm_start=source, **FAST)
        result = trainer.train(options)
        assert result.status == "finished"
        runs[name] = result.run
    meta = Run(tmp_path / "warm").meta
    assert meta["warm_start"]["source"] == "baseline:heuristic" and meta["warm_start"]["agreement"] > 0.8
    assert meta["warm_start"]["epochs"] == 100  # the default: 20 underfitted the belief planner's recordings
    assert Run(tmp_path / "cold").meta["warm_start"] is None
    assert (
        agreement_with_heuristic(tmp_path / "warm" / "model.zip")
        > agreement_with_heuristic(tmp_path / "cold" / "model.zip") + 0.3
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--warm-start", "baseline:genius"], "valid sources: baseline:"),
        (["--warm-start", "baseline:oracle", "--algorithm", "dqn"], "ppo, a2c"),
        (["--warm-start", "baseline:random"], "unknown --warm-start source 'baseline:random'"),
    ],
)
def test_a_bad_warm_start_is_a_usage_error_naming_the_valid_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert main(["--saves", str(tmp_path), "train", *argv]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # refused before any run folder


def record_conversations(folder: Path, strategy: str, count: int) -> None:
    """``count`` conversations (seeds 0, 1, ...) a person played answering every turn with ``strategy``, as the
    play pane records them, each with the opponent's version escalating at once (which must not be imitated)."""
    from cs_env.domain import STRATEGY_NAMES
    from cs_tui.play_session import play_agent, replay, save_episode

    action = STRATEGY_NAMES.index(strategy)
    for seed in range(count):
        human = replay([action] * 10, industry="mixed", max_turns=10, seed=seed, options=None, player="you")
        agent = play_agent(lambda obs: STRATEGY_NAMES.index("escalate"), industry="mixed", max_turns=10, seed=seed)
        save_episode(folder.parent, human, agent, folder / f"conversation-{seed:02}.json")


def warm_started_on_twenty(tmp_path: Path, *options: str) -> tuple[Path, Path]:
    """``(recordings folder, saves)`` of a run "warm" warm-started with ``options`` from a person's 20 recorded
    conversations, each answered "educational" at every turn."""
    folder = tmp_path / "episodes"
    folder.mkdir()
    record_conversations(folder, "educational", 20)
    saves = tmp_path / "saves"
    argv = ["--saves", str(saves), "train", "--timesteps", "1", "--eval-every", "8192", "--eval-episodes", "100",
            "--reference-episodes", "100", "--name", "warm", "--quiet", "--warm-start", str(folder)]  # fmt: skip
    argv.extend(options)
    assert main(argv) == 0
    return folder, saves


@pytest.mark.heavy
def test_a_persons_twenty_recorded_conversations_warm_start_a_run(tmp_path: Path) -> None:
    from cs_env.domain import STRATEGY_NAMES

    folder, saves = warm_started_on_twenty(tmp_path, "--warm-start-epochs", "700")
    about = Run(saves / "warm").meta["warm_start"]
    assert about["source"] == str(folder.resolve()) and about["recordings"] == 20
    # one batch of turns: 700 passes, as asked (more than the 500 updates every warm start makes at least)
    assert about["agreement"] == 1.0 and about["epochs"] == 700
    assert 20 <= about["steps"] <= 200  # the human turns only: each conversation ends within 10
    model = load_model(saves / "warm" / "model.zip")
    seen: list[np.ndarray] = []
    rollout(lambda obs: (seen.append(obs), HeuristicPolicy()(obs))[1], episodes=200, seed=11)
    chosen = model.predict(np.concatenate(seen), deterministic=True)[0]
    assert np.mean(chosen == STRATEGY_NAMES.index("educational")) > 0.8


#: a recording's start, up to its industry: made on this env (v0's are refused before anything else)
V1 = '{"seed": 1, "env": {"id": "cs_env/CustomerSupport-v1", '


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda folder: None, "no recorded conversations with a turn in it"),
        (lambda folder: (folder / "a.json").write_text("{not json"), "a.json: cannot replay this recording"),
        (lambda folder: (folder / "b.json").write_text(V1 + '"industry": "mixed", "max_turns": 10}}'),
         "b.json: cannot replay this recording (no 'human' field)"),
        (lambda folder: (folder / "c.json").write_text(
            V1 + '"industry": "space", "max_turns": 10}, "human": {"player": "you", "actions": [0]}}'),
         "c.json: cannot replay this recording (unknown industry 'space'"),
        (lambda folder: (folder / "d.json").write_text(
            V1 + '"industry": "tech", "max_turns": 10}, "human": {"player": "you", "actions": [9]}}'),
         "d.json: cannot replay this recording (human actions must be 0-7)"),
    ],
)  # fmt: skip
def test_a_folder_that_cannot_warm_start_is_a_usage_error_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, expected: str
) -> None:
    folder = tmp_path / "episodes"
    folder.mkdir()
    make(folder)  # type: ignore[operator]
    saves = tmp_path / "saves"
    assert main(["--saves", str(saves), "train", "--warm-start", str(folder)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not saves.exists() or not any(saves.iterdir())


def test_a_missing_warm_start_folder_names_the_valid_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--saves", str(tmp_path), "train", "--warm-start", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert (
        "nowhere: no such folder; valid sources:" in err and "baseline:oracle" in err and "a folder of recorded" in err
    )


# -- warm starts of a policy reading K stacked observations (--frame-stack K) ---------------------------


def conversations_of(stacked: np.ndarray, dones: np.ndarray) -> list[np.ndarray]:
    """One env's stream of stacked observations cut into its conversations (a done ends the one before)."""
    cuts = np.flatnonzero(dones[:-1]) + 1
    return [part for part in np.split(stacked, cuts) if len(part)]


@pytest.mark.parametrize("k", [2, 4])
def test_a_stacked_conversation_is_what_the_training_env_feeds_the_policy_across_its_resets(k: int) -> None:
    # the trainer's env of the shipped command (--curriculum: DummyVecEnv under VecFrameStack), stepped
    # through several conversations each: after the first and after each autoreset, the older frames
    # are zeros and then the conversation's own observations, oldest first
    from cs_env.env import OBS_SIZE
    from cs_tui.training.vecenv import make_training_env

    venv = make_training_env("mixed", 2, 3, frame_stack=k, curriculum=(10_000, 0))
    rng = np.random.default_rng(0)
    obs = venv.reset()
    fed, dones = [obs], []
    for _ in range(40):
        obs, _, done, _ = venv.step(rng.integers(0, 8, size=2))
        fed.append(obs)
        dones.append(done)
    stream = np.stack(fed[:-1])  # (steps, envs, k * OBS_SIZE): each observation a policy acted on
    done = np.stack(dones)
    checked = 0
    for env in range(2):
        for conversation in conversations_of(stream[:, env], done[:, env]):
            latest = conversation[:, -OBS_SIZE:]  # the newest frame: the env's own observation
            np.testing.assert_array_equal(warm_start.stack_conversation(latest, k), conversation)
            checked += 1
    assert checked >= 6 and done.sum() >= 4  # first conversations and ones after an autoreset


def play_and_record(folder: Path, seeds: range) -> None:
    """Conversations with varied strategies, recorded as the play pane records them."""
    from cs_tui.play_session import replay, save_episode

    rng = np.random.default_rng(5)
    for seed in seeds:
        human = replay(rng.integers(0, 8, size=10).tolist(), industry="mixed", max_turns=10, seed=seed,
                       options=None, player="you")  # fmt: skip
        save_episode(folder.parent, human, None, folder / f"conversation-{seed:02}.json")


def test_recorded_demonstrations_are_stacked_as_the_training_env_stacks_the_same_conversation(tmp_path: Path) -> None:
    from cs_tui.play_session import read_recording
    from cs_tui.training.vecenv import make_training_env

    folder = tmp_path / "episodes"
    folder.mkdir()
    play_and_record(folder, range(8))
    observations, actions, recordings = warm_start.recorded_demonstrations(folder, 4)
    assert recordings == 8 and observations.shape == (len(actions), 4 * 18)
    row = 0
    for path in sorted(folder.glob("*.json")):  # each recording's customer met through the trainer's env
        recording = read_recording(path)
        venv = make_training_env("mixed", 1, recording.seed, kind="dummy", frame_stack=4)
        obs = venv.reset()
        for action in recording.parts[0][1]:
            np.testing.assert_array_equal(observations[row], obs[0], err_msg=f"{path.name}, turn {row}")
            assert actions[row] == action
            row += 1
            obs, _, dones, _ = venv.step(np.array([action]))
            if dones[0]:
                break
    assert row == len(actions)
    single, _, _ = warm_start.recorded_demonstrations(folder)
    np.testing.assert_array_equal(single, observations[:, -18:])  # one frame: the turns as before


def test_a_baselines_demonstrations_stack_each_conversations_own_turns() -> None:
    # the baseline plays all its conversations at once, turn by turn: each row must carry the frames of
    # its own conversation (watched here by conversation id), in the order the turns were played
    from cs_env.policies import HeuristicPolicy

    heuristic = HeuristicPolicy()
    frames: dict[int, list[np.ndarray]] = {}
    expected: list[np.ndarray] = []

    def watched(obs: np.ndarray, episodes: np.ndarray) -> np.ndarray:
        for row, episode in zip(obs, episodes, strict=True):
            history = frames.setdefault(int(episode), [np.zeros_like(row)] * 2)
            history.append(row)
            expected.append(np.concatenate(history[-3:]))
        return heuristic(obs)

    watched.needs_episodes = True  # type: ignore[attr-defined]
    rollout(watched, episodes=300, seed=warm_start.WARM_START_SEED)
    observations, actions = warm_start.demonstrations("baseline:heuristic", "mixed", 10, 300, frame_stack=3)
    np.testing.assert_array_equal(observations, np.stack(expected))
    assert np.array_equal(actions, heuristic(observations[:, -18:]))
    assert len({len(turns) for turns in frames.values()}) > 3  # conversations of several lengths


@pytest.mark.heavy
def test_a_frame_stack_run_warm_starts_records_agreement_by_turn_and_plays_in_the_app(tmp_path: Path) -> None:
    # refused before ("the demonstrations are single observations"): now the clone reads 4 stacked turns
    from cs_env.domain import STRATEGY_NAMES
    from cs_tui.agents import load_agent
    from cs_tui.training.numpy_policy import load_numpy_policy

    _, saves = warm_started_on_twenty(tmp_path, "--frame-stack", "4")
    about = Run(saves / "warm").meta["warm_start"]
    assert about["recordings"] == 20 and about["agreement"] == 1.0
    turns = about["agreement_by_turn"]  # one figure a turn, from the first
    assert 2 <= len(turns) <= 10 and turns == [1.0] * len(turns)
    net, meta = load_numpy_policy(saves / "warm" / "model.zip")  # the app's reader, without torch
    assert net.frame_stack == 4 and meta["model"]["frame_stack"] == 4
    agent = load_agent(str(saves / "warm" / "model.zip"), saves=saves)
    played = rollout(agent, episodes=200, seed=11)
    assert played.strategy_counts[STRATEGY_NAMES.index("educational")] > 0.8 * played.strategy_counts.sum()


class FallingPatience:
    """A player who remembers: from the second turn, an apology when the customer's patience cue fell since the
    turn before, else a technical answer (what one observation alone cannot show: the cue's last reading)."""

    def __init__(self) -> None:
        from cs_env.env import OBS_NAMES

        self.cue = OBS_NAMES.index("ctx_patience_cue")
        self.before: np.ndarray | None = None

    def __call__(self, obs: np.ndarray) -> int:
        from cs_env.domain import STRATEGY_NAMES

        if self.before is None:
            strategy = "empathetic"
        else:
            strategy = "apologetic" if obs[self.cue] < self.before[self.cue] else "technical"
        self.before = np.asarray(obs)
        return STRATEGY_NAMES.index(strategy)


@pytest.mark.heavy
def test_a_frame_stack_clone_imitates_a_player_who_remembers_better_than_a_memoryless_one(tmp_path: Path) -> None:
    # the point of stacking the demonstrations: on conversations it was not fitted on, a clone that sees the
    # last turn too copies the remembering player's moves far more often than one that sees the turn alone
    from stable_baselines3 import PPO

    from cs_tui.play_session import play_agent, save_episode
    from cs_tui.training.vecenv import make_training_env

    for name, seeds in (("fit", range(300)), ("held-out", range(1000, 1150))):
        (tmp_path / name).mkdir()
        for seed in seeds:
            played = play_agent(FallingPatience(), industry="mixed", max_turns=10, seed=seed)
            save_episode(tmp_path, played, None, tmp_path / name / f"conversation-{seed}.json")
    held_out = {}
    for k in (1, 2):
        model = PPO("MlpPolicy", make_training_env("mixed", 1, 0, kind="dummy", frame_stack=k), n_steps=64, seed=0)
        about = warm_start.behaviour_clone(
            model, str(tmp_path / "fit"), industry="mixed", max_turns=10, seed=0, frame_stack=k
        )
        assert about["agreement_by_turn"][0] == 1.0  # the opening needs no memory
        observations, actions, _ = warm_start.recorded_demonstrations(tmp_path / "held-out", k)
        held_out[k] = float(np.mean(model.predict(observations, deterministic=True)[0] == actions))
    assert held_out[2] > held_out[1] + 0.05, held_out  # measured: 0.845 against 0.751
