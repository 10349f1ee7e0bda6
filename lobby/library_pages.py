"""Pages of what a signed-in user keeps: "My presets" and "My packs".

The forms are built from each game's tables (settings, options, packs), as
the home page's is, and saving goes through the same functions as the REST
API (lobby.presets, lobby.packs), so a page and the API accept and refuse
the same things. Someone else's preset or pack is a 404 here too.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import options, packs, presets, registry
from .driver import PACK, PACKS, GameDriver
from .errors import GameError
from .models import Preset


def _games_with(attribute: str) -> list[GameDriver]:
    return [d for d in registry.games() if getattr(d, attribute) is not None]


def _driver_or_404(game: str, attribute: str) -> GameDriver:
    driver = next((d for d in _games_with(attribute) if d.name == game), None)
    if driver is None:
        raise Http404("No such game.")
    return driver


# --- presets --------------------------------------------------------------------


def preset_form(driver: GameDriver, user, data=None, initial=None) -> forms.Form:
    """A form of the game's settings table and options, with the preset's name."""
    fields: dict[str, forms.Field] = {
        "name": forms.CharField(label=_("Name of the preset"), max_length=presets.NAME_MAX)
    }
    for setting in driver.settings:
        if setting.kind == "bool":
            fields[setting.name] = forms.BooleanField(
                label=setting.label, help_text=setting.help, required=False
            )
        else:
            fields[setting.name] = forms.IntegerField(
                label=setting.label,
                help_text=setting.help,
                min_value=setting.minimum,
                max_value=setting.maximum,
            )
    for option in driver.options:
        offered = options.choices(driver, option, user)
        if option.kind == PACK:
            choices = [("", _("The built-in one"))] + [
                (c["value"], c["label"]) for c in offered if not c.get("builtin")
            ]
            fields[option.name] = forms.TypedChoiceField(
                label=option.label,
                help_text=option.help,
                choices=choices,
                coerce=int,
                empty_value=None,
                required=False,
            )
        else:
            fields[option.name] = forms.TypedMultipleChoiceField(
                label=option.label,
                help_text=option.help,
                choices=[(c["value"], c["label"]) for c in offered],
                coerce=int if option.kind == PACKS else str,
                widget=forms.CheckboxSelectMultiple,
                required=False,
            )
    form_class = type("PresetForm", (forms.Form,), fields)
    return form_class(data=data, initial=initial, prefix=None)


def _form_initial(driver: GameDriver, preset: Preset | None) -> dict:
    if preset is None:
        values = {s.name: s.describe()["form_default"] for s in driver.settings}
        values.update({o.name: o.default for o in driver.options})
        return values
    return {"name": preset.name, **presets.values(driver, preset)}


def _save_preset(request, driver: GameDriver, preset: Preset | None) -> HttpResponse:
    """GET: the form; POST: save it (errors on the form, 400)."""
    data = request.POST if request.method == "POST" else None
    form = preset_form(driver, request.user, data, _form_initial(driver, preset))
    if data is not None and form.is_valid():
        values = dict(form.cleaned_data)
        name = values.pop("name")
        try:
            if preset is None:
                preset = presets.create(request.user, driver.name, name, values)
            else:
                preset = presets.update(request.user, preset, name, values)
        except GameError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect(f"/presets/#preset-{preset.id}")
    context = {"form": form, "game": driver, "preset": preset}
    return render(request, "lobby/preset_form.html", context, status=400 if form.errors else 200)


@login_required
def preset_list(request: HttpRequest) -> HttpResponse:
    """/presets/: the user's presets by game, each with its settings."""
    mine = presets.owned(request.user)
    groups = []
    for driver in _games_with("preset_model"):
        rows = [
            {"preset": p, "settings": _shown_settings(driver, request.user, p)}
            for p in mine.filter(game=driver.name)
        ]
        groups.append({"game": driver, "presets": rows})
    return render(request, "lobby/presets.html", {"groups": groups})


def _shown_settings(driver: GameDriver, user, preset: Preset) -> list[tuple[str, str]]:
    """(label, value) of each setting and option, as people read them."""
    values = presets.values(driver, preset)
    shown = []
    for setting in driver.settings:
        value = values[setting.name]
        if setting.kind == "bool":
            value = _("yes") if value else _("no")
        shown.append((setting.label, str(value)))
    for option in driver.options:
        names = {c["value"]: c["label"] for c in options.choices(driver, option, user)}
        chosen = values[option.name]
        chosen = [chosen] if option.kind == PACK and chosen is not None else chosen or []
        text = ", ".join(str(names.get(v, v)) for v in chosen) or _("any")
        if option.kind in (PACK, PACKS) and not chosen:
            text = _("built-in")
        shown.append((option.label, text))
    return shown


