"""Reactions: the one place their rules live (the Python consumer calls it; the C
sidecar forwards reactions to a Django worker that calls it too).

A player sends {"type": "reaction", "emoji": "😂"} and may name whom it is for
with "target_player_id". Rules:
- players only; the emoji must be one of protocol.REACTION_EMOJI;
- at most PARTYHUB_REACTION_LIMIT per player in any PARTYHUB_REACTION_WINDOW
  seconds (a Redis counter that expires with its window); beyond it the
  sender gets an error and nobody sees the reaction;
- it is counted (Player.reactions_received, for the "crowd favourite" award)
  only in the guess phase and during the reveal (the scores phase), for:
  the named target, or, without one, during the reveal the author(s) of the
  lie on screen at that moment (none while the truth or nothing is shown).
  A player's reactions to themselves are never counted;
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

from realtime import protocol
from realtime.broadcast import BroadcastError, broadcast_text
from realtime.session_keys import over_rate_limit, reaction_rate_key

from . import reveal, timers
from .models import GameSession, Phase, Player

logger = logging.getLogger("lobby.reactions")

COUNTED_PHASES = (Phase.GUESS, Phase.SCORES)


async def handle_reaction(
    code: str, player_id: int | None, emoji: str, target: int | None = None
) -> dict | None:
    """Apply one reaction; return the `error` message for the sender, or None."""
    problem = protocol.check_reaction({"emoji": emoji, "target_player_id": target})
    if problem is not None:
        return problem
    if player_id is None:
        return protocol.error(protocol.WRONG_ROLE)
    try:
        targets = await database_sync_to_async(count_reaction)(code, player_id, target)
        if isinstance(targets, dict):
            return targets
        await broadcast_text(code, protocol.dumps(protocol.reaction(player_id, emoji, targets)))
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
        return protocol.error(protocol.RATE_LIMITED)
    session = GameSession.objects.filter(code=code, closed=False).first()
    if session is None or not session.players.filter(id=player_id).exists():
        return protocol.error(protocol.INVALID_MESSAGE, "This game is over.")
    if target is not None and not session.players.filter(id=target).exists():
        return protocol.error(protocol.INVALID_MESSAGE, f"There is no player {target} here.")
    if session.phase not in COUNTED_PHASES:
        return []
    if target is not None:
        targets = [target]
    elif session.phase == Phase.SCORES:
        game_round = session.game_rounds.get(number=session.round_number)
        step = reveal.step_at(game_round.reveal, timers.now_ms())
        targets = [a["player_id"] for a in step["authors"]] if step else []
    else:
        targets = []
    targets = [t for t in targets if t != player_id]
    if targets:
        Player.objects.filter(id__in=targets).update(reactions_received=F("reactions_received") + 1)
    return targets
