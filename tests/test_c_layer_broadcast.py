"""The broadcast helpers on the C layer: GameConsumer delivery, exact bytes,
one round trip, Redis down, async callers."""

from __future__ import annotations

import asyncio
import json
import time

import msgpack
import redis
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import SimpleTestCase, TransactionTestCase

from lobby import events as lobby_events
from partyhub.asgi import application
from realtime import broadcast, keys, protocol, redis_hosts, snapshot
from realtime import layer as layer_mod
from realtime.broadcast import BroadcastError, broadcast_phase_event, sync_broadcast_phase_event
from weirsoe import events as quiz_events

from .helpers import Api, redis_commands
from .redis_server import RedisServer, free_port
from .runner import PartyhubTestRunner, use_redis

ORIGIN = (b"origin", b"http://localhost")
SCOREBOARD = {
    "round": 1,
    "rounds": 3,
    "final_round": False,
    "ranking": [{"player_id": 1, "name": "Åsa", "score": 0, "rank": 1}],
    "deadline": None,
}


def raw_client() -> redis.Redis:
    return redis.Redis(port=PartyhubTestRunner.redis.port)


class ConsumerDeliveryTests(TransactionTestCase):
    serialized_rollback = True

    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create()
        self.ana_id, self.ana = self.api.join(self.code, "Ana")

    async def test_game_consumer_receives_the_c_broadcast(self):
        self.assertIsNotNone(layer_mod.get_layer())  # the C path is the one used
        communicator = WebsocketCommunicator(
            application, f"/ws/game/{self.code}/?session_token={self.ana}", headers=[ORIGIN]
        )
        connected, _ = await communicator.connect(timeout=5)
        self.assertTrue(connected)
        await communicator.receive_from(timeout=5)  # welcome
        state = json.loads(await communicator.receive_from(timeout=5))
        seq = await sync_to_async(sync_broadcast_phase_event)(
            self.code, lobby_events.SCOREBOARD, SCOREBOARD
        )
        self.assertEqual(seq, state["seq"] + 1)
        text = await communicator.receive_from(timeout=5)
        self.assertEqual(text, protocol.encode_event(lobby_events.SCOREBOARD, seq, SCOREBOARD))
        seq2 = await broadcast_phase_event(
            self.code, lobby_events.GAME_OVER, {"round": 1, "ranking": [], "awards": []}
        )
        self.assertEqual(seq2, seq + 1)
        text = await communicator.receive_from(timeout=5)
        self.assertEqual(
            text,
            protocol.encode_event(
                lobby_events.GAME_OVER, seq2, {"round": 1, "ranking": [], "awards": []}
            ),
        )
        await communicator.disconnect()


