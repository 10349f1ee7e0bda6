"""A session's Redis keys after the game: shorter lifetimes, the closed flag, deletion.

Every key a session creates lives on the Redis host that holds its group:
the seq counter (`realtime.broadcast`), the token digests and state text
(`realtime.snapshot`) and the reaction rate counters (below); each player's
private counter and state live on the host of that player's group. All
carry TTLs from the start; when the game ends they are cut to the grace
period, and the purge deletes them. Uses the snapshot module's sync client: callers are sync
(views after commit, Celery tasks, the purge).
"""

from __future__ import annotations

from . import keys, snapshot


def end_session(code: str, seconds: int, closed: bool, player_ids=()) -> None:
    """Let the session's keys (and its players') expire in `seconds`; flag an exited session.

    The flag (`closed` -> "1" in `partyhub:session:<CODE>`) tells WebSocket
    servers to close new sockets with 4000. Raises redis.RedisError.
    """
    pipe = snapshot.client_for(code).pipeline(transaction=True)
    if closed:
        pipe.hset(keys.session_key(code), keys.FIELD_CLOSED, "1")
    for key in keys.of_session(code):
        pipe.expire(key, max(1, int(seconds)))
    pipe.execute()
    for player_id in player_ids:
        pipe = _player_client(code, player_id).pipeline(transaction=True)
        for key in keys.of_player(code, player_id):
            pipe.expire(key, max(1, int(seconds)))
        pipe.execute()


def delete_session_keys(code: str, player_ids=()) -> None:
    """Delete the session's keys (and its players') now (the purge). Raises redis.RedisError."""
    snapshot.client_for(code).delete(*keys.of_session(code))
    for player_id in player_ids:
        _player_client(code, player_id).delete(*keys.of_player(code, player_id))


def _player_client(code: str, player_id: int):
    return snapshot.client_for(code, keys.player_group_name(code, player_id))


def over_rate_limit(code: str, key: str, limit: int, window: float) -> bool:
    """Count one hit on `key`; True when it is beyond `limit` hits in the window.

    A fixed window started by the first hit (SET NX with the TTL; INCR keeps
    the TTL): works on any Redis >= 2.6.12. Raises redis.RedisError.
    """
    pipe = snapshot.client_for(code).pipeline(transaction=True)
    pipe.set(key, 0, px=max(1, int(window * 1000)), nx=True)
    pipe.incr(key)
    _, count = pipe.execute()
    return int(count) > limit
