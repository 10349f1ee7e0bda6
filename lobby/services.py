"""Sessions and players, for every game: create, authenticate, join, leave, state.

Every function that changes a session runs inside the caller's transaction
on a session row locked for update (lobby.actions does both); what the
game does is the driver's (lobby.driver), found with lobby.registry.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext, ngettext

from realtime import protocol

from . import awards, options, registry, rules, text
from .driver import HOST, PLAYER, GameDriver
from .errors import GameError, bad_request, conflict
from .models import FINISHED, LOBBY, SCOREBOARD, GameSession, Player

__all__ = ["HOST", "PLAYER"]


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Actor:
    """Who is calling: the host, or one player, of one session (None: a timer)."""

    role: str
    player: Player | None = None


# --- sessions ---------------------------------------------------------------


def unknown_fields(names) -> GameError:
    """400 INVALID_FIELD naming the fields a request should not have sent."""
    message = ngettext("Unknown field: %(names)s.", "Unknown fields: %(names)s.", len(names))
    return bad_request("INVALID_FIELD", message % {"names": ", ".join(sorted(names))})


def no_session(code: str) -> GameError:
    """404 SESSION_NOT_FOUND."""
    message = gettext("No game with code %(code)s.") % {"code": repr(code)}
    return GameError(404, "SESSION_NOT_FOUND", message)


def name_taken(name: str) -> GameError:
    """409 NAME_TAKEN."""
    message = gettext("The name %(name)s is taken in this game.") % {"name": repr(name)}
    return conflict("NAME_TAKEN", message)


def parse_settings(data: dict, game: str | None = None, user=None) -> dict:
    """Validate the settings of a create call (or a preset) against the game's
    settings table and options; packs must be ones `user` may use.

    Unknown fields are refused; missing ones take their default.
    """
    driver = registry.game(game or registry.default_game())
    table = {s.name: s for s in driver.settings}
    extra = {o.name: o for o in driver.options}
    unknown = set(data) - set(table) - set(extra)
    if unknown:
        raise unknown_fields(unknown)
    parsed = {name: s.parse(data.get(name, s.default)) for name, s in table.items()}
    for name, option in extra.items():
        parsed[name] = options.parse(driver, option, data.get(name, option.default), user)
    driver.check_settings(parsed)
    return parsed


def create_session(settings: dict, game: str | None = None) -> tuple[GameSession, str]:
    """Create a session with a fresh unused code; return it and the host token."""
    driver = registry.game(game or registry.default_game())
    token = rules.new_token()
    for _ in range(50):
        code = rules.new_code()
        try:
            with transaction.atomic():
                session = GameSession.objects.create(
                    code=code,
                    game=driver.name,
                    host_token_digest=token_digest(token),
                    settings=settings,
                    auto_advance=driver.auto_advance(settings),
                )
        except IntegrityError:
            continue
        return session, token
    message = gettext("Could not find a free game code; try again.")
    raise GameError(503, "NO_CODE_AVAILABLE", message)


def find_session(code: str) -> GameSession:
    """A session by code (not locked); 404 if none, 410 if exited."""
    session = GameSession.objects.filter(code=code.upper()).first()
    if session is None:
        raise no_session(code)
    require_open(session)
    return session


def lock_session(code: str) -> GameSession:
    """Fetch a session by code, locked for update; 404 if none, 410 if exited."""
    try:
        session = GameSession.objects.select_for_update().get(code=code.upper())
    except GameSession.DoesNotExist:
        raise no_session(code) from None
    require_open(session)
    return session


def require_open(session: GameSession) -> None:
    """410 once the host has exited the session (until the purge: then 404)."""
    if session.closed:
        message = gettext("The game %(code)s was closed by its host.") % {"code": session.code}
        raise GameError(410, "SESSION_CLOSED", message)


def require_running(session: GameSession) -> None:
    """409 while the host has paused the game."""
    if session.paused:
        raise conflict("PAUSED", gettext("The game is paused: only resume (or exit) works now."))


def authenticate(session: GameSession, token: str | None) -> Actor:
    """Map a bearer token to the host or a player of `session`.

    401 when there is no token or it belongs to nobody; 403 when it belongs to
    another session.
    """
    if not token:
        raise GameError(401, "AUTH_REQUIRED", gettext("Send 'Authorization: Bearer <token>'."))
    digest = token_digest(token)
    if hmac.compare_digest(digest, session.host_token_digest):
        return Actor(HOST)
    player = Player.objects.filter(session=session, token_digest=digest).first()
    if player is not None and hmac.compare_digest(digest, player.token_digest):
        return Actor(PLAYER, player)
    if (
        GameSession.objects.filter(host_token_digest=digest).exists()
        or Player.objects.filter(token_digest=digest).exists()
    ):
        raise GameError(403, "WRONG_SESSION", gettext("This token belongs to another game."))
    raise GameError(401, "INVALID_TOKEN", gettext("The token is not valid."))


def require(actor: Actor | None, role: str) -> None:
    """403 unless the actor has `role`."""
    if actor is None or actor.role != role:
        if role == HOST:
            message = gettext("Only the host can do this.")
        else:
            message = gettext("Only a player can do this.")
        raise GameError(403, "WRONG_ROLE", message)


def require_phase(session: GameSession, *phases: str) -> None:
    """409 unless the session is in one of `phases`."""
    if session.phase not in phases:
        # Phase names stay as they are: the API's identifiers.
        message = ngettext(
            "The game is in phase %(phase)s; this needs %(wanted)s.",
            "The game is in phase %(phase)s; this needs one of %(wanted)s.",
            len(phases),
        )
        wanted = ", ".join(repr(p) for p in phases)
        raise conflict("WRONG_PHASE", message % {"phase": repr(session.phase), "wanted": wanted})


# --- players ------------------------------------------------------------------


def join(session: GameSession, name) -> tuple[Player, str]:
    """Add a player to a session in the lobby; return it and its token."""
    name, name_key = rules.check_name(name)
    require_phase(session, LOBBY)
    driver = registry.of(session)
    if session.players.count() >= driver.max_players:
        message = gettext("A game has at most %(most)s players.") % {"most": driver.max_players}
        raise conflict("SESSION_FULL", message)
    taken = session.players.values_list("name", flat=True)
    if session.players.filter(name_key=name_key).exists() or any(
        text.confusable(name, other) for other in taken
    ):
        raise name_taken(name)
    token = rules.new_token()
    try:
        with transaction.atomic():
            player = Player.objects.create(
                session=session, name=name, name_key=name_key, token_digest=token_digest(token)
            )
    except IntegrityError:
        raise name_taken(name) from None
    return player, token


def active_players(session: GameSession) -> list[Player]:
    """The players still in the game, in join order."""
    return list(session.players.active().order_by("id"))


def players_payload(session: GameSession) -> list[dict]:
    return [{"player_id": p.id, "name": p.name, "score": p.score} for p in active_players(session)]


def ranking(session: GameSession) -> list[dict]:
    return rules.rank([(p.id, p.name, p.score) for p in active_players(session)])


# --- state --------------------------------------------------------------------


def session_state(session: GameSession) -> dict:
    """The `session.state` payload: everything public about the game now.

    The platform's fields, then the game's (GameDriver.public_state), then
    the ranking (scoreboard and finished) and the awards (finished).
    """
    driver = registry.of(session)
    state = {
        "code": session.code,
        "game": session.game,
        "phase": session.phase,
        "round": session.round_number,
        "rounds": session.rounds,
        "settings": dict(session.settings),
        "deadline": session.deadline_ms,
        "paused": session.paused,
        "remaining_ms": session.remaining_ms if session.paused else None,
        "players": players_payload(session),
    }
    state.update(driver.public_state(session))
    state["ranking"] = ranking(session) if session.phase in (SCOREBOARD, FINISHED) else None
    if session.phase == FINISHED:
        state["awards"] = awards.game_awards(session, driver)
    protocol.check_state(session.game, state)  # the declared schema (strict: tests)
    return state


def player_view(session: GameSession, player: Player, driver: GameDriver | None = None) -> dict:
    """`you`: the player's own facts and what only they may see (GameDriver.private_state)."""
    driver = driver or registry.of(session)
    view = {"player_id": player.id, "name": player.name, "score": player.score}
    view.update(driver.private_state(session, player))
    return view
