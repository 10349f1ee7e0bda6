"""Location decks: the built-in one (spyster/data/locations.json, written by
us), loaded and checked as data, and the deck a session draws from."""

from __future__ import annotations

import json
from pathlib import Path

from lobby.errors import conflict
from lobby.models import GameSession

from . import rules
from .models import Deck, Location

DECK_PATH = Path(__file__).resolve().parent / "data" / "locations.json"
MIN_LOCATIONS = 2
# GameSession.data key of a session's deck id (absent: the built-in deck).
SESSION_DECK = "spyster_deck"


def load_deck(path: Path = DECK_PATH) -> dict:
    """Read and check a deck file: {"name", "locations": [{"name", "roles": [...]}]}.

    ValueError names the first problem (entry index and what is wrong).
    """
    deck = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(deck, dict) or not isinstance(deck.get("name"), str) or not deck["name"]:
        raise ValueError(f"{path}: a deck is an object with a 'name'")
    locations = deck.get("locations")
    if not isinstance(locations, list) or len(locations) < MIN_LOCATIONS:
        raise ValueError(f"{path}: a deck needs at least {MIN_LOCATIONS} locations")
    seen: set[str] = set()
    for index, entry in enumerate(locations):
        where = f"{path}: location {index}"
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not 1 <= len(clean(name)) <= rules.NAME_MAX:
            raise ValueError(f"{where} needs a name of 1 to {rules.NAME_MAX} characters")
        key = rules.normalize(name)
        if key in seen:
            raise ValueError(f"{where}: {name!r} is in the deck twice")
        seen.add(key)
        roles = entry.get("roles")
        if not isinstance(roles, list) or not roles:
            raise ValueError(f"{where} ({name}) needs a list of roles")
        for role in roles:
            if not isinstance(role, str) or not 1 <= len(clean(role)) <= rules.NAME_MAX:
                raise ValueError(f"{where} ({name}): a role has 1 to {rules.NAME_MAX} characters")
    return deck


def clean(text: str) -> str:
    """A name as stored and shown: trimmed, inner spaces squeezed."""
    return " ".join(text.split())


def sync_deck(deck_model, location_model, deck: dict, builtin: bool = True) -> int:
    """Create the deck or bring it in step with `deck`; return how many
    locations were added. Locations no longer in the file are kept (past
    rounds refer to them)."""
    row, _ = deck_model.objects.get_or_create(name=deck["name"], defaults={"builtin": builtin})
    existing = {loc.name: loc for loc in location_model.objects.filter(deck=row)}
    added = 0
    for entry in deck["locations"]:
        name, roles = clean(entry["name"]), [clean(r) for r in entry["roles"]]
        current = existing.get(name)
        if current is None:
            location_model.objects.create(deck=row, name=name, roles=roles)
            added += 1
        elif current.roles != roles:
            location_model.objects.filter(pk=current.pk).update(roles=roles)
    return added


def deck_of(session: GameSession) -> Deck | None:
    """The deck a session draws from: its own (GameSession.data), else the
    built-in one; None when the database holds none (not migrated)."""
    decks = Deck.objects.all()
    deck_id = (session.data or {}).get(SESSION_DECK)
    deck = decks.filter(id=deck_id).first() if deck_id else None
    return deck or decks.filter(builtin=True).order_by("id").first()


def locations(session: GameSession) -> list[Location]:
    """Every location of the session's deck, by name; 409 NO_DECK without one."""
    deck = deck_of(session)
    if deck is None:
        raise conflict("NO_DECK", "There is no location deck: run `manage.py migrate`.")
    return list(deck.locations.order_by("name"))


def location_names(session: GameSession) -> list[str]:
    """The names of the session's locations (public: the same list for all)."""
    deck = deck_of(session)
    return list(deck.locations.order_by("name").values_list("name", flat=True)) if deck else []
