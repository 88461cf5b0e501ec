"""cs_tui: the terminal app and command line over the cs_env simulator."""

__version__ = "0.1.0"
