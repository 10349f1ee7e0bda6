"""The transactional outbox: an action's events, numbered and written in its transaction.

The database is the truth and Redis a cache. So an event's `seq` (a
player's `pseq` for a private message) is taken from the session row (the
player row) in the same transaction as the change it announces, and the
event is written there too, as an OutboxEvent row with everything Redis
must get: its text split around the seq, the state text the WebSocket
servers greet with, the token digests when they changed, the sockets to
close. After the commit lobby.publish hands the rows to Redis and deletes
them; what it could not hand over (Redis down or stalled) stays, and
`manage.py runrelay` (lobby.relay) delivers it, in order, as soon as Redis
is back. The action's row lock serializes the numbering, so seq only grows,
whatever Redis loses.
"""

from __future__ import annotations

from realtime import protocol

from . import registry, services
from .context import Outcome
from .models import GameSession, OutboxEvent, Player


def tokens(session: GameSession) -> dict:
    """Every token that works now: the host's digest, each active player's."""
    players = session.players.active().exclude(token_digest="")
    return {
        "host": session.host_token_digest,
        "players": dict(players.values_list("token_digest", "id")),
        "closed": session.closed,
    }


def record(session: GameSession, outcome: Outcome) -> list[OutboxEvent]:
    """Number the outcome's events and write them (call inside the action's
    transaction, before `session.save()`, which saves the new `seq`).

    The last public event carries the `session.state` text, the last private
    message to a player that player's `player.state`. Token digests ride on
    the first row when players joined or left or the session closed; sockets
    to close, on the last. Returns the rows, in delivery order.
    """
    game = session.game
    events = outcome.events
    last_public = max((i for i, e in enumerate(events) if e.to is None), default=-1)
    last_private = {e.to: i for i, e in enumerate(events) if e.to is not None}
    recipients = {p.id: p for p in session.players.active().filter(id__in=last_private)}
    rows: list[OutboxEvent] = []
    for index, event in enumerate(events):
        if event.to is None:
            session.seq += 1
            head, tail = protocol.encode_event_parts(event.type, event.payload, game)
            row = OutboxEvent(
                session=session, seq=session.seq, event_type=event.type, head=head, tail=tail
            )
            if index == last_public:
                row.state_head, row.state_tail = protocol.encode_event_parts(
                    protocol.SESSION_STATE, services.session_state(session)
                )
            rows.append(row)
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
        player.pseq += 1
        head, tail = protocol.encode_private_parts(event.type, payload, game)
        row = OutboxEvent(
            session=session,
            seq=player.pseq,
            player_id=player.id,
            event_type=event.type,
            head=head,
            tail=tail,
        )
        if private is not None:
            row.state_head, row.state_tail = protocol.encode_private_parts(
                protocol.PLAYER_STATE, private
            )
        rows.append(row)
    for player in recipients.values():
        Player.objects.filter(id=player.id).update(pseq=player.pseq)
    if outcome.joined or outcome.left or outcome.close_code is not None:
        if not rows:
            rows.append(OutboxEvent(session=session, seq=session.seq))
        rows[0].tokens = tokens(session)
    close_players = [player_id for player_id, _ in outcome.left]
    if outcome.close_code is not None or close_players:
        rows[-1].close = {"code": outcome.close_code, "players": close_players}
    return OutboxEvent.objects.bulk_create(rows)


def record_created(session: GameSession) -> list[OutboxEvent]:
    """A new session's row (in its transaction): the host token's digest and
    the first state (seq 0), so sockets can connect."""
    head, tail = protocol.encode_event_parts(
        protocol.SESSION_STATE, services.session_state(session)
    )
    row = OutboxEvent(session=session, seq=0, state_head=head, state_tail=tail)
    row.tokens = tokens(session)
    return OutboxEvent.objects.bulk_create([row])
