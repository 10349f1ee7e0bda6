"""Game actions of the Weirsøe Party Protocol.

Each action runs inside the caller's transaction on a session row locked for
update, checks the phase, changes the database and returns the phase event to
broadcast once the transaction has committed. Views stay thin; rules that need
no database live in `lobby.rules`.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import dataclass, field

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction

from realtime import protocol

from . import awards, lifecycle, reveal, rules, timers
from .errors import GameError, bad_request, conflict
from .models import Answer, GameSession, Guess, Lie, Phase, Player, Question, Round

HOST = "host"
PLAYER = "player"


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Actor:
    """Who is calling: the host, or one player, of one session."""

    role: str
    player: Player | None = None


@dataclass
class Outcome:
    """What an action returns: its response body and the events to broadcast."""

    body: dict
    events: list[tuple[str, dict]] = field(default_factory=list)
    # After the events: close every socket of the session with this code.
    close_code: int | None = None


# --- sessions and players -------------------------------------------------


def parse_settings(data: dict) -> dict:
    """Validate the optional per-session settings of the create call."""
    unknown = set(data) - set(rules.SETTINGS) - {"auto_advance"}
    if unknown:
        raise bad_request("INVALID_FIELD", f"Unknown field(s): {', '.join(sorted(unknown))}.")
    values = {}
    for name, (default, low, high) in rules.SETTINGS.items():
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request("INVALID_FIELD", f"'{name}' must be a whole number.")
        if not low <= value <= high:
            raise bad_request("OUT_OF_RANGE", f"'{name}' must be between {low} and {high}.")
        values[name] = value
    auto_advance = data.get("auto_advance", False)
    if not isinstance(auto_advance, bool):
        raise bad_request("INVALID_FIELD", "'auto_advance' must be true or false.")
    values["auto_advance"] = auto_advance
    return values


def create_session(settings: dict) -> tuple[GameSession, str]:
    """Create a session with a fresh unused code; return it and the host token."""
    token = rules.new_token()
    for _ in range(50):
        code = rules.new_code()
        try:
            with transaction.atomic():
                session = GameSession.objects.create(
                    code=code, host_token_digest=token_digest(token), **settings
                )
        except IntegrityError:
            continue
        return session, token
    raise GameError(503, "NO_CODE_AVAILABLE", "Could not find a free session code; try again.")


def lock_session(code: str) -> GameSession:
    """Fetch a session by code, locked for update; 404 if none, 410 if exited."""
    try:
        session = GameSession.objects.select_for_update().get(code=code.upper())
    except GameSession.DoesNotExist:
        raise GameError(404, "SESSION_NOT_FOUND", f"No game with code {code!r}.") from None
    require_open(session)
    return session


def require_open(session: GameSession) -> None:
    """410 once the host has exited the session (until the purge: then 404)."""
    if session.closed:
        raise GameError(410, "SESSION_CLOSED", f"The game {session.code} was closed by its host.")


def require_running(session: GameSession) -> None:
    """409 while the host has paused the game."""
    if session.paused:
        raise conflict("PAUSED", "The game is paused: only resume (or exit) works now.")


def authenticate(session: GameSession, token: str | None) -> Actor:
    """Map a bearer token to the host or a player of `session`.

    401 when there is no token or it belongs to nobody; 403 when it belongs to
    another session.
    """
    if not token:
        raise GameError(401, "AUTH_REQUIRED", "Send 'Authorization: Bearer <token>'.")
    digest = token_digest(token)
    if hmac.compare_digest(digest, session.host_token_digest):
        return Actor(HOST)
    player = Player.objects.filter(session=session, token_digest=digest).first()
    if player is not None and hmac.compare_digest(digest, player.token_digest):
        return Actor(PLAYER, player)
    if (
        GameSession.objects.filter(host_token_digest=digest).exists()
        or Player.objects.filter(token_digest=digest).exists()
    ):
        raise GameError(403, "WRONG_SESSION", "This token belongs to another game.")
    raise GameError(401, "INVALID_TOKEN", "The token is not valid.")


def require(actor: Actor, role: str) -> None:
    """403 unless the actor has `role`."""
    if actor.role != role:
        who = "the host" if role == HOST else "a player"
        raise GameError(403, "WRONG_ROLE", f"Only {who} can do this.")


def require_phase(session: GameSession, *phases: str) -> None:
    """409 unless the session is in one of `phases`."""
    if session.phase not in phases:
        wanted = " or ".join(phases)
        raise conflict(
            "WRONG_PHASE", f"The game is in phase '{session.phase}', this needs '{wanted}'."
        )


def join(session: GameSession, name) -> tuple[Player, str]:
    """Add a player to a session in the lobby; return it and its token."""
    if not isinstance(name, str):
        raise bad_request("INVALID_FIELD", "'name' must be a string.")
    name = rules.clean_name(name)
    if not 1 <= len(name) <= rules.NAME_MAX:
        raise bad_request("INVALID_NAME", f"A name has 1 to {rules.NAME_MAX} characters.")
    require_phase(session, Phase.LOBBY)
    if session.players.count() >= rules.MAX_PLAYERS:
        raise conflict("SESSION_FULL", f"A game has at most {rules.MAX_PLAYERS} players.")
    name_key = name.casefold()
    if session.players.filter(name_key=name_key).exists():
        raise conflict("NAME_TAKEN", f"The name {name!r} is taken in this game.")
    token = rules.new_token()
    try:
        with transaction.atomic():
            player = Player.objects.create(
                session=session, name=name, name_key=name_key, token_digest=token_digest(token)
            )
    except IntegrityError:
        raise conflict("NAME_TAKEN", f"The name {name!r} is taken in this game.") from None
    session.save(update_fields=["updated_at"])  # activity, for the purge
    return player, token


def joined_event(session: GameSession, player: Player) -> tuple[str, dict]:
    return protocol.PLAYER_JOINED, {
        "player_id": player.id,
        "name": player.name,
        "players": players_payload(session),
    }


# --- state ----------------------------------------------------------------


def players_payload(session: GameSession) -> list[dict]:
    return [
        {"player_id": p.id, "name": p.name, "score": p.score}
        for p in session.players.all().order_by("id")
    ]


def ranking(session: GameSession) -> list[dict]:
    return rules.rank([(p.id, p.name, p.score) for p in session.players.all()])


def current_round(session: GameSession) -> Round | None:
    if session.round_number == 0:
        return None
    return session.game_rounds.select_related("question").get(number=session.round_number)


def public_answers(game_round: Round) -> list[dict]:
    return [{"id": a.number, "text": a.text} for a in game_round.answers.all()]


def session_state(session: GameSession) -> dict:
    """The `session.state` payload: everything public about the game now."""
    state = {
        "code": session.code,
        "phase": session.phase,
        "round": session.round_number,
        "rounds": session.rounds,
        "settings": {
            "rounds": session.rounds,
            "lie_time_limit": session.lie_time_limit,
            "guess_time_limit": session.guess_time_limit,
            "auto_advance": session.auto_advance,
        },
        "deadline": session.deadline_ms,
        "paused": session.paused,
        "remaining_ms": session.remaining_ms if session.paused else None,
        "players": players_payload(session),
        "question": None,
        "answers": None,
        "lies_submitted": [],
        "guesses_submitted": [],
        "results": None,
        "reveal": None,
        "ranking": None,
    }
    game_round = current_round(session)
    if game_round is not None and session.phase != Phase.FINISHED:
        question = game_round.question
        state["question"] = {"prompt": question.prompt, "category": question.category}
        state["lies_submitted"] = sorted(game_round.lies.values_list("player_id", flat=True))
        state["guesses_submitted"] = sorted(game_round.guesses.values_list("player_id", flat=True))
        if session.phase in (Phase.LIE, Phase.QUESTION):
            state["time_limit"] = session.lie_time_limit
        if session.phase == Phase.GUESS:
            state["time_limit"] = session.guess_time_limit
        if session.phase in (Phase.GUESS, Phase.SCORES, Phase.SCOREBOARD):
            state["answers"] = public_answers(game_round)
        if session.phase in (Phase.SCORES, Phase.SCOREBOARD):
            state["results"] = round_results(session, game_round, {})
        if session.phase == Phase.SCORES:
            state["reveal"] = game_round.reveal
    if session.phase in (Phase.SCOREBOARD, Phase.FINISHED):
        state["ranking"] = ranking(session)
    if session.phase == Phase.FINISHED:
        state["awards"] = awards.game_awards(session)
    return state


def player_view(session: GameSession, player: Player) -> dict:
    """What only this player may see: their lie, its answer ids, their guess."""
    game_round = current_round(session)
    view = {"player_id": player.id, "name": player.name, "score": player.score}
    view.update({"lie": None, "own_answer_ids": [], "guess": None})
    if game_round is None or session.phase == Phase.FINISHED:
        return view
    lie = game_round.lies.filter(player=player).first()
    view["lie"] = lie.text if lie else None
    view["own_answer_ids"] = list(
        game_round.answers.filter(authors=player).values_list("number", flat=True)
    )
    guess = game_round.guesses.filter(player=player).select_related("answer").first()
    view["guess"] = guess.answer.number if guess else None
    return view


# --- the round ------------------------------------------------------------


def start_round(session: GameSession) -> Outcome:
    """Lobby or scoreboard -> lie: pick an unused question, open lie writing."""
    require_phase(session, Phase.LOBBY, Phase.SCOREBOARD)
    if session.players.count() < rules.MIN_PLAYERS:
        raise conflict("NOT_ENOUGH_PLAYERS", f"At least {rules.MIN_PLAYERS} players must join.")
    if session.round_number >= session.rounds:
        raise conflict("NO_MORE_ROUNDS", "That was the last round: finish the game.")
    used = session.game_rounds.values_list("question_id", flat=True)
    candidates = list(Question.objects.exclude(id__in=used).values_list("id", flat=True))
    if not candidates:
        raise conflict("NO_QUESTIONS_LEFT", "The question bank has no unused question left.")
    question = Question.objects.get(id=random.SystemRandom().choice(candidates))
    session.round_number += 1
    session.phase = Phase.LIE
    timers.start_countdown(session, session.lie_time_limit * 1000)
    session.save(update_fields=["round_number", "phase", "updated_at", *timers.FIELDS])
    Round.objects.create(session=session, number=session.round_number, question=question)
    payload = {
        "round": session.round_number,
        "rounds": session.rounds,
        "prompt": question.prompt,
        "category": question.category,
        "time_limit": session.lie_time_limit,
        "deadline": session.deadline_ms,
    }
    return _phase_outcome(session, protocol.LIE_STARTED, payload)


def show_question(session: GameSession) -> Outcome:
    """Lie -> question: the question goes up on the big screen."""
    require_phase(session, Phase.LIE)
    game_round = current_round(session)
    session.phase = Phase.QUESTION
    session.save(update_fields=["phase", "updated_at"])
    payload = {
        "round": session.round_number,
        "question": game_round.question.prompt,
        "category": game_round.question.category,
    }
    return _phase_outcome(session, protocol.QUESTION_SHOWN, payload)


def submit_lie(session: GameSession, player: Player, text) -> Outcome:
    """Store or replace a player's lie for the current round."""
    if not isinstance(text, str):
        raise bad_request("INVALID_FIELD", "'text' must be a string.")
    text = " ".join(text.split())
    if not 1 <= len(text) <= rules.LIE_MAX:
        raise bad_request("INVALID_LIE", f"A lie has 1 to {rules.LIE_MAX} characters.")
    normalized = rules.normalize(text)
    if not normalized:
        raise bad_request("INVALID_LIE", "A lie needs at least one letter or digit.")
    require_phase(session, Phase.LIE, Phase.QUESTION)
    game_round = current_round(session)
    if normalized == rules.normalize(game_round.question.answer):
        raise bad_request("LIE_IS_TRUTH", "That is the true answer: write a lie instead.")
    Lie.objects.update_or_create(
        round=game_round, player=player, defaults={"text": text, "normalized": normalized}
    )
    session.save(update_fields=["updated_at"])  # activity, for the purge
    return Outcome({"accepted": True, "round": session.round_number, "text": text})


