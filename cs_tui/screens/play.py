"""The play pane: you answer a customer turn by turn, then the opponent plays the same customer.

The conversation runs through the env's public API only (``reset``/``step``/``info``; see
:mod:`cs_tui.play_session`). The opponent is loaded by ``cs_tui.agents.load_agent`` in a thread
worker, because a model pulls in torch; until it is ready the human can already play. The pane is in
one phase at a time (:mod:`cs_tui.screens.play_phase`): the keys, the strategy picker and the opponent's
line are drawn from it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Header, Static
from textual.worker import get_current_worker

from cs_env.domain import STRATEGY_NAMES
from cs_env.env import valid_industries
from cs_tui.labels import first_fitting
from cs_tui.play_session import (
    LEAVE_PENALTY,
    Conversation,
    Episode,
    RecordError,
    compare,
    list_recordings,
    load_recording,
    play_agent,
    reveal_lines,
    save_episode,
)
from cs_tui.screens.pane import PaneScreen
from cs_tui.screens.play_phase import Compared, Empty, Live, Phase, Replaying, Reviewing, State, Waiting, allows
from cs_tui.widgets.action_picker import LABELS, ActionPicker, AgentView, StrategyKey
from cs_tui.widgets.customer_card import CustomerCard, CustomerView, customer_line
from cs_tui.widgets.key_bar import KeyBar
from cs_tui.widgets.reward_breakdown import RewardBreakdown
from cs_tui.widgets.scoreboard import Scoreboard
from cs_tui.widgets.sentiment_gauge import SentimentGauge
from cs_tui.widgets.transcript import Item, Transcript

if TYPE_CHECKING:
    from cs_env.playbook import Playbook
    from cs_tui.agents import Agent
    from cs_tui.training.runs import Run

ANSWER = Binding.Group("answer", compact=True)
DEFAULT_AGENT = "default"
SHORT, NARROW = 20, 64  # below these rows the title and the score go, below these columns the side panel
FALLBACK_AGENT = "baseline:heuristic"


def nearest_rules(saves: Path) -> tuple[Playbook | None, str]:
    """The playbook shown beside a neural opponent (:func:`cs_tui.agents.default_playbook`), read and checked;
    ``(None, why)`` if it cannot be read, ``(None, "")`` if there is none."""
    from cs_env.playbook import PlaybookError, load
    from cs_tui.agents import default_playbook

    path = default_playbook(saves)
    if path is None:
        return None, ""
    try:
        return load(path), ""
    except PlaybookError as exc:
        return None, str(exc)


def short_name(spec_or_name: str) -> str:
    """An agent's name as shown: ``heuristic`` rather than ``baseline:heuristic``."""
    return spec_or_name.removeprefix("baseline:")


