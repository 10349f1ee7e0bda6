"""App config of the platform (lobby): sessions, players, rounds, games."""

from django.apps import AppConfig


class LobbyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "lobby"
    verbose_name = "partyhub platform"

    def ready(self) -> None:
        # Both import models: only once the apps are loaded. `tasks` registers
        # the timer task that lobby.timers sends by name.
        from . import sockets, tasks  # noqa: F401

        sockets.install()
