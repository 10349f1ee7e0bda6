"""REST for what a signed-in user keeps: presets and packs (session auth,
CSRF checked by lobby.webauth; errors as {"error": {code, message}}).

- GET/POST /api/presets/ (?game=), GET/PATCH/DELETE /api/presets/<id>/;
- GET/POST /api/packs/ (?game=; POST is a multipart upload: game, name,
  file), GET/PATCH/DELETE /api/packs/<game>/<id>/.

A preset is its owner's alone; a pack its owner's, or everyone's once
published or when built in. Anything else is 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt

from . import packs, presets, registry, services, webauth
from .errors import GameError, bad_request
from .views import error_response, json_body, method_not_allowed


def _dispatch(request: HttpRequest, handlers: dict[str, Callable[[], HttpResponse]]):
    handler = handlers.get(request.method)
    if handler is None:
        return method_not_allowed(*handlers)
    try:
        return handler()
    except GameError as exc:
        return error_response(exc)


def _game_filter(request: HttpRequest) -> str | None:
    game = request.GET.get("game")
    return registry.game(game).name if game else None


# --- presets ----------------------------------------------------------------------


@csrf_exempt
def preset_list(request: HttpRequest) -> HttpResponse:
    def list_them():
        rows = presets.owned(webauth.require_user(request))
        game = _game_filter(request)
        if game:
            rows = rows.filter(game=game)
        return JsonResponse({"presets": [presets.describe(p) for p in rows]})

    def create():
        user = webauth.require_user(request)
        data = json_body(request)
        unknown = set(data) - {"game", "name", "settings"}
        if unknown:
            raise services.unknown_fields(unknown)
        if "game" not in data:
            raise bad_request("INVALID_FIELD", gettext("Say which game the preset is for: 'game'."))
        preset = presets.create(user, data["game"], data.get("name"), data.get("settings"))
        return JsonResponse(presets.describe(preset), status=201)

    return _dispatch(request, {"GET": list_them, "POST": create})


@csrf_exempt
def preset_detail(request: HttpRequest, preset_id: str) -> HttpResponse:
    def preset():
        # A guest too gets 404: for anyone but its owner the preset does not exist.
        return presets.find(webauth.session_user(request), preset_id)

    def show():
        return JsonResponse(presets.describe(preset()))

    def change():
        found = preset()
        data = json_body(request)
        unknown = set(data) - {"name", "settings"}
        if unknown:
            raise services.unknown_fields(unknown)
        found = presets.update(found.owner, found, data.get("name"), data.get("settings"))
        return JsonResponse(presets.describe(found))

    def delete():
        preset().delete()
        return HttpResponse(status=204)

    return _dispatch(request, {"GET": show, "PATCH": change, "DELETE": delete})


# --- packs ------------------------------------------------------------------------


@csrf_exempt
def pack_list(request: HttpRequest) -> HttpResponse:
    def list_them():
        user = webauth.session_user(request)
        game = _game_filter(request)
        mine = request.GET.get("mine") in ("1", "true")
        found = []
        for driver in registry.games():
            if driver.packs is None or (game and driver.name != game):
                continue
            rows = packs.owned(driver.packs, user) if mine else packs.usable(driver.packs, user)
            found += [packs.describe(driver, p, user) for p in rows]
        return JsonResponse({"packs": found})

    def upload():
        # Refuse a body far over the limit before anything parses it (the
        # CSRF check may read a form's fields).
        if _content_length(request) > settings.PARTYHUB_PACK_MAX_BYTES + 65536:
            raise packs.too_large()
        user = webauth.require_user(request)
        driver, _kind = packs.kind_of(request.POST.get("game"))
        upload = request.FILES.get("file")
        if upload is None:
            message = gettext("Send the pack as a multipart upload named 'file'.")
            raise bad_request("INVALID_FIELD", message)
        pack = packs.upload(driver, user, upload, request.POST.get("name", ""))
        return JsonResponse(packs.describe(driver, pack, user), status=201)

    return _dispatch(request, {"GET": list_them, "POST": upload})


@csrf_exempt
def pack_detail(request: HttpRequest, game: str, pack_id: str) -> HttpResponse:
    def show():
        user = webauth.session_user(request)
        driver, kind = packs.kind_of(game)
        pack = packs.find(packs.usable(kind, user), kind, pack_id)
        return JsonResponse(packs.describe(driver, pack, user, with_items=True))

    def owned():
        user = webauth.session_user(request)  # a guest owns nothing: 404
        driver, kind = packs.kind_of(game)
        return driver, packs.find(packs.owned(kind, user), kind, pack_id), user

    def rename():
        driver, pack, user = owned()
        data = json_body(request)
        if set(data) != {"name"}:
            message = gettext('Send {"name": ...}: a pack\'s name is all that changes.')
            raise bad_request("INVALID_FIELD", message)
        pack.name = packs.clean_name(data["name"])
        pack.save(update_fields=["name"])
        return JsonResponse(packs.describe(driver, pack, user))

    def delete():
        driver, pack, _ = owned()
        packs.delete_pack(driver, pack)
        return HttpResponse(status=204)

    return _dispatch(request, {"GET": show, "PATCH": rename, "DELETE": delete})


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
