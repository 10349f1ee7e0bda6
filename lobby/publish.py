"""After an action's transaction commits: hand its outbox rows to Redis, in order.

The one place where events and state leave the platform: used by the REST
views, the socket actions, the timer tasks and the relay (lobby.relay), so
all leave the same trace. The rows (lobby.outbox) were written with the
change; each is delivered as: the token digests it carries (before its
event: a new player's socket may connect at once), its event with the seq
the database gave it and the state text stored in the same Redis script
(realtime.broadcast.sync_deliver, one round trip), then the sockets it
closes; a row delivered is deleted. Rows are delivered in order, every
older row of the session first, and delivery stops at the first failure, so
no client sees a seq before an older one; Redis refuses a seq it already
delivered, so two deliverers (a view and the relay) never send one twice.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings

from realtime import protocol, session_keys, snapshot
from realtime.broadcast import (
    BroadcastError,
    sync_close_player_sockets,
    sync_close_session_sockets,
    sync_deliver,
)

from .models import GameSession, OutboxEvent

logger = logging.getLogger("lobby.publish")

# Clients get this much only; the cause (Redis' address, its error) is logged.
QUEUED = "The change is saved; live players get it as soon as the message broker is back."
# Redis keys of an ended session outlive the grace period by this much (the
# purge deletes them anyway).
KEY_MARGIN = 3600


def publish(
    session: GameSession, rows: list[OutboxEvent], log: logging.Logger = logger
) -> dict | None:
    """Deliver an action's rows (and any older row of its session left undelivered).

    Returns the report for a response body: {"ok": true, "seq": [...]} (the
    seq of each public event of the action), {"ok": false, "queued": true,
    "seq": [...], "error": ...} when Redis could not take them now (the
    relay delivers them once it can; the cause is logged to `log`), or None
    when the action left nothing to send.
    """
    if not rows:
        return None
    seqs = [row.seq for row in rows if row.player_id is None and row.head]
    error = deliver_pending(session, rows[-1].id, log)
    if error is None:
        return {"ok": True, "seq": seqs}
    return {"ok": False, "queued": True, "seq": seqs, "error": QUEUED}


def deliver_pending(
    session: GameSession, upto: int | None = None, log: logging.Logger = logger
) -> str | None:
    """Deliver the session's undelivered rows (up to row id `upto`) in order;
    delete those delivered. None, or the error that stopped it (logged)."""
    pending = OutboxEvent.objects.filter(session_id=session.id)
    if upto is not None:
        pending = pending.filter(id__lte=upto)
    done: list[int] = []
    error = None
    try:
        for row in pending.order_by("id"):
            deliver(session, row)
            done.append(row.id)
    except (BroadcastError, redis.RedisError) as exc:
        error = str(exc)
        log.error("delivery of %s to %s failed (queued): %s", row, session.code, exc)
    if done:
        OutboxEvent.objects.filter(id__in=done).delete()
    return error


def deliver(session: GameSession, row: OutboxEvent) -> None:
    """Hand one row to Redis. Raises BroadcastError or redis.RedisError."""
    code = session.code
    if row.tokens is not None:
        snapshot.store_tokens(code, row.seq, row.tokens)
    state = (row.state_head, row.state_tail) if row.state_head else None
    if row.head:
        sync_deliver(code, row.player_id, row.seq, row.head, row.tail, state)
    elif state is not None:
        snapshot.store_state_text(code, row.seq, *state)
    if session.ended_at is not None:
        # After the state write, which would set a full day's TTL again.
        ttl = int(settings.PARTYHUB_END_GRACE) + KEY_MARGIN
        player_ids = list(session.players.values_list("id", flat=True))
        session_keys.end_session(code, ttl, session.closed, player_ids)
    if row.close:
        for player_id in row.close["players"]:
            sync_close_player_sockets(code, player_id, protocol.CLOSE_LEFT)
        if row.close["code"] is not None:
            sync_close_session_sockets(code, row.close["code"])
