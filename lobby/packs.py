"""Packs: what a game draws from (the quiz's questions, Spyster's locations),
uploaded by users as CSV or JSON, for every game that declares `packs`
(lobby.driver.Packs).

Reading a file checks every row against the game's columns and reports each
problem with its line number; nothing is saved unless every row is good.
The file is size-limited (PARTYHUB_PACK_MAX_BYTES) and so is the number of
rows (PARTYHUB_PACK_MAX_ITEMS) and of packs per user (PARTYHUB_PACKS_PER_USER).

Who may use a pack: its owner; everyone once an admin publishes it; the
built-in packs (the game's default) everyone. For anyone else it does not
exist (404). A pack deleted while a game uses it (by its owner, with their
account, or in the admin) disappears for everyone at once and is removed
from every preset, but the games already using it keep drawing from it to
their end; the purge then deletes it (`purge_deleted`).
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import json.decoder
import json.scanner
from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import registry
from . import text as user_text
from .driver import PACK, PACKS, GameDriver, Packs
from .errors import GameError, bad_request
from .models import GameSession, Pack

MAX_REPORTED = 25  # problems listed in one answer (the count says how many more)
CSV, JSON = "csv", "json"
NAME_MAX = 60  # Pack.name


class PackError(GameError):
    """A refused upload: 400 INVALID_PACK with every problem by line."""

    def __init__(self, message: str, problems: list[dict]) -> None:
        super().__init__(400, "INVALID_PACK", message)
        self.problems = problems

    def as_json(self) -> dict:
        body = super().as_json()
        body["error"]["problems"] = self.problems[:MAX_REPORTED]
        body["error"]["problem_count"] = len(self.problems)
        return body

    def __str__(self) -> str:
        lines = [self.message] + [problem_text(p) for p in self.problems[:MAX_REPORTED]]
        return "\n".join(lines)


def problem_text(problem: dict) -> str:
    return (
        _("line %(line)s: %(problem)s") % {"line": problem["line"], "problem": problem["message"]}
        if problem["line"]
        else problem["message"]
    )


@dataclass
class Row:
    line: int  # where the row starts in the file (1-based); 0 when unknown
    fields: dict | str  # column -> raw value, or why the row has none (a problem)


# --- reading a file ---------------------------------------------------------------


def read(
    kind: Packs, data: bytes, filename: str = "", limited: bool = True
) -> tuple[str | None, list[dict]]:
    """The pack in a file: (its own name if it gives one, its items cleaned),
    or PackError listing every problem with its line. `limited`: an upload,
    held to PARTYHUB_PACK_MAX_BYTES and PARTYHUB_PACK_MAX_ITEMS (a game's
    built-in file is not)."""
    if limited and len(data) > settings.PARTYHUB_PACK_MAX_BYTES:
        raise too_large()
    text = _decode(data)
    if file_format(filename, text) == CSV:
        name, rows = None, list(_csv_rows(kind, text))
    else:
        name, rows = _json_rows(kind, text)
    return name, clean_rows(kind, rows, settings.PARTYHUB_PACK_MAX_ITEMS if limited else None)


def too_large() -> GameError:
    limit = settings.PARTYHUB_PACK_MAX_BYTES
    message = _("A pack file has at most %(kib)s KiB.") % {"kib": limit // 1024}
    return GameError(413, "PACK_TOO_LARGE", message)


def file_format(filename: str, text: str) -> str:
    """CSV or JSON: by the file's extension, else by its first character."""
    lower = filename.lower()
    if lower.endswith(".csv"):
        return CSV
    if lower.endswith(".json"):
        return JSON
    return JSON if text.lstrip()[:1] in ("[", "{") else CSV


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = {"line": line, "message": _("this is not UTF-8 text")}
        raise PackError(_("The file must be UTF-8 text (CSV or JSON)."), [problem]) from None


