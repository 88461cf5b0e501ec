"""Baseline policies: random, each fixed strategy, a blind script, a lookup table, a support lead's rules,
and the oracle.

A policy is a plain callable from observations to actions. Given one observation (shape ``(18,)``) it
returns an ``int``; given a batch (shape ``(n, 18)``) an integer array. The oracle alone also reads the
true hidden state, passed as ``state=`` (a :class:`~cs_env.customer.CustomerState`); it sets
``needs_state = True`` so runners know to pass it.

A policy that remembers the conversation so far (a recurrent or frame-stacking agent) is called one
conversation at a time, starting over at each observation whose ``conversation_length`` is 0, or, on a
batch, with ``episodes=`` (an integer array naming each row's conversation); it sets
``needs_episodes = True`` so that :func:`cs_env.evaluate.rollout` passes them.

A policy that may fail to answer (an external agent behind a URL or a child process that hangs,
crashes or answers nonsense) raises :class:`PolicyFailure` for one observation (the scenario runner
fails that trial with its reason and goes on) and answers ``NO_ANSWER`` for the rows of a batch it could
not answer (:func:`cs_env.evaluate.rollout` ends those conversations unresolved, as a timeout).
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import numpy as np

from cs_env.customer import CUSTOMER_DRAWS, ONGOING, TURN_DRAWS, CustomerState, Tables, new_customers
from cs_env.domain import N_STRATEGIES, STRATEGY_NAMES, ResponseStrategy
from cs_env.dynamics import DYNAMICS, Dynamics
from cs_env.files import is_int
from cs_env.industries import Catalog, default_catalog
from cs_env.turn import BatchTurn, receptiveness

S = ResponseStrategy

#: A batched policy's action for a row it could not answer (see :class:`PolicyFailure`).
NO_ANSWER = -1


class PolicyFailure(RuntimeError):
    """A policy could not answer an observation; the message says why (timed out, crashed, ...)."""


class Policy(Protocol):
    def __call__(self, obs: np.ndarray) -> Any: ...


def _batched(obs: np.ndarray) -> tuple[np.ndarray, bool]:
    obs = np.asarray(obs, dtype=np.float64)
    return (obs[None, :], True) if obs.ndim == 1 else (obs, False)


def _unbatched(actions: np.ndarray, single: bool) -> Any:
    return int(actions[0]) if single else actions.astype(np.int64)


class RandomPolicy:
    """Uniformly random strategies from its own seeded generator."""

    name = "random"

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: np.ndarray) -> Any:
        batch, single = _batched(obs)
        return _unbatched(self.rng.integers(0, N_STRATEGIES, len(batch)), single)


class FixedPolicy:
    """The same strategy every turn."""

    def __init__(self, strategy: int) -> None:
        self.strategy = ResponseStrategy(strategy)
        self.name = STRATEGY_NAMES[self.strategy]

    def __call__(self, obs: np.ndarray) -> Any:
        batch, single = _batched(obs)
        return _unbatched(np.full(len(batch), int(self.strategy)), single)


class ScriptPolicy:
    """A script that ignores the customer: the same strategies turn by turn, the last one repeated.

    The default is the blind script a new hire might follow: empathise, offer the quick fix, then go
    technical until it ends.
    """

    name = "script"
    DEFAULT = (S.EMPATHETIC, S.QUICK_RESOLUTION, S.TECHNICAL)

    def __init__(self, script: tuple[int, ...] = DEFAULT) -> None:
        self.script = np.array([int(ResponseStrategy(a)) for a in script], dtype=np.int64)

    def __call__(self, obs: np.ndarray) -> Any:
        o, single = _batched(obs)
        turn = np.minimum(o[:, 3].astype(np.int64), len(self.script) - 1)
        return _unbatched(self.script[turn], single)


#: Conversations and seed the lookup tables are fitted on: a seed no figure of docs/results.md evaluates on.
LOOKUP_FIT_EPISODES = 20_000
LOOKUP_FIT_SEED = 12_345
#: What a lookup table's cells read besides the inquiry and the turn, and how many values each takes.
LOOKUP_KEYS = {"sentiment": 5, "tier": 3, "hint": 3}
#: The specialist hint's three bins for the ``hint`` key: below 0.45 (the frontline's cases only), from
#: 0.65 (a specialist's only), and between (both).
HINT_BINS = (0.45, 0.65)
#: A cell seen fewer times than this in the fit plays its inquiry's best strategy for the turn instead.
MIN_CELL = 20


def lookup_cells(obs: np.ndarray, keys: tuple[str, ...]) -> np.ndarray:
    """Each observation's cell of a lookup table keyed by the inquiry and ``keys`` (without the turn)."""
    cell = obs[:, 0].astype(np.int64)
    for key in keys:
        value = {
            "sentiment": lambda: obs[:, 1].astype(np.int64),
            "tier": lambda: obs[:, 4].astype(np.int64),
            "hint": lambda: np.searchsorted(HINT_BINS, obs[:, 17], side="right"),
        }[key]()
        cell = cell * LOOKUP_KEYS[key] + value
    return cell


