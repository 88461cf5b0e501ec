"""Model files built to cost time or memory, to act with non-numbers, or to rewrite classes when SB3's
own ``load`` reads them: each is refused, quickly, with the reason."""

from __future__ import annotations

import base64
import io
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sb3 = pytest.importorskip("stable_baselines3")

from cs_env.env import CustomerSupportEnv  # noqa: E402
from cs_tui.agents import ModelAgent, ModelRunError  # noqa: E402
from cs_tui.training.model_file.format import ModelLoadError  # noqa: E402
from cs_tui.training.model_file.pickle_scan import pickle_globals  # noqa: E402
from cs_tui.training.model_file.writer import save_model  # noqa: E402
from cs_tui.training.safe_load import load_model  # noqa: E402

META = {"industry": "mixed", "max_turns": 10, "seed": 0}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    model = sb3.PPO("MlpPolicy", CustomerSupportEnv(), n_steps=64, batch_size=32, seed=0, device="cpu")
    path = tmp_path_factory.mktemp("m") / "model.zip"
    save_model(model, path, META)
    return path


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path: Path, members: dict[str, bytes], compression: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data, compress_type=(compression or {}).get(name, zipfile.ZIP_STORED))
    return path


def refused(path: Path, *words: str) -> str:
    with pytest.raises(ModelLoadError) as caught:
        load_model(path)
    message = str(caught.value)
    assert str(path) in message and all(word in message for word in words), message
    return message


def test_a_zip_of_twenty_thousand_members_is_refused_from_its_end_record(tmp_path: Path) -> None:
    """Names repeated 20,000 times took 98 s to refuse (a quadratic duplicate check)."""
    path = tmp_path / "many.zip"
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns of each duplicate name
        for _ in range(20_000):
            archive.writestr("data", b"")
    refused(path, "declares 20,000 members", "at most 7")


