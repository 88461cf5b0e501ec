"""The app's torch-free loader: a model file's network read and run with numpy answers as torch's does,
refuses what the torch loaders refuse in their words, and leaves to torch only what it does not express."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from test_safe_load import (  # noqa: E402  (the model files and crafting helpers of the safe loader's tests)
    make_model,
    member,
    misfit_weights,
    observations,
    outputs,
    rewrite,
    torch_bytes,
    trained,
)

from cs_env.env import OBS_SIZE, CustomerSupportEnv  # noqa: E402
from cs_tui.training.model_file.format import ModelLoadError  # noqa: E402
from cs_tui.training.model_file.torch_zip import Unsupported, read_torch_file  # noqa: E402
from cs_tui.training.model_file.writer import save_model  # noqa: E402
from cs_tui.training.numpy_policy import OPTIMIZER_SETTINGS, load_numpy_policy  # noqa: E402
from cs_tui.training.policy_net import load_policy_net  # noqa: E402
from cs_tui.training.safe_load import load_model  # noqa: E402

__all__ = ["observations", "trained"]  # fixtures, used by name

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "saves" / "default" / "best.zip"


def same_answers(path: Path, batch: np.ndarray) -> None:
    """numpy's action values are torch's (the network-only loader's) within 1e-5, and so its greedy actions.

    Both compute in float32, summing in their own orders: the shipped agent's probabilities differ by up to
    2e-6 (its softmax is sharp, and a few of 16,000 values meet a rounding of the logits there)."""
    ours, _ = load_numpy_policy(path)
    theirs, _ = load_policy_net(path)
    np.testing.assert_allclose(ours.values(batch), theirs.values(batch), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ours.values(batch).argmax(axis=1), theirs.values(batch).argmax(axis=1))


def wide_observations(n: int = 2000) -> np.ndarray:
    """Observations drawn over the whole observation space (beyond what conversations reach), seeded."""
    space = CustomerSupportEnv().observation_space
    space.seed(3)
    return np.stack([space.sample() for _ in range(n)]).astype(np.float32)


@pytest.mark.parametrize("algorithm", ["ppo", "a2c", "dqn"])
def test_numpy_answers_as_torch_and_sb3_do(
    algorithm: str, trained: dict[str, tuple[Any, Path]], observations: np.ndarray
) -> None:
    model, path = trained[algorithm]
    net, meta = load_numpy_policy(path)
    assert meta["algorithm"] == algorithm and net.kind == ("q_values" if algorithm == "dqn" else "probabilities")
    same_answers(path, observations)
    same_answers(path, wide_observations())
    np.testing.assert_allclose(net.action_values(observations), outputs(model, observations), rtol=1e-5, atol=1e-6)
    expected, _ = load_model(path).predict(observations, deterministic=True)
    np.testing.assert_array_equal(net.predict(observations), expected)


def test_the_shipped_default_agent_answers_as_torch_does(observations: np.ndarray) -> None:
    same_answers(DEFAULT, observations)
    same_answers(DEFAULT, wide_observations())


@pytest.mark.parametrize(
    ("algorithm", "policy_kwargs"),
    [
        ("ppo", {"net_arch": {"pi": [32], "vf": [16, 16]}, "activation_fn": "relu"}),
        ("a2c", {"net_arch": [], "activation_fn": "elu"}),
        ("dqn", {"net_arch": [24, 12], "activation_fn": "tanh"}),
        ("ppo", {"net_arch": [16, 16], "activation_fn": "leaky_relu", "optimizer_class": "rmsprop"}),
        ("ppo", {"net_arch": [16], "activation_fn": "gelu"}),
        ("dqn", {"net_arch": [16], "activation_fn": "silu"}),
    ],
)
def test_every_architecture_and_activation_a_file_may_name_runs_as_torch_runs_it(
    algorithm: str, policy_kwargs: dict[str, Any], tmp_path: Path, observations: np.ndarray
) -> None:
    from cs_tui.training.safe_load import policy_kwargs_from_json

    model = make_model(algorithm, policy_kwargs=policy_kwargs_from_json(policy_kwargs))
    model.learn(200)  # weights and optimizer moments that are not fresh
    path = tmp_path / "model.zip"
    save_model(model, path, {"industry": "mixed", "max_turns": 10, "seed": 0, "algorithm": algorithm})
    same_answers(path, observations)
    same_answers(path, wide_observations(500))


def test_a_frame_stacking_model_remembers_as_torchs_does(tmp_path: Path, observations: np.ndarray) -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack

    env = VecFrameStack(DummyVecEnv([lambda: CustomerSupportEnv("mixed", 10)]), 3)
    model = make_model("ppo", env=env)
    model.learn(200)
    path = tmp_path / "stack.zip"
    save_model(model, path, {"industry": "mixed", "max_turns": 10, "seed": 0, "algorithm": "ppo"})
    ours, _ = load_numpy_policy(path)
    theirs, _ = load_policy_net(path)
    assert ours.remembers and ours.frame_stack == 3 and ours.obs_size == OBS_SIZE
    mine, yours = ours.new_memory(), theirs.new_memory()
    for obs in observations[:300]:  # one conversation after another, as the play pane asks
        np.testing.assert_allclose(mine(obs), yours(obs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("change", ["shape", "nan", "inf", "dtype", "extra", "missing", "not_a_tensor"])
def test_weights_that_do_not_fit_are_refused_in_the_torch_loaders_words(
    change: str, trained: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    _, path = trained["ppo"]
    crafted = misfit_weights(path, tmp_path, change)
    messages = []
    for load in (load_policy_net, load_numpy_policy):
        with pytest.raises(ModelLoadError) as caught:
            load(crafted)
        messages.append(str(caught.value))
    assert messages[0] == messages[1] and str(crafted) in messages[1] and "policy.pth" in messages[1]


def test_a_damaged_tensor_file_is_left_to_torch_which_refuses_it_naming_the_file(
    trained: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    """torch's reader does not check the archive's checksums, nor what lies under the pickle's result: what
    it makes of a damaged file is its call, so numpy hands such a file over (the app then loads it with torch,
    in a process of its own) rather than refuse a file torch would read, or read one torch would refuse."""
    _, path = trained["ppo"]
    raw = member(path, "policy.pth")
    pickle = _member_of(raw, "data.pkl")
    cases = {
        "random bytes": b"not a zip at all",
        "a truncated file": raw[: len(raw) // 2],
        "no pickle": _without(raw, "data.pkl"),
        "a missing storage": _without(raw, "data/0"),
        "a short storage": _replaced(raw, "data/0", b"\0" * 8),
        "a truncated pickle": _replaced(raw, "data.pkl", pickle[:-40]),
        "a format of another version": _replaced(raw, ".format_version", b"2"),
    }
    for number, (case, data) in enumerate(cases.items()):
        crafted = rewrite(path, tmp_path / f"broken-{number}.zip", {"policy.pth": data})
        with pytest.raises(Unsupported):
            load_numpy_policy(crafted)
        if case != "a format of another version":
            with pytest.raises(ModelLoadError) as caught:
                load_policy_net(crafted)
            assert str(caught.value).startswith(f"{crafted}: policy.pth"), (case, str(caught.value))


def _member_of(raw: bytes, suffix: str) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith("/" + suffix)))


def _replaced(raw: bytes, suffix: str, data: bytes | None) -> bytes:
    """A torch file with its member ``…/suffix`` replaced (or dropped: None)."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as source, zipfile.ZipFile(out, "w") as archive:
        for name in source.namelist():
            if not name.endswith("/" + suffix):
                archive.writestr(name, source.read(name))
            elif data is not None:
                archive.writestr(name, data)
    return out.getvalue()


def _without(raw: bytes, suffix: str) -> bytes:
    return _replaced(raw, suffix, None)


def test_a_recurrent_model_is_left_to_torch(trained: dict[str, tuple[Any, Path]]) -> None:
    _, path = trained["recurrent_ppo"]
    with pytest.raises(Unsupported):
        load_numpy_policy(path)


def test_an_optimizer_state_of_another_torch_version_is_left_to_torch(
    trained: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    """A parameter group with settings this torch's optimizer lacks: torch decides whether it fits, not numpy."""
    _, path = trained["ppo"]
    state = torch.load(io.BytesIO(member(path, "policy.optimizer.pth")), weights_only=True)
    state["param_groups"][0]["future_setting"] = 1.0
    crafted = rewrite(path, tmp_path / "future.zip", {"policy.optimizer.pth": torch_bytes(state)})
    with pytest.raises(Unsupported):
        load_numpy_policy(crafted)
    with pytest.raises(ModelLoadError, match="parameter group settings"):
        load_policy_net(crafted)


def test_the_optimizer_settings_table_is_this_torchs() -> None:
    """Files of this torch load with numpy alone: the table holds what its optimizers write."""
    parameter = [torch.nn.Parameter(torch.zeros(2))]
    for name, optimizer in (("adam", torch.optim.Adam), ("rmsprop", torch.optim.RMSprop)):
        assert set(optimizer(parameter, lr=1.0).state_dict()["param_groups"][0]) == OPTIMIZER_SETTINGS[name]


def test_the_reader_gives_torchs_values_for_its_own_files() -> None:
    tensors = {"a": torch.arange(12, dtype=torch.float32).reshape(3, 4).t(), "b": torch.tensor([1, 2])}
    tensors["c"] = tensors["a"][1:, ::2]  # a view into another tensor's storage, at an offset
    read = read_torch_file(Path("x.zip"), "policy.pth", torch_bytes(tensors))
    for name, tensor in tensors.items():
        assert read[name].dtype == str(tensor.dtype)
        np.testing.assert_array_equal(read[name].array(), tensor.numpy())


def test_the_app_loads_the_default_agent_without_torch() -> None:
    """What the play pane does for its opponent: numpy alone, torch never imported, the answers a distribution."""
    code = (
        "import sys\nimport numpy as np\nfrom cs_tui.agents import load_agent\n"
        "agent = load_agent('default', saves=__import__('pathlib').Path('saves'), apart=True)\n"
        f"values = agent.action_values(np.zeros({OBS_SIZE}, dtype=np.float32))\n"
        "assert values.kind == 'probabilities' and abs(values.values.sum() - 1) < 1e-5, values\n"
        "print(type(agent.net).__name__, sorted(m for m in ('torch', 'stable_baselines3') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "NumpyPolicyNet []", out.stdout + out.stderr
