"""Security: cross-site WebSocket hijacking, what error texts reveal, and
host-only actions, on both servers (Daphne serving GameConsumer and REST;
the C sidecar).
"""

from __future__ import annotations

import asyncio
import json
import re

import websockets
from asgiref.sync import sync_to_async
from django.test import TransactionTestCase, override_settings

from lobby.reactions import REACTION_EMOJI
from realtime import protocol

from . import servers
from .helpers import (
    BothServers,
    GameCase,
    PrivateRedis,
    ServerPerClass,
    expect_logs,
    http,
    wait_for,
)

# Host-only REST actions (lobby/urls.py).
HOST_ACTIONS = (
    "start-round",
    "show-question",
    "mix-answers",
    "calculate-scores",
    "reveal-scoreboard",
    "finish",
    "pause",
    "resume",
    "exit",
)
# What an error text shown to a client must never contain: tracebacks,
# source paths, Redis' own error strings and addresses.
INTERNALS = re.compile(
    r"Traceback|File \"|\.py\b|/work/|/usr/|site-packages|redis|Error \d+|"
    r"Connection refused|127\.0\.0\.1|localhost:\d+|:\d{4,5}\b",
    re.I,
)


async def refused_status(port: int, code: str, query: str, origin: str | None, **kw) -> int | None:
    """The HTTP status refusing the handshake, or None when it was accepted."""
    try:
        ws = await servers.connect(port, code, query, origin=origin, **kw)
    except websockets.InvalidStatus as exc:
        return exc.response.status_code
    await ws.close()
    return None


async def texts_until_close(port: int, code: str, query: str) -> list[str]:
    """Every text a new socket receives, and its close reason, to the end."""
    texts = []
    try:
        ws = await servers.connect(port, code, query)
        while True:
            texts.append(await asyncio.wait_for(ws.recv(), 20))
    except websockets.ConnectionClosed as exc:
        texts.append(exc.rcvd.reason if exc.rcvd else "")
    except (OSError, websockets.InvalidHandshake):
        pass  # dropped: nothing said at all
    return texts


class OriginCases(ServerPerClass):
    """Cross-site WebSocket hijacking: a page on another site opens a socket
    with the victim's cookies. Channels' rule (AllowedHostsOriginValidator):
    the Origin must name an ALLOWED_HOSTS host, and a missing Origin is
    refused too, cookie or not (tokens travel in the URL, never in cookies,
    but a deployment may add cookie auth later)."""

    async def test_foreign_or_missing_origin_is_refused_even_with_cookies(self):
        cookies = {"additional_headers": {"Cookie": "sessionid=abc; csrftoken=def"}}
        query = f"session_token={self.ana}"
        for origin in (
            "https://evil.example",
            None,
            "null",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example",
            "http://localhost@evil.example",
            "https://evil.example/http://localhost",
            "http://evil.example#localhost",
        ):
            with self.subTest(origin=origin):
                status = await refused_status(self.server.port, self.code, query, origin, **cookies)
                self.assertEqual(status, 403)
        # The page's own origin works, with or without cookies.
        for origin in ("http://localhost", "https://localhost:8443", "http://127.0.0.1:8000"):
            with self.subTest(origin=origin):
                status = await refused_status(self.server.port, self.code, query, origin, **cookies)
                self.assertIsNone(status)


class DaphneOriginTests(OriginCases, TransactionTestCase):
    server_class = servers.Daphne


class SidecarOriginTests(OriginCases, TransactionTestCase):
    server_class = staticmethod(servers.Sidecar)


@override_settings(CSRF_TRUSTED_ORIGINS=["https://party.example", "https://*.games.example"])
class SidecarTrustedOriginTests(GameCase):
    """The sidecar also takes Django's CSRF_TRUSTED_ORIGINS (full origins:
    scheme, host and port must match; `*.` for subdomains)."""

    async def test_csrf_trusted_origins_are_allowed_exactly(self):
        port, query = self.sidecar.port, f"session_token={self.ana}"
        for origin, allowed in (
            ("https://party.example", True),
            ("https://party.example:443", True),
            ("http://party.example", False),
            ("https://party.example:8443", False),
            ("https://sub.party.example", False),
            ("https://a.games.example", True),
            ("https://games.example", True),
            ("http://a.games.example", False),
            ("https://evil.example", False),
        ):
            with self.subTest(origin=origin):
                status = await refused_status(port, self.code, query, origin)
                self.assertEqual(status, None if allowed else 403)


