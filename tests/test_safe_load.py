"""Model files: save → load gives the same agent; a crafted, corrupt or mismatched file is refused, no code runs."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sb3 = pytest.importorskip("stable_baselines3")

from gymnasium import spaces  # noqa: E402
from sb3_contrib import RecurrentPPO  # noqa: E402

from cs_env.env import CustomerSupportEnv  # noqa: E402
from cs_tui.training.model_file import read_model_meta  # noqa: E402
from cs_tui.training.model_file.format import ALLOWED_MEMBERS, META_MEMBER, ModelLoadError  # noqa: E402
from cs_tui.training.model_file.pickle_scan import DATA_GLOBALS, pickle_globals  # noqa: E402
from cs_tui.training.model_file.writer import save_model  # noqa: E402
from cs_tui.training.safe_load import load_model, load_model_with_meta  # noqa: E402

ALGORITHMS = ("ppo", "a2c", "dqn", "recurrent_ppo")
CLASSES = {"ppo": sb3.PPO, "a2c": sb3.A2C, "dqn": sb3.DQN, "recurrent_ppo": RecurrentPPO}
POLICY = {"recurrent_ppo": "MlpLstmPolicy"}
SMALL = {
    "ppo": {"n_steps": 64, "batch_size": 32, "n_epochs": 2},
    "a2c": {"n_steps": 8},
    "dqn": {"buffer_size": 2_000, "learning_starts": 50, "train_freq": 4},
    "recurrent_ppo": {"n_steps": 64, "batch_size": 32, "n_epochs": 2},
}
META = {"industry": "mixed", "max_turns": 10, "seed": 0}


def make_model(algorithm: str, env: Any = None, **kwargs: Any) -> Any:
    torch.set_num_threads(1)
    env = env if env is not None else CustomerSupportEnv("mixed", 10)
    params = {**SMALL[algorithm], **kwargs}
    if algorithm == "recurrent_ppo":  # a small LSTM
        params["policy_kwargs"] = {"lstm_hidden_size": 16, **params.get("policy_kwargs", {})}
    return CLASSES[algorithm](POLICY.get(algorithm, "MlpPolicy"), env, seed=0, device="cpu", verbose=0, **params)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path]]:
    """A model per algorithm trained a few hundred steps (so weights and optimizer state are not fresh)."""
    root = tmp_path_factory.mktemp("models")
    found = {}
    for algorithm in ALGORITHMS:
        model = make_model(algorithm)
        model.learn(300)
        path = root / f"{algorithm}.zip"
        save_model(model, path, {**META, "algorithm": algorithm})
        found[algorithm] = (model, path)
    return found


@pytest.fixture(scope="module")
def observations() -> np.ndarray:
    """1,000 observations from real conversations (random strategies), seeded."""
    env = CustomerSupportEnv("mixed", 10)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    collected = []
    while len(collected) < 1000:
        collected.append(obs)
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(8)))
        if terminated or truncated:
            obs, _ = env.reset()
    return np.stack(collected)


def rewrite(src: Path, dst: Path, members: dict[str, bytes | None]) -> Path:
    """Copy a model file, replacing (bytes), dropping (None) or adding members."""
    with zipfile.ZipFile(src) as archive:
        original = {name: archive.read(name) for name in archive.namelist()}
    for name, data in members.items():
        if data is None:
            original.pop(name, None)
        else:
            original[name] = data
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in original.items():
            archive.writestr(name, data)
    return dst


def member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def torch_bytes(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def policy_state(path: Path) -> dict[str, Any]:
    return dict(torch.load(io.BytesIO(member(path, "policy.pth")), weights_only=True))


def outputs(model: Any, obs: np.ndarray) -> np.ndarray:
    """Action probabilities (PPO, A2C) or Q-values (DQN) for a batch of observations."""
    tensor, _ = model.policy.obs_to_tensor(obs)
    with torch.no_grad():
        if isinstance(model, sb3.DQN):
            return model.policy.q_net(tensor).numpy()
        if isinstance(model, RecurrentPPO):  # each observation as a conversation's first
            lstm = model.policy.lstm_actor
            zeros = torch.zeros(lstm.num_layers, len(obs), lstm.hidden_size)
            distribution, _ = model.policy.get_distribution(tensor, (zeros, zeros), torch.ones(len(obs)))
            return distribution.distribution.probs.numpy()
        return model.policy.get_distribution(tensor).distribution.probs.numpy()


class CreatesFile:
    """A pickle payload: unpickling it calls ``open(marker, "w")``, i.e. runs code that leaves a trace."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str, str]]:
        return (open, (self.marker, "w"))


