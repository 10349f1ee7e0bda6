"""The platform's side of the WebSocket transport, installed into realtime.hooks.

- `Directory`: who a GameConsumer socket belongs to, and its first state;
- the `reaction` client message (lobby.reactions);
- every game action that names a client message (lobby.driver.Action):
  {"type": <message>, "ref": <anything>, ...fields} runs the action as its
  REST twin would (lobby.actions), for the socket's player or host; the
  sender gets {"type": "result", "action", "ref", "body"} or an `error`
  with the REST error's code and message (the socket stays open).

`install()` runs once, from lobby.apps; games registered later get their
client messages declared as they register (lobby.registry.listen).
"""

from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from django.db import transaction

from realtime import hooks, protocol
from realtime.schema import Field, Message, number, one_of, problem, string

from . import actions, events, reactions, registry, services
from .driver import Action, GameDriver
from .errors import GameError
from .models import GameSession

logger = logging.getLogger("lobby.sockets")


class Directory:
    """realtime.hooks.SessionDirectory for the platform's sessions."""

    def identify(self, code: str, role: str, token: str) -> tuple[str, int | None] | str:
        session = GameSession.objects.filter(code=code).first()
        if session is None:
            return hooks.NOT_FOUND
        if session.closed:
            return hooks.CLOSED
        if role not in (hooks.HOST, hooks.PLAYER):
            return hooks.FORBIDDEN
        try:
            actor = services.authenticate(session, token)
        except GameError:
            return hooks.FORBIDDEN
        if actor.role != role:
            return hooks.FORBIDDEN
        return actor.role, (actor.player.id if actor.player else None)

    def greeting(self, code: str, player_id: int | None) -> tuple[str, str | None]:
        with transaction.atomic():  # one snapshot of the session and the player
            session = GameSession.objects.get(code=code)
            state = protocol.dumps(
                protocol.session_state(services.session_state(session), session.seq)
            )
            player = None
            if player_id is not None:
                player = session.players.filter(id=player_id, pseq__gt=0).first()
            if player is None:
                return state, None
            private = registry.of(session).private_state(session, player)
            return state, protocol.dumps(protocol.player_state(private, player.pseq))


# An action message's `ref` is echoed back: a string or a number.
REF = Field(
    "ref",
    one_of(string(), number()),
    required=False,
    what="a string or a number",
    doc="echoed in the `result` or `error`",
)


def _check_ref(message: dict) -> dict | None:
    """The transport checks an action message's `ref` only: its other fields
    are the action's, checked as over REST (INVALID_FIELD, with the ref)."""
    bad = problem((REF,), message)
    return None if bad is None else protocol.error(protocol.INVALID_MESSAGE, bad.must_be())


def action_message(driver: GameDriver, action: Action) -> Message:
    """The client message that runs `action` (its fields and `ref`)."""
    return Message(
        action.message,
        driver.name,
        protocol.RECEIVE,
        fields=(*action.fields, REF),
        doc=action.doc or f"Runs `{action.name}` (POST /api/sessions/<code>/{action.name}/).",
        after=action.name,
    )


def action_handler(action_name: str, message_type: str) -> hooks.Handler:
    """The socket handler that runs `action_name` for `message_type` messages."""

    def run(sender: hooks.Sender, message: dict) -> dict:
        ref = message.get("ref")
        body = {k: v for k, v in message.items() if k not in ("type", "ref")}
        caller = actions.Caller(socket=sender)
        try:
            _, response = actions.run(sender.code, action_name, caller, lambda: body, logger)
        except GameError as exc:
            return protocol.error(exc.code, exc.message, ref)
        return protocol.result(message_type, response, ref)

    async def handle(sender: hooks.Sender, message: dict) -> dict | None:
        return await database_sync_to_async(run)(sender, message)

    return handle


def declare_game(driver: GameDriver) -> None:
    """Accept a game's action messages on both servers."""
    for action in driver.actions:
        if action.message:
            protocol.declare_client_type(action_message(driver, action), _check_ref)
            hooks.install_handler(action.message, action_handler(action.name, action.message))


def install() -> None:
    """Install the platform into the transport (once per process)."""
    events.declare()
    hooks.install_directory(Directory())
    protocol.declare_client_type(reactions.REACTION_CLIENT)
    hooks.install_handler(events.REACTION, reactions.on_message)
    registry.listen(declare_game)