def test_a_repeated_allowed_member_is_named(model_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "twice.zip"
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as archive:
        warnings.simplefilter("ignore")
        for name, data in [*members_of(model_file).items(), ("data", b"{}")]:
            archive.writestr(name, data)
    refused(path, "member 'data' appears twice")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_members_compressed_otherwise_than_sb3_writes_them_are_refused_before_inflating(
    model_file: Path, tmp_path: Path, method: int
) -> None:
    """bzip2 inflates a whole member at once inside zipfile: a 10 KB bomb cost 43 s and 2.8 GB."""
    path = write_zip(tmp_path / "bz.zip", members_of(model_file), {"policy.pth": method})
    refused(path, "'policy.pth' uses compression method", "stored or deflated")


def test_a_member_larger_than_any_model_needs_is_refused_from_the_directory(model_file: Path, tmp_path: Path) -> None:
    members = members_of(model_file)
    members["policy.pth"] = bytes(64 << 20)  # deflates to 64 KB, larger than the largest network allowed
    path = write_zip(tmp_path / "big.zip", members, {"policy.pth": zipfile.ZIP_DEFLATED})
    refused(path, "'policy.pth' is 67108864 bytes uncompressed")


def test_weights_too_large_to_act_with_are_refused_at_load(model_file: Path, tmp_path: Path) -> None:
    """±3e38 is finite, but the logits overflow: evaluate and demo crashed on NaN logits."""
    members = members_of(model_file)
    state = torch.load(io.BytesIO(members["policy.pth"]), weights_only=True)
    state["action_net.weight"] = torch.full_like(state["action_net.weight"], 3e38)
    state["action_net.weight"][::2] *= -1
    buffer = io.BytesIO()
    torch.save(state, buffer)
    members["policy.pth"] = buffer.getvalue()
    refused(write_zip(tmp_path / "huge.zip", members), "not finite numbers", "probe observation")


def test_a_model_whose_outputs_turn_non_finite_while_acting_is_a_clear_error(model_file: Path) -> None:
    from cs_tui.training.policy_net import load_policy_net

    net, _ = load_policy_net(model_file)  # what an agent acts with
    with torch.no_grad():
        for parameter in net.network.parameters():
            parameter.fill_(float("nan"))
    agent = ModelAgent("broken", net, META, model_file)
    obs, _ = CustomerSupportEnv().reset(seed=0)
    with pytest.raises(ModelRunError, match="not a finite number"):
        agent(obs)
    with pytest.raises(ModelRunError, match="not a finite number"):
        agent.action_values(np.stack([obs, obs]))


def build_on(module: str, name: str) -> bytes:
    """A pickle that sets ``__call__`` on the global ``module.name`` (BUILD with a slot state), then STOPs."""
    return (
        f"c{module}\n{name}\n".encode()  # GLOBAL: the class itself
        + b"(N}V__call__\ncnumpy\nndarray\nstb."  # (None, {"__call__": numpy.ndarray}) BUILD STOP
    )


def test_a_pickle_that_changes_an_allowed_class_is_refused(model_file: Path, tmp_path: Path) -> None:
    members = members_of(model_file)
    data = json.loads(members["data"])
    allowed = sorted(pickle_globals(base64.b64decode(data["lr_schedule"][":serialized:"])))
    module, name = allowed[-1]
    with pytest.raises(ValueError, match=f"would change {module}.{name}"):
        pickle_globals(build_on(module, name))
    data["lr_schedule"][":serialized:"] = base64.b64encode(build_on(module, name)).decode()
    members["data"] = json.dumps(data).encode()
    refused(write_zip(tmp_path / "mutates.zip", members), "'lr_schedule' is not a well-formed pickle", "would change")


@pytest.mark.parametrize(
    "payload",
    [
        b"cos\nenviron\nVPATH\nV/tmp\ns.",  # SETITEM into a module's dict
        b"csys\npath\nV/tmp\na.",  # APPEND to a module's list
        b"csys\npath\n(V/tmp\ne.",  # APPENDS
        b"cos\nenviron\n(VA\nVB\nu.",  # SETITEMS
        b"cos\nenviron\np0\n0g0\nVX\nVY\ns.",  # through the memo
    ],
)
def test_any_opcode_that_changes_a_global_is_refused(payload: bytes) -> None:
    with pytest.raises(ValueError, match="would change"):
        pickle_globals(payload)


def test_pickles_that_build_new_objects_pass() -> None:
    import collections
    import pickle

    for value in (np.arange(3.0), collections.deque([1, 2], maxlen=5), np.random.default_rng(0), {"a": [1, {2}]}):
        for protocol in (2, 4, 5):
            assert pickle_globals(pickle.dumps(value, protocol=protocol)) is not None


# -- both loaders hold a file to the same rules: the whole algorithm, and the network-only one the CLI and
#    the app act with (the corrupt-file campaign found the network-only one skipped the data member, the
#    optimizer's pickle, symlink members and the description's own fields)


def both_refuse(path: Path, *words: str) -> None:
    """The whole-algorithm loader, the network-only one and the app's numpy one refuse ``path`` naming it and
    ``words`` (the numpy one itself: it does not leave the file to torch)."""
    from cs_tui.training.numpy_policy import load_numpy_policy
    from cs_tui.training.policy_net import load_policy_net

    for load in (load_model, load_policy_net, load_numpy_policy):
        with pytest.raises(ModelLoadError) as caught:
            load(path)
        message = str(caught.value)
        assert str(path) in message and all(word in message for word in words), (load.__name__, message)


def crafted_member(model_file: Path, path: Path, name: str, data: bytes) -> Path:
    return write_zip(path, {**members_of(model_file), name: data})


def test_a_pickle_in_the_data_member_is_refused_by_both_loaders(model_file: Path, tmp_path: Path) -> None:
    data = json.loads(members_of(model_file)["data"])
    evil = base64.b64encode(b"cos\nsystem\n(S'true'\ntR.").decode()  # os.system('true') when unpickled
    data["n_epochs"] = {":type:": "<class 'int'>", ":serialized:": evil}
    both_refuse(crafted_member(model_file, tmp_path / "data.zip", "data", json.dumps(data).encode()), "os.system")


def test_a_data_member_that_is_not_sb3s_is_refused_by_both_loaders(model_file: Path, tmp_path: Path) -> None:
    both_refuse(crafted_member(model_file, tmp_path / "swap.zip", "data", b"- OS: Linux"), "not valid JSON")
    data = json.loads(members_of(model_file)["data"])
    data["__class__"] = 1
    both_refuse(crafted_member(model_file, tmp_path / "key.zip", "data", json.dumps(data).encode()), "'__class__'")


def test_a_pickle_in_the_optimizer_member_is_refused_by_both_loaders(model_file: Path, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"state": print}, buffer)  # a global: a weights-only load refuses it
    both_refuse(crafted_member(model_file, tmp_path / "opt.zip", "policy.optimizer.pth", buffer.getvalue()),
                "policy.optimizer.pth")  # fmt: skip


