"""The party in the room (issue 17), in Chromium at phone sizes: the QR code
on the big screen, rejoining after a tab is closed, the host's screen
opened again and on another device, waking up after the phone slept,
the wake lock, the sound toggle, Danish, and 360-px-wide phones.

Screenshots of each state land in test-artifacts/browser/ (not committed).
"""

from __future__ import annotations

import io
import re
import time

from .browser_support import BIG_SCREEN, PHONE, BrowserTestCase
from .helpers import Api

try:
    from playwright.sync_api import expect
except ImportError:  # the browser tests skip themselves, saying why
    expect = None

PHONE_360 = PHONE  # 360 px wide

# The Page Visibility API as the page sees it, driven by the test: a phone
# that sleeps hides the page (visibilitychange), waking shows it again.
VISIBILITY = """
(() => {
  let state = "visible";
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => state === "hidden" });
  window.__setVisibility = (next) => {
    state = next;
    document.dispatchEvent(new Event("visibilitychange"));
  };
})();
"""


def decode_qr(png: bytes) -> str:
    """The text of the one QR code in a PNG screenshot (zxing-cpp)."""
    import zxingcpp
    from PIL import Image

    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, f"{len(found)} codes found"
    return found[0].text


class PartyTests(BrowserTestCase):
    def join(self, context_page, code: str, name: str):
        page = context_page
        page.goto(self.url(f"/play/{code}/"))
        page.fill("#name", name)
        page.click("#join-button")
        expect(self.status(page)).to_have_attribute("data-status", "connected")
        expect(page.locator("#me-name")).to_have_text(name)
        return page

    def device(self, page) -> dict:
        return page.evaluate("() => partyhubDevice.snapshot()")

    def test_qr_rejoin_host_reopen_wake_lock_sound(self):
        # The big screen, created from the home page: its key stays on this device.
        host = self.new_page("host", BIG_SCREEN)
        host.goto(self.url("/"))
        host.check("#game-hunch")
        host.fill("#rounds", "2")
        host.click("#create-button")
        host.wait_for_url(re.compile(r"/host/[A-Z]{4}/$"))
        code = host.url.rstrip("/").rsplit("/", 1)[1]
        expect(self.status(host)).to_have_attribute("data-status", "connected")
        join_url = self.url(f"/play/{code}/")
        expect(host.locator("#join-url")).to_have_text(join_url)
        self.assertEqual(decode_qr(host.locator("#join-qr svg").screenshot()), join_url)
        # Sound on by default on the big screen; the screen is kept awake.
        expect(host.locator("#sound-toggle")).to_have_attribute("aria-pressed", "true")
        host.wait_for_function("() => partyhubDevice.snapshot().wakeLock.requests >= 1")
        self.shot(host, "host-lobby-qr")

        # Phones: muted by default, and the choice stays with the device.
        ana = self.join(self.new_page("Ana", PHONE_360), code, "Ana")
        expect(ana.locator("#sound-toggle")).to_have_attribute("aria-pressed", "false")
        ana.click("#sound-toggle")
        expect(ana.locator("#sound-toggle")).to_have_attribute("aria-pressed", "true")
        ana.reload()
        expect(self.status(ana)).to_have_attribute("data-status", "connected")
        expect(ana.locator("#me-name")).to_have_text("Ana")
        expect(ana.locator("#sound-toggle")).to_have_attribute("aria-pressed", "true")
        ana.wait_for_function("() => partyhubDevice.snapshot().wakeLock.requests >= 1")
        self.assert_fits(ana, "Ana's lobby at 360")
        self.shot(ana, "ana-lobby-360")

        # A player can leave in the lobby, and join again.
        bo = self.join(self.new_page("Bo", PHONE_360), code, "Bo")
        bo.once("dialog", lambda dialog: dialog.accept())
        bo.click("#leave-button")
        expect(bo.locator("#gone-text")).to_have_text("You left this game.")
        expect(host.locator("#player-count")).to_have_text("1")
        self.join(bo, code, "Bo")
        expect(host.locator("#player-count")).to_have_text("2")

        # A round, started from the keyboard (with a visible focus ring):
        # both guess, the scoreboard shows the points.
        host.locator("#btn-start-round").press("Enter")
        expect(host.locator("#phase-title")).to_have_text("Guess the total!")
        # The disabled button hands the focus on to the next usable control.
        expect(host.locator("#btn-pause")).to_be_focused()
        focus = host.evaluate(
            """() => [document.activeElement.matches(':focus-visible'),
                      getComputedStyle(document.activeElement).outlineStyle]"""
        )
        self.assertEqual(focus, [True, "solid"])
        for phone in (ana, bo):
            expect(phone.locator("#phase-title")).to_have_text("Guess the total")
            self.assert_fits(phone, "guessing at 360")
        self.shot(ana, "ana-guessing-360")
        ana.fill("#total", "10")
        ana.click("#guess-button")
        bo.fill("#total", "11")
        bo.click("#guess-button")
        expect(host.locator("#phase-title")).to_have_text("Scoreboard after round 1")
        expect(ana.locator("#phase-title")).to_have_text("Scoreboard")
        score = ana.locator("#me-score").text_content()
        self.assertIn("phase", self.device(host)["played"])
        self.assertIn("results", self.device(host)["played"])
        self.assert_fits(ana, "scoreboard at 360")
        self.shot(ana, "ana-scoreboard-360")

        # Ana closes her tab; the link again continues as Ana, with her score.
        context = ana.context
        ana.close()
        ana = context.new_page()
        self.pages["Ana"] = ana
        ana.goto(self.url(f"/play/{code}/"))
        expect(self.status(ana)).to_have_attribute("data-status", "connected")
        expect(ana.locator("#me-name")).to_have_text("Ana")
        expect(ana.locator("#me-score")).to_have_text(score)
        expect(ana.locator("#phase-title")).to_have_text("Scoreboard")
        # The home page offers the game back.
        home = context.new_page()
        home.goto(self.url("/"))
        expect(home.locator("#continue-list a")).to_have_text(f"Continue as Ana in game {code}")
        home.close()

        # The host closes the big screen and opens it again: still in control.
        context = host.context
        host.close()
        host = context.new_page()
        self.pages["host"] = host
        host.goto(self.url(f"/host/{code}/"))
        expect(self.status(host)).to_have_attribute("data-status", "connected")
        expect(host.locator("#btn-start-round")).to_be_enabled()
        expect(host.locator("#btn-start-round")).to_have_text("Next round")

        # The host link, shown only after asking, hosts from another device.
        expect(host.locator("#host-link-url")).to_be_hidden()
        host.click("#host-link summary")
        host.click("#host-link-show")
        link = host.locator("#host-link-url").input_value()
        self.assertEqual(link, self.url(f"/host/{code}/#host=") + link.split("#host=")[1])
        other = self.new_page("other-screen", BIG_SCREEN)
        other.goto(link)
        expect(self.status(other)).to_have_attribute("data-status", "connected")
        self.assertNotIn("#", other.url)  # the key left the address bar
        other.click("#btn-start-round")
        expect(ana.locator("#phase-title")).to_have_text("Guess the total")
        expect(host.locator("#round-label")).to_have_text("Round 2 of 2")

        # The host ends the game: the phones forget it.
        other.once("dialog", lambda dialog: dialog.accept())
        other.click("#btn-exit")
        expect(ana.locator("#gone-text")).to_have_text("The host has ended this game.")
        self.assertIsNone(ana.evaluate(f"() => localStorage.getItem('partyhub:player:{code}')"))
        self.assert_no_page_errors()

    @staticmethod
    def wait_for_failed_try(page) -> None:
        """Until the last connection attempt has failed (real time: the fake
        clock does not move the network)."""
        deadline = time.monotonic() + 5
        while page.evaluate("() => partyhub.ws !== null"):
            if time.monotonic() > deadline:
                raise AssertionError("a connection attempt neither failed nor succeeded")
            time.sleep(0.02)

    def test_hidden_phone_reconnects_when_shown(self):
        code, _ = self.django(Api().create, game="hunch")
        page = self.new_page("Ana", PHONE_360)
        page.context.add_init_script(VISIBILITY)
        # A fake clock, so that 40 s of sleep take no time.
        page.clock.install()
        self.join(page, code, "Ana")
        page.evaluate("() => __setVisibility('hidden')")
        # Asleep: the network is gone, the socket with it (Chromium's offline
        # mode keeps open sockets: drop it), and the backoff runs on for 40 s.
        page.context.set_offline(True)
        page.evaluate("() => partyhub.ws.close()")
        expect(self.status(page)).not_to_have_attribute("data-status", "connected")
        for _ in range(8):
            self.wait_for_failed_try(page)
            page.clock.run_for(5000)
        self.wait_for_failed_try(page)
        waiting = page.evaluate("() => [partyhub.status, partyhub.attempt]")
        self.assertIn(waiting[0], ("reconnecting", "offline"))
        self.assertGreaterEqual(waiting[1], 4)  # the next try is many seconds away
        self.shot(page, "asleep")
        page.context.set_offline(False)
        started = time.monotonic()
        page.evaluate("() => __setVisibility('visible')")
        expect(self.status(page)).to_have_attribute("data-status", "connected", timeout=2000)
        self.assertLess(time.monotonic() - started, 2.0)
        self.shot(page, "awake")
        self.assert_no_page_errors()

    def test_danish_and_360_px(self):
        code, host_token = self.django(Api().create, game="spyster")
        phone = self.browser.new_context(locale="da-DK", **PHONE_360)
        page = phone.new_page()
        self.pages["da"] = page
        page.on("pageerror", lambda exc: self.page_errors.append(f"da: {exc}"))
        page.goto(self.url("/"))
        expect(page.locator("html")).to_have_attribute("lang", "da")
        expect(page.locator("#join-title")).to_have_text("Deltag i et spil")
        self.assert_fits(page, "home at 360")
        self.shot(page, "home-da-360")
        page.goto(self.url(f"/play/{code}/"))
        expect(page.locator("#phase-title")).to_have_text(f"Deltag i spil {code}")
        page.fill("#name", "Åse")
        page.click("#join-button")
        expect(self.status(page)).to_contain_text("Forbundet")
        expect(page.locator("#phase-title")).to_have_text("Gør dig klar")
        self.assert_fits(page, "lobby at 360")
        self.shot(page, "lobby-da-360")
        # The big screen on a phone, in Danish: it fits too.
        host = phone.new_page()
        self.pages["da-host"] = host
        host.goto(self.url(f"/host/{code}/#host={host_token}"))
        expect(self.status(host)).to_contain_text("Forbundet")
        expect(host.locator("#phase-title")).to_have_text("Venter på spillere")
        self.assert_fits(host, "the big screen at 360")
        self.shot(host, "host-da-360")
        host.close()
        # The device's colour scheme: dark or light.
        backgrounds = set()
        for scheme in ("dark", "light"):
            page.emulate_media(color_scheme=scheme)
            backgrounds.add(page.evaluate("() => getComputedStyle(document.body).backgroundColor"))
        self.assertEqual(len(backgrounds), 2)
        # The switcher: English from now on, whatever the browser asks.
        page.select_option("#language-select", "en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("#phase-title")).to_have_text("Get ready")
        self.assert_no_page_errors()
