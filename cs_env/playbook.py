"""Playbooks: an ordered list of rules a person can read, write and edit, played as a policy.

A playbook is a TOML file::

    format = 1
    env = "cs_env/CustomerSupport-v1"
    industries = ["bfsi", "retail", "tech"]   # optional: the industry set it was written for

    [[rule]]
    strategy = "escalate"
    note = "urgent fraud goes straight to a specialist"
    inquiry_type = ["fraud_report"]        # a categorical feature: one name or a list of names
    urgency = { min = 3 }                  # a numeric one: min / max (inclusive), above / below (strict)

    [[rule]]
    strategy = "technical"
    inquiry_type = { not = ["fraud_report", "loan_application"] }   # every name but these

    [[rule]]                               # no condition: the catch-all
    strategy = "quick_resolution"

Conditions name the observation's features (``cs_env.env.OBS_NAMES``; the ranges are the observation
space's); ``inquiry_type``, ``sentiment`` and ``tier`` take names (the catalog's inquiries,
``SENTIMENT_NAMES``, ``TIER_NAMES``), or ``{ not = [...] }``: every name (or whole number) but those. A
rule fires when all its conditions hold; the first rule that fires decides. Loading validates everything
and names the file, the line and the valid choices: an unknown feature or strategy, a condition that can
never hold, a rule earlier rules already cover, an empty playbook, another format or env version or
industry set, and a playbook that leaves some situation uncovered (with an example of one). So a loaded
playbook answers every observation: it never fails mid-episode.

Pure: the standard library and numpy.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cs_env.domain import SENTIMENT_NAMES, STRATEGY_NAMES, TIER_NAMES
from cs_env.env import DEFAULT_MAX_TURNS, OBS_NAMES, observation_space
from cs_env.files import is_int, parse_toml
from cs_env.industries import Catalog, default_catalog

FORMAT = 1
PREFIX = "playbook:"
#: The most rules a playbook may hold (a person reads them all).
MAX_RULES = 200
#: The most bytes a playbook file may have.
MAX_BYTES = 1_000_000
#: The most regions the coverage check splits the situations into before giving up.
MAX_REGIONS = 200_000
#: The most regions :meth:`Playbook.simplified` splits one question into before keeping the condition.
SIMPLIFY_REGIONS = 2_000
RULE_KEYS = ("strategy", "note")
BOUND_KEYS = ("min", "max", "above", "below", "in", "not")


def _env_id() -> str:
    from cs_env import ENV_ID  # the package registers the env; imported late to keep this module's imports light

    return ENV_ID


class PlaybookError(ValueError):
    """A playbook file is malformed: the message names the file, the line or key and the valid choices."""


@dataclass(frozen=True)
class Feature:
    """One observable feature a condition can name.

    ``kind`` is ``"category"`` (values are names, coded 0..n-1), ``"integer"`` (whole numbers in
    ``[low, high]``) or ``"number"`` (any value in ``[low, high]``).
    """

    name: str
    index: int
    kind: str
    low: float
    high: float
    choices: tuple[str, ...] = ()

    @property
    def values(self) -> tuple[int, ...]:
        """The codes of a category or integer feature."""
        return tuple(range(int(self.low), int(self.high) + 1))

    def value_name(self, code: int) -> str:
        return self.choices[code] if self.kind == "category" else str(code)


def features(catalog: Catalog | None = None, max_turns: int = DEFAULT_MAX_TURNS) -> dict[str, Feature]:
    """Every feature by name, with its kind and range read from the env's observation space."""
    catalog = catalog or default_catalog()
    named = {
        "inquiry_type": tuple(i.name for i in catalog.inquiries),
        "sentiment": SENTIMENT_NAMES,
        "tier": TIER_NAMES,
    }
    space = observation_space(catalog, max_turns)
    found = {}
    for index, name in enumerate(OBS_NAMES):
        low, high = float(space.low[index]), float(space.high[index])
        # a count such as urgency or the turn has a whole-number range beyond 0-1
        whole = high > 1 and float(high).is_integer()
        kind = "category" if name in named else "integer" if whole else "number"
        found[name] = Feature(name, index, kind, low, high, named.get(name, ()))
    return found


# --- conditions: a set of codes (category, integer) or an interval (number) -----------------------------


