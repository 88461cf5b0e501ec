"""The "new training run" form: algorithm, industry, timesteps, seed, name → a :class:`TrainRequest`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.widgets import Input, Label, Select, Static

from cs_env.env import valid_industries
from cs_tui.screens.form import FormScreen, algorithm_select, form_buttons, seed_input, seed_shown
from cs_tui.seeds import parse_seed
from cs_tui.training.registry import (
    ALGORITHMS,
    MAX_TIMESTEPS,
    MIN_TIMESTEPS,
    RUN_NAME,
    RUN_NAME_RULE,
    TIMESTEPS_CEILING_WHY,
)
from cs_tui.training.runs import default_run_name, unique_run_name
from cs_tui.widgets.industry_select import industry_select

FALLBACK_TIMESTEPS = 50_000


def default_timesteps() -> dict[str, int]:
    """Each algorithm's tuned training budget (``hyperparams.toml``), so the form starts from what works."""
    try:
        from cs_tui.training.options import load_defaults  # light: reads a TOML file, no torch

        return {name: int(d.timesteps) for name, d in load_defaults().items()}
    except (ImportError, ValueError, OSError):  # a broken data file must not stop the form from opening
        return {name: FALLBACK_TIMESTEPS for name in ALGORITHMS}


@dataclass(frozen=True)
class TrainRequest:
    """What to train; :meth:`argv` is the ``cs-tui train`` command line for it."""

    algorithm: str
    industry: str
    timesteps: int
    seed: int
    name: str
    frame_stack: int = 1
    #: ``baseline:NAME`` or a folder of recorded conversations to imitate first (None: start from scratch)
    warm_start: str | None = None

    def argv(self, saves: Path) -> list[str]:
        """Arguments after ``python -m cs_tui``: the global ``--saves`` first, then the subcommand."""
        return [
            "--saves",
            str(saves),
            "train",
            "--algorithm",
            self.algorithm,
            "--industry",
            self.industry,
            "--timesteps",
            str(self.timesteps),
            "--seed",
            str(self.seed),
            "--name",
            self.name,
            *(["--frame-stack", str(self.frame_stack)] if self.frame_stack != 1 else []),
            *(["--warm-start", self.warm_start] if self.warm_start else []),
            "--quiet",
        ]


def whole_number(field: str, text: str, minimum: int, maximum: int | None = None, why: str = "") -> int:
    """A form field's whole number (``2,000`` and ``2_000`` allowed) in ``[minimum, maximum]``;
    ``ValueError`` naming the field and the bound (with ``why``, what the ceiling protects)."""
    if not text.strip():
        raise ValueError(f"{field}: empty; type a whole number")
    try:
        value = int(text.replace(",", "").replace("_", "").strip())
    except ValueError:  # (also a number past Python's 4,300 digits)
        raise ValueError(f"{field}: {text[:40]!r} is not a whole number") from None
    if value < minimum:
        raise ValueError(f"{field}: at least {minimum:,}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{field}: at most {maximum:,}" + (f" ({why})" if why else ""))
    return value


def timesteps_field(text: str) -> int:
    """The timesteps a form was given, within the registry's floor and ceiling."""
    return whole_number("timesteps", text, MIN_TIMESTEPS, MAX_TIMESTEPS, TIMESTEPS_CEILING_WHY)


def warm_start_choices(saves: Path) -> list[tuple[str, str]]:
    """``(label, source)`` of the warm starts the form offers: none, the oracle's and the heuristic's
    conversations, and the play pane's recordings when there are some."""
    from cs_tui.play_session import list_recordings, recordings_dir

    choices = [
        ("none", ""),
        ("the oracle's conversations", "baseline:oracle"),
        ("the heuristic's conversations", "baseline:heuristic"),
    ]
    recorded = len(list_recordings(saves))
    if recorded:
        choices.append((f"your {recorded} recorded conversation{'s' * (recorded != 1)}", str(recordings_dir(saves))))
    return choices


