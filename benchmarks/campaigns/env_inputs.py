"""Campaign 6, the env: wrong reset options, actions and seeds; industry and scenario files with bad numbers.

Every value is classified by the documented contract first (what it should mean, or that it is invalid).
An invalid value must raise a ``ValueError`` naming the key (or the action / the seed); a valid one must
give exactly the trajectory of its plain Python equivalent (``np.int64(3)`` plays as ``3``). A mutated
industry or scenario file must be refused naming the file (and the key, when the file is valid TOML); one
that loads must still give finite observations inside the space and rewards inside the documented range.
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import threading
import tomllib
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import cs_env
from cs_env.domain import SENTIMENT_NAMES, TIER_NAMES
from cs_env.env import CustomerSupportEnv
from cs_env.reward import STEP_REWARD_BOUNDS
from cs_env.vector import CustomerSupportVectorEnv

INVALID = object()  # the classification of a value the contract refuses
TRAITS = ("complexity", "savvy", "openness", "patience")
OPTION_KEYS = ("inquiry", "tier", "sentiment", "urgency", "needs_specialist", *TRAITS)
# the env's own bounds (v1: [-3.0, 3.5]): a copy of v0's [-0.3, 3.5] failed every accepted file whose
# conversation lost satisfaction
STEP_REWARD = STEP_REWARD_BOUNDS


def candidates(rng: random.Random) -> list[Any]:
    """Values of every wrong (and some right) type and range."""
    ints = [-1, 0, 1, 2, 3, 4, 5, 7, 8, 2**31, 2**63, 2**70, -(2**70)]
    floats = [0.0, 0.5, 1.0, 1.5, -0.1, math.nan, math.inf, -math.inf, 1e308, 5e-324, 2.0]
    values: list[Any] = [*ints, *floats, True, False, np.True_, np.False_, None, "", "1", "3", "x" * 1000]
    values += ["angry", "vip", "basic", "delighted", "fraud_report", "shipping_issue", "account_balance"]
    values += [[], [1], {}, (1,), 1 + 0j, b"1"]
    for dtype in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64):
        values.append(dtype(rng.choice([0, 1, 2, 3, 7, 9, 127])))
    for ftype in (np.float16, np.float32, np.float64):
        values.append(ftype(rng.choice([0.0, 0.25, 1.0, 3.0, -0.5, math.nan, math.inf])))
    values += [np.array(3), np.array([3]), np.array([1, 2]), np.array(0.5), np.array([[1]]), np.array(True)]
    values += [np.array([3], dtype=np.uint8), np.array(["3"])]
    return values


def is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _is_real(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float | np.floating)) and not isinstance(value, bool | np.bool_)


def expected_action(value: Any) -> Any:
    """The README: an integer strategy 0-7 (numpy integers, a one-element integer array); anything else refused."""
    if isinstance(value, np.ndarray):
        if value.size != 1 or value.dtype.kind not in "iu":
            return INVALID
        value = value.reshape(()).item()
    return int(value) if is_int(value) and 0 <= int(value) < 8 else INVALID


def expected_option(key: str, value: Any, inquiries: list[str]) -> Any:
    """The documented meaning of one ``reset(options=...)`` value, or INVALID."""
    if key == "inquiry":
        return value if isinstance(value, str) and value in inquiries else INVALID
    if key in ("tier", "sentiment", "urgency"):
        names = {"tier": TIER_NAMES, "sentiment": SENTIMENT_NAMES, "urgency": ("0", "1", "2", "3", "4")}[key]
        if isinstance(value, str):
            return names.index(value) if value in names else INVALID
        return int(value) if is_int(value) and 0 <= int(value) < len(names) else INVALID
    if key == "needs_specialist":
        return bool(value) if isinstance(value, bool | np.bool_) else INVALID
    if key in TRAITS:  # a number in [0, 1]: numpy's float and integer types are numbers too
        return float(value) if _is_real(value) and 0.0 <= float(value) <= 1.0 else INVALID
    return INVALID


def _canonical_option(key: str, code: Any) -> Any:
    """The plain Python value that means what ``code`` means."""
    if key == "tier":
        return TIER_NAMES[code]
    if key == "sentiment":
        return SENTIMENT_NAMES[code]
    return code


def _rollout(env: Any, seed: int, options: dict[str, Any] | None, actions: list[Any]) -> list[Any]:
    obs, info = env.reset(seed=seed, options=options)
    steps: list[Any] = [obs.tolist(), sorted((k, repr(v)) for k, v in info.items())]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        steps.append((obs.tolist(), float(reward), terminated, truncated, repr(sorted(info.items()))))
        if terminated or truncated:
            break
    return steps


def _refusal_problem(exc: BaseException, names: list[str]) -> str | None:
    """None if ``exc`` is a ValueError whose message names one of ``names``."""
    if not isinstance(exc, ValueError):
        return f"{type(exc).__name__} instead of ValueError: {exc}"
    if not any(name in str(exc) for name in names):
        return f"the error does not name {' or '.join(names)}: {exc}"
    return None


def options_trial(rng: random.Random) -> str | None:
    industry = rng.choice(["mixed", "bfsi", "retail", "tech"])
    env = CustomerSupportEnv(industry)
    inquiries = [i.name for i in env.catalog.inquiries if industry == "mixed" or i.industry == industry]
    pool = candidates(rng)
    keys = rng.sample([*OPTION_KEYS, "unknown_key"], rng.randint(1, 3))
    options = {k: rng.choice(pool) for k in keys}
    expected = {k: expected_option(k, v, inquiries) for k, v in options.items()}
    bad = [k for k, v in expected.items() if v is INVALID]
    seed = rng.randrange(2**32)
    actions = [rng.randrange(8) for _ in range(10)]
    gym_env = gym.make("cs_env/CustomerSupport-v1", industry=industry, disable_env_checker=True)
    try:
        got = _rollout(gym_env, seed, options, actions)
    except Exception as exc:
        if not bad:
            return f"valid options {options!r} refused: {type(exc).__name__}: {exc}"
        return _refusal_problem(exc, bad)
    if bad:
        return f"options {options!r} accepted, but {', '.join(bad)} should be refused"
    plain = {k: _canonical_option(k, v) for k, v in expected.items()}
    if got != _rollout(CustomerSupportEnv(industry), seed, plain, actions):
        return f"options {options!r} gave another trajectory than {plain!r}"
    return None


def action_trial(rng: random.Random) -> str | None:
    value = rng.choice(candidates(rng))
    expected = expected_action(value)
    seed = rng.randrange(2**32)
    before = [rng.randrange(8) for _ in range(rng.randint(0, 2))]
    env = CustomerSupportEnv()
    env.reset(seed=seed)
    played = []
    for a in before:
        _, _, terminated, truncated, _ = env.step(a)
        played.append(a)
        if terminated or truncated:
            env.reset(seed=seed)
            played = []
            break
    try:
        got = env.step(value)
    except Exception as exc:
        if expected is not INVALID:
            return f"valid action {value!r} refused: {type(exc).__name__}: {exc}"
        return _refusal_problem(exc, ["action"])
    if expected is INVALID:
        return f"action {value!r} ({type(value).__name__}) accepted"
    twin = CustomerSupportEnv()
    twin.reset(seed=seed)
    for a in played:
        twin.step(a)
    want = twin.step(expected)
    if repr((got[0].tolist(), *got[1:])) != repr((want[0].tolist(), *want[1:])):
        return f"action {value!r} played unlike {expected}"
    return None


def expected_seed(value: Any, *, in_list: bool) -> Any:
    """One seed: None or a non-negative int. Alone, Gymnasium's rule (a Python int, bools included); in the
    batched env's list, Python and numpy integers but no bools."""
    if value is None and not in_list:
        return None
    if in_list:
        ok = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    else:
        ok = isinstance(value, int)
    return int(value) if ok and int(value) >= 0 else INVALID