@dataclass(frozen=True)
class Interval:
    """``lo < x`` (``lo_open``) or ``lo <= x``, and ``x < hi`` (``hi_open``) or ``x <= hi``."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    @property
    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and (self.lo_open or self.hi_open))

    def __and__(self, other: Interval) -> Interval:
        lo, lo_open = max((self.lo, self.lo_open), (other.lo, other.lo_open))
        hi, hi_open = min((self.hi, not self.hi_open), (other.hi, not other.hi_open))
        return Interval(lo, hi, lo_open, not hi_open)

    def minus(self, other: Interval) -> list[Interval]:
        below = self & Interval(-math.inf, other.lo, False, not other.lo_open)
        above = self & Interval(other.hi, math.inf, not other.hi_open, False)
        return [part for part in (below, above) if not part.empty]

    def example(self) -> float:
        if not self.lo_open:
            return self.lo
        return (self.lo + self.hi) / 2 if self.hi_open else self.hi

    def words(self, f: Feature) -> str:
        """The bounds that say something (not the feature's own range's), e.g. ``> 0.65``."""
        parts = []
        if self.lo > f.low or self.lo_open:
            parts.append(f"{'>' if self.lo_open else '≥'} {self.lo:g}")
        if self.hi < f.high or self.hi_open:
            parts.append(f"{'<' if self.hi_open else '≤'} {self.hi:g}")
        return " and ".join(parts) or "any value"


Condition = frozenset[int] | Interval


def intersect(a: Condition, b: Condition) -> Condition:
    """Where both conditions hold (both of one feature)."""
    if isinstance(a, Interval):
        assert isinstance(b, Interval)
        return a & b
    assert isinstance(b, frozenset)
    return a & b


def _minus(a: Condition, b: Condition) -> list[Condition]:
    if isinstance(a, Interval):
        assert isinstance(b, Interval)
        return list(a.minus(b))
    assert isinstance(b, frozenset)
    rest = a - b
    return [rest] if rest else []


def is_empty(c: Condition) -> bool:
    """No value satisfies ``c``."""
    return c.empty if isinstance(c, Interval) else not c


def full(feature: Feature) -> Condition:
    """The condition that holds for every value of ``feature``."""
    if feature.kind == "number":
        return Interval(feature.low, feature.high)
    return frozenset(feature.values)


@dataclass(frozen=True)
class Rule:
    """One rule: the conditions (feature name → condition) that must all hold, and the strategy."""

    strategy: int
    conditions: dict[str, Condition] = field(default_factory=dict)
    note: str = ""
    line: int | None = None


# --- the policy --------------------------------------------------------------------------------------


class Playbook:
    """A validated playbook as a policy (the :mod:`cs_env.policies` convention).

    Call it on one observation (``int``) or a batch (an integer array); :meth:`decide` also says
    which rule fired (0-based), for "why".
    """

    needs_state = False
    needs_episodes = False

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        name: str = "playbook",
        source: str = "<playbook>",
        catalog: Catalog | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        check: bool = True,
    ) -> None:
        """``check=False`` skips the region algebra (a third of a second for fifteen rules) for a caller that
        plays many variants of a playbook ending in a catch-all and checks the one it keeps."""
        self.catalog = catalog or default_catalog()
        self._max_turns = max_turns
        self.features = features(self.catalog, max_turns)
        self.rules = tuple(rules)
        self.name = name
        self.source = source
        if check:
            self._check()
        elif not self.rules or self.rules[-1].conditions:
            raise PlaybookError(f"{self.source}: an unchecked playbook must end with a catch-all rule")
        self._low = np.array([f.low for f in self.features.values()])
        self._high = np.array([f.high for f in self.features.values()])
        self._strategies = np.array([r.strategy for r in self.rules], dtype=np.int64)
        # each condition as (column, interval) or (column, lookup table of the codes it accepts)
        self._tests: list[list[tuple[int, Any]]] = []
        for rule in self.rules:
            tests: list[tuple[int, Any]] = []
            for name, c in rule.conditions.items():
                f = self.features[name]
                if isinstance(c, Interval):
                    tests.append((f.index, c))
                else:
                    table = np.zeros(int(f.high) + 1, dtype=bool)
                    table[list(c)] = True
                    tests.append((f.index, table))
            self._tests.append(tests)

    @property
    def max_turns(self) -> int:
        """The turn limit of the env the playbook's feature ranges are read from."""
        return self._max_turns

    # validation of the whole: no empty playbook, no rule that never fires, no situation left uncovered
    def _check(self) -> None:
        if not self.rules:
            raise PlaybookError(f"{self.source}: the playbook has no rule; add at least one [[rule]] with a strategy")
        if len(self.rules) > MAX_RULES:
            raise PlaybookError(f"{self.source}: {len(self.rules)} rules; at most {MAX_RULES}")
        whole = {name: full(f) for name, f in self.features.items()}
        uncovered: list[dict[str, Condition]] | None = [whole]
        for i, rule in enumerate(self.rules):
            if self._never_fires(i):
                at = f"{self.source}:{rule.line}" if rule.line else self.source
                raise PlaybookError(
                    f"{at}: rule {i + 1} can never fire: the rules before it already cover every situation it "
                    "names; remove it or move it up"
                )
            if uncovered is not None:
                try:
                    uncovered = _subtract(uncovered, rule)
                except OverflowError:
                    uncovered = None
        if uncovered is None:
            raise PlaybookError(
                f"{self.source}: the rules are too intricate to check that every situation is covered (more "
                f"than {MAX_REGIONS:,} regions): end the playbook with a catch-all [[rule]] that has no condition"
            )
        if uncovered:
            raise PlaybookError(
                f"{self.source}: no rule covers some situations, e.g. {self._describe_point(uncovered[0])}; "
                "add a rule for them or end the playbook with a catch-all [[rule]] that has no condition"
            )

    def _never_fires(self, i: int) -> bool:
        """Rule ``i``'s situations are all taken by the rules before it (False when too intricate to prove)."""
        whole = {name: full(f) for name, f in self.features.items()}
        left = [{**whole, **{k: intersect(whole[k], c) for k, c in self.rules[i].conditions.items()}}]
        try:
            for earlier in self.rules[:i]:
                left = _subtract(left, earlier)
        except OverflowError:
            return False  # too intricate to prove it never fires: keep it
        return not left

    def without_dead_rules(self) -> Playbook:
        """The same choices without the rules that can never fire (an unchecked playbook may have some), checked."""
        alive = [rule for i, rule in enumerate(self.rules) if not self._never_fires(i)]
        return Playbook(alive, name=self.name, source=self.source, catalog=self.catalog, max_turns=self._max_turns)

    def _describe_point(self, region: dict[str, Condition]) -> str:
        """One situation in ``region``, naming only the features the region narrows (the rest: any value)."""
        parts = []
        for name, c in region.items():
            f = self.features[name]
            if c == full(f):
                continue
            if isinstance(c, Interval):
                parts.append(f"{name} = {c.example():g}")
            else:
                parts.append(f"{name} = {f.value_name(min(c))}")
        return ", ".join(parts) or "any situation"

    def decide(self, obs: np.ndarray) -> tuple[Any, Any]:
        """The strategy and the rule that fired (0-based) for one observation, or arrays for a batch."""
        o = np.asarray(obs, dtype=np.float64)
        single = o.ndim == 1
        batch = np.clip(o[None, :] if single else o, self._low, self._high)  # outside the space: its edge
        fired = np.full(len(batch), -1, dtype=np.int64)
        open_rows = np.ones(len(batch), dtype=bool)
        codes = np.rint(batch).astype(np.int64)
        for i, tests in enumerate(self._tests):
            match = open_rows.copy()
            for column, c in tests:
                x = batch[:, column]
                if isinstance(c, Interval):
                    match &= (x > c.lo if c.lo_open else x >= c.lo) & (x < c.hi if c.hi_open else x <= c.hi)
                else:
                    match &= c[codes[:, column]]
            fired[match] = i
            open_rows &= ~match
            if not open_rows.any():
                break
        assert not open_rows.any(), "a loaded playbook covers every observation"
        strategies = self._strategies[fired]
        if single:
            return int(strategies[0]), int(fired[0])
        return strategies, fired

    def __call__(self, obs: np.ndarray) -> Any:
        return self.decide(obs)[0]

    def simplified(self) -> Playbook:
        """The same playbook with every condition dropped that changes no decision: one whose removal only
        lets the rule see situations that earlier rules already take (e.g. "not angry" after a rule for the
        angry ones). Exact, by the same region algebra as the coverage check; the choices stay the same."""
        whole = {name: full(f) for name, f in self.features.items()}
        rules = list(self.rules)
        for i, rule in enumerate(rules):
            for key in list(rule.conditions):
                looser = {k: c for k, c in rule.conditions.items() if k != key}
                base = {**whole, **{k: intersect(whole[k], c) for k, c in looser.items()}}
                added = [{**base, key: part} for part in _minus(whole[key], rule.conditions[key])]
                try:
                    for earlier in rules[:i]:
                        added = _subtract(added, earlier, SIMPLIFY_REGIONS)
                except OverflowError:  # too intricate to prove quickly: the condition stays
                    continue
                if not added:
                    rule = Rule(rule.strategy, looser, rule.note, rule.line)
            rules[i] = rule
        return Playbook(rules, name=self.name, source=self.source, catalog=self.catalog, max_turns=self._max_turns)

    def describe(self, i: int) -> str:
        """Rule ``i`` (0-based) in words: "when ... : strategy"."""
        rule = self.rules[i]
        if not rule.conditions:
            return f"otherwise: {STRATEGY_NAMES[rule.strategy]}"
        parts = []
        for name, c in rule.conditions.items():
            f = self.features[name]
            if isinstance(c, Interval):
                parts.append(f"{name} {c.words(f)}")
            else:
                values = sorted(c)
                if f.kind == "integer" and values == list(range(values[0], values[-1] + 1)) and len(values) > 1:
                    low = f"≥ {values[0]}" if values[0] > f.low else ""
                    high = f"≤ {values[-1]}" if values[-1] < f.high else ""
                    parts.append(f"{name} {' and '.join(b for b in (low, high) if b)}")
                else:
                    parts.append(f"{name} {_listed_words(f, c)}")
        return f"when {' and '.join(parts)}: {STRATEGY_NAMES[rule.strategy]}"

    def dumps(self) -> str:
        """The playbook as a TOML file :func:`load` reads back to the same rules."""
        lines = [f"format = {FORMAT}", f"env = {json.dumps(_env_id())}"]
        lines += [f"industries = {json.dumps(list(self.catalog.industry_names))}", ""]
        for rule in self.rules:
            lines.append("[[rule]]")
            lines.append(f"strategy = {json.dumps(STRATEGY_NAMES[rule.strategy])}")
            if rule.note:
                lines.append(f"note = {json.dumps(rule.note)}")
            for name, c in rule.conditions.items():
                lines.append(f"{name} = {_condition_toml(self.features[name], c)}")
            lines.append("")
        return "\n".join(lines)


