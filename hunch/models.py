"""Hunch's one model: its part of a user's saved preset, a column per setting."""

from lobby.models import preset_columns

from .settings_table import SETTINGS


class HunchPreset(preset_columns(SETTINGS)):
    """A saved Hunch set-up (lobby.presets)."""
