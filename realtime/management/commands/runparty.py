"""manage.py runparty: serve the game for development (what `make run` calls).

Starts, under realtime.supervisor, a private redis-server unless
CHANNEL_REDIS_HOST/PORT are set, the C sidecar for WebSockets (port + 1)
when the extension is built (with a Channels worker for the client
messages it forwards), Daphne (HTTP, and WebSockets too as the Python
fallback), a Celery worker (phase deadlines), Celery beat (the periodic
purge of ended and abandoned sessions) and the relay (`runrelay`: events
Redis could not take, and Redis' keys rebuilt when it lost them). A service that dies is restarted
(at once; with backoff if it keeps dying), the others keep running; one
that cannot start at all stops everything and says why. It prints one line
per service, then only warnings and errors (PARTYHUB_LOG_LEVEL=INFO for
more), and stops everything on Ctrl-C, SIGTERM or SIGHUP; SIGUSR1 drains
the sidecar, as it does `runsidecar`.

Beat runs as its own process, as in production, where exactly one beat runs
beside any number of workers (`worker -B` would start one per worker).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from partyhub.redisproc import RedisServer, free_port
from realtime import supervisor
from realtime.config import setting

WILDCARDS = ("0.0.0.0", "::", "")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (what phones on the LAN use)."""
    found: set[str] = set()
    try:
        import fcntl

        for _, name in socket.if_nameindex():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                try:
                    request = struct.pack("256s", name.encode()[:15])
                    packed = fcntl.ioctl(sock.fileno(), 0x8915, request)  # SIOCGIFADDR
                except OSError:
                    continue  # no IPv4 address on this interface
                found.add(socket.inet_ntoa(packed[20:24]))
    except (ImportError, OSError, AttributeError):
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(info[4][0])
    except OSError:
        pass
    return sorted(a for a in found if not a.startswith("127."))


def lan_allowed_hosts(addresses: list[str]) -> str:
    """DJANGO_ALLOWED_HOSTS for serving the LAN: loopback, these addresses, the host name."""
    names = ["localhost", "127.0.0.1", "[::1]", *addresses]
    hostname = socket.gethostname()
    if hostname:
        names += [hostname, f"{hostname}.local"]
    return ",".join(dict.fromkeys(names))


