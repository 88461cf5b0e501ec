"""Populations: a small TOML of overrides on one industry's customers, for "what if customers get harder?".

::

    format = 1
    industry = "retail"                                  # the industry it shifts
    title = "holiday rush"
    tier_shares = { basic = 0.4, premium = 0.3, vip = 0.3 }           # more VIPs (sums to 1)
    sentiment = [0.3, 0.3, 0.2, 0.1, 0.1]                # every inquiry's opening mood, angry..delighted
    patience_scale = 0.6                                 # every inquiry's mean patience x 0.6 (less patience)
    [inquiry_shares]                                     # a different inquiry mix: every inquiry, summing to 1
    order_status = 0.4
    ...

Every key but ``format`` and ``industry`` is optional. The file is validated like an industry file: each
error names the file and the key. :func:`apply` returns a new :class:`~cs_env.industries.Catalog` in which
that industry's customers follow the overrides; pass it to :func:`cs_env.evaluate.rollout` (``catalog=``).
Pure: the standard library and numpy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from cs_env.domain import SENTIMENT_NAMES, TIER_NAMES
from cs_env.industries import Catalog, IndustryDataError, _Reader, default_catalog

FORMAT = 1
KEYS = ("format", "industry", "title", "tier_shares", "sentiment", "patience_scale", "inquiry_shares")
#: patience may be scaled from a tenth to ten times (then capped at 1)
MAX_PATIENCE_SCALE = 10.0


class PopulationError(IndustryDataError):
    """A population file is malformed: the message names the file and the key."""


class _PopulationReader(_Reader):
    error = PopulationError


@dataclass(frozen=True)
class Population:
    """A validated population file: the industry it shifts and the catalog with its customers shifted."""

    name: str
    industry: str
    title: str
    catalog: Catalog


def load(path: str | Path, catalog: Catalog | None = None) -> Population:
    """Read and validate a population file; :class:`PopulationError` names the file, the key and the choices."""
    catalog = catalog or default_catalog()
    path = Path(path)
    reader = _PopulationReader(path)
    data = reader.read()
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise reader.fail(unknown[0], f"unknown key; valid keys: {', '.join(KEYS)}")
    if reader.get(data, "format") != FORMAT:
        raise reader.fail("format", f"{data['format']!r}: this version of cs-tui reads format = {FORMAT}")
    industry_name = reader.get(data, "industry")
    if industry_name not in catalog.industry_names:
        raise reader.fail("industry", f"unknown industry {industry_name!r}; valid: {', '.join(catalog.industry_names)}")
    industry = catalog.industry(industry_name)
    title = data.get("title", path.stem)
    if not isinstance(title, str):
        raise reader.fail("title", f"expected text, got {title!r}")
    changes: dict[str, dict[str, object]] = {inq.name: {} for inq in industry.inquiries}
    tier_shares: tuple[float, ...] = industry.tier_shares
    if "tier_shares" in data:
        shares = data["tier_shares"]
        if not isinstance(shares, dict) or sorted(shares) != sorted(TIER_NAMES):
            raise reader.fail("tier_shares", f"expected a table with exactly {', '.join(TIER_NAMES)}")
        tier_shares = reader.distribution({"tier_shares": [shares[t] for t in TIER_NAMES]}, "tier_shares", "", 3)
    if "sentiment" in data:
        sentiment = reader.distribution(data, "sentiment", "", len(SENTIMENT_NAMES))
        for change in changes.values():
            change["sentiment"] = sentiment
    if "patience_scale" in data:
        scale = reader.number(data, "patience_scale", "", 0.1, MAX_PATIENCE_SCALE)
        for inq in industry.inquiries:
            changes[inq.name]["patience"] = min(1.0, inq.patience * scale)
    if "inquiry_shares" in data:
        shares = data["inquiry_shares"]
        names = [inq.name for inq in industry.inquiries]
        if not isinstance(shares, dict) or sorted(shares) != sorted(names):
            raise reader.fail(
                "inquiry_shares", f"expected a table with exactly {industry_name}'s inquiries: {', '.join(names)}"
            )
        values = reader.distribution({"inquiry_shares": [shares[n] for n in names]}, "inquiry_shares", "", len(names))
        for name, share in zip(names, values, strict=True):
            changes[name]["share"] = share
    shifted = {inq.name: dataclasses.replace(inq, **changes[inq.name]) for inq in industry.inquiries}  # type: ignore[arg-type]
    new_industry = dataclasses.replace(
        industry,
        tier_shares=(tier_shares[0], tier_shares[1], tier_shares[2]),  # three: checked by distribution(..., 3)
        inquiries=tuple(shifted[i.name] for i in industry.inquiries),
    )
    new_catalog = dataclasses.replace(
        catalog,
        industries=tuple(new_industry if ind.name == industry_name else ind for ind in catalog.industries),
        inquiries=tuple(shifted.get(inq.name, inq) for inq in catalog.inquiries),
        digest=f"{catalog.digest}+{path.name}",
    )
    return Population(path.stem, industry_name, title, new_catalog)
