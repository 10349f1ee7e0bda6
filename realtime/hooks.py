"""What the transport needs from the application above it, installed at start-up.

The transport imports nothing above it (games -> platform -> transport). The
platform installs, in its AppConfig.ready():

- a `SessionDirectory`: who a socket belongs to and the `session.state`
  payload it starts from (GameConsumer asks it once per connection; the C
  sidecar reads the same facts from Redis instead);
- a handler per client message type beyond `ping` (`install_handler`), run
  by realtime.inbound for both servers.

Until something is installed, sockets are refused as if no session existed
and client messages get UNKNOWN_TYPE: the transport alone serves no game.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

# Socket roles (the `role` query parameter).
HOST = "host"
PLAYER = "player"

# What SessionDirectory.identify answers instead of (role, player_id).
NOT_FOUND = "not_found"  # no such session: close 4004
FORBIDDEN = "forbidden"  # bad token or role: close 4003
CLOSED = "closed"  # the host exited the session: close 4000


class SessionDirectory(Protocol):
    """The platform's answers to the consumer (sync: run in a DB thread)."""

    def identify(self, code: str, role: str, token: str) -> tuple[str, int | None] | str:
        """(role, player_id) of a socket's query, or NOT_FOUND / FORBIDDEN / CLOSED."""

    def greeting(self, code: str, player_id: int | None) -> tuple[str, str | None]:
        """What a socket starts from, read from the database at once: the
        `session.state` message text (with the seq of the session's last
        event) and, for a player who has had private messages, their
        `player.state` text (with their last pseq), else None."""


@dataclass(frozen=True)
class Sender:
    """Who sent a client message: their session, role and player id (None: host)."""

    code: str
    role: str
    player_id: int | None


# async handler(sender, message) -> the reply for the sender, or None.
Handler = Callable[[Sender, dict], Awaitable["dict | None"]]


class _Hooks:
    """The installed directory and handlers (one per process)."""

    def __init__(self) -> None:
        self.directory: SessionDirectory | None = None
        self.handlers: dict[str, Handler] = {}


_hooks = _Hooks()


def install_directory(directory: SessionDirectory) -> None:
    _hooks.directory = directory


def directory() -> SessionDirectory | None:
    return _hooks.directory


def install_handler(client_type: str, handler: Handler) -> None:
    """Run `handler` for every valid client message of `client_type`."""
    _hooks.handlers[client_type] = handler


def handler_for(client_type: str) -> Handler | None:
    return _hooks.handlers.get(client_type)
