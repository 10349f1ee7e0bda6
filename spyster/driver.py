"""Spyster as a partyhub game: its tables and hooks.

Secret roles and voting: each round everyone but the spy learns where they
are and who they are there; the spy learns only that they are the spy. The
players question each other out loud; accusations, the spy's guess of the
location, or the final vote when the clock runs out end the round
(spyster/README.md; the rules are spyster.rules, the round spyster.actions).
"""

from __future__ import annotations

from lobby.driver import PLAYER, Action, GameDriver, Pages, Phase, Setting
from lobby.models import GameSession, Player

from . import actions as play
from . import awards as spy_awards
from . import events as spy_events
from . import rules, state

SETTINGS = (
    Setting("rounds", "Rounds", 5, 1, 20),
    Setting("round_minutes", "Minutes per round", 8, 1, 30, help="Time to question each other."),
    Setting("vote_seconds", "Seconds to vote on an accusation", 45, 10, 300),
    Setting(
        "final_vote_seconds",
        "Seconds for the final vote",
        60,
        10,
        300,
        help="When time is up everyone names a suspect; who has not voted by then names nobody.",
    ),
)

# The phase table. An accusation stops the round's clock (vote has its own
# countdown; the round's goes on with the time that was left); every phase
# ends by itself, so a round always ends.
PHASES = (
    Phase(state.PLAYING, "Questioning", timed=True, on_deadline=play.start_final_vote),
    Phase(state.VOTE, "Accusation vote", timed=True, on_deadline=play.vote_deadline),
    Phase(state.FINAL_VOTE, "Final vote", timed=True, on_deadline=play.final_vote_deadline),
)

ACTIONS = (
    Action("accuse", play.accuse, role=PLAYER, message="spyster.accuse"),
    Action("votes", play.vote, role=PLAYER, status=201, message="spyster.vote"),
    Action("spy-guess", play.spy_guess, role=PLAYER, message="spyster.spy_guess"),
    Action("suspect", play.suspect, role=PLAYER, status=201, message="spyster.suspect"),
)


class SpysterDriver(GameDriver):
    name = "spyster"
    title = "Spyster"
    pitch = "One of you is the spy. Ask, bluff and vote before the spy works out where you are."
    min_players = rules.MIN_PLAYERS
    max_players = rules.MAX_PLAYERS
    settings = SETTINGS
    phases = PHASES
    actions = ACTIONS
    events = spy_events.FIELDS
    private_events = spy_events.PRIVATE_FIELDS
    awards = spy_awards.AWARDS
    pages = Pages(host="spyster/host.html", play="spyster/play.html")

    def start_round(self, ctx) -> None:
        play.start_round(ctx)

    def public_state(self, session: GameSession) -> dict:
        return state.public_state(session)

    def private_state(self, session: GameSession, player: Player) -> dict:
        return state.private_state(session, player)

    def award_counts(self, session: GameSession) -> dict[str, dict[int, int]]:
        return spy_awards.tally(session)

    def on_leave(self, ctx, player: Player) -> None:
        play.on_leave(ctx, player)
