"""What Spyster shows: its part of `session.state`, each player's secret
card, and a round's result.

The public part is built from fields that are the same whoever the spy is
and wherever the round takes place (tested: spyster/tests/test_secrets.py):
the deck's whole list of locations, who asks first (anyone), who accused
whom and who has voted. The spy, the location and the roles are public only
in a round's result, once it is over.
"""

from __future__ import annotations

from lobby.events import PLAYER_ID, ROUND
from lobby.models import FINISHED, SCOREBOARD, GameSession, Player
from realtime.schema import Field, array, boolean, integer, nullable, obj, string

from . import deck, events, rules
from .models import Accusation, Round

PLAYING, VOTE, FINAL_VOTE = "playing", "vote", "final_vote"
ROUND_PHASES = (PLAYING, VOTE, FINAL_VOTE)

# The fields of public_state() and private_state() (the contracts; the tests
# check every state against them).
STATE_FIELDS = (
    events.LOCATIONS,
    Field("time_limit", integer(0), doc="the round's seconds"),
    Field("first_player_id", nullable(PLAYER_ID), doc="who asks first, during a round"),
    Field("accusations_used", array(PLAYER_ID), doc="who has accused this round"),
    Field(
        "accusation",
        nullable(
            obj(
                Field("accuser_id", PLAYER_ID),
                Field("accused_id", PLAYER_ID),
                Field("voters", array(PLAYER_ID)),
                Field("voted", array(PLAYER_ID)),
            )
        ),
        doc="the open accusation, in vote",
    ),
    Field("clock_ms", nullable(integer(0)), doc="the round's time left, stopped, in vote"),
    Field("final_vote", nullable(obj(Field("voted", array(PLAYER_ID)))), doc="in final_vote"),
    Field(
        "result",
        nullable(obj(*events.FIELDS[events.ROUND_OVER])),
        doc="the last spyster.round_over, on the scoreboard",
    ),
)
PRIVATE_FIELDS = (
    ROUND,
    Field("spy", nullable(boolean()), doc="null outside a round"),
    Field("location", nullable(string()), doc="null for the spy"),
    Field("role", nullable(string()), doc="null for the spy"),
    events.LOCATIONS,
    Field(
        "vote",
        nullable(obj(Field("accuser_id", PLAYER_ID), Field("agree", boolean()))),
        doc="your vote on the open accusation",
    ),
    Field("suspect_id", nullable(PLAYER_ID), doc="your final vote"),
)


def current_round(session: GameSession) -> Round | None:
    if session.round_number == 0:
        return None
    return (
        session.spyster_rounds.select_related("location", "spy")
        .filter(number=session.round_number)
        .first()
    )


def open_accusation(game_round: Round) -> Accusation | None:
    """The accusation being voted on, if any."""
    return game_round.accusations.filter(result="").first()


def voter_ids(session: GameSession, accusation: Accusation) -> list[int]:
    """Who votes on an accusation: every player still in the game but the accused."""
    players = session.players.active().exclude(id=accusation.accused_id)
    return list(players.order_by("id").values_list("id", flat=True))


def public_state(session: GameSession) -> dict:
    """Spyster's fields of `session.state` (spyster/README.md)."""
    view = {
        "locations": deck.location_names(session),
        "time_limit": session.settings["round_minutes"] * 60,
        "first_player_id": None,
        "accusations_used": [],
        "accusation": None,
        "clock_ms": None,
        "final_vote": None,
        "result": None,
    }
    game_round = current_round(session)
    if game_round is None or session.phase == FINISHED:
        return view
    if session.phase in ROUND_PHASES:
        view["first_player_id"] = game_round.first_player_id
        used = game_round.accusations.values_list("accuser_id", flat=True)
        view["accusations_used"] = sorted(used)
    if session.phase == VOTE:
        accusation = open_accusation(game_round)
        if accusation is not None:
            view["accusation"] = {
                "accuser_id": accusation.accuser_id,
                "accused_id": accusation.accused_id,
                "voters": voter_ids(session, accusation),
                "voted": sorted(accusation.votes.values_list("player_id", flat=True)),
            }
        view["clock_ms"] = game_round.clock_ms
    if session.phase == FINAL_VOTE:
        voted = game_round.suspicions.values_list("voter_id", flat=True)
        view["final_vote"] = {"voted": sorted(voted)}
    if session.phase == SCOREBOARD and game_round.how:
        view["result"] = round_result(session, game_round)
    return view


