"""Accounts (issue 19): sign-up with Django's password validators, sign-in
rate-limited, sign-out, password change and reset by email, deleting an
account with its presets and packs; every page in the platform's look."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, TestCase, override_settings

from lobby.models import Preset
from realtime import snapshot
from spyster.models import Deck
from weirsoe.models import QuestionPack

from .members import PASSWORD, Member

User = get_user_model()


def forget_login_counts() -> None:
    """The sign-in counters and rate limits live in Redis, which outlives a
    test's transaction."""
    client = snapshot.client_for_key("partyhub:login:")
    for pattern in ("partyhub:login:*", "partyhub:ratelimit:*"):
        for key in client.scan_iter(pattern):
            client.delete(key)


class Browser:
    """A client that fills forms as a person does: the CSRF token from the page.
    (From loopback, which the HTTP rate limits leave alone, unless `address`.)"""

    def __init__(self, address: str | None = None) -> None:
        extra = {"REMOTE_ADDR": address} if address else {}
        self.client = Client(enforce_csrf_checks=True, **extra)

    def submit(self, path: str, data: dict, page: str | None = None):
        self.client.get(page or path)
        token = self.client.cookies["csrftoken"].value
        return self.client.post(path, {**data, "csrfmiddlewaretoken": token})

    def sign_up(self, username: str, password: str = PASSWORD, email: str | None = None):
        email = email if email is not None else f"{username}@example.com"
        data = {"username": username, "email": email, "password1": password, "password2": password}
        return self.submit("/accounts/signup/", data)

    def sign_in(self, username: str, password: str = PASSWORD):
        return self.submit("/accounts/login/", {"username": username, "password": password})

    def signed_in_as(self) -> str | None:
        user_id = self.client.session.get("_auth_user_id")
        return User.objects.get(id=user_id).username if user_id else None


class SignUpTests(TestCase):
    def test_pages_have_the_platforms_look(self):
        for path in (
            "/accounts/signup/",
            "/accounts/login/",
            "/accounts/password/reset/",
            "/accounts/password/reset/sent/",
            "/accounts/reset/done/",
        ):
            with self.subTest(path=path):
                page = Client().get(path)
                self.assertEqual(page.status_code, 200)
                html = page.content.decode()
                self.assertIn('class="topbar"', html)
                self.assertIn("lobby/partyhub.css", html)
                self.assertIn("lobby/library.css", html)

    def test_sign_up_signs_in(self):
        browser = Browser()
        response = browser.sign_up("ana")
        self.assertEqual((response.status_code, response["Location"]), (302, "/"))
        self.assertEqual(browser.signed_in_as(), "ana")
        self.assertEqual(User.objects.get(username="ana").email, "ana@example.com")
        home = browser.client.get("/").content.decode()
        self.assertIn('id="account-link"', home)
        self.assertIn("My presets", home)
        # ?next= is honoured on this site only.
        browser = Browser()
        browser.client.get("/accounts/signup/?next=/presets/")
        token = browser.client.cookies["csrftoken"].value
        form = {
            "username": "bo",
            "email": "bo@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": "https://evil.example/",
            "csrfmiddlewaretoken": token,
        }
        self.assertEqual(browser.client.post("/accounts/signup/", form)["Location"], "/")

    def test_passwords_go_through_djangos_validators(self):
        cases = {
            "short": "Ab1!",
            "common": "password123",
            "numeric": "48201937561",
            "like the username": "carolina-the-great",
        }
        for problem, password in cases.items():
            with self.subTest(problem=problem):
                response = Browser().sign_up("carolina-the-great", password)
                self.assertEqual(response.status_code, 400)
                self.assertIn('class="field-error"', response.content.decode())
        self.assertFalse(User.objects.exists())
        response = Browser().submit(
            "/accounts/signup/",
            {"username": "dee", "email": "d@example.com", "password1": PASSWORD, "password2": "x"},
        )
        self.assertEqual(response.status_code, 400)

    def test_usernames_and_emails_are_taken_once(self):
        self.assertEqual(Browser().sign_up("ana").status_code, 302)
        self.assertEqual(Browser().sign_up("ana", email="other@example.com").status_code, 400)
        self.assertEqual(Browser().sign_up("ana2", email="ANA@example.com").status_code, 400)
        self.assertEqual(Browser().sign_up("ana3", email="").status_code, 400)
        self.assertEqual(User.objects.count(), 1)

    def test_sign_in_and_out(self):
        User.objects.create_user("ana", "ana@example.com", PASSWORD)
        browser = Browser()
        self.assertEqual(browser.sign_in("ana", "wrong").status_code, 400)
        self.assertIsNone(browser.signed_in_as())
        self.assertEqual(browser.sign_in("ana").status_code, 302)
        self.assertEqual(browser.signed_in_as(), "ana")
        self.assertEqual(browser.client.get("/accounts/").status_code, 200)
        # Signing out is a POST with the CSRF token (a link could be forged).
        self.assertEqual(browser.client.get("/accounts/logout/").status_code, 405)
        response = browser.submit("/accounts/logout/", {}, page="/accounts/")
        self.assertEqual(response.status_code, 302)
        self.assertIsNone(browser.signed_in_as())
        self.assertEqual(browser.client.get("/accounts/").status_code, 302)

    def tearDown(self):
        forget_login_counts()


