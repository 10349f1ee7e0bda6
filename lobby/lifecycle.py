"""Ephemeral game state: a session ends, lingers for a grace period, then is purged.

When a game finishes or its host exits, `ended_at` is stamped and (see
lobby.publish) its Redis keys are set to expire. `purge_sessions` (the `purgesessions` command, run
periodically by Celery beat under `make run`) deletes every session that
ended more than PARTYHUB_END_GRACE ago, and every session with no activity
for PARTYHUB_ABANDONED_AFTER: the session row and, by cascade, its players
(with their token digests) and every game's data about them (its models
delete with the session or its players). Then the packs deleted while games
still used them, once none does (lobby.packs). What users keep (accounts,
presets, packs) is never purged.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from realtime.session_keys import delete_session_keys

from . import packs, timers
from .models import GameSession

logger = logging.getLogger("lobby.lifecycle")


def end_session(session: GameSession, closed: bool = False) -> None:
    """Stamp the end of the game (caller saves `ended_at`, `closed`, timer fields)."""
    timers.stop_countdown(session)
    session.ended_at = session.ended_at or timezone.now()
    session.closed = session.closed or closed


def purgeable(now=None):
    """The sessions the purge deletes now: ended past the grace, or abandoned."""
    now = now or timezone.now()
    ended = Q(ended_at__lt=now - timedelta(seconds=settings.PARTYHUB_END_GRACE))
    idle = Q(updated_at__lt=now - timedelta(seconds=settings.PARTYHUB_ABANDONED_AFTER))
    return GameSession.objects.filter(ended | idle)


def purge_sessions(now=None) -> list[str]:
    """Delete every purgeable session with all its data and Redis keys; return the codes."""
    codes = []
    for session in purgeable(now).only("id", "code"):
        with transaction.atomic():
            # Re-check under the lock: activity may have happened since.
            if not purgeable(now).select_for_update().filter(id=session.id).exists():
                continue
            player_ids = list(session.players.values_list("id", flat=True))
            GameSession.objects.filter(id=session.id).delete()
        try:
            delete_session_keys(session.code, player_ids)
        except redis.RedisError as exc:  # they expire by themselves
            logger.warning("could not delete the Redis keys of %s: %s", session.code, exc)
        codes.append(session.code)
    if codes:
        logger.info("purged %d session(s): %s", len(codes), ", ".join(codes))
    deleted = packs.purge_deleted()
    if deleted:
        logger.info("deleted %d pack(s) no game uses any more", deleted)
    return codes
