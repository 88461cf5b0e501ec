"""What can play that sees only the observation reach? A belief planner's % of oracle on held-out customers.

    python benchmarks/information_ceiling.py [--customers 1000] [--seed 1] [--particles 512]
                                             [--plan-particles 32] [--rollouts 8] [--block 500]
                                             [--planner-seed 7] [--noise-floor] [--agent SPEC ...] [--save F.npz]
    python benchmarks/information_ceiling.py --record DIR [--customers 4000] [--record-seed 50000] [...]

The oracle (``cs_env.policies.OraclePolicy``) reads the customer's hidden traits (complexity, savvy,
openness, patience, whether only a specialist can help) and the exact satisfaction; every agent is scored
as a share of it. How much of the gap to 100 % is the price of not seeing them? :class:`BeliefPlanner`
answers with a policy that receives the observations alone (it is called as ``rollout`` calls a trained
agent with memory: observations and conversation ids, never the state) and:

- keeps a **belief** over the hidden state, a particle filter: customers drawn from the env's own prior
  (``new_customers`` with the observed inquiry, tier and urgency pinned), weighted by the exact likelihood
  of the opening readings (every cue and hint is the hidden value plus uniform noise of a known width,
  clipped to [0, 1]); each turn every particle plays the strategy the agent played, its luck solved from
  the progress the customer showed, and is weighted by the likelihood of what the customer showed next (the
  progress made, the satisfaction and patience cues, the complexity and savvy hints, the openness an offer
  revealed) and of not having left; resampled when the weights grow uneven, the copies' fixed traits then
  spread again by Liu and West's shrinkage kernel; a conversation no particle explains is filtered again
  from its opening with four times the particles (both counted in the output);
- chooses each turn's strategy by **QMDP**: the expected return under the belief of each strategy followed
  by the oracle's own rollout rule with full information of the particle (``trait_policy``, what the oracle
  rolls out), averaged over ``--plan-particles`` particles drawn from the belief, ``--rollouts`` rollouts
  each, with the same draws for every strategy.

It never sees the episode's future draws (its generator is its own) nor the true traits. Its return is what
a policy with no hidden information actually achieves: a lower bound on the best observation-only play,
not an upper one. QMDP is wrong in both directions: it values each strategy as if everything were known from
the next turn on (so it never pays to gather information, and overrates strategies whose worth hangs on a
trait it cannot see), while a better planner would also probe on purpose (its belief improves only as a side
effect of play). The oracle it is scored against is itself a rollout rule, not the exact optimum.

The customers are ``cs-tui evaluate``'s: those of ``rollout(episodes=N, seed=S)`` (the held-out set is
seed 1; at 10,000 they are the baselines table's), which the planner serves ``--block`` at a time (its
memory) with turn draws of its own (in ``rollout`` too the draws after the first turn differ from one
policy to the next, as their conversations end at different turns); % of oracle is ``cs_env.evaluate``'s,
against the same ``reference_rollouts`` (random 0, oracle 100) on those customers, with a 95 % bootstrap interval over
customers (paired: each resample takes the planner's, the oracle's and random's returns of the same
customers). ``--noise-floor`` also plays the oracle with another planning seed: its % of itself.
``--agent`` scores agents (``cs-tui evaluate``'s names, e.g. ``default``) on the same customers.

``--record DIR`` measures nothing: it writes the planner's conversations with ``--customers`` customers as
the play pane's recordings (``cs-tui train --warm-start DIR`` replays them), one file per customer, the
customer of ``CustomerSupportEnv.reset(seed=--record-seed + i)`` (seeds apart from the trainer's
evaluations, 0, and the held-out figures, 1): the env's own conversations, so each file replays to the
turns the planner saw. The planner serves ``--block`` of them at once, each from its own env.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from cs_env.customer import CUSTOMER_DRAWS, ONGOING, SPECIALIST_HINT, TURN_DRAWS, CustomerState, Tables, new_customers
from cs_env.domain import N_STRATEGIES, ResponseStrategy
from cs_env.dynamics import DYNAMICS, Dynamics
from cs_env.evaluate import Rollouts
from cs_env.industries import Catalog, default_catalog
from cs_env.policies import trait_policy
from cs_env.turn import BatchTurn

#: The opening openness hint's noise (``new_customers``: openness + 0.5 * (u - 0.5)); not a Dynamics field.
OPENNESS_HINT_NOISE = 0.5
#: Slack on a reading's window: observations are float32, the kernel computes in float64.
TOLERANCE = 1e-5
#: Ceilings on what a person can type (the planner's memory grows with customers x particles).
MAX_CUSTOMERS = 20_000
MAX_PARTICLES = 8_192
MAX_ROLLOUTS = 256
#: At most this many conversation copies are planned at once (as the oracle's ORACLE_MAX_ROWS).
MAX_ROWS = 1 << 18
#: A conversation no particle explains is filtered again from its opening with this many times the particles.
REPLAY_FACTOR = 4
#: At most this many prior candidates are drawn at once (some 400 bytes each).
START_ROWS = 1 << 20
#: Prior candidates drawn per particle at a conversation's start, before the opening's readings weigh them.
OVERSAMPLE = 16

#: The fixed traits a resampling spreads again, and the fields of a particle that change as it plays.
JITTERED = ("complexity", "savvy", "openness")
CHANGING = (
    "sat",
    "sat_cue",
    "progress",
    "patience",
    "patience_cue",
    "handle_time",
    "turn",
    "empathy_uses",
    "solution_uses",
    "offered_recommend",
    "offered_upsell",
    "offers_sold",
    "last_dsat",
    "last_gain",
    "outcome",
    "complexity_hint",
    "savvy_hint",
    "openness_hint",
    "specialist_hint",
)
SALES = (int(ResponseStrategy.PRODUCT_RECOMMEND), int(ResponseStrategy.UPSELL))


def reading_likelihood(observed: np.ndarray, value: np.ndarray, width: float) -> np.ndarray:
    """The likelihood of reading ``observed`` when the reading is ``clip01(value + width * (u - 0.5))``.

    Inside (0, 1) a density, 1 / width within the window; a reading of exactly 0 or 1 is the clip's
    point mass, the chance the noise carried the value past it. For one observation every particle is
    in the same case, so weights compare like with like."""
    half = width / 2.0
    inside = (np.abs(observed - value) <= half + TOLERANCE) / width
    at_zero = np.clip((half - value) / width, 0.0, 1.0)
    at_one = np.clip((value + half - 1.0) / width, 0.0, 1.0)
    return np.where(observed <= 0.0, at_zero, np.where(observed >= 1.0, at_one, inside))


def systematic(weights: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """``m`` indices per row of ``weights`` (rows sum to 1), by systematic resampling: ``(rows, m)``."""
    rows, p = weights.shape
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0 + 1e-12
    positions = (np.arange(m)[None, :] + rng.random((rows, 1))) / m
    # one search over all rows: each row's cdf shifted by its row number
    flat = (cdf + np.arange(rows)[:, None]).ravel()
    found = np.searchsorted(flat, (positions + np.arange(rows)[:, None]).ravel(), side="right")
    return np.minimum(found.reshape(rows, m) - np.arange(rows)[:, None] * p, p - 1)


def concat(states: list[CustomerState]) -> CustomerState:
    """Batched states one after another."""
    new = CustomerState.__new__(CustomerState)
    for name in CustomerState.__slots__:
        setattr(new, name, np.concatenate([getattr(s, name) for s in states]))
    return new


class BeliefPlanner:
    """A policy that reads only observations: a particle belief over the hidden state, QMDP choices.

    Called as ``rollout`` calls a policy with memory: a batch of observations and ``episodes=`` naming each
    row's conversation (a conversation whose ``conversation_length`` is 0 starts over). It keeps, per
    conversation, ``particles`` weighted guesses of the customer's full state and its last strategy.
    """

    name = "belief_qmdp"
    needs_episodes = True

    def __init__(
        self,
        industry: str = "mixed",
        max_turns: int = 10,
        *,
        particles: int = 512,
        plan_particles: int = 32,
        rollouts: int = 8,
        seed: int = 7,
        jitter: float = 0.95,
        catalog: Catalog | None = None,
        dynamics: Dynamics = DYNAMICS,
    ) -> None:
        self.tables = Tables.build(catalog or default_catalog(), industry)
        self.max_turns, self.d = max_turns, dynamics
        self.particles, self.plan_particles, self.rollouts = particles, plan_particles, rollouts
        self.kernel = BatchTurn(dynamics, max_turns)
        self.rng = np.random.default_rng([seed, 0xBE11EF])
        self._episodes = np.zeros(0, dtype=np.int64)
        self._state: CustomerState | None = None  # the particles, episode-major: (episodes * particles) rows
        self._weights = np.zeros((0, particles))
        self._action = np.zeros(0, dtype=np.int64)
        #: conversations whose readings no particle could explain (the update was skipped): should stay 0
        self.collapses = 0
        self.replays = 0
        #: Liu-West shrinkage of the fixed traits at each resampling (0: none)
        self.jitter = jitter
        #: per conversation: (strategy played after it, observation) from its opening on, for replays
        self._history: dict[int, list[tuple[int, np.ndarray]]] = {}
        self.resamples = 0
        #: per call: the conversations, the belief's P(needs a specialist) of each, and their turns
        self.specialist_belief: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    # -- the policy ----------------------------------------------------------------------------
    def __call__(self, obs: np.ndarray, episodes: np.ndarray | None = None) -> Any:
        o = np.asarray(obs, dtype=np.float64)
        single = o.ndim == 1
        o = o[None, :] if single else o
        ids = np.zeros(1, dtype=np.int64) if episodes is None else np.asarray(episodes, dtype=np.int64).reshape(-1)
        state, weights = self._believe(o, ids)
        belief = (weights * state.needs_specialist.reshape(weights.shape)).sum(axis=1)
        self.specialist_belief.append((ids.copy(), belief, o[:, 3].astype(np.int64)))
        action = self._choose(o, state, weights)
        for e, row, a in zip(ids.tolist(), o, action.tolist(), strict=True):
            if row[3] == 0:
                self._history[e] = []
            self._history[e].append((a, row.copy()))
        self._episodes, self._state, self._weights, self._action = ids, state, weights, action
        return int(action[0]) if single else action

    # -- the belief ----------------------------------------------------------------------------
    def _believe(self, o: np.ndarray, ids: np.ndarray) -> tuple[CustomerState, np.ndarray]:
        """The particles and weights of each row's conversation after its latest observation."""
        p = self.particles
        fresh = o[:, 3] == 0
        known = {int(e): i for i, e in enumerate(self._episodes)}
        going = ~fresh & np.array([int(e) in known for e in ids], dtype=bool)
        if (~fresh & ~going).any():
            raise ValueError("BeliefPlanner: a conversation past its first turn that it never saw begin")
        parts: list[tuple[np.ndarray, CustomerState, np.ndarray]] = []
        if fresh.any():
            rows = np.flatnonzero(fresh)
            parts.append((rows, *self._start(o[rows])))
        if going.any():
            rows = np.flatnonzero(going)
            before = np.array([known[int(e)] for e in ids[rows]])
            assert self._state is not None
            picked = (before[:, None] * p + np.arange(p)).ravel()
            state = self._state.select(picked)
            parts.append((rows, *self._update(o[rows], state, self._weights[before], self._action[before], ids[rows])))
        order = np.argsort(np.concatenate([rows for rows, _, _ in parts]), kind="stable")
        state = concat([s for _, s, _ in parts])
        weights = np.concatenate([w for _, _, w in parts])[order]
        state = state.select((order[:, None] * p + np.arange(p)).ravel())
        return state, weights

    def _start(self, o: np.ndarray) -> tuple[CustomerState, np.ndarray]:
        """Particles for conversations just begun, drawn a slice of conversations at a time (memory)."""
        step = max(1, START_ROWS // (self.particles * OVERSAMPLE))
        parts = [self._start_slice(o[i : i + step]) for i in range(0, len(o), step)]
        return concat([s for s, _ in parts]), np.concatenate([w for _, w in parts])

    def _start_slice(self, o: np.ndarray) -> tuple[CustomerState, np.ndarray]:
        """Particles for conversations just begun: prior draws with the opening's codes, weighed by its readings.

        The prior draws each trait from its own uniforms and each reading depends on one trait, so the
        posterior is a product: each trait (with its uniforms) is resampled on its own reading's weights
        and the particle is drawn again from the chosen uniforms (the exact posterior, with many more
        distinct particles than weighing whole customers would keep)."""
        n, c, p = len(o), self.particles * OVERSAMPLE, self.particles
        pins = {
            key: np.repeat(o[:, col].astype(np.int64), c) for key, col in (("inquiry", 0), ("urgency", 2), ("tier", 4))
        }
        u = self.rng.random((CUSTOMER_DRAWS, n * c))
        candidates = new_customers(self.tables, u, pins, self.d)
        seen = np.repeat(o, c, axis=0)
        d, (base, lift, width) = self.d, SPECIALIST_HINT
        # each group: the uniforms new_customers draws it from, and the likelihood of its readings
        groups = (
            ((3, 4), reading_likelihood(seen[:, 5], candidates.sat, d.sat_cue_noise)),
            (
                (5, 6, 13),
                reading_likelihood(seen[:, 8], candidates.complexity, d.complexity_hint_noise)
                * reading_likelihood(seen[:, 17], base + lift * candidates.needs_specialist, width),
            ),
            ((7, 8), reading_likelihood(seen[:, 9], candidates.savvy, d.savvy_hint_noise)),
            ((9, 10), reading_likelihood(seen[:, 10], candidates.openness, OPENNESS_HINT_NOISE)),
            ((11, 12), reading_likelihood(seen[:, 11], candidates.patience, d.patience_cue_noise)),
        )
        chosen_u = self.rng.random((CUSTOMER_DRAWS, n * p))
        offsets = np.arange(n)[:, None] * c
        for draws, likelihood in groups:
            weight = likelihood.reshape(n, c)
            total = weight.sum(axis=1, keepdims=True)
            empty = total[:, 0] <= 0.0
            if empty.any():  # no candidate explains a reading: keep the prior's (counted; should not happen)
                self.collapses += int(empty.sum())
                weight[empty], total[empty] = 1.0, c
            picked = systematic(weight / total, p, self.rng)
            picked = np.take_along_axis(picked, self.rng.permuted(np.tile(np.arange(p), (n, 1)), axis=1), axis=1)
            columns = (picked + offsets).ravel()
            for row in draws:
                chosen_u[row] = u[row, columns]
        pins = {key: np.repeat(value[::c], p) for key, value in pins.items()}
        state = new_customers(self.tables, chosen_u, pins, self.d)
        return state, np.full((n, p), 1.0 / p)

    def _update(
        self, o: np.ndarray, state: CustomerState, weights: np.ndarray, action: np.ndarray, ids: np.ndarray
    ) -> tuple[CustomerState, np.ndarray]:
        """The belief after one more turn; a conversation whose readings no particle explains is filtered again
        from its opening with fresh particles (counted in ``replays``; one that fails again in ``collapses``)."""
        state, weights, lost = self._step(o, state, weights, action)
        for row in np.flatnonzero(lost):
            self.replays += 1
            again, again_weights, failed = self._replay([*self._history[int(ids[row])], (-1, o[row])])
            self.collapses += failed
            p = self.particles
            state.assign(np.arange(len(o) * p) // p == row, again)
            weights[row] = again_weights
        return state, weights

    def _replay(self, history: list[tuple[int, np.ndarray]]) -> tuple[CustomerState, np.ndarray, bool]:
        """One conversation filtered again from its opening with ``REPLAY_FACTOR`` times the particles, then
        resampled to the usual number; and whether some turn was still unexplained."""
        p = self.particles
        self.particles = p * REPLAY_FACTOR
        try:
            state, weights = self._start(history[0][1][None])
            failed = False
            for previous, seen in itertools.pairwise(history):
                state, weights, gone = self._step(seen[1][None], state, weights, np.array([previous[0]]))
                failed |= bool(gone[0])
        finally:
            self.particles = p
        return state.select(systematic(weights, p, self.rng)[0]), np.full(p, 1.0 / p), failed

    def _step(
        self, o: np.ndarray, state: CustomerState, weights: np.ndarray, action: np.ndarray
    ) -> tuple[CustomerState, np.ndarray, np.ndarray]:
        """Each particle plays the strategy played; weigh it by the likelihood of what the customer showed.

        Returns the particles, their weights, and which conversations no particle explained (their weights
        are then left as they were)."""
        n, p, d = len(o), self.particles, self.d
        rows = n * p
        a = np.repeat(action, p)
        seen = np.repeat(o, p, axis=0)
        # the progress shown fixes the turn's luck: gain = potential * cooperation * (luck_low + luck_span * u)
        cooperation = np.minimum(1.0, d.cooperation_base + d.cooperation_per_sat * state.sat)
        most = state.potential[np.arange(rows), a] * cooperation
        gain = seen[:, 13]
        positive = most > 0.0
        ratio = np.divide(gain, most, out=np.zeros(rows), where=positive)
        luck = (ratio - d.luck_low) / d.luck_span
        fits = (luck >= -TOLERANCE) & (luck <= 1.0 + TOLERANCE)
        likelihood = np.where(
            gain > 0.0,
            positive * fits / np.where(positive, d.luck_span * most, 1.0),
            ~positive,  # no progress shown: only particles whose strategy could make none
        ).astype(np.float64)
        u = self.rng.random((TURN_DRAWS, rows))
        u[0] = np.clip(luck, 0.0, 1.0 - 1e-12)
        u[3] = 1.0  # never leaves here: the chance it stayed is weighed below
        _, outcome = self.kernel.play(state, a, u)
        impatience = 1.0 - np.clip(state.patience, 0.0, 1.0)
        anger = 1.0 - state.sat
        leaving = anger * anger * (d.leave_base + d.leave_per_impatience * impatience * impatience)
        likelihood *= (outcome == ONGOING) * (1.0 - leaving)
        likelihood *= reading_likelihood(seen[:, 5], state.sat, d.sat_cue_noise)
        likelihood *= reading_likelihood(seen[:, 11], state.patience, d.patience_cue_noise)
        likelihood *= reading_likelihood(seen[:, 8], state.complexity, d.complexity_hint_noise)
        likelihood *= reading_likelihood(seen[:, 9], state.savvy, d.savvy_hint_noise)
        offered = np.isin(a, SALES)
        likelihood *= np.where(offered, reading_likelihood(seen[:, 10], state.openness, d.reveal_noise), 1.0)
        new = weights * likelihood.reshape(n, p)
        total = new.sum(axis=1, keepdims=True)
        lost = total[:, 0] <= 0.0
        new[lost], total[lost] = weights[lost], 1.0
        new /= total
        # resample the conversations whose weights grew uneven (effective sample size below half)
        uneven = 1.0 / (new * new).sum(axis=1) < p / 2
        if uneven.any():
            self.resamples += int(uneven.sum())
            index = np.tile(np.arange(p), (n, 1))
            index[uneven] = systematic(new[uneven], p, self.rng)
            state = state.select((index + np.arange(n)[:, None] * p).ravel())
            new[uneven] = 1.0 / p
            if self.jitter:
                state = self._rejuvenate(state, np.repeat(uneven, p), n)
        return state, new, lost

    def _rejuvenate(self, state: CustomerState, mask: np.ndarray, n: int) -> CustomerState:
        """Spread the resampled copies' fixed traits again (Liu and West's shrinkage kernel: each cloud keeps
        its mean and spread), so that a few survivors do not become the whole belief for good."""
        p, a = self.particles, self.jitter
        pins: dict[str, np.ndarray] = {"inquiry": state.inquiry, "tier": state.tier, "urgency": state.urgency}
        for trait in JITTERED:
            x = getattr(state, trait).reshape(n, p)
            mean, spread = x.mean(axis=1, keepdims=True), x.std(axis=1, keepdims=True)
            moved = a * x + (1.0 - a) * mean + np.sqrt(1.0 - a * a) * spread * self.rng.standard_normal((n, p))
            pins[trait] = np.where(mask, np.clip(moved.ravel(), 0.0, 1.0), getattr(state, trait))
        pins["needs_specialist"] = state.needs_specialist
        pins["patience"] = np.clip(state.patience, 0.0, 1.0)  # overwritten below: the state's, drained
        rebuilt = new_customers(self.tables, self.rng.random((CUSTOMER_DRAWS, n * p)), pins, self.d)
        for name in CHANGING:
            setattr(rebuilt, name, getattr(state, name))
        # patience left: the same kernel on what is left (every particle drained by the same turns)
        x = state.patience.reshape(n, p)
        mean, spread = x.mean(axis=1, keepdims=True), x.std(axis=1, keepdims=True)
        moved = a * x + (1.0 - a) * mean + np.sqrt(1.0 - a * a) * spread * self.rng.standard_normal((n, p))
        rebuilt.patience = np.where(mask, moved.ravel(), state.patience)
        return rebuilt

    # -- the choice ----------------------------------------------------------------------------
    def _choose(self, o: np.ndarray, state: CustomerState, weights: np.ndarray) -> np.ndarray:
        """QMDP: the strategy of best expected return under the belief, the rest played with full information."""
        n, m, k, p = len(o), self.plan_particles, self.rollouts, self.particles
        drawn = systematic(weights, m, self.rng)
        sample = state.select((drawn + np.arange(n)[:, None] * p).ravel())  # (n * m) rows, equally weighted
        per = m * N_STRATEGIES * k
        step = max(1, MAX_ROWS // per)
        values = np.concatenate(
            [
                self._values(sample.select(slice(i * m, min(n, i + step) * m)), min(n, i + step) - i)
                for i in range(0, n, step)
            ]
        )
        return values.argmax(axis=1).astype(np.int64)

    def _values(self, sample: CustomerState, n: int) -> np.ndarray:
        """Mean return ``(n, 8)`` of each strategy then ``trait_policy``, over the particles and rollouts."""
        m, k = self.plan_particles, self.rollouts
        per = N_STRATEGIES * k
        rows = sample.select(np.repeat(np.arange(n * m), per))  # ordered (conversation, particle, strategy, rollout)
        action = np.tile(np.repeat(np.arange(N_STRATEGIES), k), n * m)
        path = np.arange(len(action))
        draw = (path // per) * k + path % k  # (conversation, particle, rollout): the same for every strategy
        total = np.zeros(len(action))
        for _ in range(self.max_turns - int(sample.turn.min())):
            u = self.rng.random((TURN_DRAWS, n * m * k)).take(draw, axis=1)
            components, outcome = self.kernel.play(rows, action, u)
            total[path] += components.sum(axis=0)
            ongoing = outcome == ONGOING
            if not ongoing.any():
                break
            if not ongoing.all():
                path, draw, rows = path[ongoing], draw[ongoing], rows.select(ongoing)
            action = np.asarray(trait_policy(rows, self.d), dtype=np.int64)
        return total.reshape(n, m * N_STRATEGIES * k).reshape(n, m, N_STRATEGIES, k).mean(axis=(1, 3))


# -- recordings for a warm start -----------------------------------------------------------------
#: The customers of ``--record`` are those of ``reset(seed=RECORD_SEED + i)``: apart from the trainer's
#: evaluation seed (0), the held-out figures' (1) and the oracle warm start's (7).
RECORD_SEED = 50_000


def record_conversations(
    planner: Any,
    folder: Path,
    customers: int,
    base_seed: int,
    *,
    industry: str = "mixed",
    max_turns: int = 10,
    block: int = 500,
) -> list[float]:
    """Play ``customers`` conversations, customer ``i`` the env's ``reset(seed=base_seed + i)``, and write each
    as a play-pane recording ``folder/<industry>-seed<seed>.json`` (atomically); the returns, in order.

    Each conversation is served by its own :class:`CustomerSupportEnv` (``block`` at a time, the planner
    choosing for all of them in one call), so a recording replays through the env to the very observations
    the planner saw. ``ValueError`` if a replay ends other than the live conversation did."""
    from cs_env.env import CustomerSupportEnv
    from cs_tui.files import atomic_write_json
    from cs_tui.play_session import episode_record, replay

    folder.mkdir(parents=True, exist_ok=True)
    returns: list[float] = []
    for first in range(0, customers, block):
        ids = np.arange(first, min(customers, first + block))
        envs = [CustomerSupportEnv(industry=industry, max_turns=max_turns) for _ in ids]
        obs = [env.reset(seed=base_seed + int(i))[0] for env, i in zip(envs, ids, strict=True)]
        actions: list[list[int]] = [[] for _ in ids]
        total = np.zeros(len(ids))
        active = list(range(len(ids)))
        while active:
            chosen = np.asarray(planner(np.stack([obs[k] for k in active]), episodes=ids[active]), dtype=np.int64)
            still = []
            for k, action in zip(active, chosen.tolist(), strict=True):
                actions[k].append(action)
                obs[k], reward, terminated, truncated, _ = envs[k].step(action)
                total[k] += float(reward)
                if not (terminated or truncated):
                    still.append(k)
            active = still
        for k, i in enumerate(ids.tolist()):
            seed = base_seed + i
            episode = replay(
                actions[k], industry=industry, max_turns=max_turns, seed=seed, options=None, player=planner.name
            )
            if not episode.done or not np.isclose(episode.total_return, total[k]):
                raise ValueError(f"seed {seed}: the recording does not replay to the conversation played")
            atomic_write_json(folder / f"{industry}-seed{seed}.json", episode_record(episode, None))
            returns.append(float(total[k]))
    return returns


# -- the measurement ---------------------------------------------------------------------------
def play_in_blocks(policy: Any, industry: str, episodes: int, seed: int, block: int, max_turns: int = 10) -> Rollouts:
    """``rollout(policy, episodes=episodes, seed=seed)``'s customers, exactly, served ``block`` at a time.

    The customers are drawn as ``rollout`` draws them (so they are ``cs-tui evaluate``'s); each block's turns
    draw from a stream of their own (in ``rollout`` too the draws after the first turn differ from one
    policy to another, as their conversations end at different turns)."""
    tables = Tables.build(default_catalog(), industry)
    everyone = new_customers(tables, np.random.default_rng(seed).random((CUSTOMER_DRAWS, episodes)))
    start = everyone.copy()
    kernel = BatchTurn(DYNAMICS, max_turns)
    returns = np.zeros(episodes)
    per_episode = np.zeros((episodes, N_STRATEGIES), dtype=np.int64)
    for first in range(0, episodes, block):
        ids = np.arange(first, min(episodes, first + block))
        state, draws = everyone.select(ids), np.random.default_rng([seed, first, 0x0B10C])
        active = np.arange(len(ids))
        while len(active):
            rows = state.select(active)
            action = np.asarray(policy(kernel.observe(rows), episodes=ids[active]), dtype=np.int64)
            per_episode[ids[active], action] += 1
            components, outcome = kernel.play(rows, action, draws.random((TURN_DRAWS, len(active))))
            returns[ids[active]] += components.sum(axis=0)
            state.assign(active, rows)
            active = active[outcome == ONGOING]
        everyone.assign(ids, state)
    return Rollouts.played(start, everyone, returns, per_episode)


def share_of_oracle(
    returns: np.ndarray, oracle: np.ndarray, random: np.ndarray, rng: np.random.Generator, reps: int = 2000
) -> tuple[float, float, float]:
    """% of oracle and its 95 % bootstrap interval over customers (paired)."""

    def pct(index: Any) -> Any:
        r, o, z = returns[index].mean(-1), oracle[index].mean(-1), random[index].mean(-1)
        return 100.0 * (r - z) / (o - z)

    n = len(returns)
    boot = pct(rng.integers(0, n, (reps, n)))
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(pct(np.arange(n))), float(low), float(high)


def _count(low: int, high: int, what: str) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text.replace(",", "").replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}: {text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what}: {value:,} is out of range {low:,} to {high:,}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    from cs_tui.seeds import seed_arg

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=_count(2, MAX_CUSTOMERS, "--customers"), default=1000)
    parser.add_argument("--seed", type=seed_arg(), default=1, help="the customers' (cs-tui evaluate's --seed)")
    parser.add_argument("--industry", default="mixed")
    parser.add_argument("--particles", type=_count(8, MAX_PARTICLES, "--particles"), default=512)
    parser.add_argument("--plan-particles", type=_count(1, MAX_PARTICLES, "--plan-particles"), default=32)
    parser.add_argument("--rollouts", type=_count(1, MAX_ROLLOUTS, "--rollouts"), default=8)
    parser.add_argument(
        "--block",
        type=_count(1, MAX_CUSTOMERS, "--block"),
        default=500,
        help="customers the planner serves at once (its memory: some 0.4 MB a customer at 512 particles)",
    )
    parser.add_argument("--planner-seed", type=seed_arg(), default=7, help="the planner's own draws")
    parser.add_argument("--noise-floor", action="store_true", help="also the oracle with another planning seed")
    parser.add_argument("--agent", nargs="*", default=[], help="agents to score on the same customers")
    parser.add_argument("--save", type=Path, help="write every row's per-customer returns to this .npz")
    parser.add_argument(
        "--record",
        type=Path,
        metavar="DIR",
        help="measure nothing: write the planner's conversations with --customers customers to DIR as "
        "play-pane recordings (cs-tui train --warm-start DIR)",
    )
    parser.add_argument(
        "--record-seed",
        type=seed_arg(),
        default=RECORD_SEED,
        help="--record's customers are those of reset(seed=RECORD_SEED + i)",
    )
    args = parser.parse_args(argv)
    if args.record is not None:
        return _record(parser, args, sys.argv[1:] if argv is None else argv)
    from cs_env.env import check_industry
    from cs_env.evaluate import escalation_quality, metrics, reference_rollouts, rollout
    from cs_env.policies import OraclePolicy

    try:
        industry = check_industry(args.industry)
    except ValueError as exc:
        parser.error(str(exc))
    n = args.customers
    print("$ python benchmarks/information_ceiling.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    print(
        f"{industry}, {n:,} customers of rollout(seed={args.seed}) (cs-tui evaluate --episodes {n} --seed {args.seed})"
    )
    print(f"load {os.getloadavg()[0]:.1f}; CPU / wall seconds per 1,000 customers after each row\n", flush=True)
    rng = np.random.default_rng(0)
    saved: dict[str, np.ndarray] = {}

    def timed(fn: Any) -> tuple[Any, str]:
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        per = 1000 / n
        return out, f"{(time.process_time() - cpu) * per:.1f} / {(time.perf_counter() - wall) * per:.1f}"

    (random_r, oracle_r), seconds = timed(lambda: reference_rollouts(industry, n, args.seed))
    saved["random"], saved["oracle"] = random_r.returns, oracle_r.returns
    print(f"{'policy':<34}{'return ± 95 % CI':>18}{'% of oracle [95 % CI]':>25}{'vs oracle, paired':>20}  CPU/wall s")

    def row(label: str, r: Any, seconds: str) -> None:
        saved[label] = r.returns
        if args.save:
            np.savez(args.save, **saved)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
        m = metrics(r)
        pct, low, high = share_of_oracle(r.returns, oracle_r.returns, random_r.returns, rng)
        diff = r.returns - oracle_r.returns
        se = diff.std(ddof=1) / np.sqrt(n)
        print(
            f"{label:<34}{m.mean_return:>10.3f} ± {m.ci95:.3f}{pct:>10.1f} [{low:.1f}, {high:.1f}]"
            f"{diff.mean():>+12.3f} ± {1.96 * se:.3f}  {seconds}",
            flush=True,
        )
        recall, needless = escalation_quality(r)
        print(
            f"{'':<34}resolved {m.resolution_rate:.1%}, escalated {m.escalation_rate:.1%} (recall {recall:.1%}, "
            f"needless {needless:.1%}), abandoned {m.abandonment_rate:.1%}, timeout {m.timeout_rate:.1%}",
            flush=True,
        )

    row("oracle (the reference)", oracle_r, seconds)
    if args.noise_floor:
        other = OraclePolicy(industry, seed=args.seed + 1_000_003)
        r, seconds = timed(lambda: rollout(other, industry=industry, episodes=n, seed=args.seed))
        row("oracle, another planning seed", r, seconds)
    planner = _planner(industry, args)
    label = f"belief QMDP (P{args.particles} m{args.plan_particles} k{args.rollouts})"
    r, seconds = timed(lambda: play_in_blocks(planner, industry, n, args.seed, args.block))
    row(label, r, seconds)
    planner_returns = r.returns
    print(
        f"{'':<34}filter: {planner.replays} refiltered from the opening, {planner.collapses} "
        f"still unexplained, {planner.resamples:,} resamplings"
    )
    ids, belief, turns = (np.concatenate(part) for part in zip(*planner.specialist_belief, strict=True))
    truth = r.needs_specialist[ids]
    briers = [f"{np.mean((belief[turns == k] - truth[turns == k]) ** 2):.3f}" for k in range(6) if (turns == k).any()]
    prior = r.needs_specialist.mean()
    print(
        f"{'':<34}Brier of P(needs specialist) at turns 0-5: {' '.join(briers)} (a constant {prior:.2f}: "
        f"{np.mean((prior - r.needs_specialist) ** 2):.3f}); peak memory "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    for spec in args.agent:
        from cs_tui.agents import load_agent

        agent = load_agent(spec, industry=industry, seed=args.seed)
        r, seconds = timed(lambda agent=agent: rollout(agent, industry=industry, episodes=n, seed=args.seed))
        row(spec, r, seconds)
        index = rng.integers(0, n, (2000, n))
        gap = oracle_r.returns[index].mean(-1) - random_r.returns[index].mean(-1)
        ahead = 100.0 * (planner_returns[index].mean(-1) - r.returns[index].mean(-1)) / gap
        points = (
            100.0 * (planner_returns.mean() - r.returns.mean()) / (oracle_r.returns.mean() - random_r.returns.mean())
        )
        low, high = np.percentile(ahead, [2.5, 97.5])
        print(
            f"{'':<34}the belief planner's lead over {spec}: {points:+.1f} points of % of oracle "
            f"[{low:+.1f}, {high:+.1f}]"
        )
        # where the lead comes from: each group's share of it (the shares add up to the lead)
        whole = oracle_r.returns.mean() - random_r.returns.mean()
        lead = (planner_returns - r.returns) / whole * 100.0 / n
        assert r.needs_specialist is not None
        needed = r.needs_specialist > 0
        names = [i.name for i in default_catalog().inquiries]
        by_inquiry = sorted(((lead[r.inquiries == k].sum(), names[k]) for k in np.unique(r.inquiries)), reverse=True)
        print(
            f"{'':<34}of it: specialists' cases {lead[needed].sum():+.1f}, the frontline's {lead[~needed].sum():+.1f}; "
            + ", ".join(f"{name} {share:+.1f}" for share, name in by_inquiry[:5])
        )
    print(f"{'random':<34}{random_r.returns.mean():>10.3f}")
    return 0


def _planner(industry: str, args: argparse.Namespace) -> BeliefPlanner:
    """The planner the command line asks for."""
    return BeliefPlanner(
        industry,
        particles=args.particles,
        plan_particles=args.plan_particles,
        rollouts=args.rollouts,
        seed=args.planner_seed,
    )


def _record(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str]) -> int:
    """``--record DIR``: the planner's conversations as recordings; a summary line."""
    from cs_env.env import check_industry
    from cs_tui.seeds import MAX_SEED

    try:
        industry = check_industry(args.industry)
    except ValueError as exc:
        parser.error(str(exc))
    if args.record_seed + args.customers - 1 > MAX_SEED:
        parser.error(
            f"--record-seed: {args.record_seed:,} + --customers {args.customers:,} passes the top seed {MAX_SEED:,}"
        )
    if args.record.exists() and not args.record.is_dir():
        parser.error(f"--record {args.record}: not a folder")
    print("$ python benchmarks/information_ceiling.py " + shlex.join(argv), flush=True)
    planner = _planner(industry, args)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        returns = record_conversations(
            planner, args.record, args.customers, args.record_seed, industry=industry, block=args.block
        )
    except OSError as error:
        print(f"--record {args.record}: cannot write ({error.strerror or error})", file=sys.stderr)
        return 1
    print(
        f"{len(returns):,} recordings in {args.record} (seeds {args.record_seed:,} to "
        f"{args.record_seed + args.customers - 1:,}): mean return {np.mean(returns):.3f}; filter: "
        f"{planner.replays} refiltered, {planner.collapses} unexplained; "
        f"{time.process_time() - cpu:.0f} CPU s, {time.perf_counter() - wall:.0f} wall s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