class PlayScreen(PaneScreen):
    """Play customers against an opponent agent; compare on the same customers; replay recordings."""

    HELP = """
## Play

A customer writes in. Answer each turn with a strategy (keys **1-8**). The customer's mood, the
reward of each turn and your **return** (the sum of the rewards so far) {side_panel}. When the
conversation ends, the opponent plays **the same customer from the same seed**, and the scoreboard
compares you over the session (from the sixth customer, a paired bootstrap 95 % CI of the difference
in return says whether either of you is ahead). *Handled* counts the conversations resolved, and those
escalated when only a specialist could solve them (a right escalation is the job done).

**The reveal.** When a conversation ends (or you leave it), the customer is revealed under it: their
hidden traits — complexity, savvy, openness, patience as they arrived, whether only a specialist could
solve it — then, for you and for the opponent, what each offer did (sold or not) and the patience left.

**The opponent's reasons.** Against a playbook, the line under the keys names the rule that chose.
Against a trained agent, the line under that says what the playbook's nearest rule — the one that fires
in this situation — would do: the saves folder's `default-playbook.toml`, else `playbooks/heuristic.toml`.

**The strategies.** 1 *empathetic* and 5 *apologetic* calm an upset customer (less with each repeat;
a calm one finds it patronizing). 2 *technical* goes deep (experts like it, novices get lost);
6 *educational* walks a novice through it; 7 *quick resolution* is a canned fix that only suits simple
issues. 3 *escalate* hands over to a specialist: right for urgent fraud or a case only engineering can
fix, a costly annoyance otherwise. 4 *product recommend* and 8 *upsell* make an offer: it pays with a
content, receptive customer and backfires with an upset one.

**The reward** of a turn has four parts: *satisfaction* (a new high in the customer's mood),
*efficiency* (resolving quickly), *business* (a sale, and the customer's value kept at the end) and
*escalation* (the cost of a specialist's time).

**Leaving a customer.** **n** (or **r**) before a conversation has ended asks first: a conversation you
leave counts as your loss (it scores the lower of your return so far and the opponent's, less
{penalty:g}), and the opponent still plays that customer, so skipping a hard one never helps the score.

**b** blind mode hides the opponent's suggestion until you answer. **v** shows the opponent's
conversation with the last customer. Every finished conversation is saved in the `episodes` folder of
the saves folder (`saves/`, or the one given with `--saves`); **r** replays one.

**Export.** **e** writes the session — every conversation you finished, both sides' moves turn by turn,
and the reveal — as a JSON file and a CSV (one row per turn) in the `exports` folder of the saves
folder; a notice names the files.

**Copying.** Drag the mouse over the conversation to select part of it; **ctrl+c** copies the
selection. **c** copies the whole conversation shown (or the selection, if there is one), to paste
into a ticket. Copying goes through the terminal (OSC 52), as most terminals and tmux allow.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(i + 1), f"answer({i})", LABELS[i], group=ANSWER) for i in range(len(STRATEGY_NAMES))),
        # in the order a narrow key bar keeps them: after a conversation, next and the opponent's come first
        Binding("enter", "next_customer", "Next", tooltip="the next customer (seed + 1)"),
        # one key, two labels: the one that says where v goes from what is shown (check_action picks)
        Binding(
            "v", "toggle_view('theirs')", "Theirs", tooltip="show the opponent's conversation with the last customer"
        ),
        Binding("v", "toggle_view('yours')", "Yours", tooltip="back to your conversation with the last customer"),
        Binding("n", "new_episode", "New…", tooltip="a new conversation: choose the industry and seed"),
        Binding("o", "pick_opponent", "Opponent", tooltip="choose the agent you play against"),
        Binding("b", "toggle_blind", "Blind", tooltip="hide the opponent's suggestion until you answer"),
        Binding("r", "recordings", "Replays", tooltip="replay a recorded conversation"),
        # not in the key bar, which has no room left at 80 columns: the help page lists them
        Binding(
            "e",
            "export",
            "Export",
            tooltip="write this session (every conversation, both sides' moves, the reveal) to JSON and CSV",
            show=False,
        ),
        Binding("c", "copy_conversation", "Copy", tooltip="copy the conversation (or the selected text)", show=False),
    ]

    class OpponentLoaded(Message):
        """The worker loaded the opponent (or failed: ``error``)."""

        def __init__(self, spec: str, agent: Agent | None, error: str | None) -> None:
            super().__init__()
            self.spec = spec
            self.agent = agent
            self.error = error

    class RulesLoaded(Message):
        """For a neural opponent, after it suggests: the playbook whose nearest rule is shown beside its
        probabilities (None: there is none, or ``problem`` says why). Read after the opponent is posted, as
        checking a playbook takes longer than loading the model."""

        def __init__(self, spec: str, rules: Playbook | None, problem: str) -> None:
            super().__init__()
            self.spec = spec
            self.rules = rules
            self.problem = problem

    class OpponentPlayed(Message):
        """The opponent finished its conversation with the customer the human just served."""

        def __init__(self, human: Episode, agent: Episode | None, error: str | None) -> None:
            super().__init__()
            self.human = human
            self.agent = agent
            self.error = error

    class RecordingsListed(Message):
        """The worker read the recordings folder: ``(path, label)`` of each, newest first."""

        def __init__(self, choices: list[tuple[str, str]]) -> None:
            super().__init__()
            self.choices = choices

    class RecordingLoaded(Message):
        """The worker read and replayed a recording (or could not: ``error``)."""

        def __init__(self, path: Path, episodes: tuple[Episode, Episode | None] | None, error: str | None) -> None:
            super().__init__()
            self.path = path
            self.episodes = episodes
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        #: the phase (live, waiting, reviewing, replaying) and what it shows: only ``_enter`` changes it
        self.state: State = Empty()
        self.agent: Agent | None = None
        #: the playbook that says what its rules would do beside a neural opponent's values (None: none)
        self.rules: Playbook | None = None
        self.agent_spec = FALLBACK_AGENT
        #: the spec of the opponent being loaded, None when none is
        self.opponent_loading: str | None = None
        #: a conversation you finished before the opponent loaded: it plays that customer once loaded
        self.unplayed: Episode | None = None
        self.announce = False
        self.blind = False
        #: (human, opponent) episodes on the same customers, this session
        self.pairs: list[tuple[Episode, Episode]] = []
        self.reveals: dict[tuple[int, int], str] = {}  # (episode id, turn index) -> what blind mode hid
        self.records: dict[Episode, Path] = {}  # episode -> its recording, once written
        #: every conversation finished in this app session, with the opponent's (None: it could not play)
        self.session: list[tuple[Episode, Episode | None]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="customer-line")  # the side panel's gist, on a terminal too narrow for it
        with Horizontal(id="play-main"):
            yield Transcript(id="transcript")
            with VerticalScroll(id="play-side") as side:
                side.can_focus = False  # keys belong to the game, not to scrolling a side panel
                yield CustomerCard(id="customer")
                yield SentimentGauge(id="gauge")
                yield RewardBreakdown(id="rewards")
        yield ActionPicker(id="picker")
        yield Static(id="opponent-line")
        yield Static(id="rule-line")  # beside a neural opponent's values: what the playbook's rule says
        yield Scoreboard(id="scoreboard")
        yield KeyBar()

    def on_mount(self) -> None:
        settings = self.settings
        self.industry: str = settings.industry
        self.max_turns: int = settings.max_turns
        self.seed: int = settings.seed if settings.seed is not None else random.randrange(100_000)
        self.sub_title = "Play"
        spec = settings.opponent or (DEFAULT_AGENT if self._has_default() else FALLBACK_AGENT)
        self.opponent_loading = spec
        self.start(self.industry, self.seed)
        self.call_after_refresh(self.load_opponent, spec)  # the first screen first

    def help_text(self) -> str:
        narrow = self.has_class("-narrow")  # the side panel left out
        side_panel = (
            f"are in the side panel, which needs {NARROW} columns: at this width the line above the conversation "
            "shows the inquiry, the tier and the mood, and the conversation each turn's reward"
            if narrow
            else "are on the right"
        )
        return super().help_text().format(side_panel=side_panel, penalty=LEAVE_PENALTY)

    def on_resize(self, event: events.Resize) -> None:
        # small terminals keep the conversation and the keys; the title, the score and the side panel go
        # (and the keys go on one row each, the opponent's line and the scoreboard worded shorter)
        short, narrow = event.size.height < SHORT, event.size.width < NARROW
        if (short, narrow) != (self.has_class("-short"), self.has_class("-narrow")):
            self.set_class(short, "-short")
            self.set_class(narrow, "-narrow")
            self.call_after_refresh(self.refresh, layout=True)  # the new sizes need a second layout
        self.call_after_refresh(self._show_phase)  # the opponent's line, worded for the new width
        self.call_after_refresh(self._show)  # and the customer's line

    @property
    def phase(self) -> Phase:
        return self.state.phase

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that do nothing in this phase are hidden from the key bar (answers once the conversation ended, …)."""
        return allows(self.state, action, parameters)

    def _enter(self, state: State) -> None:
        """Go to ``state``: the one place the phase changes; draws what it shows and the keys it allows."""
        self.state = state
        if isinstance(state, Live):
            self._hint()
        self._show()
        self._show_phase()
        self.refresh_bindings()

    # -- conversations -----------------------------------------------------------------------
    def _has_default(self) -> bool:
        folder = self.saves / DEFAULT_AGENT
        return (folder / "best.zip").is_file() or (folder / "model.zip").is_file()

    def start(self, industry: str, seed: int) -> None:
        """A new customer: ``reset(seed=seed)`` of an env for ``industry``."""
        try:
            conversation = Conversation(industry=industry, max_turns=self.max_turns, seed=seed)
        except ValueError as error:  # an industry file that stopped validating, say
            self.notify(str(error), title="Cannot start a conversation", severity="error")
            self._show_phase()  # the phase stays; with no customer yet, its line says what to do
            return
        self.industry, self.seed = industry, seed
        self.reveals = {}
        self._enter(Live(conversation))

    def action_answer(self, strategy: int) -> None:
        """Answer the current turn with ``strategy``."""
        live = self.state
        if not isinstance(live, Live):  # a click on a key: the key bar already hides 1-8
            self.app.bell()
            return
        c = live.conversation
        turn_index = len(c.episode.turns)
        c.play(strategy)
        view = live.view
        if self.blind and self.agent is not None and view is not None and view.recommended >= 0:
            same = "same as you" if view.recommended == strategy else "you differed"
            self.reveals[(id(c.episode), turn_index)] = (
                f"  ({short_name(self.agent.name)} would have answered {LABELS[view.recommended]} here: {same})"
            )
        if not c.episode.done:
            self._hint()
            self._show()
            self._show_phase()
            return
        self._finished(c.episode)

    def _finished(self, human: Episode) -> None:
        """``human`` ended (or was left): kept, and the opponent plays the same customer."""
        self._enter(Waiting(human))
        if self.agent is None:
            self.unplayed = human
            self._record(human, None)  # kept now; the opponent's part is added when it has played
        else:
            self.play_opponent(human)

    def _leave_first(self, then: Callable[[], None]) -> None:
        """Run ``then``; mid-conversation, only once the player agreed to leave the customer, which counts
        as their loss while the opponent still plays that customer (leaving cannot skip a hard one)."""
        live = self.state
        if not isinstance(live, Live) or live.conversation.episode.done:
            then()
            return
        from cs_tui.screens.play_dialogs import ChoiceDialog

        def chosen(choice: str | None) -> None:
            if choice != "leave" or self.state is not live:
                return
            live.conversation.leave()
            self._finished(live.conversation.episode)
            then()

        choices = [
            ("stay", "Stay with this customer"),
            ("leave", "Leave: it counts as your loss, and the opponent still plays this customer"),
        ]
        self.app.push_screen(
            ChoiceDialog("Leave this conversation?", choices, current="stay", hint="enter choose · esc stay"), chosen
        )

    @on(StrategyKey.Chosen)
    def clicked(self, event: StrategyKey.Chosen) -> None:
        self.action_answer(event.strategy)

    def action_next_customer(self) -> None:
        """The next customer: the same industry, the next seed."""
        self.start(self.industry, self.seed + 1)

    def action_new_episode(self) -> None:
        """Choose the industry and seed of a new conversation (mid-conversation: after agreeing to leave it)."""
        self._leave_first(self._new_episode)

    def _new_episode(self) -> None:
        from cs_tui.screens.play_dialogs import NewEpisodeDialog  # dialogs load when first opened

        def chosen(result: tuple[str, int] | None) -> None:
            if result is not None:
                self.start(*result)

        self.app.push_screen(NewEpisodeDialog(valid_industries(), self.industry, self.seed + 1), chosen)

    # -- the opponent ------------------------------------------------------------------------
    def action_pick_opponent(self) -> None:
        """Choose the opponent: a saved model or a baseline."""
        from cs_tui.agents import baseline_note, baseline_specs, playbook_specs
        from cs_tui.screens.play_dialogs import ChoiceDialog
        from cs_tui.training.runs import list_runs

        choices: list[tuple[str, str]] = []
        for run in list_runs(self.saves):
            if run.model_path.is_file() or run.best_path.is_file():
                choices.append((run.name, f"{run.name}  · saved model{self._run_summary(run)}"))
        if self._has_default() and DEFAULT_AGENT not in [c for c, _ in choices]:
            choices.insert(0, (DEFAULT_AGENT, f"{DEFAULT_AGENT}  · the shipped agent"))
        choices += [
            (spec, f"{Path(spec.split(':', 1)[1]).name}  · playbook file") for spec in playbook_specs(self.saves)
        ]
        choices += [(spec, f"{short_name(spec)}  · {baseline_note(spec)}") for spec in baseline_specs()]

        def chosen(spec: str | None) -> None:
            if spec is not None and spec != self.agent_spec:
                self.load_opponent(spec)

        self.app.push_screen(
            ChoiceDialog("Opponent", choices, current=self.agent_spec, hint="enter choose · esc cancel"), chosen
        )

    @staticmethod
    def _run_summary(run: Run) -> str:
        try:
            record = run.record()
        except ValueError:  # a broken meta.json: the list still offers the model; loading will say what is wrong
            return ""
        best = record.best_eval or record.last_eval
        pct = None if best is None else best.pct_of_oracle
        # the training evaluation's, as the models pane says
        score = "" if pct is None else f", eval {pct:.0f}% oracle"
        return f" ({record.algorithm}, {record.industry}{score})"

    def load_opponent(self, spec: str) -> None:
        """Load ``spec`` in a thread (a model imports torch); the human can play meanwhile."""
        self.opponent_loading = spec
        self._show_phase()
        self._load(spec, self.industry, self.max_turns, self.saves)

    @work(thread=True, exclusive=True, group="opponent")
    def _load(self, spec: str, industry: str, max_turns: int, saves: Path) -> None:
        try:
            from cs_tui.agents import load_agent

            # the opponent serves every industry the human may pick: "mixed" plans for all of them
            agent = load_agent(spec, industry="mixed", max_turns=max_turns, saves=saves, apart=True)
        except Exception as error:  # a broken model file must not take the app down
            self.post_message(self.OpponentLoaded(spec, None, str(error) or type(error).__name__))
            return
        if get_current_worker().is_cancelled:
            return
        self.post_message(self.OpponentLoaded(spec, agent, None))
        if agent.kind == "model":
            rules, problem = nearest_rules(saves)
            if not get_current_worker().is_cancelled:
                self.post_message(self.RulesLoaded(spec, rules, problem))

    @on(OpponentLoaded)
    def opponent_loaded(self, event: OpponentLoaded) -> None:
        if self.opponent_loading == event.spec:  # (not a load the user replaced by another since)
            self.opponent_loading = None
        agent = event.agent
        if event.error is not None or agent is None:
            self.notify(
                event.error or "unknown error",
                title=f"Cannot load {short_name(event.spec)}",
                severity="error",
                timeout=10,
            )
            if self.agent is None and event.spec != FALLBACK_AGENT and self.opponent_loading is None:
                self.load_opponent(FALLBACK_AGENT)  # play against something rather than nothing
            else:
                self._hint()
                self._show_phase()
            return
        self.agent, self.agent_spec = agent, event.spec
        self.rules = None  # a neural agent's come after it (RulesLoaded)
        name = short_name(agent.name)
        self.pairs = []  # the score is against one opponent
        self.query_one(Scoreboard).opponent = name
        self.query_one(Scoreboard).comparison = None
        self.query_one(Scoreboard).last = None
        if self.announce:  # the opponent the user chose; the one picked at start-up is named on screen
            self.notify(f"playing against {name}: the scoreboard starts again", timeout=4)
        self.announce = True
        if self.unplayed is not None:
            human, self.unplayed = self.unplayed, None
            self.play_opponent(human)
        self._hint()
        self._show_phase()

    @on(RulesLoaded)
    def rules_loaded(self, event: RulesLoaded) -> None:
        if self.agent is None or self.agent_spec != event.spec:  # another opponent was chosen since
            return
        self.rules = event.rules
        if event.problem:
            self.notify(event.problem, title="No playbook rule beside the agent", severity="warning", timeout=8)
        self._hint()
        self._show_phase()

    def _hint(self) -> None:
        """The opponent's view of the live turn, kept in the phase: ``view``, or why there is none (``no_view``)."""
        live = self.state
        if not isinstance(live, Live):
            return
        live.view, live.no_view, live.rule, live.nearest = None, "", "", ""
        agent = self.agent
        if agent is None:
            live.no_view = "no opponent: press o to choose one"
            return
        name = short_name(agent.name)
        if agent.needs_state:  # the oracle reads hidden traits: its hints would show them to you
            live.no_view = f"opponent {name} sees the hidden traits: no hints shown"
            return
        try:
            values = agent.action_values(live.conversation.obs)
        except Exception as error:
            live.no_view = f"opponent {name}: no hint ({error})"
            return
        live.view = AgentView(values.kind, tuple(float(x) for x in values.values))
        decide = getattr(agent, "decide", None)  # a playbook says which of its rules chose
        if decide is not None:
            _, fired = decide(live.conversation.obs)
            rule = agent.playbook.rules[fired]  # type: ignore[attr-defined]
            live.rule = f"rule {fired + 1}: {rule.note or agent.playbook.describe(fired)}"  # type: ignore[attr-defined]
        elif self.rules is not None:  # a neural agent: what the playbook's rule for this situation says
            strategy, fired = self.rules.decide(live.conversation.obs)
            words = self.rules.rules[fired].note or self.rules.describe(fired)
            live.nearest = f"the playbook's nearest rule says {LABELS[strategy]} (rule {fired + 1}: {words})"

    def action_toggle_blind(self) -> None:
        """Hide or show the opponent's suggestion before you answer."""
        self.blind = not self.blind
        self.notify("blind mode: suggestions hidden until you answer" if self.blind else "suggestions shown", timeout=3)
        self._show_phase()

    def play_opponent(self, human: Episode) -> None:
        assert self.agent is not None
        self._play_opponent(self.agent, human)

    @work(thread=True, exclusive=True, group="opponent-play")
    def _play_opponent(self, agent: Agent, human: Episode) -> None:
        try:
            episode = play_agent(
                agent, industry=human.industry, max_turns=human.max_turns, seed=human.seed, options=human.options
            )
        except Exception as error:
            self.post_message(self.OpponentPlayed(human, None, str(error) or type(error).__name__))
            return
        self.post_message(self.OpponentPlayed(human, episode, None))

    @on(OpponentPlayed)
    def opponent_played(self, event: OpponentPlayed) -> None:
        human, agent = event.human, event.agent
        self.session.append((human, agent))
        if event.error is not None or agent is None:
            self.notify(f"the opponent could not play: {event.error}", severity="error")
        else:
            agent.player = short_name(agent.player)
            self.pairs.append((human, agent))
            scoreboard = self.query_one(Scoreboard)
            scoreboard.last = (human, agent)
            scoreboard.comparison = compare(self.pairs)
        self._record(human, agent)
        # the customer you are waiting on: both conversations to compare; one you moved on from only counts
        if isinstance(self.state, Waiting) and self.state.human is human:
            self._enter(Reviewing(human, agent))

    def _record(self, human: Episode, agent: Episode | None) -> None:
        try:
            self.records[human] = save_episode(self.saves, human, agent, self.records.get(human))
        except OSError as error:
            self.notify(
                f"could not record this conversation under {self.saves / 'episodes'}: {error.strerror or error}",
                title="Not recorded",
                severity="warning",
            )

    def action_toggle_view(self, to: str = "") -> None:
        """Switch the transcript between your last conversation and the opponent's with the same customer.

        ``to`` is the binding's label ("theirs"/"yours"); the switch goes to whichever is not shown.
        """
        compared = self.state
        if not isinstance(compared, Compared) or compared.agent is None:
            self.notify("finish a conversation first: then the opponent plays the same customer", timeout=3)
            return
        compared.switch()
        self._show()
        self._show_phase()
        self.refresh_bindings()  # the key bar says where v goes now

    # -- export ------------------------------------------------------------------------------
    def action_export(self) -> None:
        """Write the session (every finished conversation, both sides' moves, the reveal) as JSON and CSV
        under the saves folder's ``exports``, in a thread; a toast names the files, or why there are none."""
        conversations = list(self.session)
        waiting = self.state
        if isinstance(waiting, Waiting) and all(h is not waiting.human for h, _ in conversations):
            conversations.append((waiting.human, None))  # finished; the opponent has not played it yet
        if not conversations:
            self.notify("Nothing to export yet: finish a conversation first", title="Export", severity="warning")
            return
        from cs_tui.export import exports_dir, stamp
        from cs_tui.play_session import session_export

        n = len(conversations)
        what = f"{n} conversation{'s' * (n != 1)}"
        self.export(exports_dir(self.saves), f"session-{stamp()}", session_export(conversations), what)

    # -- recordings ----------------------------------------------------------------------------
    def action_copy_conversation(self) -> None:
        """Copy the selected text, or else the whole conversation shown, to the clipboard."""
        selected = self.get_selected_text()
        text = selected or self.query_one(Transcript).plain
        if not text.strip():
            self.notify("Nothing to copy yet", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        lines = text.count("\n") + 1
        what = "the selected text" if selected else "the conversation"
        self.notify(f"Copied {what} ({lines} line{'s' * (lines != 1)}) to the clipboard", title="Copy")

    def action_recordings(self) -> None:
        """Replay a recorded conversation (mid-conversation: after agreeing to leave it); the list is read
        in a thread (it opens every file), then shown."""
        self._leave_first(self._recordings)

    def _recordings(self) -> None:
        self._list_recordings(self.saves)

    @work(thread=True, exclusive=True, group="recordings")
    def _list_recordings(self, saves: Path) -> None:
        from cs_tui.screens.play_dialogs import recording_label

        choices = [(str(p), recording_label(p)) for p in list_recordings(saves)[:100]]
        if not get_current_worker().is_cancelled:
            self.post_message(self.RecordingsListed(choices))

    @on(RecordingsListed)
    def recordings_listed(self, event: RecordingsListed) -> None:
        from cs_tui.screens.play_dialogs import ChoiceDialog

        if not self.is_current:  # the user moved on (another pane, a dialog) while the folder was read
            return

        def chosen(path: str | None) -> None:
            if path is not None:
                self.open_recording(Path(path))

        dialog = ChoiceDialog("Recorded conversations", event.choices, hint="enter replay · esc cancel")
        self.app.push_screen(dialog, chosen)

    def open_recording(self, path: Path) -> None:
        """Show a recorded conversation, replayed through the env from its seed and actions (read and
        replayed in a thread; a file that cannot be is a notification)."""
        self._load_recording(path)

    @work(thread=True, exclusive=True, group="recordings")
    def _load_recording(self, path: Path) -> None:
        try:
            episodes, error = load_recording(path), None
        except RecordError as exc:
            episodes, error = None, str(exc)
        if not get_current_worker().is_cancelled:
            self.post_message(self.RecordingLoaded(path, episodes, error))

    @on(RecordingLoaded)
    def recording_loaded(self, event: RecordingLoaded) -> None:
        if event.episodes is None:
            self.notify(event.error or "", title="Cannot replay", severity="error")
            return
        human, agent = event.episodes
        self._enter(Replaying(human, agent, event.path))

    # -- drawing -----------------------------------------------------------------------------
    def _show(self) -> None:
        """Draw the conversation the phase shows: transcript, customer card, gauge, rewards."""
        e = self.state.shown
        if e is None:
            return
        self.query_one(Transcript).show(self._transcript_items(e))
        last = e.turns[-1] if e.turns else None
        view = CustomerView(
            industry=e.customer_industry,
            inquiry=e.inquiry,
            tier=e.tier,
            urgency=e.urgency,
            turn=len(e.turns),
            max_turns=e.max_turns,
            seed=e.seed,
            outcome=e.outcome,
        )
        self.query_one(CustomerCard).view = view
        width = self.size.width - 2 if self.size.width else 10**6  # the line's padding
        self.query_one("#customer-line", Static).update(customer_line(view, e.satisfaction, e.sentiment, width))
        gauge = self.query_one(SentimentGauge)
        before = e.turns[-2].satisfaction if len(e.turns) >= 2 else e.opening_satisfaction
        gauge.satisfaction, gauge.sentiment = e.satisfaction, e.sentiment
        gauge.change = e.satisfaction - before if last else 0.0
        rewards = self.query_one(RewardBreakdown)
        rewards.components = last.components if last else None
        rewards.total = e.total_return

    def _show_phase(self) -> None:
        """Draw what follows the phase and the opponent: the strategy keys, the opponent's values, its line."""
        live = self.state if isinstance(self.state, Live) else None
        picker = self.query_one(ActionPicker)
        picker.enabled = live is not None
        picker.agent_view = live.view if live is not None else None
        picker.hidden = self.blind
        # names a model: text, not markup; the line's width is the screen's but for its padding
        width = self.size.width - 2 if self.size.width else 10**6
        self.query_one("#opponent-line", Static).update(Text(self._opponent_text(width)))
        nearest = live.nearest if live is not None and live.view is not None and not self.blind else ""
        rule_line = self.query_one("#rule-line", Static)
        rule_line.update(Text(nearest))
        rule_line.set_class(bool(nearest), "-shown")

    def _opponent_text(self, width: int) -> str:
        """The line under the keys: what the opponent does in this phase, and where the keys go from here;
        worded shorter where the full wording does not fit ``width``."""

        def fit(*texts: str) -> str:
            return first_fitting(width, *texts)

        state, agent = self.state, self.agent
        loading = f"loading {short_name(self.opponent_loading)}…" if self.opponent_loading else ""
        name = short_name(agent.name) if agent is not None else ""
        if isinstance(state, Live):
            view = state.view
            if loading:
                return loading
            if view is None:
                return state.no_view
            if self.blind:
                return fit(
                    f"opponent {name}: hidden until you answer (blind mode, b to show)",
                    f"opponent {name}: hidden until you answer (blind)",
                )
            if view.recommended < 0:
                return fit(
                    f"opponent {name} has no preference here: every strategy equally likely",
                    f"opponent {name} has no preference here",
                )
            shown = "Q-values" if view.kind == "q_values" else "probabilities"
            suggests = f"opponent {name} suggests ★ {LABELS[view.recommended]}"
            if state.rule:  # a playbook: the rule that chose, rather than one-hot "probabilities"
                return fit(f"{suggests} · {state.rule}", f"★ {LABELS[view.recommended]} · {state.rule}", suggests)
            return fit(f"{suggests} ({shown} beside each key)", suggests)
        if isinstance(state, Waiting):
            if agent is not None:
                return f"{name} is playing the same customer…"
            if loading:
                return fit(
                    f"{state.human.outcome} · the opponent is still loading; it plays this customer once ready",
                    f"{state.human.outcome} · the opponent plays this customer once loaded",
                )
            return fit(
                f"{state.human.outcome} · no opponent: press o to choose one; it plays this customer",
                f"{state.human.outcome} · no opponent: o chooses one",
            )
        if isinstance(state, Replaying):
            if state.agent is None:
                return "a replay · ⏎ a new customer"
            back = "your" if state.shown is state.agent else "the opponent's"
            return f"a replay: v {back} conversation · ⏎ a new customer"
        if isinstance(state, Reviewing):
            theirs = state.agent
            if loading:
                return loading
            if agent is not None and (theirs is None or name != theirs.player):  # a new opponent, chosen after
                return f"{name} will play your next customer · ⏎ next"
            if theirs is None:
                return fit(
                    f"{state.human.outcome} · the opponent could not play this customer · ⏎ next",
                    f"{state.human.outcome} · the opponent could not play it · ⏎ next",
                )
            back = "your" if state.shown is theirs else "its"
            result = f"{theirs.player}: {theirs.outcome}, {theirs.total_return:+.2f}"
            # the short form says where v goes as the key bar does ("v Theirs", "v Yours")
            return fit(
                f"{result} · v {back} conversation · ⏎ next",
                f"{result} · v {'yours' if back == 'your' else 'theirs'} · ⏎ next",
            )
        return loading or "no customer: ⏎ tries the next seed, n another industry"

    def _transcript_items(self, e: Episode) -> list[Item]:
        """The lines of ``e`` as the transcript shows them (see ``cs_tui.widgets.transcript.Item``)."""
        you = e.player == "you"
        who = "You" if you else short_name(e.player).capitalize()
        items: list[Item] = []
        if isinstance(self.state, Replaying):
            items.append(("note", f"replay of {self.state.path.name}", "bold"))
        elif not you:
            items.append(("note", f"{who} with the same customer (v to go back to yours)", "bold"))
        items.append(("customer", e.opening_line, e.opening_sentiment))
        for i, turn in enumerate(e.turns):
            items.append(("agent", turn.agent_line, turn.strategy, who))
            items.append(("customer", turn.customer_line, turn.sentiment, turn.reward))
            if (id(e), i) in self.reveals:
                items.append(("note", self.reveals[(id(e), i)], "dim"))
        if e.done:
            items += [("note", line, "bold") for line in self._ending(e).split("\n")]
            other = self.state.other(e) if isinstance(self.state, Compared) else None
            items += [("note", line, "italic") for line in reveal_lines(e, other)]
        return items

    def _ending(self, e: Episode) -> str:
        turns = f"{len(e.turns)} turn{'s' if len(e.turns) != 1 else ''}"
        text = f"── {e.outcome} after {turns}, return {e.total_return:+.2f} ──"
        other = self.state.other(e) if isinstance(self.state, Compared) else None
        if other is not None:
            name = "you" if other.player == "you" else short_name(other.player)
            other_turns = f"{len(other.turns)} turn{'s' if len(other.turns) != 1 else ''}"
            text += (
                f"\n── {name} with the same customer: {other.outcome} after {other_turns}, {other.total_return:+.2f} ──"
            )
        return text
