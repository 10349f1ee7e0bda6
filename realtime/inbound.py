"""Client messages beyond `ping`, from either WebSocket server, handled once.

`handle_client_message` is what both servers run for a parsed client message:
GameConsumer calls it directly (it answers `ping` itself); the C sidecar
answers `ping` itself and sends every other client message whose type it
forwards (`client_types`: every declared type, realtime.protocol) to the
channel `partyhub.inbound` (sidecar setting `inbound_channel`) as

    {"type": "client.message", "session": "ABCD", "player_id": 7 | None,
     "role": "player" | "host", "reply_channel": "specific.…!c.…",
     "text": "<the client's frame, unchanged>"}

`manage.py runworker partyhub.inbound` runs `InboundConsumer` (routed in
partyhub/asgi.py; `make run` starts it with the sidecar). It validates the
text exactly as GameConsumer does (`protocol.parse_client_message`), runs the
handler installed for its type (realtime.hooks; the platform installs them),
and sends any answer to `reply_channel` as a `game.event` without `seq`,
which both servers forward unchanged.
"""

from __future__ import annotations

import logging

from channels.consumer import AsyncConsumer

from . import hooks, protocol

logger = logging.getLogger("realtime.inbound")


async def handle_client_message(sender: hooks.Sender, message: dict) -> dict | None:
    """Act on one valid client message; return the reply for its sender, if any."""
    if message["type"] == protocol.PING:
        return protocol.pong(message.get("ts"))
    handler = hooks.handler_for(message["type"])
    if handler is None:
        # A type a server forwards but this worker cannot handle.
        return protocol.error(
            protocol.UNKNOWN_TYPE, f"Unknown message type {message['type'][:40]!r}."
        )
    return await handler(sender, message)


async def handle(inbound: dict) -> dict | None:
    """The reply (a server message dict) to one inbound client message, or None."""
    message, problem = protocol.parse_client_message(inbound.get("text"))
    if problem is not None:
        return problem
    code = str(inbound.get("session") or "").upper()
    player_id = inbound.get("player_id")
    role = hooks.PLAYER if inbound.get("role") == hooks.PLAYER else hooks.HOST
    if not isinstance(player_id, int) or isinstance(player_id, bool) or player_id < 0:
        player_id, role = None, hooks.HOST
    return await handle_client_message(hooks.Sender(code, role, player_id), message)


class InboundConsumer(AsyncConsumer):
    """Consumes `partyhub.inbound`; one instance per worker process."""

    async def client_message(self, inbound: dict) -> None:
        reply = await handle(inbound)
        if reply is None:
            return
        reply_channel = inbound.get("reply_channel")
        if not isinstance(reply_channel, str):
            logger.warning("inbound message without reply_channel dropped")
            return
        await self.channel_layer.send(
            reply_channel, {"type": protocol.GROUP_EVENT_TYPE, "text": protocol.dumps(reply)}
        )
