"""Industries are data: one TOML file per industry in this folder, validated on load.

Adding an industry is adding a file. Each file holds::

    name = "bfsi"                       # the id used by ``industry=...``; must match the file name
    title = "Banking & Financial Services"
    tier_shares = { basic = 0.55, premium = 0.30, vip = 0.15 }   # who calls; sums to 1

    [inquiries.fraud_report]            # one table per inquiry type
    id = 2                              # its code in the observation; all files' ids are 0..n-1
    share = 0.15                        # how often it comes up in this industry (shares sum to 1)
    urgency = [p0, p1, p2, p3, p4]      # prior over urgency 0..4 (sums to 1)
    sentiment = [p0, p1, p2, p3, p4]    # prior over the opening sentiment angry..delighted
    complexity = 0.6                    # mean of the hidden traits, each in [0, 1]:
    savvy = 0.4                         #   how technical the customer is
    openness = 0.05                     #   how open to a sales offer
    patience = 0.4                      #   how long they will keep talking
    specialist = 0.55                   # base chance the issue needs a specialist (escalation)
    sales_fit = 0.0                     # how well an offer fits this inquiry, in [0, 1]
    progress = { empathetic = .., technical = .., product_recommend = .., apologetic = ..,
                 educational = .., quick_resolution = .., upsell = .. }   # progress per turn, [0, 1]
    mood = { ... same seven keys ... }  # satisfaction change per turn, in [-0.5, 0.5]

Escalation has no entry in ``progress`` or ``mood``: it ends the conversation, and whether it was
right is decided by the ``specialist`` chance and the situation (see ``cs_env.customer``).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cs_env.domain import STRATEGY_NAMES, ResponseStrategy
from cs_env.files import is_int, read_regular, toml_file

INDUSTRY_DIR = Path(__file__).parent
#: Strategies that have a per-inquiry row in ``progress`` and ``mood``.
TABLE_STRATEGIES: tuple[str, ...] = tuple(
    name for name in STRATEGY_NAMES if name != ResponseStrategy.ESCALATE.name.lower()
)
TRAITS = ("complexity", "savvy", "openness", "patience", "specialist", "sales_fit")
#: The largest industry or scenario file read (the shipped ones are a few KB).
DATA_FILE_LIMIT = 1 << 20


class IndustryDataError(ValueError):
    """An industry file is malformed: the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Inquiry:
    """One inquiry type, as read from its industry file."""

    name: str
    id: int
    industry: str
    share: float
    urgency: tuple[float, ...]
    sentiment: tuple[float, ...]
    complexity: float
    savvy: float
    openness: float
    patience: float
    specialist: float
    sales_fit: float
    progress: tuple[float, ...]  # indexed by ResponseStrategy; escalate is 0
    mood: tuple[float, ...]


@dataclass(frozen=True)
class Industry:
    """One industry file, validated."""

    name: str
    title: str
    tier_shares: tuple[float, float, float]
    inquiries: tuple[Inquiry, ...]


@dataclass(frozen=True)
class Catalog:
    """All industries, with inquiries ordered by id."""

    industries: tuple[Industry, ...]
    inquiries: tuple[Inquiry, ...]
    digest: str  # sha256 of the files' bytes, for run records

    @property
    def industry_names(self) -> tuple[str, ...]:
        return tuple(ind.name for ind in self.industries)

    def industry(self, name: str) -> Industry:
        for ind in self.industries:
            if ind.name == name:
                return ind
        raise KeyError(name)