def seed_trial(rng: random.Random) -> str | None:
    pool = [v for v in candidates(rng) if not isinstance(v, np.ndarray | list | tuple | dict)]
    n = rng.randint(1, 3)
    if rng.random() < 0.4:  # one seed for the whole batch, as Gymnasium's reset takes it
        seed: Any = rng.choice(pool)
        expected = expected_seed(seed, in_list=False)
        env: Any = CustomerSupportEnv() if rng.random() < 0.5 else CustomerSupportVectorEnv(n)
        try:
            env.reset(seed=seed)
        except (ValueError, gym.error.Error) as exc:  # Gymnasium's own seeding raises its Error
            if expected is not INVALID:
                return f"valid seed {seed!r} refused: {exc}"
            return None if "seed" in str(exc).lower() else f"the error does not name the seed: {exc}"
        except Exception as exc:
            return f"seed {seed!r}: {type(exc).__name__} instead of ValueError: {exc}"
        return f"seed {seed!r} accepted by {type(env).__name__}" if expected is INVALID else None
    seeds = [rng.choice(pool) if rng.random() < 0.5 else rng.randrange(1000) for _ in range(n)]
    wanted = [expected_seed(s, in_list=True) for s in seeds]
    vec = CustomerSupportVectorEnv(n)
    try:
        obs, _ = vec.reset(seed=seeds)
    except (ValueError, gym.error.Error) as exc:
        if all(w is not INVALID for w in wanted):
            return f"valid seeds {seeds!r} refused: {exc}"
        return None if "seed" in str(exc).lower() else f"the error does not name the seed: {exc}"
    except Exception as exc:
        return f"seeds {seeds!r}: {type(exc).__name__} instead of ValueError: {exc}"
    if any(w is INVALID for w in wanted):
        return f"seeds {seeds!r} accepted by the batched env"
    for i, s in enumerate(wanted):  # env i starts with the customer the single env would
        single, _ = CustomerSupportEnv().reset(seed=s)
        if not np.allclose(obs[i], single, atol=1e-6):
            return f"seeds {seeds!r}: env {i} does not start as CustomerSupportEnv().reset(seed={s})"
    return None


