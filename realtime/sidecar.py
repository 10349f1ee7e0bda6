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

from . import config, keys, protocol
from .redis_hosts import channel_layer_hosts
from .settings_table import SETTINGS

logger = logging.getLogger("realtime.sidecar")


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


def log_level() -> int:
    return logger.getEffectiveLevel()


def sidecar_kwargs(**overrides) -> dict:
    """Keyword arguments for realtime._sidecar.Server from Django settings."""
    layer_config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
    if layer_config.get("symmetric_encryption_keys"):
        raise ImproperlyConfigured("the sidecar does not support encrypted channel layers")
    values = config.all_settings()
    host, port = parse_bind(overrides.pop("bind", None) or values["bind"])
    kwargs = {
        "host": host,
        "port": port,
        "redis_hosts": redis_hosts(),
        "prefix": layer_config.get("prefix", "asgi"),
        "expiry": int(layer_config.get("expiry", 60)),
        "group_expiry": int(layer_config.get("group_expiry", 86400)),
        "capacity": int(layer_config.get("capacity", 100)),
        "allowed_origins": config.allowed_origins(),
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
    kwargs.update((s.name, values[s.name]) for s in SETTINGS if s.to_c)
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
