"""What the WebSocket servers read from Redis instead of calling Django.

The C sidecar authenticates sockets and sends the first `session.state`
without a Python call per connection, so Django keeps, per session, on the
Redis host that holds the session's group:

- `partyhub:session:<CODE>` — a hash: `host` -> SHA-256 hex of the host token,
  `p:<SHA-256 hex of a player token>` -> player id;
- `partyhub:state:<CODE>` — the exact text of the latest `session.state`
  message, written only if its seq is newer than the stored one
  (`partyhub:stateseq:<CODE>`), so a slow writer never replaces a newer state.
  After a game action the broadcast of its last event stores it (the C
  layer: in the same script as the event, see realtime.broadcast); only a
  new session's first state (seq 0) is written by `store_state` here.

Per player, on the Redis host that holds the player's group
(`player_<CODE>_<id>`):

- `partyhub:private:<CODE>:<id>` — the exact text of the player's latest
  `player.state` message, with its pseq in `partyhub:privateseq:<CODE>:<id>`
  (the same newer-only rule). The broadcast of each private message to the
  player stores it, in the same script; both servers send it to that
  player's sockets right after `session.state`.

What Redis holds here is a cache of the database (lobby.outbox, lobby.relay):
every text and digest is written with the seq (or, for the token hash, the
session seq) it belongs to, newer-only, so a late or repeated write never
replaces a newer one, and the relay can rebuild all of it after Redis comes
back empty. `READY_KEY` on each Redis host says that this host's keys were
rebuilt since the host started (its value: the host's `run_id` and a part
new at each rebuild): while it is missing, a socket whose session hash is
not found is told to retry (1013) instead of "no such game" (4004).

Writes use a small sync Redis client (redis-py, a channels_redis dependency)
with short timeouts; a failure is logged and reported, never raised into the
game action that caused it. With a Sentinel host in CHANNEL_LAYERS the client
asks the sentinels for the master (redis-py's `Sentinel.master_for`) and, on a
lost connection or a READONLY reply, asks again with a short backoff for about
as long as the C layer waits for a failover (realtime.redis_sentinel).
"""

from __future__ import annotations

import logging
import secrets
import threading

import redis
from channels_redis.utils import _consistent_hash, decode_hosts
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from . import protocol
from .redis_sentinel import SentinelConnection, failover_retry

logger = logging.getLogger("realtime.snapshot")

KEY_TTL = 24 * 3600  # refreshed on every write; a live game never loses them
TIMEOUT = 2.0

STORE_STATE = """
local current = tonumber(redis.call('GET', KEYS[2]) or '-1')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
  return 1
end
return 0
"""

# The token hash, rewritten whole (DEL + HSET, one script) unless it holds a
# newer version (`v`: the session seq of the write). ARGV: version, TTL, then
# field/value pairs.
_STORE_TOKENS = """
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '-1')
if tonumber(ARGV[1]) < current then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

# Raise a delivered-seq counter to ARGV[1] (never lower it). ARGV[2]: TTL.
_RAISE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
"""

# On every Redis host: present once this host's keys were rebuilt from the
# database since it started; the value is the host's run_id (INFO server).
READY_KEY = "partyhub:ready"

_clients: dict[tuple, redis.Redis] = {}
_clients_lock = threading.Lock()


def session_key(code: str) -> str:
    return f"partyhub:session:{code}"


def state_key(code: str) -> str:
    return f"partyhub:state:{code}"


def state_seq_key(code: str) -> str:
    return f"partyhub:stateseq:{code}"


# The sidecar builds the same key: "<prefix><CODE>:<player id>" (csrc/server_conn.c).
PRIVATE_KEY_PREFIX = "partyhub:private:"


def private_key(code: str, player_id: int) -> str:
    return f"{PRIVATE_KEY_PREFIX}{code}:{player_id}"


def private_seq_key(code: str, player_id: int) -> str:
    return f"partyhub:privateseq:{code}:{player_id}"


def player_keys(code: str, player_id: int) -> list[str]:
    """The keys one player of a session has on its group's host."""
    return [
        protocol.pseq_key(code, player_id),
        private_key(code, player_id),
        private_seq_key(code, player_id),
    ]


def client_for(code: str, group: str | None = None) -> redis.Redis:
    """A sync Redis client for the host that holds `group` (default `game_<code>`)."""
    return client_for_key(group or protocol.group_name(code))


def client_for_key(name: str) -> redis.Redis:
    """A sync Redis client for the host channels_redis' hash places `name` on."""
    hosts = _hosts()
    index = _consistent_hash(name, len(hosts))
    return _client(index, hosts[index])


def _hosts() -> list:
    config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
    return decode_hosts(config.get("hosts"))


def _client(index: int, host) -> redis.Redis:
    """The cached client of host number `index` of the channel layer."""
    host = dict(host)
    key = (index, repr(sorted(host.items())))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _new_client(host)
    return client


