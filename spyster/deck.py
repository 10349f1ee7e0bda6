"""Location decks: what a deck file looks like (for uploads and for the
built-in deck, spyster/data/locations.json, written by us), keeping the
built-in deck in step with its file, and the deck a session draws from."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lobby import packs
from lobby.driver import Column, Packs
from lobby.errors import conflict
from lobby.models import GameSession

from . import rules
from .models import Deck, Location

DECK_PATH = Path(__file__).resolve().parent / "data" / "locations.json"
MIN_LOCATIONS = 2

# A row of a deck file: CSV with the header `name,roles` (the roles in one
# cell, separated by ";"), or JSON objects {"name", "roles": [...]} (a list,
# or {"name": <the deck's>, "locations": [...]}).
PACKS = Packs(
    model="spyster.Deck",
    item_model="spyster.Location",
    label=_("location deck"),
    item_label=_("location"),
    items_key="locations",
    columns=(Column("name", rules.NAME_MAX), Column("roles", rules.NAME_MAX, many=True)),
    min_items=MIN_LOCATIONS,
    key=rules.normalize,
)


def load_deck(path: Path = DECK_PATH) -> dict:
    """Read and check a deck file: {"name", "locations": [{"name", "roles": [...]}]}.

    ValueError names every problem with its line (lobby.packs).
    """
    try:
        name, locations = packs.read(PACKS, path.read_bytes(), path.name, limited=False)
    except packs.PackError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if not name:
        raise ValueError(f"{path}: a deck file is an object with a 'name' and its 'locations'")
    return {"name": packs.clean_text(name), "locations": locations}


def sync_deck(deck_model, location_model, deck: dict, builtin: bool = True) -> int:
    """Create the deck or bring it in step with `deck` (checked by load_deck);
    return how many locations were added. Locations no longer in the file are
    kept (past rounds refer to them). A deck that is not built in is an
    admin's: it has no owner, and an admin publishes it."""
    lookup = {"name": deck["name"], "builtin": builtin}
    if not builtin:
        lookup["owner"] = None  # (the migration that loads the built-in deck predates owners)
    row = deck_model.objects.filter(**lookup).order_by("id").first()
    row = row or deck_model.objects.create(**lookup)
    existing = {loc.name: loc for loc in location_model.objects.filter(deck=row)}
    added = 0
    for entry in deck["locations"]:
        name, roles = entry["name"], entry["roles"]
        current = existing.get(name)
        if current is None:
            location_model.objects.create(deck=row, name=name, roles=roles)
            added += 1
        elif current.roles != roles:
            location_model.objects.filter(pk=current.pk).update(roles=roles)
    return added


def deck_of(session: GameSession) -> Deck | None:
    """The deck a session draws from: the one its settings name (checked at
    create; a deck deleted since still serves the games that use it), else
    the built-in one; None when the database holds none (not migrated)."""
    decks = Deck.objects.all()
    deck_id = session.settings.get("deck")
    deck = decks.filter(id=deck_id).first() if deck_id else None
    return deck or decks.filter(builtin=True).order_by("id").first()


def locations(session: GameSession) -> list[Location]:
    """Every location of the session's deck, by name; 409 NO_DECK without one."""
    deck = deck_of(session)
    if deck is None:
        raise conflict("NO_DECK", gettext("There is no location deck: run `manage.py migrate`."))
    return list(deck.locations.order_by("name"))


def location_names(session: GameSession) -> list[str]:
    """The names of the session's locations (public: the same list for all)."""
    deck = deck_of(session)
    return list(deck.locations.order_by("name").values_list("name", flat=True)) if deck else []