def _excluded(f: Feature, c: frozenset[int]) -> list[int] | None:
    """The values ``c`` leaves out, when naming them is shorter than naming the ones it keeps (else None)."""
    rest = sorted(set(f.values) - c)
    return rest if rest and len(rest) < len(c) else None


def _listed_words(f: Feature, c: frozenset[int]) -> str:
    """``is a or b``, or ``is not x`` / ``is none of x, y`` when fewer values are left out than kept."""
    rest = _excluded(f, c)
    if rest is None:
        return f"is {' or '.join(f.value_name(v) for v in sorted(c))}"
    names = [f.value_name(v) for v in rest]
    return f"is not {names[0]}" if len(names) == 1 else f"is none of {', '.join(names)}"


def _condition_toml(f: Feature, c: Condition) -> str:
    if isinstance(c, Interval):
        bounds = []
        if c.lo > f.low or c.lo_open:
            bounds.append(f"{'above' if c.lo_open else 'min'} = {c.lo!r}")
        if c.hi < f.high or c.hi_open:
            bounds.append(f"{'below' if c.hi_open else 'max'} = {c.hi!r}")
        return "{ " + ", ".join(bounds) + " }"
    values = sorted(c)
    if f.kind == "integer":
        if values == list(range(values[0], values[-1] + 1)):
            return f"{{ min = {values[0]}, max = {values[-1]} }}"
        return json.dumps(values)
    rest = _excluded(f, c)
    if rest is not None:
        return f"{{ not = {json.dumps([f.choices[v] for v in rest])} }}"
    return json.dumps([f.choices[v] for v in values])


