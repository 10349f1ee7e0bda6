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
short backoff for about as long as a failover takes. The C layer ignores the
two extra keys; realtime.snapshot replaces them with their sync twins.
"""

from __future__ import annotations

from redis import sentinel as sync_sentinel
from redis.asyncio import sentinel as async_sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

# 100 ms doubling to 500 ms, 8 tries: about 3 s of backoff, the C layer's
# default failover wait (socket_connect_timeout + socket_timeout).
FAILOVER_BACKOFF = {"cap": 0.5, "base": 0.05}
FAILOVER_RETRIES = 8


class SentinelConnection(sync_sentinel.SentinelManagedConnection):
    """A sync master connection that asks the sentinels on every reconnect."""

    def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True):
        if self._sock is None and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        return super().connect_check_health(check_health, retry_socket_connect)


class AsyncSentinelConnection(async_sentinel.SentinelManagedConnection):
    """An asyncio master connection that asks the sentinels on every reconnect."""

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ):
        if not self.is_connected and self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        return await super().connect_check_health(check_health, retry_socket_connect)


def failover_retry() -> Retry:
    """The sync retry of a master connection (snapshot client)."""
    return Retry(ExponentialBackoff(**FAILOVER_BACKOFF), FAILOVER_RETRIES)


def sentinel_host(sentinels: list, master_name: str, **options) -> dict:
    """A CHANNEL_LAYERS "hosts" entry for a Sentinel-managed master.

    sentinels: [(host, port), ...]; options as channels_redis takes them
    (password, db, sentinel_kwargs, socket_timeout, ...).
    """
    return {
        "sentinels": [tuple(s) for s in sentinels],
        "master_name": master_name,
        "connection_class": AsyncSentinelConnection,
        "retry": AsyncRetry(ExponentialBackoff(**FAILOVER_BACKOFF), FAILOVER_RETRIES),
        **options,
    }
