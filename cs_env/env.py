"""The single-conversation Gymnasium environment."""

from __future__ import annotations

import numbers
import sys
from typing import TYPE_CHECKING, Any, NamedTuple, SupportsFloat, TypeGuard, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from cs_env.customer import (
    CUSTOMER_DRAWS,
    PRODUCT_RECOMMEND,
    TURN_DRAWS,
    UPSELL,
    CustomerState,
    Tables,
    new_customers,
)
from cs_env.domain import (
    N_STRATEGIES,
    ONGOING_NAME,
    OUTCOME_NAMES,
    SENTIMENT_NAMES,
    STRATEGY_NAMES,
    TIER_NAMES,
    Outcome,
)
from cs_env.dynamics import DYNAMICS
from cs_env.industries import Catalog, default_catalog
from cs_env.reward import COMPONENTS
from cs_env.turn import OBS_SIZE, observe_one, play_turn, sentiment_of

if TYPE_CHECKING:
    from cs_env.narrate import Line

ONGOING, RESOLVED, ESCALATED, ABANDONED, TIMEOUT = map(int, Outcome)

#: The id the package registers, and the retired one (whose ``gym.make`` says what changed).
ENV_ID = "cs_env/CustomerSupport-v1"
V0_ID = "cs_env/CustomerSupport-v0"
#: Why v0 is gone, for ``gym.make`` of it and for anything trained or recorded on it.
V0_RETIRED = (
    f"Environment version v0 for `cs_env/CustomerSupport` is deprecated. Please use `{ENV_ID}` instead. "
    "v1 changed the dynamics: satisfaction is paid on its change, up and down; a customer who leaves costs "
    "goodwill and value; a timeout is a failure; offers are not progress; whether a case needs a specialist "
    "depends on the issue alone, and the specialist's outcome is paid when the episode ends; leaving is a "
    "hazard of anger and lost patience; observation indices 5 and 11 are noisy cues, not the hidden values. "
    "A model or a recording made on v0 must be made again."
)


def version_problem(env_id: object, what: str = "trained") -> str | None:
    """None when ``env_id`` (what a model, run or recording says it was made on) is this env's id; else
    the reason it must be made again: ``"trained on CustomerSupport-v0: retrain ..."`` for v0 (and for
    files from before the id was recorded, which were all v0)."""
    if env_id == ENV_ID:
        return None
    again = {"trained": "retrain", "recorded": "record it again"}[what]
    name = "CustomerSupport-v0" if env_id in (None, V0_ID) else repr(env_id)[:60]
    return f"{what} on {name}: {again} (this cs-tui plays {ENV_ID}, whose customer's dynamics changed)"


INDUSTRY_CHOICES_EXTRA = ("mixed",)
DEFAULT_MAX_TURNS = 10
OBS_NAMES = (
    "inquiry_type",
    "sentiment",
    "urgency",
    "conversation_length",
    "tier",
    "satisfaction_cue",
    "time_in_conversation",
    "ctx_progress",
    "ctx_complexity_hint",
    "ctx_savvy_hint",
    "ctx_openness_hint",
    "ctx_patience_cue",
    "ctx_last_satisfaction_change",
    "ctx_last_progress",
    "ctx_empathy_used",
    "ctx_solutions_tried",
    "ctx_offers_made",
    "ctx_specialist_hint",
)
PIN_TRAITS = ("complexity", "savvy", "openness", "patience")
#: info's key per reward component, flat (as Gymnasium's MuJoCo envs name theirs): what array-minded clients
#: such as TorchRL's info reader can spec; ``named_info`` gathers them in ``reward_components``
REWARD_KEYS = tuple(f"reward_{name}" for name in COMPONENTS)
#: info's keys that carry a code (numpy int64), each an index into the env's ``info_names[key]``
#: (``SENTIMENT_NAMES``, ``TIER_NAMES``, its catalog's industries and inquiries, ``OUTCOME_NAMES``). Codes, not strings:
#: a vector env stacks them into int64 arrays, and TorchRL's info reader specs them (it specs no string)
CODED_INFO_KEYS = ("sentiment", "tier", "industry", "inquiry_type", "outcome")


