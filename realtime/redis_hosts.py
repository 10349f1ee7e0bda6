"""channels_redis' ``hosts`` setting, read once: one parser, one `RedisHost`.

Every Redis client of partyhub places keys on the hosts of
``CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]`` the way channels_redis does:
the C layer (realtime.layer), the sidecar (realtime.sidecar) and the sync
redis-py clients of realtime.snapshot. They all read the setting through
`parse_hosts` and hand a host to C in one shape, `RedisHost.as_c()` (read by
csrc/common/pyhost.c for both extension types).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import NamedTuple

import redis.asyncio.connection
import redis.connection
from channels.exceptions import InvalidChannelLayerError
from django.conf import settings

DEFAULT_CONNECT_TIMEOUT = 1.0
DEFAULT_SOCKET_TIMEOUT = 2.0
# Keywords of a channels_redis host dict the C code uses.
HOST_KEYWORDS = ("db", "password", "username", "socket_timeout", "socket_connect_timeout")
#: The ``sentinel_kwargs`` the C layer understands (redis-py's names).
SENTINEL_KWARGS = frozenset({"username", "password", "socket_timeout", "socket_connect_timeout"})


class SentinelConfig(NamedTuple):
    """How to find a host's master through Redis Sentinel."""

    master_name: str
    sentinels: list[tuple[str, int]]
    username: str | None
    password: str | None
    timeout: float  # connect and reply, per sentinel
    failover_wait: float  # the longest a call waits for a new master


class RedisHost(NamedTuple):
    """One Redis host of the channel layer, every form channels_redis takes.

    `host` is None for a unix socket (`path`) or a Sentinel entry
    (`sentinel`); `username` None means `AUTH <password>`, `password` None
    no AUTH.
    """

    host: str | None
    port: int
    path: str | None
    db: int
    username: str | None
    password: str | None
    connect_timeout: float
    timeout: float
    sentinel: SentinelConfig | None

    def resolved(self, resolve: Callable[[str], str]) -> RedisHost:
        """A copy with `resolve` applied to the host and sentinel names."""
        sentinel = self.sentinel
        if sentinel is not None:
            addresses = [(resolve(h), p) for h, p in sentinel.sentinels]
            sentinel = sentinel._replace(sentinels=addresses)
        host = resolve(self.host) if self.host is not None else None
        return self._replace(host=host, sentinel=sentinel)

    def as_c(self, timeouts: bool = True) -> dict:
        """The dict the C extension reads (layer and sidecar alike).

        `host` is the address or the unix socket path; a Sentinel entry has
        `master_name` and `sentinels` instead. Unset names are left out;
        the timeouts (seconds) only with `timeouts` (the sidecar has none).
        """
        c = {"db": self.db, "username": self.username, "password": self.password}
        if self.sentinel is not None:
            s = self.sentinel
            c.update(
                master_name=s.master_name,
                sentinels=[{"host": h, "port": p} for h, p in s.sentinels],
                sentinel_username=s.username,
                sentinel_password=s.password,
            )
            if timeouts:
                c.update(sentinel_timeout=s.timeout, failover_wait=s.failover_wait)
        elif self.path:
            c.update(host=self.path, port=0)
        else:
            c.update(host=self.host, port=self.port)
        if timeouts:
            c.update(connect_timeout=self.connect_timeout, timeout=self.timeout)
        return {k: v for k, v in c.items() if v is not None}

    def describe(self) -> str:
        """Where the host is, for messages: no passwords."""
        if self.sentinel is not None:
            return f"sentinel:{self.sentinel.master_name}/{self.db}"
        if self.path:
            return f"unix:{self.path}"
        return f"{self.host}:{self.port}/{self.db}"


def _timeout(value, default):
    if value is None:
        return default
    value = float(value)
    if value <= 0:
        raise InvalidChannelLayerError("Redis timeouts must be > 0 seconds")
    return value


def _parse_url(url):
    """What a redis:// or unix:// URL says: only the settings it names."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    conf = {}
    if parts.username:
        conf["username"] = urllib.parse.unquote(parts.username)
    if parts.password:
        conf["password"] = urllib.parse.unquote(parts.password)
    if parts.scheme == "redis":
        conf["host"] = parts.hostname or "localhost"
        conf["port"] = parts.port or 6379
        path = parts.path.lstrip("/")
        if path:
            conf["db"] = int(path)
    elif parts.scheme == "unix":
        conf["path"] = parts.path
    elif parts.scheme == "rediss":
        raise InvalidChannelLayerError(
            "rediss:// (TLS) is not supported by the C layer (hiredis 0.14 has no TLS)"
        )
    else:
        raise InvalidChannelLayerError(f"Unsupported Redis URL: {url!r}")
    if "db" in query:
        conf["db"] = int(query.pop("db"))
    if "password" in query:
        conf["password"] = query.pop("password")
    for key in ("socket_timeout", "socket_connect_timeout"):
        if key in query:
            conf[key] = float(query.pop(key))
    return conf


def _is_tls(entry: dict) -> bool:
    """A host dict asking for TLS (`ssl`, or a redis-py SSL connection class).
    Other classes and `retry` (e.g. from realtime.redis_sentinel.sentinel_host)
    tune redis-py's own reconnects; the C code has its own and ignores them."""
    cls = entry.get("connection_class")
    tls = (redis.connection.SSLConnection, redis.asyncio.connection.SSLConnection)
    return bool(entry.get("ssl")) or (isinstance(cls, type) and issubclass(cls, tls))


