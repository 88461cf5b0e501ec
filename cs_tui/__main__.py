"""``python -m cs_tui`` is ``cs-tui`` (the app starts training runs this way, in their own process)."""

from cs_tui.cli import main

raise SystemExit(main())
