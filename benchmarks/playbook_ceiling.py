"""How far can imitating the agent go, by kind of student? Trees of many sizes, a linear score, boosted trees.

A playbook is an ordered list of rules, each a few thresholds on the named features: a decision tree's
leaves. Issue 27 asks for at most 15 of them within 2 points of the agent's % of oracle. This benchmark
asks what any student of a given kind reaches by imitation alone, on the same features the playbook reads
(the observation, and one yes/no column per inquiry): DAgger with the agent as teacher, as the
distillation does (``--rounds`` rounds of ``--episodes`` conversations, the first played by the agent, each
further one by the student fitted so far; each situation weighing as much as the agent's choice matters,
``cs_tui.distill``'s weights), for each student on its own:

- trees of ``--leaves`` leaves (scikit-learn's CART; a tree of n leaves is at most n rules);
- a linear score per strategy (multinomial logistic regression on standardised features): every cue
  weighed against every other, the highest score wins;
- a scorecard: points per strategy, each term one threshold on one feature (boosted stumps, ``--terms``
  rounds of one term per strategy), the highest total wins: what a team might write instead of rules;
- boosted small trees (scikit-learn's HistGradientBoostingClassifier): many thresholds, added up.

Each student's last round is scored on ``--heldout`` held-out customers (seed 1, the distillation's
figures' customers), with the agent and ``--playbook`` (the shipped one) beside it, in % of oracle.

    python benchmarks/playbook_ceiling.py [--agent default] [--playbook saves/default-playbook.toml]
        [--leaves 15,40,100,300,1000] [--terms 50] [--rounds 4] [--episodes 4000] [--heldout 10000]

Takes about 5 minutes here (the oracle's rollouts on the held-out customers are a minute of it).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from cs_env.evaluate import MAX_EPISODES, evaluate, rollout
from cs_env.playbook import features as playbook_features
from cs_tui.commands.agent_loading import load_agent_or_report
from cs_tui.commands.arguments import count_up_to
from cs_tui.distill import HELDOUT_SEED, _columns, _Teacher

#: the imitation rounds' customers: apart from the held-out ones and from the distillation's (11 onward)
TRAIN_SEED = 100
#: the most leaves a tree may have, terms a scorecard and DAgger rounds: each bounds a fit's time and memory
MAX_LEAVES, MAX_TERMS, MAX_ROUNDS = 20_000, 1_000, 20
MEMORY = "every conversation is kept in memory"


def leaf_counts(text: str) -> list[int]:
    """``--leaves``: tree sizes, comma-separated, each from 2 to ``MAX_LEAVES``."""
    one = count_up_to(2, MAX_LEAVES, "a tree's fit grows with its leaves")
    try:
        return [one(part) for part in text.split(",") if part.strip()]
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"a tree size (of the comma-separated list): {exc}") from None


class Student:
    """A fitted scikit-learn model as a policy over the playbook's features."""

    def __init__(self, model: Any, features: dict[str, Any]) -> None:
        self.model, self.features = model, features

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(_columns(self.features, np.asarray(obs, dtype=np.float64))))


def makers(leaves: list[int], terms: int) -> dict[str, Callable[[], Any]]:
    """Each student kind by name, as a function giving a fresh, unfitted model."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    def tree(n: int) -> Callable[[], Any]:
        return lambda: DecisionTreeClassifier(max_leaf_nodes=n, min_samples_leaf=10, random_state=0)

    kinds = {f"tree, {n:,} leaves": tree(n) for n in leaves}
    kinds["linear score per strategy"] = lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    kinds[f"scorecard, {terms} one-threshold terms per strategy"] = lambda: HistGradientBoostingClassifier(
        max_iter=terms, max_leaf_nodes=2, learning_rate=0.3, random_state=0
    )
    kinds["boosted small trees"] = lambda: HistGradientBoostingClassifier(max_iter=200, random_state=0)
    return kinds


def imitate(teacher: Any, make: Callable[[], Any], features: dict[str, Any], rounds: int, episodes: int) -> Student:
    """DAgger: the student fitted on every situation met so far, each round played by the last student."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    student: Student | None = None
    for round_ in range(rounds):
        watch = _Teacher(teacher, student)
        rollout(watch, industry="mixed", episodes=episodes, seed=TRAIN_SEED + round_)
        xs += watch.observations
        ys += watch.labels
        ws += watch.weights
        model = make()
        x, y, w = _columns(features, np.concatenate(xs)), np.concatenate(ys), np.concatenate(ws)
        if hasattr(model, "steps"):  # a pipeline: the weights go to its last step
            model.fit(x, y, **{f"{model.steps[-1][0]}__sample_weight": w})
        else:
            model.fit(x, y, sample_weight=w)
        student = Student(model, features)
    assert student is not None
    return student


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="default")
    parser.add_argument("--playbook", default="saves/default-playbook.toml")
    parser.add_argument("--leaves", type=leaf_counts, default=[15, 40, 100, 300, 1000])
    parser.add_argument("--terms", type=count_up_to(1, MAX_TERMS, "one boosting round per term"), default=50)
    parser.add_argument("--rounds", type=count_up_to(1, MAX_ROUNDS, "each round adds its conversations"), default=4)
    parser.add_argument("--episodes", type=count_up_to(1, MAX_EPISODES, MEMORY), default=4000)
    parser.add_argument("--heldout", type=count_up_to(2, MAX_EPISODES, MEMORY), default=10_000)
    args = parser.parse_args()
    teacher = load_agent_or_report("playbook_ceiling.py", args.agent, industry="mixed", saves=None, seed=0)
    shipped = load_agent_or_report(
        "playbook_ceiling.py", f"playbook:{args.playbook}", industry="mixed", saves=None, seed=0
    )
    if teacher is None or shipped is None:  # the reason is printed
        raise SystemExit(2)
    features = playbook_features()

    def score(policy: Any) -> str:
        report = evaluate(policy, industry="mixed", episodes=args.heldout, seed=HELDOUT_SEED)
        return f"{report.overall.mean_return:.3f} | {report.pct_of_oracle:.1f}"

    print(f"mixed, {args.heldout:,} held-out customers (seed {HELDOUT_SEED}); ", end="")
    print(f"DAgger {args.rounds} x {args.episodes:,} conversations\n")
    print("| policy | mean return | % of oracle | seconds |")
    print("|---|---|---|---|")
    print(f"| the agent ({args.agent}) | {score(teacher)} | - |", flush=True)
    print(f"| the shipped playbook ({args.playbook}) | {score(shipped)} | - |", flush=True)
    for name, make in makers(args.leaves, args.terms).items():
        started = time.perf_counter()
        student = imitate(teacher, make, features, args.rounds, args.episodes)
        seconds = time.perf_counter() - started
        print(f"| {name} | {score(student)} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