class LookupTablePolicy:
    """One strategy per cell and turn, fitted on other conversations: what a table can learn.

    Its cells are (inquiry, sentiment, tier) by default (``keys``), with ``("sentiment", "tier", "hint")``
    also the specialist hint in three bins (``lookup_hint``); ``keys=()`` is one strategy per inquiry.
    It reads nothing else (no progress, no other hint, nothing of earlier turns). The table is fitted
    on ``LOOKUP_FIT_EPISODES`` conversations from ``LOOKUP_FIT_SEED`` (never the seeds figures are
    measured on) by coordinate ascent: turn by turn, each cell's entry becomes the strategy with the best
    mean return with the rest of the table held, twice over. Fitted once per process and setting, on
    first use.
    """

    def __init__(
        self, industry: str = "mixed", max_turns: int = 10, keys: tuple[str, ...] = ("sentiment", "tier")
    ) -> None:
        self.industry, self.max_turns, self.keys = industry, max_turns, tuple(keys)
        self.name = "lookup_hint" if "hint" in self.keys else "lookup"
        self._table: np.ndarray | None = None

    @property
    def table(self) -> np.ndarray:
        """The fitted ``(cells, max_turns)`` strategies."""
        if self._table is None:
            self._table = fit_lookup_table(self.industry, self.max_turns, self.keys)
        return self._table

    def __call__(self, obs: np.ndarray) -> Any:
        o, single = _batched(obs)
        turn = np.minimum(o[:, 3].astype(np.int64), self.max_turns - 1)
        return _unbatched(self.table[lookup_cells(o, self.keys), turn], single)


@functools.lru_cache(maxsize=8)
def fit_lookup_table(
    industry: str,
    max_turns: int,
    keys: tuple[str, ...] = ("sentiment", "tier"),
    episodes: int = LOOKUP_FIT_EPISODES,
    seed: int = LOOKUP_FIT_SEED,
    passes: int = 2,
) -> np.ndarray:
    """The :class:`LookupTablePolicy` table, fitted by coordinate ascent on ``episodes`` conversations.

    For each turn, all eight strategies are tried on copies of the same conversations with the same
    draws (common random numbers: the differences come from the strategy, not luck), the rest of the
    conversation played by the table; each cell keeps its best (a cell seen fewer than ``MIN_CELL``
    times its inquiry's best).
    """
    tables = Tables.build(default_catalog(), industry)
    rng = np.random.default_rng(seed)
    start = new_customers(tables, rng.random((CUSTOMER_DRAWS, episodes)))
    kernel = BatchTurn(DYNAMICS, max_turns)
    draws = rng.random((max_turns, TURN_DRAWS, episodes))
    n_inquiries = len(tables.inquiry_cdf)
    n_cells = n_inquiries * int(np.prod([LOOKUP_KEYS[k] for k in keys]))
    per_inquiry = n_cells // n_inquiries
    table = np.full((n_cells, max_turns), int(S.QUICK_RESOLUTION), dtype=np.int64)
    copies = start.select(np.tile(np.arange(episodes), N_STRATEGIES))
    tried = np.repeat(np.arange(N_STRATEGIES), episodes)
    for _ in range(passes):
        for turn in range(max_turns):
            s = copies.copy()
            total = np.zeros(len(tried))
            alive = np.ones(len(tried), dtype=bool)
            cell_then = np.zeros(len(tried), dtype=np.int64)
            reached = np.zeros(len(tried), dtype=bool)  # the conversations still going at ``turn``
            for t in range(max_turns):
                cells = lookup_cells(kernel.observe(s).astype(np.float64), keys)
                if t == turn:
                    cell_then, reached = cells, alive.copy()
                action = tried if t == turn else table[cells, t]
                u = np.tile(draws[t], N_STRATEGIES)
                components, outcome = kernel.play(s, action, u)
                total += alive * (components[0] + components[1] + components[2] + components[3])
                alive &= outcome == 0
                if not alive.any():
                    break
            by_cell = np.zeros((N_STRATEGIES, n_cells))
            np.add.at(by_cell, (tried[reached], cell_then[reached]), total[reached])
            count = np.bincount(cell_then[reached], minlength=n_cells) / N_STRATEGIES
            by_inquiry = by_cell.reshape(N_STRATEGIES, n_inquiries, per_inquiry).sum(axis=2)
            fallback = np.repeat(by_inquiry.argmax(axis=0), per_inquiry)
            seen = count > 0
            best = np.where(count >= MIN_CELL, by_cell.argmax(axis=0), fallback)
            table[seen, turn] = best[seen]
    table.flags.writeable = False
    return table


