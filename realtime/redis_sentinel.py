"""redis-py Sentinel connections that follow a failover, and the
CHANNEL_LAYERS host entry that makes channels_redis use them.

redis-py 7.4 asks the sentinels for the master only when a pooled
connection is checked out. A connection that drops in the middle of a
command and is retried reconnects to its old address (send_packed_command ->
connect_check_health), i.e. to the dead or demoted master, until its retries
run out (redis/redis-py#3874). And channels_redis's async connections retry
nothing unless given a `retry`, so a Daphne consumer blocked in BZPOPMIN on
a master that dies loses its receive loop and its socket (1011).

`sentinel_host()` returns channels_redis's Sentinel host form with both
fixed: connections that re-discover on every reconnect and a retry with a
short backoff for `failover_wait` seconds (30 by default: more than the
sentinels' down-after-milliseconds plus the failover itself). The C layer
ignores the two extra keys; realtime.snapshot replaces them with their sync
twins, which wait about 3 s (a view must not hang).
"""

from __future__ import annotations

from redis import sentinel as sync_sentinel
from redis.asyncio import sentinel as async_sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

# 100 ms doubling to 500 ms between tries.
FAILOVER_BACKOFF = {"cap": 0.5, "base": 0.05}
# Sync (views): about 3 s, the C layer's default failover wait
# (socket_connect_timeout + socket_timeout).
SYNC_FAILOVER_WAIT = 3.0
# channels_redis (Daphne consumers' receive loops): long enough for a real
# failover, whose sentinels usually wait 5-30 s before acting.
DEFAULT_FAILOVER_WAIT = 30.0


class SentinelConnection(sync_sentinel.SentinelManagedConnection):
    """A sync master connection that asks the sentinels on every reconnect."""

    # connect_to() (a fresh checkout, already addressed by the sentinels)
    # passes retry_socket_connect=False; a reconnect inside a command
    # (send_packed_command) leaves it True: only then ask again.
    def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True):
        if self._sock is None and retry_socket_connect and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        return super().connect_check_health(check_health, retry_socket_connect)


class AsyncSentinelConnection(async_sentinel.SentinelManagedConnection):
    """An asyncio master connection that asks the sentinels on every reconnect."""

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ):
        # As SentinelConnection: not when called by connect_to().
        if not self.is_connected and retry_socket_connect and self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        return await super().connect_check_health(check_health, retry_socket_connect)


def retries_for(seconds: float) -> int:
    """How many tries of the failover backoff add up to `seconds` of waiting."""
    backoff = ExponentialBackoff(**FAILOVER_BACKOFF)
    tries, waited = 0, 0.0
    while waited < seconds:
        tries += 1
        waited += backoff.compute(tries)
    return tries


def failover_retry() -> Retry:
    """The sync retry of a master connection (snapshot client)."""
    return Retry(ExponentialBackoff(**FAILOVER_BACKOFF), retries_for(SYNC_FAILOVER_WAIT))


def sentinel_host(
    sentinels: list,
    master_name: str,
    failover_wait: float = DEFAULT_FAILOVER_WAIT,
    **options,
) -> dict:
    """A CHANNEL_LAYERS "hosts" entry for a Sentinel-managed master.

    sentinels: [(host, port), ...]; failover_wait: seconds channels_redis's
    connections keep retrying while no master answers; options as
    channels_redis takes them (password, db, sentinel_kwargs,
    socket_timeout, ...).
    """
    retry = AsyncRetry(ExponentialBackoff(**FAILOVER_BACKOFF), retries_for(failover_wait))
    return {
        "sentinels": [tuple(s) for s in sentinels],
        "master_name": master_name,
        "connection_class": AsyncSentinelConnection,
        "retry": retry,
        **options,
    }
