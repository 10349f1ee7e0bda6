"""Context: what a game's code works with during one action or deadline.

The platform makes one per action (lobby.actions) and per deadline
(lobby.flow), inside the transaction that holds the session's row lock, and
hands it to the game's action functions, phase `on_deadline` functions and
hooks. The game reads and changes its data, then tells the context what to
send (`emit`, `tell`) and which phase comes next (`enter`); the platform
saves the session and, once the transaction has committed, publishes
everything in order (lobby.publish).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import F
from django.utils.translation import gettext as _

from realtime import protocol

from . import phases, rounds, services, timers
from .driver import GameDriver
from .errors import GameError
from .models import GameSession, Player


@dataclass(frozen=True)
class Event:
    """One message to publish: to everyone, or privately `to` one player id.

    A private `player.state` with no payload is the player's private state,
    computed when it is published.
    """

    type: str
    payload: dict | None
    to: int | None = None


@dataclass
class Outcome:
    """What an action leaves to do after its commit: answer, publish, close."""

    status: int
    body: dict
    events: list[Event] = field(default_factory=list)
    # Close every socket of the session with this code (exit).
    close_code: int | None = None
    # (player id, token digest) of players who joined: their sockets may connect.
    joined: list[tuple[int, str]] = field(default_factory=list)
    # (player id, token digest) of players who left: their sockets close (4001).
    left: list[tuple[int, str]] = field(default_factory=list)


class Context:
    """One action (or deadline) of one session, for the game's code."""

    def __init__(
        self, session: GameSession, driver: GameDriver, actor: services.Actor | None = None
    ) -> None:
        self.session = session
        self.driver = driver
        self.actor = actor
        self.events: list[Event] = []
        self.close_code: int | None = None
        self.joined: list[tuple[int, str]] = []
        self.left: list[tuple[int, str]] = []

    def outcome(self, status: int, body: dict) -> Outcome:
        """What is left to do once the transaction commits (lobby.publish)."""
        return Outcome(status, body, self.events, self.close_code, self.joined, self.left)

    # --- who and what ---------------------------------------------------------

    @property
    def player(self) -> Player | None:
        """The player who called (None for the host and for timers)."""
        return self.actor.player if self.actor else None

    @property
    def settings(self) -> dict:
        return self.session.settings

    @property
    def phase(self) -> str:
        return self.session.phase

    @property
    def round(self) -> int:
        return self.session.round_number

    def players(self) -> list[Player]:
        """The players still in the game, in join order."""
        return services.active_players(self.session)

    def require_phase(self, *names: str) -> None:
        """409 WRONG_PHASE unless the game is in one of these phases."""
        services.require_phase(self.session, *names)

    def now_ms(self) -> int:
        return timers.now_ms()

    # --- what to send ---------------------------------------------------------

    def emit(self, event_type: str, payload: dict) -> None:
        """Broadcast `event_type` to everyone in the session after the commit.

        It must be one of the game's `events` (or the platform's), with the
        fields it declares: checked now, so a mistake fails the action.
        """
        protocol.check_event(event_type, payload, self.driver.name)
        self.events.append(Event(event_type, payload))

    def tell(self, player: Player | int, event_type: str, payload: dict) -> None:
        """Send a private event to every socket of one player only.

        It must be one of the game's `private_events`. The player's private
        state (GameDriver.private_state) is stored with it, so a reload
        gets it back from either server; nobody else sees either, and the
        session's `seq` does not move.
        """
        protocol.check_event(event_type, payload, self.driver.name, private=True)
        self.events.append(Event(event_type, payload, _player_id(player)))

    def refresh_private(self, player: Player | int) -> None:
        """Send the player their private state (`player.state`) after the commit:
        for a change of private state that no private event of yours carries."""
        self.events.append(Event(protocol.PLAYER_STATE, None, _player_id(player)))

    # --- phases and scores -------------------------------------------------------

    def enter(self, phase: str, countdown_ms: int | None = None, keep_countdown: bool = False):
        """Move to `phase` of the game's phase table.

        `countdown_ms`: its deadline from now (timed phases only; None: no
        deadline). `keep_countdown`: the running countdown goes on (phases
        of one stage, e.g. a lie phase and its question phase).
        """
        spec = phases.spec(self.driver, phase)
        if countdown_ms is not None and not spec.timed:
            raise ValueError(f"phase {phase!r} of {self.driver.name!r} has no deadline")
        self.session.phase = phase
        if not keep_countdown:
            timers.start_countdown(self.session, countdown_ms, spec.timer_stage)

    def add_points(self, points: dict[int, int]) -> None:
        """Add this round's points to players' scores (by player id)."""
        for player_id, gained in points.items():
            if gained:
                Player.objects.filter(id=player_id, session=self.session).update(
                    score=F("score") + gained
                )

    def show_scoreboard(self) -> None:
        """End the round: the platform's scoreboard (phase.scoreboard)."""
        rounds.show_scoreboard(self)

    def finish(self) -> None:
        """End the game: final ranking and awards (phase.game_over)."""
        rounds.finish(self)

    def advance(self) -> None:
        """Run the current phase's `on_deadline` now (e.g. everyone has answered)."""
        spec = phases.spec(self.driver, self.session.phase)
        if spec.on_deadline is None:
            message = _("Phase %(phase)s has no end.") % {"phase": repr(self.session.phase)}
            raise GameError(409, "WRONG_PHASE", message)
        spec.on_deadline(self)


def _player_id(player: Player | int) -> int:
    return player if isinstance(player, int) else player.id
