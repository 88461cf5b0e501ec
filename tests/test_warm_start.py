"""``cs-tui train --warm-start baseline:NAME``: behaviour cloning from a baseline, then reinforcement learning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cs_env.evaluate import rollout
from cs_env.policies import HeuristicPolicy
from cs_tui.cli import main
from cs_tui.training import trainer, warm_start
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


def test_a_warm_started_run_imitates_its_source_and_records_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm_start, "WARM_START_EPISODES", 600)
    runs = {}
    for name, source in (("warm", "baseline:heuristic"), ("cold", None)):
        options = trainer.TrainOptions(
            algorithm="ppo", timesteps=2048, saves=tmp_path, name=name, warm_start=source, **FAST
        )
        result = trainer.train(options)
        assert result.status == "finished"
        runs[name] = result.run
    meta = Run(tmp_path / "warm").meta
    assert meta["warm_start"]["source"] == "baseline:heuristic" and meta["warm_start"]["agreement"] > 0.8
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
