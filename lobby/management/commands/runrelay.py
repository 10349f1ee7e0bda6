"""manage.py runrelay: deliver what Redis missed and rebuild it when it comes back empty.

Runs lobby.relay.Relay until SIGTERM or SIGINT. One relay is enough per
deployment (two are harmless: Redis refuses a seq it already delivered, and
every rebuild write is newer-only); `make run` (runparty) starts one, and
deploy/systemd/partyhub-relay.service runs it in production.
"""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from lobby.relay import GRACE, INTERVAL, Relay


class Command(BaseCommand):
    help = (
        "Deliver events Redis could not take when they happened (in order, as soon as it "
        "is back) and rebuild Redis' session keys from the database when it lost them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=INTERVAL, help="seconds per turn")
        parser.add_argument(
            "--grace", type=float, default=GRACE, help="seconds a new event is left to its view"
        )

    def handle(self, *args, interval: float, grace: float, **options):
        relay = Relay(interval, grace)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: relay.stop())
        relay.run()
