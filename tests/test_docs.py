"""The documentation stays true: links resolve, shown commands parse, the observation table is the env's.

What a reader of README.md, CHANGELOG.md and docs/*.md relies on: every relative link opens a file
(and the heading its ``#anchor`` names, by GitHub's slug rule); every ``cs-tui …`` line in a
``sh``/``bash``/``console`` block is accepted by the real argparse parser of its command (parsed, never
run); ``--help`` of every command the docs name exits 0; every repository path written as inline code
exists; the README stays a front door (at most 200 lines); and the observation tables (docs and the env's
docstring) give the env's own names and ranges. Usage synopses (with ``[optional]`` parts and
placeholders) go in ``text`` blocks, which are not parsed.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cs_env import playbook
from cs_env.env import DEFAULT_MAX_TURNS, OBS_NAMES, CustomerSupportEnv, observation_space
from cs_env.industries import default_catalog
from cs_env.reward import EPISODE_RETURN_BOUNDS, STEP_REWARD_BOUNDS
from cs_env.scenarios import Criterion, load_scenarios
from cs_tui import cli

ROOT = Path(__file__).resolve().parent.parent
MAX_README_LINES = 200
COMMAND_FENCES = ("sh", "bash", "console", "shell")
#: top-level folders whose files the docs name as inline code (``cs_env/turn.py``)
REPO_FOLDERS = ("cs_env", "cs_tui", "benchmarks", "tests", "examples", "playbooks", "populations", "docs")


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md, CHANGELOG.md and every page under docs/."""
    return [root / "README.md", root / "CHANGELOG.md", *sorted((root / "docs").rglob("*.md"))]


# --- reading Markdown ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A fenced code block: its info string, the line of its first content line, its lines."""

    lang: str
    first_line: int
    lines: tuple[str, ...]


def split_fences(text: str) -> tuple[list[tuple[int, str]], list[Block]]:
    """The lines outside code fences (numbered from 1) and the fenced blocks."""
    prose: list[tuple[int, str]] = []
    blocks: list[Block] = []
    fence: str | None = None
    lang, start = "", 0
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if fence is None:
            match = re.match(r"(`{3,}|~{3,})\s*([\w+-]*)", stripped)
            if match:
                fence, lang, start, body = match.group(1), match.group(2).lower(), number + 1, []
            else:
                prose.append((number, line))
        elif stripped.startswith(fence) and not stripped.strip(fence[0]):
            blocks.append(Block(lang, start, tuple(body)))
            fence = None
        else:
            body.append(line)
    return prose, blocks


def heading_text(markdown: str) -> str:
    """A heading as GitHub renders it to text: links keep their words, code and emphasis marks go."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    return re.sub(r"[`*]", "", text).strip()


def github_slug(text: str) -> str:
    """GitHub's anchor for a heading's text: lower case, punctuation dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file (repeated headings get -1, -2, … as on GitHub)."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for _, line in prose:
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = github_slug(heading_text(match.group(1)))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def without_inline_code(line: str) -> str:
    return re.sub(r"`[^`]*`", "", line)


def links(path: Path) -> Iterator[tuple[int, str]]:
    """Every Markdown link and image target outside code, with its line."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    for number, line in prose:
        for match in re.finditer(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", without_inline_code(line)):
            yield number, match.group(1)


def link_problem(path: Path, target: str) -> str | None:
    """Why a link from ``path`` does not resolve, or None when it does (or leaves the repository)."""
    if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # https:, mailto:, …: not ours to check
        return None
    file_part, _, anchor = target.partition("#")
    linked = (path.parent / file_part).resolve() if file_part else path
    if not linked.exists():
        return f"{target}: no file {linked.relative_to(ROOT) if linked.is_relative_to(ROOT) else linked}"
    if anchor and linked.suffix == ".md" and anchor not in anchors(linked):
        return f"{target}: no heading with the anchor #{anchor} in {linked.name}"
    return None


def shown_commands(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Each ``cs-tui …`` command in a shell block (a prompt such as ``hostA$`` and comments dropped), as argv."""
    _, blocks = split_fences(path.read_text(encoding="utf-8"))
    for block in blocks:
        if block.lang not in COMMAND_FENCES:
            continue
        pending, start = "", 0
        for offset, line in enumerate(block.lines):
            if not pending:
                start = block.first_line + offset
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            command, pending = pending + line, ""
            command = re.sub(r"^\s*(?:\S*\$\s+)?", "", command)
            if command.startswith("cs-tui ") or command == "cs-tui":
                yield start, shlex.split(command, comments=True)[1:]


