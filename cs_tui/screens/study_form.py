"""The "new study" form of the tuning view: algorithm, industry, trials, workers, steps per trial, seed,
study name → a :class:`StudyRequest`, the ``cs-tui tune`` command line the view starts as its own process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.widgets import Input, Label, Select, Static

from cs_env.env import valid_industries
from cs_tui.screens.form import FormScreen, algorithm_select, form_buttons, seed_input, seed_shown
from cs_tui.screens.training_form import timesteps_field, whole_number
from cs_tui.seeds import parse_seed
from cs_tui.training.registry import ALGORITHMS, MAX_TRIALS, STUDY_NAME_RULE, TRIALS_CEILING_WHY, check_study_name
from cs_tui.widgets.industry_select import industry_select

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
    from cs_tui.tuning.options import MAX_SEED, default_study_name  # light: no optuna at import

    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm: choose one of {', '.join(ALGORITHMS)}")
    industries = valid_industries()
    if industry not in industries:
        raise ValueError(f"industry: choose one of {', '.join(industries)}")
    trial_count = whole_number("trials", trials, 1, MAX_TRIALS, TRIALS_CEILING_WHY)
    workers = whole_number("workers", jobs, 1)
    if workers > MAX_JOBS:
        raise ValueError(f"workers: at most {MAX_JOBS} on one host (start more hosts on a shared storage)")
    steps = timesteps_field(timesteps) if timesteps.strip() else None
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


@dataclass(frozen=True)
class StudyFormFields:
    """The new-study form's fields as the user left them, text as typed: a reopened form shows them again
    (one per field widget, named after its id: see :class:`~cs_tui.screens.form.FormScreen`)."""

    algorithm: str = "ppo"
    industry: str = "mixed"
    trials: str = str(DEFAULT_TRIALS)
    jobs: str = "1"  # the workers
    timesteps: str = ""  # empty: the algorithm's own budget per trial
    seed: str = "0"
    study: str = ""  # empty: ALGORITHM-INDUSTRY


class NewStudyForm(FormScreen[StudyRequest, StudyFormFields]):
    """A modal form; dismissed with a :class:`StudyRequest`, or None when cancelled.

    It opens on ``fields`` (the defaults when None); as it closes, :attr:`fields` holds what it was left
    with, for the pane to keep.
    """

    def __init__(self, fields: StudyFormFields | None = None) -> None:
        super().__init__(fields or StudyFormFields())

    def compose_form(self) -> ComposeResult:
        f = self.fields
        with Vertical():
            yield Static("[b]New study[/b] (runs on after the app closes; the same name continues a study)")
            with Grid():
                yield Label("algorithm")
                yield algorithm_select(f.algorithm if f.algorithm in ALGORITHMS else "ppo")
                yield Label("industry")
                yield industry_select(f.industry)
                yield Label("trials")
                yield Input(f.trials, type="integer", compact=True, id="trials")
                yield Label("workers")
                yield Input(f.jobs, type="integer", compact=True, id="jobs")
                yield Label("timesteps")
                yield Input(f.timesteps, placeholder="the algorithm's (per trial)", compact=True, id="timesteps")
                yield Label("seed")
                yield seed_input(f.seed)
                yield Label("study")
                yield Input(f.study, placeholder="ALGORITHM-INDUSTRY", compact=True, id="study")
            yield from form_buttons()

    def request(self) -> StudyRequest:
        seed_shown(self.query_one("#seed", Input))
        return validate_study(
            self.query_one("#algorithm", Select).value,
            self.query_one("#industry", Select).value,
            *(self.query_one(f"#{name}", Input).value for name in ("trials", "jobs", "timesteps", "seed", "study")),
        )
