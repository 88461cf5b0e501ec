"""Agents by name: the baselines of ``cs_env.policies`` and trained models, behind one interface.

``load_agent("baseline:heuristic")``, ``load_agent("saves/ppo-mixed")``, ``load_agent("ppo-mixed")`` (a run
name under the saves folder) or ``load_agent("model.zip")`` all return an :class:`Agent`: a policy callable
with the ``cs_env.policies`` convention (one observation → ``int``, a batch → an integer array), so
``cs_env.evaluate.rollout`` and the scenario runner take it as is, plus :meth:`Agent.action_values` for the
app's "what would the agent do" bars.

Importing this module does not import torch; loading a model does (through
:mod:`cs_tui.training.safe_load`, which never unpickles a model file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cs_env.domain import N_STRATEGIES
from cs_env.env import check_industry, check_max_turns
from cs_env.policies import BASELINE_NAMES, baselines
from cs_tui.training.runs import short_list

if TYPE_CHECKING:
    from cs_env.customer import CustomerState
    from cs_tui.training.numpy_policy import NumpyPolicyNet
    from cs_tui.training.policy_net import PolicyNet
    from cs_tui.training.policy_process import PolicyProcess

BASELINE_PREFIX = "baseline:"
#: ``playbook:FILE``: a playbook file (:mod:`cs_env.playbook`), a path or a file name under the saves folder.
PLAYBOOK_PREFIX = "playbook:"
#: What each baseline is, in a few words, where a list offers them (a fixed strategy: ``FIXED_NOTE``).
BASELINE_NOTES = {
    "random": "picks at random",
    "heuristic": "a support lead's rules",
    "oracle": "sees the hidden traits: the ceiling",
    "script": "a new hire's script: empathy, quick fix, then technical",
    "lookup": "one strategy per inquiry, mood, tier and turn, fitted",
    "lookup_hint": "the lookup table, also reading the specialist hint",
}
FIXED_NOTE = "always this strategy"
#: A run folder's model files, preferred first.
MODEL_FILES = ("best.zip", "model.zip")
MAX_LISTED = 10


class AgentError(ValueError):
    """An agent spec that names nothing loadable; the message lists what is valid."""


class ModelRunError(AgentError):
    """A loaded model failed while acting (its outputs are not finite numbers)."""


@dataclass(frozen=True)
class ActionValues:
    """How much an agent likes each of the 8 strategies in one situation.

    ``kind`` is ``"probabilities"`` (sums to 1: PPO, A2C, baselines) or ``"q_values"`` (DQN's estimated
    returns). ``values`` has shape ``(8,)`` for one observation, ``(n, 8)`` for a batch.
    """

    kind: str
    values: np.ndarray

    @property
    def best(self) -> int:
        """The strategy with the highest value (for one observation)."""
        return int(np.argmax(self.values))


@dataclass(eq=False)  # agents compare (and hash) by identity
class Agent:
    """A policy with a name: call it on observations; ask it for its action values.

    Attributes:
        name: ``baseline:NAME`` for a baseline, the run name (or file stem) for a model.
        kind: ``"baseline"`` or ``"model"``.
        needs_state: True for the oracle, which reads the true hidden state (pass ``state=``).
        needs_episodes: True for a model that remembers the conversation (recurrent, frame-stacked):
            call it one conversation at a time, or on a batch with ``episodes=``.
        meta: a model's ``cs_tui.json`` (algorithm, industry, max_turns, hyperparameters, …); ``{}`` for baselines.
        path: the model file a model agent was loaded from.
    """

    name: str
    kind: str
    needs_state: bool = False
    needs_episodes: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __call__(self, obs: np.ndarray, state: CustomerState | None = None) -> Any:
        """The action for one observation (``int``), or for a batch (``int64`` array)."""
        raise NotImplementedError

    def action_values(self, obs: np.ndarray, state: CustomerState | None = None) -> ActionValues:
        """The agent's values of each strategy for ``obs`` (see :class:`ActionValues`)."""
        raise NotImplementedError


