"""manage.py runsidecar: serve ws/game/<code>/ from the C sidecar.

Loads Django settings, then runs `realtime._sidecar.Server` with the GIL
released. SIGTERM/SIGINT stop it: every socket is closed with 1001 and group
memberships are dropped. SIGUSR1 drains it over `--drain-seconds` (default
30): it stops accepting, tells each socket when to reconnect and closes it
with 1012 at that time, then waits, drained, for SIGTERM, which exits at
once. `--workers N` forks N processes sharing the port (SO_REUSEPORT), each
its own channels_redis process; signals are passed on to every worker.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

from django.core.management.base import BaseCommand, CommandError

from realtime.sidecar import DRAIN_SECONDS, SidecarRunner, logger, setting

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class Command(BaseCommand):
    help = "Serve WebSockets from the C sidecar (realtime._sidecar)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=None, help="host:port (default 127.0.0.1:8001)")
        parser.add_argument("--workers", type=int, default=1, help="processes sharing the port")
        parser.add_argument("--log-level", choices=sorted(LEVELS), default=None)
        parser.add_argument(
            "--drain-seconds",
            type=float,
            default=DRAIN_SECONDS,
            help=f"window SIGUSR1 spreads the 1012 closes over (default {DRAIN_SECONDS:g})",
        )

    def handle(self, *args, bind, workers, log_level, drain_seconds, **options):
        if log_level:
            logger.setLevel(LEVELS[log_level])
        bind = bind or setting("bind")
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if not 0 <= drain_seconds <= 3600:
            raise CommandError("--drain-seconds must be in 0..3600")
        self.drain_seconds = drain_seconds
        if workers == 1:
            sys.exit(self.serve(bind))
        self.supervise(bind, workers)

    def serve(self, bind: str) -> int:
        """Run one server until SIGTERM/SIGINT (SIGUSR1 drains); return the exit status."""
        try:
            runner = SidecarRunner(bind=bind).start()
        except ImportError as exc:
            raise CommandError(f"the C extension is not built: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"cannot serve on {bind}: {exc}") from exc
        stop = lambda *_: runner.stop()  # noqa: E731
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGUSR1, lambda *_: self.drain(runner))
        logger.info("sidecar pid %d serving ws://%s/ws/game/<code>/", os.getpid(), bind)
        while not runner.wait(0.5):
            pass
        logger.info("sidecar pid %d stopped", os.getpid())
        return 0

    def drain(self, runner: SidecarRunner) -> None:
        logger.info("sidecar pid %d draining over %g s", os.getpid(), self.drain_seconds)
        runner.drain(self.drain_seconds)

    def supervise(self, bind: str, workers: int) -> None:
        """Fork `workers` servers on one port; pass signals on; reap them."""
        children = []
        for _ in range(workers):
            pid = os.fork()
            if pid == 0:
                try:
                    status = self.serve(bind)
                except BaseException as exc:
                    logger.error("sidecar worker %d failed: %s", os.getpid(), exc)
                    status = 1
                os._exit(status)
            children.append(pid)

        def forward(signum, frame):
            """SIGTERM/SIGINT stop every worker; SIGUSR1 drains every worker."""
            sent = signal.SIGUSR1 if signum == signal.SIGUSR1 else signal.SIGTERM
            for pid in children:
                try:
                    os.kill(pid, sent)
                except ProcessLookupError:
                    pass

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGUSR1, forward)
        failed = 0
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            if pid in children:
                children.remove(pid)
                if os.waitstatus_to_exitcode(status) != 0:
                    failed += 1
                    logger.error("sidecar worker %d exited with status %d", pid, status)
                    forward(signal.SIGTERM, None)
        if failed:
            raise CommandError(f"{failed} sidecar worker(s) failed")
