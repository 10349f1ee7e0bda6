"""A game's options (lobby.driver.Option): checked when a game is created and
when a preset is saved, and offered to a user by the forms."""

from __future__ import annotations

from django.utils.translation import gettext as _

from . import packs
from .driver import PACK, PACKS, TAGS, GameDriver, Option
from .errors import bad_request


def parse(driver: GameDriver, option: Option, value, user) -> int | list | None:
    """The stored value of `option`: pack ids the user may use (404
    PACK_NOT_FOUND for any other), or names among the option's choices."""
    if option.kind == PACK:
        if value is None:
            return None
        return packs.find(packs.usable(driver.packs, user), driver.packs, value).id
    if not isinstance(value, list):
        message = _("%(field)s must be a list.") % {"field": repr(option.name)}
        raise bad_request("INVALID_FIELD", message)
    if len(value) > option.max_items:
        message = _("%(field)s has at most %(most)s entries.") % {
            "field": repr(option.name),
            "most": option.max_items,
        }
        raise bad_request("INVALID_FIELD", message)
    if option.kind == PACKS:
        ids = sorted({_pack_id(driver, v) for v in value})
        found = set(
            packs.usable(driver.packs, user).filter(id__in=ids).values_list("id", flat=True)
        )
        for pack_id in ids:
            if pack_id not in found:
                raise packs.not_found(driver.packs, pack_id)
        return ids
    if not all(isinstance(v, str) for v in value):
        message = _("%(field)s must be a list of names.") % {"field": repr(option.name)}
        raise bad_request("INVALID_FIELD", message)
    allowed = set(option.choices(user)) if option.choices else set()
    unknown = [v for v in value if v not in allowed]
    if unknown:
        message = _("%(value)s is not one of the choices of “%(option)s”.") % {
            "value": repr(unknown[0][:40]),
            "option": option.label,
        }
        raise bad_request("UNKNOWN_CHOICE", message)
    return sorted(set(value))


def _pack_id(driver: GameDriver, value) -> int:
    pack_id = packs.pack_id(value)
    if pack_id is None:
        raise packs.not_found(driver.packs, value)
    return pack_id


def pack_ids(driver: GameDriver, settings: dict) -> list[int]:
    """Every pack a game's settings name."""
    ids: list[int] = []
    for option in driver.options:
        value = settings.get(option.name)
        if option.kind == PACK and value is not None:
            ids.append(value)
        elif option.kind == PACKS:
            ids += value or []
    return ids


def choices(driver: GameDriver, option: Option, user) -> list[dict]:
    """What a form offers `user` for the option: packs they may use, or names."""
    if option.kind in (PACK, PACKS):
        rows = packs.usable(driver.packs, user).order_by("-builtin", "name", "id")
        user_id = getattr(user, "id", None)
        return [
            {
                "value": p.id,
                "label": p.name,
                "builtin": p.builtin,
                "mine": user_id is not None and p.owner_id == user_id,
            }
            for p in rows
        ]
    assert option.kind == TAGS
    return [
        {"value": name, "label": name} for name in (option.choices(user) if option.choices else [])
    ]
