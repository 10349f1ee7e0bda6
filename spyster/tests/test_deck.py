"""The location deck as data: the shipped file, checks of a bad file, and
bringing the database in step with a file (manage.py loadlocations)."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

from django.core.management import CommandError, call_command
from django.test import TestCase

from spyster import deck
from spyster.models import Deck, Location


def deck_file(content) -> Path:
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    with handle:
        handle.write(content if isinstance(content, str) else json.dumps(content))
    return Path(handle.name)


class DeckFileTests(TestCase):
    def test_the_shipped_deck(self):
        shipped = deck.load_deck()
        self.assertGreaterEqual(len(shipped["locations"]), 20)
        for entry in shipped["locations"]:
            self.assertGreaterEqual(len(entry["roles"]), 6, entry["name"])
            self.assertEqual(len(set(entry["roles"])), len(entry["roles"]), entry["name"])

    def test_bad_files_name_the_line_and_the_problem(self):
        good = {
            "name": "Mine",
            "locations": [{"name": "A", "roles": ["x"]}, {"name": "B", "roles": ["y"]}],
        }
        cases = {
            "not json": "{",
            "an object with a 'name'": {"locations": good["locations"]},
            "needs at least 2 location": {"name": "Mine", "locations": good["locations"][:1]},
            "'name' is missing": {
                "name": "Mine",
                "locations": [good["locations"][0], {"roles": ["z"]}],
            },
            "the same location as line": {
                "name": "Mine",
                "locations": [good["locations"][0], {"name": " a ", "roles": ["z"]}],
            },
            "'roles' needs at least one entry": {
                "name": "Mine",
                "locations": [good["locations"][0], {"name": "C", "roles": []}],
            },
            "is longer than 40": {
                "name": "Mine",
                "locations": [good["locations"][0], {"name": "C", "roles": ["x" * 41]}],
            },
        }
        for problem, content in cases.items():
            with self.subTest(problem=problem):
                path = deck_file(content)
                self.addCleanup(path.unlink)
                with self.assertRaises(ValueError) as caught:
                    deck.load_deck(path)
                if problem != "not json":
                    self.assertIn(problem, str(caught.exception))
                with self.assertRaises(CommandError):
                    call_command("loadlocations", file=path, stdout=io.StringIO())

    def test_loading_adds_new_locations_and_updates_roles(self):
        path = deck_file(
            {
                "name": "Home",
                "locations": [
                    {"name": "Attic", "roles": ["Ghost"]},
                    {"name": "Cellar", "roles": ["Cat"]},
                ],
            }
        )
        self.addCleanup(path.unlink)
        call_command("loadlocations", file=path, stdout=io.StringIO())
        home = Deck.objects.get(name="Home")
        self.assertFalse(home.builtin)
        self.assertEqual(
            list(home.locations.values_list("name", "roles")),
            [("Attic", ["Ghost"]), ("Cellar", ["Cat"])],
        )
        path.write_text(
            json.dumps(
                {
                    "name": "Home",
                    "locations": [
                        {"name": "Attic", "roles": ["Ghost", "Bat"]},
                        {"name": "Garden", "roles": ["Gnome"]},
                    ],
                }
            )
        )
        added = deck.sync_deck(Deck, Location, deck.load_deck(path), builtin=False)
        self.assertEqual(added, 1)
        # Cellar stays (past rounds may point at it); Attic has its new roles.
        self.assertEqual(Location.objects.get(deck=home, name="Attic").roles, ["Ghost", "Bat"])
        self.assertEqual(home.locations.count(), 3)
        # The built-in deck is still the one sessions draw from.
        self.assertEqual(Deck.objects.filter(builtin=True).count(), 1)
