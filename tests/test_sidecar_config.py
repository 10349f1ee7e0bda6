"""Sidecar settings: what realtime.sidecar hands to realtime._sidecar.Server."""

from django.core.exceptions import ImproperlyConfigured
from django.test import SimpleTestCase, override_settings

from realtime import sidecar

from .runner import PartyhubTestRunner


class SidecarKwargsTests(SimpleTestCase):
    def test_defaults_follow_django_settings(self):
        kwargs = sidecar.sidecar_kwargs()
        self.assertEqual((kwargs["host"], kwargs["port"]), ("127.0.0.1", 8001))
        self.assertEqual(kwargs["redis_port"], PartyhubTestRunner.redis.port)
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

    def test_url_hosts_and_refusals(self):
        layers = {"default": {"BACKEND": "x", "CONFIG": {"hosts": ["redis://localhost:6390/2"]}}}
        with override_settings(CHANNEL_LAYERS=layers):
            self.assertEqual(
                sidecar.redis_target(),
                {"redis_host": "127.0.0.1", "redis_port": 6390, "redis_db": 2},
            )
        for config in (
            {"hosts": [("127.0.0.1", 1), ("127.0.0.1", 2)]},
            {"hosts": ["rediss://h:1"]},
            {"hosts": ["redis://:secret@h:1"]},
            {"hosts": [("127.0.0.1", 1)], "symmetric_encryption_keys": ["k"]},
        ):
            with (
                self.subTest(config=config),
                override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "x", "CONFIG": config}}),
            ):
                with self.assertRaises(ImproperlyConfigured):
                    sidecar.sidecar_kwargs()
