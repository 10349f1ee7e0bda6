"""HTTP rate limits per client address (lobby/ratelimit.py), on real Redis.

Requests come from addresses outside `trusted_proxies` (REMOTE_ADDR), or
from loopback naming a client in X-Forwarded-For, as nginx does. The
proxy in front (deploy/nginx.conf) is in tests/test_deploy.py.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

from django.test import Client, RequestFactory, TestCase, TransactionTestCase, override_settings
from django.urls import resolve

from lobby import ratelimit
from realtime import keys, snapshot

from . import servers
from .helpers import Api

CREATE = "/api/sessions/"


def post(client: Client, path: str, body: dict | None = None, **meta):
    return client.post(path, json.dumps(body or {}), content_type="application/json", **meta)


class RateLimitTests(TestCase):
    def setUp(self):
        # Every test starts with full buckets (the keys outlive a test).
        redis = snapshot.client_for_key("x")
        for key in redis.scan_iter("partyhub:ratelimit:*"):
            redis.delete(key)

    def assert_limited(self, response, most: int) -> int:
        """A 429 with the API's error body and Retry-After in 1..most s."""
        self.assertEqual(response.status_code, 429, response.content)
        body = response.json()
        self.assertEqual(set(body), {"error"})
        self.assertEqual(body["error"]["code"], "RATE_LIMITED")
        retry_after = int(response["Retry-After"])
        self.assertTrue(1 <= retry_after <= most, retry_after)
        self.assertIn(f"{retry_after} s", body["error"]["message"])
        return retry_after

    @override_settings(PARTYHUB_RATE_LIMITS={"create": "3/60"})
    def test_create_over_the_limit_gets_429_with_retry_after(self):
        for _ in range(3):
            self.assertEqual(post(self.client, CREATE, REMOTE_ADDR="203.0.113.5").status_code, 201)
        self.assert_limited(post(self.client, CREATE, REMOTE_ADDR="203.0.113.5"), 20)
        # Another address has its own bucket.
        self.assertEqual(post(self.client, CREATE, REMOTE_ADDR="203.0.113.6").status_code, 201)

    @override_settings(PARTYHUB_RATE_LIMITS={"join": "2/60", "action": "3/60"})
    def test_join_and_actions_have_their_own_limits(self):
        code, host = Api().create()
        join = f"/api/sessions/{code}/join/"
        addr = {"REMOTE_ADDR": "198.51.100.1"}
        self.assertEqual(post(self.client, join, {"name": "Ana"}, **addr).status_code, 201)
        # A refused join counts too (guessing codes is what the limit is for).
        self.assertEqual(post(self.client, "/api/sessions/ZZZZ/join/", **addr).status_code, 404)
        self.assert_limited(post(self.client, join, {"name": "Bo"}, **addr), 30)
        # Reading is not limited; every other POST is an action.
        auth = {"HTTP_AUTHORIZATION": f"Bearer {host}", **addr}
        for _ in range(5):
            self.assertEqual(self.client.get(f"/api/sessions/{code}/", **addr).status_code, 200)
        # Answered (whatever the answer) until the bucket is empty.
        for action in ("pause", "resume", "nothing"):
            response = post(self.client, f"/api/sessions/{code}/{action}/", **auth)
            self.assertIn(response.status_code, (200, 404, 409), response.content)
        self.assert_limited(post(self.client, f"/api/sessions/{code}/pause/", **auth), 20)
        self.assertEqual(post(self.client, CREATE, **addr).status_code, 201)

    @override_settings(PARTYHUB_RATE_LIMITS={"create": "2/60"})
    def test_forwarded_for_counts_from_trusted_proxies_only(self):
        # From nginx on loopback: the client is the rightmost untrusted entry,
        # whatever the client wrote further left.
        for spoof in ("1.1.1.1", "2.2.2.2"):
            xff = f"{spoof}, 192.0.2.44"
            response = post(self.client, CREATE, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=xff)
            self.assertEqual(response.status_code, 201)
        response = post(
            self.client, CREATE, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="9.9.9.9, 192.0.2.44"
        )
        self.assert_limited(response, 30)
        # From anyone else the header is not believed: the peer counts.
        for n in range(2):
            response = post(
                self.client, CREATE, REMOTE_ADDR="192.0.2.77", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"
            )
            self.assertEqual(response.status_code, 201)
        response = post(
            self.client, CREATE, REMOTE_ADDR="192.0.2.77", HTTP_X_FORWARDED_FOR="10.0.0.9"
        )
        self.assert_limited(response, 30)

    @override_settings(PARTYHUB_RATE_LIMITS={"create": "1/60"})
    def test_a_trusted_proxy_naming_no_client_is_not_limited(self):
        # Loopback without X-Forwarded-For (local tools): as the sidecar's caps.
        for _ in range(5):
            self.assertEqual(post(self.client, CREATE, REMOTE_ADDR="127.0.0.1").status_code, 201)

    @override_settings(PARTYHUB_RATE_LIMITS={"create": "2/0.4"})
    def test_the_bucket_refills(self):
        addr = {"REMOTE_ADDR": "203.0.113.9"}
        self.assertEqual(post(self.client, CREATE, **addr).status_code, 201)
        self.assertEqual(post(self.client, CREATE, **addr).status_code, 201)
        self.assert_limited(post(self.client, CREATE, **addr), 1)
        time.sleep(0.25)  # one request's worth (0.2 s) and a margin
        self.assertEqual(post(self.client, CREATE, **addr).status_code, 201)
        # The key expires once the bucket is full again.
        redis = snapshot.client_for_key("x")
        ttl = redis.pttl(f"{keys.KEY_RATELIMIT}create:203.0.113.9")
        self.assertTrue(0 < ttl <= 401, ttl)

    @override_settings(PARTYHUB_RATE_LIMITS={"create": "0"})
    def test_zero_turns_a_limit_off(self):
        for _ in range(12):
            self.assertEqual(post(self.client, CREATE, REMOTE_ADDR="203.0.113.10").status_code, 201)

    def test_limits_are_read_as_n_per_s(self):
        self.assertEqual(ratelimit.parse_limit("10/60"), (10, 60.0))
        self.assertEqual(ratelimit.parse_limit(" 5/0.5 "), (5, 0.5))
        self.assertIsNone(ratelimit.parse_limit("off"))
        for bad in ("10", "x/60", "10/0", "-1/60", "10/-5", "1/nan"):
            with self.subTest(bad=bad), self.assertRaises(Exception) as raised:
                ratelimit.parse_limit(bad)
            self.assertEqual(type(raised.exception).__name__, "ImproperlyConfigured")

    @override_settings(PARTYHUB_RATE_LIMITS={"create": "1/60"})
    def test_without_redis_requests_go_on_and_it_is_logged(self):
        dead = servers.free_port()
        layers = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [("127.0.0.1", dead)]},
            }
        }
        middleware = ratelimit.RateLimitMiddleware(lambda request: None)
        with override_settings(CHANNEL_LAYERS=layers), self.assertLogs("lobby.ratelimit") as logs:
            for _ in range(3):
                request = RequestFactory().post(CREATE, REMOTE_ADDR="203.0.113.11")
                request.resolver_match = resolve(CREATE)
                self.assertIsNone(middleware.process_view(request, None, (), {}))
        self.assertEqual(len(logs.output), 1, logs.output)  # once a minute, not per request
        self.assertIn("rate limit not checked", logs.output[0])


class AcrossProcessesTests(TransactionTestCase):
    """One bucket per address whichever process answers: Daphne and this one."""

    serialized_rollback = True  # keep the question bank the migrations load

    def test_daphne_and_this_process_share_the_counters(self):
        os.environ["PARTYHUB_RATE_LIMIT_CREATE"] = "4/60"
        try:
            daphne = servers.Daphne()
        finally:
            del os.environ["PARTYHUB_RATE_LIMIT_CREATE"]
        self.addCleanup(daphne.close)
        client = "192.0.2.200"
        with override_settings(PARTYHUB_RATE_LIMITS={"create": "4/60"}):
            for _ in range(2):
                response = post(
                    self.client, CREATE, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=client
                )
                self.assertEqual(response.status_code, 201)
        statuses = []
        for _ in range(3):
            request = urllib.request.Request(
                f"http://127.0.0.1:{daphne.port}{CREATE}",
                data=b"{}",
                headers={"Content-Type": "application/json", "X-Forwarded-For": client},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
                self.assertEqual(json.loads(exc.read())["error"]["code"], "RATE_LIMITED")
                self.assertGreaterEqual(int(exc.headers["Retry-After"]), 1)
        self.assertEqual(statuses, [201, 201, 429])
