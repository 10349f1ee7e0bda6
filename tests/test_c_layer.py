"""FastRedisLayer (C) against the real channels_redis through a real Redis.

Interop both ways, stored bytes, capacity, expiry, several hosts, config.
The runner's private Redis is used unless a test starts its own.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import msgpack
import redis
from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull, InvalidChannelLayerError
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.test import SimpleTestCase, override_settings

from realtime import layer as layer_mod
from realtime.layer import FastRedisLayer, RedisUnavailable
from realtime.redis_hosts import parse_hosts

from .helpers import redis_commands
from .redis_server import RedisServer, free_port


def runner_hosts():
    return settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]


def raw_client(hosts) -> redis.Redis:
    host, port = hosts[0]
    return redis.Redis(host=host, port=port)


def body(member: bytes) -> dict:
    """A stored member without its random prefix, decoded by Python msgpack."""
    return msgpack.unpackb(member[12:])


class LayerTestCase(SimpleTestCase):
    """Fresh prefix per test so tests never see each other's keys."""

    def setUp(self):
        self.prefix = "ct" + uuid.uuid4().hex[:8]
        self.hosts = runner_hosts()
        self.raw = raw_client(self.hosts)
        self.addCleanup(self.raw.close)

    def fast(self, **config) -> FastRedisLayer:
        config.setdefault("hosts", self.hosts)
        config.setdefault("prefix", self.prefix)
        return FastRedisLayer(**config)

    def py(self, **config) -> RedisChannelLayer:
        config.setdefault("hosts", self.hosts)
        config.setdefault("prefix", self.prefix)
        return RedisChannelLayer(**config)

    def run_async(self, func, *args):
        return async_to_sync(func)(*args)

    def zrange(self, key: str) -> list[bytes]:
        return self.raw.zrange(key, 0, -1)


class CPathTests(LayerTestCase):
    def test_c_layer_is_active_for_the_configured_redis(self):
        self.assertTrue(layer_mod.C_AVAILABLE)
        fast = layer_mod.get_layer()
        self.assertIsInstance(fast, FastRedisLayer)
        self.assertIs(layer_mod.get_layer(), fast)  # cached while settings stay
        self.assertTrue(fast._c.single_script)

    def test_other_backends_are_not_replaced(self):
        inmemory = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
        with override_settings(CHANNEL_LAYERS=inmemory):
            self.assertIsNone(layer_mod.get_layer())
        self.assertIsInstance(layer_mod.get_layer(), FastRedisLayer)


class SendInteropTests(LayerTestCase):
    def test_c_send_to_specific_channel_reaches_channels_redis(self):
        async def scenario():
            py = self.py()
            channel = await py.new_channel()
            message = {
                "type": "chat.message",
                "text": "hé",
                "n": 2**40,
                "b": b"\x00\xff",
                "f": 0.5,
                "l": [1, None, True],
                "d": {"k": "v"},
            }
            fast.send(channel, message)
            stored = self.zrange(self.prefix + py.non_local_name(channel))
            self.assertEqual(len(stored), 1)
            expected = msgpack.packb({**message, "__asgi_channel__": channel})
            self.assertEqual(stored[0][12:], expected)
            self.assertEqual(await py.receive(channel), message)
            await py.flush()

        fast = self.fast()
        self.run_async(scenario)

    def test_c_send_to_plain_channel_reaches_channels_redis(self):
        async def scenario():
            py = self.py()
            fast.send("work.queue", {"type": "job", "id": 1})
            fast.send("work.queue", {"type": "job", "id": 1})  # identical: both kept
            self.assertEqual(len(self.zrange(self.prefix + "work.queue")), 2)
            self.assertEqual(await py.receive("work.queue"), {"type": "job", "id": 1})
            self.assertEqual(await py.receive("work.queue"), {"type": "job", "id": 1})
            await py.flush()

        fast = self.fast()
        self.run_async(scenario)

    def test_channels_redis_send_decoded_by_c(self):
        async def scenario():
            py = self.py()
            await py.send("specific.abc!one", {"type": "x", "v": [1, 2.5, "s", b"b", None]})
            await py.send("plainchan", {"type": "y"})
            await py.close_pools()

        self.run_async(scenario)
        fast = self.fast()
        self.assertEqual(
            fast.receive("specific.abc!", 1),
            ("specific.abc!one", {"type": "x", "v": [1, 2.5, "s", b"b", None]}),
        )
        self.assertEqual(fast.receive("plainchan", 1), (None, {"type": "y"}))
        self.assertIsNone(fast.receive("plainchan", 0.1))
        with self.assertRaises(TypeError):
            fast.receive("specific.abc!one", 0.1)  # receive needs the non-local name

    def test_message_checks(self):
        fast = self.fast()
        with self.assertRaises(TypeError):
            fast.send("chan", ["not", "a", "dict"])
        with self.assertRaises(ValueError):
            fast.send("chan", {"type": "x", "__asgi_channel__": "y"})
        with self.assertRaises(TypeError) as caught:
            fast.send("chan", {"type": "x", "when": {"t": object()}})
        self.assertIn("message['when']['t']", str(caught.exception))
        with self.assertRaises(TypeError):
            fast.send("bad name", {"type": "x"})
        with self.assertRaises(TypeError):
            fast.group_send("bad!group", {"type": "x"})
        self.assertEqual(self.raw.keys(self.prefix + "*"), [])