def test_a_symlink_member_is_refused_by_both_loaders(model_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members_of(model_file).items():
            info = zipfile.ZipInfo(name)
            if name == "system_info.txt":
                info.external_attr = 0o120777 << 16  # a symlink to /etc/passwd once extracted
                data = b"/etc/passwd"
            archive.writestr(info, data)
    both_refuse(path, "'system_info.txt' is a symbolic link")


def test_sb3s_text_members_must_hold_text(model_file: Path, tmp_path: Path) -> None:
    info = members_of(model_file)["system_info.txt"]
    both_refuse(crafted_member(model_file, tmp_path / "v.zip", "_stable_baselines3_version", info), "version number")
    both_refuse(crafted_member(model_file, tmp_path / "s.zip", "system_info.txt", b"\0\1\2"), "not plain text")


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [("trained_by", 1e308, "trained_by"), ("trained_by", "[bold", "trained_by"), ("name", "../../etc", "name"),
     ("n_envs", 0, "n_envs"), ("seed", -1, "seed"),
     ("max_turns", 10**400, "max_turns"), ("versions", {"torch": "[/]"}, "versions"),
     ("industry_digest", "ppo", "industry_digest"), ("eval", {"pct_of_oracle": "[/]"}, "eval"),
     ("hyperparameters", {"policy": {"activation_fn": {"a": 1}}}, "activation_fn"), ("extra", 1, "'extra'")],
)  # fmt: skip
def test_the_descriptions_own_fields_are_checked_by_both_loaders(
    model_file: Path, tmp_path: Path, key: str, value: object, words: str
) -> None:
    meta = json.loads(members_of(model_file)["cs_tui.json"])
    meta[key] = value
    both_refuse(crafted_member(model_file, tmp_path / "m.zip", "cs_tui.json", json.dumps(meta).encode()), words)


def test_a_description_without_its_optional_fields_loads(model_file: Path, tmp_path: Path) -> None:
    from cs_tui.training.policy_net import load_policy_net

    meta = json.loads(members_of(model_file)["cs_tui.json"])
    for key in ("seed", "name", "run", "trained_by", "versions", "hyperparameters", "industry_digest", "eval"):
        meta.pop(key, None)
    path = crafted_member(model_file, tmp_path / "bare.zip", "cs_tui.json", json.dumps(meta).encode())
    assert load_model(path) is not None and load_policy_net(path)[0] is not None


@pytest.mark.parametrize("algorithm", ["ppo", "a2c", "dqn", "recurrent_ppo"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "silu"])
def test_the_data_member_tables_hold_what_sb3_writes(algorithm: str, activation: str) -> None:
    """The data member's rules are tables (no model needed); an SB3 (or sb3-contrib) that writes more than
    they allow fails here."""
    from cs_tui.training.model_file.format import POLICIES
    from cs_tui.training.model_file.pickle_scan import DATA_GLOBALS, SB3_DATA_GLOBALS, SB3_DATA_KEYS
    from cs_tui.training.model_file.writer import torch_classes
    from cs_tui.training.safe_load import model_class

    activations, _ = torch_classes()
    model = model_class(algorithm)(POLICIES[algorithm], CustomerSupportEnv(), device="cpu",
                                   policy_kwargs={"activation_fn": activations[activation]})  # fmt: skip
    buffer = io.BytesIO()
    model.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        data = json.loads(archive.read("data"))
    assert set(data) <= SB3_DATA_KEYS[algorithm], sorted(set(data) - SB3_DATA_KEYS[algorithm])
    found = set().union(*(pickle_globals(base64.b64decode(v[":serialized:"])) for v in data.values()
                          if isinstance(v, dict) and ":serialized:" in v))  # fmt: skip
    assert found <= SB3_DATA_GLOBALS | DATA_GLOBALS, sorted(found - SB3_DATA_GLOBALS - DATA_GLOBALS)


