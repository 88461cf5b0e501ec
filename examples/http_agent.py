"""An agent for `cs-tui test --agent http://127.0.0.1:8765/`: answers a POST of the observation.

Run `python examples/http_agent.py [PORT]` (0: any free port; the URL is printed), then point cs-tui at
it. The body in is {"observation": [...], "observation_names": [...], "strategies": [...]}; the answer is
{"strategy": NAME}.
Standard library only; the rule is the JSON-lines example's.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jsonl_agent import choose  # the same rule of thumb


class Agent(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        turn = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"strategy": choose(turn)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # quiet: one request per turn
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8765), Agent)
    print(f"http://127.0.0.1:{server.server_address[1]}/", flush=True)
    server.serve_forever()
