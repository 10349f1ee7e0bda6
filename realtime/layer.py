"""FastRedisLayer: the C (hiredis) channel layer, byte-compatible with
``channels_redis.core.RedisChannelLayer``.

It is configured from the same ``CHANNEL_LAYERS[alias]["CONFIG"]`` as
channels_redis and stores exactly what channels_redis stores (same keys,
sorted sets, scores, 12-byte random prefix + msgpack body, capacity and
expiry rules), so Daphne consumers on channels_redis and synchronous callers
on this layer talk through one Redis.

It is synchronous: every call is one blocking round trip (group sends
included, with one Redis host) with the GIL released, on a hiredis
connection owned by the calling thread. From async code, run it in a thread
(``asyncio.to_thread``).

Differences from channels_redis, on purpose:

* Direct sends to process-local channels (``specific.<client>!<id>``) hash
  the non-local name to pick the host, which is where every receiver reads
  (channels_redis#221: channels_redis's own ``send`` hashes the full name, so
  with several hosts its messages can land on a host nobody reads). With one
  host there is no difference.
* Message scores (the send time) come from the Redis server's clock
  (``TIME`` inside the script), not the sender's, so that concurrent sends
  are popped in the order they ran; numbered broadcasts arrive in seq order.
* ``symmetric_encryption_keys`` and serializers other than msgpack are
  refused at construction (``InvalidChannelLayerError``).
* Redis Sentinel hosts (channels_redis's ``sentinels``/``master_name`` form)
  are followed in C: the master is asked from the sentinels on every
  (re)connect and checked with ``ROLE``; a call made during a failover waits
  for the new master for at most ``socket_connect_timeout + socket_timeout``
  (docs/architecture.md, "Redis Sentinel").
* Errors are exceptions, not assertions: ``TypeError`` for bad names (same
  messages as channels), ``TypeError``/``ValueError`` for bad messages,
  ``ChannelFull`` on a full channel, ``RedisUnavailable`` (a
  ``ConnectionError``) when Redis cannot be reached within the connect
  timeout (``socket_connect_timeout``, default 1 s) or does not answer
  within the read timeout (``socket_timeout``, default 2 s).
"""

import copy
import fnmatch
import logging
import re
import threading
import uuid

from channels.exceptions import ChannelFull, InvalidChannelLayerError

from .redis_hosts import parse_hosts

logger = logging.getLogger(__name__)

try:
    from realtime import _redislayer
except ImportError as exc:  # pragma: no cover - exercised without a build
    _redislayer = None
    _IMPORT_ERROR = exc
else:
    _IMPORT_ERROR = None

#: True when the C extension is importable; the helpers then use it.
C_AVAILABLE = _redislayer is not None

if C_AVAILABLE:
    RedisUnavailable = _redislayer.RedisUnavailable
    RedisReplyError = _redislayer.RedisReplyError
else:  # pragma: no cover

    class RedisUnavailable(ConnectionError):
        """Redis could not be reached (refused, timed out, connection lost)."""

    class RedisReplyError(RuntimeError):
        """Redis answered a layer command with an error."""


REDIS_BACKEND = "channels_redis.core.RedisChannelLayer"

_FALLBACK_WARNED = False
_WARN_LOCK = threading.Lock()


def warn_fallback_once():
    """Log (once per process) that the C extension is missing."""
    global _FALLBACK_WARNED
    with _WARN_LOCK:
        if _FALLBACK_WARNED:
            return
        _FALLBACK_WARNED = True
    logger.warning(
        "realtime._redislayer is not built (%s); using channels_redis "
        "(slower). Build it with `make build` or `pip install -e .`.",
        _IMPORT_ERROR,
    )


def lua_script(name):
    """The Lua source of one script of csrc/common/rscripts.c ("store_state", ...),
    to run by SHA1 from Python (redis-py's ``register_script``)."""
    if _redislayer is None:
        raise RuntimeError(f"realtime._redislayer is not built: {_IMPORT_ERROR}")
    return _redislayer.LUA_SCRIPTS[name]


def consistent_hash(name, ring_size):
    """channels_redis' host index of ``name`` over ``ring_size`` hosts
    (``chash.c``, the hash the C layer and the sidecar use)."""
    if _redislayer is None:
        raise RuntimeError(f"realtime._redislayer is not built: {_IMPORT_ERROR}")
    return _redislayer.consistent_hash(name, ring_size)


# ---- configuration ----------------------------------------------------


