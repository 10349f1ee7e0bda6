"""Spyster's round: its actions and what its deadlines do.

Each function gets the platform's Context (lobby.context) inside the
action's transaction, on the session row locked for update: concurrent
accusations, votes and deadlines are serialised by that lock, so exactly
one of them makes each transition and the others find the phase moved on
(409 WRONG_PHASE) or their vote already counted. (The "once" rules are
also unique constraints in spyster.models, a last line should the lock
ever be missing.) The phase table that ties these together is in
spyster.driver; the rules are spyster.rules.

    playing --accuse--> vote --(no / time out)--> playing (the clock goes on)
       |                  \\--(all yes)--> round over
       |--spy-guess--> round over
       \\--time out--> final_vote --(all voted / time out)--> round over
    round over: spyster.round_over, then the platform's scoreboard.
"""

from __future__ import annotations

import random

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from lobby import services
from lobby import text as user_text
from lobby.context import Context
from lobby.errors import GameError, bad_request, conflict
from lobby.models import Player

from . import deck, events, rules, state
from .models import Accusation, Card, Location, Round, Suspicion, Vote
from .state import FINAL_VOTE, PLAYING, VOTE

# The spy's guess of the location: a name as a location's (lobby.text).
LOCATION_GUESS = user_text.TextRule(
    "location",
    "INVALID_FIELD",
    # Translators: the subject of "%(what)s contains invisible characters." and the like.
    gettext_lazy("A location"),
    rules.NAME_MAX,
)

# Who the spy is must not be predictable from earlier draws: the OS's randomness.
_random = random.SystemRandom()


# --- a round begins -------------------------------------------------------------


def start_round(ctx: Context) -> None:
    """Deal the round: a location not played yet in this game (any once all
    were), a random spy, a role at the location for everyone else; then the
    countdown runs. Each player's card goes to them alone."""
    session = ctx.session
    players = ctx.players()
    location = _pick_location(ctx)
    spy = _random.choice(players)
    ctx.enter(PLAYING, ctx.settings["round_minutes"] * 60_000)
    game_round = Round.objects.create(
        session=session,
        number=session.round_number,
        location=location,
        spy=spy,
        first_player=_random.choice(players),
    )
    roles = list(location.roles)
    _random.shuffle(roles)
    non_spies = [p.id for p in players if p.id != spy.id]
    dealt = rules.deal_roles(roles, non_spies)
    Card.objects.bulk_create(
        Card(round=game_round, player_id=pid, role=role) for pid, role in dealt.items()
    )
    payload = {
        "round": session.round_number,
        "rounds": session.rounds,
        "time_limit": ctx.settings["round_minutes"] * 60,
        "deadline": session.deadline_ms,
        "locations": deck.location_names(session),
        "players": services.players_payload(session),
        "first_player_id": game_round.first_player_id,
    }
    ctx.emit(events.ROUND_STARTED, payload)
    for player in players:
        ctx.tell(player, events.ROLE, state.card(session, game_round, player))
        ctx.refresh_private(player)  # `you` on every socket of theirs, at once


def _pick_location(ctx: Context) -> Location:
    available = deck.locations(ctx.session)
    played = set(ctx.session.spyster_rounds.values_list("location_id", flat=True))
    fresh = [loc for loc in available if loc.id not in played]
    return _random.choice(fresh or available)


# --- accusations -------------------------------------------------------------------


def accuse(ctx: Context, body: dict) -> dict:
    """A player accuses another (once per round): the clock stops and everyone
    else votes. The accuser's own yes is counted at once."""
    suspect_id = body["suspect_id"]  # a whole number (the action's fields)
    ctx.require_phase(PLAYING)
    game_round = state.current_round(ctx.session)
    accused = _other_player(ctx, suspect_id)
    if game_round.accusations.filter(accuser=ctx.player).exists():
        raise conflict("ALREADY_ACCUSED", _("You have already made your accusation this round."))
    accusation = Accusation.objects.create(round=game_round, accuser=ctx.player, accused=accused)
    Vote.objects.create(accusation=accusation, player=ctx.player, agree=True)
    game_round.clock_ms = _clock_left(ctx)
    game_round.save(update_fields=["clock_ms"])
    ctx.enter(VOTE, ctx.settings["vote_seconds"] * 1000)
    payload = {
        "round": ctx.round,
        "accuser_id": ctx.player.id,
        "accused_id": accused.id,
        "voters": state.voter_ids(ctx.session, accusation),
        "deadline": ctx.session.deadline_ms,
        "clock_ms": game_round.clock_ms,
    }
    ctx.emit(events.VOTE_STARTED, payload)
    ctx.refresh_private(ctx.player)
    settle_accusation(ctx)
    return {"accepted": True, "round": ctx.round, "accused_id": accused.id}


