"""The preset flow in Chromium, against a real Daphne (issue 19): a guest
signs up from the home page, saves a preset on "My presets", hosts with it
from the home page's preset picker (changing one setting there), and the
game has the preset's settings with the change. Someone else's browser gets
nothing of it. One flow: the rest is tested without a browser."""

from __future__ import annotations

import re

from lobby.models import GameSession, Preset

from .browser_support import BIG_SCREEN, PHONE, BrowserTestCase
from .members import PASSWORD

try:
    from playwright.sync_api import expect
except ImportError:  # the browser tests skip themselves, saying why
    expect = None


class PresetFlowBrowserTests(BrowserTestCase):
    def test_sign_up_save_a_preset_and_host_with_it(self):
        page = self.new_page("host", BIG_SCREEN)
        page.goto(self.url("/"))
        page.click("#sign-in-link")
        expect(page.locator("h1")).to_have_text("Sign in")
        page.click("#signup-link")
        page.fill("#id_username", "quizmaster")
        page.fill("#id_email", "quizmaster@example.com")
        page.fill("#id_password1", "short")
        page.fill("#id_password2", "short")
        page.click("#signup-button")
        expect(page.locator(".field-error").first).to_be_visible()  # Django's validators
        page.fill("#id_password1", PASSWORD)
        page.fill("#id_password2", PASSWORD)
        self.shot(page, "sign-up")
        page.click("#signup-button")
        page.wait_for_url(self.url("/"))
        expect(page.locator("#account-link")).to_have_text("quizmaster")
        expect(page.locator("#preset-hint")).to_be_visible()  # no presets yet

        page.click("text=My presets")
        page.click("#new-preset-weirsoe")
        page.fill("#id_name", "Friday night")
        page.fill("#id_rounds", "2")
        page.fill("#id_lie_time_limit", "25")
        page.uncheck("#id_auto_advance")
        self.assert_fits(page, "preset form at 1920")
        page.click("#save-preset")
        preset = self.django(lambda: Preset.objects.get(name="Friday night"))
        item = page.locator(f"#preset-{preset.id}")
        expect(item).to_contain_text("Friday night")
        expect(item).to_contain_text("25")
        self.shot(page, "my-presets")

        item.locator("text=Host with it").click()
        page.wait_for_url(re.compile(r"/\?game=weirsoe&preset=\d+$"))
        expect(page.locator("#preset")).to_have_value(str(preset.id))
        expect(page.locator("#rounds")).to_have_value("2")
        expect(page.locator("#lie_time_limit")).to_have_value("25")
        expect(page.locator("#auto_advance")).not_to_be_checked()
        page.fill("#guess_time_limit", "40")  # changed here: overrides the preset
        self.shot(page, "home-with-preset")
        page.click("#create-button")
        page.wait_for_url(re.compile(r"/host/[A-Z]{4}/$"))
        code = page.url.rstrip("/").rsplit("/", 1)[1]
        expect(self.status(page)).to_have_attribute("data-status", "connected")
        session = self.django(lambda: GameSession.objects.get(code=code))
        self.assertEqual(
            session.settings,
            {
                "rounds": 2,
                "lie_time_limit": 25,
                "guess_time_limit": 40,
                "auto_advance": False,
                "packs": [],
                "categories": [],
            },
        )
        self.assertFalse(session.auto_advance)

        # Someone else's phone: no preset in its home page, 404 once signed in elsewhere.
        other = self.new_page("other", PHONE)
        other.goto(self.url("/"))
        expect(other.locator("#sign-in-link")).to_be_visible()
        self.assertNotIn("Friday night", other.content())
        self.assert_fits(other, "home at 360")
        other.goto(self.url(f"/presets/{preset.id}/"))
        expect(other.locator("h1")).to_have_text("Sign in")  # guests sign in first
        self.assert_no_page_errors()