def _glob_to_lua(pattern):
    """An anchored Lua pattern equal to fnmatch's glob, or None.

    Only ``*`` and literal characters translate exactly (``?`` matches a
    character in Python but a byte in Lua; ``[...]`` has other rules), so
    anything else makes the caller fall back to computing capacities in
    Python (group_send then takes two round trips).
    """
    if not pattern.isascii() or "?" in pattern or "[" in pattern:
        return None
    out = ["^"]
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch.isalnum():
            out.append(ch)
        else:
            out.append("%" + ch)
    out.append("$")
    return "".join(out)


def compile_capacities(channel_capacity):
    """channels' rules: ``[(regex, capacity)]`` plus the Lua version or None."""
    compiled, lua = [], []
    for pattern, value in (channel_capacity or {}).items():
        if hasattr(pattern, "match"):
            compiled.append((pattern, value))
            lua = None
        else:
            compiled.append((re.compile(fnmatch.translate(pattern)), value))
            if lua is not None:
                lua_pattern = _glob_to_lua(pattern)
                lua = None if lua_pattern is None else lua + [(lua_pattern, int(value))]
    return compiled, lua


# ---- the layer ----------------------------------------------------------


class FastRedisLayer:
    """Synchronous channels_redis-compatible layer backed by C.

    Same constructor arguments as ``RedisChannelLayer`` (plus
    ``socket_connect_timeout`` / ``socket_timeout``, which may also be given
    per host). Methods are blocking and thread-safe (one connection per
    thread per host).
    """

    extensions = ["groups", "flush"]

    def __init__(
        self,
        hosts=None,
        prefix="asgi",
        expiry=60,
        group_expiry=86400,
        capacity=100,
        channel_capacity=None,
        symmetric_encryption_keys=None,
        random_prefix_length=12,
        serializer_format="msgpack",
        socket_connect_timeout=None,
        socket_timeout=None,
    ):
        if not C_AVAILABLE:
            raise RuntimeError(f"realtime._redislayer is not built: {_IMPORT_ERROR}")
        if symmetric_encryption_keys:
            raise InvalidChannelLayerError(
                "symmetric_encryption_keys is not supported by the C layer "
                "(realtime.layer.FastRedisLayer): remove it from "
                "CHANNEL_LAYERS or do not use the C layer"
            )
        if serializer_format != "msgpack":
            raise InvalidChannelLayerError(
                f"serializer_format {serializer_format!r} is not supported by "
                "the C layer (msgpack only)"
            )
        if not isinstance(prefix, str):
            raise InvalidChannelLayerError("Prefix must be unicode")
        self.prefix = prefix
        self.expiry = int(expiry)
        self.group_expiry = int(group_expiry)
        self.capacity = int(capacity)
        self.hosts = parse_hosts(hosts, socket_connect_timeout, socket_timeout)
        self.ring_size = len(self.hosts)
        self.channel_capacity, lua_caps = compile_capacities(channel_capacity)
        self.client_prefix = uuid.uuid4().hex
        self._c = _redislayer.RedisLayer(
            [host.as_c() for host in self.hosts],
            prefix,
            expiry=self.expiry,
            group_expiry=self.group_expiry,
            capacity=self.capacity,
            random_prefix_length=int(random_prefix_length),
            capacity_for=self.get_capacity if self.channel_capacity else None,
            lua_capacities=lua_caps,
        )

    @classmethod
    def from_settings(cls, alias="default"):
        """Build from ``settings.CHANNEL_LAYERS[alias]["CONFIG"]``."""
        from django.conf import settings

        config = settings.CHANNEL_LAYERS[alias].get("CONFIG", {})
        return cls(**config)

    def __repr__(self):
        where = ", ".join(h.describe() for h in self.hosts)
        return f"<FastRedisLayer {where} prefix={self.prefix!r}>"

    # -- names and capacities (same rules as channels) --

    def get_capacity(self, channel):
        for pattern, capacity in self.channel_capacity:
            if pattern.match(channel):
                return capacity
        return self.capacity

    @staticmethod
    def non_local_name(name):
        if "!" in name:
            return name[: name.find("!") + 1]
        return name

    def consistent_hash(self, name):
        return self._c.consistent_hash(name)

    def new_channel(self, prefix="specific"):
        """A process-local channel name under this layer's client prefix."""
        return f"{prefix}.{self.client_prefix}!{uuid.uuid4().hex}"

    # -- channel layer API, synchronous --

    def send(self, channel, message):
        """Store ``message`` for ``channel``; ``ChannelFull`` at capacity."""
        if not self._c.send(channel, message):
            raise ChannelFull()

    def group_add(self, group, channel):
        self._c.group_add(group, channel)

    def group_discard(self, group, channel):
        self._c.group_discard(group, channel)

    def group_send(self, group, message):
        """Send to every member of ``group``. One round trip with one host.

        Full member channels are skipped and logged, never raised (as in
        channels_redis). Returns the number of process keys over capacity.
        """
        _, _, over, members = self._c.group_send(group, message)
        if over:
            logger.info("%s of %s channels over capacity in group %s", over, members, group)
        return over

    def group_send_seq(
        self,
        group,
        message,
        counter_key,
        seq_key,
        text_key,
        text_head,
        text_tail,
        counter_ttl=0,
        state=None,
        given_seq=0,
    ):
        """Group send that numbers the message in the same Redis script.

        INCRs ``counter_key`` (and EXPIREs it after ``counter_ttl`` seconds
        unless 0), sets ``message[seq_key]`` to the new value and
        ``message[text_key]`` to ``text_head + str(seq) + text_tail`` (both
        keys must be present; their values are placeholders), then sends as
        ``group_send``. Atomic with one host, so sequence order is delivery
        order. Returns the sequence number.

        ``state`` = ``(state_key, state_seq_key, head, tail, ttl)`` also
        stores ``head + str(seq) + tail`` under ``state_key`` (and seq under
        ``state_seq_key``, both for ``ttl`` seconds) unless a newer seq is
        there, in the same script; with several hosts, before the event is
        delivered. All keys must live on the group's host.

        ``given_seq`` > 0 numbers the message with that seq (taken from the
        database) instead: ``counter_key`` then holds the highest seq
        delivered, and a ``given_seq`` not above it sends and stores nothing
        and returns 0 (already delivered).
        """
        args = [counter_key, counter_ttl, seq_key, text_key, text_head, text_tail]
        if state is not None:
            args.extend(state)
        if given_seq:
            args.append(given_seq)
        seq, _, over, members = self._c.group_send(group, message, *args)
        if over:
            logger.info("%s of %s channels over capacity in group %s", over, members, group)
        return seq

    # -- receive side (the sidecar and tests) --

    def receive_raw(self, channel, timeout=5.0):
        """Pop the oldest stored bytes of ``channel`` (a plain name or a
        non-local ``...!`` name) or None after ``timeout`` seconds."""
        return self._c.receive_raw(channel, timeout)

    def decode_message(self, data):
        """Stored bytes -> ``(target, message)``; target is the popped
        ``__asgi_channel__`` (str for a send, list for a group send) or
        None."""
        return self._c.decode_message(data)

    def receive(self, channel, timeout=5.0):
        """``receive_raw`` + ``decode_message``: ``(target, message)`` or None."""
        data = self._c.receive_raw(channel, timeout)
        return None if data is None else self._c.decode_message(data)

    def flush(self):
        """Delete every key under the prefix on every host."""
        self._c.flush()

    def close(self):
        """Close the calling thread's connections."""
        self._c.close()


