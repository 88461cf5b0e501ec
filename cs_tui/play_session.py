"""What the play pane plays: conversations through the env's public API, recordings, the session's score,
the reveal after a conversation and the session's export.

No widgets here, so the rules of a human-vs-agent session can be tested without a terminal. A human
sees what the observation and ``info`` say (never ``env.hidden_state``); only an agent that declares
``needs_state`` (the oracle) is handed the hidden state, and its hints are not shown to the human.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cs_env.domain import ONGOING_NAME, SENTIMENT_NAMES, STRATEGY_NAMES
from cs_env.env import ENV_ID, CustomerSupportEnv, version_problem
from cs_tui.export import Export
from cs_tui.files import atomic_write_json, now_iso

RECORD_SCHEMA = 1
EPISODES_DIR = "episodes"
#: the outcome of a conversation the player left before it ended (``n`` or ``r`` mid-conversation)
LEFT_NAME = "left"
#: a conversation you leave is your loss on that customer: it scores the lower of your return so far and
#: the opponent's, less this much (about the gap between random play and the oracle per conversation), so
#: leaving a hard customer never helps the score
LEAVE_PENALTY = 1.0


@dataclass
class Turn:
    """One turn as the player saw it: the strategy, the words, how the customer moved, the reward."""

    strategy: int
    agent_line: str
    customer_line: str
    sentiment_before: int
    sentiment: int
    satisfaction: float
    reward: float
    components: dict[str, float]
    outcome: str  # info["outcome"]: "ongoing" while the conversation goes on
    #: an offer's fate (info["hidden_offer_sold"]): True sold, False not; None on a turn that made no offer
    sold: bool | None = None


@dataclass(eq=False)  # episodes are compared by identity: two players may play the same turns
class Episode:
    """One conversation with one customer, played by ``player`` ("you" or an agent's name)."""

    player: str
    industry: str  # the env's industry argument (``mixed`` included)
    max_turns: int
    seed: int
    options: dict[str, Any] | None
    customer_industry: str
    inquiry: str
    tier: str
    urgency: int
    opening_sentiment: int
    opening_satisfaction: float
    opening_line: str
    turns: list[Turn] = field(default_factory=list)
    #: only a specialist could solve it (hidden while playing): escalating it was the right call
    needs_specialist: bool = False
    #: the player left it before it ended (its outcome is then ``left``: see :func:`scored_return`)
    left: bool = False
    #: the customer's hidden truth (``CustomerSupportEnv.hidden_traits``), once the conversation is over:
    #: never while it goes on, so the player reads only what the observation shows
    traits: dict[str, Any] | None = None

    @property
    def outcome(self) -> str:
        """How it ended ("ongoing" while it goes on, "left" if the player left it first)."""
        ended = self.turns[-1].outcome if self.turns else ONGOING_NAME
        return LEFT_NAME if self.left and ended == ONGOING_NAME else ended

    @property
    def done(self) -> bool:
        return self.outcome != ONGOING_NAME

    @property
    def total_return(self) -> float:
        return float(sum(t.reward for t in self.turns))

    @property
    def actions(self) -> list[int]:
        return [t.strategy for t in self.turns]

    @property
    def sentiment(self) -> int:
        return self.turns[-1].sentiment if self.turns else self.opening_sentiment

    @property
    def satisfaction(self) -> float:
        return self.turns[-1].satisfaction if self.turns else self.opening_satisfaction

    @property
    def resolved(self) -> bool:
        return self.outcome == "resolved"

    @property
    def handled(self) -> bool:
        """Resolved, or escalated when only a specialist could solve it (a right escalation is no failure)."""
        return self.resolved or (self.outcome == "escalated" and self.needs_specialist)


class Conversation:
    """A live conversation: ``reset`` with a seed (and options), then one ``play(strategy)`` per turn."""

    def __init__(
        self,
        *,
        industry: str,
        max_turns: int,
        seed: int,
        options: dict[str, Any] | None = None,
        player: str = "you",
    ) -> None:
        self.env = CustomerSupportEnv(industry=industry, max_turns=max_turns)
        self.obs, codes = self.env.reset(seed=seed, options=options)
        info = self.env.named_info(codes)
        sentiment = int(self.obs[1])
        inquiry = str(info["inquiry_type"])
        urgency = int(self.obs[2])
        opening, _ = self.env.conversation()
        self.episode = Episode(
            player=player,
            industry=industry,
            max_turns=max_turns,
            seed=seed,
            options=dict(options) if options else None,
            customer_industry=str(info["industry"]),
            inquiry=inquiry,
            tier=str(info["tier"]),
            urgency=urgency,
            opening_sentiment=sentiment,
            opening_satisfaction=float(self.env.opening_satisfaction),  # the cue the player reads
            opening_line=opening.text,
            needs_specialist=bool(self.env.hidden_state.needs_specialist),
        )

    def play(self, strategy: int) -> Turn:
        """Answer this turn with ``strategy``; the turn as it happened."""
        if self.episode.done:
            raise RuntimeError("this conversation has ended: start a new one")
        before = self.episode.sentiment
        self.obs, reward, _, _, codes = self.env.step(int(strategy))
        info = self.env.named_info(codes)
        offer = STRATEGY_NAMES[int(strategy)] in OFFER_NAMES
        after = int(codes["sentiment"])
        exchange = self.env.conversation()[1][-1]  # this turn's words, as the env's transcript has them
        turn = Turn(
            strategy=int(strategy),
            agent_line=exchange.agent.text,
            customer_line=exchange.customer.text,
            sentiment_before=before,
            sentiment=after,
            satisfaction=float(self.env.history[-1].satisfaction),  # the cue, as the transcript has it
            reward=float(reward),
            components={k: float(v) for k, v in info["reward_components"].items()},
            outcome=info["outcome"],
            sold=bool(info["hidden_offer_sold"]) if offer else None,
        )
        self.episode.turns.append(turn)
        if self.episode.done:  # the conversation ended: the reveal
            self.episode.traits = self.env.hidden_traits()
        return turn

    def leave(self) -> None:
        """The player leaves the conversation before it ends: it counts as left, and the customer is revealed."""
        self.episode.left = True
        self.episode.traits = self.env.hidden_traits()


def scored_return(human: Episode, agent: Episode) -> float:
    """Your return on a customer as the scoreboard counts it: your return, unless you left the conversation
    before it ended; then the lower of your return so far and the opponent's, less ``LEAVE_PENALTY``."""
    if human.outcome != LEFT_NAME:
        return human.total_return
    return min(human.total_return, agent.total_return) - LEAVE_PENALTY


def play_agent(
    agent: Any, *, industry: str, max_turns: int, seed: int, options: dict[str, Any] | None = None
) -> Episode:
    """The agent plays the customer of ``seed`` (and ``options``) from the start, as the human did."""
    conversation = Conversation(
        industry=industry, max_turns=max_turns, seed=seed, options=options, player=getattr(agent, "name", "agent")
    )
    while not conversation.episode.done:
        if getattr(agent, "needs_state", False):
            action = agent(conversation.obs, state=conversation.env.hidden_state)
        else:
            action = agent(conversation.obs)
        conversation.play(int(action))
    return conversation.episode


def replay(
    actions: list[int], *, industry: str, max_turns: int, seed: int, options: dict[str, Any] | None, player: str
) -> Episode:
    """The same customer and the same actions again: the same conversation, turn for turn."""
    conversation = Conversation(industry=industry, max_turns=max_turns, seed=seed, options=options, player=player)
    for action in actions:
        if conversation.episode.done:
            break
        conversation.play(action)
    if not conversation.episode.done:  # a conversation left midway: revealed all the same, as it was then
        conversation.episode.traits = conversation.env.hidden_traits()
    return conversation.episode


# -- the reveal --------------------------------------------------------------------------------

#: the strategies that make an offer: the reveal says whether each sold
OFFER_NAMES = ("product_recommend", "upsell")


def offers(e: Episode) -> list[tuple[int, str, bool | None]]:
    """Each offer ``e`` made: ``(turn, strategy, sold)`` (``sold`` None if not known, e.g. an old record)."""
    return [(i + 1, STRATEGY_NAMES[t.strategy], t.sold) for i, t in enumerate(e.turns) if t.sold is not None]


def offers_words(e: Episode) -> str:
    """What each of ``e``'s offers did, in words: ``product_recommend (turn 3) sold`` or ``no offer``."""
    made = offers(e)
    if not made:
        return "no offer"
    return ", ".join(f"{name} (turn {turn}) {'sold' if sold else 'not sold'}" for turn, name, sold in made)


def traits_words(traits: dict[str, Any]) -> str:
    """The hidden traits in one line: complexity, savvy, openness, patience (and what was left), the specialist."""
    specialist = "only a specialist could solve it" if traits["needs_specialist"] else "no specialist needed"
    return (
        f"complexity {traits['complexity']:.2f} · savvy {traits['savvy']:.2f} · openness {traits['openness']:.2f} · "
        f"patience {traits['patience']:.2f} · {specialist}"
    )


def reveal_lines(e: Episode, other: Episode | None = None) -> list[str]:
    """The reveal after ``e`` ended: the customer's hidden traits, then what each side's offers did and the
    patience each left (``other``: the other player's conversation with the same customer). None before the end."""
    if e.traits is None:
        return []

    def side(x: Episode) -> str:
        who = "you" if x.player == "you" else x.player
        left = "" if x.traits is None else f", patience left {x.traits['patience_left']:.2f}"
        return f"{who}: {offers_words(x)}{left}"

    lines = [f"the customer, revealed: {traits_words(e.traits)}"]
    lines += [side(x) for x in (e, other) if x is not None]
    return lines


# -- recordings --------------------------------------------------------------------------------


def episode_record(human: Episode, agent: Episode | None) -> dict[str, Any]:
    """What is kept of a human episode: enough to replay it exactly (seed, env arguments, actions)."""

    def part(e: Episode) -> dict[str, Any]:
        return {
            "player": e.player,
            "actions": e.actions,
            "strategies": [STRATEGY_NAMES[a] for a in e.actions],
            "rewards": [t.reward for t in e.turns],
            "reward_components": [t.components for t in e.turns],
            "outcome": e.outcome,
            "left": e.outcome == LEFT_NAME,
            "return": e.total_return,
            "satisfaction": e.satisfaction,
        }

    return {
        "schema": RECORD_SCHEMA,
        "created_at": now_iso(),
        "seed": human.seed,
        "env": {"id": ENV_ID, "industry": human.industry, "max_turns": human.max_turns, "options": human.options},
        "customer": {
            "industry": human.customer_industry,
            "inquiry": human.inquiry,
            "tier": human.tier,
            "urgency": human.urgency,
            "sentiment": SENTIMENT_NAMES[human.opening_sentiment],
        },
        "human": part(human),
        "agent": part(agent) if agent is not None else None,
    }


def save_episode(saves: Path, human: Episode, agent: Episode | None, path: Path | None = None) -> Path:
    """Write the record under ``<saves>/episodes/`` (or over ``path``); the file written (``OSError`` if not)."""
    if path is not None:  # the same episode again, now with the opponent's part
        atomic_write_json(path, episode_record(human, agent))
        return path
    folder = recordings_dir(saves)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = folder / f"{stamp}-{human.customer_industry}-seed{human.seed}.json"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stamp}-{human.customer_industry}-seed{human.seed}-{n}.json"
    atomic_write_json(path, episode_record(human, agent))
    return path


