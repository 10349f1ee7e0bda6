"""The pages' server side of issue 17: the join link and its QR code, the
languages (Danish from the browser's Accept-Language, the switcher, the
scripts' catalog), and a Danish translation that covers every string.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.test import Client, TestCase, override_settings

from lobby import i18n

from .helpers import Api

# What the translation check copies: the apps with strings, and what runs them.
SOURCES = ("manage.py", "partyhub", "lobby", "realtime", "accounts", "weirsoe", "spyster", "hunch")


class DanishApi(Api):
    """A client whose browser asks for Danish."""

    def headers(self) -> dict:
        return {"HTTP_ACCEPT_LANGUAGE": "da,en;q=0.5"}


class JoinLinkTests(TestCase):
    def setUp(self):
        self.code, _ = Api().create()

    def join_url(self, client: Client | None = None, **headers) -> str:
        response = (client or self.client).get(f"/host/{self.code}/", **headers)
        self.assertEqual(response.status_code, 200)
        match = re.search(r'id="join-url" class="join-url">([^<]+)<', response.content.decode())
        return match.group(1)

    def test_the_request_origin_by_default(self):
        self.assertEqual(self.join_url(), f"http://testserver/play/{self.code}/")

    @override_settings(PARTYHUB_LAN_ADDRESS="192.168.1.20", ALLOWED_HOSTS=["*"])
    def test_the_lan_address_for_a_screen_opened_on_localhost(self):
        """Under PARTYHUB_HOST=0.0.0.0 (runparty sets the address), a big
        screen on localhost shows the LAN address, its port kept."""
        for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000"):
            self.assertEqual(
                self.join_url(HTTP_HOST=host), f"http://192.168.1.20:8000/play/{self.code}/", host
            )
        # Opened by its LAN name already: as it is.
        self.assertEqual(
            self.join_url(HTTP_HOST="partybox.local:8000"),
            f"http://partybox.local:8000/play/{self.code}/",
        )

    @override_settings(
        ALLOWED_HOSTS=["play.example.com"],
        PARTYHUB_SIDECAR={"trusted_proxies": "10.0.0.2"},
        SECURE_SSL_REDIRECT=False,
    )
    def test_the_public_origin_behind_a_trusted_proxy(self):
        forwarded = {
            "HTTP_HOST": "play.example.com",
            "HTTP_X_FORWARDED_PROTO": "https",
            "REMOTE_ADDR": "10.0.0.2",
        }
        self.assertEqual(self.join_url(**forwarded), f"https://play.example.com/play/{self.code}/")
        # The same headers from anyone else: X-Forwarded-Proto is not believed.
        forwarded["REMOTE_ADDR"] = "10.0.0.9"
        self.assertEqual(self.join_url(**forwarded), f"http://play.example.com/play/{self.code}/")

    @override_settings(PARTYHUB_PUBLIC_URL="https://party.example.org/")
    def test_a_configured_public_url_wins(self):
        self.assertEqual(self.join_url(), f"https://party.example.org/play/{self.code}/")

    def test_the_qr_code_is_inline_svg_naming_the_link(self):
        page = self.client.get(f"/host/{self.code}/").content.decode()
        svg = re.search(r'<figure class="join-qr" id="join-qr">(<svg.*?</svg>)</figure>', page)
        self.assertIsNotNone(svg)
        self.assertIn(f"<title>QR code of the join link http://testserver/play/{self.code}/", page)
        # Sized by CSS, drawn as one path: small whatever the link.
        self.assertNotIn('width="', svg.group(1).split(">", 1)[0])
        self.assertLess(len(svg.group(1)), 4000)


class LanguageTests(TestCase):
    def test_danish_when_the_browser_asks_for_it(self):
        page = self.client.get("/", HTTP_ACCEPT_LANGUAGE="da,en;q=0.5").content.decode()
        self.assertIn('<html lang="da">', page)
        self.assertIn("Deltag i et spil", page)
        self.assertIn("Alle har et hemmeligt tal", page)  # a game's pitch
        english = self.client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        self.assertIn("Join a game", english)

    def test_award_titles_in_the_page_language(self):
        """phase.game_over carries English titles (one event for everyone):
        each page's config has them in its language, by award id."""
        code, _ = Api().create(game="hunch")
        page = self.client.get(f"/host/{code}/", HTTP_ACCEPT_LANGUAGE="da")
        config = json.loads(
            re.search(
                r'id="partyhub-config" type="application/json">(.*?)</script>',
                page.content.decode(),
            ).group(1)
        )
        self.assertEqual(config["award_titles"]["bullseye"], "Plet")
        self.assertEqual(config["award_titles"]["crowd_favourite"], "Publikums favorit")

    def test_the_switcher_overrides_the_browser(self):
        response = self.client.post("/i18n/setlang/", {"language": "da", "next": "/"})
        self.assertEqual(response.status_code, 302)
        page = self.client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        self.assertIn("Deltag i et spil", page)

    def test_api_errors_in_the_page_language(self):
        """A REST error's message follows the request's language; its code
        does not. Phase names stay identifiers (humanMessage looks for 'lobby')."""
        api = Api()
        code, host = api.create(game="hunch")
        for name in ("Ana", "Bo"):
            api.join(code, name)
        api.host(code, "start-round", host)
        for method, path, token, english, danish in (
            (
                "GET",
                "/api/sessions/ZZZZ/",
                None,
                "No game with code 'ZZZZ'.",
                "Intet spil med koden 'ZZZZ'.",
            ),
            (
                "POST",
                f"/api/sessions/{code}/guess/",
                host,
                "Only a player can do this.",
                "Kun en spiller kan gøre dette.",
            ),
            (
                "POST",
                f"/api/sessions/{code}/join/",
                None,
                "The game is in phase 'guessing'; this needs 'lobby'.",
                "Spillet er i fasen 'guessing'; dette kræver 'lobby'.",
            ),
        ):
            answers = []
            for language in ("en", "da"):
                api = DanishApi() if language == "da" else Api()
                _, body = api.call(method, path, {"name": "Cy", "total": 9}, token)
                answers.append(body["error"])
            self.assertEqual([a["message"] for a in answers], [english, danish])
            self.assertEqual(answers[0]["code"], answers[1]["code"])

    def test_the_csrf_failure_page(self):
        """A form sent without its token: the site's page, in the browser's language."""
        client = Client(enforce_csrf_checks=True)
        for language, title in (("en", "Please try again"), ("da", "Prøv venligst igen")):
            page = client.post("/accounts/login/", {}, HTTP_ACCEPT_LANGUAGE=language)
            self.assertContains(page, f'<html lang="{language}">', status_code=403)
            self.assertContains(page, f'<h1 id="page-title">{title}</h1>', status_code=403)

    def test_the_scripts_catalog(self):
        catalog = self.client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="da").content.decode()
        for english, danish in (
            ("Connected", "Forbundet"),
            ("Write a lie", "Skriv en løgn"),
            ("Who is the spy?", "Hvem er spionen?"),
            ("Guess the total", "Gæt summen"),
        ):
            # The catalog is JavaScript, its strings written as JSON writes them.
            self.assertIn(f"{json.dumps(english)}: {json.dumps(danish)}", catalog)
        self.assertEqual(
            sorted(i18n.script_packages()),
            ["accounts", "hunch", "lobby", "realtime", "spyster", "weirsoe"],
        )