def inline_paths(path: Path) -> Iterator[tuple[int, str]]:
    """Repository paths written as inline code (``cs_env/turn.py``, ``cs_env/env.py::Class``); globs are left out."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    for number, line in prose:
        for code in re.findall(r"`([^`\s]+)`", line):
            name = code.split("::")[0]
            # a file has a suffix, a folder a trailing slash (an env id such as cs_env/CustomerSupport-v1 has neither)
            is_path = "." in name.rsplit("/", 1)[-1] or name.endswith("/")
            if name.split("/")[0] in REPO_FOLDERS and "/" in name and is_path and not re.search(r"[*{}<>\[\]]", name):
                yield number, name.rstrip("/")


# --- the CLI ---------------------------------------------------------------------------------------------


def parse_problem(argv: list[str]) -> str | None:
    """What the real parser says of ``cs-tui ARGV`` (parsed, never run), or None when it accepts it."""
    parser = cli.build_parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            args = cli.parse(parser, argv)
    except SystemExit as exc:
        return f"exit {exc.code}: {err.getvalue().strip().splitlines()[-1:] or ''}"
    if argv and args.command != argv[0]:
        return f"parsed as {args.command!r}, not {argv[0]!r}"
    return None


def help_exit(words: list[str]) -> tuple[object, str]:
    """The exit status of ``cs-tui WORDS --help`` and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), pytest.raises(SystemExit) as exit_info:
        cli.parse(cli.build_parser(), [*words, "--help"])
    return exit_info.value.code, out.getvalue()


def mentioned_commands(paths: list[Path]) -> set[tuple[str, ...]]:
    """Every command the docs name (``cs-tui train``, ``cs-tui playbook distill``), as words."""
    playbook_verbs = ("show", "distill", "compare")
    found: set[tuple[str, ...]] = set()
    for path in paths:
        for command, verb in re.findall(r"cs-tui (\w+)(?: (\w+))?", path.read_text(encoding="utf-8")):
            if command in cli.COMMANDS:
                found.add((command, verb) if command == "playbook" and verb in playbook_verbs else (command,))
    return found


# --- the observation table -------------------------------------------------------------------------------


