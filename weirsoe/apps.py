"""App config of the Weirsøe Party Protocol: registers its driver with the platform."""

from django.apps import AppConfig


class WeirsoeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "weirsoe"
    verbose_name = "Weirsøe Party Protocol"

    def ready(self) -> None:
        from lobby import registry  # the driver imports models: only once apps are loaded

        from .driver import WeirsoeDriver

        registry.register(WeirsoeDriver())