def mix_answers(session: GameSession) -> Outcome:
    """Question -> guess: merge identical lies, add the truth, shuffle."""
    require_phase(session, Phase.QUESTION)
    game_round = current_round(session)
    groups: dict[str, tuple[str, list[int]]] = {}
    for lie in game_round.lies.all():
        text, authors = groups.setdefault(lie.normalized, (lie.text, []))
        authors.append(lie.player_id)
    choices = [(game_round.question.answer, True, [])]
    choices += [(text, False, authors) for text, authors in groups.values()]
    random.SystemRandom().shuffle(choices)
    for number, (text, is_truth, authors) in enumerate(choices, start=1):
        answer = Answer.objects.create(
            round=game_round, number=number, text=text, is_truth=is_truth
        )
        answer.authors.set(authors)
    session.phase = Phase.GUESS
    timers.start_countdown(session, session.guess_time_limit * 1000)
    session.save(update_fields=["phase", "updated_at", *timers.FIELDS])
    payload = {
        "round": session.round_number,
        "answers": public_answers(game_round),
        "time_limit": session.guess_time_limit,
        "deadline": session.deadline_ms,
    }
    return _phase_outcome(session, protocol.GUESS_STARTED, payload)


def submit_guess(session: GameSession, player: Player, answer_id) -> Outcome:
    """Record a player's one guess of the round."""
    if isinstance(answer_id, bool) or not isinstance(answer_id, int):
        raise bad_request("INVALID_FIELD", "'answer_id' must be a whole number.")
    require_phase(session, Phase.GUESS)
    game_round = current_round(session)
    answer = game_round.answers.filter(number=answer_id).first()
    if answer is None:
        raise bad_request("UNKNOWN_ANSWER", f"There is no answer {answer_id} this round.")
    if answer.authors.filter(id=player.id).exists():
        raise bad_request("OWN_LIE", "You cannot pick your own lie.")
    if game_round.guesses.filter(player=player).exists():
        raise conflict("ALREADY_GUESSED", "You already guessed this round.")
    try:
        with transaction.atomic():
            Guess.objects.create(round=game_round, player=player, answer=answer)
    except IntegrityError:
        raise conflict("ALREADY_GUESSED", "You already guessed this round.") from None
    session.save(update_fields=["updated_at"])  # activity, for the purge
    return Outcome({"accepted": True, "round": session.round_number, "answer_id": answer_id})


