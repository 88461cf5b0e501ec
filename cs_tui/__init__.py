"""cs_tui: the terminal app and command line over the cs_env simulator."""