@login_required
@require_http_methods(["GET", "POST"])
def preset_new(request: HttpRequest, game: str) -> HttpResponse:
    return _save_preset(request, _driver_or_404(game, "preset_model"), None)


def _own_preset(request: HttpRequest, preset_id: int) -> Preset:
    try:
        return presets.find(request.user, preset_id)
    except GameError:
        raise Http404("No such preset.") from None


@login_required
@require_http_methods(["GET", "POST"])
def preset_edit(request: HttpRequest, preset_id: int) -> HttpResponse:
    preset = _own_preset(request, preset_id)
    return _save_preset(request, registry.game(preset.game), preset)


@login_required
@require_POST
def preset_delete(request: HttpRequest, preset_id: int) -> HttpResponse:
    _own_preset(request, preset_id).delete()
    return redirect("presets")


# --- packs ------------------------------------------------------------------------


class UploadForm(forms.Form):
    game = forms.ChoiceField(label=_("For the game"))
    name = forms.CharField(
        label=_("Name"),
        max_length=packs.NAME_MAX,
        required=False,
        help_text=_("Empty: the name in the file, or the file's name."),
    )
    file = forms.FileField(label=_("File (CSV or JSON)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        games = _games_with("packs")
        self.fields["game"].choices = [(d.name, f"{d.title}: {d.packs.label}") for d in games]
        self.fields["file"].widget.attrs["accept"] = ".csv,.json,text/csv,application/json"


def _formats() -> list[dict]:
    """How each game's pack files look, from its columns (for the page)."""
    shown = []
    for driver in _games_with("packs"):
        kind = driver.packs
        shown.append(
            {
                "game": driver,
                "kind": kind,
                "header": ",".join(c.name for c in kind.columns),
                "columns": kind.columns,
            }
        )
    return shown


@login_required
@require_http_methods(["GET", "POST"])
def pack_list(request: HttpRequest) -> HttpResponse:
    """/packs/: the user's packs by game, the shared ones, and an upload form."""
    form = UploadForm(request.POST or None, request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        driver, _kind = packs.kind_of(form.cleaned_data["game"])
        try:
            pack = packs.upload(
                driver, request.user, form.cleaned_data["file"], form.cleaned_data["name"]
            )
        except packs.PackError as exc:
            form.add_error(None, exc.message)
            problems = [packs.problem_text(p) for p in exc.problems[: packs.MAX_REPORTED]]
            if len(exc.problems) > packs.MAX_REPORTED:
                problems.append(_("… and %d more") % (len(exc.problems) - packs.MAX_REPORTED))
        except GameError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("pack_detail", game=driver.name, pack_id=pack.id)
    groups = []
    for driver in _games_with("packs"):
        kind = driver.packs
        shared = packs.usable(kind, request.user).exclude(owner=request.user)
        groups.append(
            {
                "game": driver,
                "mine": [
                    {"pack": p, "count": packs.items_of(kind, p).count()}
                    for p in packs.owned(kind, request.user)
                ],
                "shared": [{"pack": p, "count": packs.items_of(kind, p).count()} for p in shared],
            }
        )
    context = {"groups": groups, "form": form, "problems": problems, "formats": _formats()}
    return render(request, "lobby/packs.html", context, status=400 if form.errors else 200)


def _own_pack(request: HttpRequest, game: str, pack_id: int):
    driver = _driver_or_404(game, "packs")
    try:
        return driver, packs.find(packs.owned(driver.packs, request.user), driver.packs, pack_id)
    except GameError:
        raise Http404("No such pack.") from None


@login_required
def pack_detail(request: HttpRequest, game: str, pack_id: int) -> HttpResponse:
    """/packs/<game>/<id>/: one of the user's packs, every item."""
    driver, pack = _own_pack(request, game, pack_id)
    kind = driver.packs
    context = {
        "game": driver,
        "pack": pack,
        "columns": kind.columns,
        "items": [
            [
                "; ".join(v) if isinstance(v, list) else v
                for v in (item[c.name] for c in kind.columns)
            ]
            for item in packs.items_of(kind, pack)
        ],
    }
    return render(request, "lobby/pack.html", context)


@login_required
@require_POST
def pack_delete(request: HttpRequest, game: str, pack_id: int) -> HttpResponse:
    driver, pack = _own_pack(request, game, pack_id)
    packs.delete_pack(driver, pack)
    return redirect("packs")
