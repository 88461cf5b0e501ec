"""A curriculum of rare cases: ``cs-tui train --curriculum`` meets them more often early in training.

The right action for a rare customer (a case only a specialist can solve, a furious VIP, a customer about
to give up) is rarely tried, so rarely learned. With the curriculum, a share of the new conversations
early in a run are rare cases, pinned through the env's own ``reset(options=...)``: at the start
``START_SHARE`` of them, falling linearly to none at ``UNTIL`` of the run's steps; the rest of the run
meets customers as they come. A rare case pins each rare trait below with probability ``TRAIT_CHANCE``
(at least one), so that they also meet in combination; among them are hard cases the frontline can
solve, so that "hard" is not learned as "escalate". The scenario catalog's starts are not used: the
curriculum must not train for the test.

numpy and gymnasium only: the wrapper runs inside SB3's ``DummyVecEnv``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

#: the share of new conversations that are rare cases at step 0
START_SHARE = 0.5
#: the fraction of the run's steps after which no conversation is pinned any more
UNTIL = 0.5
#: the chance that a rare case has each rare trait
TRAIT_CHANCE = 0.35
#: rare traits: a name and the reset options it pins (drawn from the values given)
RARE_TRAITS: tuple[tuple[str, dict[str, tuple[Any, ...]]], ...] = (
    ("needs a specialist", {"needs_specialist": (True,)}),
    ("hard but solvable", {"needs_specialist": (False,), "complexity": (0.8, 0.9, 1.0)}),
    ("angry", {"sentiment": ("angry",)}),
    ("vip", {"tier": ("vip",)}),
    ("urgent", {"urgency": (4,)}),
    ("novice", {"savvy": (0.0, 0.1, 0.2)}),
    ("expert", {"savvy": (0.8, 0.9, 1.0)}),
    ("impatient", {"patience": (0.1, 0.2, 0.3)}),
)


def share(progress: float) -> float:
    """The share of new conversations that are rare cases at ``progress`` (0 to 1) of the run."""
    return START_SHARE * max(0.0, 1.0 - progress / UNTIL)


def rare_case(rng: np.random.Generator) -> dict[str, Any]:
    """The reset options of one rare case: each trait with ``TRAIT_CHANCE``, at least one."""
    chosen = [i for i in range(len(RARE_TRAITS)) if rng.random() < TRAIT_CHANCE]
    if not chosen:
        chosen = [int(rng.integers(len(RARE_TRAITS)))]
    options: dict[str, Any] = {}
    for i in chosen:
        for key, values in RARE_TRAITS[i][1].items():
            if key == "needs_specialist" and key in options:
                continue  # "needs a specialist" and "hard but solvable" drawn together: the first stays
            options[key] = values[int(rng.integers(len(values)))]
    return options


class CurriculumEnv(gym.Wrapper[Any, Any, Any, Any]):
    """Starts each new conversation as a rare case with the chance :func:`share` gives at this point.

    ``progress`` is counted from the steps this env has taken: with ``n_envs`` envs stepped together,
    ``steps * n_envs`` of the run's ``total`` steps (plus ``done`` when a run resumes).
    """

    def __init__(self, env: gym.Env[Any, Any], *, total: int, n_envs: int, seed: int, done: int = 0) -> None:
        super().__init__(env)
        self.total = max(1, int(total))
        self.n_envs = int(n_envs)
        self.steps = int(done) // max(1, self.n_envs)
        self.rng = np.random.default_rng([seed, 0x5EED])
        self.pinned = 0  # rare cases started so far (the tests read it)

    @property
    def progress(self) -> float:
        return min(1.0, self.steps * self.n_envs / self.total)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if options is None and self.rng.random() < share(self.progress):
            options = rare_case(self.rng)
            self.pinned += 1
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> Any:
        self.steps += 1
        return self.env.step(action)
