"""Bad input and broken data at the command line: a clear message and exit status 2, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from cli_helpers import run_cli

import cs_env.industries as industries
from cs_env.env import CustomerSupportEnv
from cs_env.industries import IndustryDataError, load_catalog
from cs_env.vector import CustomerSupportVectorEnv
from cs_tui.cli import main
from cs_tui.training import trainer
from cs_tui.training.options import TrainingError, TrainOptions


@pytest.mark.parametrize(
    ("argv", "limit"),
    [
        (["evaluate", "baseline:random", "--episodes", "99999999999999999999"], "at most 20,000"),
        (["evaluate", "baseline:random", "--episodes", "10000000000"], "at most 20,000"),
        (["test", "--policy", "baseline:random", "--trials", "99999999999"], "at most 10,000"),
        (["demo", "--policy", "baseline:random", "--episodes", "99999999999"], "at most 10,000"),
    ],
)
def test_huge_counts_are_usage_errors_that_say_the_limit(
    capsys: pytest.CaptureFixture[str], argv: list[str], limit: str
) -> None:
    code, err = run_cli(capsys, *argv)
    assert code == 2 and limit in err and "Traceback" not in err


@pytest.fixture
def broken_industries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shipped industry files plus one malformed file, as the catalog every command loads."""
    for path in industries.INDUSTRY_DIR.glob("*.toml"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    bad = tmp_path / "telecom.toml"
    bad.write_text("title = 'Telecom'\n[tiers\n", encoding="utf-8")
    monkeypatch.setattr(industries.load_catalog, "__defaults__", (tmp_path,))
    industries.default_catalog.cache_clear()
    yield bad
    monkeypatch.undo()
    industries.default_catalog.cache_clear()


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "baseline:random", "--episodes", "2"],
        ["test", "--policy", "baseline:random"],
        ["demo", "--policy", "baseline:random"],
        ["train", "--timesteps", "10"],
    ],
)
def test_a_malformed_industry_file_is_named_with_exit_2_on_every_command(
    broken_industries: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, err = run_cli(capsys, *argv)
    assert code == 2 and str(broken_industries) in err and "cannot be read as TOML" in err
    assert "Traceback" not in err


def test_help_still_works_with_a_malformed_industry_file(
    broken_industries: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["--help"], ["train", "--help"], ["evaluate", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
        assert "usage: cs-tui" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["mixed", "Bad-Name"])
def test_an_industry_file_may_not_take_a_reserved_or_odd_name(tmp_path: Path, name: str) -> None:
    for path in industries.INDUSTRY_DIR.glob("*.toml"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "bfsi.toml").rename(tmp_path / f"{name}.toml")
    with pytest.raises(IndustryDataError, match=f"{name}.toml"):
        load_catalog(tmp_path)


def test_a_run_name_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="invalid run name"):
        trainer.train(TrainOptions(name="trail\n", saves=tmp_path, timesteps=10))
    assert not list(tmp_path.iterdir())


def test_the_batched_env_refuses_float_seeds_as_the_single_env_does() -> None:
    with pytest.raises(ValueError, match="seeds must be integers"):
        CustomerSupportVectorEnv(2).reset(seed=[0.9, 1])
    with pytest.raises(gym.error.Error, match="Seed must be a python integer"):
        CustomerSupportEnv().reset(seed=0.9)  # type: ignore[arg-type]


def test_reset_options_take_numpy_numbers_and_flags() -> None:
    env = CustomerSupportEnv("bfsi")
    plain = env.reset(seed=3, options={"complexity": 0.5, "needs_specialist": True})[0]
    numpy = env.reset(seed=3, options={"complexity": np.float32(0.5), "needs_specialist": np.bool_(True)})[0]
    assert np.array_equal(plain, numpy)
    with pytest.raises(ValueError, match="must be a number"):
        env.reset(seed=3, options={"complexity": np.bool_(True)})
