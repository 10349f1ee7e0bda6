"""The relay (`manage.py runrelay`): what Redis did not get, it gets as soon as it can.

Two jobs, one loop (every `INTERVAL` seconds):

- **Rebuild.** Each Redis host carries READY_KEY (realtime.snapshot) = its
  run_id once its keys were rebuilt. When a host has no marker, or one with
  another run_id (it restarted, was flushed, or a Sentinel failover put
  another server in its place, which may have lost the last writes), every
  session in the database gets back what the WebSocket servers read: its
  token digests, its `session.state` text at its seq, each player's
  `player.state` at their pseq, and the delivered-seq counters (the seq
  before the first undelivered row, so those rows still go out); then the
  marker is set. Until then the sidecar answers a socket whose session it
  cannot find with 1013 (try again), not 4004.
- **Deliver.** Outbox rows older than `GRACE` seconds (the view that wrote
  them normally delivered them within milliseconds) are delivered per
  session, in order (lobby.publish.deliver_pending); Redis refuses a seq it
  already has, so a row delivered twice reaches nobody twice.

A host that does not answer is skipped for this turn; the others go on.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import redis
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from realtime import keys, protocol, session_keys, snapshot
from realtime.broadcast import BroadcastError

from . import outbox, publish, registry, services
from .models import GameSession, OutboxEvent

logger = logging.getLogger("lobby.relay")

INTERVAL = 0.25
GRACE = 0.5  # seconds a fresh row is left to the view that wrote it


def rebuild_session(session_id: int) -> None:
    """Write everything the sockets of one session read from Redis, from the
    database (newer-only writes: safe beside live actions). Raises
    redis.RedisError."""
    with transaction.atomic():
        session = GameSession.objects.select_for_update().filter(id=session_id).first()
        if session is None:
            return  # purged meanwhile
        pending = OutboxEvent.objects.filter(session=session).exclude(head="")
        first_public = pending.filter(player_id__isnull=True).order_by("seq").first()
        delivered = first_public.seq - 1 if first_public else session.seq
        tokens = outbox.tokens(session)
        state = services.session_state(session)
        driver = registry.of(session)
        players = []
        for player in session.players.active().filter(pseq__gt=0):
            first = pending.filter(player_id=player.id).order_by("seq").first()
            private = driver.private_state(session, player)
            done = first.seq - 1 if first else player.pseq
            players.append((player.id, player.pseq, done, private))
        ended, closed = session.ended_at is not None, session.closed
        all_ids = list(session.players.values_list("id", flat=True))
    code = session.code
    snapshot.store_tokens(code, session.seq, tokens)
    head, tail = protocol.encode_event_parts(protocol.SESSION_STATE, state)
    snapshot.store_state_text(code, session.seq, head, tail)
    snapshot.raise_seq(snapshot.client_for(code), keys.seq_key(code), delivered)
    for player_id, pseq, done, private in players:
        snapshot.store_private(code, player_id, pseq, private)
        group = keys.player_group_name(code, player_id)
        client = snapshot.client_for(code, group)
        snapshot.raise_seq(client, keys.pseq_key(code, player_id), done)
    if ended:
        ttl = int(settings.PARTYHUB_END_GRACE) + publish.KEY_MARGIN
        session_keys.end_session(code, ttl, closed, all_ids)


class Relay:
    """One relay: `run()` until `stop()`."""

    def __init__(self, interval: float = INTERVAL, grace: float = GRACE) -> None:
        self.interval, self.grace = interval, grace
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        logger.info("relay started")
        while not self.stopping.is_set():
            close_old_connections()
            try:
                self.turn()
            except Exception:  # a bug must not stop the relay; it is logged
                logger.exception("relay turn failed")
            self.stopping.wait(self.interval)

    def turn(self) -> None:
        """One pass: rebuild the hosts that need it, then deliver late rows."""
        stale = self.stale_hosts()
        if stale:
            self.rebuild(stale)
        self.deliver()

    def stale_hosts(self) -> list[redis.Redis]:
        """The Redis hosts that answer but lack a current marker."""
        stale = []
        for client in snapshot.all_clients():
            try:
                if not snapshot.ready(client):
                    stale.append(client)
            except redis.RedisError:
                continue  # down: checked again next turn
        return stale

    def rebuild(self, hosts: list[redis.Redis]) -> int:
        """Rebuild every session's keys, then mark `hosts` ready. The count rebuilt."""
        started = time.monotonic()
        count = 0
        for session_id in GameSession.objects.values_list("id", flat=True):
            try:
                rebuild_session(session_id)
            except redis.RedisError as exc:
                logger.warning("rebuild stopped (%s); retrying next turn", exc)
                return count
            count += 1
        for client in hosts:
            try:
                snapshot.mark_ready(client)
            except redis.RedisError as exc:
                logger.warning("could not mark a host ready (%s); retrying next turn", exc)
        logger.log(
            logging.WARNING if count else logging.INFO,
            "Redis rebuilt from the database: %d session(s) in %.2f s",
            count,
            time.monotonic() - started,
        )
        return count

    def deliver(self) -> int:
        """Deliver the rows the views left; the number of sessions that still have some."""
        cutoff = timezone.now() - timedelta(seconds=self.grace)
        late = OutboxEvent.objects.filter(created_at__lte=cutoff)
        session_ids = sorted(set(late.values_list("session_id", flat=True)))
        left = 0
        failed_hosts: set[int] = set()
        for session in GameSession.objects.filter(id__in=session_ids):
            host = id(snapshot.client_for(session.code))
            if host in failed_hosts:
                left += 1
                continue
            try:
                error = publish.deliver_pending(session, log=logger)
            except (BroadcastError, redis.RedisError) as exc:
                error = str(exc)
            if error is not None:
                failed_hosts.add(host)
                left += 1
        return left
