"""The "new study" form of the tuning view: algorithm, industry, trials, workers, steps per trial, seed,
study name → a :class:`StudyRequest`, the ``cs-tui tune`` command line the view starts as its own process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from cs_env.env import valid_industries
from cs_tui.seeds import parse_seed
from cs_tui.training.registry import ALGORITHMS, STUDY_NAME_RULE, check_study_name
from cs_tui.widgets.industry_select import industry_select
from cs_tui.widgets.training_form import whole_number

DEFAULT_TRIALS = 20
#: more worker processes than this on one host only queue for its cores (``--jobs`` itself takes any)
MAX_JOBS = 64


@dataclass(frozen=True)
class StudyRequest:
    """What to tune; :meth:`argv` is the ``cs-tui tune`` command line for it."""

    algorithm: str
    industry: str
    trials: int
    jobs: int
    timesteps: int | None  # None: the algorithm's own budget
    seed: int
    study: str

    def argv(self, saves: Path, storage: str | None = None) -> list[str]:
        """Arguments after ``python -m cs_tui``: the global ``--saves`` first, then the subcommand."""
        argv = ["--saves", str(saves), "tune", "--algorithm", self.algorithm, "--industry", self.industry,
                "--trials", str(self.trials), "--jobs", str(self.jobs), "--seed", str(self.seed),
                "--study", self.study]  # fmt: skip
        if self.timesteps is not None:
            argv += ["--timesteps", str(self.timesteps)]
        if storage:
            argv += ["--storage", storage]
        return argv


def validate_study(
    algorithm: object, industry: object, trials: str, jobs: str, timesteps: str, seed: str, study: str
) -> StudyRequest:
    """Check the form's fields; ``ValueError`` naming the field and what is allowed."""
    from cs_tui.training.tuner import MAX_SEED, default_study_name  # light: no optuna at import

    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm: choose one of {', '.join(ALGORITHMS)}")
    industries = valid_industries()
    if industry not in industries:
        raise ValueError(f"industry: choose one of {', '.join(industries)}")
    trial_count = whole_number("trials", trials, 1)
    workers = whole_number("workers", jobs, 1)
    if workers > MAX_JOBS:
        raise ValueError(f"workers: at most {MAX_JOBS} on one host (start more hosts on a shared storage)")
    steps = whole_number("timesteps", timesteps, 1) if timesteps.strip() else None
    try:
        seed_value = parse_seed(seed)
    except ValueError as exc:
        raise ValueError(f"seed: {exc}") from None
    if seed_value >= MAX_SEED:
        raise ValueError(f"seed: at most {MAX_SEED - 1:,} (the held-out conversations start past it)")
    name = study.strip() or default_study_name(str(algorithm), str(industry))
    try:
        check_study_name(name)
    except ValueError:
        raise ValueError(f"study: {STUDY_NAME_RULE}") from None
    return StudyRequest(str(algorithm), str(industry), trial_count, workers, steps, seed_value, name)


class NewStudyForm(ModalScreen[StudyRequest | None]):
    """A modal form; dismissed with a :class:`StudyRequest`, or None when cancelled."""

    BINDINGS = [  # noqa: RUF012  (Textual's convention)
        Binding("ctrl+s", "start", "Start", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    NewStudyForm { align: center middle; }
    NewStudyForm > Vertical {
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1; overflow-y: auto;
    }
    NewStudyForm Grid { grid-size: 2; grid-columns: 12 1fr; grid-rows: 1; height: auto; margin: 1 0; }
    NewStudyForm #study-form-error { color: $error; height: auto; }
    NewStudyForm Horizontal { height: auto; align-horizontal: right; }
    NewStudyForm Button { margin-left: 1; }
    """

    def __init__(self, *, industry: str = "mixed") -> None:
        super().__init__()
        self.industry = industry

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]New study[/b] (runs on after the app closes; the same name continues a study)")
            with Grid():
                yield Label("algorithm")
                yield Select([(a.upper(), a) for a in ALGORITHMS], value="ppo", allow_blank=False, compact=True,
                             id="algorithm")  # fmt: skip
                yield Label("industry")
                yield industry_select(self.industry)
                yield Label("trials")
                yield Input(str(DEFAULT_TRIALS), type="integer", compact=True, id="trials")
                yield Label("workers")
                yield Input("1", type="integer", compact=True, id="jobs")
                yield Label("timesteps")
                yield Input(placeholder="the algorithm's (per trial)", compact=True, id="timesteps")
                yield Label("seed")
                yield Input("0", type="integer", compact=True, id="seed")
                yield Label("study")
                yield Input(placeholder="ALGORITHM-INDUSTRY", compact=True, id="study")
            yield Static("", id="study-form-error")
            with Horizontal():
                yield Button("Start (ctrl+s)", variant="primary", id="start")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#algorithm", Select).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()
        else:
            self.action_cancel()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#study-form-error", Static).update("")  # the complaint was about what was there before

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def action_start(self) -> None:
        """Validate and, when every field is fine, close the form with the request."""
        try:
            request = validate_study(
                self.query_one("#algorithm", Select).value,
                self.query_one("#industry", Select).value,
                *(self.query_one(f"#{name}", Input).value for name in ("trials", "jobs", "timesteps", "seed", "study")),
            )
        except ValueError as exc:
            self.query_one("#study-form-error", Static).update(Text(str(exc)))  # quotes what was typed: text
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        """Close the form without starting anything."""
        self.dismiss(None)
