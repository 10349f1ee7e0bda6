"""Hunch's settings table (its own module: hunch.models derives the preset's
columns from it, and the driver in hunch.game lists it)."""

from django.utils.translation import gettext_lazy as _

from lobby.driver import Setting

SETTINGS = (
    Setting("rounds", _("Rounds"), 3, 1, 10),
    Setting("guess_time", _("Seconds to guess"), 45, 10, 300),
)
