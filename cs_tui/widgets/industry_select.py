"""The industry picker shared by the forms: the catalog's industries and ``mixed``."""

from __future__ import annotations

from textual.widgets import Select

from cs_env.env import valid_industries


def industry_select(current: str, *, id: str = "industry") -> Select[str]:
    """A compact choice of industry, on ``current`` when it is valid (else the first)."""
    industries = valid_industries()
    return Select(
        [(i, i) for i in industries],
        value=current if current in industries else industries[0],
        allow_blank=False,
        compact=True,
        id=id,
    )
