"""The production setup as shipped in deploy/ (docs/operations.md, docs/nginx.md).

- `manage.py check --deploy` is clean with deploy/partyhub.env; DEBUG is off
  and static files are WhiteNoise's hashed ones unless the environment says
  otherwise; DATABASE_URL keeps its query string.
- The systemd units pass `systemd-analyze verify`.
- nginx with deploy/nginx.conf and a self-signed certificate in front of
  Daphne and the sidecar, both started by their units' ExecStart: a whole
  game in Chromium over https:// and wss://, and the HTTP rate limits and
  the sidecar's connection caps see each client through X-Forwarded-For
  from the proxy, never through a header a client wrote.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import websockets
from django.test import SimpleTestCase

from .browser_support import PHONE, BrowserTestCase
from .deploy_support import (
    INSTALL_DIR,
    ROOT,
    UNITS,
    ProxyStack,
    production_env,
    tools_missing,
)
from .test_browser import FullGame

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def settings_in(env: dict[str, str], expression: str):
    """Evaluate `expression` (JSON-able) over django.conf.settings in a fresh process.

    Only the settings module is read (no django.setup()): a DATABASE_URL for a
    backend whose driver is an optional extra (psycopg) must still be readable.
    """
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({expression}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode:
        raise AssertionError(result.stderr)
    return json.loads(result.stdout)


class ProductionSettingsTests(SimpleTestCase):
    def check_deploy(self, env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )

    def test_check_deploy_is_clean_with_the_shipped_environment(self):
        result = self.check_deploy(production_env())
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("System check identified no issues", result.stdout)

    def test_check_deploy_says_what_is_missing(self):
        env = production_env(DJANGO_SECRET_KEY="", DJANGO_SECURE_HSTS_SECONDS="0")
        result = self.check_deploy(env)
        self.assertNotEqual(result.returncode, 0)
        for warning in ("security.W009", "security.W004"):
            self.assertIn(warning, result.stderr)

    def test_debug_is_off_unless_set(self):
        env = production_env()
        del env["DJANGO_DEBUG"]
        got = settings_in(
            env,
            "[settings.DEBUG, settings.SECURE_SSL_REDIRECT, settings.SECRET_KEY != '',"
            " settings.STORAGES['staticfiles']['BACKEND'], settings.WHITENOISE_USE_FINDERS]",
        )
        self.assertEqual(got, [False, True, True, "partyhub.storage.StaticStorage", False])
        env["DJANGO_DEBUG"] = "1"
        self.assertEqual(
            settings_in(env, "[settings.DEBUG, settings.SECURE_SSL_REDIRECT]"), [True, False]
        )

    def test_database_url_keeps_its_query_string(self):
        env = production_env(
            DATABASE_URL="postgres://u:p%40w@db.example.com:5433/party"
            "?sslmode=require&connect_timeout=5"
        )
        db = settings_in(env, "settings.DATABASES['default']")
        self.assertEqual(db["ENGINE"], "django.db.backends.postgresql")
        self.assertEqual(
            (db["HOST"], int(db["PORT"]), db["NAME"]), ("db.example.com", 5433, "party")
        )
        self.assertEqual((db["USER"], db["PASSWORD"]), ("u", "p@w"))
        self.assertEqual(db["OPTIONS"], {"sslmode": "require", "connect_timeout": 5})
        # SQLite: the URL's options over the project's (busy timeout, IMMEDIATE).
        env["DATABASE_URL"] = "sqlite:////tmp/partyhub-x.sqlite3?timeout=5"
        db = settings_in(env, "settings.DATABASES['default']")
        self.assertEqual(db["NAME"], "/tmp/partyhub-x.sqlite3")
        self.assertEqual(db["OPTIONS"], {"timeout": 5, "transaction_mode": "IMMEDIATE"})


@unittest.skipIf(SYSTEMD_ANALYZE is None, "systemd-analyze is not installed (no systemd here)")
class SystemdUnitTests(SimpleTestCase):
    def test_units_verify(self):
        """Every unit, with the checkout where the units expect /srv/partyhub
        (`verify` checks that each ExecStart binary exists)."""
        units = sorted(UNITS.glob("*.service"))
        self.assertGreaterEqual({u.name for u in units}, {
            "partyhub-daphne.service", "partyhub-sidecar@.service",
            "partyhub-inbound.service", "partyhub-celery.service", "partyhub-beat.service",
            "partyhub-relay.service",
        })  # fmt: skip
        venv_bin = Path(sys.executable).parent
        with tempfile.TemporaryDirectory(prefix="partyhub-units-") as tmp:
            names = []
            for unit in units:
                text = unit.read_text().replace(f"{INSTALL_DIR}/.venv/bin", str(venv_bin))
                (Path(tmp) / unit.name).write_text(text.replace(INSTALL_DIR, str(ROOT)))
                names.append(str(Path(tmp) / unit.name.replace("@.", "@blue.")))
            result = subprocess.run(
                [SYSTEMD_ANALYZE, "verify", *names], capture_output=True, text=True
            )
        output = (result.stdout + result.stderr).strip()
        self.assertEqual((result.returncode, output), (0, ""), output)


def proxy_stack() -> ProxyStack:
    # Small limits to reach here; the game below stays under them.
    return ProxyStack(
        PARTYHUB_RATE_LIMIT_CREATE="5/60",
        PARTYHUB_MAX_CONNS_PER_IP="5",
        PARTYHUB_REVEAL_STEP="1.0",  # as tests/browser_settings.py
    )


@unittest.skipIf(tools_missing(), str(tools_missing()))
class ThroughNginxTests(FullGame, BrowserTestCase):
    """deploy/nginx.conf in front of Daphne and the sidecar (see the module doc)."""

    server_factory = staticmethod(proxy_stack)
    server: ProxyStack
    SIDECAR_WORKERS = 2  # partyhub-sidecar@.service's --workers
    CAP = 5  # PARTYHUB_MAX_CONNS_PER_IP above: per sidecar process

    def setUp(self):
        super().setUp()
        self.sockets: list[str] = []

    def new_page(self, label: str, device: dict | None = None):
        # Chromium does not know the test certificate; Python's clients below verify it.
        page = super().new_page(label, {**(device or PHONE), "ignore_https_errors": True})
        page.on("websocket", lambda ws: self.sockets.append(ws.url))
        return page

    def test_full_game(self):
        super().test_full_game()
        base = f"wss://127.0.0.1:{self.server.https_port}/ws/game/"
        self.assertGreaterEqual(len(self.sockets), 4)
        self.assertTrue(all(url.startswith(base) for url in self.sockets), self.sockets)

    # Plain clients from chosen loopback addresses: nginx sees each as a
    # different client and appends it to X-Forwarded-For.
    def request(self, method, path, *, source, port=None, tls=True, headers=None, body=None):
        port = port or self.server.https_port
        if tls:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", port, source_address=(source, 0), context=self.server.tls(), timeout=10
            )
        else:
            conn = http.client.HTTPConnection(
                "127.0.0.1", port, source_address=(source, 0), timeout=10
            )
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers={"Content-Type": "application/json",
                                                           **(headers or {})})  # fmt: skip
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def create(self, source: str, **headers) -> tuple[int, object, bytes]:
        return self.request("POST", "/api/sessions/", source=source, headers=headers, body={})

    def assert_limited(self, result) -> None:
        status, headers, body = result
        self.assertEqual(status, 429, body)
        self.assertEqual(json.loads(body)["error"]["code"], "RATE_LIMITED")
        self.assertTrue(1 <= int(headers["Retry-After"]) <= 12, headers["Retry-After"])

    def test_rate_limits_see_each_client_through_the_proxy(self):
        for _ in range(5):
            self.assertEqual(self.create("127.0.0.5")[0], 201)
        self.assert_limited(self.create("127.0.0.5"))
        self.assertEqual(self.create("127.0.0.6")[0], 201)  # another client: its own limit

    def test_a_forwarded_for_written_by_the_client_is_not_believed(self):
        # Through nginx: the header the client wrote stays left of the
        # address nginx appends, and only that address counts.
        for n in range(5):
            status, _, body = self.create("127.0.0.7", **{"X-Forwarded-For": f"203.0.113.{n}"})
            self.assertEqual(status, 201, body)
        self.assert_limited(self.create("127.0.0.7", **{"X-Forwarded-For": "203.0.113.99"}))
        # Straight to Daphne from an address that is no trusted proxy: neither
        # X-Forwarded-Proto nor X-Forwarded-For is believed (plain HTTP is
        # redirected to HTTPS before anything else happens).
        status, headers, _ = self.request(
            "POST",
            "/api/sessions/",
            source="127.0.0.8",
            port=self.server.daphne_port,
            tls=False,
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"},
            body={},
        )
        self.assertEqual(status, 301)
        self.assertTrue(headers["Location"].startswith("https://"), headers["Location"])

    def test_join_links_say_https(self):
        status, _, body = self.create("127.0.0.14")
        self.assertEqual(status, 201, body)
        code = json.loads(body)["code"]
        status, _, page = self.request("GET", f"/host/{code}/", source="127.0.0.14")
        self.assertEqual(status, 200)
        link = f"https://127.0.0.1:{self.server.https_port}/play/{code}/"
        self.assertIn(link, page.decode())

    def test_daphne_takes_the_client_from_the_trusted_proxy_only(self):
        # Daphne runs with --proxy-headers (realtime.daphne): from a trusted
        # proxy's address (loopback, as nginx), the client and the scheme
        # are the headers'; the rate limit counts that client.
        def as_proxy(client: str):
            return self.request(
                "POST",
                "/api/sessions/",
                source="127.0.0.1",
                port=self.server.daphne_port,
                tls=False,
                headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": client},
                body={},
            )

        for _ in range(5):
            status, _, body = as_proxy("198.51.100.21")
            self.assertEqual(status, 201, body)  # https: no redirect
        self.assert_limited(as_proxy("198.51.100.21"))
        self.assertEqual(as_proxy("198.51.100.22")[0], 201)
        # Daphne's own log names the client the proxy gave, and never one a
        # client wrote itself (test_a_forwarded_for_written_by_the_client_...).
        log = self.server.daphne_log()
        self.assertIn("198.51.100.21:0 - -", log)
        status, _, _ = self.request(
            "GET",
            "/api/games/",
            source="127.0.0.15",
            port=self.server.daphne_port,
            tls=False,
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.23"},
        )
        self.assertEqual(status, 301)
        self.assertNotIn("198.51.100.23", self.server.daphne_log())

    def test_what_production_serves(self):
        status, headers, body = self.request("GET", "/", source="127.0.0.13")
        self.assertEqual(status, 200)
        self.assertIn("max-age=31536000", headers["Strict-Transport-Security"])
        self.assertEqual(headers["X-Frame-Options"], "DENY")
        # Static files: WhiteNoise's hashed names, cached for good.
        css = re.search(r'href="(/static/lobby/partyhub\.[0-9a-f]{12}\.css)"', body.decode())
        self.assertIsNotNone(css, body[:600])
        status, headers, _ = self.request("GET", css.group(1), source="127.0.0.13")
        self.assertEqual(status, 200)
        self.assertIn("immutable", headers["Cache-Control"])
        # Port 80 sends browsers to HTTPS; the sidecar's metrics are local only.
        status, headers, _ = self.request(
            "GET", "/play/ABCD/", source="127.0.0.13", port=self.server.http_port, tls=False
        )
        self.assertEqual((status, headers["Location"]), (301, "https://127.0.0.1/play/ABCD/"))
        self.assertEqual(self.request("GET", "/healthz", source="127.0.0.1")[0], 200)
        self.assertEqual(self.request("GET", "/metrics", source="127.0.0.13")[0], 403)
        # The unit's --metrics-file, in its StateDirectory, for node_exporter.
        restarts = (self.server.dir / "sidecar-test.prom").read_text()
        self.assertIn(
            'partyhub_sidecar_worker_restarts_total{file="sidecar-test.prom"} 0', restarts
        )

    def test_websocket_caps_see_each_client_through_the_proxy(self):
        status, _, body = self.create("127.0.0.12")
        self.assertEqual(status, 201, body)
        created = json.loads(body)
        url = (
            f"wss://127.0.0.1:{self.server.https_port}/ws/game/{created['code']}/"
            f"?role=host&session_token={created['host_token']}"
        )
        # (Off the Playwright thread, whose event loop counts as running.)
        opened, refused = self.django(asyncio.run, self.open_sockets(url, "127.0.0.9", 11))
        # Each sidecar process lets CAP sockets per client address in: of
        # 2 * CAP + 1, at least one is refused.
        self.assertEqual(11, 2 * self.CAP + 1)
        self.assertGreaterEqual(len(refused), 1)
        self.assertLessEqual(len(opened), self.SIDECAR_WORKERS * self.CAP)
        self.assertEqual(set(refused), {429})
        # Another address is not affected: the proxy's own address is not counted.
        opened2, refused2 = self.django(asyncio.run, self.open_sockets(url, "127.0.0.10", 1))
        self.assertEqual((len(opened2), refused2), (1, []))

    async def open_sockets(self, url: str, source: str, count: int):
        """Open `count` sockets from `source` (one at a time), then close
        them: (how many opened, the HTTP status of each refusal)."""
        opened, refused = [], []
        try:
            for _ in range(count):
                try:
                    ws = await websockets.connect(
                        url,
                        ssl=self.server.tls(),
                        origin=self.server.origin,
                        local_addr=(source, 0),
                        open_timeout=10,
                    )
                except websockets.InvalidStatus as exc:
                    refused.append(exc.response.status_code)
                    continue
                opened.append(ws)
                welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
                self.assertEqual(welcome["type"], "welcome")
        finally:
            for ws in opened:
                await ws.close()
        return opened, refused
