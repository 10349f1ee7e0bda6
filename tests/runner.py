"""Test runner: Django's, plus a private redis-server for the whole run.

It never touches a Redis the developer may be running on 6379: the channel
layer, the Celery broker (and any process the tests start, through the
environment) point at a fresh server on a free port.

Processes the tests start (a Celery worker, Daphne) must see the test
database, so SQLite tests use a file in a private temporary directory instead
of the in-memory default, and `DATABASE_URL` names the test database in the
environment children inherit.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import unittest
from urllib.parse import quote

from channels.layers import channel_layers
from django.conf import settings
from django.db import connections
from django.test import override_settings
from django.test.runner import DiscoverRunner

from partyhub.celery import use_broker
from realtime import snapshot

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
        # Its keys are complete (there are no sessions yet): what the relay
        # says after a rebuild, so the sidecar answers unknown codes with 4004.
        snapshot.mark_ready(snapshot.all_clients()[0])
        # Password hashing made for attackers (PBKDF2's many rounds) costs a
        # tenth of a second a password: the tests hash hundreds. The server
        # processes the browser tests start keep the real one.
        override_settings(
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
        ).enable()

    def teardown_test_environment(self, **kwargs) -> None:
        if PartyhubTestRunner.redis is not None:
            PartyhubTestRunner.redis.close()
        super().teardown_test_environment(**kwargs)

    def setup_databases(self, **kwargs):
        self.db_dir = tempfile.mkdtemp(prefix="partyhub-testdb-")
        for alias in connections:
            connection = connections[alias]
            if connection.vendor == "sqlite":
                connection.settings_dict["TEST"]["NAME"] = os.path.join(
                    self.db_dir, f"{alias}.sqlite3"
                )
        old_config = super().setup_databases(**kwargs)
        os.environ["DATABASE_URL"] = database_url(connections["default"].settings_dict)
        return old_config

    def teardown_databases(self, old_config, **kwargs) -> None:
        super().teardown_databases(old_config, **kwargs)
        shutil.rmtree(self.db_dir, ignore_errors=True)

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


def database_url(db: dict) -> str:
    """A DATABASE_URL (as partyhub.settings reads it) for a connection's settings."""
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = ""
    if db.get("USER"):
        auth = quote(db["USER"], safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"], safe="")
        auth += "@"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{db.get('HOST') or ''}{port}/{quote(db['NAME'], safe='')}"


def use_redis(port: int, host: str = "127.0.0.1") -> None:
    """Point the channel layer and the Celery broker (here and in children) at host:port."""
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
    broker = f"redis://{host}:{port}/0"
    os.environ["CELERY_BROKER_URL"] = broker
    settings.CELERY_BROKER_URL = broker
    use_broker(broker)
