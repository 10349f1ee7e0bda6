"""Spyster's events and the payload fields each one carries at least.

Declared to the platform in the driver (spyster.driver). `deadline` is
server time in epoch milliseconds. Nothing public says who the spy is or
where the round takes place before `spyster.round_over`; the location and
role reach each player alone, in `spyster.role` (PRIVATE).
"""

from __future__ import annotations

ROUND_STARTED = "spyster.round_started"
ROLE = "spyster.role"
VOTE_STARTED = "spyster.vote_started"
VOTED = "spyster.voted"
VOTE_RESULT = "spyster.vote_result"
FINAL_VOTE_STARTED = "spyster.final_vote_started"
ROUND_OVER = "spyster.round_over"

FIELDS: dict[str, tuple[str, ...]] = {
    # Also: rounds, time_limit (seconds), first_player_id (who asks first).
    ROUND_STARTED: ("round", "deadline", "locations", "players"),
    # An accusation: the round's clock stops (clock_ms left) while everyone
    # but the accused votes (voters; the accuser's yes is counted already).
    VOTE_STARTED: ("round", "accuser_id", "accused_id", "voters", "deadline", "clock_ms"),
    # Someone voted (not what): kind "accusation" or "final".
    VOTED: ("round", "player_id", "kind"),
    # result: passed | rejected | timed_out | cancelled; votes: [{player_id,
    # agree}]; deadline: the round's clock running again (null when passed).
    VOTE_RESULT: ("round", "accuser_id", "accused_id", "result", "votes", "deadline"),
    FINAL_VOTE_STARTED: ("round", "deadline", "players"),
    # Also: spy_name, accuser_id, accused_id, guess, roles, suspects.
    ROUND_OVER: ("round", "spy_id", "location", "winner", "how", "deltas"),
}

PRIVATE_FIELDS: dict[str, tuple[str, ...]] = {
    # To each player alone at the start of a round. The spy gets spy=true,
    # location and role null; everyone gets the list of locations.
    ROLE: ("round", "spy", "location", "role", "locations"),
}