def calculate_scores(session: GameSession) -> Outcome:
    """Guess -> scores: award truth finders and liars, escalating by round.

    Broadcasts the step-by-step reveal (phase.reveal_step, one per answer)
    and then phase.scores_calculated, all at once with their `reveal_at`.
    """
    require_phase(session, Phase.GUESS)
    game_round = current_round(session)
    outcomes = [
        rules.GuessOutcome(
            guesser_id=g.player_id,
            answer_id=g.answer.number,
            is_truth=g.answer.is_truth,
            author_ids=tuple(g.answer.authors.values_list("id", flat=True)),
        )
        for g in game_round.guesses.select_related("answer")
    ]
    points = rules.score_round(session.round_number, outcomes)
    for player in session.players.all():
        if points.get(player.id):
            player.score += points[player.id]
            player.save(update_fields=["score"])
    payload = round_results(session, game_round, points)
    step_ms = int(django_settings.PARTYHUB_REVEAL_STEP * 1000)
    now = timers.now_ms()
    game_round.reveal = reveal.build_reveal(payload, now + step_ms, step_ms)
    game_round.save(update_fields=["reveal"])
    payload["reveal_at"] = game_round.reveal["reveal_at"]
    session.phase = Phase.SCORES
    hold_ms = int(django_settings.PARTYHUB_RESULTS_HOLD * 1000)
    timers.start_countdown(session, _auto(session, payload["reveal_at"] - now + hold_ms))
    session.save(update_fields=["phase", "updated_at", *timers.FIELDS])
    payload["deadline"] = session.deadline_ms
    outcome = _phase_outcome(session, protocol.SCORES_CALCULATED, payload)
    steps = [(protocol.REVEAL_STEP, step) for step in game_round.reveal["steps"]]
    outcome.events[:0] = steps
    return outcome


