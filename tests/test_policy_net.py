"""The predict-only loader: the policy network alone acts as SB3's whole model does, imports no SB3, and
refuses what ``safe_load`` refuses (it goes through the same checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from test_safe_load import (  # noqa: E402  (the model files and crafting helpers of the safe loader's tests)
    CreatesFile,
    make_model,
    misfit_weights,
    observations,
    outputs,
    policy_state,
    rewrite,
    torch_bytes,
    trained,
)

from cs_env.env import OBS_SIZE  # noqa: E402
from cs_tui.training.model_file.format import ModelLoadError  # noqa: E402
from cs_tui.training.model_file.writer import save_model  # noqa: E402
from cs_tui.training.policy_net import load_policy_net  # noqa: E402
from cs_tui.training.safe_load import load_model  # noqa: E402

__all__ = ["observations", "trained"]  # fixtures, used by name

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("algorithm", ["ppo", "a2c", "dqn"])
def test_the_policy_network_alone_acts_as_sb3s_whole_model(
    algorithm: str, trained: dict[str, tuple[Any, Path]], observations: np.ndarray
) -> None:
    model, path = trained[algorithm]
    net, meta = load_policy_net(path)
    assert meta["algorithm"] == algorithm and net.kind == ("q_values" if algorithm == "dqn" else "probabilities")
    expected, _ = load_model(path).predict(observations, deterministic=True)
    np.testing.assert_array_equal(net.predict(observations), expected)
    np.testing.assert_allclose(net.action_values(observations), outputs(model, observations), rtol=1e-5, atol=1e-6)
    assert int(net.predict(observations[0])) == expected[0]  # one observation, as the play pane asks


@pytest.mark.parametrize(
    ("algorithm", "policy_kwargs"),
    [
        ("ppo", {"net_arch": {"pi": [32], "vf": [16, 16]}, "activation_fn": "relu"}),
        ("a2c", {"net_arch": [], "activation_fn": "elu"}),
        ("dqn", {"net_arch": [24, 12], "activation_fn": "tanh"}),
    ],
)
def test_other_architectures_are_rebuilt_as_sb3_builds_them(
    algorithm: str, policy_kwargs: dict[str, Any], tmp_path: Path, observations: np.ndarray
) -> None:
    from cs_tui.training.safe_load import policy_kwargs_from_json

    model = make_model(algorithm, policy_kwargs=policy_kwargs_from_json(policy_kwargs))
    path = tmp_path / "model.zip"
    save_model(model, path, {"industry": "mixed", "max_turns": 10, "seed": 0, "algorithm": algorithm})
    net, _ = load_policy_net(path)
    np.testing.assert_allclose(net.action_values(observations), outputs(model, observations), rtol=1e-5, atol=1e-6)


def test_an_opponent_loads_and_answers_without_importing_stable_baselines3() -> None:
    """What the play pane does for its opponent: SB3 (and its algorithm, buffers, optimizer) is never imported."""
    code = (
        "import sys\nimport numpy as np\nfrom cs_tui.agents import load_agent\n"
        "agent = load_agent('default', saves=__import__('pathlib').Path('saves'))\n"
        f"values = agent.action_values(np.zeros({OBS_SIZE}, dtype=np.float32))\n"
        "assert values.kind == 'probabilities' and abs(values.values.sum() - 1) < 1e-5, values\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'stable_baselines3'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("nan", ("non-finite",)),
        ("shape", ("has shape (64, 20)", f"needs (64, {OBS_SIZE})")),
        ("dtype", ("torch.float64", "torch.float32")),
        ("extra", ("does not have", "sneaky")),
        ("missing", ("lacks",)),
    ],
)
def test_weights_that_do_not_fit_are_refused_as_the_safe_loader_refuses_them(
    change: str, words: tuple[str, ...], trained: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    _, path = trained["ppo"]
    crafted = misfit_weights(path, tmp_path, change)
    with pytest.raises(ModelLoadError) as caught:
        load_policy_net(crafted)
    message = str(caught.value)
    assert str(crafted) in message and "policy.pth" in message
    assert all(word in message for word in words), message


def test_a_pickled_payload_is_refused_and_never_run(trained: dict[str, tuple[Any, Path]], tmp_path: Path) -> None:
    _, path = trained["dqn"]
    marker = tmp_path / "pwned"
    state: dict[str, Any] = policy_state(path)
    state["payload"] = CreatesFile(marker)
    crafted = rewrite(path, tmp_path / "crafted.zip", {"policy.pth": torch_bytes(state)})
    with pytest.raises(ModelLoadError, match="weights-only"):
        load_policy_net(crafted)
    assert not marker.exists()
    # and the description is validated before anything is built
    bad = rewrite(path, tmp_path / "bad.zip", {"cs_tui.json": b'{"format": "cs_tui.model"}'})
    with pytest.raises(ModelLoadError, match=r"cs_tui\.json"):
        load_policy_net(bad)


def test_both_loaders_refuse_a_file_for_the_same_reason_in_the_same_words(
    trained: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    """Both open a file through ``open_checked`` and load its tensors through ``load_weights``: a file that
    breaks several rules at once is refused by each for the same first one, in the same words."""
    _, path = trained["dqn"]
    marker = tmp_path / "pwned"
    state: dict[str, Any] = policy_state(path)
    state["payload"] = CreatesFile(marker)
    broken = {
        "no weights and a bad description": {"policy.pth": None, "cs_tui.json": b'{"format": "cs_tui.model"}'},
        "no weights": {"policy.pth": None},
        "a payload in the weights and stray variables": {
            "policy.pth": torch_bytes(state),
            "pytorch_variables.pth": torch_bytes({"sneaky": torch.zeros(1)}),
        },
        "stray variables": {"pytorch_variables.pth": torch_bytes({"sneaky": torch.zeros(1)})},
    }
    for number, (case, members) in enumerate(broken.items()):
        crafted = rewrite(path, tmp_path / f"crafted-{number}.zip", members)
        messages = []
        for load in (load_model, load_policy_net):
            with pytest.raises(ModelLoadError) as caught:
                load(crafted)
            messages.append(str(caught.value))
        assert messages[0] == messages[1], (case, messages)
    assert not marker.exists()