def recordings_dir(saves: Path) -> Path:
    """The folder the play pane records into (``cs-tui train --warm-start`` takes it as a source)."""
    return saves / EPISODES_DIR


def list_recordings(saves: Path) -> list[Path]:
    """Recorded episodes, newest first."""
    try:
        return sorted(recordings_dir(saves).glob("*.json"), reverse=True)
    except OSError:
        return []


class RecordError(ValueError):
    """A recorded episode cannot be replayed; the message names the file and the problem."""


@dataclass(frozen=True)
class Recording:
    """A recorded episode as its file has it: the customer (seed, env arguments) and each player's actions."""

    seed: int
    industry: str
    max_turns: int
    options: dict[str, Any] | None
    #: ``(player, actions)``: the human's first, then the agent's if it was recorded
    parts: tuple[tuple[str, list[int]], ...]
    #: the human left the conversation before it ended
    human_left: bool = False


#: The largest recording read (one conversation is a few KB): a bigger file is refused, not read.
RECORDING_LIMIT = 1 << 20


def read_record(path: Path) -> Any:
    """A recording's JSON, read with ``cs_env.files``: a FIFO, a device or a file over
    :data:`RECORDING_LIMIT` is an ``OSError`` at once (never a read that blocks or floods), ``[`` × 100,000
    a ``ValueError`` (never a ``RecursionError``)."""
    from cs_env.files import load_json

    return load_json(path, RECORDING_LIMIT)


