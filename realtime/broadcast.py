"""Broadcast helpers: send a phase event to every socket of a session.

`sync_broadcast_phase_event` is for sync Django views, `broadcast_phase_event`
for async code; both return the event's `seq`. The event's JSON text is
encoded once here; the group message carries it so that each receiver
forwards the same bytes.

Two paths, same Redis data. With the C extension built and channels_redis
configured, both helpers use `realtime.layer.FastRedisLayer`: one EVALSHA
INCRs the session counter, splices the seq into the pre-encoded text and
stores the group message for every member process, so one broadcast is one
Redis round trip with no event loop, and seq order is delivery order. The
async helper runs that blocking call in a worker thread. Otherwise (no C
extension, which is logged once, or another channel layer) the channels
layer does INCR then group_send.

Given `state` (the `session.state` payload after the event), the helpers
also store the session's state text with the event's seq
(`realtime.snapshot`): on the C path in the same script as the event, so a
socket that joins the group after the event reads a state that has it;
otherwise before the group_send, so a joiner gets the newest state and at
worst the event again (clients drop seq <= the state's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from . import keys, protocol, snapshot
from . import layer as fast_layer

logger = logging.getLogger("realtime.broadcast")

SEQ_TTL = 7 * 24 * 3600  # a session's counter outlives any game by far

# Layers without Redis (e.g. InMemoryChannelLayer in a user's own tests) get
# per-process counters (by key) and private states instead of Redis ones.
_local_seq: dict[str, int] = {}
_local_private: dict[tuple[str, int], str] = {}


class BroadcastError(ConnectionError):
    """The event could not be handed to the channel layer (e.g. Redis is down)."""


async def _next_seq(layer, code: str, group: str | None = None, key: str | None = None) -> int:
    """INCR a counter on `group`'s host (default: the session's seq)."""
    group = group or keys.group_name(code)
    key = key or keys.seq_key(code)
    if not hasattr(layer, "connection"):
        _local_seq[key] = _local_seq.get(key, 0) + 1
        return _local_seq[key]
    conn = layer.connection(layer.consistent_hash(group))
    async with conn.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, SEQ_TTL)
        seq, _ = await pipe.execute()
    return int(seq)


async def current_seq(code: str) -> int:
    """The seq of the last event broadcast to the session (0 if none)."""
    layer = get_channel_layer()
    key = keys.seq_key(code)
    if not hasattr(layer, "connection"):
        return _local_seq.get(key, 0)
    group = keys.group_name(code)
    conn = layer.connection(layer.consistent_hash(group))
    value = await conn.get(key)
    return int(value or 0)


def _state_arg(session_code: str, state: dict | None) -> tuple | None:
    """group_send_seq's `state` argument for the session's state payload."""
    if state is None:
        return None
    head, tail = protocol.encode_event_parts(protocol.SESSION_STATE, state)
    names = keys.state_key(session_code), keys.state_seq_key(session_code)
    return (*names, head, tail, snapshot.KEY_TTL)


def _private_arg(session_code: str, player_id: int, private: dict | None) -> tuple | None:
    """group_send_seq's `state` argument for a player's private state payload."""
    if private is None:
        return None
    head, tail = protocol.encode_private_parts(protocol.PLAYER_STATE, private)
    names = keys.private_key(session_code, player_id), keys.private_seq_key(session_code, player_id)
    return (*names, head, tail, snapshot.KEY_TTL)


def _public(session_code: str, event_type: str, payload: dict, state, game) -> tuple:
    """(group, counter key, head, tail, state argument) of a public event."""
    head, tail = protocol.encode_event_parts(event_type, payload, game)
    group, counter = keys.group_name(session_code), keys.seq_key(session_code)
    return group, counter, head, tail, _state_arg(session_code, state)


def _private(session_code: str, player_id: int, event_type: str, payload, private, game) -> tuple:
    """(group, counter key, head, tail, state argument) of a private event."""
    head, tail = protocol.encode_private_parts(event_type, payload, game)
    group = keys.player_group_name(session_code, player_id)
    counter = keys.pseq_key(session_code, player_id)
    return group, counter, head, tail, _private_arg(session_code, player_id, private)


@contextlib.contextmanager
def _layer_errors():
    """The channel layer's socket and Redis failures as BroadcastError."""
    try:
        yield
    except (OSError, ConnectionError) as exc:
        raise BroadcastError(f"channel layer unavailable: {exc}") from exc
    except Exception as exc:  # redis-py raises its own RedisError tree
        if type(exc).__module__.startswith("redis"):
            raise BroadcastError(f"channel layer unavailable: {exc}") from exc
        raise


