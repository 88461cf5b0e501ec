"""``cs-tui train --curriculum``: rare cases early in training, pinned through the env's own reset options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cs_env.env import CustomerSupportEnv
from cs_tui.cli import main
from cs_tui.training import curriculum
from cs_tui.training.curriculum import CurriculumEnv, rare_case, share
from cs_tui.training.runs import Run


def test_the_share_of_rare_cases_falls_to_none_halfway() -> None:
    assert share(0.0) == curriculum.START_SHARE
    assert share(curriculum.UNTIL / 2) == pytest.approx(curriculum.START_SHARE / 2)
    assert share(curriculum.UNTIL) == 0.0 and share(1.0) == 0.0


def test_every_rare_case_is_a_start_the_env_accepts_and_each_trait_occurs() -> None:
    rng = np.random.default_rng(0)
    env = CustomerSupportEnv()
    seen: dict[str, int] = {}
    for i in range(500):
        options = rare_case(rng)
        env.reset(seed=i, options=options)  # refused options would raise here
        for key, value in options.items():
            seen[f"{key}={value}"] = seen.get(f"{key}={value}", 0) + 1
    for _, trait in curriculum.RARE_TRAITS:
        for key, values in trait.items():
            assert any(seen.get(f"{key}={v}") for v in values), key


def test_early_conversations_are_rare_cases_and_late_ones_are_not() -> None:
    """Specialist cases are 11 % of customers; early in a curriculum far more, late in it as usual."""
    env = CurriculumEnv(CustomerSupportEnv(), total=10_000_000, n_envs=1, seed=0)

    def specialist_share(conversations: int) -> float:
        hits = 0
        for _ in range(conversations):
            env.reset()
            hits += bool(env.unwrapped.hidden_state.needs_specialist)  # type: ignore[attr-defined]
            done = False
            while not done:
                *_, terminated, truncated, _ = env.step(0)
                done = terminated or truncated
        return hits / conversations

    early = specialist_share(1000)  # about half rare cases, a third of which need a specialist: ~0.23
    env.steps = 10_000_000  # past the curriculum
    pinned = env.pinned
    late = specialist_share(600)
    assert early > 0.19 and late < 0.16 and env.pinned == pinned


@pytest.mark.heavy
def test_a_curriculum_run_records_it_resumes_with_it_and_refuses_it_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saves = ["--saves", str(tmp_path)]
    quick = ["--timesteps", "1", "--n-envs", "4", "--eval-every", "512", "--eval-episodes", "100",
             "--reference-episodes", "100", "--quiet"]  # fmt: skip
    assert main([*saves, "train", "--curriculum", "--name", "c", *quick]) == 0
    assert Run(tmp_path / "c").meta["curriculum"] is True
    assert main([*saves, "train", "--resume", "c", "--timesteps", "1024", "--quiet"]) == 0
    assert Run(tmp_path / "c").meta["timesteps_done"] == 1024 and Run(tmp_path / "c").meta["curriculum"] is True
    capsys.readouterr()
    assert main([*saves, "train", "--resume", "c", "--timesteps", "2048", "--curriculum"]) == 2
    assert "drop --curriculum" in capsys.readouterr().err