class GroupInteropTests(LayerTestCase):
    def test_c_group_send_mixed_processes_reaches_channels_redis(self):
        """Members in three processes (three client prefixes) and a plain channel."""

        async def scenario():
            procs = [self.py() for _ in range(3)]
            channels = [
                [await p.new_channel() for _ in range(n)]
                for p, n in zip(procs, (1, 2, 3), strict=True)
            ]
            for group_channels in channels:
                for ch in group_channels:
                    fast.group_add("room", ch)
            await procs[0].group_add("room", "plain.member")  # via channels_redis too
            message = {"type": "room.event", "seq": 1, "text": '{"a":1}'}
            fast.group_send("room", message)
            for proc, group_channels in zip(procs, channels, strict=True):
                key = self.prefix + proc.non_local_name(group_channels[0])
                stored = self.zrange(key)
                self.assertEqual(len(stored), 1)  # one message per process key
                self.assertEqual(
                    stored[0][12:], msgpack.packb({**message, "__asgi_channel__": group_channels})
                )
                for ch in group_channels:
                    self.assertEqual(await proc.receive(ch), message)
            self.assertEqual(await procs[0].receive("plain.member"), message)
            fast.group_discard("room", channels[2][0])
            fast.group_send("room", {"type": "after.discard"})
            self.assertEqual(
                body(self.zrange(self.prefix + procs[2].non_local_name(channels[2][0]))[0]),
                {"type": "after.discard", "__asgi_channel__": channels[2][1:]},
            )
            for ch in channels[2][1:]:
                self.assertEqual(await procs[2].receive(ch), {"type": "after.discard"})
            for p in procs:
                await p.flush()

        fast = self.fast()
        self.run_async(scenario)

    def test_stored_bytes_equal_channels_redis_group_send(self):
        async def scenario():
            py = self.py()
            chans = [await py.new_channel() for _ in range(3)]
            for ch in chans:
                await py.group_add("same", ch)
            message = {"type": "e", "payload": {"x": [1, 2]}, "big": "z" * 300}
            await py.group_send("same", message)
            key = self.prefix + py.non_local_name(chans[0])
            theirs = self.zrange(key)[0]
            self.raw.delete(key)
            fast.group_send("same", message)
            ours = self.zrange(key)[0]
            self.assertEqual(ours[12:], theirs[12:])
            self.assertNotEqual(ours[:12], theirs[:12])
            await py.flush()

        fast = self.fast()
        self.run_async(scenario)

    def test_member_array_size_classes(self):
        """fixarray/array16 and fixstr/str8 for __asgi_channel__, as msgpack."""
        fast = self.fast()
        for count in (1, 15, 16, 17, 300):
            group = f"size{count}"
            names = [f"specific.sz{count}!{'m' * (i % 40)}{i}" for i in range(count)]
            for name in names:
                fast.group_add(group, name)
            fast.group_send(group, {"type": "s"})
            key = f"{self.prefix}specific.sz{count}!"
            [stored] = self.zrange(key)
            members = [m.decode() for m in self.raw.zrange(f"{self.prefix}:group:{group}", 0, -1)]
            self.assertEqual(sorted(members), sorted(names))
            expected = msgpack.packb({"type": "s", "__asgi_channel__": members})
            self.assertEqual(stored[12:], expected, count)

    def test_channels_redis_group_send_decoded_by_c(self):
        async def scenario():
            py = self.py()
            await py.group_add("g", "specific.proc!a")
            await py.group_add("g", "specific.proc!b")
            await py.group_send("g", {"type": "hello", "n": -5})
            await py.close_pools()

        self.run_async(scenario)
        fast = self.fast()
        self.assertEqual(
            fast.receive("specific.proc!", 1),
            (["specific.proc!a", "specific.proc!b"], {"type": "hello", "n": -5}),
        )

    def test_group_add_matches_channels_redis_storage(self):
        fast = self.fast(group_expiry=500)
        before = time.time()
        fast.group_add("grp", "specific.p!x")
        key = f"{self.prefix}:group:grp"
        [(member, score)] = self.raw.zrange(key, 0, -1, withscores=True)
        self.assertEqual(member, b"specific.p!x")
        self.assertLessEqual(before - 0.01, score)
        self.assertLessEqual(score, time.time() + 0.01)
        self.assertTrue(0 < self.raw.ttl(key) <= 500)

    def test_group_send_is_one_command(self):
        fast = self.fast()
        for i in range(5):
            fast.group_add("one", f"specific.p{i % 2}!c{i}")
        fast.group_send("one", {"type": "warm"})  # connect + script load
        self.raw.config_resetstat()
        fast.group_send("one", {"type": "x"})
        stats = self.raw.info("commandstats")
        calls = {k: v["calls"] for k, v in stats.items()}
        self.assertEqual(calls.get("cmdstat_evalsha"), 1)
        self.assertNotIn("cmdstat_eval", calls)

    def test_noscript_falls_back_to_eval(self):
        fast = self.fast()
        fast.group_add("ns", "specific.p!c")
        fast.group_send("ns", {"type": "first"})
        self.raw.script_flush()
        fast.group_send("ns", {"type": "second"})
        fast.send("specific.p!c", {"type": "third"})
        got = [fast.receive("specific.p!", 1)[1]["type"] for _ in range(3)]
        self.assertEqual(got, ["first", "second", "third"])


