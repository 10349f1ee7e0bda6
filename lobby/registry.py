"""The registered games: one GameDriver per game, registered at start-up.

A game's AppConfig.ready() calls `register(MyDriver())`. Registering checks
the driver's tables (so a mistake fails at start-up, not mid-game) and
declares its events to the transport; listeners (the platform's socket
side, lobby.sockets) then declare its client messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.utils.translation import gettext

from realtime import protocol

from . import events, models
from .driver import ANYONE, HOST, PLAYER, GameDriver
from .errors import bad_request

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
PLATFORM_PHASES = (models.LOBBY, models.SCOREBOARD, models.FINISHED)
# REST actions every game has (lobby.actions); a game's may not reuse them.
PLATFORM_ACTIONS = ("join", "leave", "start-round", "finish", "pause", "resume", "exit")


class GameRegistry:
    """Games by name, in registration order."""

    def __init__(self) -> None:
        self.drivers: dict[str, GameDriver] = {}
        self.listeners: list[Callable[[GameDriver], None]] = []

    def register(self, driver: GameDriver) -> GameDriver:
        check_driver(driver)
        current = self.drivers.get(driver.name)
        if current is not None:
            if type(current) is type(driver):
                return current  # ready() ran twice (e.g. tests): keep the first
            raise ValueError(f"a game named {driver.name!r} is already registered")
        for event_type, fields in driver.events.items():
            after = driver.after.get(event_type, "")
            protocol.declare_event(driver.name, event_type, fields, after=after)
        for event_type, fields in driver.private_events.items():
            after = driver.after.get(event_type, "")
            protocol.declare_event(driver.name, event_type, fields, private=True, after=after)
        public = events.state_fields(driver.name, driver.state_fields)
        protocol.declare_state(driver.name, public, driver.private_fields)
        self.drivers[driver.name] = driver
        for listener in self.listeners:
            listener(driver)
        return driver

    def listen(self, listener: Callable[[GameDriver], None]) -> None:
        """Call `listener(driver)` for every game registered, now and later."""
        self.listeners.append(listener)
        for driver in self.drivers.values():
            listener(driver)


_registry = GameRegistry()


def register(driver: GameDriver) -> GameDriver:
    """Register a game (call it from the game's AppConfig.ready())."""
    return _registry.register(driver)


def listen(listener: Callable[[GameDriver], None]) -> None:
    _registry.listen(listener)


def games() -> list[GameDriver]:
    """Every registered game, in registration order."""
    return list(_registry.drivers.values())


def default_game() -> str:
    """The game of a create call that names none (existing clients: the quiz)."""
    return getattr(settings, "PARTYHUB_DEFAULT_GAME", "weirsoe")


def game(name) -> GameDriver:
    """The driver of game `name`; GameError 400 UNKNOWN_GAME if none."""
    driver = _registry.drivers.get(name) if isinstance(name, str) else None
    if driver is None:
        known = ", ".join(_registry.drivers) or "none"
        message = gettext("There is no game %(name)s (games: %(known)s).")
        raise bad_request("UNKNOWN_GAME", message % {"name": repr(name), "known": known})
    return driver


def of(session: models.GameSession) -> GameDriver:
    """The driver of a session's game (a session of an unregistered game is an error)."""
    driver = _registry.drivers.get(session.game)
    if driver is None:
        raise LookupError(f"session {session.code} plays {session.game!r}, which is not installed")
    return driver


def check_driver(driver: GameDriver) -> None:
    """Raise ValueError when a driver's tables are inconsistent."""
    where = f"game {driver.name!r}"
    if not NAME_RE.match(driver.name or ""):
        raise ValueError(f"{where}: a name is 1-32 of a-z, 0-9, _ starting with a letter")
    if not driver.title or not driver.pitch:
        raise ValueError(f"{where}: needs a title and a one-line pitch")
    if not 1 <= driver.min_players <= driver.max_players:
        raise ValueError(f"{where}: needs 1 <= min_players <= max_players")
    names = [s.name for s in driver.settings]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: a setting is listed twice")
    rounds = next((s for s in driver.settings if s.name == "rounds"), None)
    if rounds is None or rounds.kind != "int":
        raise ValueError(f"{where}: its settings need the whole number 'rounds'")
    for setting in driver.settings:
        if setting.kind == "int" and not (
            setting.minimum is not None
            and setting.maximum is not None
            and setting.minimum <= setting.default <= setting.maximum
        ):
            raise ValueError(f"{where}: setting {setting.name!r} needs min <= default <= max")
    phases = [p.name for p in driver.phases]
    if len(set(phases)) != len(phases) or set(phases) & set(PLATFORM_PHASES):
        raise ValueError(f"{where}: phase names must be unique and not {PLATFORM_PHASES}")
    for phase in driver.phases:
        if phase.timed and phase.on_deadline is None:
            raise ValueError(f"{where}: timed phase {phase.name!r} needs on_deadline")
    actions = [a.name for a in driver.actions]
    if len(set(actions)) != len(actions) or set(actions) & set(PLATFORM_ACTIONS):
        raise ValueError(f"{where}: action names must be unique and not {PLATFORM_ACTIONS}")
    for action in driver.actions:
        if action.role not in (HOST, PLAYER, ANYONE):
            raise ValueError(f"{where}: action {action.name!r} has an unknown role")
    if driver.pages is None:
        raise ValueError(f"{where}: needs pages (host and play templates)")
