"""The WebSocket protocol (docs/protocol.md), row by row, against both servers.

One suite, two subclasses: `DaphneProtocolTests` runs it against Daphne
serving GameConsumer (a real subprocess), `SidecarProtocolTests` against the
C sidecar (in this process; or the standalone driver under a tool when
SIDECAR_BIN is set, see `make sidecar-valgrind`). A real client library
(`websockets`) talks to both. Rows only one server has are marked where they
are tested (tests/test_sidecar.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import websockets
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.test import TransactionTestCase

from lobby import events as lobby_events
from realtime import keys, protocol
from weirsoe import events as quiz_events

from . import servers
from .helpers import Api, ServerPerClass, answer_id, truth_of

# IsolatedAsyncioTestCase-style debug noise from the client side.
logging.getLogger("websockets").setLevel(logging.ERROR)


class ProtocolCases(ServerPerClass):
    """Every row of docs/protocol.md; subclasses set `server_class`."""

    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create()
        self.ana_id, self.ana = self.api.join(self.code, "Ana")
        self.bo_id, self.bo = self.api.join(self.code, "Bo")

    # -- helpers --------------------------------------------------------------

    async def join(self, query: str, code: str | None = None, **kw):
        return await servers.join(self.server.port, code or self.code, query, **kw)

    async def refused_with(self, query: str, code: str | None = None, **kw):
        """Connect (the handshake must succeed) and return the close code."""
        ws = await servers.connect(self.server.port, code or self.code, query, **kw)
        return await servers.close_code(ws)

    async def call(self, func, *args):
        return await sync_to_async(func)(*args)

    # -- connecting -----------------------------------------------------------

    async def test_player_welcome_then_state(self):
        ws, welcome, state = await self.join(f"session_token={self.ana}")
        self.assertEqual(
            list(welcome),
            [
                "type",
                "connection_id",
                "server_version",
                "session",
                "role",
                "player_id",
                "server_time",
            ],
        )
        self.assertLess(abs(welcome["server_time"] - time.time() * 1000), 5000)
        self.assertEqual(
            {k: welcome[k] for k in ("session", "role", "player_id", "server_version")},
            {
                "session": self.code,
                "role": "player",
                "player_id": self.ana_id,
                "server_version": protocol.SERVER_VERSION,
            },
        )
        self.assertRegex(welcome["connection_id"], r"^[0-9a-f]{32}$")
        self.assertEqual(state["seq"], 2)  # two player.joined events so far
        _, rest = await self.call(self.api.state, self.code)
        self.assertEqual(state["payload"]["phase"], "lobby")
        self.assertEqual(state["payload"]["players"], rest["players"])
        await ws.close()
        self.assertEqual(ws.close_code, 1000)

    async def test_host_welcome(self):
        ws, welcome, _ = await self.join(f"role=host&session_token={self.host}")
        self.assertEqual((welcome["role"], welcome["player_id"]), ("host", None))
        await ws.close()

    async def test_code_is_case_insensitive(self):
        ws, welcome, _ = await self.join(f"session_token={self.ana}", code=self.code.lower())
        self.assertEqual(welcome["session"], self.code)
        await ws.close()

    async def test_unknown_session_4004(self):
        for code in ("ZZZZ", "ab", "ABCDE", "A1B2"):
            with self.subTest(code=code):
                self.assertEqual(await self.refused_with(f"session_token={self.ana}", code), 4004)
        # 4004 comes first even when the token or role is bad too
        self.assertEqual(await self.refused_with("role=admin", "ZZZZ"), 4004)

    async def test_bad_token_or_role_4003(self):
        other_code, _ = await self.call(self.api.create)
        cases = [
            ("", None),
            ("session_token=", None),
            ("session_token=wrong", None),
            ("session_token=bad+token%20x", None),
            (f"session_token={self.host}", None),  # host token as a player
            (f"role=host&session_token={self.ana}", None),  # player token as host
            (f"role=admin&session_token={self.host}", None),
            (f"role=HOST&session_token={self.host}", None),
            (f"session_token={self.ana}", other_code),  # token of another session
        ]
        for query, code in cases:
            with self.subTest(query=query, code=code):
                self.assertEqual(await self.refused_with(query, code), 4003)

    async def test_origin_refused_with_403(self):
        for origin in (None, "http://evil.example", "null"):
            with self.subTest(origin=origin):
                with self.assertRaises(websockets.InvalidStatus) as caught:
                    await servers.connect(
                        self.server.port, self.code, f"session_token={self.ana}", origin=origin
                    )
                self.assertEqual(caught.exception.response.status_code, 403)
        ws, _, _ = await self.join(f"session_token={self.ana}", origin="http://127.0.0.1:1234")
        await ws.close()

    async def test_unrouted_path_refused(self):
        """403, never a 500 (Daphne used to raise Channels' "No route found")."""
        for path in ("/ws/game/ABCD", "/ws/game//", "/ws/other/", "/ws/nothing/", "/ws/game/A/B/"):
            with self.subTest(path=path):
                with self.assertRaises(websockets.InvalidStatus) as caught:
                    await websockets.connect(
                        f"ws://127.0.0.1:{self.server.port}{path}", origin=servers.ORIGIN
                    )
                self.assertEqual(caught.exception.response.status_code, 403)

    # -- client messages --------------------------------------------------------

    async def test_ping_pong_echoes_ts(self):
        ws, _, _ = await self.join(f"session_token={self.ana}")
        values = [
            12345,
            2**64 + 1,
            -(2**70),
            1.5,
            "abc",
            'é\n"',
            {"t": [1, None, True]},
            [],
            None,
            False,
        ]
        for ts in values:
            await ws.send(json.dumps({"type": "ping", "ts": ts}))
            self.assertEqual(await servers.recv_json(ws), {"type": "pong", "ts": ts})
        await ws.send('{"type": "ping"}')
        self.assertEqual(await ws.recv(), '{"type":"pong","ts":null}')
        # An integer beyond 2^53 comes back digit for digit.
        await ws.send('{"type":"ping","ts":123456789012345678901234567890}')
        self.assertEqual(await ws.recv(), '{"type":"pong","ts":123456789012345678901234567890}')
        await ws.close()

    async def test_errors_keep_the_socket_open(self):
        ws, _, _ = await self.join(f"session_token={self.ana}")
        cases = [
            ("{not json", protocol.error(protocol.MESSAGE_PARSE_FAILED)),
            ('{"type": "ping"} trailing', protocol.error(protocol.MESSAGE_PARSE_FAILED)),
            ("[1, 2]", protocol.error(protocol.INVALID_MESSAGE)),
            ('"ping"', protocol.error(protocol.INVALID_MESSAGE)),
            ('{"ts": 1}', protocol.error(protocol.INVALID_MESSAGE)),
            ('{"type": 7}', protocol.error(protocol.INVALID_MESSAGE)),
            ('{"type": "ping", "type": null}', protocol.error(protocol.INVALID_MESSAGE)),
        ]
        for name in ("dance", "it's", "x" * 60, "tab\there", "ünï"):
            cases.append(
                (
                    json.dumps({"type": name}),
                    protocol.parse_client_message(json.dumps({"type": name}))[1],
                )
            )
        for text, expected in cases:
            await ws.send(text)
            self.assertEqual(await ws.recv(), protocol.dumps(expected), text)
        await ws.send('{"type": "ping", "ts": 1}')
        self.assertEqual(await servers.recv_json(ws), {"type": "pong", "ts": 1})
        await ws.close()

    async def test_strict_json(self):
        """What json.loads takes but JSON does not: MESSAGE_PARSE_FAILED, socket open."""
        ws, _, _ = await self.join(f"session_token={self.ana}")
        deep = protocol.MAX_JSON_DEPTH
        for text in (
            '{"type": "ping", "ts": NaN}',
            '{"type": "ping", "ts": -Infinity}',
            '{"type": "ping", "ts": 1e400}',
            '{"type": "ping", "ts": "\\ud800"}',
            '{"type": "\\ud800", "type": "ping"}',
            '{"type": "ping", "ts": "a\\u0000"}',
            '{"type": "ping", "ts": ' + "9" * (protocol.MAX_JSON_NUMBER + 1) + "}",
            '{"type": "ping", "ts": ' + "[" * deep + "]" * deep + "}",
        ):
            await ws.send(text)
            self.assertEqual(
                await ws.recv(), protocol.dumps(protocol.error(protocol.MESSAGE_PARSE_FAILED)), text
            )
        inner = "[" * (deep - 2) + "]" * (deep - 2)
        for ts in ("9" * protocol.MAX_JSON_NUMBER, "1.5e308", inner, '"\\ud83d\\ude00"'):
            await ws.send('{"type": "ping", "ts": ' + ts + "}")
            self.assertEqual((await servers.recv_json(ws))["type"], "pong", ts)
        await ws.close()

    async def test_binary_frame(self):
        """Sidecar: close 1003. Daphne (Autobahn sends no 1003): an error, socket open."""
        ws, _, _ = await self.join(f"session_token={self.ana}")
        await ws.send(b"\x00\x01")
        if self.server.name == "daphne":
            self.assertEqual(
                await servers.recv_json(ws),
                protocol.error(protocol.INVALID_MESSAGE, "Only text frames carry messages."),
            )
            await ws.close()
        else:
            self.assertEqual(await servers.close_code(ws), protocol.CLOSE_UNSUPPORTED_DATA)

    async def test_messages_sent_before_the_welcome_are_answered_after_it(self):
        ws = await servers.connect(self.server.port, self.code, f"session_token={self.ana}")
        await ws.send('{"type":"ping","ts":1}')
        await ws.send("nope")
        types = [(await servers.recv_json(ws))["type"] for _ in range(4)]
        self.assertEqual(types, ["welcome", "session.state", "pong", "error"])
        await ws.close()

    async def test_invalid_utf8_closes_the_socket(self):
        ws, _, _ = await self.join(f"session_token={self.ana}")
        await ws.send(b'{"type":"ping","ts":"\xff\xfe"}', text=True)
        # The sidecar closes with 1007; Daphne (autobahn) drops the
        # connection without a close frame (docs/protocol.md, close codes).
        expected = None if self.server.name == "daphne" else 1007
        self.assertEqual(await servers.close_code(ws), expected)

    # -- server -> client -------------------------------------------------------

    async def test_phase_events_in_order_with_seq(self):
        ana, _, state = await self.join(f"session_token={self.ana}")
        host, _, _ = await self.join(f"role=host&session_token={self.host}")
        first = state["seq"]
        api, code = self.api, self.code
        await self.call(api.host, code, "start-round", self.host)
        await self.call(api.host, code, "show-question", self.host)
        await self.call(api.lie, code, self.ana, "Tin foil")
        await self.call(api.host, code, "mix-answers", self.host)
        answers = (await self.call(api.state, code))[1]["answers"]
        truth = await self.call(truth_of, code, 1)
        await self.call(api.guess, code, self.bo, answer_id(answers, truth))
        await self.call(api.host, code, "calculate-scores", self.host)
        await self.call(api.host, code, "reveal-scoreboard", self.host)
        await self.call(api.host, code, "finish", self.host)
        expected = [
            quiz_events.LIE_STARTED,
            quiz_events.QUESTION_SHOWN,
            quiz_events.GUESS_STARTED,
            quiz_events.REVEAL_STEP,  # Ana's lie, then the truth
            quiz_events.REVEAL_STEP,
            quiz_events.SCORES_CALCULATED,
            lobby_events.SCOREBOARD,
            lobby_events.GAME_OVER,
        ]
        texts = {}
        for ws in (ana, host):
            events = [await servers.recv_json(ws) for _ in expected]
            self.assertEqual([e["type"] for e in events], expected)
            self.assertEqual(
                [e["seq"] for e in events], list(range(first + 1, first + 1 + len(expected)))
            )
            for event in events:
                protocol.check_event(event["type"], event["payload"])
            self.assertNotIn("authors", json.dumps(events[2]["payload"]))
            texts[ws] = [json.dumps(e) for e in events]
        self.assertEqual(texts[ana], texts[host])
        # A client that connects now gets the state of the last event.
        late, _, state = await self.join(f"session_token={self.bo}")
        self.assertEqual(
            (state["seq"], state["payload"]["phase"]), (first + len(expected), "finished")
        )
        for ws in (ana, host, late):
            await ws.close()

    async def test_player_joined_is_broadcast(self):
        host, _, state = await self.join(f"role=host&session_token={self.host}")
        await self.call(self.api.join, self.code, "Cy")
        event = await servers.recv_json(host)
        self.assertEqual(
            (event["type"], event["seq"]), (lobby_events.PLAYER_JOINED, state["seq"] + 1)
        )
        self.assertEqual(event["payload"]["name"], "Cy")
        await host.close()

    async def test_group_sends_forwarded_byte_for_byte(self):
        ana, _, _ = await self.join(f"session_token={self.ana}")
        bo, _, _ = await self.join(f"session_token={self.bo}")
        layer = get_channel_layer()
        text = protocol.encode_event("session.closed", 99, {"reason": "exited", "note": "é"})
        await layer.group_send(
            keys.group_name(self.code), {"type": "game.event", "seq": 99, "text": text}
        )
        self.assertEqual(await asyncio.wait_for(ana.recv(), 5), text)
        self.assertEqual(await asyncio.wait_for(bo.recv(), 5), text)
        # The per-player group reaches that player's sockets only.
        await layer.group_send(
            keys.player_group_name(self.code, self.bo_id),
            {"type": "game.event", "text": '{"type":"note"}'},
        )
        self.assertEqual(await asyncio.wait_for(bo.recv(), 5), '{"type":"note"}')
        await ana.send('{"type":"ping","ts":"after"}')
        self.assertEqual(await servers.recv_json(ana), {"type": "pong", "ts": "after"})
        await ana.close()
        await bo.close()

    async def test_game_close_closes_every_socket_with_its_code(self):
        sockets = [
            (await self.join(q))[0]
            for q in (f"session_token={self.ana}", f"role=host&session_token={self.host}")
        ]
        await get_channel_layer().group_send(
            keys.group_name(self.code), {"type": "game.close", "code": 4000}
        )
        for ws in sockets:
            self.assertEqual(await servers.close_code(ws), 4000)

    async def test_exit_closes_sockets_and_refuses_new_ones_with_4000(self):
        ws, _, _ = await self.join(f"session_token={self.ana}")
        status, _ = await self.call(self.api.host, self.code, "exit", self.host)
        self.assertEqual(status, 200)
        self.assertEqual((await servers.recv_json(ws))["type"], lobby_events.SESSION_CLOSED)
        self.assertEqual(await servers.close_code(ws), protocol.CLOSE_SESSION_CLOSED)
        for query in (f"session_token={self.ana}", f"role=host&session_token={self.host}"):
            self.assertEqual(await self.refused_with(query), protocol.CLOSE_SESSION_CLOSED)


class DaphneProtocolTests(ProtocolCases, TransactionTestCase):
    server_class = servers.Daphne


class SidecarProtocolTests(ProtocolCases, TransactionTestCase):
    server_class = staticmethod(servers.Sidecar)
