"""Spyster as a partyhub game: its tables and hooks.

Secret roles and voting: each round everyone but the spy learns where they
are and who they are there; the spy learns only that they are the spy. The
players question each other out loud; accusations, the spy's guess of the
location, or the final vote when the clock runs out end the round
(spyster/README.md; the rules are spyster.rules, the round spyster.actions).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from lobby.driver import PACK, PLAYER, Action, GameDriver, Option, Pages, Phase
from lobby.models import GameSession, Player
from realtime.schema import Field, boolean, integer, string

from . import actions as play
from . import awards as spy_awards
from . import events as spy_events
from . import rules, state
from .deck import PACKS as DECKS
from .models import SpysterPreset
from .settings_table import SETTINGS

# The phase table. An accusation stops the round's clock (vote has its own
# countdown; the round's goes on with the time that was left); every phase
# ends by itself, so a round always ends.
PHASES = (
    Phase(state.PLAYING, "Questioning", timed=True, on_deadline=play.start_final_vote),
    Phase(state.VOTE, "Accusation vote", timed=True, on_deadline=play.vote_deadline),
    Phase(state.FINAL_VOTE, "Final vote", timed=True, on_deadline=play.final_vote_deadline),
)

OPTIONS = (Option("deck", _("Location deck"), PACK, help=_("None chosen: the built-in deck.")),)

SUSPECT = Field("suspect_id", integer(), what="a player id (a whole number)", doc="another player")
ACTIONS = (
    Action("accuse", play.accuse, role=PLAYER, message="spyster.accuse", fields=(SUSPECT,)),
    Action(
        "votes",
        play.vote,
        role=PLAYER,
        status=201,
        message="spyster.vote",
        fields=(Field("agree", boolean(), doc="yes or no to the open accusation"),),
    ),
    Action(
        "spy-guess",
        play.spy_guess,
        role=PLAYER,
        message="spyster.spy_guess",
        fields=(Field("location", string(), doc="one of the round's locations (the spy only)"),),
    ),
    Action(
        "suspect",
        play.suspect,
        role=PLAYER,
        status=201,
        message="spyster.suspect",
        fields=(SUSPECT,),
    ),
)


class SpysterDriver(GameDriver):
    name = "spyster"
    title = "Spyster"
    pitch = _("One of you is the spy. Ask, bluff and vote before the spy works out where you are.")
    min_players = rules.MIN_PLAYERS
    max_players = rules.MAX_PLAYERS
    settings = SETTINGS
    phases = PHASES
    actions = ACTIONS
    events = spy_events.FIELDS
    private_events = spy_events.PRIVATE_FIELDS
    after = spy_events.AFTER
    state_fields = state.STATE_FIELDS
    private_fields = state.PRIVATE_FIELDS
    awards = spy_awards.AWARDS
    pages = Pages(host="spyster/host.html", play="spyster/play.html")
    options = OPTIONS
    packs = DECKS
    preset_model = SpysterPreset

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