def vector_action_trial(rng: random.Random) -> str | None:
    n = rng.randint(1, 4)
    pool = candidates(rng)
    shape = rng.choice(["list", "array", "scalar", "wrong_shape"])
    if shape == "scalar":
        actions: Any = rng.choice(pool)
    elif shape == "wrong_shape":
        actions = np.zeros((n + rng.choice([-1, 1]) if n > 1 else 2,), dtype=np.int64)
    else:
        entries = [rng.choice(pool) if rng.random() < 0.4 else rng.randrange(8) for _ in range(n)]
        actions = entries if shape == "list" else _try_array(entries)
    try:
        a = np.asarray(actions)
        ok = a.shape == (n,) and a.dtype.kind in "iu" and bool(((a >= 0) & (a < 8)).all())
    except Exception:
        ok = False
    seed = rng.randrange(2**32)
    vec = CustomerSupportVectorEnv(n)
    vec.reset(seed=seed)
    try:
        got = vec.step(actions)
    except Exception as exc:
        if ok:
            return f"valid batched actions {actions!r} refused: {exc}"
        return _refusal_problem(exc, ["action"])
    if not ok:
        return f"batched actions {actions!r} accepted"
    twin = CustomerSupportVectorEnv(n)
    twin.reset(seed=seed)
    want = twin.step(np.asarray(actions, dtype=np.int64))
    if not all(np.array_equal(g, w) for g, w in zip(got[:4], want[:4], strict=True)):
        return f"batched actions {actions!r} played unlike their int64 array"
    return None


def _try_array(entries: list[Any]) -> Any:
    try:
        return np.array(entries)
    except Exception:
        return entries


# -- data files -----------------------------------------------------------------------------

ASSIGNMENT = re.compile(r'(?P<key>[A-Za-z_]+) = (?P<value>-?[0-9][0-9_.eE+-]*|\[[^\]\[]*\]|"[^"]*"|true|false)')
HOSTILE = ["nan", "inf", "-inf", "+nan", "1e400", "1e308", "-1e308", "1e-320", "18446744073709551616", "-1",
           '"text"', "true", "[]", "{}", "[nan, nan, nan, nan, nan]", "[1e308, 0, 0, 0, 0]", "0x7fffffff",
           "1" + "0" * 400, "-1" + "0" * 400, "[1" + "0" * 400 + ", 0, 0, 0, 0]"]  # fmt: skip
#: issue 30: whole files that once gave a traceback (nesting past the recursion limit) or hung every
#: command (a FIFO named *.toml): each must be a ValueError naming the file, at once
FILE_SWAPS = ("deep", "nested", "fifo")
FILE_SWAP_CHANCE = 0.2
CEILING = 60.0  # seconds a load may take before it counts as hung (a FIFO read blocks forever)


