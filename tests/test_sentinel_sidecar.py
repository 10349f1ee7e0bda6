"""The sidecar on a Redis Sentinel cluster (tests/sentinel_cluster.py): it
finds the master through the sentinels (with passwords on both) and follows
it when the master is killed mid-game, demoted by SENTINEL FAILOVER (its
clients killed), or demoted by Redis FAILOVER (its clients kept: UNBLOCKED,
READONLY). Each time sockets stay open, every client gets session.state
again, and the game goes on.

Django (REST views, FastRedisLayer, realtime.snapshot) and the sidecar use
the same CHANNEL_LAYERS, built with realtime.redis_sentinel.sentinel_host()
as the README shows.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.conf import settings
from django.test import TransactionTestCase

from realtime import protocol
from weirsoe import events as quiz_events

from . import servers
from .helpers import Api
from .runner import PartyhubTestRunner, use_redis
from .sentinel_cluster import SentinelCluster
from .sentinel_cluster import wait_for as sentinel_wait_for
from .test_sentinel import readme_layers
from .test_sidecar import expect_logs, wait_for


def wait_synced(cluster: SentinelCluster) -> None:
    """Until a demoted master has synced as a replica (the next failover
    needs one)."""
    for replica in sentinel_wait_for(cluster.replicas, 20, "a replica"):
        sentinel_wait_for(
            lambda r=replica: r.client().info("replication")["master_link_status"] == "up",
            20,
            "the replica to sync",
        )


class SidecarSentinelTests(TransactionTestCase):
    serialized_rollback = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = SentinelCluster(password="pw", sentinel_password="spw").start()
        cls.addClassCleanup(cls.cluster.close)
        settings.CHANNEL_LAYERS = readme_layers(cls.cluster)
        channel_layers.backends.clear()
        cls.sidecar = servers.InProcessSidecar()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.sidecar.close()
        finally:
            use_redis(PartyhubTestRunner.redis.port)
            super().tearDownClass()

    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create(rounds=1)
        _, self.ana = self.api.join(self.code, "Ana")
        self.api.join(self.code, "Bo")

    async def play_through(self, change_master, log_text: str) -> None:
        """Two clients on the sidecar; change_master() (sync) moves the
        master; the sidecar must log log_text, reconnect both links, resend
        the state to both sockets, and deliver the next event."""
        clients = [
            await servers.join(
                self.sidecar.port, self.code, f"role=host&session_token={self.host}"
            ),
            await servers.join(self.sidecar.port, self.code, f"session_token={self.ana}"),
        ]
        seq = clients[0][2]["seq"]
        stats = self.sidecar.stats
        reconnects = stats()["redis_reconnects"]
        with expect_logs(self, self.sidecar, log_text):
            await sync_to_async(change_master)()
            self.assertTrue(
                await wait_for(
                    lambda: stats()["redis_reconnects"] >= reconnects + 2 and stats()["redis_up"],
                    20,
                )
            )
        for ws, _, _ in clients:
            await ws.send('{"type":"ping","ts":1}')  # the socket stayed open
            messages = [await servers.recv_json(ws, 10) for _ in range(2)]
            self.assertIn({"type": "pong", "ts": 1}, messages)
            states = [m["seq"] for m in messages if m["type"] == protocol.SESSION_STATE]
            self.assertEqual(states, [seq], messages)
        status, _ = await sync_to_async(self.api.host)(self.code, "start-round", self.host)
        self.assertEqual(status, 200)
        for ws, _, _ in clients:
            event = await servers.recv_json(ws, 10)
            self.assertEqual((event["type"], event["seq"]), (quiz_events.LIE_STARTED, seq + 1))
            await ws.close()

    async def test_a_killed_master(self):
        killed = []

        def kill():
            self.cluster.wait_replicated()  # the kill loses no write
            killed.append(self.cluster.kill_master())
            self.assertNotEqual(self.cluster.wait_failover(killed[0]).port, killed[0].port)

        await self.play_through(kill, "failed over from")
        await sync_to_async(self.cluster.revive)(killed[0])  # a replica for the next test

    async def test_sentinel_failover(self):
        # The sentinels send the old master REPLICAOF and CLIENT KILL.
        def failover():
            old = self.cluster.master
            sentinel = self.cluster.sentinels[0].client()
            sentinel.execute_command("SENTINEL", "FAILOVER", self.cluster.master_name)
            self.cluster.wait_failover(old)

        await self.play_through(failover, "failed over from")
        await sync_to_async(wait_synced)(self.cluster)

    async def test_a_master_demoted_without_closing_clients(self):
        # The receive link's BZPOPMIN gets UNBLOCKED (a write would get
        # READONLY): the sidecar drops the links and asks the sentinels.
        await self.play_through(self.cluster.switch_master, "is no longer the master")
