"""Client messages beyond `ping`, from either WebSocket server, handled once.

`handle_client_message` is what both servers run for a parsed client message
other than `ping`: GameConsumer calls it directly; the C sidecar sends each
such message to channel `partyhub.inbound` (sidecar setting
`inbound_channel`) as

    {"type": "client.message", "session": "ABCD", "player_id": 7 | null,
     "role": "player" | "host", "reply_channel": "...", "text": "<raw frame>"}

and `InboundConsumer` (run by `manage.py runworker partyhub.inbound`; `make
run` starts it with the sidecar) parses it with the same protocol module and
sends any `error` back to `reply_channel` as a `game.event` text.
"""

from __future__ import annotations

from channels.consumer import AsyncConsumer

from lobby.reactions import handle_reaction

from . import protocol


async def handle_client_message(code: str, player_id: int | None, message: dict) -> dict | None:
    """Act on one valid client message; return the `error` for its sender, if any."""
    if message["type"] == protocol.REACTION:
        return await handle_reaction(
            code, player_id, message["emoji"], message.get("target_player_id")
        )
    return protocol.error(protocol.UNKNOWN_TYPE, f"{message['type']!r} is not handled here.")


class InboundConsumer(AsyncConsumer):
    """Worker for the sidecar's inbound channel."""

    async def client_message(self, event: dict) -> None:
        code = str(event.get("session") or "").upper()
        message, problem = protocol.parse_client_message(event.get("text"))
        if problem is None and message["type"] == protocol.PING:
            problem = None  # the sidecar answers pings itself; nothing to do
        elif problem is None:
            problem = await handle_client_message(code, event.get("player_id"), message)
        reply = event.get("reply_channel")
        if problem is not None and reply:
            text = protocol.dumps(problem)
            await self.channel_layer.send(reply, {"type": protocol.GROUP_EVENT_TYPE, "text": text})
