"""Test access to the private redis-server helper."""

from partyhub.redisproc import RedisServer, free_port

__all__ = ["RedisServer", "free_port"]
