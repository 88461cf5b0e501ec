"""The TOML data files (industries, scenarios, thresholds, hyperparameters, search spaces) under hostile
content: nested ``a = [[[…]]]`` past Python's recursion limit, a FIFO where a file should be, a 400-digit
number. Each is one line naming the file (exit status 2 at the command line), never a traceback or a
process that waits forever (issue 30 items 9 and 13)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli

import cs_env.industries as industries
import cs_env.scenarios as scenarios
from cs_env.industries import IndustryDataError, load_catalog
from cs_env.scenarios import ScenarioDataError, load_scenarios, load_thresholds
from cs_tui.cli import main
from cs_tui.training.hyperparams_file import read_hyperparams
from cs_tui.training.options import load_defaults
from cs_tui.training.search_space import load_search_space

DEEP = 100_000  # past Python's recursion limit: tomllib raised RecursionError
NESTED = "a = " + "[" * DEEP + "]" * DEEP + "\n"


def finishes(call: Callable[[], Any], fifo: Path | None = None, ceiling: float = 120.0) -> BaseException | None:
    """Run ``call`` in a thread; what it raised (None if nothing). Fails if it is still waiting after a
    generous ceiling (a FIFO opened for reading blocks until a writer comes: then one comes, so that the
    thread can end)."""
    caught: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the test to inspect
            caught.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(ceiling)
    if thread.is_alive():
        if fifo is not None:  # let the blocked reader go
            os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))
        pytest.fail(f"still waiting after {ceiling:.0f} s (a FIFO read blocks forever)")
    return caught[0] if caught else None


def copy_of(folder: Path, into: Path, skip: str = "") -> Path:
    into.mkdir()
    for path in folder.glob("*.toml"):
        if path.name != skip:
            (into / path.name).write_bytes(path.read_bytes())
    return into


def one_line_naming(exc: BaseException | None, path: Path, kind: type[BaseException] = ValueError) -> str:
    assert isinstance(exc, kind), f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert str(path) in message and "\n" not in message
    return message


# -- each reader -------------------------------------------------------------------------------


def test_a_deeply_nested_industry_file_is_named(tmp_path: Path) -> None:
    folder = copy_of(industries.INDUSTRY_DIR, tmp_path / "ind")
    (folder / "tech.toml").write_text(NESTED)
    message = one_line_naming(finishes(lambda: load_catalog(folder)), folder / "tech.toml", IndustryDataError)
    assert "nested more than" in message


def test_a_fifo_among_the_industry_files_is_refused_at_once(tmp_path: Path) -> None:
    folder = copy_of(industries.INDUSTRY_DIR, tmp_path / "ind")
    os.mkfifo(folder / "telecom.toml")
    message = one_line_naming(
        finishes(lambda: load_catalog(folder), fifo=folder / "telecom.toml"), folder / "telecom.toml", IndustryDataError
    )
    assert "FIFO" in message


def test_an_industry_number_of_400_digits_is_refused_naming_the_key(tmp_path: Path) -> None:
    folder = copy_of(industries.INDUSTRY_DIR, tmp_path / "ind")
    text = (folder / "tech.toml").read_text()
    (folder / "tech.toml").write_text(text.replace("complexity = ", "complexity = 1" + "0" * 400 + " # ", 1))
    message = one_line_naming(finishes(lambda: load_catalog(folder)), folder / "tech.toml", IndustryDataError)
    assert ".complexity'" in message


def test_a_scenario_pinning_a_400_digit_trait_is_refused_naming_the_key(tmp_path: Path) -> None:
    folder = copy_of(scenarios.SCENARIO_DIR, tmp_path / "sc")
    path = next(p for p in sorted(folder.glob("*.toml")) if "start = {" in p.read_text())
    path.write_text(path.read_text().replace("start = {", "start = { openness = 1" + "0" * 400 + ",", 1))
    message = one_line_naming(finishes(lambda: load_scenarios(folder)), path, ScenarioDataError)
    assert "'openness' must be a number in [0, 1]" in message


def test_a_deeply_nested_or_fifo_scenario_file_is_named(tmp_path: Path) -> None:
    folder = copy_of(scenarios.SCENARIO_DIR, tmp_path / "deep")
    (folder / "zz.toml").write_text(NESTED)
    one_line_naming(finishes(lambda: load_scenarios(folder)), folder / "zz.toml", ScenarioDataError)
    folder = copy_of(scenarios.SCENARIO_DIR, tmp_path / "fifo")
    os.mkfifo(folder / "zz.toml")
    one_line_naming(
        finishes(lambda: load_scenarios(folder), fifo=folder / "zz.toml"), folder / "zz.toml", ScenarioDataError
    )


@pytest.mark.parametrize("reader", ["thresholds", "hyperparams", "search space", "defaults"])
def test_every_other_toml_reader_names_a_nested_file_and_a_fifo(tmp_path: Path, reader: str) -> None:
    read: Callable[[Path], Any] = {
        "thresholds": lambda p: load_thresholds(p),
        "hyperparams": read_hyperparams,
        "search space": load_search_space,
        "defaults": load_defaults,
    }[reader]
    deep = tmp_path / "deep.toml"
    deep.write_text(NESTED)
    assert "nested more than" in one_line_naming(finishes(lambda: read(deep)), deep)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert "FIFO" in one_line_naming(finishes(lambda: read(fifo), fifo=fifo), fifo)


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def fifo_industry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shipped industry files plus a FIFO named telecom.toml, as the catalog every command loads."""
    folder = copy_of(industries.INDUSTRY_DIR, tmp_path / "ind")
    fifo = folder / "telecom.toml"
    os.mkfifo(fifo)
    monkeypatch.setattr(industries.load_catalog, "__defaults__", (folder,))
    industries.default_catalog.cache_clear()
    yield fifo
    monkeypatch.undo()
    industries.default_catalog.cache_clear()


