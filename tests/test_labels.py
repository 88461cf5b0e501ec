"""Lines that fit the width they get: the fullest wording that fits, facts that break between facts."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from cs_tui.labels import FactLines, first_fitting, stack_facts


def drawn(renderable: object, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text().splitlines()


def test_the_fullest_wording_that_fits_else_the_shortest() -> None:
    assert first_fitting(20, "a long wording here!", "short") == "a long wording here!"  # 20 cells: fits
    assert first_fitting(19, "a long wording here!", "a shorter one", "short") == "a shorter one"
    assert first_fitting(3, "a long wording here!", "short") == "short"


def test_a_line_of_facts_too_wide_breaks_between_facts_onto_indented_lines() -> None:
    line = "last eval: return 1.704 · 97.1% of oracle · resolved 84.0% @ 507,904"
    assert drawn(FactLines(Text(line)), 80) == [line]  # it fits: one line, as it was
    assert drawn(FactLines(Text(line)), 29) == [
        "last eval: return 1.704",
        "  97.1% of oracle",
        "  resolved 84.0% @ 507,904",
    ]
    # as many facts to a line as fit
    assert drawn(FactLines(Text("default · PPO · mixed · finished")), 22) == ["default · PPO · mixed", "  finished"]


def test_each_line_of_a_text_is_fitted_and_keeps_its_styles() -> None:
    text = Text()
    text.append("ppo-small", style="bold")
    text.append(" · PPO · mixed\nn_steps=64 batch_size=256 learning_rate=0.0003")
    lines = stack_facts(text, 16)
    assert [line.plain for line in lines] == ["ppo-small · PPO", "  mixed", text.plain.split("\n")[1]]
    assert lines[0].get_style_at_offset(Console(), 0).bold  # the name is still bold
    # a line of no facts, or one fact, that does not fit is cut, not wrapped
    assert drawn(FactLines(text), 16)[2] == "n_steps=64 batc…"  # 16 cells
    assert drawn(FactLines(Text("a-fact-far-too-long-to-fit · x")), 10) == ["a-fact-fa…", "  x"]
