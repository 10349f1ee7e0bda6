"""Hunch: everyone holds a secret number; guess the total of them all.

The small game of docs/games.md, whole: one phase per round ("guessing",
with a countdown), one action (a guess, over REST or the socket), a private
event (your secret number), a public result, scores and awards. It keeps its
data in the platform's JSON fields (GameSession.data, Player.data); its one
model is its part of a saved preset (hunch.models), derived from its
settings table.
"""

from __future__ import annotations

from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from lobby.awards import CROWD_FAVOURITE
from lobby.context import Context
from lobby.driver import PLAYER, Action, Award, GameDriver, Pages, Phase
from lobby.errors import conflict
from lobby.events import DEADLINE, PLAYER_ID, ROUND, TIME_LIMIT
from lobby.models import FINISHED, SCOREBOARD, GameSession, Player
from realtime.schema import Field, array, integer, nullable, obj, string

from . import rules
from .models import HunchPreset
from .settings_table import SETTINGS

GUESSING = "guessing"

# Events: name -> the payload fields each one must carry.
ROUND_STARTED = "hunch.round_started"
GUESSED = "hunch.guessed"
ROUND_OVER = "hunch.round_over"
SECRET = "hunch.secret"  # private: to one player

# A player's line of `hunch.round_over`.
RESULT_ROW = obj(
    Field("player_id", PLAYER_ID),
    Field("name", string()),
    Field("secret", nullable(integer(0))),
    Field("guess", nullable(integer(0)), doc="null if they did not guess"),
    Field("points", integer(0)),
    title="HunchResultRow",
)


def start_round(ctx: Context) -> None:
    """Deal everyone a secret number, privately, and open the guessing."""
    players = ctx.players()
    secrets = rules.deal([p.id for p in players])
    for player in players:
        player.data = {**player.data, "secret": secrets[player.id], "guess": None}
        player.save(update_fields=["data"])
    seconds = ctx.settings["guess_time"]
    ctx.enter(GUESSING, seconds * 1000)
    ctx.emit(
        ROUND_STARTED,
        {
            "round": ctx.round,
            "rounds": ctx.session.rounds,
            "time_limit": seconds,
            "deadline": ctx.session.deadline_ms,
            "max_total": rules.SECRET_MAX * len(players),
        },
    )
    for player in players:
        ctx.tell(player, SECRET, {"round": ctx.round, "secret": player.data["secret"]})


def guess(ctx: Context, body: dict) -> dict:
    """A player's one guess of the total this round."""
    total = body["total"]  # a whole number, 0 or more (the action's fields)
    ctx.require_phase(GUESSING)
    player = ctx.player
    if player.data.get("guess") is not None:
        raise conflict("ALREADY_GUESSED", gettext("You already guessed this round."))
    player.data = {**player.data, "guess": total}
    player.save(update_fields=["data"])
    ctx.refresh_private(player)  # their other phones see the guess too
    ctx.emit(GUESSED, {"round": ctx.round, "player_id": player.id, "guessed": guessed(ctx.session)})
    if len(guessed(ctx.session)) == len(ctx.players()):
        ctx.advance()  # everyone is in: no need to wait for the deadline
    return {"accepted": True, "round": ctx.round, "total": total}


def reveal(ctx: Context) -> None:
    """The guessing is over (deadline, or everyone guessed): score, show, scoreboard."""
    players = ctx.players()
    total = sum(p.data.get("secret", 0) for p in players)
    guesses = {p.id: p.data["guess"] for p in players if p.data.get("guess") is not None}
    points = rules.score(guesses, total, ctx.round)
    ctx.add_points(points)
    for player in players:
        if player.id in points:
            wins = player.data.get("closest", 0) + 1
            exact = player.data.get("bullseye", 0) + (guesses[player.id] == total)
            player.data = {**player.data, "closest": wins, "bullseye": exact}
            player.save(update_fields=["data"])
    result = {
        "round": ctx.round,
        "total": total,
        "players": [
            {
                "player_id": p.id,
                "name": p.name,
                "secret": p.data.get("secret"),
                "guess": p.data.get("guess"),
                "points": points.get(p.id, 0),
            }
            for p in players
        ],
    }
    ctx.session.data = {**ctx.session.data, "last_round": result}
    ctx.emit(ROUND_OVER, result)
    ctx.show_scoreboard()