def refused(path: Path, *words: str) -> str:
    """Load ``path``, expect a ModelLoadError naming the file and ``words``; return the message."""
    with pytest.raises(ModelLoadError) as caught:
        load_model(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message, message
    return message


# -- save → load gives the same agent ------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_save_then_load_takes_identical_actions_on_1000_observations(
    algorithm: str, trained: dict[str, tuple[Any, Path]], observations: np.ndarray
) -> None:
    model, path = trained[algorithm]
    loaded = load_model(path)
    assert type(loaded) is type(model)
    expected, _ = model.predict(observations, deterministic=True)
    actions, _ = loaded.predict(observations, deterministic=True)
    np.testing.assert_array_equal(actions, expected)
    # an untrained-looking agent may pick one action everywhere: compare the full outputs too
    np.testing.assert_array_equal(outputs(loaded, observations), outputs(model, observations))
    for name, tensor in model.policy.state_dict().items():
        assert torch.equal(loaded.policy.state_dict()[name], tensor), name
    assert loaded.num_timesteps == model.num_timesteps


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_optimizer_state_comes_back_so_training_can_resume(
    algorithm: str, trained: dict[str, tuple[Any, Path]]
) -> None:
    model, path = trained[algorithm]
    original = model.policy.optimizer.state_dict()
    restored = load_model(path).policy.optimizer.state_dict()
    assert original["state"], "a trained model has optimizer moments"
    assert restored["state"].keys() == original["state"].keys()
    for index, slots in original["state"].items():
        for slot, value in slots.items():
            assert torch.equal(restored["state"][index][slot], value), (index, slot)
    assert restored["param_groups"][0]["lr"] == original["param_groups"][0]["lr"]


def test_sb3s_own_load_still_opens_our_file(trained: dict[str, tuple[Any, Path]], observations: np.ndarray) -> None:
    model, path = trained["ppo"]
    theirs = sb3.PPO.load(path, device="cpu")
    np.testing.assert_array_equal(
        theirs.predict(observations, deterministic=True)[0], model.predict(observations, deterministic=True)[0]
    )


def test_the_file_describes_itself(trained: dict[str, tuple[Any, Path]]) -> None:
    _, path = trained["dqn"]
    meta = read_model_meta(path)
    assert meta["algorithm"] == "dqn"
    assert (meta["industry"], meta["max_turns"], meta["seed"]) == ("mixed", 10, 0)
    assert meta["model"]["observation_space"]["shape"] == [18]
    assert meta["model"]["action_space"]["n"] == 8
    assert meta["model"]["hyperparameters"]["buffer_size"] == 2_000
    assert meta["model"]["hyperparameters"]["train_freq"] == [4, "step"]
    assert meta["versions"]["stable-baselines3"] == sb3.__version__
    assert set(zipfile.ZipFile(path).namelist()) <= set(ALLOWED_MEMBERS)