def card(session: GameSession, game_round: Round, player: Player) -> dict:
    """A player's secret card (the `spyster.role` payload): the spy learns
    only that they are the spy; everyone gets the list of locations."""
    is_spy = player.id == game_round.spy_id
    dealt = None if is_spy else game_round.cards.filter(player=player).first()
    return {
        "round": game_round.number,
        "spy": is_spy,
        "location": game_round.location.name if dealt else None,
        "role": dealt.role if dealt else None,
        "locations": deck.location_names(session),
    }


def private_state(session: GameSession, player: Player) -> dict:
    """What only this player may see: their card, their vote on the open
    accusation, their suspect in the final vote."""
    view = {
        "round": 0,
        "spy": None,
        "location": None,
        "role": None,
        "locations": [],
        "vote": None,
        "suspect_id": None,
    }
    game_round = current_round(session)
    if game_round is None or session.phase == FINISHED:
        return view
    view.update(card(session, game_round, player))
    accusation = open_accusation(game_round) if session.phase == VOTE else None
    if accusation is not None:
        vote = accusation.votes.filter(player=player).first()
        if vote is not None:
            # An accuser accuses once a round: (round, accuser) names the accusation.
            view["vote"] = {"accuser_id": accusation.accuser_id, "agree": vote.agree}
    if session.phase == FINAL_VOTE:
        mine = game_round.suspicions.filter(voter=player).first()
        view["suspect_id"] = mine.suspect_id if mine else None
    return view


def outcome(game_round: Round) -> rules.Outcome:
    """How an ended round ended, as the scoring rule reads it."""
    return rules.Outcome(
        how=game_round.how,
        spy_id=game_round.spy_id,
        non_spy_ids=tuple(game_round.non_spy_ids),
        accuser_id=game_round.accuser_id,
    )


def round_result(session: GameSession, game_round: Round) -> dict:
    """The `spyster.round_over` payload: the spy, the location, every card,
    how it ended, and the points (the one scoring rule) with the new scores."""
    players = {p.id: p for p in session.players.all()}
    points = rules.score(outcome(game_round))
    roles = dict(game_round.cards.values_list("player_id", "role"))
    dealt = sorted({*roles, game_round.spy_id})
    passed = game_round.accusations.filter(result=rules.PASSED).first()
    return {
        "round": game_round.number,
        "spy_id": game_round.spy_id,
        "spy_name": players[game_round.spy_id].name,
        "location": game_round.location.name,
        "winner": rules.ENDINGS[game_round.how],
        "how": game_round.how,
        "accuser_id": game_round.accuser_id,
        "accused_id": passed.accused_id if passed else None,
        "guess": game_round.guess or None,
        "roles": [
            {
                "player_id": pid,
                "name": players[pid].name,
                "spy": pid == game_round.spy_id,
                "role": roles.get(pid),
            }
            for pid in dealt
            if pid in players
        ],
        "suspects": [
            {"voter_id": voter, "suspect_id": suspect}
            for voter, suspect in game_round.suspicions.values_list("voter_id", "suspect_id")
        ],
        "deltas": [
            {"player_id": p.id, "name": p.name, "delta": points.get(p.id, 0), "score": p.score}
            for p in sorted(players.values(), key=lambda p: p.id)
            if p.left_at is None
        ],
    }
