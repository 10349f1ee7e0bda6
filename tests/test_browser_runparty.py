"""The sidecar SIGKILLed under `make run` (`manage.py runparty`) mid-game,
in Chromium (issue 21): runparty replaces it on the same port, the pages
reconnect to the replacement on their own within a few seconds and resync,
the next phase reaches them, and every other service keeps its pid.
"""

from __future__ import annotations

import os
import signal
import time
import unittest

from .browser_support import BrowserTestCase, ServerUnderTest, sidecar_unavailable
from .processes import RunParty
from .servers import healthz_stats
from .test_browser import GamePages, expect


class PartyServer(ServerUnderTest):
    """Every service from one `manage.py runparty`, as `make run` serves them."""

    name = "runparty"

    def __init__(self) -> None:
        self.party = RunParty(
            env={
                "DJANGO_SETTINGS_MODULE": "tests.browser_settings",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            }
        )
        self.http_url = f"http://127.0.0.1:{self.party.port}"
        self.ws_url = f"ws://127.0.0.1:{self.party.ws_port}"
        self.process = None

    def start(self) -> None:
        self.party.start()

    def close(self) -> None:
        self.party.close()


@unittest.skipIf(sidecar_unavailable(), str(sidecar_unavailable()))
class RunPartyBrowserTests(GamePages, BrowserTestCase):
    server_factory = PartyServer

    def test_a_killed_sidecar_is_replaced_and_the_pages_play_on(self):
        party = self.server.party
        host = self.open_host()
        ana, bo = self.open_player("Ana"), self.open_player("Bo")
        pages = {"host": host, "ana": ana, "bo": bo}
        # The pages' sockets are the sidecar's (port + 1), not Daphne's.
        self.assertEqual(healthz_stats(party.ws_port)["connections"], 3)
        host.click("#btn-start-round")
        for page in (ana, bo):
            expect(page.locator("#phase-title")).to_have_text("Write a lie")
        for page in pages.values():
            page.evaluate("() => { window.__noReload = true; }")
        before = party.pids()

        os.kill(before["sidecar"], signal.SIGKILL)
        killed = time.monotonic()
        for page in pages.values():
            page.wait_for_function(
                "() => partyhub.metrics.snapshot().reconnects >= 1"
                " && partyhub.status === 'connected'",
                timeout=20_000,
            )
        back_after = time.monotonic() - killed
        self.assertLess(back_after, 10, "the pages took too long to reconnect")
        self.assertEqual(healthz_stats(party.ws_port)["connections"], 3)
        self.shot(host, "host-reconnected")
        after = party.pids()
        self.assertNotEqual(after["sidecar"], before["sidecar"])
        for name in ("inbound", "daphne", "celery", "beat"):
            self.assertEqual(after[name], before[name], f"{name} was restarted")
        self.assertRegex(
            party.text(),
            rf"WARNING realtime\.supervisor: sidecar \(pid {before['sidecar']}\) was killed by "
            rf"SIGKILL: restarted as pid {after['sidecar']} \(restart 1 of sidecar, 1 in all\)",
        )

        # The next phases reach every page through the replacement.
        ana.fill("#lie", "a velvet hammer")
        ana.click("#lie-button")
        expect(ana.locator("#lie-status")).to_contain_text("a velvet hammer")
        host.click("#btn-show-question")
        expect(host.locator("#phase-title")).to_have_text("The question")
        host.click("#btn-mix-answers")
        expect(host.locator("#phase-title")).to_have_text("Find the truth")
        for page in (ana, bo):
            expect(page.locator("#phase-title")).to_have_text("Pick the truth")
        self.shot(ana, "ana-after-the-restart")
        for name, page in pages.items():
            self.assertTrue(page.evaluate("() => window.__noReload === true"), f"{name} reloaded")
        self.assert_no_page_errors()
