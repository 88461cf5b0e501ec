"""``cs-tui demo``: watch an agent handle a few customers, narrated turn by turn.

Each conversation shows the customer's tier and urgency, every line with the customer's mood, and
each turn's reward split into its four components (satisfaction, efficiency, business impact,
escalation penalty). Conversation ``i`` is ``CustomerSupportEnv(industry).reset(seed=seed + i)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cs_tui.commands.agent_loading import DEFAULT_POLICY, load_agent_or_report, setting_for
from cs_tui.commands.arguments import USAGE_ERROR, count_up_to, industry_choices
from cs_tui.seeds import seed_arg

if TYPE_CHECKING:
    import numpy as np

    from cs_env.env import CustomerSupportEnv

#: frames the last picture of a conversation is held (at a turn a second), so its outcome can be read
HOLD_END = 2


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from cs_env.reward import COMPONENTS
    from cs_tui.labels import component_label

    # the short names of the conversation's reward lines, each in cs_env's words
    legend = ", ".join(f"{component_label(name, short=True)} = {name.replace('_', ' ')}" for name in COMPONENTS)
    parser = subparsers.add_parser(
        "demo",
        help="narrated conversations of an agent with simulated customers",
        description=(
            "Play a few conversations with an agent and print them narrated: sentiment, tier and each turn's "
            f"reward breakdown ({legend})."
        ),
    )
    parser.add_argument("--industry", choices=industry_choices(), default=None, help="default: the model's, or mixed")
    parser.add_argument(
        "--episodes",
        type=count_up_to(1, 10_000, "each is printed in full"),
        default=5,
        help="conversations to show (default %(default)s)",
    )
    parser.add_argument(
        "--policy",
        metavar="MODEL|baseline:NAME",
        default=DEFAULT_POLICY,
        help=f"the agent (default: the shipped agent {DEFAULT_POLICY!r}; e.g. baseline:heuristic)",
    )
    parser.add_argument(
        "--seed",
        type=seed_arg(),
        metavar="SEED",
        default=0,
        help="seed of the first conversation (default %(default)s)",
    )
    parser.add_argument(
        "--video",
        metavar="FILE",
        help="also write the conversations as a video, a turn a second: FILE.mp4 (needs cs-tui[video]) or FILE.gif",
    )


def run(args: argparse.Namespace) -> int:
    from cs_env.domain import FINAL_OUTCOME_NAMES
    from cs_env.env import CustomerSupportEnv
    from cs_tui import report, video

    target = None
    if args.video is not None:
        try:
            target = video.check_target(args.video)
        except video.VideoError as error:
            print(f"cs-tui demo: error: {error}", file=sys.stderr)
            return USAGE_ERROR
    agent = load_agent_or_report(
        "demo", args.policy, industry=args.industry or "mixed", saves=args.saves, seed=args.seed
    )
    if agent is None:
        return USAGE_ERROR
    industry, max_turns = setting_for(agent, args.industry)
    env = CustomerSupportEnv(industry, max_turns=max_turns, render_mode="rgb_array" if target else None)
    returns: list[float] = []
    outcomes: list[str] = []
    console = report.make_console()
    frames = _play(env, agent, args, console, returns, outcomes)
    if target is None:
        for _ in frames:
            pass
    else:
        try:
            count = video.write(target, frames, fps=float(env.metadata["render_fps"]))
        except (OSError, video.VideoError) as error:
            print(
                f"cs-tui demo: could not write {target}: {getattr(error, 'strerror', None) or error}", file=sys.stderr
            )
            return 1
    counts = ", ".join(f"{n} {name}" for name in FINAL_OUTCOME_NAMES if (n := outcomes.count(name)))
    mean = sum(returns) / len(returns)
    plural = "s" if len(returns) != 1 else ""
    console.print(
        f"{agent.name} on {industry}: mean return {mean:+.2f} over {len(returns)} conversation{plural} ({counts})"
    )
    if target is not None:
        console.print(f"video: {target} ({count} frames, {count / float(env.metadata['render_fps']):.0f} s)")
    return 0


def _play(
    env: CustomerSupportEnv,
    agent: Any,
    args: argparse.Namespace,
    console: Any,
    returns: list[float],
    outcomes: list[str],
) -> Iterator[np.ndarray]:
    """Play and print each conversation; yield its frames (when the env renders) as they happen."""
    from cs_tui import report

    rendering = env.render_mode == "rgb_array"
    for episode in range(args.episodes):
        obs, info = env.reset(seed=args.seed + episode)
        if rendering:
            yield _frame(env)
        done, total = False, 0.0
        while not done:
            action = agent(obs, state=env.hidden_state) if agent.needs_state else agent(obs)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            done = terminated or truncated
            if rendering:
                last = _frame(env)
                yield last
        if rendering:
            for _ in range(HOLD_END):  # the outcome stays on screen before the next customer
                yield last
        returns.append(total)
        outcomes.append(env.named_info(info)["outcome"])
        title = f"{episode + 1}/{args.episodes} · {agent.name} · seed {args.seed + episode}"
        console.print(report.conversation(env, title))


def _frame(env: CustomerSupportEnv) -> np.ndarray:
    picture = env.render()
    assert not isinstance(picture, str | None), "the env renders rgb_array frames"
    return picture