def _c_broadcast(
    fast, group: str, counter: str, head: str, tail: str, state: tuple | None, given: int = 0
) -> int:
    """One Redis round trip: INCR the counter (or check the given seq against
    it), store the state, group-send. 0: the given seq was already delivered."""
    message = {"type": protocol.GROUP_EVENT_TYPE, "seq": 0, "text": ""}
    try:
        return fast.group_send_seq(
            group,
            message,
            counter,
            "seq",
            "text",
            head,
            tail,
            counter_ttl=SEQ_TTL,
            state=state,
            given_seq=given,
        )
    except (fast_layer.RedisUnavailable, fast_layer.RedisReplyError) as exc:
        raise BroadcastError(f"channel layer unavailable: {exc}") from exc


def sync_deliver(
    session_code: str,
    player_id: int | None,
    seq: int,
    head: str,
    tail: str,
    state_parts: tuple[str, str] | None = None,
) -> bool:
    """Send a message the database numbered: `head + seq + tail` to the session
    (or, with `player_id`, to that player's sockets, `seq` being their pseq),
    storing `state_parts` (the state text around the same seq) with it.

    The Redis counter holds the highest seq delivered: a seq not above it is
    not sent again (returns False), so nobody gets a message twice. With the
    C layer: one round trip. Raises BroadcastError.
    """
    if player_id is None:
        group, counter = keys.group_name(session_code), keys.seq_key(session_code)
        names = keys.state_key(session_code), keys.state_seq_key(session_code)
    else:
        group = keys.player_group_name(session_code, player_id)
        counter = keys.pseq_key(session_code, player_id)
        names = (
            keys.private_key(session_code, player_id),
            keys.private_seq_key(session_code, player_id),
        )
    state = None if state_parts is None else (*names, *state_parts, snapshot.KEY_TTL)
    fast = fast_layer.get_layer()
    if fast is not None:
        return _c_broadcast(fast, group, counter, head, tail, state, seq) > 0
    slot = None if player_id is None else (session_code, player_id)
    return async_to_sync(_given_send)(group, counter, seq, head, tail, state, slot)


async def _given_send(
    group: str,
    counter: str,
    seq: int,
    head: str,
    tail: str,
    state: tuple | None,
    slot: tuple[str, int] | None,
) -> bool:
    """`sync_deliver` without the C layer: check and raise the counter, store
    the state, group-send (three steps; the C layer does it in one script)."""
    layer = get_channel_layer()
    with _layer_errors():
        if hasattr(layer, "connection"):
            conn = layer.connection(layer.consistent_hash(group))
            # rscripts.c's scripts: the given-seq check, then the state.
            raise_seq = fast_layer.lua_script("raise_seq")
            if not await conn.eval(raise_seq, 1, counter, seq, SEQ_TTL):
                return False
            if state is not None:
                skey, sseq, shead, stail, ttl = state
                store = fast_layer.lua_script("store_state")
                await conn.eval(store, 2, skey, sseq, seq, shead, stail, ttl)
        else:
            if seq <= _local_seq.get(counter, 0):
                return False
            _local_seq[counter] = seq
            if state is not None and slot is not None:
                _local_private[slot] = f"{state[2]}{seq}{state[3]}"
        message = {"type": protocol.GROUP_EVENT_TYPE, "seq": seq, "text": f"{head}{seq}{tail}"}
        await layer.group_send(group, message)
    return True


async def _numbered_send(
    code: str,
    group: str,
    counter: str,
    head: str,
    tail: str,
    store: Callable[[int], object] | None,
) -> int:
    """The pure-Python path: INCR `counter`, `store(n)` the state, group-send."""
    layer = get_channel_layer()
    with _layer_errors():
        seq = await _next_seq(layer, code, group, counter)
        if store is not None:
            # Before the send: a socket that joins in between reads this
            # state and gets the event at worst twice. A failure is logged.
            await asyncio.to_thread(store, seq)
        message = {"type": protocol.GROUP_EVENT_TYPE, "seq": seq, "text": f"{head}{seq}{tail}"}
        await layer.group_send(group, message)
    return seq


async def _send(session_code: str, args: tuple, store: Callable[[int], object] | None) -> int:
    """Send a numbered message: the C layer's one round trip, else the Python path
    (where `store(n)` keeps the state the C layer stores in its script)."""
    fast = fast_layer.get_layer()
    if fast is not None:
        # Blocking C call: keep it off the event loop.
        return await asyncio.to_thread(_c_broadcast, fast, *args)
    return await _numbered_send(session_code, *args[:4], store)


