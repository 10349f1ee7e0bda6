"""The Celery app `partyhub` (`celery -A partyhub worker`): deadlines and purges.

Configuration comes from Django settings under the `CELERY_` prefix; the broker
is the channel layer's Redis unless `CELERY_BROKER_URL` is set. Tasks live in
`lobby/tasks.py` and are found by autodiscovery.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready
from kombu import pools

from realtime.supervisor import notify_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partyhub.settings")

app = Celery("partyhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def use_broker(url: str) -> None:
    """Point this process's producer at another broker (tests switch Redis).

    Drops the cached connection pools so the next publish connects to `url`:
    the app's, and kombu's registry of pools by connection, from which the
    app would otherwise take back the closed pool of a broker it used before.
    """
    app.conf.broker_url = url
    pools.reset()  # closes every pool and forgets them
    app._after_fork()  # forgets the app's connection and producer pools


@worker_ready.connect
def _tell_the_supervisor(**kwargs) -> None:
    """Connected to the broker and consuming: `make run` (realtime.supervisor)
    and systemd `Type=notify` units count the worker as started from here."""
    notify_ready()
