"""App config for the real-time (WebSocket) app."""

from django.apps import AppConfig
from django.conf import settings

from . import protocol


class RealtimeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "realtime"

    def ready(self) -> None:
        # Check every sent payload against its whole schema (the tests do).
        protocol.strict_payloads(getattr(settings, "PARTYHUB_STRICT_EVENTS", False))
