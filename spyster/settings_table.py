"""Spyster's settings table: what a host sets per game (lobby.driver.Setting).

Its own module, so that the preset model (spyster.models.SpysterPreset) can
derive its columns from it without importing the driver.
"""

from django.utils.translation import gettext_lazy as _

from lobby.driver import Setting

SETTINGS = (
    Setting("rounds", _("Rounds"), 5, 1, 20),
    Setting(
        "round_minutes", _("Minutes per round"), 8, 1, 30, help=_("Time to question each other.")
    ),
    Setting("vote_seconds", _("Seconds to vote on an accusation"), 45, 10, 300),
    Setting(
        "final_vote_seconds",
        _("Seconds for the final vote"),
        60,
        10,
        300,
        help=_("When time is up everyone names a suspect; who has not voted by then names nobody."),
    ),
)