def _csv_rows(kind: Packs, text: str) -> Iterator[Row]:
    """Rows of a CSV file whose first row names the columns."""
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[dict] = []
    try:
        header = next(reader, None)
        if header is None:
            raise PackError(_("The file is empty."), [])
        names = [cell.strip().casefold() for cell in header]
        known = [c.name for c in kind.columns]
        for name in names:
            if name not in known:
                message = _("unknown column %(name)s (the columns: %(known)s)") % {
                    "name": repr(name),
                    "known": ", ".join(known),
                }
                problems.append({"line": 1, "message": message})
        for column in kind.columns:
            if column.required and column.name not in names:
                message = _("the column %(name)s is missing") % {"name": repr(column.name)}
                problems.append({"line": 1, "message": message})
        if len(set(names)) != len(names):
            problems.append({"line": 1, "message": _("a column is named twice")})
        if problems:
            raise PackError(_("The first row must name the columns."), problems)
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are allowed anywhere
            if len(cells) > len(names):
                message = _("this row has %(cells)s cells but there are %(columns)s columns")
                yield Row(start, message % {"cells": len(cells), "columns": len(names)})
                continue
            yield Row(start, dict(zip(names, cells, strict=False)))
    except csv.Error as exc:
        message = _("not valid CSV (%(error)s)") % {"error": exc}
        problem = {"line": reader.line_num, "message": message}
        raise PackError(_("The file is not valid CSV."), [problem]) from None


class _Object(dict):
    """A JSON object that knows on which line it started."""

    line = 0