def round_results(session: GameSession, game_round: Round, points: dict[int, int]) -> dict:
    """The scores payload: truth, every answer with authors and guessers, deltas.

    `points` is this round's award by player id; when it is empty (state
    snapshots after the fact) it is recomputed from the stored guesses.
    """
    players = {p.id: p for p in session.players.all()}
    answers = []
    fooled = []
    truth = None
    outcomes = []
    for answer in game_round.answers.prefetch_related("authors", "guesses"):
        author_ids = sorted(a.id for a in answer.authors.all())
        guesser_ids = sorted(g.player_id for g in answer.guesses.all())
        entry = {
            "id": answer.number,
            "text": answer.text,
            "is_truth": answer.is_truth,
            "authors": [_who(players[i]) for i in author_ids],
            "guessed_by": [_who(players[i]) for i in guesser_ids],
        }
        answers.append(entry)
        if answer.is_truth:
            truth = {"id": answer.number, "text": answer.text}
        for guesser in guesser_ids:
            outcomes.append(
                rules.GuessOutcome(guesser, answer.number, answer.is_truth, tuple(author_ids))
            )
            for liar in author_ids:
                fooled.append(
                    {
                        "liar_id": liar,
                        "liar_name": players[liar].name,
                        "victim_id": guesser,
                        "victim_name": players[guesser].name,
                        "answer_id": answer.number,
                    }
                )
    if not points:
        points = rules.score_round(game_round.number, outcomes)
    deltas = [
        {"player_id": p.id, "name": p.name, "delta": points.get(p.id, 0), "score": p.score}
        for p in sorted(players.values(), key=lambda p: p.id)
    ]
    return {
        "round": game_round.number,
        "truth": truth,
        "answers": answers,
        "deltas": deltas,
        "fooled": fooled,
    }


