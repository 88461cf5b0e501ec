"""load_agent: baselines and trained models behind one interface that rollouts, scenarios and the app use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cs_env.domain import N_STRATEGIES, STRATEGY_NAMES
from cs_env.env import CustomerSupportEnv
from cs_env.evaluate import metrics, rollout
from cs_env.policies import HeuristicPolicy
from cs_tui.agents import BASELINE_NAMES, ActionValues, AgentError, baseline_specs, load_agent
from cs_tui.training.safe_load import load_model


def situations(n: int = 200, seed: int = 0) -> tuple[np.ndarray, list[Any]]:
    """Observations from real conversations, with the hidden state behind each (copies)."""
    env = CustomerSupportEnv("mixed", 10)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    found, states = [], []
    while len(found) < n:
        found.append(obs)
        states.append(env.hidden_state.copy())
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(N_STRATEGIES)))
        if terminated or truncated:
            obs, _ = env.reset()
    return np.stack(found), states


# -- baselines ---------------------------------------------------------------------------------
def test_importing_agents_and_using_a_baseline_does_not_import_torch() -> None:
    code = (
        "import sys\nfrom cs_tui.agents import load_agent\n"
        "agent = load_agent('baseline:heuristic')\n"
        "import numpy as np; agent(np.zeros(18, dtype=np.float32))\n"
        "print(' '.join(m for m in ('torch', 'stable_baselines3') if m in sys.modules) or 'clean')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "clean"


def test_every_baseline_is_listed_and_loads() -> None:
    assert set(BASELINE_NAMES) == {"random", "heuristic", "oracle", "script", "lookup", "lookup_hint", *STRATEGY_NAMES}
    for spec in baseline_specs():
        agent = load_agent(spec)
        assert agent.name == spec and agent.kind == "baseline"
        assert agent.needs_state == (spec == "baseline:oracle")


def test_a_baseline_agent_acts_like_the_policy_it_wraps() -> None:
    obs, _ = situations()
    agent = load_agent("baseline:heuristic")
    np.testing.assert_array_equal(agent(obs), HeuristicPolicy()(obs))
    assert isinstance(agent(obs[0]), int)
    assert agent(obs).dtype == np.int64
    assert set(load_agent("baseline:quick_resolution")(obs).tolist()) == {STRATEGY_NAMES.index("quick_resolution")}


def test_baseline_action_values_are_one_hot_on_the_action_taken() -> None:
    obs, _ = situations(50)
    agent = load_agent("baseline:heuristic")
    for o in obs:
        values = agent.action_values(o)
        assert values.kind == "probabilities" and values.values.shape == (N_STRATEGIES,)
        assert values.values.sum() == 1.0 and values.best == agent(o)
    batch = agent.action_values(obs)
    assert batch.values.shape == (50, N_STRATEGIES)
    np.testing.assert_array_equal(batch.values.argmax(axis=1), agent(obs))


def test_random_baseline_values_are_uniform_and_its_actions_are_seeded() -> None:
    obs, _ = situations(100)
    values = load_agent("baseline:random").action_values(obs[0])
    np.testing.assert_allclose(values.values, np.full(N_STRATEGIES, 1 / N_STRATEGIES))
    first, again, other = (load_agent("baseline:random", seed=s)(obs) for s in (3, 3, 4))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert len(set(first.tolist())) == N_STRATEGIES


def test_the_oracle_needs_the_state_and_its_values_agree_with_its_action() -> None:
    obs, states = situations(20)
    oracle = load_agent("baseline:oracle", seed=1)
    with pytest.raises(ValueError, match="state"):
        oracle(obs[0])
    for o, state in zip(obs, states, strict=True):
        values = oracle.action_values(o, state=state)
        assert values.best == oracle(o, state=state)  # the same plan, not a second draw


def test_rollouts_take_agents_as_policies() -> None:
    heuristic = metrics(rollout(load_agent("baseline:heuristic"), episodes=300, seed=0))
    oracle = metrics(rollout(load_agent("baseline:oracle", seed=0), episodes=100, seed=0))
    random = metrics(rollout(load_agent("baseline:random", seed=0), episodes=300, seed=0))
    assert random.mean_return < heuristic.mean_return < oracle.mean_return


# -- bad specs ---------------------------------------------------------------------------------
def test_an_unknown_baseline_lists_the_valid_ones() -> None:
    with pytest.raises(AgentError) as caught:
        load_agent("baseline:genius")
    message = str(caught.value)
    assert "'genius'" in message
    for spec in baseline_specs():
        assert spec in message


def test_a_bare_baseline_name_suggests_the_prefix(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="did you mean baseline:heuristic"):
        load_agent("heuristic", saves=tmp_path)


def test_an_unknown_agent_lists_baselines_and_the_runs_found(tmp_path: Path) -> None:
    (tmp_path / "my-run").mkdir()
    (tmp_path / "my-run" / "model.zip").write_bytes(b"x")
    (tmp_path / "not-a-run").mkdir()
    with pytest.raises(AgentError) as caught:
        load_agent("missing-run", saves=tmp_path)
    message = str(caught.value)
    assert "'missing-run'" in message and "baseline:heuristic" in message
    assert "my-run" in message and "not-a-run" not in message


def test_empty_spec_and_a_folder_without_a_model_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="empty"):
        load_agent("  ", saves=tmp_path)
    (tmp_path / "empty-run").mkdir()
    with pytest.raises(AgentError, match="no model in this folder"):
        load_agent(str(tmp_path / "empty-run"), saves=tmp_path)


def test_an_unknown_industry_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid industries: bfsi, retail, tech, mixed"):
        load_agent("baseline:heuristic", industry="space")


# -- models ------------------------------------------------------------------------------------
torch = pytest.importorskip("torch")
sb3 = pytest.importorskip("stable_baselines3")


@pytest.fixture(scope="module")
def saves(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saves folder with one run per algorithm (``<algo>-run/model.zip``), briefly trained."""
    from cs_tui.training.model_file.writer import save_model

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("saves")
    settings = {
        "ppo": (sb3.PPO, {"n_steps": 64, "batch_size": 32, "n_epochs": 2}),
        "a2c": (sb3.A2C, {"n_steps": 8}),
        "dqn": (sb3.DQN, {"buffer_size": 1_000, "learning_starts": 50}),
    }
    for algorithm, (cls, params) in settings.items():
        model = cls("MlpPolicy", CustomerSupportEnv("mixed", 10), seed=0, device="cpu", **params)
        model.learn(200)
        (root / f"{algorithm}-run").mkdir()
        save_model(model, root / f"{algorithm}-run" / "model.zip", {"industry": "mixed", "max_turns": 10})
    return root