def _new_client(host: dict) -> redis.Redis:
    """A redis-py client for one channels_redis host entry (a copy, consumed)."""
    options = {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT}
    if "master_name" in host:
        # As channels_redis: sentinel_kwargs go to the sentinels, the rest to
        # the master. A dead sentinel is skipped at once, not retried. The
        # async connection class and retry of sentinel_host() are replaced.
        sentinel_kwargs = {**options, "retry": Retry(NoBackoff(), 0)}
        sentinel_kwargs.update(host.pop("sentinel_kwargs", None) or {})
        sentinel = Sentinel(host.pop("sentinels"), sentinel_kwargs=sentinel_kwargs)
        name = host.pop("master_name")
        host.update(connection_class=SentinelConnection, retry=failover_retry())
        return sentinel.master_for(name, **{**options, **host})
    # One quick retry: a view must not sit in redis-py's default backoff.
    options["retry"] = Retry(NoBackoff(), 1)
    if "address" in host:
        return redis.Redis.from_url(host.pop("address"), **{**options, **host})
    return redis.Redis(**{**options, **host})


def all_clients() -> list[redis.Redis]:
    """A sync client per Redis host of the channel layer, in `hosts` order."""
    return [_client(index, host) for index, host in enumerate(_hosts())]


def register_session(code: str, host_digest: str) -> bool:
    """Store the host token's digest; False (logged) if Redis failed."""
    return _run(code, "register session", _hset, code, "host", host_digest)


def store_tokens(code: str, version: int, tokens: dict) -> None:
    """Rewrite the session's token hash from `tokens` = {"host": digest,
    "players": {digest: player id}, "closed": bool} unless Redis holds a newer
    `version` (the session seq it was written at). Raises redis.RedisError."""
    fields = ["host", tokens["host"]]
    for digest, player_id in tokens["players"].items():
        fields += [f"p:{digest}", str(player_id)]
    if tokens.get("closed"):
        fields += ["closed", "1"]
    client_for(code).eval(_STORE_TOKENS, 1, session_key(code), int(version), KEY_TTL, *fields)


def raise_counter(client: redis.Redis, key: str, seq: int) -> None:
    """Raise a delivered-seq counter (the session's seq, a player's pseq) to
    `seq`, never lowering it. Raises redis.RedisError."""
    client.eval(_RAISE, 1, key, int(seq), KEY_TTL)


def ready(client: redis.Redis) -> bool:
    """Whether this host's keys were rebuilt since it started (READY_KEY
    holds its current run_id). Raises redis.RedisError."""
    pipe = client.pipeline(transaction=False)
    pipe.get(READY_KEY)
    pipe.info("server")
    marker, info = pipe.execute()
    return marker is not None and marker.decode().split(":")[0] == str(info.get("run_id"))


def mark_ready(client: redis.Redis) -> None:
    """Record that this host's keys are rebuilt (no TTL): its run_id and a
    random part, new at every rebuild, so the WebSocket servers, which watch
    the value, notice a rebuild even if they missed the key's absence.
    Raises redis.RedisError."""
    run_id = client.info("server").get("run_id")
    client.set(READY_KEY, f"{run_id}:{secrets.token_hex(4)}")


def state_parts(payload: dict) -> tuple[str, str]:
    """The `session.state` JSON text split around its seq: head + str(seq) + tail.

    The same text as `protocol.dumps(protocol.session_state(payload, seq))`,
    encoded before the seq is known (the C layer splices it in on Redis).
    """
    return protocol.message_parts(protocol.SESSION_STATE, "seq", payload)


def store_state(code: str, seq: int, payload: dict) -> bool:
    """Store the `session.state` text for `seq` unless a newer one is there."""
    head, tail = state_parts(payload)
    keys = state_key(code), state_seq_key(code)
    return _run(code, "store state", _store, keys, seq, f"{head}{int(seq)}{tail}")


def private_parts(payload: dict) -> tuple[str, str]:
    """The `player.state` JSON text split around its pseq (see state_parts)."""
    return protocol.message_parts(protocol.PLAYER_STATE, "pseq", payload)


def store_private(code: str, player_id: int, pseq: int, payload: dict) -> None:
    """Store a player's `player.state` text for `pseq` unless a newer one is there.

    Used where the C layer is not (it stores it with the message). Raises
    redis.RedisError.
    """
    store_private_text(code, player_id, pseq, *private_parts(payload))


def store_private_text(code: str, player_id: int, pseq: int, head: str, tail: str) -> None:
    """`store_private` for a text already split around its pseq. Raises redis.RedisError."""
    keys = private_key(code, player_id), private_seq_key(code, player_id)
    group = protocol.player_group_name(code, player_id)
    _store(client_for(code, group), keys, pseq, f"{head}{int(pseq)}{tail}")


def store_state_text(code: str, seq: int, head: str, tail: str) -> None:
    """`store_state` for a text already split around its seq. Raises redis.RedisError."""
    keys = state_key(code), state_seq_key(code)
    _store(client_for(code), keys, seq, f"{head}{int(seq)}{tail}")


def read_private(code: str, player_id: int) -> str | None:
    """The stored `player.state` text of a player (None if none). Raises redis.RedisError."""
    group = protocol.player_group_name(code, player_id)
    text = client_for(code, group).get(private_key(code, player_id))
    return None if text is None else text.decode("utf-8")


def _hset(client: redis.Redis, code: str, field: str, value: str) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.hset(session_key(code), field, value)
    pipe.expire(session_key(code), KEY_TTL)
    pipe.execute()


def _store(client: redis.Redis, keys: tuple[str, str], seq: int, text: str) -> None:
    client.eval(STORE_STATE, 2, *keys, seq, text, KEY_TTL)


def _run(code: str, what: str, func, *args) -> bool:
    try:
        func(client_for(code), *args)
    except redis.RedisError as exc:
        logger.error("%s for %s failed: %s", what, code, exc)
        return False
    return True