class BaselineAgent(Agent):
    """One of ``cs_env.policies``' baselines as an :class:`Agent`."""

    def __init__(self, baseline: str, policy: Any) -> None:
        super().__init__(
            name=BASELINE_PREFIX + baseline, kind="baseline", needs_state=bool(getattr(policy, "needs_state", False))
        )
        self.baseline = baseline
        self.policy = policy
        # The oracle draws fresh rollouts per call: remember its last answer so action_values and the
        # action that follows agree for the same situation.
        self._last: tuple[bytes, int, Any] | None = None

    def __call__(self, obs: np.ndarray, state: CustomerState | None = None) -> Any:
        if not self.needs_state:
            return self.policy(obs)
        if state is None:
            raise ValueError(f"{self.name} needs the true hidden state: call it as agent(obs, state=...)")
        key = (np.asarray(obs).tobytes(), id(state))
        if self._last is not None and self._last[:2] == key:
            return self._last[2]
        action = self.policy(obs, state=state)
        self._last = (*key, action)
        return action

    def action_values(self, obs: np.ndarray, state: CustomerState | None = None) -> ActionValues:
        batch = np.asarray(obs)
        if self.baseline == "random":  # its choice is a fresh draw: what it "prefers" is the uniform law
            shape = (*batch.shape[:-1], N_STRATEGIES)
            return ActionValues("probabilities", np.full(shape, 1.0 / N_STRATEGIES))
        action = np.asarray(self(obs, state=state), dtype=np.int64)
        return ActionValues("probabilities", np.eye(N_STRATEGIES)[action])


class PlaybookAgent(Agent):
    """A playbook file (:mod:`cs_env.playbook`) as an :class:`Agent`; :meth:`decide` also names the rule."""

    def __init__(self, playbook: Any, path: Path) -> None:
        super().__init__(name=PLAYBOOK_PREFIX + str(path), kind="playbook", path=path)
        self.playbook = playbook

    def __call__(self, obs: np.ndarray, state: CustomerState | None = None) -> Any:
        return self.playbook(obs)

    def decide(self, obs: np.ndarray) -> tuple[Any, Any]:
        """The strategy and the 0-based rule that fired (arrays for a batch)."""
        return self.playbook.decide(obs)

    def action_values(self, obs: np.ndarray, state: CustomerState | None = None) -> ActionValues:
        action = np.asarray(self(obs), dtype=np.int64)
        return ActionValues("probabilities", np.eye(N_STRATEGIES)[action])


class ModelAgent(Agent):
    """A trained model as an :class:`Agent` (greedy actions, as SB3's deterministic predict).

    It holds only the policy network (numpy's, :mod:`cs_tui.training.numpy_policy`, in the app; torch's,
    :mod:`cs_tui.training.policy_net`, elsewhere), not SB3's algorithm: loading it imports no
    stable-baselines3, so an opponent answers seconds sooner on a busy machine. A
    recurrent or frame-stacking model remembers the conversation (:mod:`cs_tui.training.memory`): call
    it one conversation at a time, or on a batch with ``episodes=`` (``needs_episodes`` says so).
    """

    def __init__(
        self, name: str, net: PolicyNet | PolicyProcess | NumpyPolicyNet, meta: dict[str, Any], path: Path
    ) -> None:
        super().__init__(name=name, kind="model", needs_state=False, meta=meta, path=path)
        self.net = net
        self.algorithm = net.algorithm
        self.memory = net.new_memory() if net.remembers else None
        self.needs_episodes = self.memory is not None

    def __call__(self, obs: np.ndarray, state: CustomerState | None = None, episodes: Any = None) -> Any:
        actions = np.argmax(self.action_values(obs, episodes=episodes).values, axis=-1)  # checked finite there
        return int(actions) if np.ndim(actions) == 0 else np.asarray(actions, dtype=np.int64)

    def action_values(self, obs: np.ndarray, state: CustomerState | None = None, episodes: Any = None) -> ActionValues:
        array = self.net.action_values(obs) if self.memory is None else self.memory(obs, episodes)
        if not np.isfinite(array).all():  # broken weights: softmax or a Q-value of NaN / infinity
            raise ModelRunError(
                f"{self.path or self.name}: the model's output is not a finite number (NaN or infinity) for an "
                "observation it was given: its weights are broken (too large?); retrain it or pick another model"
            )
        return ActionValues(self.net.kind, array)


def baseline_specs() -> tuple[str, ...]:
    """Every valid ``baseline:NAME`` spec, in :data:`cs_env.policies.BASELINE_NAMES`' order."""
    return tuple(BASELINE_PREFIX + name for name in BASELINE_NAMES)


def baseline_note(name: str) -> str:
    """What the baseline ``name`` (or ``baseline:NAME``) is, in a few words."""
    return BASELINE_NOTES.get(name.removeprefix(BASELINE_PREFIX), FIXED_NOTE)


def playbook_specs(saves: Path | None = None, limit: int = MAX_LISTED * 5) -> list[str]:
    """``playbook:PATH`` for each ``*.toml`` in the saves folder (at most ``limit``), for the app's pickers;
    a file that is not a valid playbook is listed too, and refused with its reason when chosen."""
    folder = _saves(saves)
    try:
        files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    except OSError:  # an unreadable folder lists nothing
        files = []
    return [PLAYBOOK_PREFIX + str(path) for path in files if path.is_file()][:limit]


