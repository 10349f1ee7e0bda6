"""A draining sidecar in Chromium: the pages follow server.draining to a
second sidecar on the same port (SO_REUSEPORT, as a rolling restart on one
host would) at the time they were given, and the game goes on.
"""

from __future__ import annotations

import signal
import time
import unittest

from .browser_support import BrowserTestCase, SidecarServer, sidecar_unavailable
from .processes import listeners
from .test_browser import GamePages, expect

WINDOW_S = 3.0
# The page may see server.draining this long after the server sent it.
SLACK_MS = 100


class DrainingSidecar(SidecarServer):
    drain_seconds = WINDOW_S


@unittest.skipIf(sidecar_unavailable(), str(sidecar_unavailable()))
class DrainBrowserTests(GamePages, BrowserTestCase):
    server_factory = DrainingSidecar

    def test_pages_move_to_the_second_sidecar_at_their_turn_and_play_on(self):
        host = self.open_host()
        ana, bo = self.open_player("Ana"), self.open_player("Bo")
        pages = {"host": host, "ana": ana, "bo": bo}
        for page in pages.values():
            page.evaluate(
                """() => {
                  window.__noReload = true;
                  window.__drain = null;
                  partyhub.on('server.draining', (m) => {
                    window.__drain = {ms: m.reconnect_in_ms, told: performance.now()};
                  });
                  partyhub.on('welcome', () => {
                    if (window.__drain) window.__drain.back = performance.now();
                  });
                }"""
            )

        first = self.server.process
        self.addCleanup(self.server.terminate, first, 8)
        self.server.start_ws()  # a second sidecar on the same port
        deadline = time.monotonic() + 20
        while listeners(self.server.ws_port) < 2:
            self.assertLess(time.monotonic(), deadline, "the second sidecar did not listen")
            host.wait_for_timeout(50)
        first.send_signal(signal.SIGUSR1)

        for name, page in pages.items():
            page.wait_for_function(
                "() => window.__drain && window.__drain.back !== undefined"
                " && partyhub.status === 'connected'",
                timeout=int(WINDOW_S * 1000) + 15_000,
            )
            drain = page.evaluate("() => window.__drain")
            self.assertLessEqual(drain["ms"], WINDOW_S * 1000)
            # Back no earlier than the time it was given (the server's turn).
            self.assertGreaterEqual(drain["back"] - drain["told"], drain["ms"] - SLACK_MS, name)
            metrics = self.metrics(page)
            self.assertEqual((metrics["drainMoves"], metrics["reconnectAttempts"]), (1, 0), name)
            self.assertTrue(page.evaluate("() => window.__noReload === true"), f"{name} reloaded")
        self.shot(host, "host-after-drain")
        first.send_signal(signal.SIGTERM)  # drained: exits at once
        self.assertEqual(first.wait(10), 0)

        # The game goes on through the second sidecar.
        host.click("#btn-start-round")
        expect(ana.locator("#phase-title")).to_have_text("Write a lie")
        expect(bo.locator("#phase-title")).to_have_text("Write a lie")
        ana.fill("#lie", "a velvet hammer")
        ana.click("#lie-button")
        expect(ana.locator("#lie-status")).to_contain_text("a velvet hammer")
        for name, page in pages.items():
            self.assertEqual(self.metrics(page)["gaps"], 0, name)
        self.shot(ana, "ana-after-drain")
        self.assert_no_page_errors()