class TranslationCompleteTests(TestCase):
    """Every string of the pages and scripts has its Danish translation:
    makemessages on a copy of the sources finds nothing untranslated."""

    def test_danish_is_complete_and_current(self):
        if shutil.which("msgfmt") is None:
            self.fail("msgfmt not found: install gettext (`make setup` does)")
        base = Path(settings.BASE_DIR)
        with tempfile.TemporaryDirectory() as tmp:
            for name in SOURCES:
                source = base / name
                if source.is_dir():
                    shutil.copytree(
                        source, Path(tmp) / name, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy(source, tmp)
            for domain in ("django", "djangojs"):
                subprocess.run(
                    [sys.executable, "manage.py", "makemessages", "-l", "da", "-d", domain],
                    cwd=tmp,
                    check=True,
                    capture_output=True,
                )
            catalogs = sorted(Path(tmp).glob("*/locale/da/LC_MESSAGES/*.po"))
            self.assertEqual(len(catalogs), 10)
            for catalog in catalogs:
                result = subprocess.run(
                    ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(catalog)],
                    capture_output=True,
                    text=True,
                )
                name = catalog.relative_to(tmp)
                self.assertEqual(result.returncode, 0, f"{name}: {result.stderr}")
                self.assertRegex(result.stderr, r"^\d+ translated messages\.\n$", name)
