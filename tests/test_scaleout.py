"""Scale-out: several Redis shards under one channel layer, several sidecar
processes and Daphne on it at once, unpatched channels_redis beside them, and
Redis AUTH (a password and an ACL user) on the sidecar's links.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request

import redis
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels_redis.core import RedisChannelLayer
from channels_redis.utils import _consistent_hash
from django.conf import settings
from django.test import TransactionTestCase

from lobby.reactions import REACTION_EMOJI
from realtime import keys, protocol
from realtime.config import DEFAULTS
from weirsoe import events as quiz_events

from . import servers
from .helpers import Api
from .redis_server import RedisServer
from .runner import PartyhubTestRunner, use_redis
from .test_sidecar import EVENTS_PER_ROUND, expect_logs, play_game, wait_for

INBOUND = DEFAULTS["inbound_channel"]


def use_hosts(hosts: list) -> None:
    """Point this process's channel layer (and children's, through
    tests/scaleout_settings.py) at several Redis hosts."""
    os.environ["PARTYHUB_TEST_CHANNEL_HOSTS"] = json.dumps(hosts)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": hosts},
        }
    }
    channel_layers.backends.clear()


def shard_gauges(port: int) -> dict[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        lines = r.read().decode().splitlines()
    prefix = "partyhub_sidecar_redis_shard_up"
    return dict(line[len(prefix) :].split(" ") for line in lines if line.startswith(prefix + "{"))


def games_on_each_shard(api: Api) -> dict[int, tuple[str, str]]:
    """shard -> (code, host token) of a two-player game whose group lives
    there, for each of two shards (games are created until both have one)."""
    games: dict[int, tuple[str, str]] = {}
    while len(games) < 2:
        code, host = api.create(rounds=1)
        api.join(code, "Ana")
        api.join(code, "Bo")
        games.setdefault(_consistent_hash(keys.group_name(code), 2), (code, host))
    return games


class _TwoRedisCase(TransactionTestCase):
    """Two private redis-servers (and the in-process sidecar a subclass may
    start on them); the runner's Redis is restored after."""

    serialized_rollback = True
    sidecar = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.redis = [RedisServer().start() for _ in range(2)]

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.sidecar is not None:
                cls.sidecar.close()
            for redis in cls.redis:
                redis.close()
        finally:
            os.environ.pop("PARTYHUB_TEST_CHANNEL_HOSTS", None)
            use_redis(PartyhubTestRunner.redis.port)
            super().tearDownClass()


