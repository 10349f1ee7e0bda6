"""Hunch's settings table (its own module: hunch.models derives the preset's
columns from it, and the driver in hunch.game lists it)."""

from lobby.driver import Setting

SETTINGS = (
    Setting("rounds", "Rounds", 3, 1, 10),
    Setting("guess_time", "Seconds to guess", 45, 10, 300),
)