def observation_rows(text: str, title: str) -> list[tuple[int, str, str]]:
    """The (index, name, range) rows of the first table after the heading or line that starts with ``title``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lstrip("#").strip().startswith(title))
    rows: list[tuple[int, str, str]] = []
    for line in lines[start + 1 :]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.strip().startswith("|"):
            if rows:
                break
            continue
        if cells[0].isdigit():
            rows.append((int(cells[0]), cells[1], cells[2]))
    return rows


def range_problems(rows: list[tuple[int, str, str]]) -> list[str]:
    """How a table's rows differ from the env's names and bounds (empty when they agree)."""
    catalog = default_catalog()
    # two turn limits, so that a bound written as max_turns is told apart from a number that happens to match
    spaces = {turns: observation_space(catalog, turns) for turns in (DEFAULT_MAX_TURNS, DEFAULT_MAX_TURNS + 3)}
    problems = []
    if [index for index, _, _ in rows] != list(range(len(OBS_NAMES))):
        problems.append(f"indices {[index for index, _, _ in rows]}, the env has 0-{len(OBS_NAMES) - 1}")
    for index, name, written in rows:
        if index >= len(OBS_NAMES):
            continue
        if name != OBS_NAMES[index]:
            problems.append(f"index {index}: {name!r}, the env calls it {OBS_NAMES[index]!r}")
        bounds = re.split(r"\s*[–-]\s*", written)
        if len(bounds) != 2:
            problems.append(f"index {index}: range {written!r} is not LOW-HIGH")
            continue
        for turns, space in spaces.items():
            low, high = float(space.low[index]), float(space.high[index])
            want = [str(turns) if bound == "max_turns" else bound for bound in bounds]
            if [float(bound) for bound in want] != [low, high]:
                problems.append(f"index {index} ({name}): {written}, the env's bounds are {low:g}-{high:g}")
                break
    return problems


# --- the tests -------------------------------------------------------------------------------------------


def _cases(finder: Callable[[Path], Iterable[tuple[int, object]]], paths: list[Path]) -> list[Any]:
    """One test case per item ``finder`` yields from each page, named by its page and line."""
    return [
        pytest.param(path, line, item, id=f"{path.relative_to(ROOT)}:{line}")
        for path in paths
        for line, item in finder(path)
    ]


def test_the_doc_files_exist() -> None:
    missing = [str(path.relative_to(ROOT)) for path in doc_files() if not path.is_file()]
    assert not missing, f"missing: {missing}"
    assert len(doc_files()) > 5


@pytest.mark.parametrize(("path", "line", "target"), _cases(links, doc_files()))
def test_every_relative_link_resolves(path: Path, line: int, target: str) -> None:
    problem = link_problem(path, target)
    assert problem is None, f"{path.relative_to(ROOT)}:{line}: {problem}"


@pytest.mark.parametrize(("path", "line", "argv"), _cases(shown_commands, doc_files()))
def test_every_shown_command_parses(path: Path, line: int, argv: list[str]) -> None:
    problem = parse_problem(argv)
    assert problem is None, f"{path.relative_to(ROOT)}:{line}: cs-tui {shlex.join(argv)}: {problem}"


@pytest.mark.parametrize("words", sorted(mentioned_commands(doc_files())), ids=" ".join)
def test_help_of_every_mentioned_command_exits_0(words: tuple[str, ...]) -> None:
    code, printed = help_exit(list(words))
    assert code == 0, printed
    assert printed.startswith("usage: cs-tui " + " ".join(words))


def test_the_docs_show_every_command() -> None:
    """Every command cs-tui has is named somewhere in the docs, so none goes undocumented."""
    named = {words[0] for words in mentioned_commands(doc_files())}
    assert set(cli.COMMANDS) <= named, f"never named: {sorted(set(cli.COMMANDS) - named)}"


@pytest.mark.parametrize(("path", "line", "name"), _cases(inline_paths, doc_files()))
def test_every_repository_path_named_exists(path: Path, line: int, name: str) -> None:
    assert (ROOT / name).exists(), f"{path.relative_to(ROOT)}:{line}: {name} does not exist"


def playbook_snippets(path: Path) -> Iterator[tuple[int, str]]:
    """Each ``toml`` block that is a playbook (it has ``[[rule]]`` tables)."""
    _, blocks = split_fences(path.read_text(encoding="utf-8"))
    for block in blocks:
        if block.lang == "toml" and any(line.strip().startswith("[[rule]]") for line in block.lines):
            yield block.first_line, "\n".join(block.lines)


@pytest.mark.parametrize(("path", "line", "text"), _cases(playbook_snippets, doc_files()))
def test_every_playbook_shown_loads(path: Path, line: int, text: str) -> None:
    """A playbook the docs show is one this cs-tui accepts (its env id, features, strategies, coverage)."""
    try:
        playbook.loads(text, source=f"{path.relative_to(ROOT)}:{line}")
    except playbook.PlaybookError as exc:
        pytest.fail(str(exc))


def test_the_readme_is_a_front_door() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; the manual goes in docs/"


def test_the_docs_observation_table_is_the_envs() -> None:
    rows = observation_rows((ROOT / "docs" / "environment.md").read_text(encoding="utf-8"), "Observation:")
    assert rows, "no observation table under the heading 'Observation:' in docs/environment.md"
    assert range_problems(rows) == []


def test_the_env_docstrings_observation_table_is_the_envs() -> None:
    rows = observation_rows(CustomerSupportEnv.__doc__ or "", "Observation Space")
    assert rows, "no observation table in CustomerSupportEnv's docstring"
    assert range_problems(rows) == []


def criterion_words(criterion: Criterion) -> str:
    """A scenario's pass rule as the docs' table writes it: ``escalated in ≤2 turns, no offers``."""
    words = " or ".join(criterion.outcomes)
    if criterion.max_turns is not None:
        words += f" in ≤{criterion.max_turns} turns"
    if criterion.min_satisfaction is not None:
        words += f", sat ≥{criterion.min_satisfaction:.2f}"
    if criterion.min_return is not None:
        words += f", return ≥{criterion.min_return:.2f}"
    if criterion.sold:
        words += ", sold"
    if set(criterion.avoid) == {"upsell", "product_recommend"}:
        words += ", no offers"
    elif criterion.avoid:
        words += ", never " + " or ".join(criterion.avoid)
    return words


def scenario_table_problems(text: str) -> list[str]:
    """How the calibration table's scenarios and pass rules differ from the catalog's (empty when they agree)."""
    catalog = {scenario.name: scenario for scenario in load_scenarios()}
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(r"[a-z_]+", cells[0]) and len(cells) == 5 and cells[-1] != "pass when":
            rows[cells[0]] = cells[-1]
    problems = [f"{name}: in the catalog, not in the table" for name in catalog.keys() - rows.keys()]
    problems += [f"{name}: in the table, not in the catalog" for name in rows.keys() - catalog.keys()]
    for name in rows.keys() & catalog.keys():
        want = criterion_words(catalog[name].criterion)
        if rows[name] != want:
            problems.append(f"{name}: the table says {rows[name]!r}, the catalog {want!r}")
    return problems


def test_the_scenario_table_is_the_catalogs() -> None:
    assert scenario_table_problems((ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")) == []


def test_the_reward_bounds_are_the_envs() -> None:
    """The bounds the environment page gives are cs_env.reward's own."""
    text = re.sub(r"\s+", " ", (ROOT / "docs" / "environment.md").read_text(encoding="utf-8")).replace("−", "-")
    found = re.search(r"One step's reward lies in \[(\S+), (\S+)\]; an episode's return in \[(\S+), (\S+)\]", text)
    assert found, "docs/environment.md no longer states the reward's bounds"
    step, episode = tuple(map(float, found.groups()[:2])), tuple(map(float, found.groups()[2:]))
    assert (step, episode) == (STEP_REWARD_BOUNDS, EPISODE_RETURN_BOUNDS)


