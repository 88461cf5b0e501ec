"""cs_tui.numbers: how the command line and the app write numbers, "–" for what is not one."""

from __future__ import annotations

import pytest

from cs_tui import numbers


@pytest.mark.parametrize("bad", [None, "0.5", float("nan"), float("inf"), True, [1]])
def test_what_is_not_a_finite_number_is_a_dash(bad: object) -> None:
    for write in (numbers.rate, numbers.share, numbers.pct_of_oracle, numbers.number, numbers.duration):
        assert write(bad) == "–"
    assert numbers.finite(bad) is None


def test_each_kind_of_number_is_written_one_way() -> None:
    assert numbers.rate(0.7123) == "71.2%" and numbers.share(0.7123) == "71.2"
    assert numbers.pct_of_oracle(96.54) == "96.5" and numbers.number(1.70249) == "1.702"
    assert numbers.number(12345.6, ",.0f") == "12,346" and numbers.number(3, ".2f") == "3.00"
    assert numbers.duration(62) == "1:02" and numbers.duration(3723) == "1:02:03" and numbers.duration(-1) == "–"
