"""`cs-tui test`: the scenario catalog as a CI gate — exit status, JSON, JUnit XML, thresholds, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from cs_env import CustomerSupportEnv
from cs_env.scenarios import load_scenarios
from cs_tui.cli import main

LENIENT = "k = 2\n[overall]\nmin_pass_rate = 0.0\n"
HARSH = "k = 2\n[overall]\nmin_pass_rate = 0.99\nmin_pass_hat_k = 0.99\n"


def thresholds(tmp_path: Path, text: str, name: str = "thresholds.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_exit_status_follows_the_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["test", "--policy", "baseline:heuristic", "--trials", "4"]
    assert main([*base, "--thresholds", thresholds(tmp_path, LENIENT)]) == 0
    assert "all thresholds met" in capsys.readouterr().out
    assert main([*base, "--thresholds", thresholds(tmp_path, HARSH, "harsh.toml")]) == 1
    out = capsys.readouterr().out
    assert "FAILED thresholds" in out and "overall: pass rate" in out and "below 99%" in out


def test_shipped_thresholds_pass_the_oracle_and_fail_random_and_the_heuristic(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["test", "--policy", "baseline:oracle", "--trials", "8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["passed"] is True
    assert main(["test", "--policy", "baseline:random", "--trials", "8", "--json"]) == 1
    assert main(["test", "--policy", "baseline:heuristic", "--trials", "8", "--json"]) == 1


def test_json_lists_every_scenario_with_replayable_records(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "--policy", "baseline:random", "--trials", "4", "--seed", "7", "--json"]) in (0, 1)
    data = json.loads(capsys.readouterr().out)
    catalog = {s.name: s for s in load_scenarios()}
    assert [s["scenario"] for s in data["scenarios"]] == list(catalog)
    assert data["k"] == 4 and data["trials"] == 4 and data["passed"] == (not data["missed"])
    first = data["scenarios"][0]
    assert first["pass_rate"] == first["passes"] / 4
    record = first["records"][1]
    assert record["seed"] == 8
    env = CustomerSupportEnv(first["industry"])
    env.reset(seed=record["seed"], options=first["options"])
    rewards = [env.step(a)[1] for a in record["actions"]]
    assert rewards == record["rewards"]


def test_industry_filter_runs_only_that_industrys_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "--policy", "baseline:heuristic", "--trials", "4", "--industry", "tech", "--json"]) in (0, 1)
    data = json.loads(capsys.readouterr().out)
    assert {s["industry"] for s in data["scenarios"]} == {"tech"} and len(data["scenarios"]) >= 4


def test_junit_report_is_valid_xml_with_a_case_per_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    strict = thresholds(
        tmp_path, "k = 2\n[overall]\nmin_pass_rate = 0.0\n[scenarios.urgent_fraud]\nmin_pass_rate = 1.0\n"
    )
    junit = tmp_path / "reports" / "scenarios.xml"
    junit.parent.mkdir()
    code = main(["test", "--policy", "baseline:random", "--trials", "4", "--thresholds", strict, "--junit", str(junit)])
    assert code == 1  # random does not hand urgent fraud over at once four times out of four
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [s.name for s in load_scenarios()] + ["overall_thresholds"]
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["urgent_fraud"] and suite.get("failures") == "1" and suite.get("tests") == str(len(cases))
    fraud = next(c for c in cases if c.get("name") == "urgent_fraud")
    assert fraud.get("classname") == "scenarios.bfsi"
    assert "seed 0:" in (fraud.findtext("system-out") or "")
    assert sorted(p.name for p in junit.parent.iterdir()) == ["scenarios.xml"]  # no temp file left behind
    # written again over the old file: still one complete file
    assert (
        main(["test", "--policy", "baseline:oracle", "--trials", "4", "--thresholds", strict, "--junit", str(junit)])
        == 0
    )
    assert ET.parse(junit).getroot().get("failures") == "0"
    capsys.readouterr()


def test_junit_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "ci" / "junit.xml"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "report.xml"
    link.symlink_to(target)
    assert main(["test", "--policy", "baseline:oracle", "--trials", "2", "--k", "2", "--junit", str(link)]) in (0, 1)
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert ET.parse(target).getroot().tag == "testsuite"
    dangling = tmp_path / "new.xml"
    dangling.symlink_to(tmp_path / "ci" / "fresh.xml")  # a link to a file not written yet
    quick = ["test", "--policy", "baseline:oracle", "--trials", "2", "--k", "2"]
    assert main([*quick, "--junit", str(dangling)]) in (0, 1)
    assert dangling.is_symlink() and ET.parse(tmp_path / "ci" / "fresh.xml").getroot().tag == "testsuite"


def test_junit_to_a_fifo_is_streamed_not_replaced(tmp_path: Path) -> None:
    """As ``--junit /dev/stdout`` in CI: the report goes to what is there, which stays what it was."""
    import os
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert main(["test", "--policy", "baseline:oracle", "--trials", "2", "--k", "2", "--junit", str(fifo)]) in (0, 1)
    reader.join(10)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert ET.fromstring(received[0]).tag == "testsuite"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_junit_to_a_folder_or_an_unwritable_path_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", "--policy", "baseline:oracle", "--trials", "2", "--k", "2", "--junit", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--junit {tmp_path} is a folder" in err and "Traceback" not in err
    blocker = tmp_path / "file.txt"
    blocker.write_text("", encoding="utf-8")
    quick = ["test", "--policy", "baseline:oracle", "--trials", "2", "--k", "2"]
    assert main([*quick, "--junit", f"{blocker}/r.xml"]) == 2
    err = capsys.readouterr().err
    assert f"--junit {blocker}/r.xml: Not a directory" in err and "Traceback" not in err


def test_k_beyond_trials_and_bad_thresholds_files_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", "--policy", "baseline:heuristic", "--trials", "2", "--k", "3"]) == 2
    assert "pass^3 needs at least 3 trials; got --trials 2" in capsys.readouterr().err
    assert main(["test", "--policy", "baseline:heuristic", "--trials", "2"]) == 2  # the shipped k is 4
    assert "raise --trials or lower --k" in capsys.readouterr().err
    bad = thresholds(tmp_path, "[overall]\nmin_pass_rate = 2\n")
    assert main(["test", "--policy", "baseline:heuristic", "--thresholds", bad]) == 2
    err = capsys.readouterr().err
    assert bad in err and "overall.min_pass_rate" in err and "outside [0.0, 1.0]" in err
    missing = str(tmp_path / "none.toml")
    assert main(["test", "--policy", "baseline:heuristic", "--thresholds", missing]) == 2
    assert missing in capsys.readouterr().err


def test_missing_default_agent_says_how_to_pick_a_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--saves", str(tmp_path), "test", "--trials", "4"]) == 2
    err = capsys.readouterr().err
    assert "the default agent 'default' is not in" in err and "--policy baseline:heuristic" in err


def test_unknown_flag_or_industry_exits_2() -> None:
    for argv in (["test", "--trails", "3"], ["test", "--industry", "health"], ["test", "--trials", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2


def test_exit_status_reaches_the_shell(tmp_path: Path) -> None:
    harsh = thresholds(tmp_path, HARSH)
    command = [sys.executable, "-m", "cs_tui", "test", "--policy", "baseline:heuristic", "--trials", "2"]
    failed = subprocess.run([*command, "--thresholds", harsh], capture_output=True, text=True, check=False)
    assert failed.returncode == 1, failed.stderr
    passed = subprocess.run(
        [*command, "--thresholds", thresholds(tmp_path, LENIENT, "ok.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert passed.returncode == 0, passed.stderr
    assert "Traceback" not in failed.stderr + passed.stderr


def test_a_saved_model_runs_its_own_industrys_scenarios(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch
    from stable_baselines3 import PPO

    from cs_tui.training.model_file.writer import save_model

    torch.set_num_threads(1)
    model = PPO("MlpPolicy", CustomerSupportEnv("retail"), n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    (tmp_path / "shop").mkdir()
    save_model(model, tmp_path / "shop" / "model.zip", {"industry": "retail", "max_turns": 10})
    lenient = thresholds(tmp_path, LENIENT)
    argv = ["--saves", str(tmp_path), "test", "--policy", "shop", "--trials", "4", "--thresholds", lenient, "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["policy"] == "shop"
    assert {s["industry"] for s in data["scenarios"]} == {"retail"}
    for scenario in data["scenarios"]:
        for record in scenario["records"]:
            assert all(0 <= a < 8 for a in record["actions"]) and record["turns"] == len(record["actions"])
