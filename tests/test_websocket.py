"""GameConsumer through WebsocketCommunicator against the real Redis layer."""

from __future__ import annotations

import asyncio
import json
import time

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import TransactionTestCase

from partyhub.asgi import application
from realtime import keys, protocol
from weirsoe import events as quiz_events

from .helpers import Api, answer_id, truth_of

ORIGIN = (b"origin", b"http://localhost")


class WebsocketTests(TransactionTestCase):
    serialized_rollback = True  # keeps the question bank loaded by the migration

    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create()
        self.ana_id, self.ana = self.api.join(self.code, "Ana")
        self.bo_id, self.bo = self.api.join(self.code, "Bo")

    async def connect(self, query: str, code: str | None = None, origin=ORIGIN):
        path = f"/ws/game/{code or self.code}/?{query}"
        headers = [origin] if origin else []
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        return communicator, connected

    async def receive(self, communicator, timeout=5) -> dict:
        return json.loads(await communicator.receive_from(timeout=timeout))

    async def joined(self, query: str):
        """Connect, check welcome and state, return (communicator, welcome, state)."""
        communicator, connected = await self.connect(query)
        self.assertTrue(connected)
        welcome = await self.receive(communicator)
        state = await self.receive(communicator)
        return communicator, welcome, state

    async def assertClosedWith(self, communicator, code):
        output = await communicator.receive_output(timeout=5)
        self.assertEqual(output, {"type": "websocket.close", "code": code})

    async def test_player_and_host_are_welcomed_with_state(self):
        ws, welcome, state = await self.joined(f"session_token={self.ana}")
        self.assertEqual(welcome["type"], "welcome")
        self.assertEqual(
            {k: welcome[k] for k in ("session", "role", "player_id")},
            {"session": self.code, "role": "player", "player_id": self.ana_id},
        )
        self.assertTrue(welcome["connection_id"])
        self.assertEqual(welcome["server_version"], protocol.SERVER_VERSION)
        self.assertLess(abs(welcome["server_time"] - time.time() * 1000), 5000)
        self.assertEqual(state["type"], "session.state")
        self.assertEqual(state["payload"]["phase"], "lobby")
        self.assertEqual([p["name"] for p in state["payload"]["players"]], ["Ana", "Bo"])
        self.assertEqual(state["seq"], 2)  # two player.joined events so far
        await ws.disconnect()
        host, welcome, _ = await self.joined(f"role=host&session_token={self.host}")
        self.assertEqual((welcome["role"], welcome["player_id"]), ("host", None))
        await host.disconnect()

    async def test_refusals_close_with_codes(self):
        cases = [
            ("ZZZZ", f"session_token={self.ana}", protocol.CLOSE_NOT_FOUND),
            ("ab", f"session_token={self.ana}", protocol.CLOSE_NOT_FOUND),
            (None, "", protocol.CLOSE_FORBIDDEN),
            (None, "session_token=wrong", protocol.CLOSE_FORBIDDEN),
            (None, f"session_token={self.host}", protocol.CLOSE_FORBIDDEN),  # host token as player
            (None, f"role=host&session_token={self.ana}", protocol.CLOSE_FORBIDDEN),
            (None, f"role=admin&session_token={self.host}", protocol.CLOSE_FORBIDDEN),
        ]
        for code, query, close_code in cases:
            with self.subTest(code=code, query=query):
                ws, connected = await self.connect(query, code=code)
                self.assertTrue(connected)  # accepted first, so browsers see the code
                await self.assertClosedWith(ws, close_code)

    async def test_token_of_another_session_is_refused(self):
        other_code, _ = await sync_to_async(self.api.create)()
        ws, connected = await self.connect(f"session_token={self.ana}", code=other_code)
        await self.assertClosedWith(ws, protocol.CLOSE_FORBIDDEN)

    async def test_origin_is_checked(self):
        ws, connected = await self.connect(
            f"session_token={self.ana}", origin=(b"origin", b"http://evil.example")
        )
        self.assertFalse(connected)
        ws, connected = await self.connect(f"session_token={self.ana}", origin=None)
        self.assertFalse(connected)

    async def test_ping_pong_echoes_ts(self):
        ws, _, _ = await self.joined(f"session_token={self.ana}")
        for ts in (12345, "abc", {"t": [1, 2]}, None):
            await ws.send_to(text_data=json.dumps({"type": "ping", "ts": ts}))
            self.assertEqual(await self.receive(ws), {"type": "pong", "ts": ts})
        await ws.disconnect()

    async def test_bad_input_gets_errors_and_socket_stays_open(self):
        ws, _, _ = await self.joined(f"session_token={self.ana}")
        cases = [
            ("{not json", "MESSAGE_PARSE_FAILED"),
            ("[1, 2]", "INVALID_MESSAGE"),
            ('"ping"', "INVALID_MESSAGE"),
            ('{"ts": 1}', "INVALID_MESSAGE"),
            ('{"type": 7}', "INVALID_MESSAGE"),
            ('{"type": "dance"}', "UNKNOWN_TYPE"),
        ]
        for text, code in cases:
            await ws.send_to(text_data=text)
            message = await self.receive(ws)
            self.assertEqual((message["type"], message["code"]), ("error", code), text)
            self.assertTrue(message["message"])
        await ws.send_to(bytes_data=b"\x00\x01")
        self.assertEqual((await self.receive(ws))["code"], "INVALID_MESSAGE")
        await ws.send_to(text_data='{"type": "ping", "ts": 1}')
        self.assertEqual(await self.receive(ws), {"type": "pong", "ts": 1})
        await ws.disconnect()

    async def test_six_events_reach_two_clients_in_order(self):
        ana, _, state = await self.joined(f"session_token={self.ana}")
        host, _, _ = await self.joined(f"role=host&session_token={self.host}")
        first_seq = state["seq"]
        api, code = self.api, self.code
        call = sync_to_async(api.host)
        await call(code, "start-round", self.host)
        await call(code, "show-question", self.host)
        await sync_to_async(api.lie)(code, self.ana, "Tin foil")
        await call(code, "mix-answers", self.host)
        answers = (await sync_to_async(api.state)(code))[1]["answers"]
        truth = await sync_to_async(truth_of)(code, 1)
        await sync_to_async(api.guess)(code, self.bo, answer_id(answers, truth))
        await call(code, "calculate-scores", self.host)
        await call(code, "reveal-scoreboard", self.host)
        await call(code, "finish", self.host)
        # The six phase events, with the two reveal steps (Tin foil, then the
        # truth) just before the scores.
        expected = list(quiz_events.PHASE_EVENTS[:3]) + [quiz_events.REVEAL_STEP] * 2
        expected += list(quiz_events.PHASE_EVENTS[3:6])
        for ws in (ana, host):
            events = [await self.receive(ws) for _ in expected]
            self.assertEqual([e["type"] for e in events], expected)
            self.assertEqual([e["seq"] for e in events], list(range(first_seq + 1, first_seq + 9)))
            for event in events:
                protocol.check_event(event["type"], event["payload"])
            guess = events[2]["payload"]
            self.assertNotIn("authors", json.dumps(guess))
            self.assertEqual(events[5]["payload"]["truth"]["text"], truth)
        await ana.disconnect()
        await host.disconnect()

    async def test_player_joined_is_broadcast(self):
        host, _, state = await self.joined(f"role=host&session_token={self.host}")
        await sync_to_async(self.api.join)(self.code, "Cy")
        event = await self.receive(host)
        self.assertEqual((event["type"], event["seq"]), ("player.joined", state["seq"] + 1))
        self.assertEqual(event["payload"]["name"], "Cy")
        self.assertEqual(len(event["payload"]["players"]), 3)
        await host.disconnect()

    async def test_reconnecting_client_gets_current_state(self):
        ws, _, _ = await self.joined(f"session_token={self.ana}")
        await ws.disconnect()
        await sync_to_async(self.api.host)(self.code, "start-round", self.host)
        await sync_to_async(self.api.host)(self.code, "show-question", self.host)
        ws, _, state = await self.joined(f"session_token={self.ana}")
        payload = state["payload"]
        self.assertEqual((payload["phase"], payload["round"]), ("question", 1))
        self.assertTrue(payload["question"]["prompt"])
        self.assertEqual(state["seq"], 4)  # 2 joins + 2 phase events
        await ws.disconnect()

    async def test_group_send_from_plain_channels_reaches_client(self):
        ws, _, _ = await self.joined(f"session_token={self.ana}")
        text = protocol.encode_event("session.closed", 99, {"reason": "exited"})
        await get_channel_layer().group_send(
            keys.group_name(self.code), {"type": "game.event", "seq": 99, "text": text}
        )
        self.assertEqual(await ws.receive_from(timeout=5), text)
        await get_channel_layer().group_send(
            keys.player_group_name(self.code, self.ana_id),
            {"type": "game.event", "seq": 100, "text": '{"type":"note"}'},
        )
        self.assertEqual(await ws.receive_from(timeout=5), '{"type":"note"}')
        await ws.disconnect()
        await asyncio.sleep(0)