class CapacityTests(LayerTestCase):
    def test_send_raises_channel_full(self):
        async def scenario():
            py = self.py(capacity=2)
            ch = await py.new_channel()
            fast.send(ch, {"type": "1"})
            fast.send(ch, {"type": "2"})
            with self.assertRaises(ChannelFull):
                fast.send(ch, {"type": "3"})
            with self.assertRaises(ChannelFull):  # channels_redis agrees
                await py.send(ch, {"type": "3"})
            self.assertEqual((await py.receive(ch))["type"], "1")
            await py.flush()

        fast = self.fast(capacity=2)
        self.run_async(scenario)

    def test_group_send_skips_and_counts_full_keys(self):
        fast = self.fast(capacity=1)
        fast.group_add("cap", "specific.full!a")
        fast.group_add("cap", "specific.free!b")
        fast.send("specific.full!a", {"type": "filler"})
        with self.assertLogs("realtime.layer", "INFO") as logs:
            over = fast.group_send("cap", {"type": "g"})
        self.assertEqual(over, 1)
        self.assertIn("1 of 2 channels over capacity in group cap", logs.output[0])
        self.assertEqual(fast.receive("specific.free!", 1)[1], {"type": "g"})
        self.assertEqual(fast.receive("specific.full!", 1)[1], {"type": "filler"})
        self.assertIsNone(fast.receive("specific.full!", 0.1))

    def test_channel_capacity_patterns(self):
        """Globs Lua can match run in the one script; others take two steps."""
        for rules, single in (({"specific.small*": 1}, True), ({"specific.sm?ll*": 1}, False)):
            fast = self.fast(capacity=10, channel_capacity=rules)
            self.assertEqual(fast._c.single_script, single)
            fast.flush()
            fast.group_add("pat", "specific.small!a")
            fast.group_add("pat", "specific.big!b")
            for _ in range(3):
                fast.group_send("pat", {"type": "g"})
            self.assertEqual(self.raw.zcard(self.prefix + "specific.small!"), 1)
            self.assertEqual(self.raw.zcard(self.prefix + "specific.big!"), 3)
            fast.send("specific.big!b", {"type": "d"})
            with self.assertRaises(ChannelFull):
                fast.send("specific.small!a", {"type": "d"})


