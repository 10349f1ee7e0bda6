"""Broadcast helpers: seq counter, pre-encoded text, Redis down."""

import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import TestCase

from realtime import protocol
from realtime.broadcast import BroadcastError, current_seq, sync_broadcast_phase_event

from .helpers import Api
from .redis_server import free_port
from .runner import PartyhubTestRunner, use_redis


class BroadcastTests(TestCase):
    def test_seq_increases_and_text_is_the_protocol_encoding(self):
        layer = get_channel_layer()
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(protocol.group_name("SEQA"), channel)
        before = async_to_sync(current_seq)("SEQA")
        payload = {"round": 1, "ranking": [{"player_id": 1, "name": "Åsa", "score": 0, "rank": 1}]}
        first = sync_broadcast_phase_event("SEQA", "phase.scoreboard", payload)
        second = sync_broadcast_phase_event("SEQA", "phase.scoreboard", payload)
        self.assertEqual((first, second), (before + 1, before + 2))
        message = async_to_sync(layer.receive)(channel)
        self.assertEqual(message["type"], "game.event")
        self.assertEqual(message["seq"], first)
        self.assertEqual(message["text"], protocol.encode_event("phase.scoreboard", first, payload))
        self.assertIn("Åsa", message["text"])  # UTF-8, not \\u escapes

    def test_event_parts_splice_to_the_full_encoding(self):
        payload = {"round": 2, "question": 'He said "hi"', "category": "x"}
        head, tail = protocol.encode_event_parts("phase.question_shown", payload)
        self.assertEqual(
            head + "42" + tail, protocol.encode_event("phase.question_shown", 42, payload)
        )

    def test_payload_must_have_required_fields(self):
        with self.assertRaises(ValueError):
            sync_broadcast_phase_event("SEQA", "phase.scoreboard", {"round": 1})
        with self.assertRaises(ValueError):
            sync_broadcast_phase_event("SEQA", "phase.nonsense", {})


class RedisDownTests(TestCase):
    def setUp(self):
        use_redis(free_port())  # nothing listens there
        self.addCleanup(use_redis, PartyhubTestRunner.redis.port)

    def test_helper_raises_a_clear_error_quickly(self):
        started = time.monotonic()
        with self.assertRaises(BroadcastError) as caught:
            sync_broadcast_phase_event("DOWN", "phase.game_over", {"ranking": []})
        self.assertLess(time.monotonic() - started, 10)
        self.assertIn("unavailable", str(caught.exception))

    def test_rest_action_says_the_broadcast_failed(self):
        api = Api()
        started = time.monotonic()
        with self.assertLogs("realtime.snapshot", "ERROR"):
            status, body = api.call("POST", "/api/sessions/", {})
        self.assertEqual(status, 201)
        self.assertFalse(body["broadcast"]["ok"])
        self.assertLess(time.monotonic() - started, 5)
        with self.assertLogs("lobby.views", "ERROR") as logs:
            status, body = api.call("POST", f"/api/sessions/{body['code']}/join/", {"name": "Ana"})
        self.assertIn("player.joined", logs.output[0])
        self.assertEqual(status, 201)  # the join itself is saved
        self.assertFalse(body["broadcast"]["ok"])
        self.assertIn("not told", body["broadcast"]["error"])
