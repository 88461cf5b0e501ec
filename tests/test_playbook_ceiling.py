"""The imitation ceiling (benchmarks/playbook_ceiling.py): its students learn the teacher they are shown.

The benchmark's figures say how close each kind of student comes to the agent by imitation; they mean that
only if the DAgger loop feeds every student the teacher's choices on the situations it reaches, with the
weights, whatever the model (a pipeline takes its weights by step name). A rule-list teacher, which a tree
can copy exactly, must be copied almost exactly.
"""

from __future__ import annotations

import numpy as np

from cs_env.evaluate import rollout
from cs_env.playbook import features, load
from tests.benchmark_helpers import ROOT, load_benchmark


def test_each_kind_of_student_learns_a_rule_list_teacher_on_the_situations_it_reaches() -> None:
    from cs_tui.distill import _Teacher

    ceiling = load_benchmark("playbook_ceiling")
    teacher = load(ROOT / "playbooks" / "heuristic.toml")
    kinds = ceiling.makers([200], terms=40)
    assert list(kinds) == [
        "tree, 200 leaves",
        "linear score per strategy",
        "scorecard, 40 one-threshold terms per strategy",
        "boosted small trees",
    ]
    agreement = {}
    for name in ("tree, 200 leaves", "linear score per strategy"):
        student = ceiling.imitate(teacher, kinds[name], features(), rounds=3, episodes=1000)
        watch = _Teacher(teacher, student)  # the student plays; what would the teacher have done?
        rollout(watch, episodes=400, seed=99)
        obs, labels = np.concatenate(watch.observations), np.concatenate(watch.labels)
        agreement[name] = float(np.mean(student(obs) == labels))
    assert agreement["tree, 200 leaves"] >= 0.95  # thresholds on the same features: copied nearly exactly
    assert 0.5 < agreement["linear score per strategy"] < agreement["tree, 200 leaves"]
