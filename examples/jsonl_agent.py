"""An agent for `cs-tui test --agent-cmd "python examples/jsonl_agent.py"`: JSON lines on stdin/stdout.

Each line in is {"observation": [...], "observation_names": [...], "strategies": [...]}; each line out is
{"strategy": NAME_OR_NUMBER}. Standard library only: any language that reads and writes lines can do this.
"""

import json
import sys


def choose(turn: dict) -> str:
    """A support lead's rule of thumb: calm the upset, pass on what sounds like a specialist's, else fix it."""
    seen = dict(zip(turn["observation_names"], turn["observation"], strict=True))
    if seen["ctx_specialist_hint"] >= 0.6:
        return "escalate"
    if seen["sentiment"] <= 1 and seen["ctx_empathy_used"] == 0:
        return "empathetic"
    return "quick_resolution"


if __name__ == "__main__":
    for line in sys.stdin:
        turn = json.loads(line)
        print(json.dumps({"strategy": choose(turn)}), flush=True)