def _parse_sentinel(entry, connect_timeout, timeout) -> SentinelConfig:
    """The Sentinel part of a channels_redis Sentinel host dict.

    channels_redis passes ``sentinels`` and ``sentinel_kwargs`` to redis-py's
    ``Sentinel`` (the sentinels get no password unless ``sentinel_kwargs``
    has one) and the other keys to the master's connections. A call waits
    for a failover at most ``connect_timeout + timeout`` seconds.
    """
    sentinels = entry.pop("sentinels", None)
    if not sentinels or isinstance(sentinels, (str, bytes)):
        raise InvalidChannelLayerError("Redis Sentinel needs a list of (host, port) sentinels")
    kwargs = dict(entry.pop("sentinel_kwargs", None) or {})
    unknown = set(kwargs) - SENTINEL_KWARGS
    if unknown:
        raise InvalidChannelLayerError(
            f"sentinel_kwargs {sorted(unknown)} not supported by the C layer "
            f"(only {sorted(SENTINEL_KWARGS)})"
        )
    sentinel_timeout = _timeout(
        kwargs.get("socket_timeout", kwargs.get("socket_connect_timeout")), connect_timeout
    )
    return SentinelConfig(
        str(entry.pop("master_name")),
        [(str(host), int(port)) for host, port in sentinels],
        kwargs.get("username"),
        kwargs.get("password"),
        sentinel_timeout,
        connect_timeout + timeout,
    )


def parse_hosts(hosts, socket_connect_timeout=None, socket_timeout=None) -> list[RedisHost]:
    """Read channels_redis's ``hosts`` setting, in its order.

    Accepts what channels_redis accepts: ``redis://`` and ``unix://`` URLs
    (``redis://:password@host:port/db``, with optional username),
    ``(host, port)`` pairs and dicts with ``address`` (a URL) or
    ``host``/``port`` or Sentinel's ``sentinels``/``master_name``/
    ``sentinel_kwargs``, plus ``db``, ``password``, ``username``,
    ``socket_timeout``, ``socket_connect_timeout`` (the two timeouts, when
    a host does not say, default to the arguments, then to 1 s and 2 s).
    Raises InvalidChannelLayerError for what the C code cannot serve (TLS,
    other URL schemes, unknown ``sentinel_kwargs``).
    """
    if not hosts:
        hosts = ["redis://localhost:6379"]
    if isinstance(hosts, (str, bytes)):
        raise InvalidChannelLayerError(
            "You must pass a list of Redis hosts, even if there is only one."
        )
    result = []
    for entry in hosts:
        sentinel = None
        if isinstance(entry, dict):
            entry = dict(entry)
            if _is_tls(entry):
                raise InvalidChannelLayerError("TLS Redis connections are not supported")
            conf = {k: entry[k] for k in HOST_KEYWORDS if k in entry}
            if "master_name" in entry:
                conf.update(host=None, port=0)
                sentinel = entry  # parsed below, once the timeouts are known
            elif "address" in entry:
                # As redis-py's from_url (channels_redis' create_pool): what
                # the URL says wins over the keywords.
                conf.update(_parse_url(entry.pop("address")))
            else:
                conf.update(host=entry.get("host", "localhost"), port=int(entry.get("port", 6379)))
                path = entry.get("unix_socket_path") or entry.get("path")
                if path:
                    conf["path"] = path
        elif isinstance(entry, (tuple, list)):
            conf = {"host": entry[0], "port": int(entry[1])}
        else:
            conf = _parse_url(entry)
        path = conf.get("path")
        connect_timeout = _timeout(
            conf.get("socket_connect_timeout", socket_connect_timeout), DEFAULT_CONNECT_TIMEOUT
        )
        timeout = _timeout(conf.get("socket_timeout", socket_timeout), DEFAULT_SOCKET_TIMEOUT)
        if sentinel is not None:
            sentinel = _parse_sentinel(sentinel, connect_timeout, timeout)
        result.append(
            RedisHost(
                None if path or sentinel else str(conf["host"]),
                int(conf.get("port") or 0),
                path,
                int(conf.get("db") or 0),
                conf.get("username"),
                conf.get("password"),
                connect_timeout,
                timeout,
                sentinel,
            )
        )
    return result


def channel_layer_hosts(alias: str = "default") -> list[RedisHost]:
    """The hosts of ``settings.CHANNEL_LAYERS[alias]``, parsed."""
    config = settings.CHANNEL_LAYERS[alias].get("CONFIG", {})
    return parse_hosts(config.get("hosts"))
