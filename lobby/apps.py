"""App config for the game (lobby) app."""

from django.apps import AppConfig


class LobbyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "lobby"
    verbose_name = "Weirsøe Party Protocol"
