"""App config of Spyster: registers its driver with the platform."""

from django.apps import AppConfig


class SpysterConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "spyster"
    verbose_name = "Spyster"

    def ready(self) -> None:
        from lobby import registry  # the driver imports models: only once apps are loaded

        from .driver import SpysterDriver

        registry.register(SpysterDriver())