# --- the checks can fail ---------------------------------------------------------------------------------


def test_the_checks_catch_a_broken_link_a_wrong_anchor_and_a_bad_command(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n## Run it: `cs-tui train`\n\n[here](#run-it-cs-tui-train) [gone](nowhere.md) [typo](#run-it)\n"
        "```bash\ncs-tui train --algorithm ppo \\\n    --timesteps 1000   # fine\n"
        "cs-tui train --algorithm nope\ncs-tui evaluate default --no-such-flag\n```\n"
        "```text\ncs-tui train [--seed S]\n```\n",
        encoding="utf-8",
    )
    problems = [(line, link_problem(page, target)) for line, target in links(page)]
    assert [line for line, problem in problems if problem] == [5, 5]
    assert "no file" in str(problems[1][1]) and "#run-it" in str(problems[2][1])
    commands = list(shown_commands(page))
    assert [argv[:2] for _, argv in commands] == [
        ["train", "--algorithm"],
        ["train", "--algorithm"],
        ["evaluate", "default"],
    ]
    verdicts = [parse_problem(argv) for _, argv in commands]
    assert verdicts[0] is None
    assert verdicts[1] is not None and "exit 2" in verdicts[1]
    assert verdicts[2] is not None and "unrecognized arguments: --no-such-flag" in verdicts[2]


def test_the_observation_check_catches_a_wrong_name_and_a_wrong_range() -> None:
    table = (ROOT / "docs" / "environment.md").read_text(encoding="utf-8")
    rows = observation_rows(table, "Observation:")
    swapped = [(i, "ctx_progress" if i == 8 else name, "0–2" if i == 3 else bound) for i, name, bound in rows]
    problems = range_problems(swapped)
    assert any("index 8" in p and "ctx_complexity_hint" in p for p in problems)
    assert any("index 3" in p for p in problems)
    assert range_problems(rows[:-1])  # a missing row


def test_the_scenario_check_catches_a_changed_rule_and_a_missing_row() -> None:
    table = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    changed = table.replace("| escalated in ≤2 turns, no offers |", "| escalated in ≤3 turns, no offers |", 1)
    assert any("urgent_fraud" in problem for problem in scenario_table_problems(changed))
    missing = "\n".join(line for line in table.splitlines() if not line.startswith("| balance_check |"))
    assert scenario_table_problems(missing) == ["balance_check: in the catalog, not in the table"]


def test_github_slugs() -> None:
    assert github_slug(heading_text("Observation: `Box(18,)` float32")) == "observation-box18-float32"
    assert github_slug(heading_text("How well it learns: algorithm × industry (v0)")) == (
        "how-well-it-learns-algorithm--industry-v0"
    )
    assert github_slug(heading_text("[Tuning](tuning.md): `cs-tui tune`")) == "tuning-cs-tui-tune"