def _subtract(regions: list[dict[str, Condition]], rule: Rule, limit: int = MAX_REGIONS) -> list[dict[str, Condition]]:
    """The parts of ``regions`` where ``rule`` does not fire (each region a box: one condition per feature)."""
    out: list[dict[str, Condition]] = []
    for region in regions:
        inside = {k: intersect(region[k], c) for k, c in rule.conditions.items()}
        if any(is_empty(c) for c in inside.values()):
            out.append(region)
            continue
        current = dict(region)
        for name, c in rule.conditions.items():
            out.extend({**current, name: part} for part in _minus(current[name], c))
            current[name] = inside[name]
        if len(out) > limit:
            raise OverflowError
    return out


# --- reading a file ----------------------------------------------------------------------------------


class _Lines:
    """Line numbers of ``[[rule]]`` headers and their keys in the raw text (tomllib gives none)."""

    HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers = [n for n, line in enumerate(self.lines, 1) if self.HEADER.match(line)]

    def rule(self, i: int) -> int | None:
        return self.headers[i] if i < len(self.headers) else None

    def key(self, i: int, key: str) -> int | None:
        start = self.rule(i)
        if start is None:
            return None
        end = self.headers[i + 1] if i + 1 < len(self.headers) else len(self.lines) + 1
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for n in range(start + 1, end):
            if pattern.match(self.lines[n - 1]):
                return n
        return start

    def top(self, key: str) -> int | None:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        end = self.headers[0] if self.headers else len(self.lines) + 1
        return next((n for n in range(1, end) if pattern.match(self.lines[n - 1])), None)


