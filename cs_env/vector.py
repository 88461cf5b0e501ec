"""Thousands of conversations per numpy call: the batched face of the customer model."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from cs_env.customer import (
    CUSTOMER_DRAWS,
    ONGOING,
    PRODUCT_RECOMMEND,
    TIMEOUT,
    TURN_DRAWS,
    UPSELL,
    CustomerState,
    Tables,
    new_customers,
)
from cs_env.domain import N_STRATEGIES, STRATEGY_NAMES
from cs_env.dynamics import DYNAMICS
from cs_env.env import (
    ARRIVAL_BLOCK,
    DEFAULT_MAX_TURNS,
    OBS_NAMES,
    REWARD_KEYS,
    Exchange,
    TurnRecord,
    check_industry,
    check_max_turns,
    conversation_in_words,
    info_names,
    named_info,
    observation_space,
)
from cs_env.industries import Catalog, default_catalog
from cs_env.turn import BatchTurn

if TYPE_CHECKING:
    from cs_env.narrate import Line

#: New customers are drawn up to this many at a time (four per env, at least 4,096): enough to spread the
#: per-call cost of numpy (at 4,096 envs a block of 16,384 makes a step 8% faster than one of 4,096),
#: few enough that the temporaries stay in cache (32,768 is slower again).
ARRIVALS_PER_DRAW = 16384
_TWO_TO_MINUS_24 = np.float32(2.0**-24)
_UNIFORMS_AT_ONCE = 65536  # more uniform numbers than this are drawn row by row
_PER_STRATEGY_FIELDS = ("potential", "reaction")  # (n, 8) float32
_FIELDS = tuple(name for name in CustomerState.__slots__ if name not in _PER_STRATEGY_FIELDS)
_ROW = np.dtype((np.void, N_STRATEGIES * 4))
OBS_SENTIMENT = OBS_NAMES.index("sentiment")
#: the info's keys (and its reward components'), each handed out with its mask ``_key``
_INFO_KEYS: tuple[str, ...] = ("hidden_satisfaction", "sentiment", "tier", "industry", "inquiry_type", "outcome")
_INFO_KEYS += (*REWARD_KEYS, "hidden_offer_sold")
_N_MASKS = len(_INFO_KEYS)


class CustomerSupportVectorEnv(VectorEnv):
    """``num_envs`` conversations advanced together by array operations (no Python loop over envs).

    The rules are those of :class:`~cs_env.env.CustomerSupportEnv`: customers are drawn by
    :func:`cs_env.customer.new_customers`, and turns are played by :class:`cs_env.turn.BatchTurn`, which
    in float64 plays exactly as the single env's :func:`~cs_env.turn.play_turn`, so the two envs are
    statistically indistinguishable; spaces and info keys match the single env's, batched. The batch
    is computed in float32 (half the memory traffic of float64); rewards, their components and
    ``info["hidden_satisfaction"]`` are handed out in float64.

    Autoreset: ``"next_step"`` (Gymnasium's default, as its ``CartPoleVectorEnv``): the step after an
    episode ends resets that env, ignoring its action and returning reward 0. ``"same_step"``: the
    ended env is reset within the same step; the last observation and info of the finished episode
    are in ``info["final_obs"]`` and ``info["final_info"]``, marked by ``info["_final_obs"]``.

    Info: Gymnasium's vector convention, as ``SyncVectorEnv`` gives it: every key (also each reward
    component) is an array over the envs paired with a boolean mask ``_key`` of the envs that have it
    (every env, every step; in ``final_info``, the envs that ended). The keys and dtypes are the single
    env's: int64 codes (``outcome`` is 0, ``ongoing``, for a conversation that goes on), float64 numbers;
    ``named_info`` names the codes.

    Rendering: ``render_mode="rgb_array"`` (``gym.make_vec(ID, n, render_mode="rgb_array")``): ``render()``
    returns one frame per env, each conversation drawn as the single env draws its own, as Gymnasium's
    vector envs do (vector ``RecordVideo`` tiles them). Only then does the env keep each conversation's
    turns (a Python loop over the envs per step); without it, rendering costs nothing.

    Seeding: ``reset(seed=s)`` seeds one generator for the batch (so its customers differ from sync
    mode's, as Gymnasium's own ``CartPoleVectorEnv``'s do); ``reset(seed=[s0, s1, ...])`` draws env
    i's first customer exactly as ``CustomerSupportEnv().reset(seed=si)`` would, which is what
    ``SyncVectorEnv.reset(seed=s)`` does with ``si = s + i``.
    """

    # render_fps as the single env's: a turn a second
    metadata = {"render_modes": ["rgb_array"], "render_fps": 1, "autoreset_mode": AutoresetMode.NEXT_STEP}  # noqa: RUF012

    def __init__(
        self,
        num_envs: int = 1,
        industry: str = "mixed",
        max_turns: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        catalog: Catalog | None = None,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unknown render_mode {render_mode!r}; the batched env renders None or 'rgb_array'")
        modes = {"next_step": AutoresetMode.NEXT_STEP, "same_step": AutoresetMode.SAME_STEP}
        if isinstance(autoreset_mode, AutoresetMode) and autoreset_mode in modes.values():
            mode = autoreset_mode
        elif autoreset_mode in modes:
            mode = modes[str(autoreset_mode)]
        else:
            raise ValueError(f"unknown autoreset_mode {autoreset_mode!r}; valid: {', '.join(modes)}")
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.catalog = catalog or default_catalog()
        self.num_envs = int(num_envs)
        self.industry = check_industry(industry, self.catalog)
        # make_vec hands its max_episode_steps to this constructor, where sync mode gives it to a TimeLimit
        # outside each env: neither is the conversation's length, so it is refused rather than half-honoured
        if max_episode_steps is not None:
            raise ValueError(
                f"max_episode_steps={max_episode_steps!r}: the conversation's length is max_turns (pass "
                f"max_turns={max_episode_steps!r}); max_episode_steps is Gymnasium's TimeLimit, which this env "
                "has no place for"
            )
        self.max_turns = DEFAULT_MAX_TURNS if max_turns is None else check_max_turns(max_turns)
        self.render_mode = render_mode
        #: with rgb_array rendering, each env's conversation as the single env keeps it (None otherwise: no cost)
        self._shown: _Conversations | None = _Conversations(self.num_envs) if render_mode else None
        # the batched env computes in float32: half the memory traffic of float64, and the same model to
        # float32 rounding (its statistics match the single env's: tests/test_vector_env.py)
        self.dynamics = DYNAMICS
        self._tables64 = Tables.build(self.catalog, self.industry)
        self.tables = self._tables64.astype(np.float32)
        probe = new_customers(self.tables, np.full((CUSTOMER_DRAWS, 1), 0.5, dtype=np.float32))
        #: each field's dtype in the batch: floats, and the codes and counts used in arithmetic (tier,
        #: urgency, turns, empathy and solution attempts) in float32, so that no operation falls back to
        #: float64; the rest int64
        self._dtypes = {name: getattr(probe, name).dtype for name in CustomerState.__slots__}
        for name in ("turn", "empathy_uses", "solution_uses"):
            self._dtypes[name] = np.dtype(np.float32)
        self.single_action_space = spaces.Discrete(N_STRATEGIES)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space = observation_space(self.catalog, self.max_turns)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        # the long names as object arrays: 8 bytes an env instead of 4 a character (a step's info would
        # otherwise write half a megabyte of inquiry names)
        #: the names info's codes index (``CODED_INFO_KEYS``), as the single env's ``info_names``
        self.info_names = info_names(self.catalog)
        self.state: CustomerState | None = None
        self._turn = BatchTurn(self.dynamics, self.max_turns, np.float32)
        # new customers are drawn in blocks and served from them
        self._block = min(ARRIVALS_PER_DRAW, max(4096, 4 * self.num_envs))
        self._arrivals: CustomerState | None = None
        self._arrivals_used = 0
        self._ended = np.zeros(self.num_envs, dtype=bool)  # the envs whose episode ended last step
        self._ended_rows = np.flatnonzero(self._ended)  # and their indices
        # "ongoing" for every env, copied per step: filling an object array with a string costs 20 times more

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if options:
            raise ValueError("the batched env takes no reset options; pin starts with CustomerSupportEnv")
        if isinstance(seed, list | tuple | np.ndarray):
            wrong = [s for s in seed if not isinstance(s, int | np.integer) or isinstance(s, bool | np.bool_)]
            if wrong:  # int() would turn 0.9 into 0: as the single env, refuse what is not an integer
                raise ValueError(f"seeds must be integers, got {wrong[0]!r}")
            seeds = [int(s) for s in seed]
            negative = [s for s in seeds if s < 0]
            if negative:  # numpy's own message ("expected non-negative integer") names no seed
                raise ValueError(f"seeds must be non-negative, got {negative[0]}")
            if len(seeds) != self.num_envs:
                raise ValueError(f"reset got {len(seeds)} seeds for {self.num_envs} envs")
            self.np_random = np.random.default_rng(seeds)  # one generator for the run, from all the seeds
            # the single env draws its arrivals ARRIVAL_BLOCK at a time: its first customer is column 0
            u = np.stack(
                [np.random.default_rng(s).random((CUSTOMER_DRAWS, ARRIVAL_BLOCK))[:, 0] for s in seeds], axis=1
            )
            # drawn in float64 as the single env does, then held in float32 like the rest of the batch
            first = new_customers(self._tables64, u, None, self.dynamics)
        else:
            super().reset(seed=seed)
            u32 = self.np_random.random((CUSTOMER_DRAWS, self.num_envs), np.float32)
            first = new_customers(self.tables, u32, None, self.dynamics)
        # fields are overwritten in place at restarts: each needs its own contiguous array
        self.state = self._own_arrays(first)
        self._arrivals, self._arrivals_used = None, 0  # arrivals drawn under the previous seed are dropped
        self._ended[:] = False
        self._ended_rows = np.flatnonzero(self._ended)
        obs = self._turn.observe(self.state)
        if self._shown is not None:
            self._shown.start(range(self.num_envs), obs, self.state)
        return obs, self._info(self.state, np.zeros((4, self.num_envs)), obs, self._ended_rows)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        s = self.state
        if s is None:
            raise RuntimeError("step() called before reset(): call envs.reset() first")
        a = self._check_actions(actions)
        next_step = self.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
        # next step: the envs that ended last step start anew (advanced like the rest, then overwritten)
        sold_before = s.offers_sold.copy()
        components, outcome, obs = self._advance(s, a, next_step)
        sold = s.offers_sold > sold_before  # (a restarted env's new customer has bought nothing)
        # (restarted envs already read as ongoing: their new customers overwrote the outcomes)
        ended = outcome != ONGOING
        rows = ended.nonzero()[0]
        truncated = outcome == TIMEOUT
        terminated = ended ^ truncated
        reward = components.sum(axis=0)  # components[0] + ... + components[3], in that order
        if next_step:
            if self._shown is not None:
                self._shown.play(a, components, reward, outcome, obs, s, restarted=self._ended_rows)
            self._ended, self._ended_rows = ended, rows
            return obs, reward, terminated, truncated, self._info(s, components, obs, rows, sold)
        # same step: report the finished episodes, then start the next ones at once
        info = self._info(s, components, obs, rows, sold)
        if self._shown is not None:
            self._shown.play(a, components, reward, outcome, obs, s, restarted=rows[:0])
        if len(rows):
            final_info = _with_masks(info, ended)  # masked to the envs whose episode ended, as SyncVectorEnv does
            self._restart(rows)
            final_obs, obs = obs, self._turn.observe(s)
            if self._shown is not None:  # (a same-step video misses each conversation's end, as Gymnasium warns)
                self._shown.start(rows, obs, s)
            sold[rows] = False  # the new customers' conversations go on, nothing bought yet
            info = self._info(s, components, obs, rows[:0], sold)
            info["final_info"], info["final_obs"] = final_info, final_obs
            info["_final_info"], info["_final_obs"] = ended, ended.copy()
        return obs, reward, terminated, truncated, info

    def named_info(self, info: dict[str, Any]) -> dict[str, Any]:
        """This env's ``info`` with object arrays of names for its codes (``final_info`` too), and the reward
        components in ``reward_components``, as the single env's ``named_info``."""
        return named_info(info, self.info_names)

    def render(self) -> tuple[np.ndarray, ...] | None:
        """With ``render_mode="rgb_array"``, one frame per env (as ``SyncVectorEnv`` and Gymnasium's own
        vector envs return them, which vector ``RecordVideo`` tiles): each conversation drawn as the
        single env draws its own (:mod:`cs_env.render`)."""
        if self._shown is None:
            gym.logger.warn("render() called with render_mode=None; pass render_mode='rgb_array'")
            return None
        from cs_env.render import frame  # Pillow is loaded only by the first frame asked for

        return tuple(frame(_OneConversation(self, i)) for i in range(self.num_envs))

    def action_masks(self) -> np.ndarray:
        """``(num_envs, 8)``: the strategies worth playing now in each env, as sb3-contrib's MaskablePPO
        reads them: the single env's masks (no second offer of a kind), all for an env the next step restarts."""
        masks = np.ones((self.num_envs, N_STRATEGIES), dtype=bool)
        s = self.state
        if s is not None:
            np.equal(s.offered_recommend, 0, out=masks[:, PRODUCT_RECOMMEND])
            np.equal(s.offered_upsell, 0, out=masks[:, UPSELL])
            masks[self._ended_rows] = True  # next-step autoreset: their action is ignored
        return masks

    # -- helpers -----------------------------------------------------------------------------
    def _advance(self, s: CustomerState, a: np.ndarray, restart: bool) -> tuple[Any, Any, np.ndarray]:
        """One turn of every conversation: the reward components (float64), outcomes and observations.

        With ``restart``, the envs whose episode ended last step then get new customers (observed in
        their place).
        """
        u = self._uniforms(TURN_DRAWS, self.num_envs)
        components, outcome = self._turn.play(s, a, u)  # components in float64, as the single env's floats
        if restart and len(self._ended_rows):
            self._restart(self._ended_rows)
            for row in components:  # an env's restart step pays nothing
                row[self._ended_rows] = 0.0
        return components, outcome, self._turn.observe(s)  # restarted envs show their new customers

    def _uniforms(self, rows: int, n: int) -> np.ndarray:
        """``(rows, n)`` uniform float32 numbers in [0, 1), 24 random bits each, as
        ``np_random.random(dtype=np.float32)`` makes them but from half as many generator calls: each
        64 raw bits give two numbers."""
        count = rows * n
        if count <= _UNIFORMS_AT_ONCE or n % 2:
            raw = self.np_random.bit_generator.random_raw((count + 1) // 2).view(np.uint32)[:count]
            return np.multiply(raw >> 8, _TWO_TO_MINUS_24, dtype=np.float32).reshape(rows, n)
        # a block of arrivals row by row (the same numbers: each row takes the next n / 2 raw draws), so
        # the temporaries stay in cache: 18 rows of 16,384 take a quarter of the time of one draw of all
        out = np.empty((rows, n), dtype=np.float32)
        for row in out:
            raw = self.np_random.bit_generator.random_raw(n // 2).view(np.uint32)
            np.multiply(raw >> 8, _TWO_TO_MINUS_24, out=row, dtype=np.float32)
        return out

    def _restart(self, rows: np.ndarray) -> None:
        """New customers for the envs ``rows``, served from arrivals drawn in blocks."""
        assert self.state is not None
        done = 0
        while done < len(rows):
            if self._arrivals is None or self._arrivals_used == self._block:
                u = self._uniforms(CUSTOMER_DRAWS, self._block)
                self._arrivals = self._own_arrays(new_customers(self.tables, u, None, self.dynamics))
                self._arrivals_used = 0
            start = self._arrivals_used
            k = min(len(rows) - done, self._block - start)
            # field by field: a 1-d scatter each is faster than one 2-d scatter over stacked fields
            into, end = rows[done : done + k], start + k
            state, arrivals = self.state, self._arrivals
            for name in _FIELDS:
                getattr(state, name)[into] = getattr(arrivals, name)[start:end]
            for name in _PER_STRATEGY_FIELDS:  # rows of 8 as one 32-byte item each: half a 2-d scatter's time
                getattr(state, name).view(_ROW).reshape(-1)[into] = getattr(arrivals, name)[start:end].view(_ROW)[:, 0]
            self._arrivals_used = end
            done += k

    def _own_arrays(self, s: CustomerState) -> CustomerState:
        """``s`` with a contiguous array for every field, of the batch's dtype; the fields that already
        are (each its own: new_customers shares none) are kept as they are."""
        for name in CustomerState.__slots__:
            value = getattr(s, name)
            if value.base is not None or value.dtype != self._dtypes[name]:
                setattr(s, name, np.array(value, dtype=self._dtypes[name], order="C"))
        return s

    def _check_actions(self, actions: Any) -> np.ndarray:
        try:
            a = np.asarray(actions)
        except (ValueError, TypeError):  # ragged nesting: numpy's own message speaks of sequences, not actions
            raise ValueError(
                f"actions must be {self.num_envs} integers 0-{N_STRATEGIES - 1}, got {actions!r}"
            ) from None
        if a.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {a.shape}")
        if a.dtype.kind not in "iu":
            raise ValueError(f"actions must be integers 0-{N_STRATEGIES - 1}, got dtype {a.dtype}")
        a = a.astype(np.int64, copy=False)
        # one comparison: negatives (and unsigned values past int64) read as huge unsigned numbers; the
        # culprits are looked for only when there are some
        if (a.view(np.uint64) >= N_STRATEGIES).any():
            bad = np.flatnonzero((a < 0) | (a >= N_STRATEGIES))
            shown = ", ".join(f"env {i}: {np.asarray(actions)[i]}" for i in bad[:5]) + (" ..." if len(bad) > 5 else "")
            raise ValueError(
                f"invalid actions ({shown}): valid actions are 0-{N_STRATEGIES - 1} ({', '.join(STRATEGY_NAMES)})"
            )
        return a

    def _info(
        self, s: CustomerState, components: Any, obs: np.ndarray, ended: np.ndarray, sold: np.ndarray | None = None
    ) -> dict[str, Any]:
        """The info of a step that left ``s`` observed as ``obs``, with the episodes ``ended`` (indices) and
        the envs whose offer sold this step (``sold``; none at reset)."""
        # the state's fields are views into storage that the next step overwrites: copy what is handed out
        # outcome: ongoing (0), but for the ``ended`` ones (a fifth or so)
        outcome = np.zeros(self.num_envs, dtype=np.int64)
        outcome[ended] = s.outcome.take(ended)
        info = {
            "hidden_satisfaction": s.sat.astype(np.float64),
            "sentiment": obs[:, OBS_SENTIMENT].astype(np.int64),  # as observed
            "tier": s.tier.astype(np.int64),
            "industry": s.industry.astype(np.int64),
            "inquiry_type": s.inquiry.astype(np.int64),
            "outcome": outcome,
        }
        # the flat keys own their numbers (one copy of the four rows), as sync mode's arrays are each their own
        info.update(zip(REWARD_KEYS, components.copy(), strict=True))
        info["hidden_offer_sold"] = np.zeros(self.num_envs, np.int64) if sold is None else sold.astype(np.int64)
        # every env has every key: all masks true, the rows of one allocation (each its own array, as sync's are)
        masks = iter(np.ones((_N_MASKS, self.num_envs), dtype=bool))
        for key in _INFO_KEYS:
            info["_" + key] = next(masks)
        return info


def _with_masks(info: dict[str, Any], present: np.ndarray) -> dict[str, Any]:
    """A copy of ``info`` whose masks (nested ones too) are copies of ``present``."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key.startswith("_"):
            out[key] = present.copy()
        else:
            out[key] = _with_masks(value, present) if isinstance(value, dict) else value
    return out


class _Conversations:
    """Each env's conversation as the single env records it (opening and turns), kept for its frames."""

    def __init__(self, num_envs: int) -> None:
        self.histories: list[list[TurnRecord]] = [[] for _ in range(num_envs)]
        self.openings = [(0, 0.0)] * num_envs  # (sentiment, satisfaction) on arrival
        self.episodes = np.zeros(num_envs, dtype=np.int64)  # per env, so each conversation gets its own words

    def start(self, rows: Any, obs: np.ndarray, s: CustomerState) -> None:
        """New customers in the envs ``rows``."""
        for i in rows:
            self.histories[i] = []
            self.openings[i] = (int(obs[i, OBS_SENTIMENT]), float(s.sat[i]))
            self.episodes[i] += 1

    def play(
        self,
        a: np.ndarray,
        components: Any,
        reward: np.ndarray,
        outcome: Any,
        obs: np.ndarray,
        s: CustomerState,
        restarted: np.ndarray,
    ) -> None:
        """One step: a turn in every env, but those ``restarted`` (which start anew, ignoring their action)."""
        self.start(restarted, obs, s)
        skip = set(restarted.tolist())
        for i, history in enumerate(self.histories):
            if i in skip:
                continue
            before = history[-1].sentiment if history else self.openings[i][0]
            parts = tuple(float(c) for c in components[:, i])
            sentiment = int(obs[i, OBS_SENTIMENT])
            history.append(
                TurnRecord(int(a[i]), before, sentiment, float(s.sat[i]), float(reward[i]), parts, int(outcome[i]))
            )


class _OneConversation:
    """Env ``i`` of a batched env as :func:`cs_env.render.frame` reads a single env."""

    np_random_seed = None  # the batched env has one generator: no seed replays a conversation alone

    def __init__(self, envs: CustomerSupportVectorEnv, i: int) -> None:
        assert envs._shown is not None
        self.catalog, self.max_turns, self.started = envs.catalog, envs.max_turns, envs.state is not None
        self.history = envs._shown.histories[i]
        self.opening_sentiment, self.opening_satisfaction = envs._shown.openings[i]
        self._words = int(envs._shown.episodes[i]) * envs.num_envs + i
        s = envs.state
        # the codes as ints (tier and urgency are float32 in the batch), as the single env's state holds them
        kinds = {"inquiry": int, "industry": int, "tier": int, "urgency": int, "specialist_hint": float}
        self.hidden_state = None if s is None else SimpleNamespace(**{f: k(getattr(s, f)[i]) for f, k in kinds.items()})

    def conversation(self) -> tuple[Line, list[Exchange]]:
        s = self.hidden_state
        assert s is not None  # (frame draws no conversation before the first reset)
        inquiry = self.catalog.inquiries[s.inquiry].name
        return conversation_in_words(
            inquiry, s, self._words, self.opening_sentiment, self.opening_satisfaction, self.history
        )