class HeuristicPolicy:
    """The rules a support lead would write, reading only the observation.

    Escalate urgent fraud, furious VIPs with complex issues, and issues two solution attempts barely
    moved; calm upset customers first (apologise for disputes); offer a product to happy, interested
    customers on sales inquiries; otherwise solve: quick fix for simple issues, technical depth for
    technical customers, a walkthrough for the rest.
    """

    name = "heuristic"
    SALES_INQUIRIES = (
        "loan_application",
        "investment_advice",
        "discount_inquiry",
        "product_recommendation",
        "feature_request",
    )
    DISPUTES = ("transaction_dispute", "product_return", "shipping_issue", "billing_dispute")

    def __init__(self, catalog: Catalog | None = None) -> None:
        names = [i.name for i in (catalog or default_catalog()).inquiries]
        self.fraud = names.index("fraud_report")
        self.sales_ids = np.array([names.index(n) for n in self.SALES_INQUIRIES])
        self.dispute_ids = np.array([names.index(n) for n in self.DISPUTES])

    def __call__(self, obs: np.ndarray) -> Any:
        o, single = _batched(obs)
        inquiry, sentiment, urgency, tier = o[:, 0], o[:, 1], o[:, 2], o[:, 4]
        progress, complexity, savvy, openness = o[:, 7], o[:, 8], o[:, 9], o[:, 10]
        last_progress, empathy_used, solutions, offers = o[:, 13], o[:, 14], o[:, 15], o[:, 16]
        stuck = (solutions >= 0.5) & (last_progress < 0.05) & (progress < 0.3)
        escalate = ((inquiry == self.fraud) & (urgency >= 3)) | ((tier == 2) & (sentiment == 0) & (complexity > 0.65))
        escalate |= stuck
        upset = (sentiment <= 1) & (empathy_used < 0.5)
        dispute = np.isin(inquiry, self.dispute_ids)
        offer = np.isin(inquiry, self.sales_ids) & (sentiment >= 3) & (openness > 0.6) & (offers == 0)
        solve = np.where(complexity < 0.35, S.QUICK_RESOLUTION, np.where(savvy > 0.55, S.TECHNICAL, S.EDUCATIONAL))
        action = np.where(offer, S.PRODUCT_RECOMMEND, solve)
        action = np.where(upset, np.where(dispute, S.APOLOGETIC, S.EMPATHETIC), action)
        action = np.where(escalate, S.ESCALATE, action)
        return _unbatched(action, single)


def trait_policy(s: CustomerState, dynamics: Dynamics = DYNAMICS) -> np.ndarray:
    """A greedy policy that sees the hidden traits: the oracle's default for its lookahead."""
    options = np.array([S.TECHNICAL, S.EDUCATIONAL, S.QUICK_RESOLUTION, S.PRODUCT_RECOMMEND])
    solve = options[s.potential[:, options].argmax(axis=1)]
    receptive = receptiveness(dynamics, s)
    offer = np.where(s.offered_upsell == 0, S.UPSELL, S.PRODUCT_RECOMMEND)
    can_offer = (receptive > 0.45) & ((s.offered_upsell == 0) | (s.offered_recommend == 0))
    action = np.where(can_offer, offer, solve)
    action = np.where((s.sat < 0.3) & (s.empathy_uses < 2), S.EMPATHETIC, action)
    return np.where(s.needs_specialist > 0, S.ESCALATE, action)


#: The oracle's settings: the cheapest within 0.3 % of its return of every deeper or wider setting measured
#: by ``benchmarks/oracle_convergence.py`` (docs/results.md, the convergence table).
ORACLE_ROLLOUTS = 512
ORACLE_DEPTH = 1
#: Racing: every strategy first gets this many rollouts, the best ``ORACLE_CONTENDERS`` the rest.
ORACLE_SCREEN = 64
ORACLE_CONTENDERS = 3
#: Names the oracle's algorithm and settings: a reference cached from another oracle is never reused
#: (``cs_tui.training.trainer.reference_for``). Change it with any change to the oracle.
ORACLE_ID = f"rollout-d{ORACLE_DEPTH}k{ORACLE_ROLLOUTS}s{ORACLE_SCREEN}c{ORACLE_CONTENDERS}"
#: Inner levels' rollouts per strategy when ``depth`` > 1.
ORACLE_INNER_ROLLOUTS = 16
#: At most this many conversation copies are played at once: the batch is planned in slices, so the
#: planning's memory (about 0.9 KB a copy at its peak: some 230 MB) does not grow with the batch.
ORACLE_MAX_ROWS = 1 << 18