def guessed(session: GameSession) -> list[int]:
    """Who has guessed this round (player ids)."""
    players = session.players.active().order_by("id")
    return [p.id for p in players if p.data.get("guess") is not None]


class HunchDriver(GameDriver):
    name = "hunch"
    title = "Hunch"
    pitch = _("Everyone holds a secret number: guess the total of them all.")
    min_players = 2
    max_players = 10
    settings = SETTINGS
    preset_model = HunchPreset
    phases = (Phase(GUESSING, "Guessing", timed=True, on_deadline=reveal),)
    actions = (
        Action(
            "guess",
            guess,
            role=PLAYER,
            status=201,
            message="hunch.guess",
            fields=(Field("total", integer(0), doc="your guess of the total"),),
        ),
    )
    events = {
        ROUND_STARTED: (
            ROUND,
            Field("rounds", integer(1)),
            TIME_LIMIT,
            DEADLINE,
            Field("max_total", integer(0), doc="the largest total there can be"),
        ),
        GUESSED: (
            ROUND,
            Field("player_id", PLAYER_ID, doc="who guessed (not the value)"),
            Field("guessed", array(PLAYER_ID), doc="every id that has"),
        ),
        ROUND_OVER: (ROUND, Field("total", integer(0)), Field("players", array(RESULT_ROW))),
    }
    private_events = {SECRET: (ROUND, Field("secret", integer(0), doc="yours alone"))}
    state_fields = (
        Field("guessed", array(PLAYER_ID), doc="who has guessed this round"),
        Field(
            "last_round",
            nullable(obj(*events[ROUND_OVER])),
            doc="hunch.round_over's payload, in scoreboard and finished",
        ),
    )
    private_fields = (
        Field("secret", nullable(integer(0)), doc="your secret number this round"),
        Field("guess", nullable(integer(0)), doc="your guess this round"),
    )
    after = {
        ROUND_STARTED: "`start-round`",
        GUESSED: "`guess`",
        ROUND_OVER: "the deadline, or the last guess; then `phase.scoreboard`",
        SECRET: "`start-round`, to each player alone",
    }
    awards = (
        Award(
            "closest",
            gettext_noop("Sharpest hunch"),
            gettext_noop("Closest to the total the most rounds."),
        ),
        Award(
            "bullseye",
            gettext_noop("Bullseye"),
            gettext_noop("Guessed the exact total the most often."),
        ),
        CROWD_FAVOURITE,
    )
    pages = Pages(host="hunch/host.html", play="hunch/play.html")

    def start_round(self, ctx: Context) -> None:
        start_round(ctx)

    def public_state(self, session: GameSession) -> dict:
        state = {"guessed": guessed(session) if session.phase == GUESSING else []}
        over = session.phase in (SCOREBOARD, FINISHED)
        state["last_round"] = session.data.get("last_round") if over else None
        return state

    def private_state(self, session: GameSession, player: Player) -> dict:
        return {"secret": player.data.get("secret"), "guess": player.data.get("guess")}

    def award_counts(self, session: GameSession) -> dict[str, dict[int, int]]:
        players = session.players.all()
        return {
            award: {p.id: p.data.get(award, 0) for p in players}
            for award in ("closest", "bullseye")
        }

    def on_leave(self, ctx: Context, player: Player) -> None:
        if ctx.phase == GUESSING and len(guessed(ctx.session)) == len(ctx.players()):
            ctx.advance()
