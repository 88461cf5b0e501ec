"""What the app's modal forms share (new training run, new study): a grid of labelled fields, an error
line, Start / Cancel, ctrl+s and escape, and a memory of the fields as they were left, for the pane to
keep for the app session. A form only lays out its fields and says what they ask for."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from cs_tui.seeds import draw_seed
from cs_tui.training.registry import ALGORITHMS
from cs_tui.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Request = TypeVar("Request")
#: a frozen dataclass of the form's fields as typed (text, or a choice's value), one per field widget,
#: each named after the widget's id (``frame_stack`` is ``#frame-stack``)
Fields = TypeVar("Fields", bound="DataclassInstance")


def algorithm_select(value: str = "ppo") -> Select[str]:
    """A compact choice of the algorithms cs-tui trains."""
    choices = [(a.upper().replace("_", " "), a) for a in ALGORITHMS]
    return Select(choices, value=value, allow_blank=False, compact=True, id="algorithm")


def seed_input(value: str, *, compact: bool = True, id: str = "seed") -> Input:
    """A seed field, the same in every form: text as typed (Textual's integer input drops a ``.``, so
    ``3.5`` became seed 35), checked by :func:`cs_tui.seeds.parse_seed`; empty means a random seed."""
    return Input(value, placeholder="empty: random", compact=compact, id=id)


def seed_shown(field: Input) -> str:
    """The seed text a form reads from ``field``: an empty field gets a drawn seed, shown in it first."""
    if not field.value.strip():
        field.value = str(draw_seed())
    return field.value


def form_buttons() -> ComposeResult:
    """The error line (empty until a field is refused) and the Start / Cancel buttons."""
    yield Static("", id="form-error")
    with Horizontal():
        yield Button("Start (ctrl+s)", variant="primary", id="start")
        yield Button("Cancel (esc)", id="cancel")


class FormScreen(ModalScreen[Request | None], Generic[Request, Fields]):
    """A modal form, dismissed with what :meth:`request` builds from its fields, or None when cancelled.

    Subclasses compose (:meth:`compose_form`) their fields inside a ``Vertical`` (a ``Grid`` of labels and fields, then
    :func:`form_buttons`) from :attr:`fields`, and implement :meth:`request`, which raises ``ValueError``
    naming the field. As the form closes (started or cancelled), :attr:`fields` becomes what its widgets
    were left with: the pane keeps that in ``AppSettings`` and opens the next form on it.
    """

    BINDINGS = [  # noqa: RUF012  (Textual's convention)
        Binding("ctrl+s", "start", "Start", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > Vertical {
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1; overflow-y: auto;
    }
    FormScreen Grid { grid-size: 2; grid-columns: 12 1fr; grid-rows: 1; grid-gutter: 0 0; height: auto; margin: 1 0; }
    FormScreen #form-error { color: $error; height: auto; }
    FormScreen Horizontal { height: auto; align-horizontal: right; }
    FormScreen Button { margin-left: 1; }
    """

    def __init__(self, fields: Fields) -> None:
        super().__init__()
        #: the fields the form opens on; as it closes, the fields as left
        self.fields = fields

    def compose(self) -> ComposeResult:
        yield from self.compose_form()
        yield KeyBar()  # the form's own keys, over the pane's (which do nothing while the form is open)

    def compose_form(self) -> ComposeResult:
        """The form itself: a ``Vertical`` of a title, a ``Grid`` of labels and fields, :func:`form_buttons`."""
        raise NotImplementedError

    def request(self) -> Request:
        """What the fields ask for; ``ValueError`` naming the field and what is allowed."""
        raise NotImplementedError

    def on_mount(self) -> None:
        self.query_one("#algorithm", Select).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()
        else:
            self.action_cancel()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#form-error", Static).update("")  # the complaint was about what was there before

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def closing(self, request: Request | None) -> None:
        """Called as the form closes, with what it closes with (None: cancelled): keeps its fields as left."""
        self.fields = self.fields_as_left()

    def fields_as_left(self) -> Fields:
        """:attr:`fields` with each field's value read from its widget (an ``Input``'s text, a ``Select``'s choice)."""
        values: dict[str, Any] = {}
        for field in dataclasses.fields(self.fields):
            widget = self.query_one("#" + field.name.replace("_", "-"))
            value = widget.value if isinstance(widget, Input | Select) else None
            values[field.name] = value if isinstance(value, str) else ""  # (a blank choice: "")
        return dataclasses.replace(self.fields, **values)

    def action_start(self) -> None:
        """Validate and, when every field is fine, close the form with the request."""
        try:
            request = self.request()
        except ValueError as exc:
            self.query_one("#form-error", Static).update(Text(str(exc)))  # quotes what was typed: text
            return
        self.closing(request)
        self.dismiss(request)

    def action_cancel(self) -> None:
        """Close the form without starting anything."""
        self.closing(None)
        self.dismiss(None)
