"""Distilling an agent into a playbook: DAgger with the agent as teacher, a decision tree, rules in words.

The tree (scikit-learn's CART, imported here only) reads the observation's named features (the noisy cues,
the hints and what was tried so far; nothing hidden) and, for the inquiry, one yes/no column per inquiry as
well, so a rule can single one out. DAgger: the first round imitates the teacher on the teacher's own
conversations; each further round plays the current playbook, asks the teacher what it would do in every
situation the playbook reached, adds those to the data and refits; so the playbook learns to recover from
its own mistakes, not only the teacher's situations. As VIPER does, each situation weighs as much as the
teacher's choice matters there (a trained agent's lead of its first choice over its second).

Two kinds of candidate per round. A tree: each leaf becomes a rule, a split whose leaves all name the
same strategy is one rule, and the strategy most rules share becomes the final catch-all (its rules go);
one best-first tree is grown, its first k splits being the tree grown to k + 1 leaves, so every size is
tried from one fit. An ordered list learned rule by rule (PART): a small tree on the situations no rule
takes yet gives its leaf that agrees with the teacher most as the next rule, which uses the playbook's
order (a later rule need not repeat what earlier ones took). Of all candidates within ``max_rules`` rules,
in every round, the playbook kept is the one with the best mean return on validation customers (their own
env seeds, apart from the training rounds' and from the held-out figures'), each met with the same draws
every time, so that two playbooks' scores differ only by the conversations they answer differently
(:class:`_Validation`). Then a search for return rather than
agreement (:func:`_searched`): greedy local search over each rule's strategy, thresholds, listed values and
order, over rules of larger distillations put in its
place, and over splits of a rule where the agent's choices differ within it, scored on the same validation
customers; the notes then say what the agent chose where each rule fires. Last, its conditions are simplified without
changing a choice (:meth:`cs_env.playbook.Playbook.simplified`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cs_env.domain import N_STRATEGIES, STRATEGY_NAMES
from cs_env.playbook import Condition, Interval, Playbook, Rule, full, intersect, is_empty

#: DAgger rounds after the first (teacher-driven) one, and conversations per round
DAGGER_ROUNDS = 4
DAGGER_EPISODES = 2000
#: seeds apart from evaluations' (0), held-out figures' (1) and warm starts' (7)
DISTILL_SEED = 11
HELDOUT_SEED = 1
#: the validation customers that choose among the candidate playbooks: how many, and where their env seeds
#: start (``VALIDATION_SEEDS + seed x VALIDATION_EPISODES`` on, for the distillation's seed): apart from the
#: training rounds' customers, the held-out figures' and the catalog's
VALIDATION_EPISODES = 10_000
VALIDATION_SEEDS = 50_000_000
#: a playbook that would choose otherwise in more than this share of the reference's conversations is
#: played in full (see :class:`_Validation`)
REPLAY_SHARE = 0.25
#: also try an ordered list learned rule by rule (:func:`_decision_list`), from trees of this many leaves
PART = True
PART_LEAVES = 32
#: candidate playbooks per DAgger round (the largest trees of as many rule counts within the budget)
CANDIDATES = 6
HELDOUT_EPISODES = 10_000
TRADEOFF_SIZES = (3, 5, 10, 20, 40)
#: the fewest situations a leaf holds: a rule for a handful of situations is noise, not advice
MIN_LEAF = 20
#: weigh each situation by how much the teacher's choice matters there (VIPER), never less than MIN_WEIGHT
WEIGHTED = True
MIN_WEIGHT = 0.05
#: thresholds are written with this many decimals (the playbook is re-measured as written)
DECIMALS = 3
PASS_K = 4
#: the most leaves grown per rule asked for (merged splits and the catch-all absorb many of them)
LEAF_FACTOR = 10
SCENARIO_TRIALS = 8
#: after the tree, greedy local search over the kept playbook scored by its return on the validation
#: customers (:func:`_searched`): at most this many passes over every change of one rule
SEARCH = True
SEARCH_PASSES = 3
#: the thresholds it tries: multiples of this step, within this reach of the threshold it moves
SEARCH_STEP = 0.025
SEARCH_REACH = 0.15
#: a change is kept only when it adds more than this to the mean validation return
SEARCH_MIN_GAIN = 1e-4
#: the most playbooks the search plays (each on the validation customers): what bounds its time for
#: large budgets (at 15 rules about three passes fit; at 100, part of one); the splitting search after it
#: (``SPLIT``) has as many again
SEARCH_EVALUATIONS = 10_000
#: the search may also put in, for any rule, a rule of a larger distillation (a tree and a PART list of up
#: to this many rules over the same situations): a rule the budget left out may serve customers better
POOL_RULES = 40
#: and the leaves of a tree of this many leaves per inquiry, on that inquiry's situations alone
INQUIRY_LEAVES = 4
#: the search also splits a rule where the agent's choices differ within it (:func:`_splits`): on the
#: situations the rule takes, a tree of at most this many leaves over the agent's choices, and for each other
#: strategy the agent chose there in at least ``SPLIT_SHARE`` of them (weighted), a tree of as many leaves
#: telling that strategy from the rest; a leaf becomes a rule put just before the one it splits (the rule's
#: conditions and the leaf's), or the rule narrowed to a leaf where the agent agrees with it
SPLIT = True
SPLIT_LEAVES = 4
SPLIT_SHARE = 0.03
#: the splits come in a second search from the first's playbook, of at most this many passes (splits first);
#: mixed into the first search from the tree's playbook they led the greedy search elsewhere, and lower
#: (89.9-90.0 % of oracle on held-out customers, against 90.3 without and 91.0 after)
SPLIT_PASSES = 2


class _Validation:
    """Mean return on the validation customers, a playbook's score in the distillation.

    Each customer is met with the draws a single env makes after ``reset(seed=s)`` (its env seed), so the
    same customer answered the same way goes the same way every time: two playbooks' returns differ only
    through the conversations where they choose differently (common random numbers), and a change to one
    rule is judged on what it changes, not on chance. So a playbook is played again only where it would
    choose otherwise than the last one played in full (the reference, whose every turn's observation and
    choice are kept): the other conversations' returns are the reference's, exactly. A playbook that would
    change more than ``REPLAY_SHARE`` of the conversations is played in full and becomes the reference.
    """

    def __init__(self, industry: str, max_turns: int, env_seeds: Sequence[int]) -> None:
        from cs_env.evaluate import single_env_draws

        self.industry, self.max_turns = industry, max_turns
        self.seeds = list(env_seeds)  # Python ints: a seed near 2**63 would overflow an int64 array
        self.customers, self.turns = single_env_draws(self.seeds, max_turns)
        # the reference: every turn's observation, whose conversation it is, the choice; each one's return
        self.reference: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def _play(self, policy: Any, rows: np.ndarray | None = None) -> np.ndarray:
        from cs_env.evaluate import rollout

        seeds = self.seeds if rows is None else [self.seeds[i] for i in rows]
        draws = (self.customers, self.turns) if rows is None else (self.customers[:, rows], self.turns[:, :, rows])
        played = rollout(policy, industry=self.industry, max_turns=self.max_turns, env_seeds=seeds, draws=draws)
        return played.returns

    def __call__(self, playbook: Playbook) -> float:
        if self.reference is not None:
            obs, episode, choice, returns = self.reference
            touched = np.unique(episode[np.asarray(playbook(obs)) != choice])
            if len(touched) <= REPLAY_SHARE * len(returns):
                changed = self._play(playbook, touched) if len(touched) else np.zeros(0)
                return float((returns.sum() - returns[touched].sum() + changed.sum()) / len(returns))
        recorded = _Recorded(playbook)
        returns = self._play(recorded)
        obs, episode, choice = (np.concatenate(part) for part in zip(*recorded.seen, strict=True))
        self.reference = (obs, episode, choice, returns)
        return float(returns.mean())


class _Recorded:
    """A playbook that keeps every turn's observations, whose conversations they are and its choices."""

    needs_episodes = True

    def __init__(self, playbook: Playbook) -> None:
        self.playbook = playbook
        self.seen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def __call__(self, obs: np.ndarray, episodes: np.ndarray) -> np.ndarray:
        choice = np.asarray(self.playbook(obs), dtype=np.int64)
        self.seen.append((np.asarray(obs, dtype=np.float64), np.asarray(episodes), choice))
        return choice


