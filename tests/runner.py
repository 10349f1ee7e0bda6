"""Test runner: Django's, plus a private redis-server for the whole run.

It never touches a Redis the developer may be running on 6379: the channel
layer (and any process the tests start, through the environment) points at a
fresh server on a free port.
"""

from __future__ import annotations

import logging
import os

from channels.layers import channel_layers
from django.conf import settings
from django.test.runner import DiscoverRunner

from .redis_server import RedisServer


class PartyhubTestRunner(DiscoverRunner):
    redis: RedisServer | None = None

    def setup_test_environment(self, **kwargs) -> None:
        super().setup_test_environment(**kwargs)
        if self.verbosity < 2:
            # Also in settings.LOGGING: importing partyhub.asgi re-runs setup.
            for name in ("lobby", "realtime"):
                logging.getLogger(name).setLevel(logging.WARNING)
                settings.LOGGING["loggers"][name]["level"] = "WARNING"
        PartyhubTestRunner.redis = RedisServer().start()
        use_redis(PartyhubTestRunner.redis.port)

    def teardown_test_environment(self, **kwargs) -> None:
        if PartyhubTestRunner.redis is not None:
            PartyhubTestRunner.redis.close()
        super().teardown_test_environment(**kwargs)

    def run_suite(self, suite, **kwargs):
        result = super().run_suite(suite, **kwargs)
        failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
        passed = result.testsRun - failed - len(result.skipped)
        print(f"{passed} passed, {failed} failed, {len(result.skipped)} skipped")
        return result


def use_redis(port: int, host: str = "127.0.0.1") -> None:
    """Point the channel layer (here and in child processes) at host:port."""
    os.environ["CHANNEL_REDIS_HOST"] = host
    os.environ["CHANNEL_REDIS_PORT"] = str(port)
    settings.CHANNEL_REDIS_HOST = host
    settings.CHANNEL_REDIS_PORT = port
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [(host, port)]},
        }
    }
    channel_layers.backends.clear()
