"""The app's panes: play (the conversation), training, scenarios, models."""
