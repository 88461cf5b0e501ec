"""A JSON-lines agent that answers what the shipped default agent would: the doors must not change a score."""

import json
import sys
from pathlib import Path

import numpy as np

from cs_tui.agents import load_agent

agent = load_agent("default", saves=Path(sys.argv[1]))
for line in sys.stdin:
    obs = np.asarray(json.loads(line)["observation"], dtype=np.float32)
    print(json.dumps({"strategy": int(agent(obs))}), flush=True)