def read_recording(path: Path) -> Recording:
    """The recording at ``path``, its fields checked; ``RecordError`` naming the file and the problem."""
    try:
        record = read_record(path)
        env = record["env"]
        problem = version_problem(env.get("id"), "recorded")  # its customer behaved by other rules
        if problem:
            raise RecordError(f"{path.name}: {problem}")
        seed, industry, max_turns = int(record["seed"]), str(env["industry"]), int(env["max_turns"])
        options = env.get("options")
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"env options must be a table, not {type(options).__name__}")
        parts = []
        if not isinstance(record["human"], dict):
            raise ValueError("its human part must be a table")
        for key in ("human", "agent"):
            part = record.get(key)
            if part:
                actions = [int(a) for a in part["actions"]]
                if any(not 0 <= a < len(STRATEGY_NAMES) for a in actions):
                    raise ValueError(f"{key} actions must be 0-{len(STRATEGY_NAMES) - 1}")
                parts.append((str(part["player"]), actions))
        return Recording(seed, industry, max_turns, options, tuple(parts), record["human"].get("left") is True)
    except RecordError:
        raise
    except KeyError as error:  # str(KeyError) is just the quoted key
        raise RecordError(f"{path.name}: cannot replay this recording (no {error} field)") from error
    except OSError as error:
        raise RecordError(f"{path.name}: cannot replay this recording ({error.strerror or error})") from None
    except (ValueError, TypeError, AttributeError, OverflowError) as error:
        raise RecordError(f"{path.name}: cannot replay this recording ({error})") from None


