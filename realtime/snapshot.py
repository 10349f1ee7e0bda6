"""What the WebSocket servers read from Redis instead of calling Django.

The C sidecar authenticates sockets and sends the first `session.state`
without a Python call per connection, so Django keeps, per session, on the
Redis host that holds the session's group:

- `partyhub:session:<CODE>` — a hash: `host` -> SHA-256 hex of the host token,
  `p:<SHA-256 hex of a player token>` -> player id, `closed`, and `v`, the
  session seq it was written at: rewritten whole whenever the tokens change
  (lobby.outbox), never by an older version;
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
back empty. `keys.KEY_READY` on each Redis host says that this host's keys
were rebuilt since the host started (its value: the host's `run_id` and a
part new at each rebuild): while it is missing, a socket whose session hash
is not found is told to retry (1013) instead of "no such game" (4004).

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
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry
from redis.sentinel import Sentinel

from . import keys, layer, protocol
from .redis_hosts import RedisHost, channel_layer_hosts
from .redis_sentinel import SentinelConnection, failover_retry

logger = logging.getLogger("realtime.snapshot")

KEY_TTL = 24 * 3600  # refreshed on every write; a live game never loses them
TIMEOUT = 2.0

_clients: dict[tuple[int, str], redis.Redis] = {}
_scripts: dict[str, Script] = {}  # rscripts.c's scripts by name, run by SHA1
_clients_lock = threading.Lock()


def client_for(code: str, group: str | None = None) -> redis.Redis:
    """A sync Redis client for the host that holds `group` (default `game_<code>`)."""
    return client_for_key(group or keys.group_name(code))


def client_for_key(name: str) -> redis.Redis:
    """A sync Redis client for the host channels_redis' hash places `name` on."""
    hosts = channel_layer_hosts()
    index = layer.consistent_hash(name, len(hosts))
    host = hosts[index]
    key = (index, repr(host))  # a Sentinel entry holds a list: not hashable
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _new_client(host)
    return client


def all_clients() -> list[redis.Redis]:
    """A sync client per Redis host of the channel layer, in `hosts` order."""
    clients = []
    for index, host in enumerate(channel_layer_hosts()):
        key = (index, repr(host))
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = _new_client(host)
        clients.append(client)
    return clients


def _new_client(host: RedisHost) -> redis.Redis:
    """A redis-py client for one channel-layer host."""
    options = {
        "socket_timeout": TIMEOUT,
        "socket_connect_timeout": TIMEOUT,
        "db": host.db,
        "username": host.username,
        "password": host.password,
    }
    if host.sentinel is not None:
        # As channels_redis: the sentinels get their own credentials, the
        # master the host's. A dead sentinel is skipped at once, not retried;
        # the master's connections follow a failover (realtime.redis_sentinel).
        s = host.sentinel
        sentinel = Sentinel(
            s.sentinels,
            sentinel_kwargs={
                "socket_timeout": TIMEOUT,
                "socket_connect_timeout": TIMEOUT,
                "retry": Retry(NoBackoff(), 0),
                "username": s.username,
                "password": s.password,
            },
        )
        return sentinel.master_for(
            s.master_name,
            connection_class=SentinelConnection,
            retry=failover_retry(),
            **options,
        )
    # One quick retry: a view must not sit in redis-py's default backoff.
    options["retry"] = Retry(NoBackoff(), 1)
    if host.path:
        return redis.Redis(unix_socket_path=host.path, **options)
    return redis.Redis(host=host.host, port=host.port, **options)


def register_session(code: str, host_digest: str) -> bool:
    """Store the host token's digest; False (logged) if Redis failed."""
    return _run(code, "register session", _hset, code, keys.FIELD_HOST, host_digest)


def store_tokens(code: str, version: int, tokens: dict) -> None:
    """Rewrite the session's token hash from `tokens` = {"host": digest,
    "players": {digest: player id}, "closed": bool} unless Redis holds a newer
    `version` (the session seq it was read at). Raises redis.RedisError."""
    fields = [keys.FIELD_HOST, tokens["host"]]
    for digest, player_id in tokens["players"].items():
        fields += [f"{keys.FIELD_PLAYER}{digest}", str(player_id)]
    if tokens.get("closed"):
        fields += [keys.FIELD_CLOSED, "1"]
    client = client_for(code)
    _script(client, "store_tokens")(
        keys=[keys.session_key(code)], args=[int(version), KEY_TTL, *fields], client=client
    )


