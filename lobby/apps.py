"""App config of the platform (lobby): sessions, players, rounds, games,
and what users keep (presets, packs)."""

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import pre_delete


class LobbyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "lobby"
    verbose_name = "partyhub platform"

    def ready(self) -> None:
        # They import models: only once the apps are loaded. `tasks` registers
        # the timer task that lobby.timers sends by name.
        from . import packs, presets, registry, sockets, tasks  # noqa: F401

        sockets.install()
        # Every game's presets and packs are checked as it registers.
        registry.listen(presets.check_model)
        registry.listen(packs.check_kind)
        # An account's packs go with it, the way a pack is deleted (lobby.packs).
        pre_delete.connect(
            packs.account_deleted, sender=settings.AUTH_USER_MODEL, dispatch_uid="lobby-packs"
        )
