"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partyhub.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402

from realtime.config import allowed_origins, setting  # noqa: E402
from realtime.inbound import InboundConsumer  # noqa: E402
from realtime.routing import CanonicalPath, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The same Origin rules as the sidecar: ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS.
        "websocket": OriginValidator(
            CanonicalPath(URLRouter(websocket_urlpatterns)), allowed_origins().split(",")
        ),
        # `manage.py runworker partyhub.inbound`: client messages the sidecar forwards.
        "channel": ChannelNameRouter({setting("inbound_channel"): InboundConsumer.as_asgi()}),
    }
)
