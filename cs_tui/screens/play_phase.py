"""The play pane's phase: what is on screen, and so which keys apply and what the opponent line says.

The pane is in one phase at a time, held in ``PlayScreen.state`` together with the data that phase needs:

- ``Live``: you answer a customer (the conversation, and the opponent's view of this turn);
- ``Waiting``: you finished; the opponent is still loading, or playing the same customer;
- ``Reviewing``: the opponent played it too: your conversation and its, one of them on screen (v switches);
- ``Replaying``: a recorded conversation (and the opponent's, if recorded), replayed through the env;
- ``Empty``: no customer yet, or none could start (an industry file that stopped validating).

No widgets here: the pane draws a phase, this module says what each phase is and allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import ClassVar

from cs_tui.play_session import Conversation, Episode
from cs_tui.widgets.action_picker import AgentView


class Phase(Enum):
    """The play pane's phases (see the module docstring)."""

    EMPTY = "empty"
    LIVE = "live"
    WAITING = "waiting"
    REVIEWING = "reviewing"
    REPLAYING = "replaying"


#: The pane's actions that apply in some phases only; its other keys (n o b r c) apply in every phase.
#: ``toggle_view`` also needs the opponent's conversation (see :func:`allows`).
PHASE_ACTIONS: dict[str, frozenset[Phase]] = {
    "answer": frozenset({Phase.LIVE}),
    "next_customer": frozenset(Phase) - {Phase.LIVE},
    "toggle_view": frozenset({Phase.REVIEWING, Phase.REPLAYING}),
}


@dataclass
class Empty:
    """No customer on screen."""

    phase: ClassVar[Phase] = Phase.EMPTY

    @property
    def shown(self) -> Episode | None:
        return None


@dataclass
class Live:
    """You answer ``conversation``; ``view`` is the opponent's view of this turn (None: ``no_view`` says why)."""

    conversation: Conversation
    view: AgentView | None = None
    no_view: str = ""
    #: a playbook opponent's rule for this turn, in words ("" for other opponents)
    rule: str = ""
    #: beside a neural opponent: what the default playbook's rule for this situation says ("" for others)
    nearest: str = ""
    phase: ClassVar[Phase] = Phase.LIVE

    @property
    def shown(self) -> Episode:
        return self.conversation.episode


@dataclass
class Waiting:
    """You finished ``human``; the opponent has not played that customer yet."""

    human: Episode
    phase: ClassVar[Phase] = Phase.WAITING

    @property
    def shown(self) -> Episode:
        return self.human


@dataclass
class Compared:
    """Your conversation and the opponent's with the same customer (``agent`` None: it did not play);
    ``shown`` is the one on screen, yours first."""

    human: Episode
    agent: Episode | None
    shown: Episode = field(init=False)

    def __post_init__(self) -> None:
        self.shown = self.human

    def switch(self) -> None:
        """Show the other conversation (v)."""
        if self.agent is not None:
            self.shown = self.human if self.shown is self.agent else self.agent

    def other(self, e: Episode) -> Episode | None:
        """The other player's conversation with the customer of ``e``."""
        if self.agent is None:
            return None
        return self.agent if e is self.human else self.human if e is self.agent else None


@dataclass
class Reviewing(Compared):
    """You and the opponent both played the customer you just finished."""

    phase: ClassVar[Phase] = Phase.REVIEWING


@dataclass
class Replaying(Compared):
    """The recording at ``path``, replayed."""

    path: Path
    phase: ClassVar[Phase] = Phase.REPLAYING


State = Empty | Live | Waiting | Reviewing | Replaying


def allows(state: State, action: str, parameters: tuple[object, ...] = ()) -> bool:
    """Whether ``action`` (with ``parameters``) applies in ``state``.

    ``toggle_view('theirs')`` applies while your conversation is shown next to the opponent's, and
    ``toggle_view('yours')`` while the opponent's is: the key bar then names where v goes.
    """
    phases = PHASE_ACTIONS.get(action)
    if phases is None:
        return True
    if state.phase not in phases:
        return False
    if action == "toggle_view":
        assert isinstance(state, Compared)
        return state.agent is not None and (state.shown is state.agent) == (parameters == ("yours",))
    return True