class OraclePolicy:
    """The ceiling: the best play with full information, as near as sampling gets.

    It sees the true hidden state and plans with the simulator's own rules, through the kernel's public
    API only (:meth:`BatchTurn.play` on copies of the state, ``TURN_DRAWS`` fresh uniforms a turn from
    its own generator, never the env's draws), so it plans unchanged whatever the dynamics. At every turn
    it tries each strategy on many rollouts, each followed by the rest of the conversation played by a
    base policy, with common random numbers across strategies (the same draws for every first strategy:
    differences come from the strategy, not luck), and plays the best mean return: one step of policy
    iteration on the base (Bertsekas' rollout algorithm), replanned each turn. The rollouts are raced:
    every strategy gets ``screen`` of them, the ``contenders`` best so far the rest of ``rollouts``
    (``screen`` >= ``rollouts``: every strategy gets them all). With ``depth`` d the rest of each rollout
    is played by the depth d-1 oracle (``inner_rollouts`` per strategy, not raced), replanning every
    turn: nested rollouts; depth 0 is the base, :func:`trait_policy` unless ``base`` is given.

    The defaults (depth 1, 512 rollouts raced from 64 to the best 3) were measured on CustomerSupport-v1
    (``benchmarks/oracle_convergence.py``: the same customers and draws for every setting, differences
    paired; docs/results.md, the convergence table): 1,024 raced rollouts add +0.20 % ± 0.13 of the return,
    256 take -0.06 % ± 0.17, while 64 unraced ones fall 0.4-1 % short (a v1 rollout's return varies
    much). Depth 2 costs some 70 times as much: on v1 +1.0 % ± 0.8 on 600 customers (not significant,
    not settled), on v0 -0.5 % ± 0.7.
    10,000 conversations cost about 80 CPU seconds.
    """

    name = "oracle"
    needs_state = True

    def __init__(
        self,
        industry: str = "mixed",
        max_turns: int = 10,
        rollouts: int = ORACLE_ROLLOUTS,
        seed: int | None = None,
        catalog: Catalog | None = None,
        *,
        depth: int = ORACLE_DEPTH,
        inner_rollouts: int = ORACLE_INNER_ROLLOUTS,
        screen: int = ORACLE_SCREEN,
        contenders: int = ORACLE_CONTENDERS,
        base: Any = None,
        dynamics: Dynamics = DYNAMICS,
        max_rows: int = ORACLE_MAX_ROWS,
    ) -> None:
        counts = (
            ("rollouts", rollouts, 1),
            ("depth", depth, 0),
            ("inner_rollouts", inner_rollouts, 1),
            ("screen", screen, 1),
            ("contenders", contenders, 1),
        )
        for label, value, low in counts:
            if not is_int(value) or value < low:
                raise ValueError(f"OraclePolicy: {label} must be an integer of at least {low}, got {value!r}")
        self.tables = Tables.build(catalog or default_catalog(), industry)
        self.max_turns = max_turns
        self.kernel = BatchTurn(dynamics, max_turns)
        self.rollouts, self.depth, self.inner_rollouts = rollouts, depth, inner_rollouts
        self.screen, self.contenders = min(screen, rollouts), min(contenders, N_STRATEGIES)
        self.base = base if base is not None else functools.partial(trait_policy, dynamics=dynamics)
        self.max_rows = max_rows
        # streams of its own (the same seed as an env's never replays that env's draws), one per level counted
        # from the top, rngs[0]: oracles of any depth with one seed draw the same futures at the top (common
        # random numbers)
        self.rngs = [
            np.random.default_rng(None if seed is None else [seed, _ORACLE_STREAM, below]) for below in range(depth)
        ]

    def __call__(self, obs: np.ndarray, state: CustomerState | None = None) -> Any:
        if state is None:
            raise ValueError("the oracle needs the true hidden state: call it as oracle(obs, state=...)")
        single = np.ndim(state.sat) == 0
        batch = CustomerState.stack([state]) if single else state
        actions = self.plan(batch)
        return int(actions[0]) if single else actions

    def plan(self, state: CustomerState) -> np.ndarray:
        """Best strategy for each conversation in a batched ``state``."""
        return self._plan(state, self.depth)

    def _copies(self, depth: int) -> int:
        """Conversation copies one conversation planned at ``depth`` expands into, inner levels included."""
        copies = 1
        for level in range(depth, 0, -1):
            if level < self.depth or self.screen >= self.rollouts:
                copies *= N_STRATEGIES * (self.rollouts if level == self.depth else self.inner_rollouts)
            else:  # racing: the larger of its two rounds
                copies *= max(N_STRATEGIES * self.screen, self.contenders * (self.rollouts - self.screen))
        return copies

    def _plan(self, state: CustomerState, depth: int) -> np.ndarray:
        if depth == 0:
            return np.asarray(self.base(state), dtype=np.int64)
        n = len(state.sat)
        step = max(1, self.max_rows // self._copies(depth))
        if n > step:
            parts = [self._plan(state.select(slice(i, i + step)), depth) for i in range(0, n, step)]
            return np.concatenate(parts)
        every = np.broadcast_to(np.arange(N_STRATEGIES), (n, N_STRATEGIES))
        if depth < self.depth or self.screen >= self.rollouts:
            k = self.rollouts if depth == self.depth else self.inner_rollouts
            return self._returns(state, every, k, depth).mean(axis=2).argmax(axis=1)
        # racing: every strategy gets ``screen`` rollouts, the best ``contenders`` the rest
        first = self._returns(state, every, self.screen, depth)
        contenders = np.argsort(-first.mean(axis=2), axis=1, kind="stable")[:, : self.contenders]
        rest = self._returns(state, contenders, self.rollouts - self.screen, depth)
        kept = np.take_along_axis(first.sum(axis=2), contenders, axis=1)
        best = (kept + rest.sum(axis=2)).argmax(axis=1)
        return contenders[np.arange(n), best]

    def _returns(self, state: CustomerState, first: np.ndarray, k: int, depth: int) -> np.ndarray:
        """Returns ``(n, c, k)`` of ``k`` rollouts of each conversation of ``state`` opening with each of its
        ``c`` strategies ``first`` (n, c), the rest played at ``depth`` - 1; the same draws for every
        opening of a conversation (differences come from the strategy, not luck)."""
        n, c = first.shape
        per = c * k
        rows = state.select(np.repeat(np.arange(n), per))  # ordered (conversation, opening, rollout)
        action = np.repeat(first.reshape(-1), k)
        path = np.arange(n * per)  # each live copy's index into total
        draw = (path // per) * k + path % k  # (conversation, rollout)
        total = np.zeros(n * per)
        for _ in range(self.max_turns - int(state.turn.min())):
            u = self.rngs[self.depth - depth].random((TURN_DRAWS, n * k)).take(draw, axis=1)
            components, outcome = self.kernel.play(rows, action, u)
            total[path] += components[0] + components[1] + components[2] + components[3]
            ongoing = outcome == ONGOING
            if not ongoing.any():
                break
            if not ongoing.all():  # drop the finished copies (measured cheaper than playing them on unpaid)
                path, draw, rows = path[ongoing], draw[ongoing], rows.select(ongoing)
            action = self._plan(rows, depth - 1)
        return total.reshape(n, c, k)


#: Mixed into the oracle's seed: its planning draws are a stream apart from any env's.
_ORACLE_STREAM = 0x0AC1E


#: Every baseline's name, in the order they are listed to people: the references first, then each fixed
#: strategy. The one list: the CLI, the app's panes and :func:`baselines` all take it from here.
BASELINE_NAMES: tuple[str, ...] = ("random", "heuristic", "oracle", "script", "lookup", "lookup_hint", *STRATEGY_NAMES)


def baselines(industry: str = "mixed", max_turns: int = 10, seed: int = 0) -> dict[str, Any]:
    """Every baseline by name (:data:`BASELINE_NAMES`, in that order): random, heuristic, oracle, script,
    the two lookup tables, then the eight fixed strategies."""
    made: dict[str, Any] = {
        "random": RandomPolicy(seed),
        "heuristic": HeuristicPolicy(),
        "oracle": OraclePolicy(industry, max_turns, seed=seed),
        "script": ScriptPolicy(),
        "lookup": LookupTablePolicy(industry, max_turns),
        "lookup_hint": LookupTablePolicy(industry, max_turns, ("sentiment", "tier", "hint")),
        **{name: FixedPolicy(i) for i, name in enumerate(STRATEGY_NAMES)},
    }
    return {name: made[name] for name in BASELINE_NAMES}
