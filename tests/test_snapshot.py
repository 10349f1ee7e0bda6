"""The Redis keys Django keeps for the sidecar: token digests and state text."""

import json

from django.test import TestCase

from lobby.services import token_digest
from realtime import keys, snapshot

from .helpers import Api, redis_commands
from .runner import PartyhubTestRunner


class SnapshotTests(TestCase):
    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create()
        self.redis = snapshot.client_for(self.code)

    def test_token_digests_are_registered(self):
        with self.captureOnCommitCallbacks(execute=True):
            player_id, token = self.api.join(self.code, "Ana")
        key = keys.session_key(self.code)
        self.assertEqual(self.redis.hget(key, "host").decode(), token_digest(self.host))
        self.assertEqual(self.redis.hget(key, f"p:{token_digest(token)}"), str(player_id).encode())
        self.assertGreater(self.redis.ttl(key), 0)
        raw = str(self.redis.hgetall(key))
        self.assertNotIn(token, raw)
        self.assertNotIn(self.host, raw)

    def test_state_text_follows_each_broadcast(self):
        stored = json.loads(self.redis.get(keys.state_key(self.code)))
        self.assertEqual((stored["type"], stored["seq"]), ("session.state", 0))
        self.api.join(self.code, "Ana")
        self.api.join(self.code, "Bo")
        self.api.host(self.code, "start-round", self.host)
        stored = json.loads(self.redis.get(keys.state_key(self.code)))
        self.assertEqual(stored["seq"], 3)
        self.assertEqual(stored["payload"]["phase"], "lie")
        self.assertEqual(len(stored["payload"]["players"]), 2)

    def test_an_older_state_never_replaces_a_newer_one(self):
        snapshot.store_state(self.code, 10, {"phase": "new"})
        snapshot.store_state(self.code, 9, {"phase": "old"})
        stored = json.loads(self.redis.get(keys.state_key(self.code)))
        self.assertEqual((stored["seq"], stored["payload"]["phase"]), (10, "new"))

    def test_an_action_stores_its_state_in_its_last_events_script(self):
        self.code, host = self.api.create(auto_advance=True)
        _, ana = self.api.join(self.code, "Ana")
        _, bo = self.api.join(self.code, "Bo")
        self.api.host(self.code, "start-round", host)
        self.api.lie(self.code, ana, "a lie")
        with redis_commands(PartyhubTestRunner.redis.port) as commands:
            status, body = self.api.lie(self.code, bo, "another lie")  # all in: advances
        self.assertEqual(status, 201, body)
        seqs = body["broadcast"]["seq"]
        self.assertGreater(len(seqs), 1)
        stored = json.loads(self.redis.get(keys.state_key(self.code)))
        self.assertEqual(stored["seq"], seqs[-1])
        self.assertEqual(stored["payload"]["phase"], self.api.state(self.code)[1]["phase"])
        # Written once, by a script (the last event's EVALSHA), never by a
        # separate command after the events.
        writes = [
            (kind, c.split()[0].upper())
            for kind, c in commands
            if c.split()[1:2] == [keys.state_key(self.code)]
        ]
        self.assertEqual(writes, [("lua", "SET")])
        sent = [c.split()[0].upper() for kind, c in commands if kind != "lua"]
        self.assertNotIn("EVAL", sent)
        self.assertEqual(sent.count("EVALSHA"), len(seqs))