def load_recording(path: Path) -> tuple[Episode, Episode | None]:
    """Replay a recorded episode (and the agent's, if recorded) through the env."""
    recording = read_recording(path)
    try:
        human, *agent = (
            replay(
                actions,
                industry=recording.industry,
                max_turns=recording.max_turns,
                seed=recording.seed,
                options=recording.options,
                player=player,
            )
            for player, actions in recording.parts
        )
    except (ValueError, TypeError) as error:  # the env refuses its arguments (an unknown industry, ...)
        raise RecordError(f"{path.name}: cannot replay this recording ({error})") from error
    human.left = recording.human_left
    return human, agent[0] if agent else None


# -- the session's score -----------------------------------------------------------------------


#: Customers played against the same opponent before the difference gets a CI and a verdict. A
#: bootstrap over fewer is the spread of a handful of numbers: with 2 it calls any pair of same-sign
#: differences "significant". With 6, all six going one way is already p ≈ 0.03 by a sign test.
MIN_PAIRS = 6


@dataclass(frozen=True)
class Comparison:
    """Human vs agent over the session's paired episodes (the same customers)."""

    episodes: int
    human_mean: float
    agent_mean: float
    human_handled: float  # share of conversations handled (Episode.handled)
    agent_handled: float
    mean_difference: float  # human - agent
    ci_low: float
    ci_high: float

    @property
    def significant(self) -> bool:
        """Whether the 95 % CI of the difference excludes 0."""
        return self.episodes >= MIN_PAIRS and (self.ci_low > 0 or self.ci_high < 0)

    @property
    def verdict(self) -> str:
        if self.episodes < MIN_PAIRS:
            return "play more episodes to test the difference"
        if not self.significant:
            return "no significant difference yet"
        return "you are significantly better" if self.mean_difference > 0 else "the agent is significantly better"


