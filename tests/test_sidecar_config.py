"""Sidecar settings: what realtime.sidecar hands to realtime._sidecar.Server."""

import redis.asyncio.connection
from django.core.exceptions import ImproperlyConfigured
from django.test import SimpleTestCase, override_settings

from realtime import sidecar
from realtime.redis_sentinel import sentinel_host

from .runner import PartyhubTestRunner


class SidecarKwargsTests(SimpleTestCase):
    def test_defaults_follow_django_settings(self):
        kwargs = sidecar.sidecar_kwargs()
        self.assertEqual((kwargs["host"], kwargs["port"]), ("127.0.0.1", 8001))
        self.assertEqual(
            kwargs["redis_hosts"],
            [{"host": "127.0.0.1", "port": PartyhubTestRunner.redis.port, "db": 0}],
        )
        self.assertEqual(kwargs["prefix"], "asgi")
        self.assertEqual(kwargs["session_key_prefix"], "partyhub:session:")
        self.assertEqual(kwargs["state_key_prefix"], "partyhub:state:")
        self.assertIn("localhost", kwargs["allowed_origins"].split(","))
        self.assertEqual(kwargs["max_message"], 4096)

    @override_settings(PARTYHUB_SIDECAR={"ping_interval": 5, "bind": "0.0.0.0:9000"})
    def test_partyhub_sidecar_setting_overrides(self):
        kwargs = sidecar.sidecar_kwargs()
        self.assertEqual(
            (kwargs["host"], kwargs["port"], kwargs["ping_interval"]), ("0.0.0.0", 9000, 5)
        )
        self.assertEqual(sidecar.sidecar_kwargs(bind="127.0.0.1:0")["port"], 0)

    def hosts(self, *hosts) -> list[dict]:
        layers = {"default": {"BACKEND": "x", "CONFIG": {"hosts": list(hosts)}}}
        with override_settings(CHANNEL_LAYERS=layers):
            return sidecar.sidecar_kwargs()["redis_hosts"]

    def test_every_channels_redis_host_form_in_order(self):
        self.assertEqual(
            self.hosts(
                ("localhost", 6390),
                "redis://localhost:6391/2",
                "redis://:s%40cret@127.0.0.1:6392",
                "redis://ana:pw@127.0.0.1/3",
                "unix:///run/redis.sock?db=4",
                {"address": "redis://127.0.0.1:6393", "password": "kw", "db": 5},
                {"address": "redis://:url@127.0.0.1:6394/6", "password": "kw"},
                {"host": "localhost", "port": 6395, "username": "u", "password": "p", "db": 7},
            ),
            [
                {"host": "127.0.0.1", "port": 6390, "db": 0},
                {"host": "127.0.0.1", "port": 6391, "db": 2},
                {"host": "127.0.0.1", "port": 6392, "db": 0, "password": "s@cret"},
                {"host": "127.0.0.1", "port": 6379, "db": 3, "username": "ana", "password": "pw"},
                {"host": "/run/redis.sock", "port": 0, "db": 4},
                {"host": "127.0.0.1", "port": 6393, "db": 5, "password": "kw"},
                {"host": "127.0.0.1", "port": 6394, "db": 6, "password": "url"},
                {"host": "127.0.0.1", "port": 6395, "db": 7, "username": "u", "password": "p"},
            ],
        )

    def test_sentinel_form(self):
        entry = {
            "sentinels": [("localhost", 26379), ("127.0.0.1", 26380)],
            "master_name": "mymaster",
            "sentinel_kwargs": {"password": "spw"},
            "password": "mpw",
            "db": 1,
        }
        self.assertEqual(
            self.hosts(entry),
            [
                {
                    "master_name": "mymaster",
                    "sentinels": [
                        {"host": "127.0.0.1", "port": 26379},
                        {"host": "127.0.0.1", "port": 26380},
                    ],
                    "sentinel_password": "spw",
                    "password": "mpw",
                    "db": 1,
                }
            ],
        )

    def test_sentinel_host_helper_and_tls_classes(self):
        # sentinel_host() adds redis-py's connection class and retry: ignored.
        entry = sentinel_host([("127.0.0.1", 26379)], "m", password="p", db=2)
        self.assertEqual(
            self.hosts(entry),
            [
                {
                    "master_name": "m",
                    "sentinels": [{"host": "127.0.0.1", "port": 26379}],
                    "password": "p",
                    "db": 2,
                }
            ],
        )
        tls = {"host": "127.0.0.1", "connection_class": redis.asyncio.connection.SSLConnection}
        with self.assertRaises(ImproperlyConfigured):
            self.hosts(tls)

    def test_the_server_takes_every_form(self):
        from realtime._sidecar import Server

        hosts = self.hosts(
            ("localhost", 6390), "unix:///tmp/r.sock", {"address": "redis://:p@127.0.0.1"}
        )
        server = Server(host="127.0.0.1", port=0, redis_hosts=hosts)
        self.assertEqual((server.stats()["redis_shards"], server.stats()["redis_up"]), (3, False))
        for bad in (
            [],
            [{"host": "not-an-ip", "port": 1}],
            [{"master_name": "m", "sentinels": []}],
            [{"host": "127.0.0.1", "port": 1, "password": "x" * 300}],
        ):
            with self.subTest(bad=bad), self.assertRaises((ValueError, OSError)):
                Server(host="127.0.0.1", port=0, redis_hosts=bad)

    def test_refusals(self):
        for config in (
            {"hosts": ["rediss://h:1"]},
            {"hosts": [{"host": "127.0.0.1", "ssl": True}]},
            {"hosts": "redis://h:1"},
            {"hosts": ["redis://no-such-host.invalid:1"]},
            {"hosts": [("127.0.0.1", 1)], "symmetric_encryption_keys": ["k"]},
        ):
            with (
                self.subTest(config=config),
                override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "x", "CONFIG": config}}),
            ):
                with self.assertRaises(ImproperlyConfigured):
                    sidecar.sidecar_kwargs()