async def broadcast_phase_event(
    session_code: str,
    event_type: str,
    payload: dict,
    state: dict | None = None,
    game: str | None = None,
) -> int:
    """Send one event to group `game_<code>`; return its seq.

    The event type must be declared (realtime.protocol.check_event): by
    `game` or the platform when `game` is given, else by anyone; an
    undeclared one raises UndeclaredEvent naming the game and the type.
    With `state` (the session.state payload that includes this event), the
    state text is stored with the event's seq no later than the event is
    sent. Raises BroadcastError when the channel layer cannot take it.
    """
    args = _public(session_code, event_type, payload, state, game)
    store = None
    if state is not None:

        def store(seq: int) -> None:
            snapshot.store_state(session_code, seq, state)

    return await _send(session_code, args, store)


def sync_broadcast_phase_event(
    session_code: str,
    event_type: str,
    payload: dict,
    state: dict | None = None,
    game: str | None = None,
) -> int:
    """Sync twin of `broadcast_phase_event` for Django views.

    With the C layer: one blocking Redis round trip, no event loop; raises
    BroadcastError within the connect/read timeouts when Redis is down.
    """
    fast = fast_layer.get_layer()
    if fast is not None:
        return _c_broadcast(fast, *_public(session_code, event_type, payload, state, game))
    return async_to_sync(broadcast_phase_event)(session_code, event_type, payload, state, game)


# --- private messages: one player's sockets, numbered by pseq ---------------------


async def broadcast_private_event(
    session_code: str,
    player_id: int,
    event_type: str,
    payload: dict,
    private: dict | None = None,
    game: str | None = None,
) -> int:
    """Send a private event to every socket of one player; return its pseq.

    `event_type` must be declared private (by `game`, when given), or be
    `player.state`. With `private` (the player's private state payload after
    this message), the player's `player.state` text is stored with the pseq,
    as `state` is for public events: a socket that joins reads a private
    state no older than the last private message it did not get. The
    session's `seq` is untouched, so nobody sees a gap. Raises BroadcastError.
    """
    args = _private(session_code, player_id, event_type, payload, private, game)
    store = None
    if private is not None:

        def store(pseq: int) -> None:
            if hasattr(get_channel_layer(), "connection"):
                snapshot.store_private(session_code, player_id, pseq, private)
            else:
                head_s, tail_s = protocol.encode_private_parts(protocol.PLAYER_STATE, private)
                _local_private[(session_code, player_id)] = f"{head_s}{pseq}{tail_s}"

    return await _send(session_code, args, store)


def sync_broadcast_private_event(
    session_code: str,
    player_id: int,
    event_type: str,
    payload: dict,
    private: dict | None = None,
    game: str | None = None,
) -> int:
    """Sync twin of `broadcast_private_event`."""
    fast = fast_layer.get_layer()
    if fast is not None:
        args = _private(session_code, player_id, event_type, payload, private, game)
        return _c_broadcast(fast, *args)
    return async_to_sync(broadcast_private_event)(
        session_code, player_id, event_type, payload, private, game
    )


# --- messages without seq, and closes ---


async def _group_send(session_code: str, message: dict, group: str | None = None) -> None:
    with _layer_errors():
        await get_channel_layer().group_send(group or keys.group_name(session_code), message)


async def broadcast_text(session_code: str, text: str) -> None:
    """Send ready-encoded JSON that is not state (e.g. a reaction): no seq is taken.

    Travels as {"type": "game.event", "text": text}; receivers forward `text`.
    """
    await _group_send(session_code, {"type": protocol.GROUP_EVENT_TYPE, "text": text})


async def close_session_sockets(
    session_code: str, code: int = protocol.CLOSE_SESSION_CLOSED
) -> None:
    """Close every socket of the session, on every server, with `code`."""
    await _group_send(session_code, {"type": protocol.GROUP_CLOSE_TYPE, "code": code})


def sync_close_session_sockets(
    session_code: str, code: int = protocol.CLOSE_SESSION_CLOSED
) -> None:
    """Sync twin of `close_session_sockets`."""
    async_to_sync(close_session_sockets)(session_code, code)


async def close_player_sockets(
    session_code: str, player_id: int, code: int = protocol.CLOSE_LEFT
) -> None:
    """Close every socket of one player, on every server, with `code`."""
    group = keys.player_group_name(session_code, player_id)
    await _group_send(session_code, {"type": protocol.GROUP_CLOSE_TYPE, "code": code}, group)


def sync_close_player_sockets(
    session_code: str, player_id: int, code: int = protocol.CLOSE_LEFT
) -> None:
    """Sync twin of `close_player_sockets`."""
    async_to_sync(close_player_sockets)(session_code, player_id, code)
