"""The simulator core stays pure: importing it pulls in no UI, no torch, no training glue."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("textual", "rich", "torch", "stable_baselines3", "cs_tui")


def test_importing_cs_env_and_making_an_env_loads_no_ui_or_torch() -> None:
    code = (
        "import sys, gymnasium as gym, cs_env\n"
        "from cs_env import evaluate, policies\n"
        "env = gym.make('cs_env/CustomerSupport-v1'); env.reset(seed=0); env.step(0)\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_module_form_of_the_id_works_without_importing_cs_env_first() -> None:
    code = (
        "import sys, gymnasium as gym\n"
        "assert 'cs_env' not in sys.modules\n"
        "env = gym.make('cs_env:cs_env/CustomerSupport-v1', industry='tech')\n"
        "obs, info = env.reset(seed=3)\n"
        "print(env.unwrapped.named_info(info)['industry'], env.unwrapped.max_turns)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["tech", "10"]
