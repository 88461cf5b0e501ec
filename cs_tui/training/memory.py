"""Memory for agents that remember the conversation so far: frame stacking and recurrent (LSTM) policies.

Such an agent's answer depends on the turns before, so whoever calls it must say whose turn an
observation is. Two ways, as :mod:`cs_env.policies` states the convention:

* one conversation at a time (``cs-tui demo`` and ``test``, the play pane): the memory starts over at an
  observation whose ``conversation_length`` is 0, and asking twice about the same observation (the play
  pane's bars, then the move) answers twice the same, remembering it once;
* a batch with ``episodes=`` naming each row's conversation (:func:`cs_env.evaluate.rollout`).

The memory is a tuple of arrays with one row per conversation (frame stacking: the previous K - 1
observations; an LSTM: its hidden and cell states), advanced by the network's ``step``. numpy only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cs_env.env import OBS_NAMES

State = tuple[np.ndarray, ...]
#: ``step(observations, state) -> (outputs, next state)``, one row per conversation
Step = Callable[[np.ndarray, State], tuple[np.ndarray, State]]
TURN = OBS_NAMES.index("conversation_length")


class Memory:
    """The per-conversation state of a policy with memory, for both ways of calling it."""

    def __init__(self, initial: Callable[[int], State], step: Step, obs_size: int) -> None:
        self.initial = initial
        self.step = step
        self.obs_size = obs_size
        self._single: tuple[bytes, State, State] | None = None  # (observation, state before, state after)
        self._store: State | None = None  # one row per conversation id of the batched calls

    def __call__(self, obs: np.ndarray, episodes: Any = None) -> np.ndarray:
        """The network's outputs for ``obs`` (one observation, or a batch with ``episodes``)."""
        batch = np.asarray(obs, dtype=np.float32)
        if batch.ndim == 1:
            return self._one(batch.reshape(1, self.obs_size))[0]
        if episodes is None:
            raise ValueError(
                "this agent remembers each conversation: call it with one observation at a time, "
                "or with episodes= naming each row's conversation"
            )
        return self._batch(batch.reshape(-1, self.obs_size), np.asarray(episodes, dtype=np.int64))

    def _one(self, row: np.ndarray) -> np.ndarray:
        key = row.tobytes()
        if self._single is None or row[0, TURN] == 0:
            before = self.initial(1)
        elif key == self._single[0]:  # the same situation asked about again: the same answer
            before = self._single[1]
        else:
            before = self._single[2]
        out, after = self.step(row, before)
        self._single = (key, before, after)
        return out

    def _batch(self, batch: np.ndarray, episodes: np.ndarray) -> np.ndarray:
        if len(episodes) != len(batch) or (len(episodes) and episodes.min() < 0):
            raise ValueError(f"episodes must name each of the {len(batch)} rows' conversation (0 or more)")
        needed = int(episodes.max()) + 1 if len(episodes) else 0
        if self._store is None or len(self._store[0]) < needed:
            grown = self.initial(max(needed, 2 * len(self._store[0]) if self._store else 0))
            if self._store is not None:
                for new, old in zip(grown, self._store, strict=True):
                    new[: len(old)] = old
            self._store = grown
        fresh = batch[:, TURN] == 0
        before = tuple(part[episodes] for part in self._store)
        if fresh.any():
            for part, start in zip(before, self.initial(int(fresh.sum())), strict=True):
                part[fresh] = start
        out, after = self.step(batch, before)
        for part, new in zip(self._store, after, strict=True):
            part[episodes] = new
        return out


def frame_stack_memory(step: Callable[[np.ndarray], np.ndarray], obs_size: int, k: int) -> Memory:
    """A network reading the last ``k`` observations side by side, oldest first, as SB3's ``VecFrameStack``
    gives them in training (zeros before the first turn)."""

    def initial(n: int) -> State:
        return (np.zeros((n, (k - 1) * obs_size), dtype=np.float32),)

    def advance(obs: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        stacked = np.concatenate([state[0], obs], axis=1)
        return step(stacked), (stacked[:, obs_size:],)

    return Memory(initial, advance, obs_size)


#: ``step(observations, h, c) -> (outputs, h, c)`` with the LSTM's states laid out as torch and SB3 keep
#: them, ``(layers, n, hidden)``
LstmStep = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def lstm_memory(step: LstmStep, layers: int, hidden: int, obs_size: int) -> Memory:
    """An LSTM policy's memory: its hidden and cell states, zeros before the first turn (as sb3-contrib's
    ``episode_start`` resets them). Stored one row per conversation, handed to ``step`` as ``(layers, n, hidden)``."""

    def initial(n: int) -> State:
        return np.zeros((n, layers, hidden), dtype=np.float32), np.zeros((n, layers, hidden), dtype=np.float32)

    def advance(obs: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        h, c = (np.ascontiguousarray(part.swapaxes(0, 1)) for part in state)
        out, h, c = step(obs, h, c)
        return out, (np.asarray(h).swapaxes(0, 1), np.asarray(c).swapaxes(0, 1))

    return Memory(initial, advance, obs_size)


class Network:
    """What acts on observations, with or without a memory: ``policy_net.PolicyNet``, or
    ``policy_process.PolicyProcess`` answering for one in another process. Subclasses set the attributes
    and give :meth:`values` (and :meth:`lstm_step` for an LSTM)."""

    #: one observation of the env (the network reads ``frame_stack`` of them side by side)
    obs_size: int
    frame_stack: int
    #: it remembers the conversation (an LSTM, or frame stacking): act through :meth:`new_memory`
    remembers: bool

    @property
    def lstm_shape(self) -> tuple[int, int] | None:
        """``(layers, hidden size)`` of the actor's LSTM (recurrent PPO), else None."""
        return None

    def values(self, batch: np.ndarray) -> np.ndarray:
        """The head's outputs for a batch of what the network reads."""
        raise NotImplementedError

    def lstm_step(self, obs: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One step of the actor's LSTM and the head."""
        raise NotImplementedError

    def action_values(self, obs: np.ndarray) -> np.ndarray:
        """Action probabilities (PPO, A2C) or Q-values (DQN), float64, shape ``(8,)`` or ``(n, 8)``."""
        if self.remembers:
            raise ValueError("this network remembers the conversation: act through new_memory()")
        batch = np.asarray(obs, dtype=np.float32)
        array = self.values(batch.reshape(-1, self.obs_size))
        return array[0] if batch.ndim == 1 else array

    def predict(self, obs: np.ndarray) -> np.ndarray:
        """The greedy action of each observation (``int64``; a 0-d array for one observation)."""
        return np.asarray(np.argmax(self.action_values(obs), axis=-1), dtype=np.int64)

    def new_memory(self) -> Memory:
        """A fresh memory to act with: the LSTM's states (recurrent PPO), or the last ``frame_stack`` observations."""
        if self.lstm_shape is None:
            return frame_stack_memory(self.values, self.obs_size, self.frame_stack)
        layers, hidden = self.lstm_shape
        return lstm_memory(self.lstm_step, layers, hidden, self.obs_size)
