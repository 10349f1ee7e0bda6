"""REST API: JSON in, JSON out, errors as {"error": {code, message}}.

- POST /api/sessions/ creates a session of a game ({"game": ...}, default
  the quiz) with its settings;
- GET /api/sessions/<code>/ is the public state (plus `you` for a player);
- POST /api/sessions/<code>/<action>/ runs an action: the platform's (join,
  leave, start-round, finish, pause, resume, exit) or the session's game's
  (lobby.actions);
- GET /api/games/ lists the games with their settings tables.
"""

from __future__ import annotations

import logging

from django.conf import settings as django_settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext, ngettext
from django.views.decorators.csrf import csrf_exempt

from realtime import protocol

from . import actions, options, outbox, packs, presets, registry, services, timers, webauth
from .errors import GameError, bad_request
from .publish import publish

logger = logging.getLogger("lobby.views")


def error_response(exc: GameError) -> JsonResponse:
    return JsonResponse(exc.as_json(), status=exc.status)


def method_not_allowed(*methods: str) -> JsonResponse:
    """405 with the API's JSON error and the Allow header (RFC 9110)."""
    message = ngettext("Use %(methods)s.", "Use one of %(methods)s.", len(methods))
    message %= {"methods": ", ".join(methods)}
    response = error_response(GameError(405, "METHOD_NOT_ALLOWED", message))
    response["Allow"] = ", ".join(methods)
    return response


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def json_body(request: HttpRequest) -> dict:
    """The request's JSON object body ({} when empty), or GameError 400/413."""
    try:
        raw = request.body
    except RequestDataTooBig:
        limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = gettext("A request body has at most %(kib)s KiB.") % {"kib": limit // 1024}
        raise GameError(413, "BODY_TOO_LARGE", message) from None
    if not raw:
        return {}
    try:
        # Strict JSON (no NaN/Infinity); a text field refuses lone surrogates
        # itself, with its own code (lobby.text).
        data = protocol.loads(raw, strings=False)
    except ValueError:
        raise bad_request("INVALID_JSON", gettext("The request body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise bad_request("INVALID_JSON", gettext("The request body must be a JSON object."))
    return data


@csrf_exempt  # bearer tokens; a signed-in caller is checked by lobby.webauth
def create_session(request: HttpRequest) -> JsonResponse:
    """POST /api/sessions/ -> 201 {code, game, host_token, settings}.

    {"preset": id} starts from the caller's preset; the call's own settings
    override it. Packs must be ones the caller may use.
    """
    if request.method != "POST":
        return method_not_allowed("POST")
    try:
        data = json_body(request)
        user = webauth.session_user(request)
        game = data.pop("game", registry.default_game() if "preset" not in data else None)
        if "preset" in data:
            game, data = presets.session_settings(user, data.pop("preset"), game, data)
        driver = registry.game(game)
        with transaction.atomic():
            settings = services.parse_settings(data, driver.name, user)
            if driver.packs is not None:
                packs.lock_usable(driver.packs, options.pack_ids(driver, settings), user)
            session, token = services.create_session(settings, driver.name)
            rows = outbox.record_created(session)
    except GameError as exc:
        return error_response(exc)
    logger.info("session %s of %s created", session.code, session.game)
    body = {"code": session.code, "game": session.game, "host_token": token, "settings": settings}
    report = publish(session, rows)
    if not report["ok"]:
        body["broadcast"] = report
    return JsonResponse(body, status=201)


@csrf_exempt  # read-only; any other method is a JSON 405
def session_detail(request: HttpRequest, code: str) -> JsonResponse:
    """GET /api/sessions/<code>/: public state, plus `you` for a player token."""
    if request.method != "GET":
        return method_not_allowed("GET")
    try:
        session = services.find_session(code)
        state = services.session_state(session)
        state["server_time"] = timers.now_ms()  # for clients to align their clocks
        token = _bearer(request)
        if token is not None:
            actor = services.authenticate(session, token)
            state["role"] = actor.role
            if actor.player is not None:
                state["you"] = services.player_view(session, actor.player)
    except GameError as exc:
        return error_response(exc)
    return JsonResponse(state)


@csrf_exempt  # bearer tokens only
def session_action(request: HttpRequest, code: str, action: str) -> JsonResponse:
    """POST /api/sessions/<code>/<action>/: one action (lobby.actions)."""
    if not actions.is_known(action):
        return not_found(request)
    if request.method != "POST":
        return method_not_allowed("POST")
    caller = actions.Caller(token=_bearer(request))
    try:
        status, body = actions.run(code, action, caller, lambda: json_body(request), logger)
    except GameError as exc:
        return error_response(exc)
    return JsonResponse(body, status=status)


@csrf_exempt  # read-only; any other method is a JSON 405
def game_list(request: HttpRequest) -> JsonResponse:
    """GET /api/games/: every game, its pitch, player range and settings table."""
    if request.method != "GET":
        return method_not_allowed("GET")
    return JsonResponse({"default": registry.default_game(), "games": describe_games()})


def describe_games() -> list[dict]:
    """The registered games as GET /api/games/ and the home page list them."""
    return [
        {
            "game": d.name,
            "title": d.title,
            "pitch": d.pitch,
            "min_players": d.min_players,
            "max_players": d.max_players,
            "settings": [s.describe() for s in d.settings],
            "options": [o.describe() for o in d.options],
            "presets": d.preset_model is not None,
            "packs": d.packs.label if d.packs else None,
        }
        for d in registry.games()
    ]


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """JSON 404 for any unknown path under /api/."""
    return error_response(GameError(404, "NOT_FOUND", gettext("No such API endpoint.")))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form sent without its token (an old page, another
    site): JSON under /api/, else a page that says what to do."""
    if request.path.startswith("/api/"):
        message = gettext("CSRF check failed (%(reason)s): reload the page and try again.")
        message %= {"reason": reason}
        return error_response(GameError(403, "CSRF_FAILED", message))
    return render(request, "lobby/csrf_failure.html", {"reason": reason}, status=403)