class _LineDecoder(json.JSONDecoder):
    """json's decoder, keeping the line where each object starts.

    Why not the json module as it is: its scanners do not say where a value
    was, and a problem must name its line. json.scanner's pure-Python scanner
    calls `parse_object` for every object with its position, so we wrap that
    (the C scanner has no such hook). Slower than the C one, which is fine
    for files of PARTYHUB_PACK_MAX_BYTES.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self.newlines = [i for i, char in enumerate(text) if char == "\n"]
        self.parse_object = self._parse_object
        self.scan_once = json.scanner.py_make_scanner(self)

    def _parse_object(self, s_and_end, *args):
        obj, end = json.decoder.JSONObject(s_and_end, *args)
        found = _Object(obj)
        found.line = bisect.bisect_left(self.newlines, s_and_end[1]) + 1
        return found, end


def _json_rows(kind: Packs, text: str) -> tuple[str | None, list[Row]]:
    """(the file's name field, its rows) of a JSON list of objects or
    {"name": ..., <items_key>: [...]}."""
    try:
        data = _LineDecoder(text).decode(text)
    except json.JSONDecodeError as exc:
        message = _("not valid JSON (%(error)s)") % {"error": exc.msg}
        problem = {"line": exc.lineno, "message": message}
        raise PackError(_("The file is not valid JSON."), [problem]) from None
    except RecursionError:
        raise PackError(
            _("The file is not valid JSON."), [{"line": 0, "message": _("nested too deeply")}]
        ) from None
    name = None
    if isinstance(data, dict) and isinstance(data.get(kind.items_key), list):
        name = data.get("name") if isinstance(data.get("name"), str) else None
        data = data[kind.items_key]
    if not isinstance(data, list):
        shape = _('A JSON pack file is a list of objects, or {"name": ..., "%(key)s": [...]}.')
        raise PackError(shape % {"key": kind.items_key}, [])
    rows, line = [], 1
    for item in data:
        line = getattr(item, "line", line)
        rows.append(Row(line, item if isinstance(item, dict) else _("this entry is not an object")))
    return name, rows


# --- checking the rows --------------------------------------------------------------


def clean_text(text: str) -> str:
    """Text as stored and shown: NFKC, trimmed, inner spaces squeezed (lobby.text)."""
    return user_text.normalise(text)


def clean_rows(kind: Packs, rows: list[Row], most: int | None = None) -> list[dict]:
    """The items of `rows`, every one checked; PackError with every problem."""
    problems: list[dict] = []
    items: list[dict] = []
    seen: dict[str, int] = {}
    first = kind.columns[0].name
    for row in rows:
        if isinstance(row.fields, str):
            problems.append({"line": row.line, "message": row.fields})
            continue
        item, row_problems = _clean_row(kind, row.fields)
        if isinstance(item.get(first), str) and item[first]:
            key = kind.key(item[first])
            if key in seen:
                message = _("the same %(item)s as line %(line)s: %(text)s") % {
                    "item": kind.item_label,
                    "line": seen[key],
                    "text": repr(item[first]),
                }
                row_problems.append(message)
            seen.setdefault(key, row.line)
        problems += [{"line": row.line, "message": m} for m in row_problems]
        items.append(item)
    if most is not None and len(rows) > most:
        message = _("at most %(most)s %(item)ss per pack") % {"most": most, "item": kind.item_label}
        problems.append({"line": 0, "message": message})
    if len(rows) < kind.min_items:
        message = _("a %(pack)s needs at least %(n)s %(item)s(s)") % {
            "pack": kind.label,
            "n": kind.min_items,
            "item": kind.item_label,
        }
        problems.append({"line": 0, "message": message})
    if problems:
        message = _("%(count)s problem(s) in the file: nothing was saved.")
        raise PackError(message % {"count": len(problems)}, problems)
    return items


def _clean_row(kind: Packs, fields: dict) -> tuple[dict, list[str]]:
    item: dict = {}
    problems: list[str] = []
    known = {c.name for c in kind.columns}
    for key in fields:
        if key not in known:
            problems.append(_("unknown field %(name)s") % {"name": repr(str(key)[:40])})
    for column in kind.columns:
        raw = fields.get(column.name)
        if column.many:
            values = raw.split(";") if isinstance(raw, str) else raw
            if raw is None:
                values = []
            if not isinstance(values, list) or not all(_is_text(v) for v in values):
                problems.append(
                    _("%(column)s must be a list of texts") % {"column": repr(column.name)}
                )
                continue
            texts = [clean_text(str(v)) for v in values if clean_text(str(v))]
            odd = [why for why in map(user_text.problem, texts) if why is not None]
            if column.required and not texts:
                problems.append(
                    _("%(column)s needs at least one entry") % {"column": repr(column.name)}
                )
            if odd:
                # Translators: the subject of "%(what)s contains invisible or
                # control characters." and the like: an entry of a list column.
                entry = _("An entry of %(column)s") % {"column": repr(column.name)}
                problems.append(user_text.refusal(entry, odd[0]))
            long = [t for t in texts if len(t) > column.max_length]
            if long:
                message = _("%(column)s: %(text)s is longer than %(max)s")
                problems.append(
                    message
                    % {
                        "column": repr(column.name),
                        "text": repr(long[0][:40]),
                        "max": column.max_length,
                    }
                )
            item[column.name] = texts
            continue
        if raw is not None and not _is_text(raw):
            problems.append(_("%(column)s must be text") % {"column": repr(column.name)})
            continue
        text = clean_text(str(raw)) if raw is not None else ""
        why = user_text.problem(text) if text else None
        if column.required and not text:
            problems.append(_("%(column)s is missing") % {"column": repr(column.name)})
        elif why is not None:
            problems.append(user_text.refusal(repr(column.name), why))
        elif len(text) > column.max_length:
            message = _("%(column)s is longer than %(max)s characters")
            problems.append(message % {"column": repr(column.name), "max": column.max_length})
        item[column.name] = text
    return item, problems


def _is_text(value) -> bool:
    return isinstance(value, str) or (
        isinstance(value, int | float) and not isinstance(value, bool)
    )


NAME = user_text.TextRule(
    "name",
    "INVALID_NAME",
    # Translators: the subject of "%(what)s contains invisible characters." and the like.
    gettext_lazy("A pack's name"),
    NAME_MAX,
    stored=NAME_MAX,
    type_code="INVALID_NAME",
)


def clean_name(name) -> str:
    return user_text.clean(name, NAME)


# --- models ----------------------------------------------------------------------------


def pack_model(kind: Packs) -> type[Pack]:
    return apps.get_model(kind.model)


def item_model(kind: Packs) -> type[models.Model]:
    return apps.get_model(kind.item_model)


def item_link(kind: Packs) -> str:
    """The name of the items' ForeignKey to their pack."""
    target = pack_model(kind)
    for field in item_model(kind)._meta.get_fields():
        if field.many_to_one and field.related_model is target:
            return field.name
    raise ValueError(f"{kind.item_model} has no ForeignKey to {kind.model}")


def check_kind(driver: GameDriver) -> None:
    """ValueError unless the game's packs and pack options fit together."""
    kind = driver.packs
    where = f"game {driver.name!r}"
    if any(o.kind in (PACK, PACKS) for o in driver.options) and kind is None:
        raise ValueError(f"{where}: a pack option needs `packs`")
    if kind is None:
        return
    if not issubclass(pack_model(kind), Pack):
        raise ValueError(f"{where}: {kind.model} must subclass lobby.models.Pack")
    fields = {f.name for f in item_model(kind)._meta.get_fields()}
    missing = [c.name for c in kind.columns if c.name not in fields]
    if missing or not kind.columns:
        raise ValueError(f"{where}: {kind.item_model} lacks the column(s) {missing}")
    item_link(kind)


def kind_of(game) -> tuple[GameDriver, Packs]:
    """The driver of a game that has packs; 400 NO_PACKS otherwise."""
    driver = registry.game(game)
    if driver.packs is None:
        raise bad_request("NO_PACKS", _("%(game)s has no packs.") % {"game": driver.title})
    return driver, driver.packs


def live(kind: Packs) -> models.QuerySet:
    """Packs not deleted."""
    return pack_model(kind).objects.filter(deleted_at__isnull=True)


def usable(kind: Packs, user) -> models.QuerySet:
    """The packs `user` may play with: built-in, published, and their own."""
    anyone = Q(builtin=True) | Q(published=True)
    if getattr(user, "is_authenticated", False):
        anyone |= Q(owner=user)
    return live(kind).filter(anyone)


def owned(kind: Packs, user) -> models.QuerySet:
    if not getattr(user, "is_authenticated", False):
        return live(kind).none()
    return live(kind).filter(owner=user)


def not_found(kind: Packs, pack_id) -> GameError:
    message = _("There is no %(pack)s %(id)s for you.") % {"pack": kind.label, "id": repr(pack_id)}
    return GameError(404, "PACK_NOT_FOUND", message)


def pack_id(value) -> int | None:
    """An id from JSON or a URL, or None when it is no id."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return value
    return None


def find(queryset: models.QuerySet, kind: Packs, value) -> Pack:
    """The pack `value` among `queryset`; 404 PACK_NOT_FOUND when it is not there."""
    found = queryset.filter(id=pack_id(value)).first() if pack_id(value) else None
    if found is None:
        raise not_found(kind, value)
    return found


def lock_usable(kind: Packs, ids: list[int], user) -> None:
    """Inside a create's transaction: lock the packs a new game will use, so
    that a delete waits for it (and then sees the game using them)."""
    found = set(
        usable(kind, user).select_for_update().filter(id__in=ids).values_list("id", flat=True)
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise not_found(kind, missing[0])


def save(driver: GameDriver, owner, name: str, items: list[dict]) -> Pack:
    """Store a checked pack for `owner`."""
    kind = driver.packs
    limit = settings.PARTYHUB_PACKS_PER_USER
    if owned(kind, owner).count() >= limit:
        message = _("You can keep at most %(limit)s %(pack)ss.") % {
            "limit": limit,
            "pack": kind.label,
        }
        raise GameError(409, "TOO_MANY_PACKS", message)
    link = item_link(kind)
    items_model = item_model(kind)
    with transaction.atomic():
        pack = pack_model(kind).objects.create(name=clean_name(name), owner=owner)
        items_model.objects.bulk_create(items_model(**{link: pack}, **item) for item in items)
    return pack


def upload(driver: GameDriver, owner, file, name: str = "") -> Pack:
    """Read an uploaded file (a Django UploadedFile, read no further than one
    byte past the limit) and keep it as `owner`'s pack, named `name`, else
    the name in the file, else the file's name."""
    data = file.read(settings.PARTYHUB_PACK_MAX_BYTES + 1)
    file_name, items = read(driver.packs, data, file.name or "")
    stem = (file.name or "").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return save(driver, owner, name or file_name or stem or "pack", items)


def items_of(kind: Packs, pack: Pack) -> models.QuerySet:
    columns = [c.name for c in kind.columns]
    return (
        item_model(kind).objects.filter(**{item_link(kind): pack}).order_by("id").values(*columns)
    )


def describe(driver: GameDriver, pack: Pack, user, with_items: bool = False) -> dict:
    """A pack as the API shows it; its items only to its owner."""
    kind = driver.packs
    body = {
        "id": pack.id,
        "game": driver.name,
        "name": pack.name,
        "count": items_of(kind, pack).count(),
        "builtin": pack.builtin,
        "published": pack.published,
        "mine": pack.owner_id is not None and pack.owner_id == getattr(user, "id", None),
        "created_at": pack.created_at.isoformat(),
    }
    if with_items and body["mine"]:
        body["items"] = list(items_of(kind, pack))
    return body


# --- deleting ------------------------------------------------------------------------------


def pack_options(driver: GameDriver) -> list[str]:
    return [o.name for o in driver.options if o.kind in (PACK, PACKS)]


def in_use(driver: GameDriver, pack: Pack) -> bool:
    """Whether a session not yet purged was created with the pack."""
    names = pack_options(driver)
    sessions = GameSession.objects.filter(game=driver.name).values_list("settings", flat=True)
    for chosen in sessions.iterator():
        for name in names:
            value = chosen.get(name)
            if value == pack.id or (isinstance(value, list) and pack.id in value):
                return True
    return False


def delete_pack(driver: GameDriver, pack: Pack) -> bool:
    """Delete a pack: gone for everyone and from every preset at once; its
    rows stay while a game still uses it (the purge deletes them). True
    when deleted outright."""
    kind = driver.packs
    with transaction.atomic():
        pack = pack_model(kind).objects.select_for_update().filter(id=pack.id).first()
        if pack is None:
            return True
        _detach_from_presets(driver, pack)
        if in_use(driver, pack):
            pack.deleted_at = pack.deleted_at or timezone.now()
            pack.published = False
            pack.save(update_fields=["deleted_at", "published"])
            return False
        pack.delete()
        return True


def _detach_from_presets(driver: GameDriver, pack: Pack) -> None:
    model = driver.preset_model
    if model is None:
        return
    for name in pack_options(driver):
        field = model._meta.get_field(name)
        if field.many_to_many:
            through = field.remote_field.through
            through.objects.filter(**{field.m2m_reverse_field_name(): pack}).delete()
        else:
            model.objects.filter(**{name: pack}).update(**{field.attname: None})


def delete_owned_by(user) -> None:
    """Delete every pack of `user`, of every game (their account is going)."""
    for driver in registry.games():
        if driver.packs is not None:
            for pack in pack_model(driver.packs).objects.filter(owner=user):
                delete_pack(driver, pack)


def account_deleted(sender, instance, **kwargs) -> None:
    """pre_delete of a user (the pages, the admin, anything): their packs go too."""
    delete_owned_by(instance)


def purge_deleted() -> int:
    """Delete the deleted packs that no session uses any more; how many."""
    count = 0
    for driver in registry.games():
        if driver.packs is None:
            continue
        for pack in pack_model(driver.packs).objects.filter(deleted_at__isnull=False):
            with transaction.atomic():
                if not in_use(driver, pack):
                    pack.delete()
                    count += 1
    return count
