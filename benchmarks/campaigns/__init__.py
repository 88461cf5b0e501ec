"""The torture campaigns of ``benchmarks/torture.py``: one module per promise, each a seeded trial function.

A campaign is ``trial(seed, workdir) -> None`` (the promise held) or a string (what broke). Trial *i* of
a campaign run with ``--seed S`` uses seed ``S + i``, so ``--seed S+i --count 1`` replays one case.
"""
