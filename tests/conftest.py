from __future__ import annotations

import cs_env  # noqa: F401  (registers the env ids for every test)

INDUSTRIES = ("bfsi", "retail", "tech", "mixed")