class _Teacher:
    """Plays the student (or, before there is one, the teacher) and records what the teacher would do."""

    def __init__(self, teacher: Any, student: Any | None) -> None:
        self.teacher, self.student = teacher, student
        self.needs_state = bool(getattr(teacher, "needs_state", False))
        self.needs_episodes = bool(getattr(teacher, "needs_episodes", False))
        self.observations: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []

    def __call__(self, obs: np.ndarray, state: Any = None, episodes: Any = None) -> np.ndarray:
        weight = np.ones(len(obs))
        if getattr(self.teacher, "kind", None) == "model":  # a trained agent: how much each choice matters
            if self.needs_episodes:
                values = self.teacher.action_values(obs, episodes=episodes)
            else:
                values = self.teacher.action_values(obs)
            label = np.argmax(values.values, axis=-1)
            weight = _importance(values.kind, values.values)
        elif self.needs_state:
            label = self.teacher(obs, state=state)
        elif self.needs_episodes:
            label = self.teacher(obs, episodes=episodes)
        else:
            label = self.teacher(obs)
        label = np.asarray(label, dtype=np.int64)
        self.observations.append(np.asarray(obs, dtype=np.float64))
        self.labels.append(label)
        self.weights.append(weight)
        return label if self.student is None else np.asarray(self.student(obs), dtype=np.int64)


def _importance(kind: str, values: np.ndarray) -> np.ndarray:
    """How much the teacher's choice matters in each situation, as VIPER weighs it: for Q-values the gap
    between the best and the worst strategy's estimated return; for probabilities the lead of the first
    choice over the second (a near tie says either will do). At least ``MIN_WEIGHT``."""
    ranked = np.sort(values, axis=-1)
    gap = ranked[:, -1] - (ranked[:, 0] if kind == "q_values" else ranked[:, -2])
    if kind == "q_values":
        gap = gap / max(float(gap.max()), 1e-12)
    return np.maximum(gap, MIN_WEIGHT) if WEIGHTED else np.ones(len(values))