class _ShardedCase(_TwoRedisCase):
    """Two Redis shards, two `runsidecar` processes and Daphne on one layer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hosts = [["127.0.0.1", r.port] for r in cls.redis]
        cls.saved_module = os.environ.get("DJANGO_SETTINGS_MODULE")
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.scaleout_settings"
        use_hosts(cls.hosts)
        cls.sidecars = [servers.RunSidecar() for _ in range(2)]
        cls.daphne = servers.Daphne()

    @classmethod
    def tearDownClass(cls):
        try:
            for server in (*cls.sidecars, cls.daphne):
                server.close()
        finally:
            os.environ["DJANGO_SETTINGS_MODULE"] = cls.saved_module or "partyhub.settings"
            super().tearDownClass()

    def setUp(self):
        self.api = Api()
        self.servers = [*self.sidecars, self.daphne]

    async def drain(self, ws, n: int, timeout: float = 20) -> list[dict]:
        return [await servers.recv_json(ws, timeout) for _ in range(n)]

    def shard_of_game(self, code: str) -> int:
        return _consistent_hash(keys.group_name(code), len(self.hosts))


class ShardedGameTests(_ShardedCase):
    async def test_one_game_across_both_sidecars_and_daphne(self):
        code, host = await sync_to_async(self.api.create)(rounds=2)
        players = [(await sync_to_async(self.api.join)(code, f"P{i}"))[1] for i in range(3)]
        queries = [f"role=host&session_token={host}"] + [f"session_token={t}" for t in players]
        clients = []
        for i, query in enumerate(queries):
            for j in range(2):  # every socket on two of the three servers
                server = self.servers[(i + j) % 3]
                clients.append(await servers.join(server.port, code, query))
        (seq,) = {c[2]["seq"] for c in clients}
        await sync_to_async(play_game)(self.api, code, host, players, 2)
        n = 2 * EVENTS_PER_ROUND + 1
        received = await asyncio.gather(*(self.drain(ws, n) for ws, _, _ in clients))
        for events in received:
            self.assertEqual([e["seq"] for e in events], list(range(seq + 1, seq + 1 + n)))
        self.assertEqual(len({json.dumps(events) for events in received}), 1)
        for ws, _, _ in clients:
            await ws.close()

    async def test_fifty_games_over_both_shards(self):
        games = []
        for _ in range(50):
            code, host = await sync_to_async(self.api.create)(rounds=1)
            _, player = await sync_to_async(self.api.join)(code, "Ana")
            await sync_to_async(self.api.join)(code, "Bo")
            games.append((code, host, player))
        shards = [self.shard_of_game(code) for code, _, _ in games]
        self.assertGreater(min(shards.count(0), shards.count(1)), 10)
        clients = {}
        for i, (code, host, player) in enumerate(games):
            clients[code] = [
                await servers.join(
                    self.servers[i % 3].port, code, f"role=host&session_token={host}"
                ),
                await servers.join(self.servers[(i + 1) % 3].port, code, f"session_token={player}"),
            ]
        for code, host, _ in games:
            for action in ("start-round", "show-question"):
                self.assertEqual((await sync_to_async(self.api.host)(code, action, host))[0], 200)
        for pair in clients.values():
            received = [await self.drain(ws, 2) for ws, _, _ in pair]
            self.assertEqual(received[0], received[1])
            seq = pair[0][2]["seq"]
            self.assertEqual(
                [(e["type"], e["seq"]) for e in received[0]],
                [(quiz_events.LIE_STARTED, seq + 1), (quiz_events.QUESTION_SHOWN, seq + 2)],
            )
            for ws, _, _ in pair:
                await ws.close()

    async def test_metrics_show_every_shard_up(self):
        for sidecar in self.sidecars:
            self.assertEqual(
                await sync_to_async(shard_gauges)(sidecar.port),
                {'{shard="0"}': "1", '{shard="1"}': "1"},
            )


class ChannelsRedisInteropTests(_ShardedCase):
    """Unpatched channels_redis on the same two hosts."""

    def setUp(self):
        super().setUp()
        self.layer = RedisChannelLayer(hosts=[tuple(h) for h in self.hosts])
        self.code, self.host = self.api.create(rounds=1)
        self.ana_id, self.ana = self.api.join(self.code, "Ana")

    async def test_group_send_and_direct_sends_reach_sidecar_sockets(self):
        sockets = [
            (await servers.join(self.sidecars[i % 2].port, self.code, f"session_token={self.ana}"))[
                0
            ]
            for i in range(12)
        ]
        await self.layer.group_send(
            keys.group_name(self.code), {"type": "game.event", "text": '{"to":"all"}'}
        )
        for ws in sockets:
            self.assertEqual(await servers.recv_json(ws), {"to": "all"})
        # Each socket's reply channel, from a message it sends.
        for ws in sockets:
            await ws.send(json.dumps({"type": "reaction", "emoji": REACTION_EMOJI[0]}))
        replies = [
            (await asyncio.wait_for(self.layer.receive(INBOUND), 10))["reply_channel"]
            for _ in sockets
        ]
        # channels_redis#221: its send() to a process-local channel hashes the
        # full name, which for some of these is not the shard senders that
        # hash the non-local name use; the sidecar receives on every shard.
        hashes = {
            _consistent_hash(r, 2) == _consistent_hash(self.layer.non_local_name(r), 2)
            for r in replies
        }
        self.assertEqual(hashes, {True, False})
        for reply in replies:
            await self.layer.send(reply, {"type": "game.event", "text": json.dumps(reply)})
        got = [await servers.recv_json(ws) for ws in sockets]
        self.assertEqual(sorted(got), sorted(replies))
        for ws in sockets:
            await ws.close()

    async def test_client_messages_reach_a_channels_redis_receive(self):
        ws, _, _ = await servers.join(self.sidecars[1].port, self.code, f"session_token={self.ana}")
        texts = [json.dumps({"type": "reaction", "emoji": emoji}) for emoji in REACTION_EMOJI[:2]]
        for text in texts:
            await ws.send(text)
        # Round-robin over the hosts, like channels_redis' own send() and
        # receive() of a normal channel: two messages, one on each shard.
        received = [await asyncio.wait_for(self.layer.receive(INBOUND), 10) for _ in texts]
        self.assertEqual(sorted(m["text"] for m in received), sorted(texts))
        for message in received:
            self.assertEqual(
                (message["type"], message["session"], message["player_id"]),
                ("client.message", self.code, self.ana_id),
            )
        await ws.close()


class ShardLossTests(_TwoRedisCase):
    """One of two shards SIGKILLed and restarted: the other's games go on."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        use_hosts([["127.0.0.1", r.port] for r in cls.redis])
        cls.sidecar = servers.InProcessSidecar()

    async def test_the_other_shard_goes_on_and_the_lost_one_comes_back(self):
        # Lose the shard that is not the sidecar's home (where every group
        # message for it is stored): games on the home shard must not notice.
        home = self.sidecar.stats()["redis_home_shard"]
        lost = 1 - home
        api = Api()
        games = await sync_to_async(games_on_each_shard)(api)
        sockets = {}
        for shard, (code, host) in games.items():
            ws, _, state = await servers.join(
                self.sidecar.port, code, f"role=host&session_token={host}"
            )
            sockets[shard] = (ws, state["seq"])
        redis = self.redis[lost]
        lost_code = games[lost][0]
        # The snapshot Redis comes back with lacks our membership: we re-add it.
        members = redis.command("ZRANGE", f"asgi:group:game_{lost_code}", "0", "-1")
        self.assertIn(f"!g.game_{lost_code}".encode(), members)
        for member in members.split(b"\r\n"):
            if b"!g.game_" in member:
                redis.command("ZREM", f"asgi:group:game_{lost_code}", member)
        redis.command("SAVE")
        with expect_logs(self, self.sidecar, "link lost"):
            redis.kill()
            self.assertTrue(await wait_for(lambda: self.sidecar.stats()["redis_shards_up"] == 1))
        gauges = await sync_to_async(shard_gauges)(self.sidecar.port)
        self.assertEqual((gauges[f'{{shard="{lost}"}}'], gauges[f'{{shard="{home}"}}']), ("0", "1"))
        home_code, home_host = games[home]
        home_ws, home_seq = sockets[home]
        self.assertEqual(
            (await sync_to_async(api.host)(home_code, "start-round", home_host))[0], 200
        )
        self.assertEqual((await servers.recv_json(home_ws))["seq"], home_seq + 1)

        redis.start()
        self.assertTrue(await wait_for(lambda: self.sidecar.stats()["redis_up"], 15))
        lost_ws, lost_seq = sockets[lost]
        resent = await servers.recv_json(lost_ws, 10)  # its shard came back: state again
        self.assertEqual((resent["type"], resent["seq"]), (protocol.SESSION_STATE, lost_seq))
        members = redis.command("ZRANGE", f"asgi:group:game_{lost_code}", "0", "-1")
        self.assertIn(f"!g.game_{lost_code}".encode(), members)
        steps = {
            home: ("show-question", quiz_events.QUESTION_SHOWN),
            lost: ("start-round", quiz_events.LIE_STARTED),
        }
        for shard, (code, host) in games.items():
            action, event_type = steps[shard]
            self.assertEqual((await sync_to_async(api.host)(code, action, host))[0], 200)
            # The home shard's game got no resent state: the event comes next.
            self.assertEqual((await servers.recv_json(sockets[shard][0], 10))["type"], event_type)
            await sockets[shard][0].close()


