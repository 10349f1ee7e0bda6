"""WSGI entry point (HTTP only; WebSockets need ASGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partyhub.settings")
application = get_wsgi_application()
