"""manage.py runparty: serve the game for development (what `make run` calls).

Starts a private redis-server unless CHANNEL_REDIS_HOST/PORT are set, the C
sidecar for WebSockets (port + 1) when the extension is built (with a
Channels worker for the client messages it forwards), Daphne (HTTP, and
WebSockets too as the Python fallback), a Celery worker (phase deadlines)
and Celery beat (the periodic purge of ended and abandoned sessions); prints
what to open and stops everything on Ctrl-C.

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
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from partyhub.redisproc import RedisServer, free_port
from realtime.sidecar import setting

WILDCARDS = ("0.0.0.0", "::", "")


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
    help = "Serve partyhub for development: Redis (if needed), Daphne, Celery worker and beat."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("PARTYHUB_HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PARTYHUB_PORT", "8000"))
        )

    def handle(self, *args, host: str, port: int, **options):
        env = dict(os.environ)
        redis = None
        if "CHANNEL_REDIS_HOST" in os.environ or "CHANNEL_REDIS_PORT" in os.environ:
            self.stdout.write(
                f"Using Redis at {settings.CHANNEL_REDIS_HOST}:{settings.CHANNEL_REDIS_PORT}"
            )
        else:
            redis = RedisServer(port=free_port()).start()
            env["CHANNEL_REDIS_HOST"] = "127.0.0.1"
            env["CHANNEL_REDIS_PORT"] = str(redis.port)
            self.stdout.write(f"Started a private redis-server on 127.0.0.1:{redis.port}")
        addresses = lan_addresses() if host in WILDCARDS else []
        if host in WILDCARDS and not os.environ.get("DJANGO_ALLOWED_HOSTS"):
            # ALLOWED_HOSTS is also the WebSocket Origin allowlist: let phones
            # that open http://<this machine's address>:<port>/ in.
            env["DJANGO_ALLOWED_HOSTS"] = lan_allowed_hosts(addresses)
        children: list[subprocess.Popen] = []
        beat_dir = tempfile.mkdtemp(prefix="partyhub-beat-")
        shown = "127.0.0.1" if host in WILDCARDS else host
        ws_url = f"ws://{shown}:{port}"
        try:
            if self._sidecar_available():
                sidecar_bind = f"{host}:{port + 1}"
                command = [sys.executable, "manage.py", "runsidecar", "--bind", sidecar_bind]
                children.append(subprocess.Popen(command, env=env, cwd=Path(settings.BASE_DIR)))
                ws_url = f"ws://{shown}:{port + 1}"
                env.setdefault("PARTYHUB_WS_PORT", str(port + 1))
                # Client messages the sidecar forwards (reactions) are handled here.
                inbound = [sys.executable, "manage.py", "runworker", setting("inbound_channel")]
                children.append(subprocess.Popen(inbound, env=env, cwd=Path(settings.BASE_DIR)))
            else:
                self.stdout.write(
                    self.style.WARNING(
                        "The C extension is not built: WebSockets are served by Daphne."
                    )
                )
            daphne = [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                host,
                "-p",
                str(port),
                "partyhub.asgi:application",
            ]
            children.append(subprocess.Popen(daphne, env=env, cwd=Path(settings.BASE_DIR)))
            celery = [sys.executable, "-m", "celery", "-A", "partyhub"]
            worker = [*celery, "worker", "--loglevel=INFO", "--concurrency=2"]
            beat = [*celery, "beat", "--loglevel=INFO", f"--schedule={beat_dir}/schedule"]
            for command in (worker, beat):
                children.append(subprocess.Popen(command, env=env, cwd=Path(settings.BASE_DIR)))
            lines = [f"\npartyhub is running: open http://{shown}:{port}/"]
            if addresses:
                lines.append("  Phones and other computers on your network:")
                lines += [f"             http://{address}:{port}/" for address in addresses]
            elif host not in WILDCARDS and host.startswith("127."):
                lines.append(
                    "  Only this computer can play: to let phones join, run"
                    " `PARTYHUB_HOST=0.0.0.0 make run`"
                )
            lines += [
                f"  REST API   http://{shown}:{port}/api/sessions/",
                f"  WebSocket  {env.get('PARTYHUB_WS_URL') or ws_url}/ws/game/<code>/",
                "Press Ctrl-C to stop.\n",
            ]
            self.stdout.write(self.style.SUCCESS("\n".join(lines)))
            self._wait(children)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=8)
                except subprocess.TimeoutExpired:
                    child.kill()
            if redis is not None:
                redis.close()
            shutil.rmtree(beat_dir, ignore_errors=True)

    def _sidecar_available(self) -> bool:
        try:
            from realtime import _sidecar
        except ImportError:
            return False
        return hasattr(_sidecar, "Server")

    def _wait(self, children: list[subprocess.Popen]) -> None:
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        try:
            while not stop:
                for child in children:
                    if child.poll() is not None:
                        name = " ".join(str(arg) for arg in child.args[1:5])
                        raise CommandError(f"{name} exited with {child.returncode}")
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