def validate(
    algorithm: object,
    industry: object,
    timesteps: str,
    seed: str,
    name: str,
    saves: Path,
    *,
    frame_stack: str = "1",
    warm_start: object = "",
) -> TrainRequest:
    """Check the form's fields; ``ValueError`` naming the field and what is allowed."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm: choose one of {', '.join(ALGORITHMS)}")
    industries = valid_industries()
    if industry not in industries:
        raise ValueError(f"industry: choose one of {', '.join(industries)}")
    steps = timesteps_field(timesteps)
    try:
        seed_value = parse_seed(seed)
    except ValueError as exc:
        raise ValueError(f"seed: {exc}") from None
    name = name.strip() or unique_run_name(saves, default_run_name(str(algorithm), str(industry)))
    if not RUN_NAME.fullmatch(name):
        raise ValueError(f"name: {RUN_NAME_RULE}")
    if (saves / name).exists():
        raise ValueError(f"name: {name!r} already exists in {saves}; pick another or leave it empty")
    from cs_tui.training.registry import MAX_FRAME_STACK, frame_stack_problem, imitation_problem

    stack = whole_number("frame stack", frame_stack, 1, MAX_FRAME_STACK)
    problem = frame_stack_problem(stack, str(algorithm))
    if problem:
        raise ValueError(f"frame stack: {problem}")
    source = str(warm_start or "") or None
    problem = imitation_problem(str(algorithm)) if source else None
    if problem:
        raise ValueError(f"warm start: {problem}")
    return TrainRequest(str(algorithm), str(industry), steps, seed_value, name, stack, source)


@dataclass(frozen=True)
class RunFormFields:
    """The new-run form's fields as the user left them, text as typed: a reopened form shows them again
    (one per field widget, named after its id: see :class:`~cs_tui.screens.form.FormScreen`)."""

    algorithm: str = "ppo"
    industry: str = "mixed"
    timesteps: str = ""  # empty: the algorithm's tuned budget
    seed: str = "0"
    name: str = ""
    frame_stack: str = "1"
    warm_start: str = ""


class NewRunForm(FormScreen[TrainRequest, RunFormFields]):
    """A modal form; dismissed with a :class:`TrainRequest`, or None when cancelled.

    It opens on ``fields`` (the defaults when None); as it closes, :attr:`fields` holds what it was left
    with, for the pane to keep.
    """

    def __init__(self, saves: Path, fields: RunFormFields | None = None) -> None:
        super().__init__(fields or RunFormFields())
        self.saves = saves
        self.default_timesteps = default_timesteps()

    def compose_form(self) -> ComposeResult:
        f = self.fields
        algorithm = f.algorithm if f.algorithm in ALGORITHMS else "ppo"
        timesteps = f.timesteps or str(self.default_timesteps.get(algorithm, FALLBACK_TIMESTEPS))
        warm_starts = warm_start_choices(self.saves)
        # a kept choice that is gone (the recordings were deleted): none
        warm_start = f.warm_start if f.warm_start in [source for _, source in warm_starts] else ""
        with Vertical():
            yield Static("[b]New training run[/b] (runs on after the app closes)")
            with Grid():
                yield Label("algorithm")
                yield algorithm_select(algorithm)
                yield Label("industry")
                yield industry_select(f.industry)
                yield Label("timesteps")
                yield Input(timesteps, type="integer", compact=True, id="timesteps")
                yield Label("seed")
                yield seed_input(f.seed)
                yield Label("name")
                yield Input(f.name, placeholder="automatic", compact=True, id="name")
                yield Label("frame stack")
                yield Input(f.frame_stack, type="integer", compact=True, id="frame-stack")
                yield Label("warm start")
                yield Select(warm_starts, value=warm_start, allow_blank=False, compact=True, id="warm-start")
            yield from form_buttons()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "algorithm" or not isinstance(event.value, str):
            return
        # follow the algorithm's tuned budget unless the user typed their own
        steps = self.query_one("#timesteps", Input)
        if steps.value.strip() in {str(v) for v in self.default_timesteps.values()} | {""}:
            steps.value = str(self.default_timesteps.get(event.value, FALLBACK_TIMESTEPS))

    def request(self) -> TrainRequest:
        return validate(
            self.query_one("#algorithm", Select).value,
            self.query_one("#industry", Select).value,
            self.query_one("#timesteps", Input).value,
            seed_shown(self.query_one("#seed", Input)),
            self.query_one("#name", Input).value,
            self.saves,
            frame_stack=self.query_one("#frame-stack", Input).value,
            warm_start=self.query_one("#warm-start", Select).value,
        )
