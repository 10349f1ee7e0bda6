"""Redis Sentinel: the C layer, the Django side and Daphne follow a failover.

Each class runs its own tests/sentinel_cluster.py cluster (a master, a
replica, three redis-sentinel; down-after 1 s). Host entries get a 6 s
socket timeout, so a C layer call waits up to 7 s (connect + socket timeout)
for the new master: a failover here takes a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from unittest import mock

from asgiref.sync import sync_to_async
from channels.exceptions import InvalidChannelLayerError
from channels.layers import channel_layers, get_channel_layer
from django.test import SimpleTestCase, TransactionTestCase, override_settings

from lobby import events as lobby_events
from realtime import broadcast, keys, snapshot
from realtime.layer import FastRedisLayer, RedisUnavailable
from realtime.redis_hosts import parse_hosts
from realtime.redis_sentinel import sentinel_host
from weirsoe import events as quiz_events

from . import servers
from .helpers import Api, play_round
from .sentinel_cluster import SentinelCluster, wait_for

SOCKET_TIMEOUT = 6.0


def plain_layers(cluster: SentinelCluster) -> dict:
    """CHANNEL_LAYERS for the cluster in channels_redis's bare Sentinel form."""
    layers = cluster.channel_layers()
    layers["default"]["CONFIG"]["hosts"] = [cluster.host_config(socket_timeout=SOCKET_TIMEOUT)]
    return layers


def readme_layers(cluster: SentinelCluster) -> dict:
    """The same through sentinel_host(), as the README configures it."""
    layers = plain_layers(cluster)
    layers["default"]["CONFIG"]["hosts"] = [
        sentinel_host(**h) for h in layers["default"]["CONFIG"]["hosts"]
    ]
    return layers


class _ClusterCase(SimpleTestCase):
    cluster_options: dict = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = SentinelCluster(**cls.cluster_options).start()
        cls.addClassCleanup(cls.cluster.close)

    def layer(self) -> FastRedisLayer:
        layer = FastRedisLayer(hosts=[self.cluster.host_config(socket_timeout=SOCKET_TIMEOUT)])
        self.addCleanup(layer.close)
        return layer


class HostFormTests(SimpleTestCase):
    def test_channels_redis_sentinel_form(self):
        entry = {
            "sentinels": [("s1", 26379), ["s2", 26380]],
            "master_name": "mymaster",
            "sentinel_kwargs": {"password": "sp"},
            "password": "mp",
            "db": 2,
        }
        sentinel = ("mymaster", [("s1", 26379), ("s2", 26380)], None, "sp", 1.0, 3.0)
        self.assertEqual(parse_hosts([entry]), [(None, 0, None, 2, None, "mp", 1.0, 2.0, sentinel)])
        for bad in (
            {"master_name": "m", "sentinels": []},
            {"master_name": "m", "sentinels": [("s", 1)], "sentinel_kwargs": {"ssl": True}},
        ):
            with self.assertRaises(InvalidChannelLayerError):
                parse_hosts([bad])


class CLayerFailoverTests(_ClusterCase):
    cluster_options = {"password": "master-pw", "sentinel_password": "sentinel-pw"}

    def test_unknown_master_name_fails_instead_of_hanging(self):
        host = {**self.cluster.host_config(socket_timeout=0.5), "master_name": "nosuch"}
        layer = FastRedisLayer(hosts=[host])
        with self.assertRaisesRegex(RedisUnavailable, "does not know this master"):
            layer.send("x", {"type": "x"})

    async def test_channels_redis_path_over_sentinel(self):
        """Without the C layer (here: another backend class name), broadcasts
        take the seq and group-send through channels_redis's Sentinel pool."""
        layers = readme_layers(self.cluster)
        layers["default"]["BACKEND"] = "tests.browser_layer.BrowserTestLayer"
        receiver = self.layer()
        await asyncio.to_thread(receiver.group_add, keys.group_name("PURE"), "pure-member")
        with override_settings(CHANNEL_LAYERS=layers):
            channel_layers.backends.clear()
            try:
                payload = {"round": 1, "question": "?", "category": "c"}
                seq = await broadcast.broadcast_phase_event(
                    "PURE", quiz_events.QUESTION_SHOWN, payload
                )
                self.assertEqual(await broadcast.current_seq("PURE"), seq)
                await get_channel_layer().close_pools()
            finally:
                channel_layers.backends.clear()
        _, message = await asyncio.to_thread(receiver.receive, "pure-member", 2)
        self.assertEqual((message["seq"], json.loads(message["text"])["seq"]), (seq, seq))

    def test_send_receive_and_group_send_follow_a_failover(self):
        sender, receiver = self.layer(), self.layer()
        channel = "member"
        sender.group_add("g", channel)

        def broadcast() -> int:
            message = {"type": "e", "seq": 0, "text": ""}
            return sender.group_send_seq("g", message, "ctr", "seq", "text", "<", ">")

        self.assertEqual(broadcast(), 1)
        self.assertEqual(receiver.receive(channel, 2)[1]["text"], "<1>")
        sender.send("direct", {"type": "before"})
        self.cluster.wait_replicated()
        old = self.cluster.kill_master()
        # Both layers find their connections closed, ask the sentinels and
        # wait (bounded) until one names a master that says ROLE master.
        self.assertEqual(broadcast(), 2)
        self.assertNotEqual(self.cluster.master.port, old.port)
        self.assertEqual(receiver.receive(channel, 2)[1]["text"], "<2>")
        self.assertEqual(receiver.receive("direct", 2)[1], {"type": "before"})
        sender.send("direct", {"type": "after"})
        self.assertEqual(receiver.receive("direct", 2)[1], {"type": "after"})