def test_a_fifo_industry_file_hangs_no_command(fifo_industry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exited = finishes(lambda: main(["--help"]), fifo=fifo_industry)
    assert isinstance(exited, SystemExit) and exited.code == 0  # help has its say
    assert "usage: cs-tui" in capsys.readouterr().out
    results: list[tuple[int, str]] = []
    assert finishes(lambda: results.append(run_cli(capsys, "evaluate", "baseline:random")), fifo=fifo_industry) is None
    code, err = results[0]
    assert code == 2 and str(fifo_industry) in err and "FIFO" in err and "Traceback" not in err


def test_a_fifo_scenario_file_is_a_usage_error_for_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_of(scenarios.SCENARIO_DIR, tmp_path / "sc")
    os.mkfifo(folder / "zz.toml")
    monkeypatch.setattr(scenarios, "SCENARIO_DIR", folder)
    results: list[tuple[int, str]] = []
    finishes(lambda: results.append(run_cli(capsys, "test", "--policy", "baseline:random")), fifo=folder / "zz.toml")
    code, err = results[0]
    assert code == 2 and str(folder / "zz.toml") in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["test", "--policy", "baseline:random", "--thresholds", "{file}"],
        ["train", "--hyperparams", "{file}", "--timesteps", "256"],
        ["tune", "--study", "s", "--trials", "1", "--search-space", "{file}"],
    ],
    ids=["--thresholds", "--hyperparams", "--search-space"],
)
def test_a_nested_toml_option_file_is_a_one_line_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text(NESTED)
    code, err = run_cli(capsys, "--saves", str(tmp_path / "saves"), *(a.replace("{file}", str(deep)) for a in argv))
    assert code == 2 and str(deep) in err and "nested more than" in err
    lines = err.strip().splitlines()  # the error, after the command's usage line where argparse gives one
    assert "Traceback" not in err and len(lines) <= 2 and str(deep) in lines[-1]
    assert not (tmp_path / "saves").exists() or not any((tmp_path / "saves").iterdir())  # refused before any run