class StoredBytesTests(SimpleTestCase):
    def setUp(self):
        self.raw = raw_client()
        self.addCleanup(self.raw.close)

    def stored(self, code: str, channel: str) -> bytes:
        key = "asgi" + channel[: channel.index("!") + 1]
        members = self.raw.zrange(key, 0, -1)
        self.raw.delete(key)
        self.assertEqual(len(members), 1)
        return members[0][12:]

    def test_bytes_equal_the_python_path_message(self):
        """Every msgpack int and str size class of seq and text, spliced in Lua."""
        code = "BYTES"
        channel = "specific.bytesproc!c1"
        fast = layer_mod.get_layer()
        fast.group_add(keys.group_name(code), channel)
        fast.group_add(keys.group_name(code), "specific.bytesproc!c2")
        for start in (0, 126, 127, 254, 255, 65534, 65535, 2**32 - 2, 2**32 - 1, 2**40):
            for text_len in (1, 20, 31, 32, 255, 256, 65536):
                self.raw.set(keys.seq_key(code), start)
                payload = {"round": 1, "question": "q" * text_len, "category": "c"}
                seq = sync_broadcast_phase_event(code, quiz_events.QUESTION_SHOWN, payload)
                self.assertEqual(seq, start + 1)
                text = protocol.encode_event(quiz_events.QUESTION_SHOWN, seq, payload)
                python_path = {"type": "game.event", "seq": seq, "text": text}
                expected = msgpack.packb(
                    {
                        **python_path,
                        "__asgi_channel__": ["specific.bytesproc!c1", "specific.bytesproc!c2"],
                    }
                )
                self.assertEqual(self.stored(code, channel), expected, (start, text_len))
        ttl = self.raw.ttl(keys.seq_key(code))
        self.assertTrue(broadcast.SEQ_TTL - 5 < ttl <= broadcast.SEQ_TTL)

    def test_one_redis_command_per_broadcast(self):
        code = "ONERT"
        fast = layer_mod.get_layer()
        for i in range(10):
            fast.group_add(keys.group_name(code), f"specific.p{i % 2}!c{i}")
        sync_broadcast_phase_event(
            code, lobby_events.GAME_OVER, {"round": 1, "ranking": [], "awards": []}
        )
        self.raw.config_resetstat()
        for _ in range(5):
            sync_broadcast_phase_event(
                code, lobby_events.GAME_OVER, {"round": 1, "ranking": [], "awards": []}
            )
        calls = {k: v["calls"] for k, v in self.raw.info("commandstats").items()}
        # Commands run by the script are counted too; the client sent EVALSHA
        # and nothing else (no MULTI/EXEC, no separate INCR round trip).
        self.assertEqual(calls.pop("cmdstat_evalsha"), 5)
        calls.pop("cmdstat_config|resetstat", None)
        in_script = {"time", "incr", "expire", "zremrangebyscore", "zrange", "zcount", "zadd"}
        self.assertLessEqual({k.removeprefix("cmdstat_") for k in calls}, in_script)
        self.assertEqual(calls["cmdstat_incr"], 5)

    def test_channels_redis_receiver_gets_the_event(self):
        layer = get_channel_layer()

        async def scenario():
            channel = await layer.new_channel()
            await layer.group_add(keys.group_name("RECV"), channel)
            seq = await broadcast_phase_event(
                "RECV", lobby_events.GAME_OVER, {"round": 1, "ranking": [], "awards": []}
            )
            message = await layer.receive(channel)
            self.assertEqual(
                message,
                {
                    "type": "game.event",
                    "seq": seq,
                    "text": protocol.encode_event(
                        lobby_events.GAME_OVER, seq, {"round": 1, "ranking": [], "awards": []}
                    ),
                },
            )
            await layer.group_discard(keys.group_name("RECV"), channel)

        async_to_sync(scenario)()

    def test_concurrent_broadcasts_number_in_delivery_order(self):
        code = "ORDER"
        fast = layer_mod.get_layer()
        fast.group_add(keys.group_name(code), "specific.order!c")

        async def scenario():
            return await asyncio.gather(
                *[
                    broadcast_phase_event(
                        code, lobby_events.GAME_OVER, {"round": i, "ranking": [], "awards": []}
                    )
                    for i in range(20)
                ]
            )

        seqs = async_to_sync(scenario)()
        self.assertEqual(sorted(seqs), list(range(min(seqs), max(seqs) + 1)))
        delivered = [fast.receive("specific.order!", 1)[1]["seq"] for _ in range(20)]
        self.assertEqual(delivered, sorted(delivered))


class StateWithEventTests(SimpleTestCase):
    """The session.state text is stored by the event's own EVALSHA."""

    STATE = {"phase": "lie", "players": [{"id": 1, "name": 'Åsa "A"'}]}

    def setUp(self):
        self.raw = raw_client()
        self.addCleanup(self.raw.close)

    def stored_state(self, code: str) -> dict:
        return json.loads(self.raw.get(keys.state_key(code)))

    def test_a_joiner_right_after_the_event_reads_a_state_with_its_seq(self):
        code = "STATE"
        fast = layer_mod.get_layer()
        fast.group_add(keys.group_name(code), "specific.stateproc!c")
        for start in (0, 127, 65535, 2**40):
            self.raw.set(keys.seq_key(code), start)
            self.raw.delete(keys.state_seq_key(code))
            with redis_commands(PartyhubTestRunner.redis.port) as commands:
                seq = sync_broadcast_phase_event(
                    code,
                    lobby_events.GAME_OVER,
                    {"round": 1, "ranking": [], "awards": []},
                    self.STATE,
                )
            # What a socket joining now would GET: the event's seq, same text
            # as snapshot.store_state writes.
            text = self.raw.get(keys.state_key(code)).decode()
            self.assertEqual(text, protocol.dumps(protocol.session_state(self.STATE, seq)))
            self.assertEqual(int(self.raw.get(keys.state_seq_key(code))), seq)
            # One command from the client; the state SETs ran inside it.
            sent = [c for kind, c in commands if kind != "lua"]
            self.assertEqual(len(sent), 1)
            self.assertTrue(sent[0].lower().startswith("evalsha"))
            in_script = [c.split() for kind, c in commands if kind == "lua"]
            sets = [words[1] for words in in_script if words[0].upper() == "SET"]
            self.assertIn(keys.state_key(code), sets)
            self.assertEqual(fast.receive("specific.stateproc!", 1)[1]["seq"], seq)
        for key in (keys.state_key(code), keys.state_seq_key(code)):
            ttl = self.raw.ttl(key)
            self.assertTrue(snapshot.KEY_TTL - 5 < ttl <= snapshot.KEY_TTL)

    def test_an_older_seq_leaves_a_newer_state_and_still_sends(self):
        code = "NEWER"
        fast = layer_mod.get_layer()
        fast.group_add(keys.group_name(code), "specific.newerproc!c")
        self.assertTrue(snapshot.store_state(code, 10**6, {"phase": "newer"}))
        seq = sync_broadcast_phase_event(
            code, lobby_events.GAME_OVER, {"round": 1, "ranking": [], "awards": []}, self.STATE
        )
        self.assertLess(seq, 10**6)
        self.assertEqual(self.stored_state(code)["payload"], {"phase": "newer"})
        self.assertEqual(fast.receive("specific.newerproc!", 1)[1]["seq"], seq)

    def test_async_helper_stores_the_state_too(self):
        code = "ASTATE"
        seq = async_to_sync(broadcast_phase_event)(
            code, lobby_events.GAME_OVER, {"round": 1, "ranking": [], "awards": []}, self.STATE
        )
        self.assertEqual(self.stored_state(code)["seq"], seq)


