"""A whole Spyster game in Chromium: the big screen and four phones.

Three rounds, one per way a round ends: an accusation that catches the spy,
the spy naming the location, and (after an accusation that fails) the
clock running out and the final vote; then game over with the awards. The
secret cards are checked face down and face up on every phone, after a
reload, and never on the big screen. Against Daphne, and against the C
sidecar with its inbound worker (the phones act over the socket).
Screenshots of each phase land in test-artifacts/browser/.
"""

from __future__ import annotations

import re
import unittest

from lobby.models import Player
from tests.browser_support import (
    BIG_SCREEN,
    PHONE,
    BrowserTestCase,
    daphne_server,
    sidecar_server,
    sidecar_unavailable,
)

from .support import run_deadline, secrets_of

try:
    from playwright.sync_api import expect
except ImportError:  # the browser tests skip themselves, saying why
    expect = None

NAMES = ("Ana", "Bo", "Cy", "Dee")


class WholeGame:
    """Host + 4 players, three rounds, every phase."""

    def create_game(self):
        host = self.new_page("host", BIG_SCREEN)
        host.goto(self.url("/"))
        host.check("#game-spyster")
        expect(host.locator("#game-heading")).to_have_text("Spyster")
        expect(host.locator("#round_minutes")).to_have_value("8")
        host.fill("#rounds", "3")
        self.shot(host, "home-spyster")
        host.click("#create-button")
        host.wait_for_url(re.compile(r"/host/[A-Z]{4}/$"))
        code = host.url.rstrip("/").rsplit("/", 1)[1]
        expect(self.status(host)).to_have_attribute("data-status", "connected")
        expect(host.locator("#phase-title")).to_have_text("Waiting for players")
        return host, code

    def join(self, code: str, name: str):
        page = self.new_page(name, PHONE)
        page.goto(self.url(f"/play/{code}/"))
        page.fill("#name", name)
        page.click("#join-button")
        expect(self.status(page)).to_have_attribute("data-status", "connected")
        expect(page.locator("#lobby-players li", has_text=name)).to_be_visible()
        return page

    def shoot_all(self, host, players, phase: str) -> None:
        self.shot(host, f"host-{phase}")
        self.assert_fits(host, f"host in {phase}")
        for name, page in players.items():
            self.assert_fits(page, f"{name} in {phase}")

    # -- the secret cards --------------------------------------------------------

    def check_cards(self, host, players, ids, secrets, label: str) -> None:
        """Every card face down, then face up with the right secret; none on the big screen."""
        spy_name = next(n for n, pid in ids.items() if pid == secrets["spy"])
        for page in players.values():
            expect(page.locator("#phase-title")).to_have_text("Who is the spy?")
            expect(page.locator("#card-face")).to_be_hidden()
            expect(page.locator("#secret-hint")).to_have_text("Tap to see your secret card")
            expect(page.locator("#guess-open")).to_be_hidden()
        # Face down, every phone shows the same thing (the spy's too).
        faces = {n: p.locator("[data-phase=round]").inner_text() for n, p in players.items()}
        faces = {
            n: re.sub(r".* asks the first question\.|You ask the first question\.", "", t)
            for n, t in faces.items()
        }
        self.assertEqual(len(set(faces.values())), 1, faces)
        self.shot(players[spy_name], f"{label}-spy-card-down")
        for name, page in players.items():
            page.click("#secret-card")
            expect(page.locator("#card-face")).to_be_visible()
            if name == spy_name:
                expect(page.locator("#card-location")).to_have_text("You are the spy")
                expect(page.locator("#guess-open")).to_be_visible()
            else:
                expect(page.locator("#card-location")).to_have_text(secrets["location"])
                expect(page.locator("#card-role")).to_have_text(
                    f"You are: {secrets['roles'][ids[name]]}"
                )
        self.shot(players[spy_name], f"{label}-spy-card-up")
        innocent = next(n for n in players if n != spy_name)
        self.shot(players[innocent], f"{label}-{innocent.lower()}-card-up")
        for page in players.values():
            page.click("#secret-card")
            expect(page.locator("#card-face")).to_be_hidden()
        text = host.locator("main").inner_text()
        # The possible locations are public, and a role may be part of one
        # (a Dentist at the Dentist's Office): look past them.
        for location in host.evaluate("() => partyhub.state.locations"):
            text = text.replace(location, "")
        # Whole words: a short role may be letters of the game's code ("DJ" in SRDJ).
        for role in secrets["all_roles"]:
            self.assertNotRegex(text, rf"\b{re.escape(role)}\b")
        self.assertNotIn("You are the spy", text)

    def start_round(self, host, players, code, number):
        host.click("#btn-start-round")
        expect(host.locator("#round-label")).to_have_text(f"Round {number} of 3")
        expect(host.locator("#phase-title")).to_have_text("Who is the spy?")
        expect(host.locator("#countdown")).to_have_text(re.compile(r"^[78]:\d\d$"))
        expect(host.locator("#host-locations li")).to_have_count(28)
        secrets = self.django(secrets_of, code)
        for page in players.values():
            expect(page.locator("#locations li")).to_have_count(28)
            expect(page.locator("#countdown")).to_be_visible()
        return secrets

    # -- acting on the phones --------------------------------------------------------

    def accuse(self, page, accused: str):
        page.click("#accuse-open")
        page.locator("#accuse-choices button", has_text=accused).click()
        expect(page.locator("#confirm-text")).to_contain_text(f"Accuse {accused}")
        page.click("#confirm-yes")

    def expect_result(self, host, players, spy_name, location, headline, mine):
        expect(host.locator("#phase-title")).to_have_text(re.compile(r"^Scoreboard"))
        expect(host.locator("#result-headline")).to_contain_text(f"The spy was {spy_name}.")
        expect(host.locator("#result-headline")).to_contain_text(headline)
        expect(host.locator("#result-location")).to_have_text(location)
        expect(host.locator("#result-roles li")).to_have_count(4)
        expect(host.locator("#result-roles li.spy-row")).to_contain_text(spy_name)
        for name, page in players.items():
            expect(page.locator("#result-location")).to_have_text(location)
            expect(page.locator("#result-headline")).to_contain_text(mine[name])

    def test_whole_game(self):
        host, code = self.create_game()
        players = {name: self.join(code, name) for name in NAMES}
        expect(host.locator("#players li")).to_have_count(4)
        ids = {name: self.django(self.player_id, code, name) for name in NAMES}
        self.shoot_all(host, players, "lobby")
        self.shot(players["Ana"], "ana-lobby")

        # Round 1: an accusation catches the spy.
        secrets = self.start_round(host, players, code, 1)
        self.check_cards(host, players, ids, secrets, "r1")
        self.shoot_all(host, players, "r1-playing")
        spy = next(n for n, pid in ids.items() if pid == secrets["spy"])
        accuser, *voters = [n for n in NAMES if n != spy]
        self.shot(players[accuser], "r1-accuser-before")
        self.accuse(players[accuser], spy)
        expect(host.locator("#phase-title")).to_have_text("Accusation!")
        expect(host.locator("#vote-accused")).to_have_text(spy)
        expect(host.locator("#vote-voters li")).to_have_count(3)
        expect(host.locator("#vote-voters li.done")).to_have_count(1)
        expect(players[spy].locator("#vote-question")).to_contain_text("accuses you!")
        expect(players[spy].locator("#vote-buttons")).to_be_hidden()
        expect(players[accuser].locator("#vote-status")).to_contain_text("counts as a yes")
        self.shoot_all(host, players, "r1-vote")
        self.shot(players[voters[0]], "r1-voter")
        for name in voters:
            players[name].click("#vote-yes")
            if name != voters[-1]:
                expect(players[name].locator("#vote-status")).to_contain_text("You voted yes")
        mine = {n: "You lose the round." if n == spy else "You win the round!" for n in NAMES}
        self.expect_result(host, players, spy, secrets["location"], "caught", mine)
        scores = {n: (0 if n == spy else 200 if n == accuser else 100) for n in NAMES}
        for name, page in players.items():
            expect(page.locator("#me-score")).to_have_text(f"{scores[name]:,}")
        self.shoot_all(host, players, "r1-scoreboard")
        self.shot(players[spy], "r1-spy-result")

        # Round 2: a reload keeps the card; the spy names the location.
        secrets = self.start_round(host, players, code, 2)
        spy = next(n for n, pid in ids.items() if pid == secrets["spy"])
        innocent = next(n for n in NAMES if n != spy)
        for name in (spy, innocent):
            players[name].reload()
            expect(self.status(players[name])).to_have_attribute("data-status", "connected")
            players[name].click("#secret-card")
            expected = "You are the spy" if name == spy else secrets["location"]
            expect(players[name].locator("#card-location")).to_have_text(expected)
        self.shot(players[innocent], "r2-reloaded-card-up")
        players[innocent].click("#secret-card")
        # Crossing off is for everyone, and changes nothing for the others.
        first = players[innocent].locator("#locations button").first
        first.click()
        expect(first).to_have_class(re.compile("crossed"))
        expect(players[spy].locator("#locations button.crossed")).to_have_count(0)
        players[spy].click("#guess-open")
        expect(players[spy].locator("#locations-hint")).to_contain_text(
            "Tap the location you think it is"
        )
        self.shot(players[spy], "r2-spy-guessing")
        players[spy].locator(
            "#locations button", has_text=re.compile(f"^{re.escape(secrets['location'])}$")
        ).click()
        expect(players[spy].locator("#confirm-text")).to_contain_text(secrets["location"])
        self.shot(players[spy], "r2-spy-confirm")
        players[spy].click("#confirm-yes")
        mine = {n: "You win the round!" if n == spy else "You lose the round." for n in NAMES}
        self.expect_result(host, players, spy, secrets["location"], "The spy wins!", mine)
        expect(host.locator("#result-how")).to_contain_text("named the location")
        scores[spy] += 400
        self.shoot_all(host, players, "r2-scoreboard")

        # Round 3: an accusation fails, the clock runs out, the final vote.
        secrets = self.start_round(host, players, code, 3)
        spy = next(n for n, pid in ids.items() if pid == secrets["spy"])
        accuser, innocent, naysayer = [n for n in NAMES if n != spy]
        self.accuse(players[accuser], innocent)
        expect(players[naysayer].locator("#vote-buttons")).to_be_visible()
        players[naysayer].click("#vote-no")
        expect(host.locator("#phase-title")).to_have_text("Who is the spy?")
        expect(host.locator("#last-vote")).to_contain_text(f"{naysayer} said no")
        expect(players[accuser].locator("#accuse-open")).to_have_text(
            "You have made your accusation"
        )
        self.assertTrue(self.django(run_deadline, code))  # the round's clock runs out
        expect(host.locator("#phase-title")).to_have_text("The final vote")
        for page in players.values():
            expect(page.locator("#final-choices button")).to_have_count(3)
        self.shoot_all(host, players, "r3-final-vote")
        self.shot(players[accuser], "r3-final-vote-phone")
        for name in (accuser, innocent, naysayer):
            players[name].locator("#final-choices button", has_text=spy).click()
            players[name].click("#confirm-yes")
            expect(players[name].locator("#final-status")).to_contain_text(f"You named {spy}")
        expect(host.locator("#final-progress")).to_have_text("3 of 4 have voted")
        players[spy].locator("#final-choices button", has_text=innocent).click()
        players[spy].click("#confirm-yes")
        mine = {n: "You lose the round." if n == spy else "You win the round!" for n in NAMES}
        self.expect_result(host, players, spy, secrets["location"], "caught", mine)
        expect(host.locator("#result-how")).to_contain_text("majority named")
        for name in NAMES:
            if name != spy:
                scores[name] += 100
        self.shoot_all(host, players, "r3-scoreboard")

        host.click("#btn-finish")
        expect(host.locator("#phase-title")).to_have_text("Final ranking")
        expect(host.locator("#awards li", has_text="Master spy")).to_be_visible()
        rows = host.locator("#final-table tbody tr")
        expect(rows).to_have_count(4)
        best = max(scores.values())
        expect(host.locator("#winner")).to_contain_text(f"{best:,} points")
        for name, page in players.items():
            expect(page.locator("#me-score")).to_have_text(f"{scores[name]:,}")
            expect(page.locator("#final-place")).not_to_be_empty()
        self.shoot_all(host, players, "finished")
        self.shot(players["Ana"], "ana-finished")
        for page in (host, *players.values()):
            self.assertEqual(self.metrics(page)["gaps"], 0)
        self.assert_no_page_errors()

    @staticmethod
    def player_id(code: str, name: str) -> int:
        return Player.objects.get(session__code=code, name=name).id


class WholeGameDaphneTests(WholeGame, BrowserTestCase):
    server_factory = staticmethod(daphne_server)


@unittest.skipIf(sidecar_unavailable(), str(sidecar_unavailable()))
class WholeGameSidecarTests(WholeGame, BrowserTestCase):
    server_factory = staticmethod(sidecar_server)