def test_reading_a_model_files_description_does_not_import_torch(trained: dict[str, tuple[Any, Path]]) -> None:
    _, path = trained["ppo"]
    code = (
        "import sys\nfrom cs_tui.training.model_file import read_model_meta\n"
        f"print(read_model_meta({str(path)!r})['algorithm'], 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ppo", "False"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_hyperparameters_and_architecture_are_rebuilt(algorithm: str, tmp_path: Path) -> None:
    arch: Any = [32, 16] if algorithm == "dqn" else {"pi": [32, 16], "vf": [24]}
    model = make_model(
        algorithm, gamma=0.95, learning_rate=1e-3, policy_kwargs={"net_arch": arch, "activation_fn": torch.nn.ReLU}
    )
    save_model(model, tmp_path / "m.zip", META)
    loaded = load_model(tmp_path / "m.zip")
    assert loaded.gamma == 0.95
    assert loaded.learning_rate == 1e-3
    assert loaded.policy_kwargs["activation_fn"] is torch.nn.ReLU
    assert {k: tuple(v.shape) for k, v in loaded.policy.state_dict().items()} == {
        k: tuple(v.shape) for k, v in model.policy.state_dict().items()
    }


def test_a_dqn_loaded_to_act_gets_no_big_replay_buffer(trained: dict[str, tuple[Any, Path]]) -> None:
    _, path = trained["dqn"]
    assert load_model(path).replay_buffer.buffer_size == 1


def test_loading_with_an_env_attaches_it_and_keeps_the_full_hyperparameters(
    trained: dict[str, tuple[Any, Path]],
) -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv

    _, path = trained["dqn"]
    env = DummyVecEnv([lambda: CustomerSupportEnv("mixed", 10)] * 2)
    model = load_model(path, env=env)
    assert model.get_env() is not None and model.n_envs == 2
    assert model.buffer_size == 2_000


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_model_loaded_with_an_env_trains_on(algorithm: str, trained: dict[str, tuple[Any, Path]]) -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv

    model, path = trained[algorithm]
    loaded = load_model(path, env=DummyVecEnv([lambda: CustomerSupportEnv("mixed", 10)]))
    before = {k: v.clone() for k, v in loaded.policy.state_dict().items()}
    loaded.learn(200, reset_num_timesteps=False)
    assert loaded.num_timesteps >= model.num_timesteps + 200
    assert any(not torch.equal(before[k], v) for k, v in loaded.policy.state_dict().items())


def test_save_is_atomic_and_replaces_the_old_file(trained: dict[str, tuple[Any, Path]], tmp_path: Path) -> None:
    model, _ = trained["a2c"]
    path = tmp_path / "model.zip"
    path.write_bytes(b"old")
    save_model(model, path, META)
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]  # no temp file left behind
    assert load_model(path).num_timesteps == model.num_timesteps


def test_save_refuses_what_it_cannot_describe(tmp_path: Path) -> None:
    model = make_model("ppo")
    with pytest.raises(ValueError, match="industry"):
        save_model(model, tmp_path / "m.zip", {"max_turns": 10})
    with pytest.raises(ValueError, match="algorithm"):
        save_model(model, tmp_path / "m.zip", {**META, "algorithm": "dqn"})
    odd = make_model("ppo", policy_kwargs={"activation_fn": torch.nn.Softplus})
    with pytest.raises(ValueError, match="activation_fn"):
        save_model(odd, tmp_path / "m.zip", META)
    huge = make_model("dqn", policy_kwargs={"net_arch": [8] * 12})
    with pytest.raises(ValueError, match=r"cannot save this model.*layer sizes"):
        save_model(huge, tmp_path / "m.zip", META)
    with pytest.raises(ValueError, match="industry"):
        save_model(model, tmp_path / "m.zip", {**META, "industry": "space"})
    assert not (tmp_path / "m.zip").exists()


