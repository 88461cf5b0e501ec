"""Playbook files: read, validated with errors that name the place and the choices, and played as a policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cs_env import ENV_ID
from cs_env.domain import SENTIMENT_NAMES, STRATEGY_NAMES
from cs_env.env import OBS_NAMES, CustomerSupportEnv
from cs_env.evaluate import evaluate, rollout
from cs_env.industries import default_catalog
from cs_env.playbook import PlaybookError, features, load, loads
from cs_env.policies import HeuristicPolicy
from tests.cli_helpers import run_cli_output

HEURISTIC = Path(__file__).resolve().parents[1] / "playbooks" / "heuristic.toml"
HEAD = f'format = 1\nenv = "{ENV_ID}"\n'
INQUIRIES = [i.name for i in default_catalog().inquiries]


def space_sample(n: int, seed: int = 0) -> np.ndarray:
    """Observations spread over the whole observation space (every category, every count)."""
    space = CustomerSupportEnv().observation_space
    rng = np.random.default_rng(seed)
    obs = rng.random((n, len(OBS_NAMES))) * (space.high - space.low) + space.low
    whole = [f.index for f in features().values() if f.kind != "number"]
    obs[:, whole] = np.floor(obs[:, whole] + 0.5 * rng.random((n, len(whole))))
    # counters such as ctx_offers_made move in quarters: a third of the values sit on that grid (0 included)
    on_grid = rng.random(obs.shape) < 0.3
    obs[on_grid] = np.round(obs[on_grid] * 4) / 4
    return np.clip(obs, space.low, space.high).astype(np.float32)


def test_the_heuristic_written_as_a_playbook_makes_the_heuristics_every_choice() -> None:
    playbook = load(HEURISTIC)
    obs = space_sample(50_000)
    np.testing.assert_array_equal(playbook(obs), HeuristicPolicy()(obs))
    assert playbook(obs[0]) == HeuristicPolicy()(obs[0]) and isinstance(playbook(obs[0]), int)


def test_the_heuristic_playbook_gives_exactly_the_heuristics_evaluation() -> None:
    ours = evaluate(load(HEURISTIC), episodes=400, seed=7)
    theirs = evaluate(HeuristicPolicy(), episodes=400, seed=7)
    assert ours.overall.as_dict() == theirs.overall.as_dict()
    assert {k: m.as_dict() for k, m in ours.by_inquiry.items()} == {
        k: m.as_dict() for k, m in theirs.by_inquiry.items()
    }


def test_decide_names_the_rule_that_fired_first() -> None:
    playbook = loads(
        HEAD
        + '[[rule]]\nstrategy = "escalate"\ninquiry_type = "fraud_report"\nurgency = { min = 3 }\n'
        + '[[rule]]\nstrategy = "empathetic"\nsentiment = ["angry", "frustrated"]\n'
        + '[[rule]]\nstrategy = "quick_resolution"\n'
    )
    obs = np.zeros((3, len(OBS_NAMES)), dtype=np.float32)
    f = features()
    obs[:, f["inquiry_type"].index] = INQUIRIES.index("fraud_report")
    obs[:, f["urgency"].index] = [4, 1, 1]
    obs[:, f["sentiment"].index] = [0, 0, SENTIMENT_NAMES.index("neutral")]
    actions, fired = playbook.decide(obs)
    assert [STRATEGY_NAMES[a] for a in actions] == ["escalate", "empathetic", "quick_resolution"]
    assert fired.tolist() == [0, 1, 2]
    assert playbook.describe(0) == "when inquiry_type is fraud_report and urgency ≥ 3: escalate"


def test_a_written_playbook_reads_back_to_the_same_choices() -> None:
    playbook = load(HEURISTIC)
    text = playbook.dumps()
    assert f'env = "{ENV_ID}"\nindustries = ["bfsi", "retail", "tech"]\n' in text  # what it was written for
    again = loads(text)
    assert [(r.strategy, r.conditions, r.note) for r in again.rules] == [
        (r.strategy, r.conditions, r.note) for r in playbook.rules
    ]


def test_a_not_condition_takes_every_name_but_those_and_is_written_back_as_not_when_shorter() -> None:
    playbook = loads(
        HEAD
        + '[[rule]]\nstrategy = "technical"\ninquiry_type = { not = ["fraud_report", "loan_application"] }\n'
        + '[[rule]]\nstrategy = "empathetic"\ninquiry_type = ["fraud_report", "loan_application"]\n'
        + 'sentiment = { not = ["delighted"] }\nurgency = { not = [0, 4] }\n'
        + '[[rule]]\nstrategy = "quick_resolution"\n'
    )
    assert playbook.rules[0].conditions["inquiry_type"] == frozenset(
        i for i, name in enumerate(INQUIRIES) if name not in ("fraud_report", "loan_application")
    )
    assert playbook.describe(0) == "when inquiry_type is none of fraud_report, loan_application: technical"
    assert playbook.describe(1) == (
        "when inquiry_type is fraud_report or loan_application and sentiment is not delighted and urgency ≥ 1 "
        "and ≤ 3: empathetic"
    )
    text = playbook.dumps()
    assert 'inquiry_type = { not = ["fraud_report", "loan_application"] }' in text
    assert 'inquiry_type = ["fraud_report", "loan_application"]' in text  # two kept: named as they are
    assert 'sentiment = { not = ["delighted"] }' in text
    again = loads(text)
    assert [(r.strategy, r.conditions) for r in again.rules] == [(r.strategy, r.conditions) for r in playbook.rules]
    f = features()
    obs = np.zeros((3, len(OBS_NAMES)), dtype=np.float32)
    obs[:, f["inquiry_type"].index] = [INQUIRIES.index("bug_report"), INQUIRIES.index("fraud_report"), 0]
    obs[:, f["inquiry_type"].index][2] = INQUIRIES.index("loan_application")
    obs[:, f["urgency"].index] = [0, 2, 4]
    assert [STRATEGY_NAMES[a] for a in playbook(obs)] == ["technical", "empathetic", "quick_resolution"]


T = '[[rule]]\nstrategy = "technical"\n'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '[[rule]]\nstrategy = "empathetic"\nmood = ["angry"]\n',
            [":5:", "rule 1 (mood)", "unknown feature 'mood'", "ctx_savvy_hint"],
        ),
        ('[[rule]]\nstrategy = "charm"\n', [":4:", "unknown strategy 'charm'", "quick_resolution"]),
        ("[[rule]]\nnote = 'no strategy'\n", [":3:", "no strategy", "valid strategies"]),
        (
            T + 'sentiment = ["furious"]\n',
            [":5:", "unknown sentiment 'furious'", "angry"],
        ),
        (T + "ctx_savvy_hint = { min = 0.8, max = 0.2 }\n", [":5:", "can never hold"]),
        (
            T + "ctx_savvy_hint = { min = 1.5 }\n",
            [":5:", "outside ctx_savvy_hint's range 0 to 1"],
        ),
        (T + "urgency = { min = 9 }\n", [":5:", "outside urgency's range 0 to 4"]),
        (T + "urgency = { least = 1 }\n", [":5:", "unknown bound 'least'", "min, max"]),
        ("", ["the playbook has no rule"]),
        (
            T + 'sentiment = "angry"\n',
            ["no rule covers some situations", "sentiment = frustrated", "catch-all"],
        ),
        (
            T + '[[rule]]\nstrategy = "escalate"\n',
            [":5:", "rule 2 can never fire"],
        ),
        ("[[rule]\n", ["not valid TOML", "line 3"]),
        (T + f"inquiry_type = {{ not = {INQUIRIES!r} }}\n".replace("'", '"'), [":5:", "can never hold"]),
        (
            T + 'inquiry_type = { not = ["parking_fine"] }\n',
            [":5:", "unknown inquiry_type 'parking_fine'", "fraud_report"],
        ),
        (T + "inquiry_type = { not = [] }\n", [":5:", "empty 'not' list", "drop the condition"]),
        (
            T + 'inquiry_type = { not = ["bug_report"], in = ["bug_report"] }\n',
            [":5:", "cannot be combined with", "not"],
        ),
        (T + "ctx_savvy_hint = { not = [0.5] }\n", [":5:", "'not' takes names or whole numbers", "below"]),
    ],
)
def test_a_malformed_playbook_is_refused_naming_the_line_and_the_choices(body: str, expected: list[str]) -> None:
    with pytest.raises(PlaybookError) as caught:
        loads(HEAD + body, source="team.toml")
    message = str(caught.value)
    assert message.startswith("team.toml")
    for part in expected:
        assert part in message


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (f'format = 2\nenv = "{ENV_ID}"\n', ["format = 2", "reads format = 1"]),
        ('format = 1\nenv = "cs_env/CustomerSupport-v9"\n', ["'cs_env/CustomerSupport-v9'", ENV_ID]),
        ("format = 1\n", ["no env", ENV_ID]),
        (
            HEAD + 'industries = ["bfsi", "retail", "tech", "insurance"]\n',
            [":3:", "written for the industries bfsi, retail, tech, insurance", "(insurance is not here)"],
        ),
        (
            HEAD + 'industries = ["bfsi", "retail"]\n',
            [":3:", "but this catalog has bfsi, retail, tech (tech was not in its set)", 'industries = ["bfsi"'],
        ),
        (HEAD + 'industries = "retail"\n', [":3:", "industries must be a list of industry names"]),
    ],
)
def test_a_playbook_for_another_format_env_version_or_industry_set_names_the_difference(
    head: str, expected: list[str]
) -> None:
    with pytest.raises(PlaybookError) as caught:
        loads(head + T + "", source="old.toml")
    for part in expected:
        assert part in str(caught.value)


def test_rules_that_together_cover_everything_need_no_catch_all() -> None:
    body = "".join(T + f'sentiment = "{name}"\n' for name in SENTIMENT_NAMES)
    playbook = loads(HEAD + body)
    r = rollout(playbook, episodes=200, seed=1)
    assert r.strategy_counts.sum() == r.turns.sum()  # every turn answered, none failed
    halves = T + "ctx_savvy_hint = { below = 0.5 }\n"
    with pytest.raises(PlaybookError, match=r"e\.g\. ctx_savvy_hint = 0\.5;"):  # 0.5 uncovered: the example names it
        loads(HEAD + halves + '[[rule]]\nstrategy = "educational"\nctx_savvy_hint = { above = 0.5 }\n')
    loads(HEAD + halves + '[[rule]]\nstrategy = "educational"\nctx_savvy_hint = { min = 0.5 }\n')


def test_a_file_that_is_not_there_or_not_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="cannot read"):
        load(tmp_path / "missing.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PlaybookError, match="not UTF-8"):
        load(tmp_path / "bin.toml")


# -- playbook:FILE wherever an agent goes ------------------------------------------------------------
def test_playbook_file_is_an_agent_that_says_which_rule_fired(tmp_path: Path) -> None:
    from cs_tui.agents import load_agent

    agent = load_agent(f"playbook:{HEURISTIC}", saves=tmp_path)
    obs = space_sample(500)
    np.testing.assert_array_equal(agent(obs), HeuristicPolicy()(obs))
    _, fired = agent.decide(obs)
    assert agent.kind == "playbook" and (fired >= 0).all() and fired.max() < len(agent.playbook.rules)
    assert agent.action_values(obs[0]).best == agent(obs[0])
    (tmp_path / "team.toml").write_text(HEURISTIC.read_text())  # a file name under the saves folder
    assert load_agent("playbook:team.toml", saves=tmp_path).path == tmp_path / "team.toml"


def test_the_cli_refuses_a_bad_playbook_with_its_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.cli_helpers import run_cli

    bad = tmp_path / "bad.toml"
    bad.write_text(HEAD + '[[rule]]\nstrategy = "charm"\n')
    for argv in (
        ("evaluate", f"playbook:{bad}", "--episodes", "50"),
        ("test", "--policy", f"playbook:{bad}"),
        ("demo", "--policy", f"playbook:{bad}"),
    ):
        code, err = run_cli(capsys, "--saves", str(tmp_path), *argv)
        assert code == 2, argv
        assert f"{bad}:4: rule 1 (strategy): unknown strategy 'charm'" in err and "Traceback" not in err
    code, err = run_cli(capsys, "--saves", str(tmp_path), "evaluate", "playbook:absent.toml")
    assert code == 2 and "no playbook file 'absent.toml'" in err
    code, _ = run_cli(capsys, "--saves", str(tmp_path), "demo", "--policy", f"playbook:{HEURISTIC}", "--episodes", "1")
    assert code == 0


def test_a_playbook_warm_starts_training_and_a_bad_one_is_refused_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cs_tui.cli import main
    from cs_tui.training import trainer, warm_start
    from cs_tui.training.options import TrainOptions
    from cs_tui.training.runs import Run

    bad = tmp_path / "bad.toml"
    bad.write_text(HEAD + T + 'tier = "gold"\n')
    saves = tmp_path / "saves"
    assert main(["--saves", str(saves), "train", "--warm-start", f"playbook:{bad}"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:5: rule 1 (tier): unknown tier 'gold'; valid: basic, premium, vip" in err
    assert not saves.exists() or not any(saves.iterdir())
    team = tmp_path / "team.toml"
    team.write_text(HEAD + '[[rule]]\nstrategy = "empathetic"\nsentiment = "angry"\n' + T)
    monkeypatch.setattr(warm_start, "WARM_START_EPISODES", 300)
    fast = {"eval_episodes": 100, "reference_episodes": 100, "record_seconds": 0.2, "eval_every": 2048}
    options = TrainOptions(
        algorithm="ppo", timesteps=64, saves=saves, name="warm", warm_start=f"playbook:{team}", **fast
    )
    assert trainer.train(options).status == "finished"
    record = Run(saves / "warm").meta["warm_start"]
    assert record["source"] == f"playbook:{team.resolve()}" and record["agreement"] > 0.95


# -- cs-tui playbook distill | show ---------------------------------------------------------------
cli = run_cli_output  # exit status, stdout and stderr


@pytest.fixture
def quick_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Distillations whose search for return plays a few hundred playbooks on 1,000 validation customers
    (the shipped settings play up to 10,000 on 10,000: minutes, for what these tests check)."""
    from cs_tui import distill as d

    monkeypatch.setattr(d, "SEARCH_EVALUATIONS", 300)
    monkeypatch.setattr(d, "VALIDATION_EPISODES", 1000)


