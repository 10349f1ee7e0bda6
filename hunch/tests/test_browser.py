"""Hunch in Chromium: the home page's game choice, the secret card, a guess
over the socket, a reload that gets the secret back, the scoreboard.

Runs against the C sidecar (with its inbound worker, as `make run`): the
private state after a reload comes from the sidecar's Redis read.
"""

from __future__ import annotations

import re
import unittest

from lobby.models import Player
from tests.browser_support import (
    BIG_SCREEN,
    PHONE,
    BrowserTestCase,
    sidecar_server,
    sidecar_unavailable,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the browser tests skip themselves, saying why
    expect = None


def secrets(code: str) -> dict[str, int]:
    return {p.name: p.data.get("secret") for p in Player.objects.filter(session__code=code)}


@unittest.skipIf(sidecar_unavailable(), str(sidecar_unavailable()))
class HunchPagesTests(BrowserTestCase):
    server_factory = staticmethod(sidecar_server)

    def test_a_round_with_secret_cards(self):
        host = self.new_page("host", BIG_SCREEN)
        host.goto(self.url("/"))
        host.check("#game-hunch")
        expect(host.locator("#game-heading")).to_have_text("Hunch")
        expect(host.locator("#guess_time")).to_have_value("45")
        host.fill("#rounds", "1")
        host.click("#create-button")
        host.wait_for_url(re.compile(r"/host/[A-Z]{4}/$"))
        code = host.url.rstrip("/").rsplit("/", 1)[1]
        expect(self.status(host)).to_have_attribute("data-status", "connected")
        phones = {}
        for name in ("Ana", "Bo"):
            page = self.new_page(name, PHONE)
            page.goto(self.url(f"/play/{code}/"))
            page.fill("#name", name)
            page.click("#join-button")
            expect(page.locator("#phase-title")).to_have_text("Get ready")
            phones[name] = page
        expect(host.locator("#player-count")).to_have_text("2")
        host.click("#btn-start-round")
        expect(host.locator("#phase-title")).to_have_text("Guess the total!")
        dealt = self.django(secrets, code)
        ana = phones["Ana"]
        expect(ana.locator("#phase-title")).to_have_text("Guess the total")
        # The card hides its number until tapped.
        expect(ana.locator("#secret-value")).to_be_hidden()
        self.shot(ana, "card-closed")
        ana.click("#secret-card")
        expect(ana.locator("#secret-value")).to_have_text(str(dealt["Ana"]))
        self.shot(ana, "card-open")
        # A reload: the secret comes back with the private state (player.state).
        ana.reload()
        expect(self.status(ana)).to_have_attribute("data-status", "connected")
        ana.click("#secret-card")
        expect(ana.locator("#secret-value")).to_have_text(str(dealt["Ana"]))
        self.assertEqual(ana.evaluate("() => partyhub.you.secret"), dealt["Ana"])
        # The big screen never holds a secret.
        self.assertNotIn("secret", host.evaluate("() => JSON.stringify(partyhub.state)"))
        total = sum(dealt.values())
        ana.fill("#total", str(total))
        ana.click("#guess-button")
        expect(ana.locator("#guess-status")).to_contain_text(f"You guessed {total}")
        expect(host.locator("#guess-progress")).to_have_text("1 of 2 guesses in")
        bo = phones["Bo"]
        bo.fill("#total", str(total + 4))
        bo.click("#guess-button")
        expect(host.locator("#phase-title")).to_have_text("Scoreboard after the last round")
        expect(host.locator("#round-total")).to_have_text(str(total))
        expect(ana.locator("#my-rank")).to_contain_text("You are #1 with 200 points")
        expect(ana.locator("#me-score")).to_have_text("200")
        expect(host.locator("#players li", has_text="Ana")).to_contain_text("200")
        self.shot(host, "scoreboard")
        host.click("#btn-finish")
        expect(host.locator("#winner")).to_contain_text("Ana")
        expect(host.locator("#awards")).to_contain_text("Bullseye")
        for page in (host, *phones.values()):
            self.assertEqual(page.evaluate("() => partyhub.metrics.snapshot().gaps"), 0)
        self.assert_no_page_errors()
