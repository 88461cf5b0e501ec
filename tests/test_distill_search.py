"""The distillation's search for return: splitting a rule where the teacher's choices differ within it."""

from __future__ import annotations

import numpy as np
import pytest

from cs_env.domain import STRATEGY_NAMES
from cs_env.evaluate import rollout
from cs_env.industries import default_catalog
from cs_env.playbook import Playbook, Rule, loads

APOLOGETIC, TECHNICAL, QUICK = (STRATEGY_NAMES.index(s) for s in ("apologetic", "technical", "quick_resolution"))
DISPUTE = [i.name for i in default_catalog().inquiries].index("transaction_dispute")
ANGRY = 0  # SENTIMENT_NAMES[0]

#: the teacher: apologise to angry customers in disputes, else be quick; a rule no tree-leaf search reaches
#: from a playbook without a sentiment or an inquiry condition
TEACHER = Playbook(
    [Rule(APOLOGETIC, {"inquiry_type": frozenset({DISPUTE}), "sentiment": frozenset({ANGRY})}), Rule(QUICK)]
)


def _situations(teacher: Playbook = TEACHER) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the teacher's conversations go, and what it chose there (each situation weighing the same)."""
    from cs_tui.distill import _Teacher

    watch = _Teacher(teacher, None)
    rollout(watch, episodes=3000, seed=21)
    obs, labels = np.concatenate(watch.observations), np.concatenate(watch.labels)
    assert (labels == APOLOGETIC).sum() >= 40  # enough angry disputes for a rule of their own
    return obs, labels, np.ones(len(labels))


def _agreement(obs: np.ndarray, labels: np.ndarray) -> object:
    def validate(playbook: Playbook) -> float:
        return float(np.mean(np.asarray(playbook(obs)) == labels))

    return validate


@pytest.mark.parametrize("split", [False, True])
def test_the_search_splits_a_rule_to_find_a_strategy_the_teacher_uses_for_a_few(
    monkeypatch: pytest.MonkeyPatch, split: bool
) -> None:
    from cs_tui import distill as d

    monkeypatch.setattr(d, "SPLIT", split)
    situations = _situations()
    validate = _agreement(*situations[:2])
    start = Playbook([Rule(QUICK)])  # the catch-all alone: right for all but the angry disputes
    found = d._searched(start, validate, (), 3, situations, seed=4)  # type: ignore[arg-type]
    if not split:  # without the split the search can only change the catch-all's strategy: nothing better
        assert found.dumps() == start.dumps()
        return
    assert validate(found) == 1.0  # type: ignore[operator]
    first = found.rules[0]
    assert first.strategy == APOLOGETIC
    assert first.conditions["inquiry_type"] == frozenset({DISPUTE})
    assert first.conditions["sentiment"] == frozenset({ANGRY})
    again = loads(found.dumps())  # written as a playbook file like any other: checked, every situation covered
    assert again.dumps() == found.dumps() == d._searched(start, validate, (), 3, situations, seed=4).dumps()  # type: ignore[arg-type]


def test_at_the_budget_a_split_takes_the_place_of_the_rule_it_costs_least_to_lose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cs_tui import distill as d

    monkeypatch.setattr(d, "SPLIT", True)
    monkeypatch.setattr(d, "SEARCH_PASSES", 1)
    situations = _situations()
    validate = _agreement(*situations[:2])
    # a rule that changes nothing (it says what the catch-all says) fills the budget of two rules
    idle = Rule(QUICK, {"urgency": frozenset({3, 4})})
    start = Playbook([idle, Rule(QUICK)])
    found = d._searched(start, validate, (), 2, situations, seed=4)  # type: ignore[arg-type]
    assert len(found.rules) == 2 and idle not in found.rules
    assert found.rules[0].strategy == APOLOGETIC and validate(found) == 1.0  # type: ignore[operator]


