"""Run the C WebSocket sidecar from Django settings.

`sidecar_kwargs()` turns settings into `realtime._sidecar.Server(**kwargs)`;
`SidecarRunner` serves it in a thread (serve() holds no GIL and does not
return to Python until stopped, so signals are handled by the caller's
thread) and drains the C log ring into the `realtime.sidecar` logger.
"""

from __future__ import annotations

import logging
import socket
import threading

from channels.exceptions import InvalidChannelLayerError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from . import keys, protocol
from .redis_hosts import channel_layer_hosts

logger = logging.getLogger("realtime.sidecar")

# Defaults of every sidecar setting; PARTYHUB_SIDECAR in settings overrides.
DEFAULTS = {
    "bind": "127.0.0.1:8001",
    "ping_interval": 20,  # s of silence before a protocol PING
    "ping_timeout": 30,  # s without a PONG before hanging up
    "max_message": 4096,  # bytes per client message; larger closes 1009
    "rx_buffer": 128,  # lws receive buffer per connection (bytes, 128..65536);
    # larger messages arrive in pieces and are reassembled up to max_message
    "hard_bytes": 1 << 20,  # per-socket output queue: over this, close now
    "hard_msgs": 1024,
    "soft_bytes": 256 << 10,  # over this for soft_seconds, close
    "soft_msgs": 256,
    "soft_seconds": 10.0,
    "writes_per_turn": 16,  # frames per socket per loop turn (fairness)
    "stop_grace": 2.0,  # s to let close frames out on stop
    "inbound_channel": "partyhub.inbound",
    # Abuse limits (docs/architecture.md, "Limits"). msg_* apply to
    # GameConsumer on Daphne too.
    "msg_rate": 10.0,  # client messages per s per socket (0 = no limit)
    "msg_burst": 20,  # messages a socket may send at once
    "msg_flood": 50,  # messages refused without a pause before closing 4008
    "max_conns_per_ip": 256,  # open sockets per client address (0 = no limit)
    "max_connections": 0,  # open sockets in all (0 = no limit)
    "trusted_proxies": "127.0.0.1,::1",  # whose X-Forwarded-For names the client
}


def setting(name: str):
    """One sidecar setting: PARTYHUB_SIDECAR[name] or its default."""
    return getattr(settings, "PARTYHUB_SIDECAR", {}).get(name, DEFAULTS[name])


def parse_bind(bind: str) -> tuple[str, int]:
    """'host:port' -> (numeric host, port)."""
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise ImproperlyConfigured(f"bind address {bind!r} is not host:port")
    return socket.gethostbyname(host.strip("[]") or "0.0.0.0"), int(port)


def _numeric(host: str) -> str:
    """hiredis resolves names blocking, the loop never does: resolve here."""
    try:
        return socket.gethostbyname(host)
    except OSError as exc:
        raise ImproperlyConfigured(f"cannot resolve Redis host {host!r}: {exc}") from exc


def redis_hosts() -> list[dict]:
    """The channel layer's Redis hosts, in its order, as
    realtime._sidecar.Server's `redis_hosts`: the sidecar places keys with
    channels_redis' consistent hash over this list, as the C layer does."""
    try:
        hosts = channel_layer_hosts()
    except InvalidChannelLayerError as exc:
        raise ImproperlyConfigured(f"the sidecar cannot use these Redis hosts: {exc}") from exc
    return [host.resolved(_numeric).as_c(timeouts=False) for host in hosts]


def allowed_origins() -> str:
    """The sidecar's Origin patterns: ALLOWED_HOSTS (Channels' rules) and
    CSRF_TRUSTED_ORIGINS (full origins; Django's `https://*.example.com`
    becomes the pattern `https://.example.com`)."""
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    trusted = [o.replace("://*.", "://.", 1) for o in settings.CSRF_TRUSTED_ORIGINS]
    return ",".join(hosts + trusted)


def log_level() -> int:
    return logger.getEffectiveLevel()


def sidecar_kwargs(**overrides) -> dict:
    """Keyword arguments for realtime._sidecar.Server from Django settings."""
    config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
    if config.get("symmetric_encryption_keys"):
        raise ImproperlyConfigured("the sidecar does not support encrypted channel layers")
    host, port = parse_bind(overrides.pop("bind", None) or setting("bind"))
    kwargs = {
        "host": host,
        "port": port,
        "redis_hosts": redis_hosts(),
        "prefix": config.get("prefix", "asgi"),
        "expiry": int(config.get("expiry", 60)),
        "group_expiry": int(config.get("group_expiry", 86400)),
        "capacity": int(config.get("capacity", 100)),
        "allowed_origins": allowed_origins(),
        # Every declared type but ping (answered in C) goes to the inbound
        # worker: the platform and its games declare them (realtime.protocol).
        "client_types": ",".join(t for t in protocol.client_types() if t != protocol.PING),
        "server_version": protocol.SERVER_VERSION,
        "session_key_prefix": keys.KEY_SESSION,
        "state_key_prefix": keys.KEY_STATE,
        "private_key_prefix": keys.KEY_PRIVATE,
        "ready_key": keys.KEY_READY,
        "log_level": log_level(),
        "max_json_depth": protocol.MAX_JSON_DEPTH,
    }
    for name in DEFAULTS:
        if name != "bind":
            kwargs[name] = setting(name)
    kwargs.update(overrides)
    return kwargs


# Default drain window of SidecarRunner.drain() and `runsidecar --drain-seconds`:
# 10,000 sockets reconnect elsewhere at about 333 per second.
DRAIN_SECONDS = 30.0


class SidecarRunner:
    """A Server serving in a thread, with its C log lines sent to logging."""

    def __init__(self, **overrides) -> None:
        from ._sidecar import Server

        self.server = Server(**sidecar_kwargs(**overrides))
        self.port = self.server.stats()["port"]
        self._serving = threading.Thread(target=self._serve, name="sidecar-serve", daemon=True)
        self._draining = threading.Thread(target=self._drain, name="sidecar-logs", daemon=True)
        self._stopped = threading.Event()
        self.error: BaseException | None = None

    def start(self) -> SidecarRunner:
        self._serving.start()
        self._draining.start()
        return self

    def _serve(self) -> None:
        try:
            self.server.serve()
        except BaseException as exc:  # reported by wait()
            self.error = exc
        finally:
            self._stopped.set()

    def _drain(self) -> None:
        while not self._stopped.wait(0.2):
            self.flush_logs()
        self.flush_logs()

    def flush_logs(self) -> None:
        for level, message in self.server.drain_logs():
            logger.log(level, "%s", message)

    def stats(self) -> dict:
        return self.server.stats()

    def stop(self) -> None:
        """Ask the loop to close every socket (1001; 1012 once draining) and return; any thread."""
        self.server.stop()

    def drain(self, seconds: float = DRAIN_SECONDS) -> None:
        """Start draining over `seconds` and return; any thread (see docs/architecture.md).

        The listener closes, each socket is told its turn (server.draining)
        and closed with 1012 at it; the server then idles until stop().
        """
        self.server.drain(seconds)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for serve() to return; True if it did."""
        self._serving.join(timeout)
        if self._serving.is_alive():
            return False
        self._draining.join(1)
        if self.error is not None:
            raise self.error
        return True