#: The playbooks that come with cs-tui (``playbooks/`` of a checkout, beside the package).
SHIPPED_PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"
#: The default playbook's file name: distilled from the default agent, kept in the saves folder.
DEFAULT_PLAYBOOK = "default-playbook.toml"
#: The playbook used where the default one is missing: ``baseline:heuristic`` written as rules.
FALLBACK_PLAYBOOK = SHIPPED_PLAYBOOKS / "heuristic.toml"


def playbook_files(saves: Path | None = None, limit: int = MAX_LISTED * 5) -> list[Path]:
    """Playbook files to choose from: the shipped ones (``playbooks/*.toml``), then those of the saves
    folder (at most ``limit`` in all, each once); a file that is not a valid playbook is listed too, and
    refused with its reason when chosen."""
    found: dict[Path, Path] = {}
    for folder in (SHIPPED_PLAYBOOKS, _saves(saves)):
        try:
            files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
        except OSError:  # an unreadable folder lists nothing
            files = []
        for path in files:
            if path.is_file():
                found.setdefault(path.resolve(), path)
    return list(found.values())[:limit]


def default_playbook(saves: Path | None = None) -> Path | None:
    """The playbook that speaks for "what would the rules say": the saves folder's ``default-playbook.toml``,
    else the one shipped in the checkout's ``saves/``, else ``playbooks/heuristic.toml``; None if none is
    there (an installed package without a checkout)."""
    candidates = (_saves(saves) / DEFAULT_PLAYBOOK, SHIPPED_PLAYBOOKS.parent / "saves" / DEFAULT_PLAYBOOK)
    return next((path for path in (*candidates, FALLBACK_PLAYBOOK) if path.is_file()), None)


def load_agent(
    spec: str,
    *,
    industry: str = "mixed",
    max_turns: int = 10,
    saves: Path | None = None,
    seed: int = 0,
    apart: bool = False,
) -> Agent:
    """The agent ``spec`` names.

    Args:
        spec: ``baseline:NAME`` (random, script, lookup, lookup_hint, heuristic, oracle or a strategy such as
            ``quick_resolution``), ``playbook:FILE`` (a playbook file), a run folder, a run name under
            ``saves``, or a model ``.zip``. A run
            folder gives its ``best.zip`` if present, else its ``model.zip``.
        industry: the industry the agent will serve (the oracle plans for it).
        max_turns: the conversations' turn limit (the oracle plans for it).
        saves: the saves folder for run names (default: ``cs_tui.training.runs.saves_dir()``).
        seed: seeds the random baseline and the oracle's rollouts.
        apart: load a model without torch in this process, the app's way (its keys would wait while
            torch loads): with numpy (:mod:`cs_tui.training.numpy_policy`), or, for what numpy does not
            run (a recurrent policy), in a process of its own (:mod:`cs_tui.training.policy_process`).

    Raises:
        AgentError: ``spec`` names no baseline, run or file; the message lists the valid choices.
        ModelLoadError: the model file exists but cannot be loaded safely (from ``safe_load``).
    """
    industry = check_industry(industry)
    max_turns = check_max_turns(max_turns)
    if not isinstance(spec, str) or not spec.strip():
        raise AgentError(f"empty agent spec; {_valid_choices(saves)}")
    spec = spec.strip()
    if spec.startswith(BASELINE_PREFIX):
        name = spec[len(BASELINE_PREFIX) :]
        found = baselines(industry, max_turns, seed)
        if name not in found:
            raise AgentError(f"unknown baseline {name!r}; valid baselines: {', '.join(baseline_specs())}")
        return BaselineAgent(name, found[name])
    if spec.startswith(PLAYBOOK_PREFIX):
        return load_playbook_agent(spec[len(PLAYBOOK_PREFIX) :], max_turns=max_turns, saves=saves)
    if spec in BASELINE_NAMES and not Path(spec).exists() and not (_saves(saves) / spec).exists():
        raise AgentError(f"unknown agent {spec!r}: did you mean {BASELINE_PREFIX}{spec}? {_valid_choices(saves)}")
    model_path, name = _model_file(spec, saves)
    return _load_model_agent(model_path, name, industry, max_turns, apart)