def reveal_scoreboard(session: GameSession) -> Outcome:
    """Scores -> scoreboard: the ranking after this round."""
    require_phase(session, Phase.SCORES)
    session.phase = Phase.SCOREBOARD
    pause_ms = int(django_settings.PARTYHUB_SCOREBOARD_PAUSE * 1000)
    timers.start_countdown(session, _auto(session, pause_ms))
    session.save(update_fields=["phase", "updated_at", *timers.FIELDS])
    payload = {
        "round": session.round_number,
        "rounds": session.rounds,
        "final_round": session.round_number >= session.rounds,
        "ranking": ranking(session),
        "deadline": session.deadline_ms,
    }
    return _phase_outcome(session, protocol.SCOREBOARD, payload)


def finish(session: GameSession) -> Outcome:
    """Scoreboard -> finished: the final ranking."""
    require_phase(session, Phase.SCOREBOARD)
    session.phase = Phase.FINISHED
    lifecycle.end_session(session)
    session.save(update_fields=["phase", "updated_at", "ended_at", *timers.FIELDS])
    payload = {
        "round": session.round_number,
        "ranking": ranking(session),
        "awards": awards.game_awards(session),
    }
    return _phase_outcome(session, protocol.GAME_OVER, payload)


def _auto(session: GameSession, duration_ms: int) -> int | None:
    """A countdown that only auto_advance has (scores, scoreboard): None without it."""
    return duration_ms if session.auto_advance else None


def _who(player: Player) -> dict:
    return {"player_id": player.id, "name": player.name}


def _phase_outcome(session: GameSession, event_type: str, payload: dict) -> Outcome:
    body = {"phase": session.phase, "round": session.round_number, "event": event_type}
    return Outcome(body, [(event_type, payload)])
