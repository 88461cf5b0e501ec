"""A JSON-lines agent that misbehaves on its second turn of every conversation, as argv[1] says.

hang: never answers; crash: says why on stderr and exits 3; garbage: prints a line that is not JSON;
invalid: answers a strategy that does not exist. Every start writes its pid to the file argv[2].
"""

import json
import os
import sys
import time

mode, pids = sys.argv[1], sys.argv[2]
with open(pids, "a") as f:
    f.write(f"{os.getpid()}\n")
for line in sys.stdin:
    turn = json.loads(line)
    if turn["observation"][turn["observation_names"].index("conversation_length")] < 1:
        print(json.dumps({"strategy": "empathetic"}), flush=True)
        continue
    if mode == "hang":
        time.sleep(3600)
    elif mode == "crash":
        print("bot.py: out of ideas", file=sys.stderr, flush=True)
        sys.exit(3)
    elif mode == "garbage":
        print("<html>oops</html>", flush=True)
    else:
        print(json.dumps({"strategy": 99}), flush=True)
