"""partyhub: real-time party games on Django, with the hot path in C."""

__version__ = "0.1.0"

# The standard Django + Celery wiring: the app is loaded with Django so that
# `@shared_task` binds to it and `celery -A partyhub` finds it.
from .celery import app as celery_app  # noqa: E402

__all__ = ["__version__", "celery_app"]