def mutate_toml(text: str, rng: random.Random) -> tuple[str, str]:
    """One assignment given a hostile value, or removed; the new text and the key touched ("outer|inner"
    inside an inline table: naming either names the problem)."""
    matches = list(ASSIGNMENT.finditer(text))
    m = rng.choice(matches)
    line_start = text.rfind("\n", 0, m.start()) + 1
    outer = re.match(r"\s*([A-Za-z_]+) =", text[line_start:])  # an inline table's own key (tier_shares)
    key = f"{outer[1]}|{m['key']}" if outer and outer[1] != m["key"] else m["key"]
    if rng.random() < 0.25:  # a missing key (with its comma, inside an inline table)
        end = m.end() + (1 if text[m.end() : m.end() + 1] == "," else 0)
        return text[: m.start()] + text[end:], key
    return text[: m.start("value")] + rng.choice(HOSTILE) + text[m.end("value") :], key


def data_file_trial(rng: random.Random, workdir: Path, kind: str) -> str | None:
    source = Path(cs_env.__file__).parent / kind
    folder = workdir / kind
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    files = sorted(p for p in folder.glob("*.toml") if p.name != "thresholds.toml")
    target = rng.choice(files)
    swap = rng.choice(FILE_SWAPS) if rng.random() < FILE_SWAP_CHANCE else None
    if swap is not None:
        target = folder / f"zz_{swap}.toml"  # a new file among the others, named as a data file
        if swap == "fifo":
            os.mkfifo(target)
        else:
            depth = 100_000 if swap == "deep" else 40  # past the recursion limit; past our nesting limit
            target.write_text("a = " + "[" * depth + "]" * depth + "\n")
        text, key, valid_toml = "", swap, False
    else:
        text, key = mutate_toml(target.read_text(), rng)
        target.write_text(text)
        try:
            valid_toml = isinstance(tomllib.loads(text), dict)
        except tomllib.TOMLDecodeError:
            valid_toml = False
    from cs_env.industries import load_catalog
    from cs_env.scenarios import load_scenarios

    try:
        loaded = _within_ceiling(lambda: load_catalog(folder) if kind == "industries" else load_scenarios(folder))
    except TimeoutError:
        if swap == "fifo":  # let the blocked reader go, so the thread ends
            os.close(os.open(target, os.O_RDWR | os.O_NONBLOCK))
        return f"{target.name} ({key}): still loading after {CEILING:.0f} s"
    except Exception as exc:
        if not isinstance(exc, ValueError):
            return f"{target.name} ({key}): {type(exc).__name__} instead of ValueError: {exc}"
        if target.name not in str(exc):
            return f"the error does not name {target.name}: {exc}"
        if (
            valid_toml
            and not any(k in str(exc) for k in key.split("|"))
            and "sum" not in str(exc)
            and "gap" not in str(exc)
        ):
            return f"the error does not name the key {key!r}: {exc}"
        return None
    if swap is not None:
        return f"{target.name} ({swap}) accepted"
    # accepted: the file must still give sane conversations (no NaN or infinity slipped through)
    if kind == "industries":
        envs = [CustomerSupportEnv(name, catalog=loaded) for name in ["mixed", *(i.name for i in loaded.industries)]]
        runs = [(env, None) for env in envs]
    else:
        runs = [(CustomerSupportEnv(s.industry, max_turns=s.max_turns), s.options) for s in loaded]
    for env, options in runs:
        for episode in range(3):
            obs, _ = env.reset(seed=episode, options=options)
            done = False
            while not done:
                if not env.observation_space.contains(obs) or not np.isfinite(obs).all():
                    return f"{target.name} ({key}) accepted, and the env observed {obs}"
                obs, reward, terminated, truncated, _ = env.step(rng.randrange(8))
                if not STEP_REWARD[0] - 1e-9 <= float(reward) <= STEP_REWARD[1] + 1e-9:
                    return f"{target.name} ({key}) accepted, and a step paid {reward}"
                done = terminated or truncated
    return None


def _within_ceiling(call: Any) -> Any:
    """``call()`` in a thread: its result or exception, or ``TimeoutError`` after :data:`CEILING`."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed back to the caller
            outcome.append((False, exc))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(CEILING)
    if not outcome:
        raise TimeoutError
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


TRIALS = (options_trial, action_trial, seed_trial, vector_action_trial)


def trial(seed: int, workdir: Path) -> str | None:
    """One env case: 25 wrong inputs of each kind, and one mutated industry and scenario file."""
    rng = random.Random(seed)
    for case in range(25):
        for kind in TRIALS:
            problem = kind(rng)
            if problem:
                return f"{kind.__name__} #{case}: {problem}"
    for kind in ("industries", "scenarios"):
        problem = data_file_trial(rng, workdir / str(seed), kind)
        if problem:
            return f"{kind} file: {problem}"
    return None