def _is_real(value: Any) -> bool:
    """A finite number: a float that is not NaN or infinite, or an int of any size (compared exactly,
    never converted to float before it is known to be in range: 10**400 has no float)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return is_int(value)


class _Reader:
    """Reads one data file and typed values out of it, raising errors that name file and key.

    Other data files (the scenarios) reuse it with their own ``error`` class.
    """

    error: type[IndustryDataError] = IndustryDataError

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        """The file parsed as TOML, or an error naming the file (a FIFO, a huge file or data nested
        past :data:`cs_env.files.MAX_NESTING` is refused at once, never waited on or recursed into)."""
        return toml_file(self.path, self.error, DATA_FILE_LIMIT)

    def fail(self, key: str, problem: str) -> IndustryDataError:
        return self.error(f"{self.path}: key '{key}': {problem}")

    def tables(self, data: dict[str, Any], key: str) -> Iterator[tuple[str, dict[str, Any], str]]:
        """``(name, table, key prefix)`` for each ``[key.NAME]`` table; at least one is required."""
        raw = self.get(data, key)
        if not isinstance(raw, dict) or not raw:
            raise self.fail(key, f"expected at least one [{key}.NAME] table")
        for name, table in raw.items():
            prefix = f"{key}.{name}."
            if not isinstance(table, dict):
                raise self.fail(prefix[:-1], "expected a table")
            yield name, table, prefix

    def get(self, table: dict[str, Any], key: str, prefix: str = "") -> Any:
        if key not in table:
            raise self.fail(prefix + key, "missing")
        return table[key]

    def number(self, table: dict[str, Any], key: str, prefix: str, lo: float, hi: float) -> float:
        value = self.get(table, key, prefix)
        if not _is_real(value):
            raise self.fail(prefix + key, f"expected a number, got {value!r:.60}")
        if not lo <= value <= hi:
            raise self.fail(prefix + key, f"{value} is outside [{lo}, {hi}]")
        return float(value)

    def distribution(self, table: dict[str, Any], key: str, prefix: str, size: int) -> tuple[float, ...]:
        value = self.get(table, key, prefix)
        ok = isinstance(value, list) and len(value) == size and all(_is_real(v) and 0 <= v <= 1 for v in value)
        if not ok:
            raise self.fail(
                prefix + key, f"expected {size} non-negative probabilities (each at most 1), got {value!r:.80}"
            )
        if abs(sum(value) - 1.0) > 1e-6:
            raise self.fail(prefix + key, f"probabilities sum to {sum(value):.4f}, not 1")
        return tuple(float(v) for v in value)

    def strategy_row(self, table: dict[str, Any], key: str, prefix: str, lo: float, hi: float) -> tuple[float, ...]:
        row = self.get(table, key, prefix)
        if not isinstance(row, dict):
            raise self.fail(prefix + key, f"expected a table of strategies, got {row!r}")
        unknown = sorted(set(row) - set(TABLE_STRATEGIES))
        if unknown:
            raise self.fail(
                f"{prefix}{key}.{unknown[0]}",
                f"unknown strategy; valid: {', '.join(TABLE_STRATEGIES)} "
                "(escalation has no row: it ends the conversation)",
            )
        values = [0.0] * len(STRATEGY_NAMES)
        for name in TABLE_STRATEGIES:
            values[STRATEGY_NAMES.index(name)] = self.number(row, name, f"{prefix}{key}.", lo, hi)
        return tuple(values)


def load_industry(path: Path) -> Industry:
    """Read and validate one industry file."""
    reader = _Reader(path)
    data = reader.read()
    name = reader.get(data, "name")
    if name != path.stem:
        raise reader.fail("name", f"{name!r} must match the file name {path.stem!r}")
    title = reader.get(data, "title")
    if not isinstance(title, str) or not title:
        raise reader.fail("title", "expected a non-empty string")
    shares = reader.get(data, "tier_shares")
    tiers = ("basic", "premium", "vip")
    if not isinstance(shares, dict) or sorted(shares) != sorted(tiers):
        raise reader.fail("tier_shares", f"expected a table with exactly {', '.join(tiers)}")
    tier_shares = reader.distribution({"tier_shares": [shares[t] for t in tiers]}, "tier_shares", "", 3)
    inquiries = []
    for inq_name, table, prefix in reader.tables(data, "inquiries"):
        inq_id = reader.get(table, "id", prefix)
        if not is_int(inq_id) or inq_id < 0:
            raise reader.fail(prefix + "id", f"expected a non-negative integer, got {inq_id!r}")
        traits = {t: reader.number(table, t, prefix, 0.0, 1.0) for t in TRAITS}
        inquiries.append(
            Inquiry(
                name=inq_name,
                id=inq_id,
                industry=name,
                share=reader.number(table, "share", prefix, 0.0, 1.0),
                urgency=reader.distribution(table, "urgency", prefix, 5),
                sentiment=reader.distribution(table, "sentiment", prefix, 5),
                progress=reader.strategy_row(table, "progress", prefix, 0.0, 1.0),
                mood=reader.strategy_row(table, "mood", prefix, -0.5, 0.5),
                **traits,
            )
        )
    total = sum(i.share for i in inquiries)
    if abs(total - 1.0) > 1e-6:
        raise reader.fail("inquiries.*.share", f"shares sum to {total:.4f}, not 1")
    return Industry(name=name, title=title, tier_shares=tier_shares, inquiries=tuple(inquiries))  # type: ignore[arg-type]


def load_catalog(directory: Path = INDUSTRY_DIR) -> Catalog:
    """Load every ``*.toml`` in ``directory`` and check the inquiry ids fit together."""
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise IndustryDataError(f"{directory}: no industry files (*.toml) found")
    for path in paths:  # an industry's name is its file's: one that collides or is not a plain name is refused
        if path.stem == "mixed":
            raise IndustryDataError(f"{path}: 'mixed' names every industry together; rename the file")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", path.stem):
            raise IndustryDataError(
                f"{path}: an industry file's name must be lower-case letters, digits and '_' (it is the industry's)"
            )
    industries = tuple(load_industry(p) for p in paths)
    inquiries = sorted((i for ind in industries for i in ind.inquiries), key=lambda i: i.id)
    owner: dict[str, str] = {}  # inquiry name -> industry
    by_id: dict[int, Inquiry] = {}
    for inq in inquiries:
        where = f"{directory / (inq.industry + '.toml')}: key 'inquiries.{inq.name}"
        if inq.name in owner:
            raise IndustryDataError(f"{where}': name already used in {owner[inq.name]}.toml")
        if inq.id in by_id:
            other = by_id[inq.id]
            raise IndustryDataError(
                f"{where}.id': id {inq.id} is already used by '{other.name}' ({other.industry}.toml)"
            )
        owner[inq.name], by_id[inq.id] = inq.industry, inq
    missing = sorted(set(range(len(inquiries))) - set(by_id))
    if missing:
        culprit = inquiries[-1]  # sorted by id: the highest id stands where a missing one should
        raise IndustryDataError(
            f"{directory / (culprit.industry + '.toml')}: key 'inquiries.{culprit.name}.id': id {culprit.id} "
            f"leaves a gap: ids across all industry files must be 0..{len(inquiries) - 1}; "
            f"missing: {', '.join(map(str, missing))}"
        )
    try:  # the files just loaded; one swapped for a FIFO or a huge file since is refused, not waited on
        digest = hashlib.sha256(b"".join(read_regular(p, DATA_FILE_LIMIT) for p in paths)).hexdigest()
    except OSError as exc:
        raise IndustryDataError(f"{exc.filename}: cannot be read: {exc.strerror or exc}") from None
    return Catalog(industries=industries, inquiries=tuple(inquiries), digest=digest)


@cache
def default_catalog() -> Catalog:
    """The industries shipped in this folder, loaded once per process."""
    return load_catalog()


def industry_data_problem() -> str | None:
    """What is wrong with the industry files (the file and the problem), or None when they load."""
    try:
        default_catalog()
    except IndustryDataError as exc:
        return str(exc)
    return None
