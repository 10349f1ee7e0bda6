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
import multiprocessing.util
import os
import shutil
import tempfile
import time
import unittest
from collections import defaultdict
from urllib.parse import quote

from channels.layers import channel_layers
from django.conf import settings
from django.db import connections
from django.test import override_settings
from django.test import runner as django_runner
from django.test.runner import DiscoverRunner, ParallelTestSuite, _init_worker
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from partyhub.celery import use_broker
from partyhub.redisproc import use_port_block
from realtime import protocol, snapshot

from .redis_server import RedisServer

# Each test process's own ports (partyhub.redisproc.use_port_block), below
# the kernel's ephemeral range (32768-60999): the runner's, then a block per
# parallel worker.
PORTS_FIRST, PORTS_PER_PROCESS = 12000, 2500


class TimedResult(unittest.TextTestResult):
    """A text result that also writes the slowest test classes to a file.

    Set PARTYHUB_TEST_TIMES=<path>: each class's wall time (its tests plus
    the set-up and tear-down between them) goes there, slowest first, so the
    suite's 15-minute budget can be spent knowingly (docs/testing.md).
    """

    def startTestRun(self) -> None:
        super().startTestRun()
        self.class_times: dict[str, float] = defaultdict(float)
        self.mark = time.monotonic()

    def stopTest(self, test) -> None:
        super().stopTest(test)
        now = time.monotonic()
        self.class_times[type(test).__module__ + "." + type(test).__qualname__] += now - self.mark
        self.mark = now

    def stopTestRun(self) -> None:
        super().stopTestRun()
        path = os.environ.get("PARTYHUB_TEST_TIMES")
        if path:
            rows = sorted(self.class_times.items(), key=lambda row: -row[1])
            with open(path, "w") as out:
                out.write(f"{sum(self.class_times.values()):8.1f}  total\n")
                out.writelines(f"{seconds:8.1f}  {name}\n" for name, seconds in rows)


def init_worker(counter, *args, **kwargs) -> None:
    """A parallel worker (`manage.py test --parallel N`): Django's set-up, then its own Redis.

    Each worker gets a private redis-server, so the tests that stop, kill or
    flush "the" Redis (test_faults, test_c_layer) never touch another
    worker's, and `DATABASE_URL` names this worker's clone of the test
    database, so the servers its tests start see the data its tests write.
    """
    _init_worker(counter, *args, **kwargs)
    worker = django_runner._worker_id  # 1, 2, … as _init_worker just set it
    use_port_block(PORTS_FIRST + worker * PORTS_PER_PROCESS, PORTS_PER_PROCESS)
    redis = PartyhubTestRunner.redis = RedisServer().start()
    multiprocessing.util.Finalize(redis, redis.close, exitpriority=10)
    use_redis(redis.port)
    mark_ready()
    os.environ["DATABASE_URL"] = database_url(connections["default"].settings_dict)


def mark_ready() -> None:
    """A test run's new Redis has every key it should (there are no sessions
    yet): say so as the relay does after a rebuild, so the sidecar answers an
    unknown code with 4004, not 1013 (tests/test_durability.py runs the relay)."""
    snapshot.mark_ready(snapshot.all_clients()[0])


class PartyhubParallelSuite(ParallelTestSuite):
    init_worker = init_worker


class PartyhubTestRunner(DiscoverRunner):
    redis: RedisServer | None = None
    parallel_test_suite = PartyhubParallelSuite

    def get_resultclass(self):
        return super().get_resultclass() or TimedResult

    def setup_test_environment(self, **kwargs) -> None:
        super().setup_test_environment(**kwargs)
        if self.verbosity < 2:
            # Also in settings.LOGGING: importing partyhub.asgi re-runs setup.
            for name in ("lobby", "realtime"):
                logging.getLogger(name).setLevel(logging.WARNING)
                settings.LOGGING["loggers"][name]["level"] = "WARNING"
        use_port_block(PORTS_FIRST, PORTS_PER_PROCESS)
        # Every payload sent, here and in the servers the tests start, is
        # checked against its whole schema (realtime.schema): the published
        # contracts are what the servers really send.
        os.environ["PARTYHUB_STRICT_EVENTS"] = "1"
        protocol.strict_payloads(True)
        PartyhubTestRunner.redis = RedisServer().start()
        use_redis(PartyhubTestRunner.redis.port)
        # Property tests run under ASan, beside servers and browsers, on a
        # loaded 2-core machine: a slow draw says nothing about the code.
        hypothesis_settings.register_profile(
            "partyhub", deadline=None, suppress_health_check=[HealthCheck.too_slow]
        )
        hypothesis_settings.load_profile("partyhub")
        mark_ready()
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
