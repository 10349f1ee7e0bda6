"""REST API of the game: JSON in, JSON out, errors as {"error": {code, message}}."""

from __future__ import annotations

import functools
import json
import logging

from django.db import transaction
from django.http import HttpRequest, JsonResponse

from realtime import snapshot

from . import controls, flow, services, timers
from .errors import GameError, bad_request
from .models import GameSession
from .publish import UNTOLD, publish

logger = logging.getLogger("lobby.views")


def error_response(exc: GameError) -> JsonResponse:
    return JsonResponse(exc.as_json(), status=exc.status)


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _json_body(request: HttpRequest) -> dict:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):
        raise bad_request("INVALID_JSON", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise bad_request("INVALID_JSON", "The request body must be a JSON object.")
    return data


def api(methods: tuple[str, ...], role: str | None = None, while_paused: bool = False):
    """Decorate a view: method check, JSON errors, locked session, auth, pause.

    The view gets (request, session, actor, body) inside one transaction and
    returns (status, Outcome); events are broadcast after the commit. While
    the game is paused only views marked `while_paused` run (409 otherwise).
    """

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, code: str) -> JsonResponse:
            if request.method not in methods:
                return error_response(
                    GameError(405, "METHOD_NOT_ALLOWED", f"Use {' or '.join(methods)}.")
                )
            try:
                with transaction.atomic():
                    session = services.lock_session(code)
                    actor = None
                    if role is not None:
                        actor = services.authenticate(session, _bearer(request))
                        services.require(actor, role)
                    if not while_paused:
                        services.require_running(session)
                    body = _json_body(request) if request.method == "POST" else {}
                    status, outcome = view(request, session, actor, body)
            except GameError as exc:
                return error_response(exc)
            response = dict(outcome.body)
            report = publish(session, outcome.events, outcome.close_code, log=logger)
            if report is not None:
                response["broadcast"] = report
            return JsonResponse(response, status=status)

        return wrapper

    return decorate


def create_session(request: HttpRequest) -> JsonResponse:
    """POST /api/sessions/ -> 201 {code, host_token, settings}."""
    if request.method != "POST":
        return error_response(GameError(405, "METHOD_NOT_ALLOWED", "Use POST."))
    try:
        settings = services.parse_settings(_json_body(request))
        session, token = services.create_session(settings)
    except GameError as exc:
        return error_response(exc)
    logger.info("session %s created", session.code)
    body = {"code": session.code, "host_token": token, "settings": settings}
    stored = snapshot.register_session(session.code, session.host_token_digest)
    if not (stored and snapshot.store_state(session.code, 0, services.session_state(session))):
        body["broadcast"] = {"ok": False, "error": UNTOLD}
    return JsonResponse(body, status=201)


def session_detail(request: HttpRequest, code: str) -> JsonResponse:
    """GET /api/sessions/<code>/: public state, plus `you` for a player token."""
    if request.method != "GET":
        return error_response(GameError(405, "METHOD_NOT_ALLOWED", "Use GET."))
    try:
        session = GameSession.objects.filter(code=code.upper()).first()
        if session is None:
            raise GameError(404, "SESSION_NOT_FOUND", f"No game with code {code!r}.")
        services.require_open(session)
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


@api(("POST",))
def join_session(request, session, actor, body):
    player, token = services.join(session, body.get("name"))
    transaction.on_commit(
        lambda: snapshot.register_player(session.code, player.token_digest, player.id)
    )
    event = services.joined_event(session, player)
    body = {"player_id": player.id, "name": player.name, "session_token": token}
    return 201, services.Outcome(body, [event])


@api(("POST",), role=services.HOST)
def start_round(request, session, actor, body):
    return 200, services.start_round(session)


@api(("POST",), role=services.HOST)
def show_question(request, session, actor, body):
    return 200, services.show_question(session)


@api(("POST",), role=services.PLAYER)
def submit_lie(request, session, actor, body):
    outcome = services.submit_lie(session, actor.player, body.get("text"))
    outcome.events += flow.advance_if_all_in(session)
    return 201, outcome


@api(("POST",), role=services.HOST)
def mix_answers(request, session, actor, body):
    return 200, services.mix_answers(session)


@api(("POST",), role=services.PLAYER)
def submit_guess(request, session, actor, body):
    outcome = services.submit_guess(session, actor.player, body.get("answer_id"))
    outcome.events += flow.advance_if_all_in(session)
    return 201, outcome


@api(("POST",), role=services.HOST)
def calculate_scores(request, session, actor, body):
    return 200, services.calculate_scores(session)


@api(("POST",), role=services.HOST)
def reveal_scoreboard(request, session, actor, body):
    return 200, services.reveal_scoreboard(session)


@api(("POST",), role=services.HOST)
def finish_game(request, session, actor, body):
    return 200, services.finish(session)


@api(("POST",), role=services.HOST)
def pause_game(request, session, actor, body):
    return 200, controls.pause(session)


@api(("POST",), role=services.HOST, while_paused=True)
def resume_game(request, session, actor, body):
    return 200, controls.resume(session)


@api(("POST",), role=services.HOST, while_paused=True)
def exit_game(request, session, actor, body):
    return 200, controls.exit_session(session)


def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """JSON 404 for any unknown path under /api/."""
    return error_response(GameError(404, "NOT_FOUND", "No such API endpoint."))