class DemotedMasterTests(_ClusterCase):
    """The master turned replica while clients stay connected to it (Redis's
    FAILOVER): writes get READONLY, blocked pops UNBLOCKED."""

    def test_layer_and_snapshot_client_leave_a_demoted_master(self):
        sender, receiver = self.layer(), self.layer()
        sender.send("warm-up", {"type": "x"})  # sender now holds a connection
        layers = readme_layers(self.cluster)
        with override_settings(CHANNEL_LAYERS=layers):
            self.assertTrue(snapshot.register_session("SNTL", "digest-1"))
        popped = {}
        waiter = threading.Thread(target=lambda: popped.update(r=receiver.receive("wait", 20)))
        waiter.start()
        master = self.cluster.master
        wait_for(
            lambda: b"cmd=bzpopmin" in master.client().execute_command("CLIENT", "LIST"),
            10,
            "the receiver to block",
        )
        old, new = self.cluster.switch_master()
        self.assertEqual((old.role(), new.role()), ("slave", "master"))
        sender.send("wait", {"type": "after"})  # READONLY, re-discovered, resent
        waiter.join(30)
        self.assertEqual(popped["r"][1], {"type": "after"})  # UNBLOCKED, popped again
        with override_settings(CHANNEL_LAYERS=layers):
            self.assertTrue(snapshot.register_session("SNTL", "digest-2"))
        self.assertEqual(new.client().hget(keys.session_key("SNTL"), "host"), b"digest-2")


class DaphneGameFailoverTests(TransactionTestCase):
    """A game over REST (C layer, redis-py snapshot client) with clients on
    Daphne (GameConsumer on channels_redis), the master killed mid-game."""

    serialized_rollback = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = SentinelCluster().start()
        cls.addClassCleanup(cls.cluster.close)
        override = override_settings(CHANNEL_LAYERS=readme_layers(cls.cluster))
        override.enable()
        cls.addClassCleanup(override.disable)
        channel_layers.backends.clear()
        cls.addClassCleanup(channel_layers.backends.clear)
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.sentinel_settings",
            "PARTYHUB_TEST_CHANNEL_LAYERS": json.dumps(plain_layers(cls.cluster)),
        }
        with mock.patch.dict(os.environ, env):
            cls.daphne = servers.Daphne()
        cls.addClassCleanup(cls.daphne.close)

    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create(rounds=2)
        self.players = [self.api.join(self.code, name)[1] for name in ("Ana", "Bo")]

    async def events_until_game_over(self, ws) -> list[dict]:
        events = []
        while not events or events[-1]["type"] != lobby_events.GAME_OVER:
            events.append(await servers.recv_json(ws, 20))
        return events

    async def test_game_continues_after_the_master_is_killed(self):
        api, code, host = self.api, self.code, self.host
        queries = [f"session_token={t}" for t in self.players] + [f"role=host&session_token={host}"]
        clients = [await servers.join(self.daphne.port, code, q) for q in queries]
        self.assertEqual({state["seq"] for _, _, state in clients}, {2})
        for action in ("start-round", "show-question"):
            self.assertEqual((await sync_to_async(api.host)(code, action, host))[0], 200)
        await sync_to_async(self.cluster.wait_replicated)()
        old = await sync_to_async(self.cluster.kill_master)()
        # Mid-round: the first view after the kill waits for the new master.
        await sync_to_async(play_round)(api, code, host, self.players, 1, start=False)
        await sync_to_async(play_round)(api, code, host, self.players, 2)
        status, body = await sync_to_async(api.host)(code, "finish", host)
        self.assertEqual((status, body["broadcast"]["ok"]), (200, True))
        self.assertNotEqual(self.cluster.master.port, old.port)
        received = await asyncio.gather(*(self.events_until_game_over(ws) for ws, _, _ in clients))
        last = 2 + 2 * 8 + 1  # joins, two rounds of 8 events, game over
        for events in received:  # every event once, in order, on open sockets
            self.assertEqual([e["seq"] for e in events], list(range(3, last + 1)))
        for ws, _, _ in clients:
            await ws.send('{"type":"ping","ts":"open"}')
            self.assertEqual(await servers.recv_json(ws), {"type": "pong", "ts": "open"})
            await ws.close()
        # A client (re)joining now resyncs from the state the new master holds.
        ws, _, state = await servers.join(self.daphne.port, code, queries[0])
        self.assertEqual((state["seq"], state["payload"]["phase"]), (last, "finished"))
        await ws.close()
        stored = self.cluster.master.client().get(keys.state_seq_key(code))
        self.assertEqual(int(stored), last)