# -- crafted files: refused, and the payload never runs -----------------------------------------
def test_payload_in_the_data_member_is_refused_and_never_unpickled(
    trained: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    _, path = trained["ppo"]
    data = json.loads(member(path, "data"))
    marker = tmp_path / "pwned_by_data"
    payload = base64.b64encode(pickle.dumps(CreatesFile(marker))).decode()
    data["innocent_looking"] = {":type:": "<class 'int'>", ":serialized:": payload}
    crafted = rewrite(path, tmp_path / "crafted.zip", {"data": json.dumps(data).encode()})

    refused(crafted, "innocent_looking")
    assert not marker.exists()

    # the payload is live: SB3's own load, which the loader exists to avoid, runs it
    sb3.PPO.load(crafted, device="cpu")
    assert marker.exists()


@pytest.mark.parametrize("key", ["lr_schedule", "policy_class", "observation_space"])
def test_payload_under_a_key_sb3_really_writes_is_refused_by_reading_the_pickle_opcodes(
    key: str, trained: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    _, path = trained["ppo"]
    data = json.loads(member(path, "data"))
    marker = tmp_path / "pwned_by_known_key"
    data[key][":serialized:"] = base64.b64encode(pickle.dumps(CreatesFile(marker))).decode()
    crafted = rewrite(path, tmp_path / "crafted.zip", {"data": json.dumps(data).encode()})

    refused(crafted, repr(key), "io.open")
    assert not marker.exists()

    with contextlib.suppress(Exception):  # SB3 may fail later on, but only after having run the payload
        sb3.PPO.load(crafted, device="cpu")
    assert marker.exists()


def test_files_from_both_training_envs_pass_the_pickle_check(tmp_path: Path) -> None:
    from cs_tui.training.vecenv import make_training_env

    for kind in ("batched", "dummy"):
        model = make_model("ppo", env=make_training_env("mixed", 2, 0, kind=kind))
        model.learn(256)
        assert model.ep_info_buffer  # episode stats (numpy values, a deque) are pickled in "data"
        save_model(model, tmp_path / f"{kind}.zip", META)
        assert load_model(tmp_path / f"{kind}.zip").num_timesteps == model.num_timesteps


def test_pickle_globals_reads_imports_without_running_anything(tmp_path: Path) -> None:
    marker = tmp_path / "never"
    assert pickle_globals(pickle.dumps(CreatesFile(marker))) == {("io", "open")}
    assert not marker.exists()
    assert pickle_globals(pickle.dumps({"a": np.arange(3), "b": [1.5, "x"]})) <= DATA_GLOBALS
    # big pickles come in 64 KiB frames, and a frame may start between a global's module and name
    first, second = b"\x8c\x0bcollections\x94", b"\x8c\x05deque\x94\x93\x94)\x81\x94."
    framed = b"\x80\x04" + b"".join(b"\x95" + len(f).to_bytes(8, "little") + f for f in (first, second))
    assert type(pickle.loads(framed)).__name__ == "deque"  # a valid pickle
    assert pickle_globals(framed) == {("collections", "deque")}
    # a global whose name is computed at unpickling time cannot be read statically: refused
    computed = b"\x80\x04\x8c\x02osX\x06\x00\x00\x00systemq\x00\x85R\x93."
    with pytest.raises(ValueError):
        pickle_globals(computed)
    with pytest.raises(ValueError, match="EXT1"):
        pickle_globals(b"\x80\x02\x82\x01.")
    with pytest.raises(ValueError):
        pickle_globals(b"\x80\x04\x8c")  # truncated


@pytest.mark.parametrize("name", ["policy.pth", "policy.optimizer.pth", "pytorch_variables.pth"])
def test_pickled_object_inside_a_tensor_member_is_refused_and_never_run(
    name: str, trained: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    _, path = trained["ppo"]
    marker = tmp_path / "pwned_by_pth"
    state: dict[str, Any] = policy_state(path) if name == "policy.pth" else {}
    state["payload"] = CreatesFile(marker)
    crafted = rewrite(path, tmp_path / "crafted.zip", {name: torch_bytes(state)})

    refused(crafted, name, "weights-only")
    assert not marker.exists()
    # the app's numpy loader reads the pickle's opcodes and refuses it in the same words, naming the import
    from cs_tui.training.numpy_policy import load_numpy_policy

    with pytest.raises(ModelLoadError, match=f"{name} is not a plain tensor file .*weights-only.*io.open"):
        load_numpy_policy(crafted)
    assert not marker.exists()

    # control: a full unpickle of that member does run the payload
    torch.load(io.BytesIO(member(crafted, name)), weights_only=False)
    assert marker.exists()


# -- corrupt files: a clear error naming the file ------------------------------------------------
def test_truncated_file_is_refused(trained: dict[str, tuple[Any, Path]], tmp_path: Path) -> None:
    _, path = trained["ppo"]
    size = len(path.read_bytes())
    for cut in [*range(0, size, size // 40), size - 1]:
        broken = tmp_path / f"cut{cut}.zip"
        broken.write_bytes(path.read_bytes()[:cut])
        refused(broken, "truncated or corrupt")


def test_random_bytes_and_an_empty_file_are_refused(tmp_path: Path) -> None:
    noise = tmp_path / "noise.zip"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    refused(noise, "not a readable model file")
    empty = tmp_path / "empty.zip"
    empty.write_bytes(b"")
    refused(empty, "not a readable model file")


def test_corrupted_bytes_inside_a_member_are_refused(trained: dict[str, tuple[Any, Path]], tmp_path: Path) -> None:
    _, path = trained["ppo"]
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("policy.pth")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    raw[middle : middle + 8] = b"\xff" * 8
    broken = tmp_path / "flipped.zip"
    broken.write_bytes(bytes(raw))
    refused(broken)


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_any_damaged_byte_gives_a_model_load_error_or_a_sound_model(
    compression: int, trained: dict[str, tuple[Any, Path]], tmp_path: Path, observations: np.ndarray
) -> None:
    model, path = trained["dqn"]
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "packed.zip", "w", compression) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    good = (tmp_path / "packed.zip").read_bytes()
    rng = np.random.default_rng(1)
    expected = model.predict(observations[:100], deterministic=True)[0]
    for trial in range(40):
        raw = bytearray(good)
        for position in rng.integers(0, len(raw), size=3):
            raw[position] ^= int(rng.integers(1, 256))
        broken = tmp_path / f"damaged{trial}.zip"
        broken.write_bytes(bytes(raw))
        try:
            loaded = load_model(broken)
        except ModelLoadError as e:
            assert str(broken) in str(e)
        else:  # the damage hit bytes nothing reads (e.g. the zip's comment fields): the agent is intact
            np.testing.assert_array_equal(loaded.predict(observations[:100], deterministic=True)[0], expected)


def test_missing_file_and_folder_are_refused(tmp_path: Path) -> None:
    refused(tmp_path / "absent.zip", "no such file")
    refused(tmp_path, "not a file")


def test_a_zip_with_an_extra_member_is_refused(trained: dict[str, tuple[Any, Path]], tmp_path: Path) -> None:
    _, path = trained["ppo"]
    crafted = rewrite(path, tmp_path / "extra.zip", {"run_me.py": b"print('hi')"})
    refused(crafted, "unexpected member 'run_me.py'")


def test_a_plain_sb3_file_without_our_description_is_refused(tmp_path: Path) -> None:
    model = make_model("ppo")
    model.save(tmp_path / "plain.zip")
    refused(tmp_path / "plain.zip", META_MEMBER, "not saved by cs-tui")


def test_a_file_without_weights_is_refused(trained: dict[str, tuple[Any, Path]], tmp_path: Path) -> None:
    _, path = trained["ppo"]
    refused(rewrite(path, tmp_path / "no_weights.zip", {"policy.pth": None}), "policy.pth")


# -- weights that do not fit ------------------------------------------------------------------
def first_weight(state: dict[str, Any]) -> str:
    return next(k for k in state if k.endswith("weight"))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("shape", ("has shape (64, 20)", "needs (64, 18)")),
        ("nan", ("non-finite",)),
        ("inf", ("non-finite",)),
        ("dtype", ("torch.float64", "torch.float32")),
        ("extra", ("does not have", "sneaky")),
        ("missing", ("lacks",)),
        ("not_a_tensor", ("dense tensor",)),
    ],
)
def test_weights_that_do_not_fit_the_model_are_refused(
    change: str, words: tuple[str, ...], trained: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    _, path = trained["ppo"]
    refused(misfit_weights(path, tmp_path, change), "policy.pth", *words)


def misfit_weights(path: Path, folder: Path, change: str) -> Path:
    """A copy of the model file in ``folder`` whose policy.pth has one ``change`` (shape, nan, …)."""
    state = policy_state(path)
    name = first_weight(state)
    if change == "shape":
        state[name] = torch.zeros(64, 20)
    elif change == "nan":
        state[name] = state[name].clone()
        state[name][0, 0] = float("nan")
    elif change == "inf":
        state[name] = state[name].clone()
        state[name][-1, -1] = float("inf")
    elif change == "dtype":
        state[name] = state[name].double()
    elif change == "extra":
        state["sneaky"] = torch.zeros(3)
    elif change == "missing":
        del state[name]
    elif change == "not_a_tensor":
        state[name] = [1.0, 2.0]
    return rewrite(path, folder / f"{change}.zip", {"policy.pth": torch_bytes(state)})


def test_optimizer_state_that_does_not_fit_is_refused(trained: dict[str, tuple[Any, Path]], tmp_path: Path) -> None:
    _, path = trained["ppo"]
    state = torch.load(io.BytesIO(member(path, "policy.optimizer.pth")), weights_only=True)
    state["state"][0]["exp_avg"] = torch.zeros(5)
    refused(rewrite(path, tmp_path / "opt.zip", {"policy.optimizer.pth": torch_bytes(state)}), "exp_avg", "(5,)")


# -- descriptions that do not fit --------------------------------------------------------------
def test_a_model_for_another_observation_size_is_refused_naming_both_shapes(tmp_path: Path) -> None:
    class Wider(CustomerSupportEnv):
        def __init__(self) -> None:
            super().__init__("mixed", 10)
            self.observation_space = spaces.Box(0.0, 1.0, (20,), np.float32)

    # e.g. a file from a cs-tui whose observations had 20 values: SB3's zip plus a description saying so
    model = make_model("ppo", env=Wider())
    described = json.loads(member(make_saved(tmp_path / "ok.zip"), META_MEMBER))
    described["model"]["observation_space"].update(shape=[20], low=[0.0] * 20, high=[1.0] * 20)
    buffer = io.BytesIO()
    model.save(buffer)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(META_MEMBER, json.dumps(described))
    (tmp_path / "wide.zip").write_bytes(buffer.getvalue())
    refused(tmp_path / "wide.zip", "(20,)", "(18,)")
    # save_model never writes such a file: the model must fit the env its meta names
    with pytest.raises(ValueError, match=r"cannot save.*\(20,\).*\(18,\)"):
        save_model(model, tmp_path / "never.zip", META)
    assert not (tmp_path / "never.zip").exists()


def make_saved(path: Path) -> Path:
    save_model(make_model("ppo"), path, META)
    return path


def test_a_model_for_another_max_turns_keeps_its_own_space(tmp_path: Path) -> None:
    model = make_model("a2c", env=CustomerSupportEnv("bfsi", 12))
    save_model(model, tmp_path / "m.zip", {"industry": "bfsi", "max_turns": 12})
    assert load_model(tmp_path / "m.zip").observation_space.high[3] == 12
    # the same weights described as a max_turns-10 model no longer match that env's bounds
    meta = json.loads(member(tmp_path / "m.zip", META_MEMBER))
    meta["max_turns"] = 10
    crafted = rewrite(tmp_path / "m.zip", tmp_path / "lie.zip", {META_MEMBER: json.dumps(meta).encode()})
    refused(crafted, "bounds differ")


def test_attaching_an_env_with_other_spaces_is_refused(trained: dict[str, tuple[Any, Path]]) -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv

    class Narrow(CustomerSupportEnv):
        def __init__(self) -> None:
            super().__init__("mixed", 10)
            self.observation_space = spaces.Box(0.0, 1.0, (5,), np.float32)

    _, path = trained["ppo"]
    with pytest.raises(ModelLoadError, match=r"\(18,\).*\(5,\)"):
        load_model(path, env=DummyVecEnv([Narrow]))


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda m: m.update(algorithm="sac"), ("unknown algorithm 'sac'", "ppo, a2c, dqn")),
        (lambda m: m.update(industry="space"), ("unknown industry 'space'",)),
        (lambda m: m.update(max_turns=0), ("max_turns",)),
        (lambda m: m.update(schema=99), ("schema 99",)),
        (lambda m: m["model"]["policy_kwargs"].update(net_arch={"pi": [10**9], "vf": [8]}), ("layer sizes",)),
        (lambda m: m["model"]["policy_kwargs"].update(activation_fn="os.system"), ("activation_fn",)),
        (lambda m: m["model"]["policy_kwargs"].update(features_extractor_class="x"), ("features_extractor_class",)),
        (lambda m: m["model"]["hyperparameters"].update(exec="rm -rf"), ("unknown ppo hyperparameter 'exec'",)),
        (lambda m: m["model"]["hyperparameters"].update(gamma=7.0), ("gamma",)),
        (lambda m: m["model"]["hyperparameters"].update(n_steps=-5), ("n_steps",)),
        (lambda m: m["model"].update(policy="CnnPolicy"), ("CnnPolicy",)),
    ],
)
def test_an_invalid_description_is_refused_before_anything_is_built(
    edit: Callable[[dict[str, Any]], None],
    words: tuple[str, ...],
    trained: dict[str, tuple[Any, Path]],
    tmp_path: Path,
) -> None:
    _, path = trained["ppo"]
    meta = json.loads(member(path, META_MEMBER))
    edit(meta)
    crafted = rewrite(path, tmp_path / "meta.zip", {META_MEMBER: json.dumps(meta).encode()})
    refused(crafted, META_MEMBER, *words)


