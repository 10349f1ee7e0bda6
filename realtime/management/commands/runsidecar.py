"""manage.py runsidecar: serve ws/game/<code>/ from the C sidecar.

Loads Django settings, then runs `realtime._sidecar.Server` with the GIL
released. SIGTERM/SIGINT/SIGHUP stop it: every socket is closed with 1001
and group memberships are dropped. SIGUSR1 drains it over `--drain-seconds`
(default 30): it stops accepting, tells each socket when to reconnect and
closes it with 1012 at that time, then waits, drained, for SIGTERM, which
exits at once. `--workers N` forks N processes sharing the port
(SO_REUSEPORT), each its own channels_redis process, under
realtime.supervisor: a worker that dies is replaced at once (with backoff
if it keeps dying) without touching the others; signals are passed on to
every worker.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from realtime import supervisor
from realtime.config import check, setting
from realtime.counters_table import WORKER_RESTARTS
from realtime.settings_table import SETTINGS
from realtime.sidecar import DRAIN_SECONDS, SidecarRunner, logger

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
FLAG_TYPES = {"int": int, "bytes": int, "count": int, "float": float, "str": str}
# The supervisor's counter of replaced workers (--metrics-file, /metrics).
RESTARTS_METRIC = WORKER_RESTARTS.metric


class Command(BaseCommand):
    help = "Serve WebSockets from the C sidecar (realtime._sidecar)."

    def add_arguments(self, parser):
        # One flag per setting of realtime/settings_table.py (PARTYHUB_SIDECAR
        # otherwise), checked like the setting.
        for s in SETTINGS:
            parser.add_argument(
                f"--{s.name.replace('_', '-')}",
                dest=s.name,
                type=FLAG_TYPES[s.type],
                default=None,
                help=f"{s.help} (default {s.default})",
            )
        parser.add_argument("--workers", type=int, default=1, help="processes sharing the port")
        parser.add_argument("--log-level", choices=sorted(LEVELS), default=None)
        parser.add_argument(
            "--drain-seconds",
            type=float,
            default=DRAIN_SECONDS,
            help=f"window SIGUSR1 spreads the 1012 closes over (default {DRAIN_SECONDS:g})",
        )
        parser.add_argument(
            "--metrics-file",
            default=None,
            help=f"with --workers: keep {RESTARTS_METRIC} in this Prometheus text file",
        )

    def handle(self, *args, workers, log_level, drain_seconds, metrics_file, **options):
        given = {s.name: options[s.name] for s in SETTINGS if options.get(s.name) is not None}
        try:
            self.overrides = {name: check(name, value) for name, value in given.items()}
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        bind = self.overrides.pop("bind", None)
        if log_level:
            logger.setLevel(LEVELS[log_level])
            supervisor.logger.setLevel(LEVELS[log_level])
        bind = bind or setting("bind")
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if not 0 <= drain_seconds <= 3600:
            raise CommandError("--drain-seconds must be in 0..3600")
        if metrics_file and workers == 1:
            raise CommandError(
                "--metrics-file counts the workers --workers N replaces; one process "
                "is restarted by its service manager (systemd counts it: NRestarts)"
            )
        self.drain_seconds = drain_seconds
        if workers == 1:
            sys.exit(self.serve(bind))
        self.supervise(bind, workers, metrics_file)

    def serve(self, bind: str, ready=None, restarts=None) -> int:
        """Run one server until SIGTERM/SIGINT/SIGHUP (SIGUSR1 drains); return
        the exit status. `ready()` is called once it serves and `restarts` is
        the supervisor's shared count, shown on /metrics (--workers)."""
        try:
            runner = SidecarRunner(bind=bind, worker_restarts=restarts, **self.overrides).start()
        except ImportError as exc:
            raise CommandError(f"the C extension is not built: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"cannot serve on {bind}: {exc}") from exc
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        stop = lambda *_: runner.stop()  # noqa: E731
        for sig in supervisor.STOP_SIGNALS:
            signal.signal(sig, stop)
        signal.signal(signal.SIGUSR1, lambda *_: self.drain(runner))
        logger.info("sidecar pid %d serving ws://%s/ws/game/<code>/", os.getpid(), bind)
        if ready is not None:
            ready()
        while not runner.wait(0.5):
            pass
        logger.info("sidecar pid %d stopped", os.getpid())
        return 0

    def drain(self, runner: SidecarRunner) -> None:
        logger.info("sidecar pid %d draining over %g s", os.getpid(), self.drain_seconds)
        runner.drain(self.drain_seconds)

    def supervise(self, bind: str, workers: int, metrics_file: str | None) -> None:
        """Fork `workers` servers on one port and keep them running (realtime.supervisor)."""
        metrics = None
        shared = supervisor.SharedCount()  # each worker's /metrics shows it
        if metrics_file:
            metrics = supervisor.RestartsFile(metrics_file, RESTARTS_METRIC, WORKER_RESTARTS.help)
            try:
                metrics.write(0)
            except OSError as exc:
                raise CommandError(f"--metrics-file: {exc}") from exc

        def on_restart(arbiter: supervisor.Supervisor) -> None:
            shared(arbiter)
            if metrics is not None:
                metrics(arbiter)

        try:
            with supervisor.Supervisor(on_restart=on_restart) as arbiter:
                services = [
                    supervisor.Service(
                        f"sidecar worker {i}",
                        start=lambda: arbiter.fork(
                            lambda ready: self.serve(bind, ready, shared.memory)
                        ),
                        ready=lambda proc: proc.ready(),
                        takes=frozenset({signal.SIGUSR1}),
                    )
                    for i in range(workers)
                ]
                if arbiter.start(services):
                    arbiter.run()
        except supervisor.StartError as exc:
            raise CommandError(str(exc)) from None
        finally:
            if metrics is not None:
                metrics.remove()
