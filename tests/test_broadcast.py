"""Broadcast helpers: seq counter, pre-encoded text, Redis down."""

import json
import time
from unittest import mock

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import TestCase

from lobby import events as lobby_events
from lobby.models import OutboxEvent
from realtime import keys, protocol, snapshot
from realtime import layer as layer_mod
from realtime.broadcast import BroadcastError, current_seq, sync_broadcast_phase_event

from .helpers import Api, redis_commands
from .redis_server import free_port
from .runner import PartyhubTestRunner, use_redis


class BroadcastTests(TestCase):
    def test_seq_increases_and_text_is_the_protocol_encoding(self):
        layer = get_channel_layer()
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(keys.group_name("SEQA"), channel)
        before = async_to_sync(current_seq)("SEQA")
        payload = {
            "round": 1,
            "rounds": 3,
            "final_round": False,
            "ranking": [{"player_id": 1, "name": "Åsa", "score": 0, "rank": 1}],
            "deadline": None,
        }
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


class FallbackStateTests(TestCase):
    """Without the C layer the state is stored before the group_send."""

    def test_state_is_stored_with_the_seq_before_the_event_is_sent(self):
        code, state = "FSTATE", {"phase": "lie", "players": []}
        layer = get_channel_layer()
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(keys.group_name(code), channel)
        with (
            mock.patch.object(layer_mod, "C_AVAILABLE", False),
            mock.patch.object(layer_mod, "_FALLBACK_WARNED", True),
            redis_commands(PartyhubTestRunner.redis.port) as commands,
        ):
            seq = sync_broadcast_phase_event(
                code, lobby_events.GAME_OVER, {"round": 1, "ranking": [], "awards": []}, state
            )
        raw = snapshot.client_for(code)
        stored = raw.get(keys.state_key(code)).decode()
        self.assertEqual(stored, protocol.dumps(protocol.session_state(state, seq)))
        self.assertEqual(async_to_sync(layer.receive)(channel)["seq"], seq)
        names = [command.split()[:2] for _, command in commands]
        state_set = names.index(["SET", keys.state_key(code)])
        channel_key = layer.prefix + layer.non_local_name(channel)
        event_zadd = [i for i, n in enumerate(names) if n == ["ZADD", channel_key]]
        self.assertEqual(len(event_zadd), 1)
        self.assertLess(state_set, event_zadd[0])

    def test_an_older_seq_leaves_a_newer_state(self):
        code = "FNEWER"
        self.assertTrue(snapshot.store_state(code, 10**6, {"phase": "newer"}))
        with mock.patch.object(layer_mod, "C_AVAILABLE", False):
            with mock.patch.object(layer_mod, "_FALLBACK_WARNED", True):
                sync_broadcast_phase_event(
                    code,
                    lobby_events.GAME_OVER,
                    {"round": 1, "ranking": [], "awards": []},
                    {"x": 1},
                )
        stored = json.loads(snapshot.client_for(code).get(keys.state_key(code)))
        self.assertEqual(stored["payload"], {"phase": "newer"})


class RedisDownTests(TestCase):
    def setUp(self):
        use_redis(free_port())  # nothing listens there
        self.addCleanup(use_redis, PartyhubTestRunner.redis.port)

    def test_helper_raises_a_clear_error_quickly(self):
        started = time.monotonic()
        with self.assertRaises(BroadcastError) as caught:
            sync_broadcast_phase_event(
                "DOWN", "phase.game_over", {"round": 1, "ranking": [], "awards": []}
            )
        self.assertLess(time.monotonic() - started, 10)
        self.assertIn("unavailable", str(caught.exception))

    def test_rest_action_says_the_broadcast_failed(self):
        api = Api()
        started = time.monotonic()
        with self.assertLogs("lobby.publish", "ERROR"):
            status, body = api.call("POST", "/api/sessions/", {})
        self.assertEqual(status, 201)
        self.assertEqual((body["broadcast"]["ok"], body["broadcast"]["queued"]), (False, True))
        self.assertLess(time.monotonic() - started, 5)
        with self.assertLogs("lobby.views", "ERROR") as logs:
            code = body["code"]
            status, body = api.call("POST", f"/api/sessions/{code}/join/", {"name": "Ana"})
        self.assertIn("failed (queued)", logs.output[0])  # the older row first
        self.assertEqual(status, 201)  # the join itself is saved
        self.assertEqual(body["broadcast"]["seq"], [1])  # numbered by the database
        self.assertEqual((body["broadcast"]["ok"], body["broadcast"]["queued"]), (False, True))
        self.assertIn("as soon as", body["broadcast"]["error"])
        # Both actions wait in the outbox for the relay, in order.
        rows = OutboxEvent.objects.filter(session__code=code)
        self.assertEqual([(r.seq, r.event_type) for r in rows], [(0, ""), (1, "player.joined")])