class SignInLimitTests(TestCase):
    def setUp(self):
        forget_login_counts()
        self.addCleanup(forget_login_counts)
        User.objects.create_user("ana", "ana@example.com", PASSWORD)
        User.objects.create_user("bo", "bo@example.com", PASSWORD)

    @override_settings(PARTYHUB_LOGIN_FAILURES=3)
    def test_failures_per_username_stop_even_the_right_password(self):
        for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):  # spread out
            self.assertEqual(Browser(address).sign_in("ana", "guess").status_code, 400)
        browser = Browser()
        response = browser.sign_in("ana")
        self.assertEqual(response.status_code, 429)
        self.assertIn("Too many failed attempts", response.content.decode())
        self.assertIsNone(browser.signed_in_as())
        self.assertEqual(Browser().sign_in("ANA ").status_code, 429)  # usernames fold case
        # Another account is not locked.
        self.assertEqual(Browser().sign_in("bo").status_code, 302)

    @override_settings(PARTYHUB_LOGIN_FAILURES=3)
    def test_a_right_password_starts_the_count_again(self):
        for _ in range(2):
            Browser().sign_in("ana", "guess")
        self.assertEqual(Browser().sign_in("ana").status_code, 302)
        for _ in range(2):
            self.assertEqual(Browser().sign_in("ana", "guess").status_code, 400)
        self.assertEqual(Browser().sign_in("ana").status_code, 302)

    @override_settings(PARTYHUB_LOGIN_FAILURES=2, PARTYHUB_LOGIN_WINDOW=0.3)
    def test_the_window_ends(self):
        for _ in range(2):
            Browser().sign_in("ana", "guess")
        self.assertEqual(Browser().sign_in("ana").status_code, 429)
        client = snapshot.client_for_key("partyhub:login:")
        keys = list(client.scan_iter("partyhub:login:user:*"))
        self.assertEqual(len(keys), 1)
        self.assertNotIn(b"ana", keys[0])  # no username in Redis
        self.assertLessEqual(client.pttl(keys[0]), 300)
        client.delete(*keys)  # as the window's end does
        self.assertEqual(Browser().sign_in("ana").status_code, 302)

    @override_settings(PARTYHUB_RATE_LIMITS={"account": "3/600"}, PARTYHUB_LOGIN_FAILURES=100)
    def test_attempts_per_address_are_an_http_rate_limit(self):
        address = "203.0.113.9"
        self.assertEqual(Browser(address).sign_in("x1", "guess").status_code, 400)
        self.assertEqual(Browser(address).sign_up("carl").status_code, 302)
        self.assertEqual(
            Browser(address).submit("/accounts/password/reset/", {"email": "a@example.com"})[
                "Location"
            ],
            "/accounts/password/reset/sent/",
        )
        response = Browser(address).sign_in("bo")  # the right password, too late
        self.assertEqual(response.status_code, 429)
        self.assertTrue(1 <= int(response["Retry-After"]) <= 200)
        self.assertContains(response, "Too many tries", status_code=429)
        self.assertContains(response, 'class="topbar"', status_code=429)  # a page, not JSON
        self.assertEqual(
            Browser(address).submit("/accounts/password/reset/", {"email": "a@b.c"}).status_code,
            429,
        )
        # Other addresses, and games from this one, go on.
        self.assertEqual(Browser("203.0.113.10").sign_in("bo").status_code, 302)
        game = Client(REMOTE_ADDR=address).post(
            "/api/sessions/", "{}", content_type="application/json"
        )
        self.assertEqual(game.status_code, 201)


