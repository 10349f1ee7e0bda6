"""channels_redis' `hosts` read once (realtime.redis_hosts): one RedisHost per
entry, handed to both C types in one shape."""

from __future__ import annotations

import ast
from pathlib import Path

from django.test import SimpleTestCase

from realtime import _redislayer, _sidecar
from realtime.redis_hosts import RedisHost, SentinelConfig, parse_hosts

ROOT = Path(__file__).resolve().parent.parent


class RedisHostTests(SimpleTestCase):
    def test_every_form_is_one_redis_host(self):
        plain, unix, sentinel = parse_hosts(
            [
                "redis://ana:pw@127.0.0.1:6390/3?socket_timeout=0.5",
                "unix:///run/redis.sock?db=4",
                {
                    "sentinels": [("127.0.0.1", 26379)],
                    "master_name": "m",
                    "sentinel_kwargs": {"password": "spw"},
                    "db": 1,
                },
            ]
        )
        self.assertIsInstance(plain, RedisHost)
        self.assertEqual(
            plain.as_c(),
            {
                "host": "127.0.0.1",
                "port": 6390,
                "db": 3,
                "username": "ana",
                "password": "pw",
                "connect_timeout": 1.0,
                "timeout": 0.5,
            },
        )
        self.assertEqual(unix.as_c(timeouts=False), {"host": "/run/redis.sock", "port": 0, "db": 4})
        expected = SentinelConfig("m", [("127.0.0.1", 26379)], None, "spw", 1.0, 3.0)
        self.assertEqual(sentinel.sentinel, expected)
        self.assertEqual(
            sentinel.as_c(timeouts=False),
            {
                "db": 1,
                "master_name": "m",
                "sentinels": [{"host": "127.0.0.1", "port": 26379}],
                "sentinel_password": "spw",
            },
        )
        self.assertEqual(sentinel.describe(), "sentinel:m/1")
        self.assertEqual(plain.resolved(lambda h: "10.0.0.1").host, "10.0.0.1")

    def test_both_c_types_take_the_same_shape(self):
        hosts = [h.as_c() for h in parse_hosts(["redis://127.0.0.1:1/2", "unix:///tmp/r.sock"])]
        _redislayer.RedisLayer(hosts, "asgi")
        server = _sidecar.Server(host="127.0.0.1", port=0, redis_hosts=hosts)
        self.assertEqual(server.stats()["redis_shards"], 2)
        for bad, error in (
            ([{"port": 1}], ValueError),
            ([{"host": "127.0.0.1", "db": "x"}], TypeError),
            ([{"master_name": "m", "sentinels": []}], ValueError),
            ([{"host": "127.0.0.1", "password": "x" * 300}], ValueError),
            (["redis://h"], TypeError),
        ):
            with self.subTest(bad=bad):
                with self.assertRaises(error):
                    _redislayer.RedisLayer(bad, "asgi")
                with self.assertRaises(error):
                    _sidecar.Server(host="127.0.0.1", port=0, redis_hosts=bad)
        with self.assertRaisesRegex(ValueError, "timeouts"):
            _redislayer.RedisLayer([{"host": "127.0.0.1", "port": 1}], "asgi")

    def test_no_channels_redis_private_name_is_used(self):
        for path in sorted((ROOT / "realtime").rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "channels_redis"
                ):
                    names = [a.name for a in node.names if a.name.startswith("_")]
                    self.assertEqual(names, [], f"{path.name} imports {names}")
