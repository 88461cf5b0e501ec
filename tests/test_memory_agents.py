"""Agents that remember the conversation: ``--algorithm recurrent_ppo`` (sb3-contrib's LSTM policy) and
``--frame-stack K``, trained, saved, loaded safely and played as stable-baselines3 plays them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cs_env.env import OBS_SIZE, CustomerSupportEnv
from cs_env.evaluate import rollout
from cs_env.scenarios import load_scenarios, run_trial
from cs_tui.agents import load_agent
from cs_tui.cli import main
from cs_tui.training.evaluation import _with_episodes, sb3_memory
from cs_tui.training.model_file import read_model_meta
from cs_tui.training.model_file.format import ModelLoadError
from cs_tui.training.runs import Run
from cs_tui.training.safe_load import load_model

QUICK = ["--timesteps", "1", "--n-envs", "4", "--eval-every", "512", "--eval-episodes", "100",
         "--reference-episodes", "100", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recurrent PPO run and a PPO run on 3 stacked frames, 512 steps each, from the command line."""
    saves = tmp_path_factory.mktemp("saves")
    assert main(["--saves", str(saves), "train", "--algorithm", "recurrent_ppo", "--name", "lstm", *QUICK]) == 0
    assert main(["--saves", str(saves), "train", "--frame-stack", "3", "--name", "stack3", *QUICK]) == 0
    return saves


def sb3_plays(model: Any, env: CustomerSupportEnv, seed: int, options: dict[str, Any] | None = None) -> list[int]:
    """One conversation as SB3 acts in it: ``predict`` with the LSTM's states, or on stacked frames."""
    obs, _ = env.reset(seed=seed, options=options)
    stack = int(model.observation_space.shape[0]) // OBS_SIZE
    frames = [np.zeros(OBS_SIZE, dtype=np.float32)] * (stack - 1)
    state, start, actions, done = None, np.ones(1), [], False
    while not done:
        if stack > 1:
            action, _ = model.predict(np.concatenate([*frames, obs]), deterministic=True)
            frames = [*frames[1:], obs][-(stack - 1) :] if stack > 1 else []
        else:
            action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        start = np.zeros(1)
        actions.append(int(action))
        obs, _, terminated, truncated, _ = env.step(int(action))
        done = terminated or truncated
    return actions


@pytest.mark.heavy
@pytest.mark.parametrize("name", ["lstm", "stack3"])
def test_the_loaded_agent_plays_each_conversation_as_sb3_does(runs: Path, name: str) -> None:
    """The app's agent (a network without SB3) and SB3's own predict with its states agree turn for turn,
    one conversation at a time (demo, test, the play pane) and batched (evaluate)."""
    path = runs / name / "model.zip"
    agent = load_agent(str(path))
    model = load_model(path)
    assert agent.needs_episodes
    scenarios = load_scenarios()[:6]
    for i, scenario in enumerate(scenarios):
        trial = run_trial(agent, scenario, seed=i)
        assert list(trial.actions) == sb3_plays(model, scenario.make_env(), i, scenario.options), scenario.name
    ours = rollout(agent, episodes=300, seed=5)
    theirs = rollout(_with_episodes(sb3_memory(model)), episodes=300, seed=5)
    # the same conversations but where two strategies tie to float rounding (SB3 normalizes the logits
    # before its argmax, the agent takes a softmax): at most 1 % of them
    same = (ours.episode_strategy_counts == theirs.episode_strategy_counts).all(axis=1)
    assert same.mean() >= 0.99
    assert abs(ours.returns.mean() - theirs.returns.mean()) < 0.01


@pytest.mark.heavy
def test_the_memory_is_what_the_agent_acts_on(runs: Path) -> None:
    """The same observation asked about twice (the play pane's bars, then the move) is remembered once;
    a new conversation starts over; an answer depends on the turns before."""
    agent = load_agent(str(runs / "stack3"))
    env = CustomerSupportEnv()
    first, _ = env.reset(seed=3)
    second, *_ = env.step(0)
    once = [agent.action_values(first).values, agent.action_values(second).values]
    agent.action_values(first)
    twice = [agent.action_values(first).values, agent.action_values(first).values, agent.action_values(second).values]
    np.testing.assert_array_equal(once[0], twice[0])
    np.testing.assert_array_equal(once[1], twice[2])
    stacked = agent.net.values(np.concatenate([np.zeros(OBS_SIZE), first, second])[None].astype(np.float32))[0]
    np.testing.assert_array_equal(once[1], stacked)
    with pytest.raises(ValueError, match="one observation at a time, or with episodes="):
        agent(np.stack([first, second]))


@pytest.mark.heavy
def test_runs_record_their_memory_and_the_files_describe_it(runs: Path) -> None:
    lstm, stack = read_model_meta(runs / "lstm" / "model.zip"), read_model_meta(runs / "stack3" / "model.zip")
    assert lstm["algorithm"] == "recurrent_ppo" and lstm["model"]["policy"] == "MlpLstmPolicy"
    assert lstm["model"]["policy_kwargs"]["lstm_hidden_size"] == 64 and lstm["model"]["frame_stack"] == 1
    assert stack["model"]["frame_stack"] == 3 and stack["model"]["observation_space"]["shape"] == [3 * OBS_SIZE]
    assert Run(runs / "stack3").meta["frame_stack"] == 3
    assert Run(runs / "lstm").meta["best_eval"]["pct_of_oracle"] is not None