def load(
    path: str | Path, *, catalog: Catalog | None = None, max_turns: int = DEFAULT_MAX_TURNS, name: str | None = None
) -> Playbook:
    """Read and validate the playbook at ``path``; raises :class:`PlaybookError` naming what is wrong."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise PlaybookError(f"{path}: {size:,} bytes; a playbook file may have at most {MAX_BYTES:,}")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PlaybookError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise PlaybookError(f"{path}: cannot read the playbook: {exc.strerror or exc}") from None
    return loads(text, source=str(path), catalog=catalog, max_turns=max_turns, name=name or f"{PREFIX}{path.stem}")


def loads(
    text: str,
    *,
    source: str = "<playbook>",
    catalog: Catalog | None = None,
    max_turns: int = DEFAULT_MAX_TURNS,
    name: str = "playbook",
) -> Playbook:
    """Read and validate a playbook from TOML text (``source`` names it in errors)."""
    try:
        data = parse_toml(text)  # (the one TOML reader: nesting bounded, as every data file's)
    except tomllib.TOMLDecodeError as exc:
        raise PlaybookError(f"{source}: not valid TOML: {exc}") from None
    lines = _Lines(text)
    allowed = ("format", "env", "industries", "rule")
    for key in data:
        if key not in allowed:
            raise PlaybookError(
                f"{source}:{lines.top(key) or 1}: unknown key {key!r}; valid keys: {', '.join(allowed)}"
            )
    if data.get("format") != FORMAT:
        got = "no format" if "format" not in data else f"format = {data['format']!r}"
        raise PlaybookError(
            f"{source}:{lines.top('format') or 1}: {got}; this version of cs-tui reads format = {FORMAT}"
        )
    env_id = _env_id()
    if data.get("env") != env_id:
        got = "no env" if "env" not in data else f"env = {data['env']!r}"
        raise PlaybookError(
            f"{source}:{lines.top('env') or 1}: {got}, but this is {env_id!r}: the observation and its features "
            f'may differ; check the rules against this env and set env = "{env_id}"'
        )
    catalog = catalog or default_catalog()
    if "industries" in data:
        _check_industries(data["industries"], catalog, f"{source}:{lines.top('industries') or 1}")
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise PlaybookError(f"{source}: 'rule' must be an array of tables, written [[rule]]")
    feats = features(catalog, max_turns)
    rules = [_read_rule(raw, i, feats, lines, source) for i, raw in enumerate(raw_rules)]
    return Playbook(rules, name=name, source=source, catalog=catalog, max_turns=max_turns)


def _check_industries(value: Any, catalog: Catalog, at: str) -> None:
    """The ``industries`` key: the industry set the playbook was written for must be this catalog's."""
    ours = catalog.industry_names
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise PlaybookError(f"{at}: industries must be a list of industry names, e.g. {json.dumps(list(ours))}")
    missing = [name for name in value if name not in ours]
    extra = [name for name in ours if name not in value]
    if missing or extra:
        parts = [f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not here" if missing else ""]
        parts.append(f"{', '.join(extra)} {'was' if len(extra) == 1 else 'were'} not in its set" if extra else "")
        raise PlaybookError(
            f"{at}: written for the industries {', '.join(value)}, but this catalog has {', '.join(ours)} "
            f"({'; '.join(p for p in parts if p)}): its inquiries and what they mean may differ; check the rules "
            f"against these industries and set industries = {json.dumps(list(ours))}"
        )


def _read_rule(raw: dict[str, Any], i: int, feats: dict[str, Feature], lines: _Lines, source: str) -> Rule:
    def fail(key: str | None, problem: str) -> PlaybookError:
        line = lines.key(i, key) if key else lines.rule(i)
        at = f"{source}:{line}" if line else source
        return PlaybookError(f"{at}: rule {i + 1}{f' ({key})' if key else ''}: {problem}")

    strategy = raw.get("strategy")
    if strategy not in STRATEGY_NAMES:
        got = "no strategy" if strategy is None else f"unknown strategy {strategy!r}"
        raise fail(
            "strategy" if strategy is not None else None, f"{got}; valid strategies: {', '.join(STRATEGY_NAMES)}"
        )
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise fail("note", f"a note is text in quotes, got {note!r}")
    conditions: dict[str, Condition] = {}
    for key, value in raw.items():
        if key in RULE_KEYS:
            continue
        if key not in feats:
            raise fail(key, f"unknown feature {key!r}; valid features: {', '.join(feats)} (and strategy, note)")
        try:
            c = _read_condition(feats[key], value)
        except PlaybookError as exc:
            raise fail(key, str(exc)) from None
        if is_empty(c):
            raise fail(key, f"the condition {value!r} can never hold (no value of {key} satisfies it)")
        conditions[key] = c
    return Rule(STRATEGY_NAMES.index(strategy), conditions, note, lines.rule(i))


def _read_condition(f: Feature, value: Any) -> Condition:
    """One feature's condition from its TOML value; :class:`PlaybookError` (without the place) if malformed."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in BOUND_KEYS]
        if unknown or not value:
            raise PlaybookError(
                f"unknown bound {unknown[0]!r}; valid: {', '.join(BOUND_KEYS)}" if unknown else "an empty condition"
            )
        for listed in ("in", "not"):
            if listed in value and len(value) > 1:
                others = ", ".join(k for k in BOUND_KEYS if k != listed)
                raise PlaybookError(f"{listed!r} cannot be combined with {others}")
        if "in" in value:
            return _read_condition(f, value["in"])
        if "not" in value:
            if f.kind == "number":
                raise PlaybookError(
                    f"{f.name} is a number from {f.low:g} to {f.high:g}: 'not' takes names or whole numbers; "
                    "give bounds, e.g. { below = 0.5 }"
                )
            if value["not"] == []:
                raise PlaybookError("an empty 'not' list leaves nothing out: drop the condition instead")
            excluded = _read_condition(f, value["not"])
            assert isinstance(excluded, frozenset)
            return frozenset(f.values) - excluded
        if f.kind == "category":
            raise PlaybookError(f"{f.name} takes names, not bounds: e.g. {f.name} = [{json.dumps(f.choices[0])}]")
        interval = Interval(f.low, f.high)
        for key, bound in value.items():
            if isinstance(bound, bool) or not isinstance(bound, int | float) or not math.isfinite(bound):
                raise PlaybookError(f"{key} must be a number, got {bound!r}")
            if not f.low <= bound <= f.high:
                raise PlaybookError(f"{key} = {bound!r} is outside {f.name}'s range {f.low:g} to {f.high:g}")
            side = {
                "min": Interval(bound, math.inf),
                "above": Interval(bound, math.inf, lo_open=True),
                "max": Interval(-math.inf, bound),
                "below": Interval(-math.inf, bound, hi_open=True),
            }[key]
            interval = interval & side
        if f.kind == "number":
            return interval
        return frozenset(v for v in f.values if not (interval & Interval(v, v)).empty)
    items = value if isinstance(value, list) else [value]
    if not items:
        raise PlaybookError("an empty list: no value would match")
    codes = set()
    for item in items:
        if f.kind == "category":
            if item not in f.choices:
                raise PlaybookError(f"unknown {f.name} {item!r}; valid: {', '.join(f.choices)}")
            codes.add(f.choices.index(item))
        elif f.kind == "integer":
            if not is_int(item) or not f.low <= item <= f.high:
                raise PlaybookError(f"{item!r} is not a whole number in {f.name}'s range {f.low:g} to {f.high:g}")
            codes.add(item)
        else:
            raise PlaybookError(f"{f.name} is a number from {f.low:g} to {f.high:g}: give bounds, e.g. {{ min = 0.5 }}")
    return frozenset(codes)


__all__ = [
    "FORMAT",
    "PREFIX",
    "Feature",
    "Interval",
    "Playbook",
    "PlaybookError",
    "Rule",
    "features",
    "full",
    "intersect",
    "is_empty",
    "load",
    "loads",
]
