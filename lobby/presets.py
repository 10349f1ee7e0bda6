"""Presets: a signed-in host's named settings for one game, kept across games.

A preset is a lobby.models.Preset (owner, game, name) and one row of the
game's preset model (GameDriver.preset_model). A game makes that model with
lobby.models.preset_columns(SETTINGS): a column per setting of its settings table
(null: the setting's default, so a setting added later needs no data
migration), to which it adds one field per option (packs, categories, a
deck). No platform change is needed for a new game's presets.

Saving a preset validates its settings exactly as creating a game does
(lobby.services.parse_settings, with the owner's packs); creating a game
from one validates them again, since a pack may have gone since. A preset
is its owner's alone: for anyone else it does not exist (404).
"""

from __future__ import annotations

from django.conf import settings as django_settings
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import registry, services
from . import text as user_text
from .driver import GameDriver
from .errors import GameError, bad_request, conflict
from .models import GamePreset, Preset

NAME_MAX = Preset._meta.get_field("name").max_length


def check_model(driver: GameDriver) -> None:
    """ValueError unless the game's preset model has a field per setting and option."""
    model = driver.preset_model
    if model is None:
        return
    if not issubclass(model, GamePreset):
        raise ValueError(f"game {driver.name!r}: preset_model must come from preset_columns()")
    fields = {f.name for f in model._meta.get_fields()}
    wanted = [s.name for s in driver.settings] + [o.name for o in driver.options]
    missing = [name for name in wanted if name not in fields]
    if missing:
        raise ValueError(f"game {driver.name!r}: its preset model lacks {', '.join(missing)}")


# --- reading and writing a game's row -------------------------------------------


def values(driver: GameDriver, preset: Preset) -> dict:
    """The preset's settings, every setting and option of the game present."""
    row = driver.preset_model.objects.filter(preset=preset).first()
    result = {}
    for setting in driver.settings:
        value = getattr(row, setting.name, None) if row is not None else None
        result[setting.name] = setting.default if value is None else value
    for option in driver.options:
        result[option.name] = _read_option(row, option.name) if row is not None else option.default
    return result


def _read_option(row: GamePreset, name: str):
    field = row._meta.get_field(name)
    if field.many_to_many:
        return sorted(getattr(row, name).values_list("pk", flat=True))
    if field.many_to_one:
        return getattr(row, field.attname)
    return getattr(row, name)


def _write(driver: GameDriver, preset: Preset, parsed: dict) -> None:
    model = driver.preset_model
    row = model.objects.filter(preset=preset).first() or model(preset=preset)
    many = {}
    for name, value in parsed.items():
        field = model._meta.get_field(name)
        if field.many_to_many:
            many[name] = value
        else:
            setattr(row, field.attname, value)
    row.save()
    for name, ids in many.items():
        getattr(row, name).set(ids)


# --- what the API and the pages do ---------------------------------------------------


def owned(user) -> models.QuerySet:
    """The user's presets (none for a guest)."""
    if not getattr(user, "is_authenticated", False):
        return Preset.objects.none()
    return Preset.objects.filter(owner=user)


def find(user, preset_id) -> Preset:
    """The user's preset `preset_id`; 404 PRESET_NOT_FOUND for anyone else's,
    a missing one, or an id that is no id."""
    if isinstance(preset_id, str) and preset_id.isdigit():
        preset_id = int(preset_id)
    preset = None
    if isinstance(preset_id, int) and not isinstance(preset_id, bool) and 0 < preset_id < 2**63:
        preset = owned(user).filter(id=preset_id).first()
    if preset is None:
        message = _("You have no preset %(id)s.") % {"id": repr(preset_id)}
        raise GameError(404, "PRESET_NOT_FOUND", message)
    return preset


def presets_driver(game) -> GameDriver:
    """The driver of a game that has presets; 400 otherwise."""
    driver = registry.game(game)
    if driver.preset_model is None:
        raise bad_request("NO_PRESETS", _("%(game)s has no presets.") % {"game": driver.title})
    return driver


NAME = user_text.TextRule(
    "name",
    "INVALID_NAME",
    # Translators: the subject of "%(what)s contains invisible characters." and the like.
    gettext_lazy("A preset's name"),
    NAME_MAX,
    stored=NAME_MAX,
    type_code="INVALID_NAME",
)


def clean_name(name) -> str:
    return user_text.clean(name, NAME)


def create(user, game, name, settings: dict | None) -> Preset:
    """Save a new preset (settings validated as at create; missing: defaults)."""
    driver = presets_driver(game)
    name = clean_name(name)
    limit = django_settings.PARTYHUB_PRESETS_PER_USER
    if owned(user).count() >= limit:
        message = _("You can keep at most %(limit)s presets.") % {"limit": limit}
        raise conflict("TOO_MANY_PRESETS", message)
    parsed = services.parse_settings(_settings_object(settings), driver.name, user)
    try:
        with transaction.atomic():
            preset = Preset.objects.create(owner=user, game=driver.name, name=name)
            _write(driver, preset, parsed)
    except IntegrityError:
        raise _name_taken(name) from None
    return preset


def update(user, preset: Preset, name=None, settings: dict | None = None) -> Preset:
    """Rename a preset and/or change some of its settings (the others stay)."""
    driver = presets_driver(preset.game)
    if name is not None:
        preset.name = clean_name(name)
    merged = {**values(driver, preset), **_settings_object(settings)}
    parsed = services.parse_settings(merged, driver.name, user)
    try:
        with transaction.atomic():
            preset.save()  # updated_at moves even when only settings changed
            _write(driver, preset, parsed)
    except IntegrityError:
        raise _name_taken(preset.name) from None
    return preset


def describe(preset: Preset) -> dict:
    """A preset as the API shows it to its owner."""
    driver = registry.game(preset.game)
    return {
        "id": preset.id,
        "game": preset.game,
        "name": preset.name,
        "settings": values(driver, preset),
        "created_at": preset.created_at.isoformat(),
        "updated_at": preset.updated_at.isoformat(),
    }


def session_settings(user, preset_id, game, overrides: dict) -> tuple[str, dict]:
    """The game and the settings of a game created from a preset: the
    preset's, with the call's own fields over them (validated by the caller)."""
    preset = find(user, preset_id)
    if game is not None and game != preset.game:
        message = _("Preset %(id)s is for %(game)s, not %(wanted)s.") % {
            "id": preset.id,
            "game": preset.game,
            "wanted": repr(game),
        }
        raise bad_request("PRESET_GAME_MISMATCH", message)
    driver = presets_driver(preset.game)
    return driver.name, {**values(driver, preset), **overrides}


def _settings_object(settings) -> dict:
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise bad_request("INVALID_FIELD", _("'settings' must be an object."))
    return settings


def _name_taken(name: str) -> GameError:
    message = _("You already have a preset named %(name)s for this game.") % {"name": repr(name)}
    return conflict("PRESET_NAME_TAKEN", message)