def test_at_the_budget_a_rule_of_the_pool_goes_before_the_rule_it_must_precede_in_the_place_of_the_cheapest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cs_tui import distill as d

    monkeypatch.setattr(d, "SPLIT", False)  # the pool's move alone
    monkeypatch.setattr(d, "SEARCH_PASSES", 1)
    # the teacher apologises to angry disputes, is technical with the other disputes, quick with the rest
    apology = Rule(APOLOGETIC, {"inquiry_type": frozenset({DISPUTE}), "sentiment": frozenset({ANGRY})})
    disputes = Rule(TECHNICAL, {"inquiry_type": frozenset({DISPUTE})})
    situations = _situations(Playbook([apology, disputes, Rule(QUICK)]))
    validate = _agreement(*situations[:2])
    # the budget of three is full, with a rule that changes nothing; the apology, in the pool, serves only
    # before the disputes' rule: in the idle rule's place it would come after it and never fire, and in
    # the disputes' rule's place it would lose the technical answers
    idle = Rule(QUICK, {"urgency": frozenset({3, 4})})
    start = Playbook([disputes, idle, Rule(QUICK)])
    found = d._searched(start, validate, [apology], 3, situations, seed=4)  # type: ignore[arg-type]
    assert found.rules == (apology, disputes, Rule(QUICK))
    assert validate(found) == 1.0  # type: ignore[operator]
    # the first search (no situations) keeps its moves: in place, or before a rule while under the budget
    assert d._searched(start, validate, [apology], 3).rules == start.rules  # type: ignore[arg-type]


def test_the_splits_keep_the_rules_conditions_and_name_only_strategies_the_teacher_chose_there() -> None:
    from cs_tui.distill import _splits

    obs, labels, weights = _situations()
    broad = Rule(APOLOGETIC, {"inquiry_type": frozenset({DISPUTE})})  # apologises to every dispute
    playbook = Playbook([broad, Rule(QUICK)])
    found = _splits(playbook, (obs, labels, weights), seed=4)
    mine = [(split, narrows) for parent, split, narrows in found if parent is broad]
    assert mine, "the disputes' rule, where the teacher is quick with all but the angry, is split"
    for split, narrows in mine:
        assert split.conditions["inquiry_type"] == frozenset({DISPUTE})  # within the rule it splits
        assert narrows == (split.strategy == APOLOGETIC)
        assert split.strategy in (APOLOGETIC, QUICK)
    assert any(s.conditions.get("sentiment") == frozenset({ANGRY}) and n for s, n in mine)
    assert _splits(playbook, (obs, labels, weights), seed=4) == found  # deterministic


def test_validation_meets_each_customer_with_the_same_draws_and_replays_only_what_a_change_alters() -> None:
    """The distillation's score: a playbook's return on its validation customers is the same whether the
    customers are played in full or only where the playbook chooses otherwise than the last one played in
    full, and two playbooks' returns differ only on the conversations where their choices differ."""
    from cs_env.evaluate import single_env_draws
    from cs_tui.distill import _Validation

    seeds = range(500, 2500)
    quick = Playbook([Rule(QUICK)])
    disputes_technical = Playbook([Rule(TECHNICAL, {"inquiry_type": frozenset({DISPUTE})}), Rule(QUICK)])
    for changed in (TEACHER, disputes_technical):
        kept = _Validation("mixed", 10, seeds)
        assert kept(quick) == pytest.approx(rollout(quick, env_seeds=list(seeds)).returns.mean(), abs=1e-12)
        assert kept.reference is not None  # the full play is kept ...
        fresh = _Validation("mixed", 10, seeds)
        assert kept(changed) == pytest.approx(fresh(changed), abs=1e-12)  # ... and a change replays what it alters
    # the same customers, the same draws: a playbook that answers a dispute otherwise changes disputes only
    draws = single_env_draws(list(seeds), 10)
    with pytest.raises(ValueError, match="draws: given without env_seeds"):
        rollout(quick, draws=draws)
    with pytest.raises(ValueError, match="not single_env_draws\\(\\) of 1999 env seeds and 10 turns"):
        rollout(quick, env_seeds=list(seeds)[1:], draws=draws)  # drawn for other customers
    a = rollout(quick, env_seeds=list(seeds), draws=draws)
    b = rollout(disputes_technical, env_seeds=list(seeds))
    others = a.inquiries != DISPUTE
    assert np.array_equal(a.returns[others], b.returns[others])
    assert not np.array_equal(a.returns[~others], b.returns[~others])
