"""The training env: a stable-baselines3 ``VecEnv`` over the customer-support simulator.

``make_training_env`` is what the trainer calls. Two kinds:

- ``dummy``: SB3's ``DummyVecEnv`` of ``Monitor``-wrapped :class:`~cs_env.env.CustomerSupportEnv`\\ s,
  stepped one by one in Python.
- ``batched``: :class:`BatchedVecEnv`, an SB3 ``VecEnv`` over :class:`~cs_env.vector.CustomerSupportVectorEnv`,
  which advances all conversations with array operations. It follows SB3's conventions (same-step
  autoreset with ``terminal_observation``, ``TimeLimit.truncated``, Monitor's ``episode`` stats).

stable-baselines3 (and so torch) is imported inside functions only: importing this module stays cheap,
so the app can import it at start-up. ``BatchedVecEnv`` subclasses SB3's ``VecEnv``, so
:func:`batched_vec_env_class` builds it on first call for the same reason.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

KINDS = ("auto", "batched", "dummy")
#: ``auto`` picks ``batched`` from this many envs on (see :func:`pick_kind`).
AUTO_BATCHED_FROM = 8
#: The batched env's methods that answer with one row per env (``BatchedVecEnv.env_method`` splits them).
PER_ENV_METHODS = frozenset({"action_masks"})


def pick_kind(n_envs: int) -> str:
    """The faster kind for ``n_envs`` envs, as measured by ``benchmarks/sb3_vecenv_fps.py``.

    The batched adapter pays a fixed cost per step (some 200 numpy calls, ~0.17 ms) and little per env;
    ``DummyVecEnv`` pays ~20 us per env. Measured on the 2-core dev box (env steps alone, and A2C/PPO
    training fps): at 4 envs batched is slower (0.60x), at 8 they are even (0.99-1.04x), at 16 batched
    is ahead (env steps 1.9x, A2C 1.2x; PPO's 10 epochs of updates per rollout hide the env: 1.05x).
    So: batched from 8 envs. The rule depends on ``n_envs`` only: for a given n the faster kind was the
    same for both algorithms (the model's cost is the same on either kind).
    """
    return "batched" if n_envs >= AUTO_BATCHED_FROM else "dummy"


def make_training_env(
    industry: str,
    n_envs: int,
    seed: int,
    max_turns: int = 10,
    kind: str = "auto",
    frame_stack: int = 1,
    curriculum: tuple[int, int] | None = None,
) -> VecEnv:
    """An SB3 ``VecEnv`` of ``n_envs`` conversations; the first reset uses seeds ``seed, seed + 1, ...``.

    Args:
        industry: an industry of the catalog, or ``mixed``.
        n_envs: number of parallel conversations.
        seed: base seed (env i starts from ``seed + i``, as SB3's ``VecEnv.seed`` does).
        max_turns: turns before a conversation times out.
        kind: ``dummy``, ``batched`` or ``auto`` (see the module docstring and :func:`pick_kind`).
        frame_stack: observations shown side by side (SB3's ``VecFrameStack``; 1: the observation alone).
        curriculum: ``(total, done)`` steps of the run to meet rare cases early
            (:mod:`cs_tui.training.curriculum`); pinned starts need the single env, so ``dummy``.

    Raises:
        ValueError: an unknown kind or industry, or a bad ``n_envs`` / ``max_turns``.
    """
    from cs_env.env import check_industry, check_max_turns

    if kind not in KINDS:
        raise ValueError(f"unknown vec env kind {kind!r}; valid: {', '.join(KINDS)}")
    if isinstance(n_envs, bool) or not isinstance(n_envs, int | np.integer) or n_envs < 1:
        raise ValueError(f"n_envs must be a positive integer, got {n_envs!r}")
    check_industry(industry)
    check_max_turns(max_turns)
    if kind == "auto":
        kind = "dummy" if curriculum is not None else pick_kind(int(n_envs))
    venv: VecEnv
    if kind == "batched":
        if curriculum is not None:
            raise ValueError("a curriculum pins starts through the single env's reset: use the dummy kind")
        venv = batched_vec_env_class()(int(n_envs), industry=industry, max_turns=max_turns)
    else:
        venv = _make_dummy(industry, int(n_envs), seed, max_turns, curriculum)
    venv.seed(seed)
    return _stacked(venv, frame_stack)


def make_acting_env(industry: str, max_turns: int, frame_stack: int = 1) -> VecEnv:
    """One conversation, as a model built only to act needs it (its spaces: the model's)."""
    return _stacked(_make_dummy(industry, 1, 0, max_turns), frame_stack)


def _stacked(venv: VecEnv, frame_stack: int) -> VecEnv:
    if frame_stack == 1:
        return venv
    from stable_baselines3.common.vec_env import VecFrameStack

    return VecFrameStack(venv, frame_stack)


def _make_dummy(
    industry: str, n_envs: int, seed: int, max_turns: int, curriculum: tuple[int, int] | None = None
) -> VecEnv:
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from cs_env.env import CustomerSupportEnv

    def make_one(i: int) -> Monitor:
        env: Any = CustomerSupportEnv(industry=industry, max_turns=max_turns)
        env.action_space.seed(seed + i)
        if curriculum is not None:
            from cs_tui.training.curriculum import CurriculumEnv

            total, done = curriculum
            env = CurriculumEnv(env, total=total, n_envs=n_envs, seed=seed + i, done=done)
        return Monitor(env)

    return DummyVecEnv([functools.partial(make_one, i) for i in range(n_envs)])


@functools.cache
def batched_vec_env_class() -> type[Any]:
    """The class ``BatchedVecEnv`` (created on first call: it imports stable-baselines3)."""
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

    from cs_env.vector import CustomerSupportVectorEnv

    class BatchedVecEnv(VecEnv):
        """An SB3 ``VecEnv`` over :class:`~cs_env.vector.CustomerSupportVectorEnv`: no Python loop over envs.

        Conventions are SB3's (those of ``DummyVecEnv`` over ``Monitor``-wrapped envs):

        - ``step`` returns ``(obs, rewards, dones, infos)``; an env whose episode ends is reset in the same
          step, and its info holds ``terminal_observation``, ``TimeLimit.truncated`` and Monitor's
          ``episode`` (``r`` return, ``l`` length, ``t`` seconds since creation) together with the single
          env's info fields of the last turn (``outcome``, ``hidden_satisfaction``, ``reward_satisfaction``, ...).
          Envs that go on get an empty dict: building 16 or 4,096 dicts per step would cost more than the
          step. The full batched info of the last step is in :attr:`last_info`.
        - Seeding: ``seed(s)`` makes the next ``reset()`` start env i as ``CustomerSupportEnv().reset(seed=s + i)``
          would, so both kinds start from the same customers.
        - Attributes are shared by all envs: ``get_attr`` returns the batched env's attribute once per index,
          ``set_attr`` sets it for all (a subset is refused), ``env_method`` calls the batched env's method
          once and returns its result once per index, except for the methods whose result has one row
          per env (``action_masks``, which sb3-contrib's MaskablePPO calls): env i gets its row.
        """

        def __init__(self, num_envs: int, industry: str = "mixed", max_turns: int = 10) -> None:
            self.venv = CustomerSupportVectorEnv(
                num_envs, industry=industry, max_turns=max_turns, autoreset_mode="same_step"
            )
            super().__init__(num_envs, self.venv.single_observation_space, self.venv.single_action_space)
            self._actions: np.ndarray | None = None
            self._returns = np.zeros(num_envs)
            self._lengths = np.zeros(num_envs, dtype=np.int64)
            self._t_start = time.time()
            #: The batched env's info dict of the last step (arrays over all envs).
            self.last_info: dict[str, Any] = {}

        def reset(self) -> VecEnvObs:
            if any(self._options):
                raise ValueError("the batched env takes no reset options; use kind='dummy' for pinned starts")
            seeds = None if self._seeds[0] is None else [int(s) for s in self._seeds]  # type: ignore[arg-type]
            obs, self.last_info = self.venv.reset(seed=seeds)
            self._returns[:] = 0.0
            self._lengths[:] = 0
            self._reset_seeds()
            self._reset_options()
            return np.ascontiguousarray(obs)  # row-major, as DummyVecEnv stacks them

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = actions

        def step_wait(self) -> VecEnvStepReturn:
            if self._actions is None:
                raise RuntimeError("step_wait() called without step_async(actions)")
            actions, self._actions = self._actions, None
            obs, reward, terminated, truncated, info = self.venv.step(actions)
            self.last_info = info
            self._returns += reward
            self._lengths += 1
            dones = terminated | truncated
            infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
            if dones.any():
                self._fill_final_infos(infos, np.flatnonzero(dones), terminated, truncated, info)
            return np.ascontiguousarray(obs), reward.astype(np.float32), dones, infos

        def _fill_final_infos(
            self,
            infos: list[dict[str, Any]],
            ended: np.ndarray,
            terminated: np.ndarray,
            truncated: np.ndarray,
            info: dict[str, Any],
        ) -> None:
            # one fancy index + tolist per field, then dicts only for the envs that ended
            final = info["final_info"]
            names = [k for k in final if not k.startswith("_")]  # not the masks
            columns = [final[k][ended].tolist() for k in names]
            returns = np.round(self._returns[ended], 6).tolist()
            lengths = self._lengths[ended].tolist()
            time_limit = (truncated[ended] & ~terminated[ended]).tolist()
            elapsed = round(time.time() - self._t_start, 6)
            final_obs = info["final_obs"]
            for j, i in enumerate(ended.tolist()):
                row = infos[i]
                for name, column in zip(names, columns, strict=True):
                    row[name] = column[j]
                row["episode"] = {"r": returns[j], "l": lengths[j], "t": elapsed}
                row["TimeLimit.truncated"] = time_limit[j]
                row["terminal_observation"] = final_obs[i]
            self._returns[ended] = 0.0
            self._lengths[ended] = 0

        def close(self) -> None:
            self.venv.close()

        def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
            value = getattr(self.venv, attr_name)
            return [value for _ in self._get_indices(indices)]

        def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
            if indices is not None and sorted(self._get_indices(indices)) != list(range(self.num_envs)):
                raise ValueError(
                    f"the batched env's attributes are shared by all {self.num_envs} envs: "
                    f"set_attr({attr_name!r}) works on all envs only (indices=None)"
                )
            setattr(self.venv, attr_name, value)

        def env_method(
            self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
        ) -> list[Any]:
            result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
            if method_name in PER_ENV_METHODS:
                return [result[i] for i in self._get_indices(indices)]
            return [result for _ in self._get_indices(indices)]

        def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
            # the adapter records Monitor's episode stats itself, so code that checks for Monitor
            # (evaluate_policy) may trust info["episode"]
            wrapped = wrapper_class is Monitor
            return [wrapped for _ in self._get_indices(indices)]

        def get_images(self) -> list[np.ndarray | None]:
            return [None for _ in range(self.num_envs)]

    return BatchedVecEnv