def _columns(playbook_features: dict[str, Any], obs: np.ndarray) -> np.ndarray:
    """The tree's inputs: every feature as observed, then a 0/1 column per inquiry."""
    inquiry = playbook_features["inquiry_type"]
    codes = np.rint(obs[:, inquiry.index]).astype(np.int64)
    onehot = (codes[:, None] == np.arange(len(inquiry.choices))[None, :]).astype(np.float64)
    return np.hstack([obs, onehot])


def tree_to_playbook(tree: Any, template: Playbook, name: str, splits: int | None = None) -> Playbook:
    """The fitted tree's leaves as rules (see the module docstring), checked like any playbook file; with
    ``splits``, the tree as it stood after its first ``splits`` splits (see :func:`_grown`)."""
    feats = template.features
    by_index = {f.index: f for f in feats.values()}
    inquiry = feats["inquiry_type"]
    n_obs = len(feats)
    t = tree.tree_
    leaves: list[tuple[dict[str, Condition], int, float, int]] = []
    children_left, children_right = _grown(t, splits)
    uniform = _uniform_subtrees(t, children_left, children_right)

    def walk(node: int, region: dict[str, Condition]) -> None:
        if uniform[node] >= 0:  # a leaf, or a split whose every leaf says the same: one rule
            counts = t.value[node][0]
            klass = int(uniform[node])
            share = float(counts[klass] / counts.sum())
            leaves.append((region, int(tree.classes_[klass]), share, int(t.n_node_samples[node])))
            return
        sides = _split_sides(t, node, region, by_index, n_obs)
        for child, (key, condition) in zip((children_left[node], children_right[node]), sides, strict=True):
            if not is_empty(condition):
                walk(int(child), {**region, key: condition})

    walk(0, {name_: full(f) for name_, f in feats.items()})
    # the catch-all: the strategy most leaves share (ties: the most situations)
    strategies = [leaf[1] for leaf in leaves]
    weight = {s: (strategies.count(s), sum(leaf[3] for leaf in leaves if leaf[1] == s)) for s in set(strategies)}
    default = max(weight, key=lambda s: weight[s])
    total = sum(leaf[3] for leaf in leaves)
    rules = []
    for region, strategy, share, samples in sorted(leaves, key=lambda leaf: -leaf[3]):
        if strategy == default:
            continue
        conditions = {k: c for k, c in region.items() if c != full(feats[k])}
        note = (
            f"the agent chose {STRATEGY_NAMES[strategy]} in {share:.0%} of these situations, weighing each by how "
            f"much its choice mattered ({samples / total:.1%} of those seen)"
        )
        rules.append(Rule(strategy, conditions, note))
    assert inquiry.name in feats
    rules.append(Rule(default, {}, f"everything else: the agent's most common choice, {STRATEGY_NAMES[default]}"))
    return Playbook(rules, name=name)


def _split_sides(
    t: Any, node: int, region: dict[str, Condition], by_index: dict[int, Any], n_obs: int
) -> list[tuple[str, Condition]]:
    """The feature a split node reads and its left and right conditions, within ``region``."""
    column, threshold = int(t.feature[node]), float(t.threshold[node])
    if column >= n_obs:  # "inquiry is X": the left branch is "not X"
        code = column - n_obs
        base = region["inquiry_type"]
        assert isinstance(base, frozenset)
        return [("inquiry_type", base - {code}), ("inquiry_type", base & {code})]
    f = by_index[column]
    cut = round(threshold, DECIMALS)
    left: Condition
    right: Condition
    if f.kind == "number":
        # the tree sends x <= threshold left; rounded up, the cut itself goes right (and rounded down, left),
        # so a value the tree saw stays on its side: 0.4998 written as 0.5 keeps a counter at exactly 0.5 on
        # the right, where the tree put it
        up = cut > threshold
        left, right = Interval(-np.inf, cut, hi_open=up), Interval(cut, np.inf, lo_open=not up)
    else:
        left = frozenset(v for v in f.values if v <= threshold)
        right = frozenset(v for v in f.values if v > threshold)
    current = region[f.name]
    return [(f.name, intersect(current, left)), (f.name, intersect(current, right))]


def _leaf_region(t: Any, leaf: int, template: Playbook) -> dict[str, Condition]:
    """The conditions on the path from the root to ``leaf`` (only the features it narrows)."""
    return _region_of(t, leaf, template.features)


def _region_of(t: Any, leaf: int, feats: dict[str, Any]) -> dict[str, Condition]:
    """:func:`_leaf_region` given the features by name."""
    by_index = {f.index: f for f in feats.values()}
    parent = {
        int(c): (n, side)
        for n in range(t.node_count)
        for side, c in enumerate((t.children_left[n], t.children_right[n]))
        if c != -1
    }
    path = []
    node = leaf
    while node in parent:
        node, side = parent[node]
        path.append((node, side))
    region = {name: full(f) for name, f in feats.items()}
    for node, side in reversed(path):
        key, condition = _split_sides(t, node, region, by_index, len(feats))[side]
        region[key] = condition
    return {k: c for k, c in region.items() if c != full(feats[k])}


