"""The sidecar on a Redis Sentinel cluster (tests/sentinel_cluster.py): it
finds the master through the sentinels (with passwords on both), and when the
master is killed mid-game it follows the failover: sockets stay open, every
client gets session.state again, and the game goes on.

The Django side of the test (REST views, FastRedisLayer, realtime.snapshot)
is pointed at the current master directly: this module tests the sidecar.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.test import TransactionTestCase, override_settings

from realtime import protocol
from realtime.sidecar import redis_hosts

from . import servers
from .helpers import Api
from .runner import PartyhubTestRunner, use_redis
from .sentinel_cluster import SentinelCluster
from .sentinel_cluster import wait_for as sentinel_wait_for
from .test_scaleout import use_hosts
from .test_sidecar import expect_logs, wait_for


def wait_synced(cluster: SentinelCluster) -> None:
    sentinel_wait_for(lambda: cluster.replicas(), 20, "a replica")
    for replica in cluster.replicas():
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
        try:
            with override_settings(CHANNEL_LAYERS=cls.cluster.channel_layers()):
                hosts = redis_hosts()
            cls.use_master()
            cls.sidecar = servers.InProcessSidecar(redis_hosts=hosts)
        except BaseException:
            cls.cluster.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.sidecar.close()
            cls.cluster.close()
        finally:
            use_redis(PartyhubTestRunner.redis.port)
            super().tearDownClass()

    @classmethod
    def use_master(cls) -> None:
        """Django's views write to the master the sentinels name now."""
        use_hosts([{"host": "127.0.0.1", "port": cls.cluster.master.port, "password": "pw"}])

    async def test_a_manual_failover_is_followed(self):
        # SENTINEL FAILOVER demotes the master while it runs (the sentinels
        # send it REPLICAOF and CLIENT KILL): the sidecar must find the new one.
        api = Api()
        code, host = await sync_to_async(api.create)(rounds=1)
        await sync_to_async(api.join)(code, "Ana")
        await sync_to_async(api.join)(code, "Bo")
        ws, _, state = await servers.join(
            self.sidecar.port, code, f"role=host&session_token={host}"
        )
        old = self.cluster.master
        with expect_logs(self, self.sidecar, "failed over from"):
            self.cluster.sentinels[0].client().execute_command(
                "SENTINEL", "FAILOVER", self.cluster.master_name
            )
            await sync_to_async(self.cluster.wait_failover)(old)
            self.assertTrue(
                await wait_for(lambda: self.sidecar.stats()["redis_reconnects"] >= 2, 20)
            )
            self.assertTrue(await wait_for(lambda: self.sidecar.stats()["redis_up"], 20))
        await sync_to_async(self.use_master)()
        self.assertEqual((await servers.recv_json(ws, 10))["type"], protocol.SESSION_STATE)
        self.assertEqual((await sync_to_async(api.host)(code, "start-round", host))[0], 200)
        event = await servers.recv_json(ws, 10)
        self.assertEqual((event["type"], event["seq"]), (protocol.LIE_STARTED, state["seq"] + 1))
        await ws.close()
        # The demoted master syncs as a replica: the next test can fail over.
        await sync_to_async(wait_synced)(self.cluster)

    async def test_the_game_goes_on_after_a_failover(self):
        api = Api()
        code, host = await sync_to_async(api.create)(rounds=1)
        _, ana = await sync_to_async(api.join)(code, "Ana")
        await sync_to_async(api.join)(code, "Bo")
        clients = [
            await servers.join(self.sidecar.port, code, f"role=host&session_token={host}"),
            await servers.join(self.sidecar.port, code, f"session_token={ana}"),
        ]
        seq = clients[0][2]["seq"]
        self.assertEqual((await sync_to_async(api.host)(code, "start-round", host))[0], 200)
        for ws, _, _ in clients:
            self.assertEqual((await servers.recv_json(ws))["seq"], seq + 1)

        with expect_logs(self, self.sidecar, "failed over from"):
            old = await sync_to_async(self.cluster.kill_master)()
            self.assertTrue(await wait_for(lambda: not self.sidecar.stats()["redis_up"]))
            new = await sync_to_async(self.cluster.wait_failover)(old)
            self.assertTrue(await wait_for(lambda: self.sidecar.stats()["redis_up"], 20))
        self.assertNotEqual(new.port, old.port)
        await sync_to_async(self.use_master)()
        # Sockets stayed open; each gets the state again (it may have missed
        # events while the sidecar had no master), then the game goes on.
        for ws, _, _ in clients:
            await ws.send('{"type":"ping","ts":1}')
            messages = [await servers.recv_json(ws, 10) for _ in range(2)]
            resent = next(m for m in messages if m["type"] == protocol.SESSION_STATE)
            self.assertEqual(resent["seq"], seq + 1)
            self.assertIn({"type": "pong", "ts": 1}, messages)
        self.assertEqual((await sync_to_async(api.host)(code, "show-question", host))[0], 200)
        for ws, _, _ in clients:
            event = await servers.recv_json(ws, 10)
            self.assertEqual((event["type"], event["seq"]), (protocol.QUESTION_SHOWN, seq + 2))
            await ws.close()