def info_names(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """The names each of ``CODED_INFO_KEYS`` indexes, for envs on ``catalog``."""
    return {
        "sentiment": SENTIMENT_NAMES,
        "tier": TIER_NAMES,
        "industry": tuple(catalog.industry_names),
        "inquiry_type": tuple(i.name for i in catalog.inquiries),
        "outcome": OUTCOME_NAMES,
    }


def named_info(info: dict[str, Any], names: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """``info`` as people read it: each coded key's name (``names[key][code]``), and the reward components
    together in ``reward_components`` too. One env's info gives strings and plain Python numbers (what JSON
    and a person's code expect); a vector env's (arrays of codes, ``final_info`` nested) gives object arrays
    of names beside its numeric arrays."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key in names and not isinstance(value, dict):
            table = names[key]
            out[key] = table[int(value)] if np.ndim(value) == 0 else np.array(table, dtype=object)[value]
        elif isinstance(value, dict):
            out[key] = named_info(value, names)
        else:
            out[key] = value.item() if isinstance(value, np.generic) else value
    if all(key in info for key in REWARD_KEYS):
        out["reward_components"] = {name: out[key] for name, key in zip(COMPONENTS, REWARD_KEYS, strict=True)}
    return out


#: (terminated, truncated) by the outcome code after a step: a time limit truncates, any other end terminates
_ENDS = tuple((code in (RESOLVED, ESCALATED, ABANDONED), code == TIMEOUT) for code in map(int, Outcome))
_ZERO = np.float64(0.0)  # info's reward components at a reset, and efficiency and penalty on most steps
DRAW_BLOCK = 1024
ARRIVAL_BLOCK = 256


def valid_industries(catalog: Catalog | None = None) -> tuple[str, ...]:
    """Industry names an env accepts: every catalog industry, and ``mixed``."""
    return (*(catalog or default_catalog()).industry_names, *INDUSTRY_CHOICES_EXTRA)


def check_industry(industry: object, catalog: Catalog | None = None) -> str:
    """Return ``industry`` if valid, else raise ``ValueError`` listing the valid ones."""
    choices = valid_industries(catalog)
    if industry not in choices:
        raise ValueError(f"unknown industry {industry!r}; valid industries: {', '.join(choices)}")
    return str(industry)


def retired_v0(**kwargs: Any) -> gym.Env[np.ndarray, int]:
    """The entry point of ``cs_env/CustomerSupport-v0``: raises Gymnasium's ``DeprecatedEnv``, naming v1
    and what changed (the message Gymnasium gives for a retired version, plus the changes)."""
    raise gym.error.DeprecatedEnv(V0_RETIRED)


def _whole(value: object) -> TypeGuard[int | np.integer]:
    """An integer (a bool is not one here)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


#: The longest conversation an env plays: far past any real one (the shipped envs play 10 turns), and
#: the turn count stays exact in the float32 observation.
MAX_TURNS_CEILING = 1_000


def check_max_turns(max_turns: object) -> int:
    """Return ``max_turns`` if it is an integer 1-:data:`MAX_TURNS_CEILING`, else raise ``ValueError``."""
    if not _whole(max_turns) or not 1 <= max_turns <= MAX_TURNS_CEILING:
        shown = repr(max_turns) if len(repr(max_turns)) <= 40 else repr(max_turns)[:40] + "..."
        raise ValueError(f"max_turns must be an integer from 1 to {MAX_TURNS_CEILING:,}, got {shown}")
    return int(max_turns)


def observation_space(catalog: Catalog, max_turns: int) -> spaces.Box:
    """The 18-value Box shared by the single and the batched env."""
    high = np.ones(OBS_SIZE, dtype=np.float32)
    high[:5] = (len(catalog.inquiries) - 1, 4, 4, max_turns, 2)
    return spaces.Box(np.zeros(OBS_SIZE, dtype=np.float32), high, dtype=np.float32)


class TurnRecord(NamedTuple):
    """One turn as it happened, kept for the transcript and for replays."""

    action: int
    sentiment_before: int  # as the customer's words showed it (the observation's), before and after the turn
    sentiment: int
    satisfaction: float  # the satisfaction cue after the turn (what showed; the hidden value is not kept)
    reward: float
    components: tuple[float, ...]
    outcome: int


#: a TurnRecord from its fields in order, as ``TurnRecord._make`` makes one, without the Python-level frame
#: of a named tuple's ``__new__`` (a step records one)
_new_record = tuple.__new__


class Exchange(NamedTuple):
    """One turn in words: the agent's line, the customer's reply, and the turn as recorded."""

    turn: int  # 1-based
    record: TurnRecord
    agent: Line
    customer: Line
    outcome: str  # the conversation's outcome after this turn ("ongoing" while it goes on)


def conversation_in_words(
    inquiry: str, s: Any, seed: int, opening_sentiment: int, opening_satisfaction: float, history: list[TurnRecord]
) -> tuple[Line, list[Exchange]]:
    """A conversation in words (the single env's, or one of the batched env's for its frames): the opening
    line of the customer ``s`` (its ``urgency``, ``tier`` and ``specialist_hint``), then each turn's exchange."""
    from cs_env.narrate import narrate, opening_line  # words are built only when asked for

    opening = opening_line(
        inquiry=inquiry,
        sentiment=opening_sentiment,
        urgency=s.urgency,
        tier=s.tier,
        seed=seed,
        specialist_hint=s.specialist_hint,
    )
    exchanges = []
    before = opening_satisfaction
    for turn, rec in enumerate(history, start=1):
        outcome = OUTCOME_NAMES[rec.outcome]
        agent, customer = narrate(
            inquiry=inquiry,
            strategy=rec.action,
            sentiment_before=rec.sentiment_before,
            sentiment_after=rec.sentiment,
            outcome=outcome,
            turn=turn,
            seed=seed,
            satisfaction_change=rec.satisfaction - before,
        )
        before = rec.satisfaction
        exchanges.append(Exchange(turn, rec, agent, customer, outcome))
    return opening, exchanges


class CustomerSupportEnv(gym.Env[np.ndarray, int]):
    """A customer-support conversation, one agent turn per step.

    ## Description
    A customer arrives with an inquiry (15 types across banking, retail and tech), a sentiment, an
    urgency and a value tier. Behind them are hidden traits drawn per episode from industry data
    (`cs_env/industries/*.toml`): how complex the issue is, how technical the customer is, how open to
    an offer, how patient, and whether only a specialist can solve it. Each turn the agent picks a
    response strategy; the turn's rules (`cs_env/turn.py`, every coefficient in `cs_env/dynamics.py`)
    move satisfaction, progress toward resolution and patience accordingly. The best answer depends
    on the situation: calm an angry customer before instructing them, match technical depth to the
    customer, make offers only to receptive ones, and escalate exactly when a specialist is needed.

    ## Action Space
    `Discrete(8)`: 0 empathetic, 1 technical, 2 escalate, 3 product_recommend, 4 apologetic,
    5 educational, 6 quick_resolution, 7 upsell (`cs_env.ResponseStrategy`).

    ## Observation Space
    `Box(18,)` float32:

    | index | name | range | meaning |
    |---|---|---|---|
    | 0 | inquiry_type | 0-14 | bfsi 0-4, retail 5-9, tech 10-14 (ids from the industry files) |
    | 1 | sentiment | 0-4 | angry, frustrated, neutral, satisfied, delighted: the fifth of the satisfaction cue |
    | 2 | urgency | 0-4 | |
    | 3 | conversation_length | 0-max_turns | turns so far |
    | 4 | tier | 0-2 | basic, premium, vip |
    | 5 | satisfaction_cue | 0-1 | what the words show of satisfaction: it plus noise 0.3 wide, fresh each turn |
    | 6 | time_in_conversation | 0-1 | simulated handle time used; strategies take different time |
    | 7 | ctx_progress | 0-1 | how far the issue is toward resolution (the customer confirms steps) |
    | 8 | ctx_complexity_hint | 0-1 | how complex the issue sounds: complexity plus noise 0.5 wide, fresh each turn |
    | 9 | ctx_savvy_hint | 0-1 | how technical the customer's words are: savvy plus noise 0.6 wide, fresh each turn |
    | 10 | ctx_openness_hint | 0-1 | interest in offers; sharpens once an offer was made |
    | 11 | ctx_patience_cue | 0-1 | signs of remaining patience: the hidden value plus noise 0.3 wide, fresh each turn |
    | 12 | ctx_last_satisfaction_change | 0-1 | 0.5 + 2 x the last turn's change of the satisfaction cue |
    | 13 | ctx_last_progress | 0-1 | progress the last turn made (barely any after a solution: a specialist's case?) |
    | 14 | ctx_empathy_used | 0-1 | empathetic/apologetic turns so far / 4, capped |
    | 15 | ctx_solutions_tried | 0-1 | technical/educational/quick turns so far / 4, capped |
    | 16 | ctx_offers_made | 0-1 | 0.5 per distinct offer made (product recommendation, upsell) |
    | 17 | ctx_specialist_hint | 0-1 | how much the customer's words point to a specialist's case (noisy) |

    ## Starting State
    Inquiry by the industry's shares (`mixed`: industry uniformly, then its shares), tier by the
    industry's tier shares, urgency and sentiment by the inquiry's priors, traits around the
    inquiry's means (a pinned sentiment is the hidden satisfaction's fifth: the cue the agent sees may
    read a neighbouring one). `reset(options=...)` can pin any of `inquiry` (name), `tier`, `sentiment`
    (name or code), `urgency` (0-4), `complexity`, `savvy`, `openness`, `patience` (0-1) and
    `needs_specialist` (bool), for scenarios.

    ## Rewards
    The sum of four components, each in info's `reward_<component>` (`cs_env/reward.py`):
    satisfaction (2 x its change, up and down: an episode's pay is twice the final change),
    efficiency (0.1 to 0.5 on resolution, more when faster), business_impact (-1.0 to 1.0: sales, the
    customer's value kept at a fix or by the specialist an escalation hands over to, whose outcome is
    drawn as the episode ends; goodwill and the value at risk lost when the customer leaves unhelped
    or times out, by tier), escalation_penalty (-0.3 when escalating).
    One step's reward lies in [-3.0, 3.5]; an episode's return in [-3.0, 4.3].

    ## Episode End
    Terminated when the issue is resolved, the customer abandons (a hazard each turn that rises with
    their anger and lost patience), or the agent escalates (the specialist's outcome is drawn then).
    Truncated after `max_turns` turns (outcome `timeout`: a failure, paid as one), by the env itself:
    never both on one step.

    ## Information
    Numbers only, numpy scalars of fixed dtypes (what vector envs stack into arrays and TorchRL's
    `GymEnv` reads), the same keys on every step: codes (int64) for `sentiment` (as observed), `tier`,
    `industry`, `inquiry_type` and `outcome` (on every step: `ongoing` while the conversation goes on,
    then `resolved` / `escalated` / `abandoned` / `timeout`), each an index into
    `env.unwrapped.info_names[key]` (`cs_env.SENTIMENT_NAMES`, `TIER_NAMES`, `OUTCOME_NAMES`, and the
    industries and inquiries of the env's catalog); the step's reward components (float64, 0 at reset),
    each a flat key as Gymnasium's MuJoCo envs give theirs: `reward_satisfaction`, `reward_efficiency`,
    `reward_business_impact`, `reward_escalation_penalty`; `hidden_satisfaction` (float64, 0-1): the
    hidden truth behind the cue; and `hidden_offer_sold` (int64: 1 if an offer made on this step sold).
    The `hidden_*` keys are for analysis; no policy reads them. `env.unwrapped.named_info(info)` gives
    the same info with names for the codes and the components together in `reward_components` (as v1
    first gave it). After a conversation, `hidden_traits()` reveals the rest (complexity, savvy, openness
    and patience as the customer arrived, the patience left, `needs_specialist`, `offers_sold`): the play
    pane's reveal.

    ## Arguments
    `industry`: one of `bfsi`, `retail`, `tech`, `mixed` (default) or any added industry file;
    `max_turns`: the conversation's length in turns, 1-1,000, default 10: the one length, on every route
    (`gym.make(ID, max_turns=N)`, `gym.make(env.spec)`, `gym.make_vec` in each mode). The id is
    registered without a time limit, so `gymnasium.make` adds no `TimeLimit` and `env.spec` says
    `max_episode_steps=None`. `gymnasium.make`'s own `max_episode_steps=N` is not this env's: Gymnasium
    hands it only to a `TimeLimit` wrapper it adds outside the env, which cuts at N with the outcome
    `ongoing` and, by Gymnasium's design, also sets `truncated` when the conversation ended on step N
    (and a longer N than `max_turns` changes nothing); the batched env refuses it.
    `render_mode`: None, `"ansi"` (returns the whole transcript), `"human"` (prints what is new since
    the last render) or `"rgb_array"` (returns a 576 x 1024 x 3 uint8 picture of the conversation as
    the app shows it: `cs_env/render.py`; `metadata["render_fps"]` is 1, a turn a second).

    ## Action Masks
    `action_masks()` (read by sb3-contrib's MaskablePPO): every strategy but an offer of a kind already
    made in this conversation (`product_recommend` after a product recommendation, `upsell` after an
    upsell): a second one cannot sell (a customer buys on the first offer or not at all) and costs
    goodwill (`Dynamics.repeat_offer`). Escalation needs no mask: it ends the conversation. The masks
    advise; `step` still plays a masked strategy (scenarios and people may). The batched env gives the
    same masks, one row per env.

    ## Version History
    - v1, info in numbers: the five names became int64 codes and the `reward_components` dict left info
      (`named_info` gives both back): TorchRL's `GymEnv(ID, num_envs=N)` could not read strings or a
      nested dict. The episodes are unchanged.
    - v1: the customer a support lead would believe (issue 25): satisfaction paid on its change, up and
      down; leaving and timing out cost; offers are not progress; a specialist's case is a property of
      the issue, and the specialist's outcome is paid at the end; leaving is a hazard of anger and lost
      patience; indices 5 and 11 are noisy cues of satisfaction and patience. Models, runs and
      recordings record the id, and those of v0 are refused ("trained on CustomerSupport-v0: retrain").
    - v0: first version; the specialist hint (index 17) added in issue 18. ``gym.make`` of it now raises
      ``gymnasium.error.DeprecatedEnv`` naming v1 and what changed.
    """

    # render_fps: a video plays a turn a second, so a person can read each exchange
    metadata = {"render_modes": ["ansi", "human", "rgb_array"], "render_fps": 1}  # noqa: RUF012  (Gymnasium's convention)

    def __init__(
        self,
        industry: str = "mixed",
        max_turns: int | None = None,
        render_mode: str | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.catalog = catalog or default_catalog()
        self.industry = check_industry(industry, self.catalog)
        self.max_turns = DEFAULT_MAX_TURNS if max_turns is None else check_max_turns(max_turns)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unknown render_mode {render_mode!r}; valid: None, 'ansi', 'human', 'rgb_array'")
        self.render_mode = render_mode
        self.tables = Tables.build(self.catalog, self.industry)
        self.dynamics = DYNAMICS
        self.action_space = spaces.Discrete(N_STRATEGIES)  # type: ignore[assignment]  # gymnasium's stubs: Space[int]
        self.observation_space = observation_space(self.catalog, self.max_turns)
        self._inquiry_names = tuple(i.name for i in self.catalog.inquiries)
        self._industry_names = self.catalog.industry_names
        #: the names info's codes index (``CODED_INFO_KEYS``), for this env's catalog
        self.info_names = info_names(self.catalog)
        #: int64 scalars for every code info can give (each key's names, and 0/1 for hidden_offer_sold)
        self._int64 = tuple(np.int64(k) for k in range(max(2, *map(len, self.info_names.values()))))
        self._state: CustomerState | None = None
        self._arrival_patience = 0.0  # the customer's patience as they arrived (the state's drains)
        self._done = False
        # uniform draws come from np_random in blocks: one call per block instead of one per step
        self._draws: list[float] = []
        self._next_draw = 0
        # customers are drawn ARRIVAL_BLOCK at a time on the batched path, then served one by one
        self._arrivals: list[CustomerState] = []
        #: This episode's turns, for render and replay (recording is cheap; words come later).
        self.history: list[TurnRecord] = []
        self.opening_sentiment = 0
        self.opening_satisfaction = 0.0
        self._sentiment = 0
        self._rendered_lines = 0  # of this conversation's transcript, by human rendering

    # -- the Gymnasium API -------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:  # the new seed's stream starts now
            self._draws, self._next_draw = [], 0
            self._arrivals = []
        if options:
            u = np.array(self._uniforms(CUSTOMER_DRAWS))[:, None]
            self._state = new_customers(self.tables, u, self._pins(options), self.dynamics).unstack()[0]
        else:
            self._state = self._next_arrival()
        self._done = False
        # what the customer's words show (the observation's cue), never the hidden satisfaction
        self._sentiment = self.opening_sentiment = sentiment_of(self._state.sat_cue)
        self.opening_satisfaction = self._state.sat_cue
        self._arrival_patience = float(self._state.patience)  # the trait; the state's patience drains
        self.history = []
        self._rendered_lines = 0
        if self.render_mode == "human":
            self.render()
        return self._obs(), self._info(ONGOING, None)

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        s = self._state
        if s is None:
            raise RuntimeError("step() called before reset(): call env.reset() to start a conversation")
        if self._done:
            raise RuntimeError("step() called after the conversation ended: call env.reset() to start a new one")
        # the common case (a Python int in range) checked inline: a call a step less
        a = action if type(action) is int and 0 <= action < N_STRATEGIES else self._check_action(action)
        sentiment_before = self._sentiment
        sold_before = s.offers_sold
        sat, efficiency, business, penalty, outcome = play_turn(
            self.dynamics, s, a, self._uniforms(TURN_DRAWS), self.max_turns
        )
        components = (sat, efficiency, business, penalty)
        reward = sat + efficiency + business + penalty
        terminated, truncated = _ENDS[outcome]
        self._done = terminated or truncated
        self._sentiment = sentiment = sentiment_of(s.sat_cue)
        record = (a, sentiment_before, sentiment, s.sat_cue, reward, components, outcome)
        self.history.append(_new_record(TurnRecord, record))
        if self.render_mode == "human":
            self.render()
        info = self._info(outcome, components, s.offers_sold > sold_before)
        return observe_one(s), reward, terminated, truncated, info

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called with render_mode=None; pass render_mode='ansi', 'human' or 'rgb_array'")
            return None
        if self.render_mode == "rgb_array":
            from cs_env.render import frame  # Pillow is loaded only by the first frame asked for

            return frame(self)
        text = self.transcript()
        if self.render_mode == "ansi":
            return text
        # human: only what is new since the last render (step() renders, and so do callers such as rl_zoo3's enjoy)
        lines = text.split("\n")
        if len(lines) > self._rendered_lines:
            sys.stdout.write("\n".join(lines[self._rendered_lines :]) + "\n")
        self._rendered_lines = len(lines)
        return None

    def action_masks(self) -> np.ndarray:
        """The strategies worth playing now, as sb3-contrib's MaskablePPO reads them: all but an offer of a
        kind already made (see the class docstring's Action Masks)."""
        masks = np.ones(N_STRATEGIES, dtype=bool)
        s = self._state
        if s is not None and not self._done:
            masks[PRODUCT_RECOMMEND] = not s.offered_recommend
            masks[UPSELL] = not s.offered_upsell
        return masks

    # -- beyond the Gymnasium API ------------------------------------------------------------
    @property
    def started(self) -> bool:
        """Whether a conversation has begun (``reset`` was called)."""
        return self._state is not None

    @property
    def hidden_state(self) -> CustomerState:
        """The customer's full state, hidden traits included (for the oracle and the app)."""
        if self._state is None:
            raise RuntimeError("no conversation yet: call env.reset() first")
        return self._state

    def hidden_traits(self) -> dict[str, Any]:
        """What the customer hid, for analysis and for the reveal after a conversation (not in ``info``,
        which holds numbers only, the same keys on every step): the traits as they arrived (``complexity``,
        ``savvy``, ``openness``, ``patience``, each 0-1), the patience left now, whether only a specialist
        could solve the case, and how many offers they took. No policy reads it."""
        s = self.hidden_state
        return {
            "complexity": float(s.complexity),
            "savvy": float(s.savvy),
            "openness": float(s.openness),
            "patience": self._arrival_patience,
            "patience_left": min(1.0, max(0.0, float(s.patience))),
            "needs_specialist": bool(s.needs_specialist),
            "offers_sold": int(s.offers_sold),
        }

    def conversation(self) -> tuple[Line, list[Exchange]]:
        """The conversation so far in words: the customer's opening line, then each turn's exchange.

        Words are chosen from the episode's seed, so a replay of the same seed and actions reads the same.
        """
        s = self.hidden_state
        return conversation_in_words(
            self._inquiry_names[s.inquiry],
            s,
            int(self.np_random_seed or 0),
            self.opening_sentiment,
            self.opening_satisfaction,
            self.history,
        )

    def transcript(self) -> str:
        """The conversation so far as text, with sentiment and tier."""
        s = self.hidden_state
        inquiry = self._inquiry_names[s.inquiry]
        header = f"[{self._industry_names[s.industry]} / {inquiry} | tier {TIER_NAMES[s.tier]} | urgency {s.urgency}/4]"
        opening, exchanges = self.conversation()
        lines = [header, f"  Customer ({SENTIMENT_NAMES[self.opening_sentiment]}): {opening.text}"]
        for ex in exchanges:
            rec = ex.record
            lines.append(f"  Agent [{STRATEGY_NAMES[rec.action]}]: {ex.agent.text}")
            lines.append(
                f"  Customer ({SENTIMENT_NAMES[rec.sentiment]}): {ex.customer.text}   reward {rec.reward:+.2f}"
            )
            if ex.outcome != ONGOING_NAME:
                lines.append(f"  -- {ex.outcome} after {ex.turn} turns --")
        return "\n".join(lines)

    # -- helpers -----------------------------------------------------------------------------
    def _next_arrival(self) -> CustomerState:
        if not self._arrivals:
            u = self.np_random.random((CUSTOMER_DRAWS, ARRIVAL_BLOCK))
            self._arrivals = new_customers(self.tables, u, None, self.dynamics).unstack()[::-1]
        return self._arrivals.pop()

    def _uniforms(self, n: int) -> list[float]:
        i = self._next_draw
        if i + n > len(self._draws):
            self._draws, i = self.np_random.random(DRAW_BLOCK).tolist(), 0
        self._next_draw = i + n
        return self._draws[i : i + n]

    def _obs(self) -> np.ndarray:
        assert self._state is not None
        return observe_one(self._state)

    def named_info(self, info: dict[str, Any]) -> dict[str, Any]:
        """This env's ``info`` with names for its codes and the reward components in ``reward_components``."""
        return named_info(info, self.info_names)

    def _info(self, outcome: int, components: Any, sold: bool = False) -> dict[str, Any]:
        """Numbers as numpy scalars of fixed dtypes (float64; int64 codes): what vector envs stack into arrays
        and TorchRL's info reader specs; the reward components flat (``components`` None: a reset: 0)."""
        s = self._state
        assert s is not None
        # the codes' int64 scalars are made once (numpy scalars are immutable, so steps share them):
        # np.int64(k) costs several times np.float64(x), and a step gave six of them
        code, f64 = self._int64, np.float64
        if components is None:  # a reset: no reward yet
            a = b = c = d = _ZERO
        else:
            a, b, c, d = components
            a, c = f64(a), f64(c)
            # efficiency and the escalation penalty are exactly 0.0 on most steps (never -0.0): one scalar
            b = f64(b) if b else _ZERO
            d = f64(d) if d else _ZERO
        return {  # the keys are CODED_INFO_KEYS and REWARD_KEYS, written out: a step builds this dict
            "hidden_satisfaction": f64(s.sat),  # the truth, for analysis: no policy reads it
            "sentiment": code[self._sentiment],
            "tier": code[s.tier],
            "industry": code[s.industry],
            "inquiry_type": code[s.inquiry],
            "outcome": code[outcome],
            "reward_satisfaction": a,
            "reward_efficiency": b,
            "reward_business_impact": c,
            "reward_escalation_penalty": d,
            "hidden_offer_sold": code[sold],  # 1 if an offer made on this step sold: the truth, for analysis only
        }

    @staticmethod
    def _check_action(action: Any) -> int:
        if type(action) is int:  # the common case, checked first for speed
            a = action
        elif (isinstance(action, int) and not isinstance(action, bool)) or isinstance(action, np.integer):
            a = int(action)
        elif isinstance(action, np.ndarray) and action.size == 1 and np.issubdtype(action.dtype, np.integer):
            a = int(action.item())
        else:
            raise ValueError(
                f"invalid action {action!r} of type {type(action).__name__}: "
                f"expected an integer strategy 0-{N_STRATEGIES - 1} ({', '.join(STRATEGY_NAMES)})"
            )
        if not 0 <= a < N_STRATEGIES:
            raise ValueError(
                f"invalid action {a}: valid actions are 0-{N_STRATEGIES - 1} ({', '.join(STRATEGY_NAMES)})"
            )
        return a

    def _pins(self, options: dict[str, Any]) -> dict[str, Any]:
        """Validate ``reset`` options that pin the starting situation; return codes for the model."""
        known = ("inquiry", "tier", "sentiment", "urgency", "needs_specialist", *PIN_TRAITS)
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(f"unknown reset option {unknown[0]!r}; valid options: {', '.join(known)}")
        pins: dict[str, Any] = {}
        if "inquiry" in options:
            allowed = [
                i.name for i in self.catalog.inquiries if self.industry == "mixed" or i.industry == self.industry
            ]
            # a name, checked as one: `in` on a numpy array would raise numpy's "truth value" error
            if not isinstance(options["inquiry"], str) or options["inquiry"] not in allowed:
                raise ValueError(
                    f"inquiry {options['inquiry']!r} is not one of {self.industry!r}'s: {', '.join(allowed)}"
                )
            pins["inquiry"] = self._inquiry_names.index(options["inquiry"])
        for key, names in (("tier", TIER_NAMES), ("sentiment", SENTIMENT_NAMES)):
            if key in options:
                pins[key] = _code(key, options[key], names)
        if "urgency" in options:
            pins["urgency"] = _code("urgency", options["urgency"], ("0", "1", "2", "3", "4"))
        for key in PIN_TRAITS:
            if key in options:
                value = options[key]
                # numpy's scalars count as numbers (np.float32 is no float subclass); flags do not
                if (
                    isinstance(value, bool | np.bool_)
                    or not isinstance(value, numbers.Real)
                    or not 0 <= cast(float, value) <= 1  # compared as it is: 10**400 has no float
                ):
                    raise ValueError(f"reset option {key!r} must be a number in [0, 1], got {value!r:.60}")
                pins[key] = float(value)
        if "needs_specialist" in options:
            if not isinstance(options["needs_specialist"], bool | np.bool_):
                raise ValueError(
                    f"reset option 'needs_specialist' must be true or false, got {options['needs_specialist']!r}"
                )
            pins["needs_specialist"] = float(bool(options["needs_specialist"]))
        return pins


def _code(key: str, value: Any, names: tuple[str, ...]) -> int:
    """A code from a name or an in-range integer; a clear error otherwise."""
    if isinstance(value, str) and value in names:
        return names.index(value)
    if isinstance(value, int | np.integer) and not isinstance(value, bool) and 0 <= value < len(names):
        return int(value)
    raise ValueError(f"reset option {key!r} must be one of {', '.join(names)} (or 0-{len(names) - 1}), got {value!r}")