# -- tensors that hold no data (a "meta" tensor: a shape without storage) and optimizer states: one set of
#    rules for the network-only loader and --resume (issue 30 item 8)


def torch_bytes(value: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def test_a_meta_tensor_in_the_weights_is_refused_by_both_loaders(model_file: Path, tmp_path: Path) -> None:
    weights = torch.load(io.BytesIO(members_of(model_file)["policy.pth"]), weights_only=True)
    name = next(iter(weights))
    weights[name] = torch.empty(weights[name].shape, device="meta")
    path = crafted_member(model_file, tmp_path / "meta.zip", "policy.pth", torch_bytes(weights))
    both_refuse(path, "policy.pth", repr(name), "holds no data")


def optimizer_state(model_file: Path, **slots: object) -> dict[str, object]:
    """The file's optimizer state with parameter 0's slots replaced (a fresh model's state holds none)."""
    state = torch.load(io.BytesIO(members_of(model_file)["policy.optimizer.pth"]), weights_only=True)
    state["state"] = {0: {"step": torch.tensor(1.0), **slots}}
    return state


@pytest.mark.parametrize("problem", ["nan_lr", "wrong_shape", "meta_tensor"])
def test_an_optimizer_state_resume_refuses_is_refused_by_the_network_only_loader_too(
    model_file: Path, tmp_path: Path, problem: str
) -> None:
    first = load_model(model_file).policy.optimizer.param_groups[0]["params"][0]
    good = torch.zeros_like(first)
    if problem == "nan_lr":
        state = optimizer_state(model_file, exp_avg=good, exp_avg_sq=good)
        state["param_groups"][0]["lr"] = float("nan")  # type: ignore[index]
        words = ["setting 'lr' has an invalid value nan"]
    elif problem == "wrong_shape":
        state = optimizer_state(model_file, exp_avg=torch.zeros(3, 3), exp_avg_sq=good)
        words = ["'exp_avg'", "has shape (3, 3)"]
    else:
        state = optimizer_state(model_file, exp_avg=torch.empty(first.shape, device="meta"), exp_avg_sq=good)
        words = ["'exp_avg'", "holds no data"]
    path = crafted_member(model_file, tmp_path / "opt.zip", "policy.optimizer.pth", torch_bytes(state))
    both_refuse(path, "policy.optimizer.pth", *words)


def test_a_sound_optimizer_state_with_moments_loads_in_both(model_file: Path, tmp_path: Path) -> None:
    from cs_tui.training.policy_net import load_policy_net

    first = load_model(model_file).policy.optimizer.param_groups[0]["params"][0]
    state = optimizer_state(model_file, exp_avg=torch.zeros_like(first), exp_avg_sq=torch.zeros_like(first))
    path = crafted_member(model_file, tmp_path / "opt.zip", "policy.optimizer.pth", torch_bytes(state))
    load_model(path)
    load_policy_net(path)


def test_the_cli_refuses_a_meta_tensor_with_one_line(model_file: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    weights = torch.load(io.BytesIO(members_of(model_file)["policy.pth"]), weights_only=True)
    weights = {k: torch.empty(v.shape, device="meta") for k, v in weights.items()}
    path = crafted_member(model_file, tmp_path / "meta.zip", "policy.pth", torch_bytes(weights))
    for command in (["evaluate", str(path), "--episodes", "2"], ["demo", "--policy", str(path), "--episodes", "1"]):
        done = subprocess.run([sys.executable, "-m", "cs_tui", *command], capture_output=True, text=True, timeout=300)
        assert done.returncode in (1, 2) and "Traceback" not in done.stderr, done.stderr
        assert "holds no data" in done.stderr and str(path) in done.stderr
