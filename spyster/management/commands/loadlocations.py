"""manage.py loadlocations: bring the built-in location deck up to date with its JSON file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from spyster.deck import DECK_PATH, load_deck, sync_deck
from spyster.models import Deck, Location


class Command(BaseCommand):
    help = "Add new locations from spyster/data/locations.json (or --file) to its deck."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=DECK_PATH)

    def handle(self, *args, file: Path, **options):
        try:
            entries = load_deck(file)
        except (OSError, ValueError) as exc:  # a missing file, bad JSON, a bad entry
            raise CommandError(str(exc)) from exc
        added = sync_deck(Deck, Location, entries, builtin=file == DECK_PATH)
        total = Location.objects.filter(deck__name=entries["name"]).count()
        self.stdout.write(f"{added} location(s) added; {total} in the deck {entries['name']!r}.")
