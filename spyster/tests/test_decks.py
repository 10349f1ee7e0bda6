"""Spyster with a user's location deck: a game with a private deck deals
and lists only its locations; anyone else cannot use it."""

from __future__ import annotations

from django.test import TestCase

from spyster.models import Location
from tests.members import Member

from .support import NAMES, SpysterApi, location_of, run_deadline, spy_of


class DeckGameTests(TestCase):
    def setUp(self):
        self.ana = Member("ana")
        deck = "name,roles\nAttic,Ghost;Bat\nCellar,Cat;Wine taster\nTree house,Child;Owl\n"
        self.deck = self.ana.pack("spyster", "home.csv", deck, name="Home")
        self.api = SpysterApi()

    def test_a_private_deck_is_all_a_game_deals(self):
        preset = self.ana.preset("spyster", "At home", rounds=3, deck=self.deck)
        status, created = self.ana.call("POST", "/api/sessions/", {"preset": preset})
        self.assertEqual(status, 201, created)
        code, host = created["code"], created["host_token"]
        tokens = {name: self.api.join(code, name) for name in NAMES}
        homes = {"Attic", "Cellar", "Tree house"}
        self.assertEqual(set(self.api.state(code)[1]["locations"]), homes)
        dealt = []
        for _ in range(3):
            self.assertEqual(self.api.host(code, "start-round", host)[0], 200)
            location = location_of(code)
            dealt.append(location)
            self.assertEqual(set(self.api.state(code)[1]["locations"]), homes)
            spy = spy_of(code)
            spy_token = next(token for pid, token in tokens.values() if pid == spy)
            # The spy names a location of this deck (the right one): the round ends.
            status, body = self.api.spy_guess(code, spy_token, location.lower())
            self.assertEqual((status, body["correct"]), (200, True), body)
            if self.api.state(code)[1]["phase"] == "scoreboard":
                continue
            run_deadline(code)
        self.assertEqual(sorted(dealt), sorted(homes))  # each once: not played yet first
        roles = {r for loc in Location.objects.filter(deck_id=self.deck) for r in loc.roles}
        self.assertEqual(roles, {"Ghost", "Bat", "Cat", "Wine taster", "Child", "Owl"})

    def test_anyone_else_cannot_use_it(self):
        bo = Member("bo")
        for body in ({"game": "spyster", "deck": self.deck}, {"game": "spyster", "deck": "1x"}):
            status, answer = bo.call("POST", "/api/sessions/", body)
            self.assertEqual((status, answer["error"]["code"]), (404, "PACK_NOT_FOUND"))
        status, created = bo.call("POST", "/api/sessions/", {"game": "spyster", "deck": None})
        self.assertEqual((status, created["settings"]["deck"]), (201, None))
        self.assertGreater(len(self.api.state(created["code"])[1]["locations"]), 20)  # built-in