# ---- the process-wide layer for helpers ------------------------------------

_layers = {}  # alias -> (backend, CONFIG copy, FastRedisLayer)
_layers_lock = threading.Lock()


def reset_layers(setting=None, **kwargs):
    """Forget the cached layers (connected to Django's setting_changed)."""
    if setting in (None, "CHANNEL_LAYERS"):
        with _layers_lock:
            _layers.clear()


def get_layer(alias="default"):
    """The process's FastRedisLayer for ``CHANNEL_LAYERS[alias]``, or None.

    None when the C extension is missing (logged once) or the alias does not
    use ``channels_redis.core.RedisChannelLayer`` (e.g. the in-memory layer):
    callers then use the channels layer itself. The layer is rebuilt when the
    alias's settings change (compared on every call, so code that assigns
    ``settings.CHANNEL_LAYERS`` directly is followed too). Raises
    InvalidChannelLayerError for settings the C layer refuses (encryption,
    other serializers).
    """
    if not C_AVAILABLE:
        warn_fallback_once()
        return None
    from django.conf import settings

    conf = getattr(settings, "CHANNEL_LAYERS", {}).get(alias) or {}
    backend = conf.get("BACKEND")
    if backend != REDIS_BACKEND:
        return None
    config = conf.get("CONFIG", {})
    cached = _layers.get(alias)
    if cached is not None and cached[0] == backend and cached[1] == config:
        return cached[2]
    with _layers_lock:
        layer = FastRedisLayer(**config)
        _layers[alias] = (backend, copy.deepcopy(config), layer)
    return layer


def _connect_signals():
    try:
        from django.core.signals import setting_changed
    except ImportError:  # pragma: no cover
        return
    setting_changed.connect(reset_layers, dispatch_uid="realtime.layer.reset")


_connect_signals()
