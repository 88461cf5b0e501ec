"""The app's widgets, one (or one tight family) per module."""