@pytest.mark.heavy
@pytest.mark.parametrize("name", ["lstm", "stack3"])
def test_a_memory_run_resumes_evaluates_and_is_tested(
    runs: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    saves = ["--saves", str(runs)]
    assert main([*saves, "train", "--resume", name, "--timesteps", "1024", "--quiet"]) == 0
    assert Run(runs / name).meta["timesteps_done"] == 1024
    assert Run(runs / name).meta["frame_stack"] == (3 if name == "stack3" else 1)
    capsys.readouterr()
    assert main([*saves, "evaluate", name, "--episodes", "200", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    code = main([*saves, "test", "--policy", name, "--trials", "4", "--json"])
    assert code in (0, 1)  # judged (an agent of 1,024 steps misses the thresholds), not refused
    assert len(json.loads(capsys.readouterr().out)["scenarios"]) == 18
    assert main([*saves, "demo", "--policy", name, "--episodes", "1", "--seed", "2"]) == 0


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--algorithm", "recurrent_ppo", "--frame-stack", "2"], "--frame-stack must be 1 for recurrent_ppo"),
        (["--frame-stack", "17"], "argument --frame-stack: must be at most 16"),
        (["--frame-stack", "0"], "argument --frame-stack: must be at least 1"),
        (["--algorithm", "recurrent_ppo", "--warm-start", "baseline:oracle"], "(ppo, a2c), not recurrent_ppo"),
        (["--algorithm", "lstm"], "invalid choice: 'lstm'"),
    ],
)
def test_a_bad_memory_option_is_a_usage_error_naming_the_valid_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    try:
        code = main(["--saves", str(tmp_path), "train", *argv])
    except SystemExit as exited:  # argparse's own refusals
        code = exited.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


def crafted(src: Path, dst: Path, change: Any) -> Path:
    """A copy of the model file with its description changed by ``change(meta)``."""
    with zipfile.ZipFile(src) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["cs_tui.json"])
    change(meta)
    members["cs_tui.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return dst


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m["model"].update(frame_stack=2), "frame_stack must be 1 for recurrent_ppo"),
        (lambda m: m["model"].update(policy="MlpPolicy"), "policy 'MlpPolicy' is not supported for recurrent_ppo"),
        (lambda m: m["model"]["policy_kwargs"].update(lstm_hidden_size=10**6), "lstm_hidden_size must be a whole"),
        (lambda m: m["model"]["policy_kwargs"].update(n_lstm_layers=9), "n_lstm_layers must be a whole number"),
        (lambda m: m.update(algorithm="ppo"), "policy 'MlpLstmPolicy' is not supported for ppo"),
        (lambda m: m["model"].update(memory="forever"), "unknown model entry 'memory'"),
    ],
)
@pytest.mark.heavy
def test_a_crafted_recurrent_description_is_refused_by_both_loaders(
    runs: Path, tmp_path: Path, change: Any, expected: str
) -> None:
    from cs_tui.training.policy_net import load_policy_net

    path = crafted(runs / "lstm" / "model.zip", tmp_path / "crafted.zip", change)
    for load in (load_model, load_policy_net):
        with pytest.raises(ModelLoadError, match=r"crafted\.zip") as caught:
            load(path)
        assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m["model"].update(frame_stack=2), "observations of shape (54,)"),
        (lambda m: m["model"].update(frame_stack=99), "frame_stack must be a whole number from 1 to 16"),
        (lambda m: m["model"].update(frame_stack="3"), "frame_stack must be a whole number"),
        (lambda m: m["model"]["policy_kwargs"].update(lstm_hidden_size=8), "lstm_hidden_size is for recurrent_ppo"),
    ],
)
@pytest.mark.heavy
def test_a_crafted_frame_stack_description_is_refused(runs: Path, tmp_path: Path, change: Any, expected: str) -> None:
    path = crafted(runs / "stack3" / "model.zip", tmp_path / "crafted.zip", change)
    with pytest.raises(ModelLoadError) as caught:
        load_agent(str(path))
    assert expected in str(caught.value)


@pytest.mark.heavy
async def test_a_recurrent_opponent_in_the_play_pane_plays_as_sb3_does(runs: Path) -> None:
    """The play pane's bars follow your conversation through the LSTM; its own replay of the customer starts
    its memory over and moves as SB3 would."""
    from test_app_play import SEED, finish, make_app, ready

    app = make_app(runs, opponent="lstm")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        assert screen.agent is not None and screen.agent.needs_episodes
        await finish(pilot, screen, key="1")
        human, agent = screen.pairs[0]
        assert agent.player == "lstm" and agent.seed == human.seed == SEED
    model = load_model(runs / "lstm" / "best.zip")
    assert agent.actions == sb3_plays(model, CustomerSupportEnv(), SEED)


@pytest.mark.parametrize("name", ["lstm", "stack3"])
def test_a_model_loaded_in_its_own_process_acts_as_the_one_loaded_here(runs: Path, name: str) -> None:
    """The app loads models apart from torch (a frame stack with numpy; an LSTM, which numpy does not run, in
    policy_process: torch never enters its process); the answers, with their memory of the conversation,
    one at a time and batched, are the in-process torch network's."""
    here, apart = load_agent(str(runs / name)), load_agent(str(runs / name), apart=True)
    way = {"lstm": "PolicyProcess", "stack3": "NumpyPolicyNet"}[name]
    assert apart.needs_episodes and type(apart.net).__name__ == way
    for i, scenario in enumerate(load_scenarios()[:4]):
        assert list(run_trial(apart, scenario, seed=i).actions) == list(run_trial(here, scenario, seed=i).actions)
    ours, theirs = rollout(apart, episodes=50, seed=5), rollout(here, episodes=50, seed=5)
    np.testing.assert_array_equal(ours.episode_strategy_counts, theirs.episode_strategy_counts)