class HostOnlyTests(BothServers, TransactionTestCase):
    """Players cannot do what only the host may, over REST or WebSocket."""

    def test_every_host_action_is_refused_to_a_player_over_rest(self):
        for action in HOST_ACTIONS:
            with self.subTest(action=action):
                status, body = http(
                    self.daphne.port,
                    "POST",
                    f"/api/sessions/{self.code}/{action}/",
                    b"{}",
                    self.ana,
                )
                self.assertEqual((status, json.loads(body)["error"]["code"]), (403, "WRONG_ROLE"))
        self.assertEqual(self.api.state(self.code)[1]["phase"], "lobby")

    async def test_host_actions_are_no_socket_messages(self):
        for server in (self.daphne, self.sidecar):
            ws, _, _ = await servers.join(server.port, self.code, f"session_token={self.ana}")
            for action in (*HOST_ACTIONS, "start_round", "kick"):
                with self.subTest(server=server.name, action=action):
                    await ws.send(json.dumps({"type": action}))
                    reply = await servers.recv_json(ws)
                    self.assertEqual((reply["type"], reply["code"]), ("error", "UNKNOWN_TYPE"))
            await ws.close()
        status, state = await sync_to_async(self.api.state)(self.code)
        self.assertEqual(state["phase"], "lobby")


class ErrorTextTests(PrivateRedis, BothServers, TransactionTestCase):
    """Error texts to clients carry no internals (tracebacks, paths, Redis'
    own errors) on either server: bad requests, and Redis gone mid-game."""

    sidecar_options = {"client_types": "*"}

    def assertClean(self, text: str) -> None:  # noqa: N802 - unittest style
        self.assertIsNone(INTERNALS.search(text), text)

    def test_bad_requests_get_plain_json_errors(self):
        port, base = self.daphne.port, f"/api/sessions/{self.code}"
        for method, path, body, token in (
            ("POST", f"{base}/lies/", b"{not json", self.ana),
            ("POST", f"{base}/lies/", b'{"text": ' * 5000, self.ana),
            ("POST", f"{base}/lies/", b"\xff\xfe\x00", self.ana),
            ("POST", f"{base}/guesses/", b'{"answer_id": {"$ne": 1}}', self.ana),
            ("POST", f"{base}/join/", b'{"name": "' + b"x" * 100_000 + b'"}', None),
            ("POST", f"{base}/start-round/", b"{}", "x" * 5000),
            ("GET", "/api/sessions/%00/", None, None),
            ("GET", "/api/nothing/../../etc/passwd", None, None),
            ("DELETE", f"{base}/", None, None),
        ):
            with self.subTest(method=method, path=path[:40], body=(body or b"")[:20]):
                status, text = http(port, method, path, body, token)
                self.assertGreaterEqual(status, 400)
                self.assertLess(status, 500)
                self.assertIn("error", json.loads(text))
                self.assertClean(text)

    async def test_redis_down_mid_game(self):
        sidecar_ws, _, _ = await servers.join(
            self.sidecar.port, self.code, f"session_token={self.ana}"
        )
        daphne_ws, _, _ = await servers.join(
            self.daphne.port, self.code, f"session_token={self.bo}"
        )
        with expect_logs(self, self.sidecar, "link lost"):
            self.redis.kill()
            self.assertTrue(await wait_for(lambda: not self.sidecar.stats()["redis_up"]))
        texts = []
        # A message each server must hand on (sidecar: to the worker; Daphne:
        # a reaction counted in Redis).
        reaction = json.dumps({"type": "reaction", "emoji": REACTION_EMOJI[0]})
        await sidecar_ws.send(reaction)
        texts.append(await asyncio.wait_for(sidecar_ws.recv(), 20))
        self.assertEqual(json.loads(texts[0])["code"], "SERVER_BUSY")
        # GameConsumer's channel-layer reader fails with Redis: Daphne closes
        # with 1011 (or a reaction gets an error first).
        try:
            await daphne_ws.send(reaction)
            texts.append(await asyncio.wait_for(daphne_ws.recv(), 20))
            self.assertEqual(json.loads(texts[-1])["type"], protocol.ERROR)
        except websockets.ConnectionClosed as exc:
            self.assertEqual(exc.rcvd.code if exc.rcvd else None, 1011)
            texts.append(exc.rcvd.reason)
        # New sockets are closed (sidecar: 1013; Daphne: the consumer fails)
        # with nothing said but a code.
        for server in (self.sidecar, self.daphne):
            texts += await texts_until_close(server.port, self.code, f"session_token={self.ana}")
        for text in texts:
            self.assertClean(text)
        for ws in (sidecar_ws, daphne_ws):
            await ws.close()

    def test_redis_down_rest_report(self):
        self.redis.kill()
        status, text = http(
            self.daphne.port, "POST", f"/api/sessions/{self.code}/start-round/", b"{}", self.host
        )
        self.assertEqual(status, 200)  # saved; the report says players were not told
        self.assertFalse(json.loads(text)["broadcast"]["ok"])
        self.assertClean(text)
