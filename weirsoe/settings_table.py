"""The quiz's settings table: what a host sets per game (lobby.driver.Setting).

Its own module, so that the preset model (weirsoe.models.QuizPreset) can
derive its columns from it without importing the driver.
"""

from django.utils.translation import gettext_lazy as _

from lobby.driver import Setting

SETTINGS = (
    Setting("rounds", _("Rounds"), 3, 1, 20),
    Setting("lie_time_limit", _("Seconds to write a lie"), 60, 10, 600),
    Setting("guess_time_limit", _("Seconds to guess"), 30, 10, 300),
    Setting(
        "auto_advance",
        _("Automatic timers"),
        False,
        help=_("The game moves on by itself when time is up. Untick to press every step yourself."),
        form_default=True,
    ),
)