class Command(BaseCommand):
    help = (
        "Serve partyhub for development: Redis (if needed), the sidecar, Daphne, "
        "Celery worker and beat, each restarted if it dies."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("PARTYHUB_HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PARTYHUB_PORT", "8000"))
        )
        parser.add_argument(
            "--proxy-headers",
            action="store_true",
            default=os.environ.get("PARTYHUB_PROXY_HEADERS", "") not in ("", "0"),
            help="behind a reverse proxy: Daphne takes the client's address and scheme "
            "from X-Forwarded-For/-Proto, from the sidecar's trusted_proxies only "
            "(realtime.daphne; also PARTYHUB_PROXY_HEADERS=1)",
        )

    def handle(self, *args, host: str, port: int, proxy_headers: bool = False, **options):
        level = (os.environ.get("PARTYHUB_LOG_LEVEL") or "WARNING").upper()
        if level not in LOG_LEVELS:
            raise CommandError(f"PARTYHUB_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        supervisor.logger.setLevel(level)
        # Development: DEBUG on unless DJANGO_DEBUG says otherwise.
        env = dict(os.environ, PARTYHUB_LOG_LEVEL=level, PYTHONUNBUFFERED="1")
        env.setdefault("DJANGO_DEBUG", "1")
        addresses = lan_addresses() if host in WILDCARDS else []
        if host in WILDCARDS and not os.environ.get("DJANGO_ALLOWED_HOSTS"):
            # ALLOWED_HOSTS is also the WebSocket Origin allowlist: let phones
            # that open http://<this machine's address>:<port>/ in.
            env["DJANGO_ALLOWED_HOSTS"] = lan_allowed_hosts(addresses)
        if addresses:
            # The big screen opened on localhost shows this address in its
            # join link and QR code (lobby/joinlink.py).
            env.setdefault("PARTYHUB_LAN_ADDRESS", addresses[0])
        sidecar = self._sidecar_available()
        for taken in (port, port + 1) if sidecar else (port,):
            if supervisor.port_in_use(host, taken):
                raise CommandError(
                    f"port {taken} on {host} is in use (another `make run`?): stop it, or "
                    f"use other ports, e.g. PARTYHUB_PORT={port + 10} make run "
                    "(the sidecar takes the port after it)"
                )
        redis = None
        if "CHANNEL_REDIS_HOST" not in os.environ and "CHANNEL_REDIS_PORT" not in os.environ:
            redis = RedisServer(port=free_port())
            env["CHANNEL_REDIS_HOST"] = "127.0.0.1"
            env["CHANNEL_REDIS_PORT"] = str(redis.port)
        beat_dir = tempfile.mkdtemp(prefix="partyhub-beat-")
        party = Party(self, env, host, port, level, sidecar, redis, beat_dir)
        party.proxy_headers = proxy_headers
        try:
            party.serve(addresses)
        except supervisor.StartError as exc:
            raise CommandError(str(exc)) from None
        finally:
            if redis is not None:
                redis.close()
            shutil.rmtree(beat_dir, ignore_errors=True)

    def _sidecar_available(self) -> bool:
        try:
            from realtime import _sidecar
        except ImportError:
            return False
        return hasattr(_sidecar, "Server")


class Party:
    """The services of `make run` under one Supervisor, and what it prints."""

    def __init__(self, command, env, host, port, level, sidecar, redis, beat_dir) -> None:
        self.command, self.env, self.host, self.port = command, env, host, port
        self.level, self.sidecar, self.redis, self.beat_dir = level, sidecar, redis, beat_dir
        self.shown = "127.0.0.1" if host in WILDCARDS else host
        self.lines: list[tuple[str, str]] = []  # (service name, what it serves)
        self.proxy_headers = False  # Daphne believes trusted proxies' X-Forwarded-*

    def serve(self, addresses: list[str]) -> None:
        with supervisor.Supervisor() as party:
            self.party = party
            if self.redis is not None and not party.start([self.redis_service()]):
                return
            if not party.start(self.services()):
                return
            self.print_started(addresses)
            party.run()

    def popen(self, args: list[str], notify: bool = False):
        return self.party.popen(args, notify, env=self.env, cwd=Path(settings.BASE_DIR))

    def redis_service(self) -> supervisor.Service:
        redis = self.redis
        self.lines.append(("redis", f"127.0.0.1:{redis.port} (private, nothing saved)"))
        return supervisor.Service(
            "redis",
            start=lambda: self.party.popen(
                redis.args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            ),
            ready=lambda proc: redis.ping(),
            restart_note=(
                "It starts empty: the relay rebuilds the games in progress from the "
                "database within seconds, and their phones reconnect."
            ),
        )

    def services(self) -> list[supervisor.Service]:
        manage = [sys.executable, "manage.py"]
        ws_url = f"ws://{self.shown}:{self.port}"
        found = []
        if self.sidecar:
            ws_url = f"ws://{self.shown}:{self.port + 1}"
            self.env.setdefault("PARTYHUB_WS_PORT", str(self.port + 1))
            bind = [*manage, "runsidecar", "--bind", f"{self.host}:{self.port + 1}"]
            found.append(
                supervisor.Service(
                    "sidecar",
                    start=lambda: self.popen(bind),
                    ready=lambda proc: supervisor.port_open(self.host, self.port + 1),
                    takes=frozenset({signal.SIGUSR1}),
                )
            )
            # Client messages the sidecar forwards (reactions) are handled here.
            inbound = [*manage, "runworker", setting("inbound_channel")]
            found.append(supervisor.Service("inbound", start=lambda: self.popen(inbound)))
        ws_url = f"{self.env.get('PARTYHUB_WS_URL') or ws_url}/ws/game/<code>/"
        verbosity = {"DEBUG": "2", "INFO": "1"}.get(self.level, "0")
        # Daphne's own command line; realtime.daphne makes --proxy-headers
        # believe the sidecar's trusted_proxies only.
        daphne = [sys.executable, "-m", "realtime.daphne", "-v", verbosity]
        daphne += ["--proxy-headers"] if self.proxy_headers else []
        daphne += ["-b", self.host, "-p", str(self.port), "partyhub.asgi:application"]
        found.append(
            supervisor.Service(
                "daphne",
                start=lambda: self.popen(daphne),
                ready=lambda proc: supervisor.port_open(self.host, self.port),
            )
        )
        # Celery warns at every start that it runs as root (as in a container):
        # the risk it means is pickle, and it accepts only JSON here.
        celery = [sys.executable, "-W", "ignore:You're running the worker with superuser"]
        celery += ["-m", "celery", "-A", "partyhub"]
        if self.level not in ("DEBUG", "INFO"):
            celery.append("--quiet")  # no banners
        worker = [*celery, "worker", f"--loglevel={self.level}", "--concurrency=2"]
        beat = [*celery, "beat", f"--loglevel={self.level}"]
        beat.append(f"--schedule={self.beat_dir}/schedule")
        found.append(
            supervisor.Service(
                "celery",
                start=lambda: self.popen(worker, notify=True),
                ready=lambda proc: proc.ready(),  # connected to the broker
            )
        )
        found.append(supervisor.Service("beat", start=lambda: self.popen(beat)))
        # Events Redis could not take, and Redis rebuilt after it lost data.
        relay = [*manage, "runrelay"]
        found.append(supervisor.Service("relay", start=lambda: self.popen(relay)))
        http = f"http://{self.shown}:{self.port}"
        if self.sidecar:
            self.lines.append(("sidecar", f"WebSockets {ws_url}"))
            self.lines.append(("inbound", "client messages the sidecar forwards (runworker)"))
            self.lines.append(("daphne", f"pages and REST API {http}/api/sessions/"))
        else:
            self.lines.append(("daphne", f"pages, REST API and WebSockets {ws_url}"))
        self.lines.append(("celery", "phase deadlines (Celery worker)"))
        self.lines.append(("beat", "purges and the deadline sweep (Celery beat)"))
        self.lines.append(("relay", "delivers what Redis missed, rebuilds it from the database"))
        return found

    def print_started(self, addresses: list[str]) -> None:
        out, style = self.command.stdout, self.command.style
        if not self.sidecar:
            out.write(
                style.WARNING("The C extension is not built: WebSockets are served by Daphne.")
            )
        if self.redis is None:
            redis_at = f"{settings.CHANNEL_REDIS_HOST}:{settings.CHANNEL_REDIS_PORT}"
            out.write(f"  {'redis':<8} {'':<10} {redis_at} (CHANNEL_REDIS_HOST/PORT: not ours)")
        pids = self.party.pids()
        for name, what in self.lines:
            out.write(f"  {name:<8} pid {pids[name]:<6} {what}")
        lines = [f"\npartyhub is running: open http://{self.shown}:{self.port}/"]
        if addresses:
            lines.append("  Phones and other computers on your network:")
            lines += [f"             http://{address}:{self.port}/" for address in addresses]
        elif self.host not in WILDCARDS and self.host.startswith("127."):
            lines.append(
                "  Only this computer can play: to let phones join, run"
                " `PARTYHUB_HOST=0.0.0.0 make run`"
            )
        lines.append(
            "Press Ctrl-C to stop. A service that dies is restarted. Warnings and errors"
            " follow (PARTYHUB_LOG_LEVEL=INFO make run shows more).\n"
        )
        out.write(style.SUCCESS("\n".join(lines)))