class ExpiryTests(LayerTestCase):
    def test_message_and_group_expiry(self):
        fast = self.fast(expiry=1, group_expiry=1)
        fast.send("specific.p!a", {"type": "old"})
        key = self.prefix + "specific.p!"
        self.assertTrue(0 < self.raw.ttl(key) <= 1)
        fast.group_add("exp", "specific.q!a")
        group_key = f"{self.prefix}:group:exp"
        self.assertTrue(0 < self.raw.ttl(group_key) <= 1)
        # Keep the keys past their TTL to see the score-based clean-ups work.
        self.raw.persist(key)
        self.raw.persist(group_key)
        time.sleep(2.2)
        fast.send("specific.p!a", {"type": "new"})
        self.assertEqual([body(m)["type"] for m in self.zrange(key)], ["new"])
        fast.group_add("exp", "specific.q!b")
        self.assertEqual(fast._c.group_send("exp", {"type": "g"})[3], 1)
        self.assertEqual(self.zrange(group_key), [b"specific.q!b"])

    def test_group_send_drops_expired_messages_first(self):
        fast = self.fast(expiry=1, capacity=1)
        fast.group_add("g", "specific.p!a")
        fast.group_send("g", {"type": "first"})
        self.raw.persist(self.prefix + "specific.p!")
        time.sleep(2.2)
        self.assertEqual(fast.group_send("g", {"type": "second"}), 0)  # not over capacity
        self.assertEqual(fast.receive("specific.p!", 1)[1], {"type": "second"})