def test_distilling_a_two_rule_teacher_recovers_its_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The imitation: the tree and DAgger alone find the teacher's rules (the search for return, which may
    serve customers better than a teacher this simple, is tested on its own)."""
    import json

    from cs_tui import distill as d

    monkeypatch.setattr(d, "SEARCH", False)

    teacher = tmp_path / "teacher.toml"
    teacher.write_text(HEAD + '[[rule]]\nstrategy = "empathetic"\nsentiment = ["angry", "frustrated"]\n' + T)
    out = tmp_path / "learned.toml"
    argv = ("playbook", "distill", f"playbook:{teacher}", "--out", str(out), "--max-rules", "5")
    code, shown, err = cli(capsys, "--saves", str(tmp_path), *argv, "--sizes", "2", "--episodes", "200", "--json")
    assert code == 0, err
    report = json.loads(shown)
    learned = load(out)
    assert len(learned.rules) == 2 == report["playbook"]["rules"]
    assert report["playbook"]["agreement"] == 1.0 and report["tradeoff"][0]["agreement"] == 1.0
    assert report["playbook"]["pct_of_oracle"] == pytest.approx(report["agent"]["pct_of_oracle"])
    seen: list[np.ndarray] = []

    def watch(obs: np.ndarray) -> np.ndarray:
        seen.append(obs)
        return load(teacher)(obs)

    rollout(watch, episodes=2000, seed=99)  # customers neither distillation nor its report met
    obs = np.concatenate(seen)
    np.testing.assert_array_equal(learned(obs), load(teacher)(obs))


@pytest.mark.usefixtures("quick_search")
def test_distill_writes_at_most_the_rules_asked_for_and_reports_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    out = tmp_path / "h.toml"
    argv = ("playbook", "distill", "baseline:heuristic", "--out", str(out), "--max-rules", "6", "--sizes", "3")
    code, shown, err = cli(capsys, "--saves", str(tmp_path), *argv, "--episodes", "200")
    assert code == 0, err
    assert len(load(out).rules) <= 6
    assert "baseline:heuristic" in shown and str(out) in shown and "rules vs. score" in shown
    assert out.read_text().startswith("# distilled from baseline:heuristic by: cs-tui playbook distill")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (("--max-rules", "101"), "at most 100"),
        (("--max-rules", "0"), "at least 1"),
        (("--sizes", "3,x"), "--sizes: 'x' is not a rule count from 1 to 100"),
        (("--episodes", "20001"), "at most 20,000"),
        (("--validation", "100001"), "at most 100,000"),
        (("--validation", "99"), "at least 100"),
    ],
)
def test_distill_refuses_counts_beyond_their_ceilings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], expected: str
) -> None:
    from tests.cli_helpers import run_cli

    argv = ("playbook", "distill", "baseline:heuristic", "--out", str(tmp_path / "x.toml"), *extra)
    code, err = run_cli(capsys, "--saves", str(tmp_path), *argv)
    assert code == 2 and expected in err and "Traceback" not in err
    assert not (tmp_path / "x.toml").exists()


def test_show_says_how_often_each_rule_fires_and_its_score_where_it_fires(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from tests.cli_helpers import run_cli

    code, shown, err = cli(capsys, "playbook", "show", str(HEURISTIC), "--episodes", "300", "--json")
    assert code == 0, err
    rows = json.loads(shown)["rules"]
    assert [r["number"] for r in rows] == list(range(1, 10))
    assert sum(r["turn_share"] for r in rows) == pytest.approx(1.0)
    assert rows[0]["rule"] == "when inquiry_type is fraud_report and urgency ≥ 3: escalate"
    assert rows[6]["note"] == "a simple issue: the quick fix" and rows[6]["pct_of_oracle"] > 50
    bad = tmp_path / "bad.toml"
    bad.write_text("format = 1\n")
    code, err = run_cli(capsys, "playbook", "show", str(bad))
    assert code == 2 and "no env" in err


def test_a_playbook_nested_too_deeply_is_a_clear_error_not_a_recursion_crash() -> None:
    """Playbooks are read by the one TOML reader every data file goes through (nesting bounded)."""
    with pytest.raises(PlaybookError, match="not valid TOML: nested more than"):
        loads("a = " + "[" * 100_000 + "]" * 100_000, source="deep.toml")


# -- the shipped playbook ---------------------------------------------------------------------------
SHIPPED = Path(__file__).resolve().parents[1] / "saves" / "default-playbook.toml"


def test_the_shipped_playbook_is_for_this_env_and_answers_every_situation() -> None:
    text = SHIPPED.read_text()
    first = text.splitlines()[0]
    assert first.startswith("# distilled from default by: cs-tui playbook distill default --max-rules 15 --seed ")
    assert f'\nenv = "{ENV_ID}"\n' in text
    playbook = load(SHIPPED)  # refuses another env version or industry set, and any uncovered situation
    assert 2 <= len(playbook.rules) <= 15 and not playbook.rules[-1].conditions  # ends with its catch-all
    obs = space_sample(20_000, seed=3)
    actions, fired = playbook.decide(obs)
    assert (fired >= 0).all() and len(set(actions.tolist())) >= 3  # every situation answered, not one strategy


@pytest.mark.usefixtures("quick_search")
def test_distilling_is_deterministic_given_its_seed_and_refuses_the_held_out_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.cli_helpers import run_cli

    outs = [tmp_path / "a.toml", tmp_path / "b.toml", tmp_path / "c.toml"]
    for out, seed in zip(outs, ("5", "5", "6"), strict=True):
        argv = ("playbook", "distill", "baseline:heuristic", "--out", str(out), "--max-rules", "6", "--seed", seed)
        code, _, err = cli(capsys, "--saves", str(tmp_path), *argv, "--sizes", "", "--episodes", "100")
        assert code == 0, err
    assert outs[0].read_text() == outs[1].read_text()
    assert "--seed 5\n" in outs[0].read_text().splitlines()[0] + "\n"
    assert outs[2].read_text() != outs[0].read_text()  # other customers, other thresholds
    # the search's validation customers, when not the default, are part of the command the file records
    argv = ("playbook", "distill", "baseline:heuristic", "--out", str(outs[2]), "--max-rules", "6", "--seed", "5")
    code, _, err = cli(
        capsys, "--saves", str(tmp_path), *argv, "--validation", "400", "--sizes", "", "--episodes", "100"
    )
    assert code == 0, err
    assert outs[2].read_text().splitlines()[0].endswith("--seed 5 --validation 400")
    assert len(load(outs[2]).rules) <= 6
    argv = ("playbook", "distill", "baseline:heuristic", "--out", str(tmp_path / "d.toml"), "--seed", "0")
    code, err = run_cli(capsys, "--saves", str(tmp_path), *argv)
    assert code == 2 and "--seed 0" in err and "held-out customers' seed 1" in err and "Traceback" not in err
    assert not (tmp_path / "d.toml").exists()


def test_a_tree_cut_after_k_splits_is_the_one_grown_to_k_plus_one_leaves_and_agreeing_splits_are_one_rule() -> None:
    from sklearn.tree import DecisionTreeClassifier

    from cs_env.playbook import Playbook, Rule
    from cs_tui.distill import _columns, tree_to_playbook

    template = Playbook([Rule(0)])
    obs = space_sample(6000, seed=5)
    labels = np.asarray(load(HEURISTIC)(obs))
    x = _columns(template.features, obs)
    big = DecisionTreeClassifier(max_leaf_nodes=60, min_samples_leaf=20, random_state=0).fit(x, labels)
    for k in (1, 4, 9, 25):
        small = DecisionTreeClassifier(max_leaf_nodes=k + 1, min_samples_leaf=20, random_state=0).fit(x, labels)
        assert tree_to_playbook(big, template, "p", splits=k).dumps() == tree_to_playbook(small, template, "p").dumps()
    # a split whose two sides both say "technical" is one rule: fewer rules than leaves, the same choices
    whole = tree_to_playbook(big, template, "p")
    t = big.tree_
    leaf_classes = [int(np.argmax(t.value[n][0])) for n in range(t.node_count) if t.children_left[n] == -1]
    catch_all = max(set(leaf_classes), key=leaf_classes.count)
    assert len(whole.rules) < len(leaf_classes) - leaf_classes.count(catch_all) + 1
    # written with 3 decimals, a threshold keeps every value the tree saw on its side (0.4998 as "below 0.5")
    np.testing.assert_array_equal(whole(obs), big.predict(x))


def test_simplifying_drops_only_conditions_that_change_no_choice() -> None:
    playbook = loads(
        HEAD
        + '[[rule]]\nstrategy = "empathetic"\nsentiment = "angry"\n'
        + '[[rule]]\nstrategy = "technical"\nsentiment = ["frustrated", "neutral", "satisfied", "delighted"]\n'
        + "ctx_savvy_hint = { above = 0.5 }\n"
        + '[[rule]]\nstrategy = "educational"\nsentiment = ["neutral", "satisfied"]\n'
        + '[[rule]]\nstrategy = "quick_resolution"\n'
    )
    simpler = playbook.simplified()
    # "not angry" says nothing after the rule for the angry; "neutral or satisfied" still does
    assert simpler.describe(1) == "when ctx_savvy_hint > 0.5: technical"
    assert simpler.describe(2) == "when sentiment is neutral or satisfied: educational"
    obs = space_sample(20_000, seed=4)
    np.testing.assert_array_equal(simpler(obs), playbook(obs))


def test_an_unchecked_playbook_must_end_with_a_catch_all_and_loses_only_rules_that_never_fire() -> None:
    from cs_env.playbook import Playbook, Rule

    with pytest.raises(PlaybookError, match="must end with a catch-all"):
        Playbook([Rule(0, {"sentiment": frozenset({0})})], check=False)
    rules = [
        Rule(STRATEGY_NAMES.index("empathetic"), {"sentiment": frozenset({0, 1})}),
        Rule(STRATEGY_NAMES.index("escalate"), {"sentiment": frozenset({1})}),  # taken by the rule above
        Rule(STRATEGY_NAMES.index("technical")),
    ]
    with pytest.raises(PlaybookError, match="rule 2 can never fire"):
        Playbook(rules)
    unchecked = Playbook(rules, check=False)
    alive = unchecked.without_dead_rules()
    assert [r.strategy for r in alive.rules] == [rules[0].strategy, rules[2].strategy]
    obs = space_sample(5000, seed=8)
    np.testing.assert_array_equal(alive(obs), unchecked(obs))


def test_the_search_after_the_tree_raises_the_validation_return_and_says_where_it_overrode_the_agent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cs_env.playbook import Playbook, Rule
    from cs_tui import distill as d

    monkeypatch.setattr(d, "SEARCH_PASSES", 1)
    heuristic = load(HEURISTIC)
    upsell = STRATEGY_NAMES.index("upsell")  # a catch-all no one would write: offers to everyone left
    spoiled = Playbook([*heuristic.rules[:-1], Rule(upsell)])

    def validate(playbook: Playbook) -> float:
        return float(rollout(playbook, episodes=500, seed=5).returns.mean())

    searched = d._searched(spoiled, validate)
    assert validate(searched) > validate(spoiled) + 0.05  # a better catch-all (at least) was found
    again = loads(searched.dumps())  # a playbook file like any other: checked, every situation covered
    assert again.dumps() == searched.dumps() == d._searched(spoiled, validate).dumps()  # deterministic
    # the notes say what the teacher chose where each rule fires, and where the search overrode it
    obs = space_sample(5000, seed=9)
    teacher = np.asarray(heuristic(obs))
    noted = d._annotated(spoiled, obs, teacher, np.ones(len(obs)))
    assert noted.rules[-1].note.startswith("everything else: the agent chose upsell in 0% of the situations")
    assert "but upsell serves the validation customers better" in noted.rules[-1].note
    assert "the agent chose escalate in 100%" in noted.rules[0].note and "but" not in noted.rules[0].note
