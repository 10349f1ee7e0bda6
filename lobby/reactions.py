"""Reactions: the one place their rules live, for every game (both WebSocket
servers run `handle_reaction`: the consumer directly, the C sidecar through
the inbound worker, realtime.inbound).

A player sends {"type": "reaction", "emoji": "😂"} and may name whom it is for
with "target_player_id". Rules:
- players only; the emoji must be one of REACTION_EMOJI;
- at most PARTYHUB_REACTION_LIMIT per player in any PARTYHUB_REACTION_WINDOW
  seconds (a Redis counter that expires with its window); beyond it the
  sender gets an error and nobody sees the reaction;
- it is counted (Player.reactions_received, for the "crowd favourite"
  award, lobby.awards) for whom the game says (GameDriver.reaction_targets:
  by default the named target); a player's reactions to themselves are
  never counted;
- it is broadcast to everyone in the session as {"type": "reaction",
  "player_id", "emoji", "targets"} (`targets`: the ids it was counted for),
  without seq: reactions are not state.
"""

from __future__ import annotations

import logging

import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import F

from realtime import hooks, protocol
from realtime.broadcast import BroadcastError, broadcast_text
from realtime.keys import reaction_rate_key
from realtime.schema import Field, Message, enum, integer, nullable, problem
from realtime.session_keys import over_rate_limit

from . import events, registry
from .models import GameSession, Player

logger = logging.getLogger("lobby.reactions")

# The emoji a player may react with (each a single code point).
REACTION_EMOJI = ("😂", "👏", "😮", "🤔", "🔥", "😈", "🤥", "💯")
ONLY_PLAYERS = "Only players can react."
TOO_MANY = "Too many reactions: wait a moment."


# The client message (checked by the transport against these fields).
REACTION_CLIENT = Message(
    events.REACTION,
    protocol.SHARED_OWNER,
    protocol.RECEIVE,
    fields=(
        Field("emoji", enum(*REACTION_EMOJI), doc="one of " + " ".join(REACTION_EMOJI)),
        Field(
            "target_player_id",
            nullable(integer()),
            required=False,
            what="a player id (a whole number)",
            doc="whom it is for (optional)",
        ),
    ),
    doc="A player's reaction: broadcast to everyone as `reaction`, or an `error` to the sender.",
)


def check_reaction(message: dict) -> dict | None:
    """The error for a malformed `reaction` message, or None if it is well formed."""
    bad = problem(REACTION_CLIENT.fields, message)
    return None if bad is None else protocol.error(protocol.INVALID_MESSAGE, bad.must_be())


def reaction(player_id: int, emoji: str, targets: list[int]) -> dict:
    """A reaction as everyone in the session receives it (no seq: not state)."""
    return {"type": events.REACTION, "player_id": player_id, "emoji": emoji, "targets": targets}


async def on_message(sender: hooks.Sender, message: dict) -> dict | None:
    """The socket handler of `reaction` (installed by lobby.sockets)."""
    return await handle_reaction(
        sender.code, sender.player_id, message["emoji"], message.get("target_player_id")
    )


async def handle_reaction(
    code: str, player_id: int | None, emoji: str, target: int | None = None
) -> dict | None:
    """Apply one reaction; return the `error` message for the sender, or None."""
    problem = check_reaction({"emoji": emoji, "target_player_id": target})
    if problem is not None:
        return problem
    if player_id is None:
        return protocol.error(protocol.WRONG_ROLE, ONLY_PLAYERS)
    try:
        targets = await database_sync_to_async(count_reaction)(code, player_id, target)
        if isinstance(targets, dict):
            return targets
        await broadcast_text(code, protocol.dumps(reaction(player_id, emoji, targets)))
    except (redis.RedisError, BroadcastError) as exc:
        logger.warning("reaction in %s by %s lost: %s", code, player_id, exc)
        return protocol.error(protocol.INVALID_MESSAGE, "The reaction could not be delivered.")
    return None


def count_reaction(code: str, player_id: int, target: int | None) -> list[int] | dict:
    """Rate-limit, then count a reaction for its targets.

    Returns the target ids, or the `error` message for the sender.
    """
    limit, window = settings.PARTYHUB_REACTION_LIMIT, settings.PARTYHUB_REACTION_WINDOW
    if over_rate_limit(code, reaction_rate_key(code, player_id), limit, window):
        return protocol.error(protocol.RATE_LIMITED, TOO_MANY)
    session = GameSession.objects.filter(code=code, closed=False).first()
    players = session.players.active() if session is not None else Player.objects.none()
    if session is None or not players.filter(id=player_id).exists():
        return protocol.error(protocol.INVALID_MESSAGE, "This game is over.")
    if target is not None and not players.filter(id=target).exists():
        return protocol.error(protocol.INVALID_MESSAGE, f"There is no player {target} here.")
    driver = registry.of(session)
    targets = [t for t in driver.reaction_targets(session, player_id, target) if t != player_id]
    if targets:
        Player.objects.filter(id__in=targets).update(reactions_received=F("reactions_received") + 1)
    return targets