class MultiHostTests(LayerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.servers = [RedisServer().start(), RedisServer().start()]

    @classmethod
    def tearDownClass(cls):
        for server in cls.servers:
            server.close()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.hosts = [("127.0.0.1", s.port) for s in self.servers]
        self.raws = [redis.Redis(host="127.0.0.1", port=s.port) for s in self.servers]
        for r in self.raws:
            r.flushall()
            self.addCleanup(r.close)

    def where(self, key: str) -> list[int]:
        return [i for i, r in enumerate(self.raws) if r.exists(key)]

    def test_hash_ring_matches_channels_redis(self):
        async def scenario():
            fast = self.fast()
            self.assertEqual(fast.ring_size, 2)
            self.assertFalse(fast._c.single_script)
            # Three processes whose keys live on each host.
            procs, chans, per_host = [], [], [0, 0]
            while min(per_host) < 3:
                p = self.py()
                ch = await p.new_channel()
                host = fast.consistent_hash(p.non_local_name(ch))
                if per_host[host] < 3:
                    per_host[host] += 1
                    procs.append(p)
                    chans.append(ch)
            groups = [f"grp{i}" for i in range(8)]
            for g in groups:
                self.assertEqual(fast.consistent_hash(g), procs[0].consistent_hash(g))
                for ch in chans:
                    fast.group_add(g, ch)
                group_key = f"{self.prefix}:group:{g}"
                self.assertEqual(self.where(group_key), [procs[0].consistent_hash(g)])
            # C group send -> channels_redis receivers on both hosts
            fast.group_send(groups[0], {"type": "from.c"})
            for p, ch in zip(procs, chans, strict=True):
                key = self.prefix + p.non_local_name(ch)
                self.assertEqual(self.where(key), [p.consistent_hash(p.non_local_name(ch))])
                self.assertEqual(await p.receive(ch), {"type": "from.c"})
            # channels_redis group send to a C-made group
            await procs[1].group_send(groups[1], {"type": "from.py"})
            for p, ch in zip(procs, chans, strict=True):
                self.assertEqual(await p.receive(ch), {"type": "from.py"})
            # direct sends to process-local channels land where receivers read
            for p, ch in zip(procs, chans, strict=True):
                fast.send(ch, {"type": "direct"})
                self.assertEqual(await p.receive(ch), {"type": "direct"})
            # sequence numbers live on the group's host
            seq = fast.group_send_seq(
                groups[2],
                {"type": "e", "seq": 0, "text": ""},
                "ctr:" + groups[2],
                "seq",
                "text",
                "<",
                ">",
            )
            self.assertEqual(seq, 1)
            self.assertEqual(self.where("ctr:" + groups[2]), [fast.consistent_hash(groups[2])])
            for p, ch in zip(procs, chans, strict=True):
                self.assertEqual(await p.receive(ch), {"type": "e", "seq": 1, "text": "<1>"})
            for p in procs:
                await p.close_pools()

        self.run_async(scenario)

    def test_plain_channels_round_robin(self):
        fast = self.fast()
        fast.send("plain", {"type": "a"})
        fast.send("plain", {"type": "b"})
        self.assertEqual([r.zcard(self.prefix + "plain") for r in self.raws], [1, 1])
        got = {fast.receive("plain", 0.5)[1]["type"] for _ in range(2)}
        self.assertEqual(got, {"a", "b"})

    def test_two_step_group_send_is_one_round_trip_per_step(self):
        fast = self.fast()
        names = [f"specific.p{i}!c" for i in range(10)]
        for name in names:
            fast.group_add("rt", name)
        fast.group_send("rt", {"type": "warm"})
        for r in self.raws:
            r.config_resetstat()
        keys, over = fast._c.group_send("rt", {"type": "x"})[1:3]
        self.assertEqual((keys, over), (10, 0))
        evalsha = [
            r.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0) for r in self.raws
        ]
        group_host = fast.consistent_hash("rt")
        per_host = [0, 0]
        for name in names:
            per_host[fast.consistent_hash(fast.non_local_name(name))] = 1
        expected = list(per_host)
        expected[group_host] += 1
        self.assertEqual(evalsha, expected)

    def test_two_step_stores_the_state_on_the_group_host_before_delivery(self):
        fast = self.fast()
        host = fast.consistent_hash("sg")
        # Members whose process keys live on both hosts, one on the group's.
        names = [f"specific.s{i}!c" for i in range(12)]
        on_group_host = [n for n in names if fast.consistent_hash(fast.non_local_name(n)) == host]
        self.assertTrue(on_group_host and len(on_group_host) < len(names))
        for name in names:
            fast.group_add("sg", name)
        state = ("st:sg", "stseq:sg", "[", "]", 60)
        message = {"type": "e", "seq": 0, "text": ""}
        with redis_commands(self.servers[host].port) as commands:
            seq = fast.group_send_seq("sg", message, "ctr:sg", "seq", "text", "<", ">", state=state)
        self.assertEqual(self.where("st:sg"), [host])
        self.assertEqual(self.raws[host].get("st:sg"), f"[{seq}]".encode())
        self.assertEqual(self.raws[host].get("stseq:sg"), str(seq).encode())
        # Step 1 (the group's host) stored it; step 2 delivered after.
        names_run = [c.split()[:2] for _, c in commands]
        state_set = names_run.index(["SET", "st:sg"])
        zadds = [i for i, n in enumerate(names_run) if n[0] == "ZADD"]
        self.assertTrue(zadds and min(zadds) > state_set)
        for name in names:
            self.assertEqual(fast.receive(fast.non_local_name(name), 1)[1]["text"], f"<{seq}>")
        # A newer stored state is kept.
        self.raws[host].set("stseq:sg", 10**6)
        fast.group_send_seq("sg", message, "ctr:sg", "seq", "text", "<", ">", state=state)
        self.assertEqual(self.raws[host].get("st:sg"), f"[{seq}]".encode())


