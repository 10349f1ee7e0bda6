"""Test runner: Django's, plus a private redis-server for the whole run.

It never touches a Redis the developer may be running on 6379: the channel
layer (and any process the tests start, through the environment) points at a
fresh server on a free port.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import unittest

from channels.layers import channel_layers
from django.conf import settings
from django.db import connections
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

    def setup_databases(self, **kwargs):
        # The browser tests (tests/test_browser.py) drive a real server process
        # that must see the test database. SQLite's default test database is
        # in-memory, invisible to another process: use a file in a private
        # temporary directory instead (removed after the run). Other engines
        # (DATABASE_URL=postgres://...) already share their test database.
        self.test_db_dir = None
        for alias in connections:
            connection = connections[alias]
            test_settings = connection.settings_dict.setdefault("TEST", {})
            if connection.vendor == "sqlite" and test_settings.get("NAME") in (
                None,
                "",
                ":memory:",
            ):
                if self.test_db_dir is None:
                    self.test_db_dir = tempfile.mkdtemp(prefix="partyhub-testdb-")
                test_settings["NAME"] = os.path.join(self.test_db_dir, f"{alias}.sqlite3")
        return super().setup_databases(**kwargs)

    def teardown_databases(self, old_config, **kwargs) -> None:
        super().teardown_databases(old_config, **kwargs)
        if self.test_db_dir is not None:
            shutil.rmtree(self.test_db_dir, ignore_errors=True)

    def run_suite(self, suite, **kwargs):
        result = super().run_suite(suite, **kwargs)
        failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
        # A class skipped in setUpClass (e.g. the browser tests without
        # Chromium) is reported as one skip but was never counted as run.
        ran = [test for test, _ in result.failures + result.errors + result.skipped]
        not_run = sum(1 for test in ran if isinstance(test, unittest.suite._ErrorHolder))
        passed = result.testsRun + not_run - failed - len(result.skipped)
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
