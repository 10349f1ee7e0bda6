"""The sidecar's inbound channel: forwarded reactions reach the same service function."""

from __future__ import annotations

import asyncio
import json

from channels.layers import get_channel_layer
from channels.testing import ApplicationCommunicator
from django.test import TransactionTestCase

from realtime import keys
from realtime.inbound import InboundConsumer

from .helpers import Api


class InboundTests(TransactionTestCase):
    serialized_rollback = True

    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create()
        self.ana_id, _ = self.api.join(self.code, "Ana")

    async def forward(self, text: str, player_id, role="player") -> tuple[dict | None, dict]:
        """Send one client.message through InboundConsumer; (reply, group message)."""
        layer = get_channel_layer()
        reply, member = await layer.new_channel(), await layer.new_channel()
        await layer.group_add(keys.group_name(self.code), member)
        app = ApplicationCommunicator(
            InboundConsumer.as_asgi(), {"type": "channel", "channel": "partyhub.inbound"}
        )
        await app.send_input(
            {
                "type": "client.message",
                "session": self.code.lower(),
                "player_id": player_id,
                "role": role,
                "reply_channel": reply,
                "text": text,
            }
        )
        got = {}
        for name, channel in (("reply", reply), ("group", member)):
            try:
                message = await asyncio.wait_for(layer.receive(channel), 0.5)
                got[name] = json.loads(message["text"])
            except TimeoutError:
                got[name] = None
        app.stop()
        await layer.group_discard(keys.group_name(self.code), member)
        return got["reply"], got["group"]

    async def test_a_forwarded_reaction_is_broadcast(self):
        reply, group = await self.forward('{"type": "reaction", "emoji": "👏"}', self.ana_id)
        self.assertIsNone(reply)
        self.assertEqual(
            group, {"type": "reaction", "player_id": self.ana_id, "emoji": "👏", "targets": []}
        )

    async def test_errors_go_back_to_the_sender_only(self):
        for text, player_id, code in (
            ('{"type": "reaction", "emoji": "🍕"}', self.ana_id, "INVALID_MESSAGE"),
            ('{"type": "reaction", "emoji": "👏"}', None, "WRONG_ROLE"),
            ("{oops", self.ana_id, "MESSAGE_PARSE_FAILED"),
            ('{"type": "dance"}', self.ana_id, "UNKNOWN_TYPE"),
        ):
            reply, group = await self.forward(text, player_id)
            self.assertEqual((reply["type"], reply["code"]), ("error", code), text)
            self.assertIsNone(group)