class ConfigTests(LayerTestCase):
    def test_host_forms(self):
        parsed = parse_hosts(
            [
                "redis://:pw@example.org:6380/3",
                "redis://user:p%40ss@h/2?socket_timeout=0.5",
                ("10.0.0.1", 7000),
                {"address": "redis://h2:1/0", "password": "x", "socket_connect_timeout": 3},
                {"host": "h3", "port": 9, "db": 4},
                "unix:///tmp/r.sock?db=5",
            ]
        )
        self.assertEqual(
            parsed,
            [
                ("example.org", 6380, None, 3, None, "pw", 1.0, 2.0, None),
                ("h", 6379, None, 2, "user", "p@ss", 1.0, 0.5, None),
                ("10.0.0.1", 7000, None, 0, None, None, 1.0, 2.0, None),
                ("h2", 1, None, 0, None, "x", 3.0, 2.0, None),
                ("h3", 9, None, 4, None, None, 1.0, 2.0, None),
                (None, 0, "/tmp/r.sock", 5, None, None, 1.0, 2.0, None),
            ],
        )
        self.assertEqual(
            parse_hosts(None), [("localhost", 6379, None, 0, None, None, 1.0, 2.0, None)]
        )
        with self.assertRaises(InvalidChannelLayerError):
            parse_hosts("redis://localhost")
        with self.assertRaises(InvalidChannelLayerError):
            parse_hosts(["rediss://localhost"])
        with self.assertRaises(InvalidChannelLayerError):
            parse_hosts([{"master_name": "m", "sentinels": []}])

    def test_url_wins_over_keywords_and_tls_is_refused(self):
        # As redis-py's from_url, which channels_redis' create_pool calls (the
        # sidecar reads hosts through the same parse_hosts).
        self.assertEqual(
            parse_hosts([{"address": "redis://:url@h/6", "password": "kw", "db": 1}]),
            [("h", 6379, None, 6, None, "url", 1.0, 2.0, None)],
        )
        self.assertEqual(
            parse_hosts([{"address": "redis://h", "password": "kw", "db": 1}]),
            [("h", 6379, None, 1, None, "kw", 1.0, 2.0, None)],
        )
        with self.assertRaises(InvalidChannelLayerError):
            parse_hosts([{"host": "h", "ssl": True}])

    def test_encryption_and_other_serializers_are_refused(self):
        with self.assertRaises(InvalidChannelLayerError) as caught:
            self.fast(symmetric_encryption_keys=["secret"])
        self.assertIn("symmetric_encryption_keys", str(caught.exception))
        with self.assertRaises(InvalidChannelLayerError):
            self.fast(serializer_format="json")
        encrypted = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": self.hosts, "symmetric_encryption_keys": ["k"]},
            }
        }
        with override_settings(CHANNEL_LAYERS=encrypted):
            with self.assertRaises(InvalidChannelLayerError):
                layer_mod.get_layer()

    def test_password_and_db(self):
        with RedisServer() as server:
            server.command("CONFIG", "SET", "requirepass", "s3cr:et")
            url = f"redis://:s3cr%3Aet@127.0.0.1:{server.port}/3"
            fast = self.fast(hosts=[url])
            fast.send("specific.p!a", {"type": "authed"})
            client = redis.Redis(port=server.port, password="s3cr:et", db=3)
            self.assertEqual(client.zcard(self.prefix + "specific.p!"), 1)
            client.close()
            self.assertEqual(fast.receive("specific.p!", 1)[1], {"type": "authed"})
            wrong = self.fast(hosts=[f"redis://:nope@127.0.0.1:{server.port}/0"])
            with self.assertRaises(RedisUnavailable) as caught:
                wrong.send("x", {"type": "x"})
            self.assertIn("AUTH", str(caught.exception))


