"""``cs-tui serve``: the simulator and the run folders over HTTP and WebSocket (FastAPI on uvicorn).

``sessions`` keeps one env per client session; ``views`` turns a turn into the numeric and the text view
(with the ``respond`` tool schema for LLM agents); ``rest`` is the seed prototype's REST surface on our
run folders; ``security`` checks tokens, sizes and rates; ``limits`` holds every bound in one place;
``app`` wires them into one FastAPI app; ``run`` starts uvicorn with the limits applied.

A face of the core: every rule it applies (env checks, run names, evaluation, training) is the core's.
Importing this package imports neither torch nor FastAPI: ``cs_tui.server.app`` does the latter.
"""
