"""Running an action: the platform's own and every game's, from REST or a socket.

`run` is the one path: one transaction, the session row locked for update,
the caller identified (a bearer token over REST; the socket's identity,
which its server checked at connect, over WebSocket), the pause respected,
the action run with a Context, the session saved; after the commit its
events are written to the outbox (lobby.outbox) and, after the commit,
published (lobby.publish). Every action a game declares
(lobby.driver.Action) runs this way, as do the platform's:

- `join` (anyone, lobby only), `leave` (a player);
- `start-round`, `finish` (the host; lobby.rounds);
- `pause`, `resume`, `exit` (the host; lobby.controls).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from realtime import hooks, schema
from realtime.schema import Field, string

from . import controls, events, outbox, registry, rounds, rules, services
from .context import Context
from .driver import ANYONE, HOST, PLAYER, Action, GameDriver
from .errors import GameError, bad_request, conflict
from .models import FINISHED, LOBBY, SCOREBOARD
from .publish import publish

logger = logging.getLogger("lobby.actions")


# --- the platform's actions ----------------------------------------------------


def join(ctx: Context, body: dict) -> dict:
    player, token = services.join(ctx.session, body.get("name"))
    ctx.joined.append((player.id, player.token_digest))
    payload = {
        "player_id": player.id,
        "name": player.name,
        "players": services.players_payload(ctx.session),
    }
    ctx.emit(events.PLAYER_JOINED, payload)
    return {"player_id": player.id, "name": player.name, "session_token": token}


def leave(ctx: Context, body: dict) -> dict:
    """A player leaves: in the lobby they are removed; later they are out of
    the game (the game reacts, GameDriver.on_leave), which ends when fewer
    than the game's minimum remain. Their token stops working and their
    sockets close with 4001."""
    session, player = ctx.session, ctx.player
    if session.phase == FINISHED:
        raise conflict("WRONG_PHASE", _("The game is over: there is nothing to leave."))
    player_id = player.id
    ctx.left.append((player_id, player.token_digest))
    if session.phase == LOBBY:
        player.delete()
    else:
        player.left_at = timezone.now()
        player.token_digest = ""  # the token stops working
        player.save(update_fields=["left_at", "token_digest"])
    payload = {
        "player_id": player_id,
        "name": player.name,
        "players": services.players_payload(session),
    }
    ctx.emit(events.PLAYER_LEFT, payload)
    if session.phase != LOBBY:
        ctx.driver.on_leave(ctx, player)
        if session.phase != FINISHED and len(ctx.players()) < ctx.driver.min_players:
            rounds.finish(ctx)
    return {"left": True, "player_id": player_id, "phase": session.phase}


def start_round(ctx: Context, body: dict) -> dict | None:
    rounds.start_round(ctx)
    return None


def finish(ctx: Context, body: dict) -> dict | None:
    ctx.require_phase(SCOREBOARD)
    rounds.finish(ctx)
    return None


PLATFORM_ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "join",
            join,
            role=ANYONE,
            status=201,
            fields=(
                Field(
                    "name",
                    string(),
                    doc=(
                        f"1 to {rules.NAME_MAX} user-perceived characters (NFKC, no control or "
                        "invisible characters; lobby.text), no look-alike of another "
                        "player's name in the game"
                    ),
                ),
            ),
            doc="Join the game in its lobby: the player's id and session token.",
        ),
        Action("leave", leave, role=PLAYER, while_paused=True, doc="Leave the game."),
        Action("start-round", start_round, role=HOST, doc="Start the next round."),
        Action("finish", finish, role=HOST, doc="End the game after a scoreboard."),
        Action("pause", controls.pause, role=HOST, doc="Freeze the countdown."),
        Action("resume", controls.resume, role=HOST, while_paused=True, doc="Run it on."),
        Action("exit", controls.exit_session, role=HOST, while_paused=True, doc="End the session."),
    )
}
assert tuple(PLATFORM_ACTIONS) == registry.PLATFORM_ACTIONS


def action_of(driver: GameDriver, name: str) -> Action | None:
    """The platform's action `name`, or the game's."""
    if name in PLATFORM_ACTIONS:
        return PLATFORM_ACTIONS[name]
    return next((a for a in driver.actions if a.name == name), None)


def is_known(name: str) -> bool:
    """Whether the platform or any registered game has an action `name`."""
    return name in PLATFORM_ACTIONS or any(
        a.name == name for driver in registry.games() for a in driver.actions
    )


# --- running one --------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who asks: a bearer token (REST), or a socket's identity (WebSocket)."""

    token: str | None = None
    socket: hooks.Sender | None = None


def run(
    code: str,
    name: str,
    caller: Caller,
    read_body: Callable[[], dict],
    log: logging.Logger = logger,
) -> tuple[int, dict]:
    """Run action `name` of session `code`; (status, response body).

    Raises GameError for anything refused (nothing is saved or sent then).
    The body gets `broadcast` (lobby.publish's report) when events went out.
    """
    with transaction.atomic():
        session = services.lock_session(code)
        driver = registry.of(session)
        action = action_of(driver, name)
        if action is None:
            raise GameError(404, "NOT_FOUND", _("No such API endpoint."))
        actor = identify(session, action, caller)
        if not action.while_paused:
            services.require_running(session)
        body = read_body()
        bad = schema.problem(action.fields, body)
        if bad is not None:
            raise bad_request("INVALID_FIELD", bad.must_be())
        ctx = Context(session, driver, actor)
        response = action.run(ctx, body)
        if response is None:
            response = {"phase": session.phase, "round": session.round_number}
            public = [e.type for e in ctx.events if e.to is None]
            if public:
                response["event"] = public[-1]
        outcome = ctx.outcome(action.status, response)
        rows = outbox.record(session, outcome)
        session.save()  # every action is activity, for the purge (and saves seq)
    report = publish(session, rows, log)
    body = dict(outcome.body)
    if report is not None:
        body["broadcast"] = report
    return outcome.status, body


def identify(session, action: Action, caller: Caller) -> services.Actor | None:
    """The actor of this call, checked against the action's role (401/403)."""
    if action.role == ANYONE:
        return None
    if caller.socket is not None:
        actor = socket_actor(session, caller.socket)
    else:
        actor = services.authenticate(session, caller.token)
    services.require(actor, action.role)
    return actor


def socket_actor(session, sender: hooks.Sender) -> services.Actor:
    """The actor behind a socket its server authenticated at connect."""
    if sender.role == hooks.HOST:
        return services.Actor(HOST)
    player = session.players.active().filter(id=sender.player_id).first()
    if player is None:
        raise GameError(403, "NOT_IN_GAME", _("You are not in this game any more."))
    return services.Actor(PLAYER, player)