class PasswordTests(TestCase):
    def setUp(self):
        forget_login_counts()
        self.addCleanup(forget_login_counts)

    def test_change(self):
        User.objects.create_user("ana", "ana@example.com", PASSWORD)
        browser = Browser()
        browser.sign_in("ana")
        new = "a brand new passphrase 42"
        response = browser.submit(
            "/accounts/password/change/",
            {"old_password": "wrong", "new_password1": new, "new_password2": new},
        )
        self.assertEqual(response.status_code, 200)  # the form again, with its error
        self.assertIn("field-error", response.content.decode())
        response = browser.submit(
            "/accounts/password/change/",
            {"old_password": PASSWORD, "new_password1": "123", "new_password2": "123"},
        )
        self.assertIn("field-error", response.content.decode())
        response = browser.submit(
            "/accounts/password/change/",
            {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        )
        self.assertEqual(response["Location"], "/accounts/password/change/done/")
        self.assertEqual(browser.signed_in_as(), "ana")  # still signed in
        self.assertEqual(Browser().sign_in("ana", new).status_code, 302)

    def test_reset_by_email(self):
        User.objects.create_user("ana", "ana@example.com", PASSWORD)
        browser = Browser()
        response = browser.submit("/accounts/password/reset/", {"email": "ana@example.com"})
        self.assertEqual(response["Location"], "/accounts/password/reset/sent/")
        # Unknown emails get the same answer and no email.
        response = browser.submit("/accounts/password/reset/", {"email": "nobody@example.com"})
        self.assertEqual(response["Location"], "/accounts/password/reset/sent/")
        self.assertEqual(len(mail.outbox), 1)
        message = mail.outbox[0]
        self.assertEqual(message.to, ["ana@example.com"])
        self.assertIn("ana", message.body)
        link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", message.body).group(1)
        page = browser.client.get(link, follow=True)
        self.assertIn("Choose a new password", page.content.decode())
        form_url = page.redirect_chain[-1][0]
        new = "reset and remembered 77"
        response = browser.submit(
            form_url, {"new_password1": new, "new_password2": new}, page=form_url
        )
        self.assertEqual(response["Location"], "/accounts/reset/done/")
        self.assertEqual(Browser().sign_in("ana", new).status_code, 302)
        # The link works once.
        again = Client().get(link, follow=True).content.decode()
        self.assertIn("This link does not work", again)


class DeleteAccountTests(TestCase):
    def test_deleting_the_account_takes_its_presets_and_packs(self):
        member = Member("ana")
        member.preset("weirsoe", "Friday")
        member.preset("spyster", "Spies")
        member.pack("weirsoe", "q.csv", "prompt,answer\nWho?,me\n")
        member.pack("spyster", "d.csv", "name,roles\nAttic,Ghost;Bat\nCellar,Cat\n")
        other = Member("bo")
        kept = other.preset("weirsoe", "Bo's")
        wrong = member.page("/accounts/delete/", {"password": "not it"})
        self.assertEqual(wrong.status_code, 400)
        self.assertTrue(User.objects.filter(username="ana").exists())
        done = member.page("/accounts/delete/", {"password": PASSWORD})
        self.assertEqual(done.status_code, 200)
        self.assertIn("Your account is deleted", done.content.decode())
        self.assertFalse(User.objects.filter(username="ana").exists())
        self.assertEqual(member.client.get("/accounts/").status_code, 302)  # signed out
        self.assertEqual(list(Preset.objects.values_list("id", flat=True)), [kept])
        self.assertFalse(QuestionPack.objects.filter(builtin=False).exists())
        self.assertFalse(Deck.objects.filter(builtin=False).exists())


class CsrfPageTests(TestCase):
    def test_a_form_without_its_token_gets_a_page_that_says_what_to_do(self):
        client = Client(enforce_csrf_checks=True)
        response = client.post("/accounts/login/", {"username": "a", "password": "b"})
        self.assertEqual(response.status_code, 403)
        self.assertContains(response, "Please try again", status_code=403)
        self.assertContains(response, 'class="topbar"', status_code=403)
        response = client.delete("/api/presets/1/")
        self.assertEqual(response.status_code, 404)  # a guest owns nothing: no CSRF to check
        response = client.post("/api/sessions/ABCD/")
        self.assertEqual(response.json()["error"]["code"], "METHOD_NOT_ALLOWED")