def _decision_list(
    max_rules: int, x: np.ndarray, labels: np.ndarray, weights: np.ndarray, template: Playbook, name: str, seed: int
) -> Playbook | None:
    """An ordered list learned rule by rule (PART, Frank & Witten 1998): fit a small tree on the situations no
    rule takes yet, keep its leaf that agrees with the teacher on the most (weighted) situations as the next
    rule, drop what it takes, repeat; the catch-all takes the teacher's commonest choice among the rest."""
    from sklearn.tree import DecisionTreeClassifier

    from cs_env.playbook import PlaybookError

    rules: list[Rule] = []
    remaining = np.ones(len(labels), dtype=bool)
    total = float(weights.sum())
    for _ in range(max_rules - 1):
        idx = np.flatnonzero(remaining)
        if len(idx) < 2 * MIN_LEAF or len(np.unique(labels[idx])) < 2:
            break
        tree = DecisionTreeClassifier(max_leaf_nodes=PART_LEAVES, min_samples_leaf=MIN_LEAF, random_state=seed)
        tree.fit(x[idx], labels[idx], sample_weight=weights[idx])
        leaf_of = tree.apply(x[idx])
        agrees = tree.predict(x[idx]) == labels[idx]
        correct = np.bincount(leaf_of, weights=weights[idx] * agrees, minlength=tree.tree_.node_count)
        leaf = int(np.argmax(correct))
        strategy = int(tree.classes_[int(np.argmax(tree.tree_.value[leaf][0]))])
        taken = leaf_of == leaf
        share = float(correct[leaf] / max(weights[idx][taken].sum(), 1e-12))
        note = (
            f"the agent chose {STRATEGY_NAMES[strategy]} in {share:.0%} of the situations this rule takes, weighing "
            f"each by how much its choice mattered ({weights[idx][taken].sum() / total:.1%} of those seen)"
        )
        rules.append(Rule(strategy, _leaf_region(tree.tree_, leaf, template), note))
        remaining[idx[taken]] = False
    rest = labels[remaining] if remaining.any() else labels
    default = int(np.argmax(np.bincount(rest, weights=weights[remaining] if remaining.any() else weights)))
    rules.append(Rule(default, {}, f"everything else: the agent's commonest choice there, {STRATEGY_NAMES[default]}"))
    try:
        return Playbook(rules, name=name)
    except PlaybookError:  # a rule the 3-decimal thresholds left with nothing to take: not a candidate
        return None


