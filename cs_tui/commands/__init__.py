"""One module per ``cs-tui`` subcommand: ``add_parser(subparsers)`` and ``run(args) -> int`` (see ``cs_tui.cli``)."""
