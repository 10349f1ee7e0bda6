"""WebSocket URL routes."""

from django.urls import re_path

from .consumers import GameConsumer, UnroutedConsumer

websocket_urlpatterns = [
    re_path(r"^ws/game/(?P<code>[^/]+)/$", GameConsumer.as_asgi()),
    # Anything else: the handshake refused with 403 (as the sidecar does),
    # not Channels' "No route found" (HTTP 500 and a traceback).
    re_path(r"", UnroutedConsumer.as_asgi()),
]
