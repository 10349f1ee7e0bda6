"""The inbound channel: client messages a WebSocket server hands to Django.

The C sidecar answers `ping` itself and sends every other client message
whose type it is configured to forward (`client_types`) to the channel
`partyhub.inbound` as

    {"type": "client.message", "session": "ABCD", "player_id": 7 | None,
     "role": "player" | "host", "reply_channel": "specific.…!c.…",
     "text": "<the client's frame, unchanged>"}

`manage.py runworker partyhub.inbound` runs `InboundConsumer` (routed in
partyhub/asgi.py). It validates the text exactly as GameConsumer does
(`protocol.parse_client_message`), runs the handler of its type, and sends
any answer to `reply_channel` as a `game.event` without `seq`, which both
servers forward to the socket unchanged.

Handlers are registered in HANDLERS by client type. None is registered
beyond `ping` yet (the only client type of protocol.CLIENT_TYPES); game
actions that arrive over the socket (e.g. reactions) add theirs here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from channels.consumer import AsyncConsumer

from . import protocol

logger = logging.getLogger("realtime.inbound")

INBOUND_CHANNEL = "partyhub.inbound"

# client type -> async handler(inbound message, parsed client message) -> reply or None
Handler = Callable[[dict, dict], Awaitable[dict | None]]


async def _ping(inbound: dict, message: dict) -> dict | None:
    return protocol.pong(message.get("ts"))


HANDLERS: dict[str, Handler] = {protocol.PING: _ping}


async def handle(inbound: dict) -> dict | None:
    """The reply (a server message dict) to one inbound client message, or None."""
    message, problem = protocol.parse_client_message(inbound.get("text"))
    if problem is not None:
        return problem
    handler = HANDLERS.get(message["type"])
    if handler is None:
        # A type the server forwards but this worker cannot handle.
        return protocol.error(
            protocol.UNKNOWN_TYPE, f"Unknown message type {message['type'][:40]!r}."
        )
    return await handler(inbound, message)


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