def compare(pairs: list[tuple[Episode, Episode]], *, resamples: int = 4000, seed: int = 0) -> Comparison:
    """Means, handled rates and a paired bootstrap 95 % CI of the mean return difference (human − agent)."""
    human = np.array([scored_return(h, a) for h, a in pairs], dtype=np.float64)
    agent = np.array([a.total_return for _, a in pairs], dtype=np.float64)
    n = len(pairs)
    if n == 0:
        return Comparison(0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
    diff = human - agent
    if n >= MIN_PAIRS:
        rng = np.random.default_rng(seed)  # fixed: the same session shows the same interval
        means = diff[rng.integers(0, n, (resamples, n))].mean(axis=1)
        low, high = (float(x) for x in np.percentile(means, [2.5, 97.5]))
    else:
        low = high = math.nan
    return Comparison(
        episodes=n,
        human_mean=float(human.mean()),
        agent_mean=float(agent.mean()),
        human_handled=float(np.mean([h.handled for h, _ in pairs])),
        agent_handled=float(np.mean([a.handled for _, a in pairs])),
        mean_difference=float(diff.mean()),
        ci_low=low,
        ci_high=high,
    )


# -- the session's export ----------------------------------------------------------------------

#: the CSV of a play session: one row per turn, each player's, with the customer and the reveal repeated
SESSION_COLUMNS = {
    "conversation": "the conversation's number in the session, from 1",
    "seed": "the customer's seed: the same seed (and env arguments) gives the same customer",
    "industry": "the customer's industry",
    "inquiry": "the customer's inquiry",
    "tier": "the customer's value tier",
    "urgency": "the customer's urgency, 0-4",
    "player": "who answered: you, or the opponent agent",
    "turn": "the turn's number, from 1",
    "strategy": "the strategy played on this turn",
    "reward": "the turn's reward",
    "sentiment": "the customer's sentiment after the turn, as their words showed it",
    "turn_outcome": "the conversation's state after the turn (ongoing while it goes on)",
    "offer_sold": "on an offer's turn: whether the customer took it (hidden while playing)",
    "outcome": "how this player's conversation ended (left: the player left it)",
    "return": "this player's return on the customer (the sum of the rewards)",
    "complexity": "hidden trait, 0-1: how complex the issue was",
    "savvy": "hidden trait, 0-1: how technical the customer was",
    "openness": "hidden trait, 0-1: how open to an offer",
    "patience": "hidden trait, 0-1: the customer's patience as they arrived",
    "patience_left": "the patience this player left the customer with, 0-1",
    "needs_specialist": "hidden: only a specialist could solve the case",
}

TRAIT_COLUMNS = ("complexity", "savvy", "openness", "patience", "needs_specialist")


def _player_record(e: Episode) -> dict[str, Any]:
    return {
        "player": e.player,
        "outcome": e.outcome,
        "left": e.outcome == LEFT_NAME,
        "return": e.total_return,
        "handled": e.handled,
        "patience_left": None if e.traits is None else e.traits["patience_left"],
        "offers": [{"turn": turn, "strategy": name, "sold": sold} for turn, name, sold in offers(e)],
        "turns": [
            {
                "turn": i + 1,
                "strategy": STRATEGY_NAMES[t.strategy],
                "reward": t.reward,
                "reward_components": t.components,
                "sentiment": SENTIMENT_NAMES[t.sentiment],
                "outcome": t.outcome,
                "offer_sold": t.sold,
                "agent_line": t.agent_line,
                "customer_line": t.customer_line,
            }
            for i, t in enumerate(e.turns)
        ],
    }


def session_export(conversations: list[tuple[Episode, Episode | None]]) -> Export:
    """The play pane's session as an :class:`~cs_tui.export.Export`: every conversation, both sides' moves and
    the reveal (the JSON), and one CSV row per turn played."""
    records, rows = [], []
    for number, (human, agent) in enumerate(conversations, start=1):
        traits = human.traits or (agent.traits if agent is not None else None)
        customer = {
            "industry": human.customer_industry,
            "inquiry": human.inquiry,
            "tier": human.tier,
            "urgency": human.urgency,
            "opening_sentiment": SENTIMENT_NAMES[human.opening_sentiment],
            "opening_line": human.opening_line,
        }
        reveal = None if traits is None else {k: traits[k] for k in TRAIT_COLUMNS}
        players = [e for e in (human, agent) if e is not None]
        records.append(
            {
                "conversation": number,
                "seed": human.seed,
                "env": {"industry": human.industry, "max_turns": human.max_turns, "options": human.options},
                "customer": customer,
                "reveal": reveal,
                "players": [_player_record(e) for e in players],
            }
        )
        for e in players:
            for i, t in enumerate(e.turns):
                rows.append(
                    {"conversation": number, "seed": human.seed}
                    | {k: customer[k] for k in ("industry", "inquiry", "tier", "urgency")}
                    | {
                        "player": e.player,
                        "turn": i + 1,
                        "strategy": STRATEGY_NAMES[t.strategy],
                        "reward": t.reward,
                        "sentiment": SENTIMENT_NAMES[t.sentiment],
                        "turn_outcome": t.outcome,
                        "offer_sold": t.sold,
                        "outcome": e.outcome,
                        "return": e.total_return,
                        "patience_left": None if e.traits is None else e.traits["patience_left"],
                    }
                    | (reveal or {})
                )
    n = len(conversations)
    return Export(
        "play-session",
        {"conversations": records},
        SESSION_COLUMNS,
        rows,
        f"{n} conversation{'s' * (n != 1)} of the play pane: each customer as you played it, then as the opponent "
        "did from the same seed, with the customer's hidden traits revealed after the end",
    )
