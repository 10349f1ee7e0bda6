"""Hunch, the small game of docs/games.md: registers its driver with the platform."""

from django.apps import AppConfig


class HunchConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "hunch"
    verbose_name = "Hunch"

    def ready(self) -> None:
        from lobby import registry  # the driver imports models: only once apps are loaded

        from .game import HunchDriver

        registry.register(HunchDriver())