@pytest.mark.parametrize("algorithm", ["ppo", "a2c", "dqn"])
def test_a_run_name_under_saves_loads_the_model(algorithm: str, saves: Path) -> None:
    agent = load_agent(f"{algorithm}-run", saves=saves)
    assert (agent.name, agent.kind, agent.needs_state) == (f"{algorithm}-run", "model", False)
    assert agent.meta["algorithm"] == algorithm and agent.path == saves / f"{algorithm}-run" / "model.zip"
    obs, _ = situations(300)
    # the agent holds only the policy network; it acts as SB3's own predict on the whole model does
    sb3_model = load_model(saves / f"{algorithm}-run" / "model.zip")
    expected, _ = sb3_model.predict(obs, deterministic=True)
    np.testing.assert_array_equal(agent(obs), expected)
    assert isinstance(agent(obs[0]), int) and agent(obs[0]) == expected[0]
    import torch

    tensor, _ = sb3_model.policy.obs_to_tensor(obs)
    with torch.no_grad():
        policy: Any = sb3_model.policy
        reference = policy.q_net(tensor) if algorithm == "dqn" else policy.get_distribution(tensor).distribution.probs
    np.testing.assert_allclose(agent.action_values(obs).values, reference.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("algorithm", ["ppo", "a2c"])
def test_policy_models_give_probabilities_over_the_8_strategies(algorithm: str, saves: Path) -> None:
    agent = load_agent(str(saves / f"{algorithm}-run"))
    obs, _ = situations(100)
    for o in obs:
        values = agent.action_values(o)
        assert values.kind == "probabilities" and values.values.shape == (N_STRATEGIES,)
        assert values.values.min() >= 0 and values.values.sum() == pytest.approx(1.0, abs=1e-6)
        assert values.best == agent(o)  # greedy play takes the most probable strategy
    assert agent.action_values(obs).values.shape == (100, N_STRATEGIES)


def test_dqn_models_give_q_values_whose_best_is_the_action_taken(saves: Path) -> None:
    agent = load_agent(str(saves / "dqn-run" / "model.zip"))
    assert agent.name == "dqn-run"  # a run's model file is named after its run
    obs, _ = situations(100)
    for o in obs:
        values = agent.action_values(o)
        assert isinstance(values, ActionValues) and values.kind == "q_values"
        assert values.values.shape == (N_STRATEGIES,) and values.best == agent(o)


def test_a_run_may_be_named_like_a_baseline(saves: Path, tmp_path: Path) -> None:
    (tmp_path / "heuristic").mkdir()
    (tmp_path / "heuristic" / "model.zip").write_bytes((saves / "ppo-run" / "model.zip").read_bytes())
    agent = load_agent("heuristic", saves=tmp_path)
    assert agent.kind == "model" and agent.name == "heuristic"


def test_a_run_folder_prefers_its_best_model(saves: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.zip").write_bytes((saves / "ppo-run" / "model.zip").read_bytes())
    (run / "best.zip").write_bytes((saves / "a2c-run" / "model.zip").read_bytes())
    agent = load_agent(str(run))
    assert agent.meta["algorithm"] == "a2c" and agent.path == run / "best.zip" and agent.name == "run"


def test_rollouts_take_model_agents(saves: Path) -> None:
    result = metrics(rollout(load_agent("ppo-run", saves=saves), episodes=200, seed=0))
    assert result.episodes == 200 and np.isfinite(result.mean_return)


def test_an_unsafe_model_file_surfaces_as_a_model_load_error(saves: Path, tmp_path: Path) -> None:
    from cs_tui.training.model_file.format import ModelLoadError

    broken = tmp_path / "broken.zip"
    broken.write_bytes((saves / "ppo-run" / "model.zip").read_bytes()[:500])
    with pytest.raises(ModelLoadError, match="truncated or corrupt") as caught:
        load_agent(str(broken))
    assert str(broken) in str(caught.value)
    assert isinstance(caught.value, ValueError)  # the CLI's one except clause catches it


def test_loading_a_model_imports_torch_only_then(saves: Path) -> None:
    code = (
        "import sys\nfrom pathlib import Path\nfrom cs_tui.agents import load_agent\n"
        "before = 'torch' in sys.modules\n"
        f"agent = load_agent('a2c-run', saves=Path({str(saves)!r}))\n"
        "print(before, 'torch' in sys.modules, agent.meta['algorithm'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "a2c"]