def test_non_finite_numbers_and_broken_json_in_the_description_are_refused(
    trained: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    _, path = trained["ppo"]
    text = member(path, META_MEMBER).decode()
    nan = text.replace('"gamma": 0.99', '"gamma": NaN')
    assert nan != text
    refused(rewrite(path, tmp_path / "nan.zip", {META_MEMBER: nan.encode()}), "not valid JSON")
    refused(rewrite(path, tmp_path / "cut.zip", {META_MEMBER: text[:40].encode()}), "not valid JSON")


@pytest.mark.parametrize("name", [META_MEMBER, "data"])
def test_deeply_nested_json_is_refused_not_a_crash(
    name: str, trained: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    _, path = trained["ppo"]
    crafted = rewrite(path, tmp_path / "deep.zip", {name: b"[" * 200_000 + b"]" * 200_000})
    refused(crafted, name, "not valid JSON")


def test_load_model_with_meta_returns_the_description(trained: dict[str, tuple[Any, Path]]) -> None:
    model, path = trained["a2c"]
    loaded, meta = load_model_with_meta(path)
    assert meta["algorithm"] == "a2c" and meta == read_model_meta(path)
    assert loaded.n_steps == model.n_steps


def test_dqns_replay_buffer_round_trips_as_plain_arrays_and_a_bad_file_is_refused(
    trained: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    from cs_tui.training.model_file.replay_buffer import load_replay_buffer, save_replay_buffer

    model, path = trained["dqn"]
    save_replay_buffer(model, tmp_path / "replay_buffer.npz")
    fresh = load_model(path, env=CustomerSupportEnv("mixed", 10))
    assert load_replay_buffer(fresh, tmp_path / "replay_buffer.npz") == model.replay_buffer.pos
    np.testing.assert_array_equal(fresh.replay_buffer.observations[: model.replay_buffer.pos],
                                  model.replay_buffer.observations[: model.replay_buffer.pos])  # fmt: skip
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(ValueError, match=r"bad\.npz: cannot restore the replay buffer"):
        load_replay_buffer(fresh, tmp_path / "bad.npz")
    np.savez(tmp_path / "short.npz", pos=np.int64(3), full=np.bool_(False), observations=np.zeros((2, 18)))
    with pytest.raises(ValueError, match=r"short\.npz: cannot restore the replay buffer: observations has shape"):
        load_replay_buffer(fresh, tmp_path / "short.npz")