class ConnectionTests(LayerTestCase):
    def test_redis_down_raises_quickly(self):
        fast = self.fast(hosts=[("127.0.0.1", free_port())])
        started = time.monotonic()
        for call in (
            lambda: fast.send("c", {"type": "x"}),
            lambda: fast.group_send("g", {"type": "x"}),
            lambda: fast.group_add("g", "c"),
        ):
            with self.assertRaises(RedisUnavailable) as caught:
                call()
            self.assertIsInstance(caught.exception, ConnectionError)
            self.assertIn("cannot connect", str(caught.exception))
        self.assertLess(time.monotonic() - started, 1.0)

    def test_unroutable_host_times_out_at_connect_timeout(self):
        # 10.255.255.1 is normally unroutable: connect() hangs until our timeout.
        fast = self.fast(
            hosts=[{"address": "redis://10.255.255.1:6379/0", "socket_connect_timeout": 0.3}]
        )
        started = time.monotonic()
        with self.assertRaises(RedisUnavailable):
            fast.send("c", {"type": "x"})
        self.assertLess(time.monotonic() - started, 1.5)

    def test_hung_redis_times_out_and_recovers(self):
        with RedisServer() as server:
            fast = self.fast(hosts=[f"redis://127.0.0.1:{server.port}/0"], socket_timeout=0.3)
            fast.send("c", {"type": "warm"})
            server.process.send_signal(19)  # SIGSTOP: connected but silent
            try:
                started = time.monotonic()
                with self.assertRaises(RedisUnavailable) as caught:
                    fast.send("c", {"type": "x"})
                self.assertLess(time.monotonic() - started, 1.5)
                self.assertIn("no reply", str(caught.exception))
            finally:
                server.process.send_signal(18)  # SIGCONT
            fast.send("c", {"type": "after"})  # reconnects by itself

    def test_reconnects_after_redis_restart(self):
        with RedisServer() as server:
            fast = self.fast(hosts=[f"redis://127.0.0.1:{server.port}/0"])
            fast.group_add("g", "specific.p!a")
            server.kill()
            with self.assertRaises(RedisUnavailable):
                fast.group_send("g", {"type": "x"})
            server.start()
            fast.group_add("g", "specific.p!a")  # idle socket was dead: new one
            fast.group_send("g", {"type": "back"})
            self.assertEqual(fast.receive("specific.p!", 1)[1], {"type": "back"})

    def test_threads_each_use_their_own_connection(self):
        fast = self.fast(capacity=10000)
        errors = []
        sent = threading.Barrier(9)
        done = threading.Event()

        def worker(n):
            try:
                for i in range(200):
                    fast.send("specific.t!x", {"type": "t", "n": n, "i": i})
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            sent.wait(timeout=30)
            done.wait(timeout=60)

        def client_ids():
            # Other processes of the test run share this Redis and come and
            # go: compare connection ids, not counts.
            return {c["id"] for c in self.raw.client_list()}

        before = client_ids()
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        try:
            sent.wait(timeout=30)
            ours = client_ids() - before
            self.assertEqual(len(ours), 8)  # one connection per thread
        finally:
            done.set()  # never leave the workers (and the test run) hanging
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        self.assertEqual(self.raw.zcard(self.prefix + "specific.t!"), 1600)
        deadline = time.monotonic() + 2
        while ours & client_ids() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(ours & client_ids(), set())  # closed when the threads ended

    def test_async_callers_do_not_block_the_loop(self):
        with RedisServer() as server:
            fast = self.fast(hosts=[f"redis://127.0.0.1:{server.port}/0"], socket_timeout=0.5)
            fast.send("c", {"type": "warm"})
            server.process.send_signal(19)
            ticks = []

            async def scenario():
                async def ticker():
                    while True:
                        ticks.append(time.monotonic())
                        await asyncio.sleep(0.02)

                task = asyncio.ensure_future(ticker())
                try:
                    with self.assertRaises(RedisUnavailable):
                        await asyncio.to_thread(fast.send, "c", {"type": "x"})
                finally:
                    task.cancel()

            try:
                asyncio.run(scenario())
            finally:
                server.process.send_signal(18)
            self.assertGreater(len(ticks), 10)
