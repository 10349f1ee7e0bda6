"""Support for the browser tests: the server under test, Chromium, screenshots.

The server under test is a parameter: a `ServerUnderTest` has the base HTTP
URL the browser opens and the WebSocket base URL the pages use (None: the
same host as the page). `DaphneServer` serves both from one real Daphne
process; a sidecar server (the C WebSocket sidecar, once it lands) is a
`ServerUnderTest` whose HTTP side is Daphne and whose `ws_url` is the sidecar.

Playwright's sync API runs in the test thread (it must not run inside an
asyncio loop); it drives Debian's Chromium, never a downloaded browser.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.test import TransactionTestCase

from partyhub.redisproc import free_port

CHROMIUM = os.environ.get("PARTYHUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these the closed network here refuses Chromium's connections.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"
# The narrowest phone the pages are made for (issue 17): every phone in the
# browser tests is this wide, and assert_fits checks nothing scrolls sideways.
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
BIG_SCREEN = {"viewport": {"width": 1920, "height": 1080}}
TIMEOUT_MS = 10_000


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (
            f"Chromium not found at {CHROMIUM}: install the Debian package `chromium` "
            "(`make test` does) or set PARTYHUB_CHROMIUM"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed: `pip install -e '.[dev]'`"
    return None


class ServerUnderTest:
    """A running partyhub server: where the browser goes and where sockets go."""

    name = "server"
    http_url: str
    ws_url: str | None = None

    def log_as(self, label: str) -> None:
        """Write the server's output to test-artifacts/browser/logs/<label>-<name>.log."""
        self.log_path = ARTIFACTS / "logs" / f"{label}-{self.name}.log"

    @staticmethod
    def open_log(path: Path, fresh: bool):
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w" if fresh else "a")  # noqa: SIM115 - the child keeps it

    @staticmethod
    def terminate(process: subprocess.Popen | None, timeout: float) -> None:
        """SIGTERM a server process (thawing it first), SIGKILL after `timeout`."""
        if process and process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def start(self) -> None:
        raise NotImplementedError

    def stop_ws(self) -> None:
        """Stop the WebSocket server (as a crash or a restart would)."""
        raise NotImplementedError

    def start_ws(self) -> None:
        """Start the WebSocket server again, on the same address."""
        raise NotImplementedError

    def kill_ws(self) -> None:
        """SIGKILL the WebSocket server, as a crash would: no close frames,
        no goodbye to Redis (its group memberships stay behind)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def pause_ws(self) -> None:
        """Freeze the WebSocket server: sockets stay open, nothing answers."""
        raise NotImplementedError

    def resume_ws(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class DaphneServer(ServerUnderTest):
    """Daphne serving partyhub.asgi:application in a subprocess.

    It uses the test run's Redis and test database: tests/runner.py puts
    both in os.environ (CHANNEL_REDIS_*, DATABASE_URL), which it inherits.
    """

    name = "daphne"

    def __init__(self, ws_url: str | None = None) -> None:
        self.port = free_port()
        self.http_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = ws_url
        self.process: subprocess.Popen | None = None
        self.log_path = ARTIFACTS / "logs" / "daphne.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="tests.browser_settings",
            PARTYHUB_LOG_LEVEL="WARNING",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",
        )
        env.pop("PARTYHUB_WS_URL", None)
        env.pop("PARTYHUB_WS_PORT", None)
        if self.ws_url:
            env["PARTYHUB_WS_URL"] = self.ws_url
        return env

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "daphne",
            "-v",
            "0",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            "partyhub.asgi:application",
        ]
        log = self.open_log(self.log_path, fresh=self.process is None)
        self.process = subprocess.Popen(
            command, env=self.env(), cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.http_url}/api/sessions/ZZZZ/"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"daphne exited with {self.process.returncode}: see {self.log_path}"
                )
            try:
                urllib.request.urlopen(url, timeout=1)
            except urllib.error.HTTPError:
                return  # a JSON 404: Django answers
            except OSError:
                time.sleep(0.1)
                continue
            return
        raise RuntimeError(f"daphne did not start on port {self.port}: see {self.log_path}")

    def stop_ws(self) -> None:
        self.terminate(self.process, 5)

    def start_ws(self) -> None:
        self.start()

    def pause_ws(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume_ws(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop_ws()


class SidecarServer(ServerUnderTest):
    """Pages and REST from Daphne, WebSockets from the C sidecar (`manage.py runsidecar`)."""

    name = "sidecar"
    drain_seconds: float | None = None  # runsidecar --drain-seconds (SIGUSR1's window)

    def __init__(self) -> None:
        self.ws_port = free_port()
        self.ws_url = f"ws://127.0.0.1:{self.ws_port}"
        self.daphne = DaphneServer(ws_url=self.ws_url)
        self.http_url = self.daphne.http_url
        self.process: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.log_path = ARTIFACTS / "logs" / "sidecar.log"

    def log_as(self, label: str) -> None:
        super().log_as(label)
        self.daphne.log_as(f"{label}-http")

    def start(self) -> None:
        self.daphne.start()
        self.start_ws()
        # As under `make run`: the client messages the sidecar forwards
        # (reactions, game actions) are handled by an inbound worker.
        log = self.open_log(self.log_path.with_name("inbound.log"), fresh=True)
        self.worker = subprocess.Popen(
            [sys.executable, "manage.py", "runworker", "partyhub.inbound"],
            env=self.daphne.env(),
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=log,
        )
        log.close()

    def start_ws(self) -> None:
        command = [
            sys.executable,
            "manage.py",
            "runsidecar",
            "--bind",
            f"127.0.0.1:{self.ws_port}",
            "--log-level",
            "warning",
        ]
        if self.drain_seconds is not None:
            command += ["--drain-seconds", str(self.drain_seconds)]
        log = self.open_log(self.log_path, fresh=self.process is None)
        self.process = subprocess.Popen(
            command, env=self.daphne.env(), cwd=settings.BASE_DIR, stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the sidecar exited: see {self.log_path}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.ws_port}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the sidecar did not start: see {self.log_path}")

    def stop_ws(self) -> None:
        self.terminate(self.process, 8)

    def pause_ws(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume_ws(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop_ws()
        if getattr(self, "worker", None) is not None:
            self.terminate(self.worker, 8)
        self.daphne.close()


def daphne_server() -> ServerUnderTest:
    """The Python stack: pages, REST and WebSockets all from one Daphne."""
    return DaphneServer()


def sidecar_server() -> ServerUnderTest:
    """Daphne for pages and REST, the C sidecar for WebSockets."""
    return SidecarServer()


def sidecar_unavailable() -> str | None:
    """Why the sidecar cannot run here, or None when it can."""
    try:
        from realtime import _sidecar
    except ImportError as exc:
        return f"the C extension is not built ({exc}): `make test` builds it"
    if not hasattr(_sidecar, "Server"):
        return "realtime._sidecar has no Server"
    return None


class BrowserTestCase(TransactionTestCase):
    """A real server process per class, a fresh Chromium per test.

    TransactionTestCase, because the server process must see committed data;
    serialized_rollback keeps the question bank that a migration loads.
    """

    serialized_rollback = True
    server_factory = staticmethod(daphne_server)
    server: ServerUnderTest

    @classmethod
    def setUpClass(cls) -> None:
        reason = browser_unavailable()
        if reason:
            raise unittest.SkipTest(reason)
        super().setUpClass()
        cls.server = cls.server_factory()
        cls.server.log_as(cls.__name__)
        try:
            cls.server.start()
        except Exception:
            cls.server.close()
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.close()
        super().tearDownClass()

    def setUp(self) -> None:
        from playwright.sync_api import expect, sync_playwright

        expect.set_options(timeout=TIMEOUT_MS)
        # Playwright's sync API keeps an asyncio loop marked as running in this
        # thread, so Django refuses ORM and async_to_sync calls here: the tests
        # make those through self.django(), on a worker thread of their own.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="django")
        self.addCleanup(self._worker.shutdown)
        self.addCleanup(self.django, connections.close_all)
        self.playwright = sync_playwright().start()
        self.addCleanup(self.playwright.stop)
        self.browser = self.playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        self.addCleanup(self.browser.close)
        self.page_errors: list[str] = []
        self.console: list[str] = []
        self.pages: dict[str, object] = {}
        self.addCleanup(self._save_evidence_on_failure)
        self.shot_number = 0
        self.shot_dir = ARTIFACTS / self.server.name / self._testMethodName
        shutil.rmtree(self.shot_dir, ignore_errors=True)
        self.shot_dir.mkdir(parents=True, exist_ok=True)

    def django(self, func, *args, **kwargs):
        """Run a Django call (ORM, test client, broadcast) off the Playwright thread."""
        return self._worker.submit(func, *args, **kwargs).result(timeout=60)

    def new_page(self, label: str, device: dict | None = None):
        """A page in its own browser context (own sessionStorage, like another device)."""
        context = self.browser.new_context(**(device or PHONE))
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        self.pages[label] = page
        page.on("console", lambda msg: self.console.append(f"{label} {msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: self.page_errors.append(f"{label}: {exc}"))
        page.on(
            "console",
            lambda msg: (
                msg.type == "error"
                # The browser's own network log: refused sockets, REST error statuses.
                and "WebSocket" not in msg.text
                and not msg.text.startswith("Failed to load resource")
                and self.page_errors.append(f"{label} console: {msg.text}")
            ),
        )
        return page

    def _save_evidence_on_failure(self) -> None:
        """After a failure: a screenshot of every page and the browser console."""
        # The outcome, not the result's lists: a parallel worker's result
        # (`manage.py test --parallel`) keeps none.
        if getattr(self._outcome, "success", True):
            return
        for label, page in self.pages.items():
            try:
                self.shot(page, f"failure-{label}")
            except Exception:  # noqa: BLE001 - evidence is best effort
                pass
        (self.shot_dir / "console.log").write_text("\n".join(self.console) + "\n")

    def url(self, path: str) -> str:
        return self.server.http_url + path

    def shot(self, page, name: str) -> None:
        """Save a screenshot under test-artifacts/browser/<server>/<test>/."""
        self.shot_number += 1
        safe = re.sub(r"[^a-z0-9-]+", "-", name.lower())
        page.screenshot(path=str(self.shot_dir / f"{self.shot_number:02d}-{safe}.png"))

    def assert_fits(self, page, label: str) -> None:
        """Nothing sticks out sideways (no horizontal scrolling)."""
        widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        self.assertLessEqual(widths[0], widths[1], f"{label} scrolls sideways: {widths}")

    def assert_no_page_errors(self) -> None:
        self.assertEqual(self.page_errors, [], "JavaScript errors in the pages")

    @staticmethod
    def metrics(page) -> dict:
        return page.evaluate("() => partyhub.metrics.snapshot()")

    @staticmethod
    def status(page):
        return page.locator("#status")


def dump(obj) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False)