def load_playbook_agent(file: str, *, max_turns: int = 10, saves: Path | None = None) -> PlaybookAgent:
    """The playbook at ``file`` (a path, or a file name under the saves folder) as an agent.

    Raises:
        AgentError: no such file, or the file is not a valid playbook (the message names the line and the
            valid choices).
    """
    from cs_env.playbook import PlaybookError, load

    path = Path(file.strip()).expanduser()
    if not file.strip():
        raise AgentError(f"{PLAYBOOK_PREFIX} needs a file: {PLAYBOOK_PREFIX}FILE.toml (e.g. playbooks/heuristic.toml)")
    if not path.is_file() and not path.is_absolute() and len(path.parts) == 1 and (_saves(saves) / path).is_file():
        path = _saves(saves) / path
    if not path.is_file():
        raise AgentError(f"no playbook file {file!r} (give a path, or a file name under {_saves(saves)})")
    try:
        return PlaybookAgent(load(path, max_turns=max_turns), path)
    except PlaybookError as exc:
        raise AgentError(str(exc)) from None


def _model_file(spec: str, saves: Path | None) -> tuple[Path, str]:
    """The model file ``spec`` points to, and the agent's name."""
    path = Path(spec).expanduser()
    candidates = [path]
    if not path.is_absolute() and len(path.parts) == 1:
        candidates.append(_saves(saves) / path)
    for candidate in candidates:
        if candidate.is_file():
            # a run's own model file is named after its run; any other file after itself
            in_run = candidate.name in MODEL_FILES and candidate.resolve().parent.name
            return candidate, in_run or (candidate.stem if candidate.suffix == ".zip" else candidate.name)
        if candidate.is_dir():
            for file_name in MODEL_FILES:
                if (candidate / file_name).is_file():
                    return candidate / file_name, candidate.resolve().name
            raise AgentError(f"{candidate}: no model in this folder (expected best.zip or model.zip)")
    raise AgentError(f"no agent {spec!r}: {_valid_choices(saves)}")


def _load_model_agent(path: Path, name: str, industry: str, max_turns: int, apart: bool) -> ModelAgent:
    from cs_env.env import CustomerSupportEnv
    from cs_tui.training.model_file.format import ModelLoadError

    net: PolicyNet | PolicyProcess | NumpyPolicyNet
    if apart:
        from cs_tui.training.model_file.torch_zip import Unsupported
        from cs_tui.training.numpy_policy import load_numpy_policy
        from cs_tui.training.policy_process import start

        try:  # numpy alone, in a few milliseconds; torch (seconds) only for what numpy does not run
            net, meta = load_numpy_policy(path)
        except Unsupported:
            net, meta = start(path)
    else:
        import torch

        from cs_tui.training.policy_net import load_policy_net

        torch.set_num_threads(1)  # a small MLP: more threads only add contention with the app and the env
        net, meta = load_policy_net(path)
    # the model must read this env's observations and answer with its actions; the bounds may differ
    # (e.g. another max_turns), the layout may not
    env = CustomerSupportEnv(industry, max_turns)
    model_obs = (net.obs_size,)  # one observation of the frame_stack the network reads
    model_actions = int(meta["model"]["action_space"]["n"])
    if model_obs != env.observation_space.shape or model_actions != N_STRATEGIES:
        raise ModelLoadError(
            f"{path}: the model reads observations of shape {model_obs} and picks among {model_actions} actions; "
            f"this env gives shape {env.observation_space.shape} and {N_STRATEGIES} actions"
        )
    return ModelAgent(name, net, meta, path)


def _saves(saves: Path | None) -> Path:
    from cs_tui.training.runs import saves_dir

    return Path(saves) if saves is not None else saves_dir()


def _has_model(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).is_file() for name in MODEL_FILES)


def _valid_choices(saves: Path | None) -> str:
    root = _saves(saves)
    try:
        runs = sorted(p.name for p in root.iterdir() if _has_model(p)) if root.is_dir() else []
    except OSError:  # an unreadable saves folder must not hide the real message
        runs = []
    listed = short_list(runs, MAX_LISTED)
    return (
        f"valid agents: {', '.join(baseline_specs())}; a run folder; a run name under {root} (found: {listed}); "
        f"a model .zip file; or {PLAYBOOK_PREFIX}FILE.toml"
    )


__all__ = [
    "BASELINE_NAMES",
    "BASELINE_NOTES",
    "ActionValues",
    "Agent",
    "AgentError",
    "BaselineAgent",
    "ModelAgent",
    "ModelRunError",
    "PlaybookAgent",
    "baseline_note",
    "baseline_specs",
    "default_playbook",
    "load_agent",
    "load_playbook_agent",
    "playbook_files",
    "playbook_specs",
]
