"""Client messages beyond `ping`, from either WebSocket server, handled once.

`handle_client_message` is what both servers run for a parsed client message:
GameConsumer calls it directly (it answers `ping` itself); the C sidecar
answers `ping` itself and sends every other client message whose type it
forwards (`client_types`) to the channel `partyhub.inbound` (sidecar setting
`inbound_channel`) as

    {"type": "client.message", "session": "ABCD", "player_id": 7 | None,
     "role": "player" | "host", "reply_channel": "specific.…!c.…",
     "text": "<the client's frame, unchanged>"}

`manage.py runworker partyhub.inbound` runs `InboundConsumer` (routed in
partyhub/asgi.py; `make run` starts it with the sidecar). It validates the
text exactly as GameConsumer does (`protocol.parse_client_message`), runs the
handler of its type, and sends any answer to `reply_channel` as a
`game.event` without `seq`, which both servers forward unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from channels.consumer import AsyncConsumer

from lobby.reactions import handle_reaction

from . import protocol

logger = logging.getLogger("realtime.inbound")

# client type -> async handler(code, player_id, message) -> reply or None
Handler = Callable[[str, "int | None", dict], Awaitable["dict | None"]]


async def _ping(code: str, player_id: int | None, message: dict) -> dict | None:
    return protocol.pong(message.get("ts"))


async def _reaction(code: str, player_id: int | None, message: dict) -> dict | None:
    return await handle_reaction(code, player_id, message["emoji"], message.get("target_player_id"))


HANDLERS: dict[str, Handler] = {protocol.PING: _ping, protocol.REACTION: _reaction}


async def handle_client_message(code: str, player_id: int | None, message: dict) -> dict | None:
    """Act on one valid client message; return the reply for its sender, if any."""
    handler = HANDLERS.get(message["type"])
    if handler is None:
        # A type a server forwards but this worker cannot handle.
        return protocol.error(
            protocol.UNKNOWN_TYPE, f"Unknown message type {message['type'][:40]!r}."
        )
    return await handler(code, player_id, message)


async def handle(inbound: dict) -> dict | None:
    """The reply (a server message dict) to one inbound client message, or None."""
    message, problem = protocol.parse_client_message(inbound.get("text"))
    if problem is not None:
        return problem
    code = str(inbound.get("session") or "").upper()
    return await handle_client_message(code, inbound.get("player_id"), message)


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
