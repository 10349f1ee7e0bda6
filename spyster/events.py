"""Spyster's events and the payload fields each one carries at least.

Declared to the platform in the driver (spyster.driver). `deadline` is
server time in epoch milliseconds. Nothing public says who the spy is or
where the round takes place before `spyster.round_over`; the location and
role reach each player alone, in `spyster.role` (PRIVATE).
"""

from __future__ import annotations

from lobby.events import DEADLINE, PLAYER_ID, PLAYERS, ROUND, SCORE_DELTA
from realtime.schema import Field, array, boolean, enum, integer, nullable, obj, string

from . import rules

ROUND_STARTED = "spyster.round_started"
ROLE = "spyster.role"
VOTE_STARTED = "spyster.vote_started"
VOTED = "spyster.voted"
VOTE_RESULT = "spyster.vote_result"
FINAL_VOTE_STARTED = "spyster.final_vote_started"
ROUND_OVER = "spyster.round_over"

_VOTE = obj(Field("player_id", PLAYER_ID), Field("agree", boolean()), title="SpysterVote")
_ROLE_ROW = obj(
    Field("player_id", PLAYER_ID),
    Field("name", string()),
    Field("spy", boolean()),
    Field("role", nullable(string()), doc="null for the spy"),
    title="SpysterRoleRow",
)
_SUSPECT = obj(Field("voter_id", PLAYER_ID), Field("suspect_id", PLAYER_ID), title="SpysterSuspect")
LOCATIONS = Field("locations", array(string()), doc="every location of the session's deck")
VOTE_ROW = _VOTE

FIELDS: dict[str, tuple[Field, ...]] = {
    ROUND_STARTED: (
        ROUND,
        Field("rounds", integer(1)),
        Field("time_limit", integer(0), doc="seconds"),
        DEADLINE,
        LOCATIONS,
        PLAYERS,
        Field("first_player_id", PLAYER_ID, doc="who asks first"),
    ),
    # An accusation: the round's clock stops (clock_ms left) while everyone
    # but the accused votes (voters; the accuser's yes is counted already).
    VOTE_STARTED: (
        ROUND,
        Field("accuser_id", PLAYER_ID),
        Field("accused_id", PLAYER_ID),
        Field("voters", array(PLAYER_ID), doc="everyone but the accused"),
        DEADLINE,
        Field("clock_ms", integer(0), doc="what the round's clock had left"),
    ),
    # Someone voted (not what).
    VOTED: (ROUND, Field("player_id", PLAYER_ID), Field("kind", enum("accusation", "final"))),
    VOTE_RESULT: (
        ROUND,
        Field("accuser_id", PLAYER_ID),
        Field("accused_id", PLAYER_ID),
        Field("result", enum(rules.PASSED, rules.REJECTED, rules.TIMED_OUT, rules.CANCELLED)),
        Field("votes", array(_VOTE)),
        Field("deadline", nullable(integer()), doc="the round's clock again; null when passed"),
    ),
    FINAL_VOTE_STARTED: (ROUND, DEADLINE, PLAYERS),
    ROUND_OVER: (
        ROUND,
        Field("spy_id", PLAYER_ID),
        Field("spy_name", string()),
        Field("location", string()),
        Field("winner", enum(*sorted(set(rules.ENDINGS.values())))),
        Field("how", enum(*rules.ENDINGS)),
        Field("accuser_id", nullable(PLAYER_ID)),
        Field("accused_id", nullable(PLAYER_ID)),
        Field("guess", nullable(string()), doc="the spy's guess, if any"),
        Field("roles", array(_ROLE_ROW)),
        Field("suspects", array(_SUSPECT), doc="the final vote"),
        Field("deltas", array(SCORE_DELTA)),
    ),
}

PRIVATE_FIELDS: dict[str, tuple[Field, ...]] = {
    # To each player alone at the start of a round.
    ROLE: (
        ROUND,
        Field("spy", boolean()),
        Field("location", nullable(string()), doc="null for the spy"),
        Field("role", nullable(string()), doc="null for the spy"),
        LOCATIONS,
    ),
}

AFTER = {
    ROUND_STARTED: "`start-round`",
    ROLE: "`start-round`, to each player alone",
    VOTE_STARTED: "`accuse`",
    VOTED: "`votes` or `suspect` (who voted, not what)",
    VOTE_RESULT: "the last vote, the first no, or the vote's deadline",
    FINAL_VOTE_STARTED: "the round's deadline",
    ROUND_OVER: "the end of a round; then `phase.scoreboard`",
}