class RedisAuthTests(_TwoRedisCase):
    """Shard 0 with requirepass, shard 1 with an ACL user (default user off)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.redis[0].command("CONFIG", "SET", "requirepass", "pw0")
        cls.redis[1].command("ACL", "SETUSER", "ana", "on", ">pw1", "~*", "&*", "+@all")
        cls.redis[1].command("ACL", "SETUSER", "default", "off")
        use_hosts(
            [
                f"redis://:pw0@127.0.0.1:{cls.redis[0].port}",
                {
                    "address": f"redis://127.0.0.1:{cls.redis[1].port}",
                    "username": "ana",
                    "password": "pw1",
                },
            ]
        )
        cls.sidecar = servers.InProcessSidecar()

    async def test_games_on_both_authenticated_shards(self):
        api = Api()
        seen = await sync_to_async(games_on_each_shard)(api)
        for code, host in seen.values():
            ws, _, state = await servers.join(
                self.sidecar.port, code, f"role=host&session_token={host}"
            )
            self.assertEqual((await sync_to_async(api.host)(code, "start-round", host))[0], 200)
            event = await servers.recv_json(ws)
            self.assertEqual(
                (event["type"], event["seq"]), (quiz_events.LIE_STARTED, state["seq"] + 1)
            )
            await ws.close()

    async def test_a_wrong_password_is_logged_and_retried(self):
        from realtime.sidecar import SidecarRunner

        wrong = [
            {"host": "127.0.0.1", "port": self.redis[0].port, "password": "nope"},
            {
                "host": "127.0.0.1",
                "port": self.redis[1].port,
                "username": "ana",
                "password": "nope",
            },
        ]

        def refusals(output, shard):
            return sum(
                f"redis shard {shard} " in line and "AUTH refused" in line for line in output
            )

        with self.assertLogs("realtime.sidecar", "ERROR") as logs:
            runner = SidecarRunner(bind="127.0.0.1:0", redis_hosts=wrong).start()
            try:
                # Refused, logged, retried (with backoff), never a crash.
                self.assertTrue(
                    await wait_for(
                        lambda: min(refusals(logs.output, 0), refusals(logs.output, 1)) >= 2
                    )
                )
                self.assertFalse(runner.stats()["redis_up"])
                # Once Redis takes that password, a retry gets through.
                with redis.Redis(port=self.redis[0].port, password="pw0") as r:
                    r.config_set("requirepass", "nope")
                with redis.Redis(port=self.redis[1].port, username="ana", password="pw1") as r:
                    r.execute_command("ACL", "SETUSER", "ana", ">nope")
                self.assertTrue(await wait_for(lambda: runner.stats()["redis_up"], 15))
            finally:
                runner.stop()
                runner.wait(10)
                with redis.Redis(port=self.redis[0].port, password="nope") as r:
                    r.config_set("requirepass", "pw0")