class BroadcastRedisDownTests(SimpleTestCase):
    def tearDown(self):
        use_redis(PartyhubTestRunner.redis.port)

    def test_nothing_listening_raises_within_the_connect_timeout(self):
        use_redis(free_port())
        self.assertIsNotNone(layer_mod.get_layer())
        started = time.monotonic()
        with self.assertRaises(BroadcastError) as caught:
            sync_broadcast_phase_event(
                "DOWN", lobby_events.GAME_OVER, {"round": 1, "ranking": [], "awards": []}
            )
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertIn("unavailable", str(caught.exception))
        self.assertIsInstance(caught.exception.__cause__, layer_mod.RedisUnavailable)

    def test_hung_redis_raises_within_the_read_timeout(self):
        with RedisServer() as server:
            use_redis(server.port)
            sync_broadcast_phase_event(
                "HUNG", lobby_events.GAME_OVER, {"round": 1, "ranking": [], "awards": []}
            )
            server.process.send_signal(19)  # SIGSTOP
            try:
                started = time.monotonic()
                with self.assertRaises(BroadcastError):
                    sync_broadcast_phase_event(
                        "HUNG", lobby_events.GAME_OVER, {"round": 1, "ranking": [], "awards": []}
                    )
                elapsed = time.monotonic() - started
                self.assertLess(elapsed, redis_hosts.DEFAULT_SOCKET_TIMEOUT + 1)

                async def async_caller():
                    ticks = 0

                    async def ticker():
                        nonlocal ticks
                        while True:
                            ticks += 1
                            await asyncio.sleep(0.05)

                    task = asyncio.ensure_future(ticker())
                    with self.assertRaises(BroadcastError):
                        await broadcast_phase_event(
                            "HUNG",
                            lobby_events.GAME_OVER,
                            {"round": 1, "ranking": [], "awards": []},
                        )
                    task.cancel()
                    return ticks

                self.assertGreater(asyncio.run(async_caller()), 10)  # the loop kept running
            finally:
                server.process.send_signal(18)  # SIGCONT


class FallbackTests(SimpleTestCase):
    def test_without_the_extension_the_python_path_is_used_and_logged_once(self):
        from unittest import mock

        with (
            mock.patch.object(layer_mod, "C_AVAILABLE", False),
            mock.patch.object(layer_mod, "_FALLBACK_WARNED", False),
        ):
            with self.assertLogs("realtime.layer", "WARNING") as logs:
                seq = sync_broadcast_phase_event(
                    "FALLB", lobby_events.GAME_OVER, {"round": 1, "ranking": [], "awards": []}
                )
                sync_broadcast_phase_event(
                    "FALLB", lobby_events.GAME_OVER, {"round": 1, "ranking": [], "awards": []}
                )
            self.assertEqual(len(logs.output), 1)
            self.assertIn("not built", logs.output[0])
        self.assertEqual(async_to_sync(broadcast.current_seq)("FALLB"), seq + 1)
        self.assertEqual(settings.CHANNEL_LAYERS["default"]["BACKEND"], layer_mod.REDIS_BACKEND)