def raise_seq(client: redis.Redis, key: str, seq: int) -> bool:
    """Raise a delivered-seq counter (keys.seq_key, keys.pseq_key) to `seq`,
    never lowering it; whether it was raised. Raises redis.RedisError."""
    return bool(_script(client, "raise_seq")(keys=[key], args=[int(seq), KEY_TTL], client=client))


def ready(client: redis.Redis) -> bool:
    """Whether this host's keys were rebuilt since it started (KEY_READY
    names its current run_id). Raises redis.RedisError."""
    pipe = client.pipeline(transaction=False)
    pipe.get(keys.KEY_READY)
    pipe.info("server")
    marker, info = pipe.execute()
    return marker is not None and marker.decode().split(":")[0] == str(info.get("run_id"))


def mark_ready(client: redis.Redis) -> None:
    """Record that this host's keys are rebuilt (no TTL): its run_id and a
    random part, new at every rebuild, so the WebSocket servers, which watch
    the value, notice a rebuild even if they missed the key's absence.
    Raises redis.RedisError."""
    run_id = client.info("server").get("run_id")
    client.set(keys.KEY_READY, f"{run_id}:{secrets.token_hex(4)}")


def store_state(code: str, seq: int, payload: dict) -> bool:
    """Store the `session.state` text for `seq` unless a newer one is there."""
    head, tail = protocol.encode_event_parts(protocol.SESSION_STATE, payload)
    names = keys.state_key(code), keys.state_seq_key(code)
    return _run(code, "store state", _store, names, seq, head, tail)


def store_private(code: str, player_id: int, pseq: int, payload: dict) -> None:
    """Store a player's `player.state` text for `pseq` unless a newer one is there.

    Used where the C layer is not (it stores it with the message). Raises
    redis.RedisError.
    """
    head, tail = protocol.encode_private_parts(protocol.PLAYER_STATE, payload)
    store_private_text(code, player_id, pseq, head, tail)


def store_private_text(code: str, player_id: int, pseq: int, head: str, tail: str) -> None:
    """`store_private` for a text already split around its pseq. Raises redis.RedisError."""
    names = keys.private_key(code, player_id), keys.private_seq_key(code, player_id)
    group = keys.player_group_name(code, player_id)
    _store(client_for(code, group), names, pseq, head, tail)


def store_state_text(code: str, seq: int, head: str, tail: str) -> None:
    """`store_state` for a text already split around its seq. Raises redis.RedisError."""
    names = keys.state_key(code), keys.state_seq_key(code)
    _store(client_for(code), names, seq, head, tail)


def read_private(code: str, player_id: int) -> str | None:
    """The stored `player.state` text of a player (None if none). Raises redis.RedisError."""
    group = keys.player_group_name(code, player_id)
    text = client_for(code, group).get(keys.private_key(code, player_id))
    return None if text is None else text.decode("utf-8")


def _hset(client: redis.Redis, code: str, field: str, value: str) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.hset(keys.session_key(code), field, value)
    pipe.expire(keys.session_key(code), KEY_TTL)
    pipe.execute()


def _store(client: redis.Redis, names: tuple[str, str], seq: int, head: str, tail: str) -> None:
    """head + seq + tail under names[0], seq under names[1], unless newer (rscripts.c)."""
    _script(client, "store_state")(keys=names, args=[int(seq), head, tail, KEY_TTL], client=client)


def _script(client: redis.Redis, name: str) -> Script:
    """Script `name` of rscripts.c, registered once (redis-py runs it by SHA1)."""
    script = _scripts.get(name)
    if script is None:
        script = _scripts[name] = client.register_script(layer.lua_script(name))
    return script


def _run(code: str, what: str, func, *args) -> bool:
    try:
        func(client_for(code), *args)
    except redis.RedisError as exc:
        logger.error("%s for %s failed: %s", what, code, exc)
        return False
    return True