def vote(ctx: Context, body: dict) -> dict:
    """A yes or no on the open accusation (once). The first no ends the vote;
    so does the last yes."""
    agree = body["agree"]  # true or false (the action's fields)
    ctx.require_phase(VOTE)
    game_round = state.current_round(ctx.session)
    accusation = state.open_accusation(game_round)
    if accusation.accused_id == ctx.player.id:
        raise GameError(403, "NOT_A_VOTER", _("You are the one accused: the others vote."))
    if accusation.votes.filter(player=ctx.player).exists():
        raise _already_voted(accusation.accuser_id == ctx.player.id)
    Vote.objects.create(accusation=accusation, player=ctx.player, agree=agree)
    _voted(ctx, "accusation")
    settle_accusation(ctx)
    return {"accepted": True, "round": ctx.round, "agree": agree}


def vote_deadline(ctx: Context) -> None:
    """The vote's time ran out: not everyone said yes, so it fails."""
    settle_accusation(ctx, timed_out=True)


def settle_accusation(ctx: Context, timed_out: bool = False) -> None:
    """End the open accusation's vote if its result is known (or time is up,
    or the accused left): the round goes on, or ends when it passed. Only
    the votes of players still in the game count."""
    game_round = state.current_round(ctx.session)
    accusation = state.open_accusation(game_round)
    voters = state.voter_ids(ctx.session, accusation)
    votes = {
        pid: agree
        for pid, agree in accusation.votes.values_list("player_id", "agree")
        if pid in voters
    }
    accused_left = not any(p.id == accusation.accused_id for p in ctx.players())
    result = rules.CANCELLED if accused_left else rules.accusation_result(votes, voters)
    if result is None and timed_out:
        result = rules.TIMED_OUT
    if result is None:
        return
    accusation.result = result
    accusation.save(update_fields=["result"])
    passed = result == rules.PASSED
    if not passed:
        ctx.enter(PLAYING, game_round.clock_ms)
        game_round.clock_ms = None
        game_round.save(update_fields=["clock_ms"])
    payload = {
        "round": ctx.round,
        "accuser_id": accusation.accuser_id,
        "accused_id": accusation.accused_id,
        "result": result,
        "votes": [{"player_id": pid, "agree": agree} for pid, agree in sorted(votes.items())],
        "deadline": None if passed else ctx.session.deadline_ms,
    }
    ctx.emit(events.VOTE_RESULT, payload)
    if passed:
        spy_caught = accusation.accused_id == game_round.spy_id
        how = rules.CAUGHT if spy_caught else rules.FRAMED
        end_round(ctx, game_round, how, accuser_id=accusation.accuser_id)


# --- the spy's guess -------------------------------------------------------------------


def spy_guess(ctx: Context, body: dict) -> dict:
    """The spy names the location (once: right or wrong, the round ends)."""
    name = user_text.clean(body.get("location"), LOCATION_GUESS)
    ctx.require_phase(PLAYING)
    game_round = state.current_round(ctx.session)
    if ctx.player.id != game_round.spy_id:
        raise GameError(403, "NOT_THE_SPY", _("Only the spy can guess the location."))
    key = rules.normalize(name)
    named = next((x for x in deck.locations(ctx.session) if rules.normalize(x.name) == key), None)
    if named is None:
        message = _("%(name)s is not one of the locations.") % {"name": repr(name[:40])}
        raise bad_request("UNKNOWN_LOCATION", message)
    correct = named.id == game_round.location_id
    game_round.guess = named.name
    end_round(ctx, game_round, rules.GUESSED if correct else rules.MISGUESSED)
    return {"accepted": True, "round": ctx.round, "location": named.name, "correct": correct}


# --- when time runs out: the final vote -------------------------------------------------


def start_final_vote(ctx: Context) -> None:
    """The round's time ran out: everyone names a suspect."""
    ctx.require_phase(PLAYING)
    ctx.enter(FINAL_VOTE, ctx.settings["final_vote_seconds"] * 1000)
    payload = {
        "round": ctx.round,
        "deadline": ctx.session.deadline_ms,
        "players": services.players_payload(ctx.session),
    }
    ctx.emit(events.FINAL_VOTE_STARTED, payload)


