"""The channel layer of the servers that the browser tests start.

redis-py 8 gives every connection a 5 s socket timeout, the same as the
BZPOPMIN wait of channels_redis 4.3's receive loop: a consumer idle for 5 s
then dies with "Timeout reading from …" and its WebSocket drops (redis-py
issue #4091). Waiting 2 s per BZPOPMIN stays clear of that timeout.
"""

from channels_redis.core import RedisChannelLayer


class BrowserTestLayer(RedisChannelLayer):
    brpop_timeout = 2
