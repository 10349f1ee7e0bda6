"""GameConsumer: the Python WebSocket endpoint at ws/game/<code>/.

Accepts first and then closes with 4004/4003/4000 so that browsers see the
code. Bad input never closes the socket; it gets an `error` message.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from . import hooks, keys, protocol, ratelimit, resync
from .inbound import handle_client_message

logger = logging.getLogger("realtime.consumers")


class GameConsumer(AsyncWebsocketConsumer):
    """One player's or the host's socket in one game."""

    live_connections = 0  # per process, for the connect/disconnect log lines

    # channels' consumer loop awaits `self.channel_receive`, the layer's
    # receive, and dies with the socket (1011) when Redis goes away. It gets
    # `receive_surviving` instead, which waits for Redis to come back; the
    # memberships and the state come back with realtime.resync.
    @property
    def channel_receive(self):
        return self.receive_surviving

    @channel_receive.setter
    def channel_receive(self, layer_receive) -> None:
        self.layer_receive = layer_receive

    async def receive_surviving(self) -> dict:
        """The channel layer's next message for this socket, across Redis outages."""
        delay = 0.1
        while True:
            try:
                return await self.layer_receive()
            except (OSError, ConnectionError) as exc:
                problem = exc
            except Exception as exc:  # redis-py raises its own RedisError tree
                if not type(exc).__module__.startswith("redis"):
                    raise
                problem = exc
            logger.debug("session %s: channel layer down (%s): waiting", self.code, problem)
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    async def connect(self) -> None:
        self.code = self.scope["url_route"]["kwargs"]["code"].upper()
        self.groups_joined: list[str] = []
        self.counted = False
        self.role: str | None = None
        self.player_id: int | None = None
        self.bucket = ratelimit.MessageBucket.from_settings()
        self.flooded = False
        # The first of repeated parameters counts, empty or not (as in the sidecar).
        query = parse_qs(
            self.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
        )
        token = query.get("session_token", [""])[0]
        role = query.get("role", [hooks.PLAYER])[0]
        await self.accept()
        directory = hooks.directory()
        identity = hooks.NOT_FOUND
        if directory is not None:
            identity = await database_sync_to_async(directory.identify)(self.code, role, token)
        if identity == hooks.NOT_FOUND:
            await self.close(code=protocol.CLOSE_NOT_FOUND)
            return
        if identity == hooks.FORBIDDEN:
            await self.close(code=protocol.CLOSE_FORBIDDEN)
            return
        if identity == hooks.CLOSED:
            await self.close(code=protocol.CLOSE_SESSION_CLOSED)
            return
        self.role, self.player_id = identity
        self.groups_joined.append(keys.group_name(self.code))
        if self.player_id is not None:
            self.groups_joined.append(keys.player_group_name(self.code, self.player_id))
        try:
            await self.join_groups()
        except Exception as exc:  # Redis down: the client retries with backoff
            logger.warning("session %s: cannot join its groups (%s): closing 1013", self.code, exc)
            await self.close(code=protocol.CLOSE_TRY_AGAIN)
            return
        # Only now, with the membership acknowledged by Redis, read what the
        # client starts from, from the database: an event numbered after this
        # read reaches us; one numbered before is in the state and its seq
        # (seq and state are one row, read at once), so the client drops it
        # if it also arrives (seq <= the state's). Likewise a player's
        # private state and pseq.
        state, private = await database_sync_to_async(directory.greeting)(self.code, self.player_id)
        self.connection_id = uuid.uuid4().hex
        GameConsumer.live_connections += 1
        self.counted = True
        logger.info(
            "connect %s session=%s role=%s player=%s (live connections: %d)",
            self.connection_id,
            self.code,
            self.role,
            self.player_id,
            GameConsumer.live_connections,
        )
        await self.send_json(
            protocol.welcome(self.connection_id, self.code, self.role, self.player_id)
        )
        await self.send(text_data=state)
        if private is not None:
            await self.send(text_data=private)
        resync.watcher().add(self)

    async def join_groups(self) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)

    async def resync(self) -> None:
        """Redis lost data (realtime.resync): join the groups again and send
        the state again, from the database (a client keeps the newer of the
        state and the events it has, by seq)."""
        await self.join_groups()
        state, private = await database_sync_to_async(hooks.directory().greeting)(
            self.code, self.player_id
        )
        await self.send(text_data=state)
        if private is not None:
            await self.send(text_data=private)

    async def disconnect(self, code: int) -> None:
        resync.watcher().discard(self)
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.counted:
            GameConsumer.live_connections -= 1
            logger.info(
                "disconnect %s session=%s code=%s (live connections: %d)",
                self.connection_id,
                self.code,
                code,
                GameConsumer.live_connections,
            )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.flooded:
            return  # closing: what is still in flight is dropped unanswered
        verdict = self.bucket.take()
        if verdict != ratelimit.OK:
            await self.refuse_over_rate(verdict)
            return
        # A binary frame gets INVALID_MESSAGE here (parse_client_message):
        # Daphne's Autobahn cannot send close code 1003, which the sidecar uses.
        message, problem = protocol.parse_client_message(text_data)
        if problem is not None:
            await self.send_json(problem)
            return
        if message["type"] == protocol.PING:
            await self.send_json(protocol.pong(message.get("ts")))
        elif self.role is not None:
            sender = hooks.Sender(self.code, self.role, self.player_id)
            reply = await handle_client_message(sender, message)
            if reply is not None:
                await self.send_json(reply)

    async def refuse_over_rate(self, verdict: str) -> None:
        """Over msg_rate: RATE_LIMITED, or close a client that keeps flooding."""
        if verdict == ratelimit.FLOOD:
            self.flooded = True
            logger.warning(
                "%s (session %s): %d messages over msg_rate; closing %d",
                getattr(self, "connection_id", "?"),
                self.code,
                self.bucket.drops,
                protocol.CLOSE_FLOODING,
            )
            await self.close(code=protocol.CLOSE_FLOODING)
            return
        await self.send_json(protocol.error(protocol.RATE_LIMITED, protocol.TOO_MANY_MESSAGES))

    async def send_json(self, message: dict) -> None:
        await self.send(text_data=protocol.dumps(message))

    async def game_event(self, event: dict) -> None:
        """A broadcast event: forward its pre-encoded text unchanged."""
        await self.send(text_data=event["text"])

    async def game_close(self, event: dict) -> None:
        """The session ended (4000) or this player left (4001): close with the code given."""
        await self.close(code=event.get("code", protocol.CLOSE_SESSION_CLOSED))


class UnroutedConsumer(AsyncWebsocketConsumer):
    """A handshake to a path that is not a route: refused (HTTP 403)."""

    async def connect(self) -> None:
        await self.close()