def suspect(ctx: Context, body: dict) -> dict:
    """A player's suspect in the final vote (once). The vote ends when every
    player still in the game has named one, or when its time runs out."""
    suspect_id = body["suspect_id"]  # a whole number (the action's fields)
    ctx.require_phase(FINAL_VOTE)
    game_round = state.current_round(ctx.session)
    named = _other_player(ctx, suspect_id)
    if game_round.suspicions.filter(voter=ctx.player).exists():
        raise _already_voted(False)
    Suspicion.objects.create(round=game_round, voter=ctx.player, suspect=named)
    _voted(ctx, "final")
    settle_final_vote(ctx)
    return {"accepted": True, "round": ctx.round, "suspect_id": named.id}


def settle_final_vote(ctx: Context, timed_out: bool = False) -> None:
    """Count the final vote once everyone still in the game has voted (or time
    is up: who did not vote named nobody). A strict majority of the players
    naming the spy catches them; anything else, the spy survives."""
    game_round = state.current_round(ctx.session)
    ids = {p.id for p in ctx.players()}
    suspects = dict(game_round.suspicions.values_list("voter_id", "suspect_id"))
    suspects = {voter: named for voter, named in suspects.items() if voter in ids}
    if not timed_out and len(suspects) < len(ids):
        return
    caught = rules.final_vote_catches(suspects, game_round.spy_id, len(ids))
    end_round(ctx, game_round, rules.VOTED_OUT if caught else rules.SURVIVED)


def final_vote_deadline(ctx: Context) -> None:
    settle_final_vote(ctx, timed_out=True)


# --- the end of a round -------------------------------------------------------------------


def end_round(ctx: Context, game_round: Round, how: str, accuser_id: int | None = None) -> None:
    """Score the round by the one rule, reveal everything, show the scoreboard."""
    game_round.how = how
    game_round.accuser_id = accuser_id
    game_round.clock_ms = None
    game_round.non_spy_ids = [p.id for p in ctx.players() if p.id != game_round.spy_id]
    game_round.save()
    ctx.add_points(rules.score(state.outcome(game_round)))
    ctx.emit(events.ROUND_OVER, state.round_result(ctx.session, game_round))
    ctx.show_scoreboard()


def on_leave(ctx: Context, player: Player) -> None:
    """A player left mid-round. The spy: the round ends, nobody scores. The
    accused: their vote is called off. Anyone else: one fewer vote to wait
    for. While the host has paused the game only the spy's leaving changes
    the phase; the vote's deadline after `resume` settles the rest (it
    counts only who is still in)."""
    if ctx.phase not in state.ROUND_PHASES:
        return
    game_round = state.current_round(ctx.session)
    if player.id == game_round.spy_id:
        accusation = state.open_accusation(game_round)
        if accusation is not None:
            Accusation.objects.filter(id=accusation.id).update(result=rules.CANCELLED)
        end_round(ctx, game_round, rules.SPY_LEFT)
    elif ctx.session.paused:
        return
    elif ctx.phase == VOTE:
        settle_accusation(ctx)
    elif ctx.phase == FINAL_VOTE:
        settle_final_vote(ctx)


# --- checks -------------------------------------------------------------------------------


def _other_player(ctx: Context, player_id: int) -> Player:
    """Another player still in this game; 400 for oneself or anyone else."""
    if player_id == ctx.player.id:
        raise bad_request("SELF_ACCUSED", _("Name someone other than yourself."))
    other = next((p for p in ctx.players() if p.id == player_id), None)
    if other is None:
        message = _("There is no player %(id)s in this game.") % {"id": player_id}
        raise bad_request("UNKNOWN_PLAYER", message)
    return other


def _clock_left(ctx: Context) -> int:
    deadline = ctx.session.deadline_ms
    full = ctx.settings["round_minutes"] * 60_000
    return full if deadline is None else max(0, deadline - ctx.now_ms())


def _voted(ctx: Context, kind: str) -> None:
    """Everyone sees that the player voted (not what); the player's sockets, their vote."""
    ctx.emit(events.VOTED, {"round": ctx.round, "player_id": ctx.player.id, "kind": kind})
    ctx.refresh_private(ctx.player)


def _already_voted(accuser: bool) -> GameError:
    if accuser:
        return conflict("ALREADY_VOTED", _("You made the accusation: your yes is counted."))
    return conflict("ALREADY_VOTED", _("You have already voted."))
