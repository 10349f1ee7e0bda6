"""After an action's transaction commits: broadcast its events, keep Redis in step.

The one place where events and state leave the platform: used by the REST
views, the socket actions and the timer tasks, so all leave the same trace:
public events in order with the `session.state` snapshot WebSocket servers
read, private events to one player each with that player's private state,
the key lifetimes of an ended session, and sockets closed where asked.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings

from realtime import protocol, session_keys, snapshot
from realtime.broadcast import (
    BroadcastError,
    sync_broadcast_phase_event,
    sync_broadcast_private_event,
    sync_close_player_sockets,
    sync_close_session_sockets,
)

from . import registry, services
from .context import Event, Outcome
from .models import GameSession

logger = logging.getLogger("lobby.publish")

# Clients get this much only; the cause (Redis' address, its error) is logged.
UNTOLD = "The change is saved but live players were not told."
# Redis keys of an ended session outlive the grace period by this much (the
# purge deletes them anyway).
KEY_MARGIN = 3600


def publish_created(session: GameSession) -> dict | None:
    """A new session: its host token's digest and its first state (seq 0) to
    Redis, so sockets can connect. None, or the failure report (logged)."""
    stored = snapshot.register_session(session.code, session.host_token_digest)
    if stored and snapshot.store_state(session.code, 0, services.session_state(session)):
        return None
    return {"ok": False, "error": UNTOLD}


def publish_outcome(
    session: GameSession, outcome: Outcome, log: logging.Logger = logger
) -> dict | None:
    """Everything an action left to do after its commit, in order.

    New players' token digests go to Redis first (their sockets may
    connect at once) and leavers' are removed (no new socket of theirs);
    then the events; then leavers' open sockets are closed, after the
    events, so that they still see them.
    """
    for player_id, digest in outcome.joined:
        snapshot.register_player(session.code, digest, player_id)
    for _, digest in outcome.left:
        snapshot.unregister_player(session.code, digest)
    close_players = [player_id for player_id, _ in outcome.left]
    return publish(session, outcome.events, outcome.close_code, log, close_players)


def publish(
    session: GameSession,
    events: list[Event | tuple[str, dict]],
    close_code: int | None = None,
    log: logging.Logger = logger,
    close_players: list[int] = (),
) -> dict | None:
    """Broadcast events in order with the new states, then close sockets if asked.

    The `session.state` snapshot is stored by the broadcast of the last
    public event, with its seq (realtime.broadcast), so a socket joining at
    any moment reads a state no older than the last event it did not get;
    likewise each player's private state with the last private event to them.

    Returns the report for a response body: {"ok": true, "seq": [...]} (the
    seq of each public event), or {"ok": false, "error": ...} (also logged
    to `log`) when the change was saved but Redis could not take it; None
    when there was nothing to send.
    """
    events = [e if isinstance(e, Event) else Event(*e) for e in events]
    if not events and close_code is None and not close_players:
        return None
    code, game = session.code, session.game
    last_public = max((i for i, e in enumerate(events) if e.to is None), default=-1)
    last_private = {e.to: i for i, e in enumerate(events) if e.to is not None}
    recipients = {p.id: p for p in session.players.active().filter(id__in=last_private)}
    report: dict = {"ok": True, "seq": []}
    try:
        for index, event in enumerate(events):
            if event.to is None:
                state = services.session_state(session) if index == last_public else None
                seq = sync_broadcast_phase_event(code, event.type, event.payload, state, game)
                report["seq"].append(seq)
                continue
            player = recipients.get(event.to)
            if player is None:
                continue  # they left meanwhile
            private = None
            if index == last_private[event.to]:
                private = registry.of(session).private_state(session, player)
                protocol.check_state(game, private, private=True)
            payload = event.payload
            if event.type == protocol.PLAYER_STATE:
                if private is None:
                    continue  # a later message to this player carries it
                payload = private
            sync_broadcast_private_event(code, event.to, event.type, payload, private, game)
    except BroadcastError as exc:
        log.error("broadcast of %s to %s failed: %s", event.type, code, exc)
        return {"ok": False, "error": UNTOLD}
    if session.ended_at is not None:
        # After the snapshot write, which would set a full day's TTL again.
        try:
            ttl = int(settings.PARTYHUB_END_GRACE) + KEY_MARGIN
            player_ids = list(session.players.values_list("id", flat=True))
            session_keys.end_session(code, ttl, session.closed, player_ids)
        except redis.RedisError as exc:
            log.warning("could not shorten the Redis keys of %s: %s", code, exc)
    try:
        for player_id in close_players:
            sync_close_player_sockets(code, player_id, protocol.CLOSE_LEFT)
        if close_code is not None:
            sync_close_session_sockets(code, close_code)
    except BroadcastError as exc:
        log.error("closing sockets of %s failed: %s", code, exc)
        return {"ok": False, "error": UNTOLD}
    return report