def _grown(t: Any, splits: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The children of a best-first tree (``tree_``) as it stood after its first ``splits`` splits (all: None).

    scikit-learn's best-first builder expands the node of the largest impurity decrease next and numbers
    nodes as it creates them, so the order of the left children's numbers is the order of the splits, and
    the tree grown with ``max_leaf_nodes = k + 1`` is this tree's first ``k`` splits: one fit serves every size.
    """
    left, right = t.children_left.copy(), t.children_right.copy()
    if splits is None:
        return left, right
    internal = np.flatnonzero(left != -1)
    late = internal[np.argsort(left[internal])][max(0, splits) :]
    left[late] = right[late] = -1
    return left, right


def _uniform_subtrees(t: Any, children_left: np.ndarray, children_right: np.ndarray) -> np.ndarray:
    """Per node of a fitted tree (``tree_``): the class every leaf under it predicts, or -1 where they differ."""
    klass = np.full(t.node_count, -1, dtype=np.int64)
    for node in range(t.node_count - 1, -1, -1):  # children come after their parent in sklearn's arrays
        left, right = children_left[node], children_right[node]
        if left == -1:
            klass[node] = int(np.argmax(t.value[node][0]))
        elif klass[left] == klass[right]:
            klass[node] = klass[left]
    return klass


@dataclass
class Distilled:
    """One distillation: the playbook and what it took."""

    playbook: Playbook
    rounds: int
    situations: int
    seconds: float
    max_rules: int = 0
    rules: int = field(init=False)

    def __post_init__(self) -> None:
        self.rules = len(self.playbook.rules)


def distill(
    teacher: Any,
    max_rules: int,
    *,
    industry: str = "mixed",
    max_turns: int = 10,
    rounds: int = DAGGER_ROUNDS,
    episodes: int = DAGGER_EPISODES,
    seed: int = DISTILL_SEED,
    name: str = "playbook",
    validation: int | None = None,
) -> Distilled:
    """A playbook of at most ``max_rules`` rules imitating ``teacher`` (DAgger, see the module docstring), its
    search judging changes on ``validation`` customers (``VALIDATION_EPISODES``)."""
    from cs_env.evaluate import rollout

    started = time.perf_counter()
    template = Playbook([Rule(0)], max_turns=max_turns)

    count = VALIDATION_EPISODES if validation is None else validation
    first = VALIDATION_SEEDS + seed * count  # env seeds of their own, per distillation seed
    validate = _Validation(industry, max_turns, range(first, first + count))

    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    student: Playbook | None = None
    best: tuple[float, Playbook] | None = None
    for round_ in range(rounds + 1):
        recorder = _Teacher(teacher, student)
        rollout(recorder, industry=industry, episodes=episodes, seed=seed + round_, max_turns=max_turns)
        xs.extend(recorder.observations)
        ys.extend(recorder.labels)
        ws.extend(recorder.weights)
        obs, labels, weights = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)
        if len(np.unique(labels)) == 1:  # the teacher always says the same: one rule says it all
            rule = Rule(int(labels[0]), {}, f"the agent always chose {STRATEGY_NAMES[int(labels[0])]}")
            student = Playbook([rule], name=name, max_turns=max_turns)
            continue
        x = _columns(template.features, obs)
        score, student = _best_tree_within(max_rules, x, labels, weights, template, name, seed, validate)
        if best is None or score > best[0]:  # VIPER's choice: the round's playbook that serves customers best
            best = (score, student)
    chosen = student if best is None else best[1]
    assert chosen is not None
    if SEARCH and len(chosen.rules) > 1:
        pool = _pool(x, labels, weights, template, name, seed)
        chosen = _searched(chosen, validate, pool, max_rules)
        if SPLIT:  # then from there, with splits (see SPLIT_PASSES), its conditions as they will be written
            met = (obs, labels, weights)
            chosen = _searched(chosen.simplified(), validate, pool, max_rules, met, seed, SPLIT_PASSES)
        chosen = _annotated(chosen, obs, labels, weights)
    chosen = chosen.simplified()  # the same choices in fewer words
    situations = int(sum(len(y) for y in ys))
    return Distilled(chosen, rounds + 1, situations, time.perf_counter() - started, max_rules)


def _best_tree_within(
    max_rules: int,
    x: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    template: Playbook,
    name: str,
    seed: int,
    validate: Callable[[Playbook], float],
) -> tuple[float, Playbook]:
    """The best-scoring (``validate``) of the playbooks of at most ``max_rules`` rules that one tree gives.

    One best-first fit of up to ``LEAF_FACTOR`` x ``max_rules`` leaves; each size is a prefix of its splits
    (:func:`_grown`), its rules counted once same-strategy splits are merged and the catch-all has absorbed
    its strategy's leaves. The candidates: for each of the ``CANDIDATES`` largest rule counts within the
    budget, the largest tree that has it.
    """
    from sklearn.tree import DecisionTreeClassifier  # scikit-learn only here

    cap = LEAF_FACTOR * max(2, max_rules)
    tree = DecisionTreeClassifier(max_leaf_nodes=cap, min_samples_leaf=MIN_LEAF, random_state=seed)
    tree.fit(x, labels, sample_weight=weights)
    t = tree.tree_
    largest: dict[int, int] = {}  # rule count -> the most splits that give it
    for k in range(int(np.sum(t.children_left != -1)) + 1):
        count = _rule_count(t, *_grown(t, k))
        if count <= max_rules:
            largest[count] = k
    chosen = sorted(largest, reverse=True)[:CANDIDATES]
    candidates = [tree_to_playbook(tree, template, name, largest[c]) for c in chosen]
    if PART:
        listed = _decision_list(max_rules, x, labels, weights, template, name, seed)
        candidates += [] if listed is None else [listed]
    scored = [(validate(p), p) for p in candidates]
    return max(scored, key=lambda pair: pair[0])


def _pool(
    x: np.ndarray, labels: np.ndarray, weights: np.ndarray, template: Playbook, name: str, seed: int
) -> list[Rule]:
    """The rules (catch-alls aside) of the largest tree and PART list of up to ``POOL_RULES`` rules on the
    distillation's situations, for :func:`_searched` to put in; each once, in a fixed order."""
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier(max_leaf_nodes=LEAF_FACTOR * POOL_RULES, min_samples_leaf=MIN_LEAF, random_state=seed)
    tree.fit(x, labels, sample_weight=weights)
    t = tree.tree_
    splits = max(
        k for k in range(int(np.sum(t.children_left != -1)) + 1) if _rule_count(t, *_grown(t, k)) <= POOL_RULES
    )
    found = list(tree_to_playbook(tree, template, name, splits).rules[:-1])
    listed = _decision_list(POOL_RULES, x, labels, weights, template, name, seed)
    found += [] if listed is None else list(listed.rules[:-1])
    # and per inquiry, the leaves of a small tree on its situations alone: what the agent does differently
    # for one inquiry (escalating fraud sooner) is a rule the whole tree's budget rarely reaches
    inquiry = template.features["inquiry_type"]
    codes = np.rint(x[:, inquiry.index]).astype(np.int64)
    for code in range(len(inquiry.choices)):
        mine = codes == code
        if mine.sum() < 2 * MIN_LEAF or len(np.unique(labels[mine])) < 2:
            continue
        small = DecisionTreeClassifier(max_leaf_nodes=INQUIRY_LEAVES, min_samples_leaf=MIN_LEAF, random_state=seed)
        small.fit(x[mine], labels[mine], sample_weight=weights[mine])
        st = small.tree_
        for leaf in np.flatnonzero(st.children_left == -1):
            strategy = int(small.classes_[int(np.argmax(st.value[leaf][0]))])
            region = _leaf_region(st, int(leaf), template)
            found.append(Rule(strategy, {"inquiry_type": frozenset({code}), **region}))
    pool: list[Rule] = []
    for rule in found:
        if all(rule.strategy != r.strategy or rule.conditions != r.conditions for r in pool):
            pool.append(rule)
    return pool


#: the situations a distillation met: their observations, the teacher's choices and how much each matters
Situations = tuple[np.ndarray, np.ndarray, np.ndarray]


def _searched(
    playbook: Playbook,
    validate: Callable[[Playbook], float],
    pool: Sequence[Rule] = (),
    max_rules: int = 0,
    situations: Situations | None = None,
    seed: int = DISTILL_SEED,
    passes: int | None = None,
) -> Playbook:
    """``playbook`` improved for return rather than agreement: greedy (first improvement) local search over
    each rule's strategy, thresholds (on a grid of ``SEARCH_STEP``, within ``SEARCH_REACH``), listed values
    (one in or out at a time), the dropping of a condition, and the order of neighbouring rules, each change
    kept when ``validate`` (mean return on the validation customers) gains more than ``SEARCH_MIN_GAIN``;
    and a rule of ``pool`` in the place of any rule but the catch-all, or before it while the playbook has
    fewer than ``max_rules``. Given the distillation's ``situations``, each pass first tries splitting each
    rule where the agent's choices differ within it (:func:`_splits`): a rule for part of its situations put
    just before it (at the budget, in the place of the rule whose loss costs least), or the rule narrowed to
    that part; and, at the budget, a rule of ``pool`` before any rule, in the place of the rule it costs
    least to lose (what an in-place swap cannot do when the new rule must precede the rule it would
    replace). Until a pass changes nothing, after ``passes`` (``SEARCH_PASSES``) or ``SEARCH_EVALUATIONS``
    playbooks played. The same seed gives the same changes (a fixed order of changes, seeded trees and
    customers). Rules the changes leave unable to fire are dropped."""

    def unchecked(rules: list[Rule]) -> Playbook:
        return Playbook(rules, name=playbook.name, catalog=playbook.catalog, max_turns=playbook.max_turns, check=False)

    feats = playbook.features
    rules = list(playbook.rules)
    best = validate(unchecked(rules))

    played = 0

    def keep_if_better(trial: list[Rule]) -> bool:
        nonlocal best, rules, played
        if played >= SEARCH_EVALUATIONS:
            return False
        played += 1
        score = validate(unchecked(trial))
        if score <= best + SEARCH_MIN_GAIN:
            return False
        best, rules = score, trial
        return True

    losses: tuple[list[Rule] | None, dict[int, float]] = (None, {})

    def in_place_of_cheapest(at: int, new: Rule) -> bool:
        """At the budget: ``new`` put before rule ``at``, the rule (not ``at``) it costs least to lose taken out."""
        nonlocal losses, played
        if played >= SEARCH_EVALUATIONS:  # (the losses below would cost a playbook per rule)
            return False
        if losses[0] is not rules:  # the playbook without each rule, once per playbook kept
            losses = (rules, _losses(rules, unchecked, validate))
            played += len(rules) - 1
        cheapest = max((j for j in losses[1] if j != at), key=lambda j: (losses[1][j], -j))
        trial = [*rules[:at], new, *rules[at:]]
        return keep_if_better([r for r in trial if r is not rules[cheapest]])

    for _ in range(SEARCH_PASSES if passes is None else passes):
        changed = False
        if SPLIT and situations is not None:
            for parent, split, narrows in _splits(unchecked(rules), situations, seed):
                if played >= SEARCH_EVALUATIONS:
                    break
                at = next((i for i, r in enumerate(rules) if r is parent), None)
                if at is None or split in rules:  # the rule it splits has changed since: its data is stale
                    continue
                if narrows:
                    changed |= keep_if_better([*rules[:at], split, *rules[at + 1 :]])
                elif len(rules) < max_rules:
                    changed |= keep_if_better([*rules[:at], split, *rules[at:]])
                elif len(rules) > 2 or at == 1:  # at the budget: in the place of the rule it costs least to lose
                    changed |= in_place_of_cheapest(at, split)
        for i in range(len(rules)):
            for edit in _edits(rules[i], feats):  # each applied to the rule as it stands after the kept ones
                variant = _edited(rules[i], edit, feats)
                if variant is not None:
                    changed |= keep_if_better([*rules[:i], variant, *rules[i + 1 :]])
            if i + 2 < len(rules):  # swap with the next rule (never with the catch-all)
                changed |= keep_if_better([*rules[:i], rules[i + 1], rules[i], *rules[i + 2 :]])
        for other in pool:
            for i in range(len(rules)):
                if i < len(rules) - 1 and other not in rules:
                    changed |= keep_if_better([*rules[:i], other, *rules[i + 1 :]])
                if len(rules) < max_rules and other not in rules:
                    changed |= keep_if_better([*rules[:i], other, *rules[i:]])
                elif situations is not None and len(rules) > 2 and i < len(rules) - 1 and other not in rules:
                    # at the budget, in the second search: before rule i, in the place of the rule cheapest
                    # to lose (a rule for one inquiry may serve best early, where the rule it drops was not)
                    changed |= in_place_of_cheapest(i, other)
        if not changed:
            break
    return unchecked(rules).without_dead_rules()


def _losses(
    rules: list[Rule], unchecked: Callable[[list[Rule]], Playbook], validate: Callable[[Playbook], float]
) -> dict[int, float]:
    """For each rule but the catch-all, the validation return of the playbook without it."""
    return {j: validate(unchecked(rules[:j] + rules[j + 1 :])) for j in range(len(rules) - 1)}


def _splits(playbook: Playbook, situations: Situations, seed: int) -> list[tuple[Rule, Rule, bool]]:
    """Where the agent's choices differ within a rule, that rule split (see ``SPLIT``): for each rule of
    ``playbook``, in order, (the rule, a rule for part of its situations, whether that rule narrows it
    rather than going before it). The part: a leaf of a small tree fitted (``seed``) on the ``situations``
    the rule takes, over the agent's choices or over one strategy against the rest; so a strategy the
    agent chooses in some of a rule's situations but never most of them (an apology to the angry among
    a rule's disputes) is tried where it is likeliest."""
    from sklearn.tree import DecisionTreeClassifier

    obs, labels, weights = situations
    feats = playbook.features
    x = _columns(feats, obs)
    _, fired = playbook.decide(obs)
    found: list[tuple[Rule, Rule, bool]] = []

    def leaves(here: np.ndarray, y: np.ndarray) -> tuple[Any, np.ndarray]:
        tree = DecisionTreeClassifier(max_leaf_nodes=SPLIT_LEAVES, min_samples_leaf=MIN_LEAF, random_state=seed)
        tree.fit(x[here], y, sample_weight=weights[here])
        return tree, np.flatnonzero(tree.tree_.children_left == -1)

    def within(rule: Rule, region: dict[str, Condition]) -> dict[str, Condition] | None:
        merged = dict(rule.conditions)
        for key, c in region.items():
            merged[key] = intersect(merged[key], c) if key in merged else c
            if is_empty(merged[key]):
                return None
        return merged

    for i, rule in enumerate(playbook.rules):
        here = fired == i
        if here.sum() < 2 * MIN_LEAF:
            continue
        y, w = labels[here], weights[here]
        share = np.bincount(y, weights=w, minlength=N_STRATEGIES) / max(float(w.sum()), 1e-12)
        candidates: list[tuple[int, dict[str, Condition]]] = []
        if len(np.unique(y)) > 1:  # the agent's choices there: each leaf its commonest
            tree, ends = leaves(here, y)
            for leaf in ends:
                strategy = int(tree.classes_[int(np.argmax(tree.tree_.value[leaf][0]))])
                candidates.append((strategy, _region_of(tree.tree_, int(leaf), feats)))
        for strategy in range(N_STRATEGIES):  # one strategy against the rest: its likeliest leaf
            if strategy == rule.strategy or share[strategy] < SPLIT_SHARE:
                continue
            tree, ends = leaves(here, (y == strategy).astype(np.int64))
            if len(ends) < 2:
                continue
            likeliest = max(ends, key=lambda leaf: (_positive_share(tree, int(leaf)), -int(leaf)))
            candidates.append((strategy, _region_of(tree.tree_, int(likeliest), feats)))
        seen: list[Rule] = []
        for strategy, region in candidates:
            merged = within(rule, region)
            if merged is None or merged == rule.conditions or (strategy == rule.strategy and not rule.conditions):
                continue  # nothing narrower, or the catch-all narrowed (it must take what is left)
            split = Rule(strategy, merged)
            if all(split.strategy != r.strategy or split.conditions != r.conditions for r in seen):
                seen.append(split)
                found.append((rule, split, strategy == rule.strategy))
    return found


def _positive_share(tree: Any, leaf: int) -> float:
    """In a one-against-the-rest tree's ``leaf``, the (weighted) share of the one strategy."""
    counts = tree.tree_.value[leaf][0]
    classes = list(tree.classes_)
    return float(counts[classes.index(1)] / counts.sum()) if 1 in classes else 0.0


#: one change to one rule: ("strategy", code), ("drop", feature), ("low" | "high", feature, bound) or
#: ("toggle", feature, code)
Edit = tuple[Any, ...]


def _edits(rule: Rule, feats: dict[str, Any]) -> list[Edit]:
    """The changes :func:`_searched` tries on one rule: another strategy, a condition dropped, a bound moved
    to a grid value near it, a listed value put in or out."""
    edits: list[Edit] = [("strategy", s) for s in range(N_STRATEGIES) if s != rule.strategy]
    for name, c in rule.conditions.items():
        f = feats[name]
        edits.append(("drop", name))
        if isinstance(c, Interval):
            grid = [float(g) for g in np.round(np.arange(f.low + SEARCH_STEP, f.high, SEARCH_STEP), DECIMALS)]
            sides = (("low", c.lo, c.lo > f.low or c.lo_open), ("high", c.hi, c.hi < f.high or c.hi_open))
            for side, bound, bounded in sides:
                edits += [(side, name, g) for g in grid if bounded and g != bound and abs(g - bound) <= SEARCH_REACH]
        else:
            edits += [("toggle", name, v) for v in f.values]
    return edits


def _edited(rule: Rule, edit: Edit, feats: dict[str, Any]) -> Rule | None:
    """``rule`` changed by ``edit``, or None where it no longer applies or leaves a condition that never holds
    (or a listed feature with every value, which the "drop" edit says better)."""
    kind, name = edit[0], edit[1]
    if kind == "strategy":
        return None if name == rule.strategy else Rule(name, rule.conditions, rule.note)
    if name not in rule.conditions:
        return None
    c = rule.conditions[name]
    rest = {k: v for k, v in rule.conditions.items() if k != name}
    if kind == "drop":
        return Rule(rule.strategy, rest, rule.note)
    changed: Condition
    if kind == "toggle":
        assert isinstance(c, frozenset)
        changed = c ^ {edit[2]}
        if not changed or changed == full(feats[name]):
            return None
    else:
        assert isinstance(c, Interval)
        changed = (
            Interval(edit[2], c.hi, c.lo_open, c.hi_open)
            if kind == "low"
            else Interval(c.lo, edit[2], c.lo_open, c.hi_open)
        )
        if changed.empty:
            return None
    return Rule(rule.strategy, {**rest, name: changed}, rule.note)


def _annotated(playbook: Playbook, obs: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> Playbook:
    """``playbook`` with each rule's note saying what the agent chose in the situations it takes (of those
    distillation saw, weighted as the tree weighed them), and, where the search gave the rule another
    strategy than the agent's commonest there, that it serves the validation customers better."""
    _, fired = playbook.decide(obs)
    total = float(weights.sum())
    rules = []
    for i, rule in enumerate(playbook.rules):
        here = fired == i
        chosen = STRATEGY_NAMES[rule.strategy]
        if not here.any():
            note = f"{chosen} serves the validation customers best here (distillation never met these situations)"
        else:
            by = np.bincount(labels[here], weights=weights[here], minlength=N_STRATEGIES)
            seen = float(by.sum())
            note = (
                f"the agent chose {chosen} in {by[rule.strategy] / seen:.0%} of the situations this rule takes, "
                f"weighing each by how much its choice mattered ({seen / total:.1%} of those seen)"
            )
            common = int(np.argmax(by))
            if common != rule.strategy:
                note += (
                    f"; its commonest choice here was {STRATEGY_NAMES[common]} ({by[common] / seen:.0%}), but "
                    f"{chosen} serves the validation customers better"
                )
        if not rule.conditions:
            note = f"everything else: {note}"
        rules.append(Rule(rule.strategy, rule.conditions, note))
    return Playbook(rules, name=playbook.name, catalog=playbook.catalog, max_turns=playbook.max_turns)


def _rule_count(t: Any, children_left: np.ndarray, children_right: np.ndarray) -> int:
    """The rules :func:`tree_to_playbook` writes at most for this (grown) tree: one per region whose leaves
    agree, less those of the catch-all's strategy, plus the catch-all."""
    uniform = _uniform_subtrees(t, children_left, children_right)
    regions: list[int] = []
    stack = [0]
    while stack:
        node = stack.pop()
        if uniform[node] >= 0:
            regions.append(int(uniform[node]))
        else:
            stack += [int(children_left[node]), int(children_right[node])]
    counts = np.bincount(regions)
    return len(regions) - int(counts.max()) + 1 if counts.max() < len(regions) else 1


def tradeoff(
    teacher: Any,
    sizes: Any,
    *,
    industry: str,
    max_turns: int,
    episodes: int,
    seed: int = DISTILL_SEED,
    made: Distilled | None = None,
    validation: int | None = None,
) -> list[dict[str, Any]]:
    """For each rule budget in ``sizes``: the playbook distilled within it, measured as written (:func:`measure`)
    with its rule count and distillation time; ``made`` is reused for its own budget."""
    from cs_env.playbook import loads

    rows = []
    for size in sizes:
        reuse = made is not None and made.max_rules == size
        other = (
            made
            if reuse
            else distill(teacher, size, industry=industry, max_turns=max_turns, seed=seed, validation=validation)
        )
        assert other is not None
        row = measure(loads(other.playbook.dumps()), teacher, industry=industry, max_turns=max_turns, episodes=episodes)
        rows.append({"max_rules": size, "rules": other.rules, "seconds": other.seconds, **row})
    return rows


def measure(
    policy: Any,
    teacher: Any,
    *,
    industry: str,
    max_turns: int,
    episodes: int,
    trials: int = SCENARIO_TRIALS,
) -> dict[str, Any]:
    """% of oracle on ``episodes`` held-out customers, pass rate and pass^4 on the catalog, and agreement
    with ``teacher`` in the situations the teacher meets on those customers."""
    from cs_env.evaluate import evaluate, rollout
    from cs_env.scenarios import load_scenarios, run_scenario

    report = evaluate(policy, industry=industry, episodes=episodes, seed=HELDOUT_SEED, max_turns=max_turns)
    scenarios = [s for s in load_scenarios() if industry in ("mixed", s.industry)]
    results = [run_scenario(policy, s, trials, HELDOUT_SEED) for s in scenarios]
    n = max(1, len(results))
    out = {
        "pct_of_oracle": report.pct_of_oracle,
        "mean_return": report.overall.mean_return,
        "pass_rate": sum(r.pass_rate for r in results) / n,
        f"pass^{PASS_K}": sum(r.pass_hat_k(PASS_K) for r in results) / n,
    }
    if policy is not teacher:
        watcher = _Teacher(teacher, None)
        rollout(watcher, industry=industry, episodes=episodes, seed=HELDOUT_SEED, max_turns=max_turns)
        obs, labels = np.concatenate(watcher.observations), np.concatenate(watcher.labels)
        out["agreement"] = float(np.mean(np.asarray(policy(obs)) == labels))
    else:
        out["agreement"] = 1.0
    return out
