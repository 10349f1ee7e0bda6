"""The quiz's round: its actions and what its deadlines do.

Each function gets the platform's Context (lobby.context) inside the
action's transaction, on the session row locked for update: it checks the
phase, changes the quiz's tables, moves the phase on and emits the events.
The phase table that ties them together is in weirsoe.driver.
"""

from __future__ import annotations

import random

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from lobby import text as lobby_text
from lobby.context import Context
from lobby.errors import bad_request, conflict

from . import events, pool, reveal, rules, state
from .models import Answer, Guess, Lie, Question, Round

LIE, QUESTION, GUESS, SCORES = "lie", "question", "guess", "scores"


def start_round(ctx: Context) -> None:
    """The round's first phase (the platform has counted it): pick an unused
    question of the session's packs (weirsoe.pool), open lie writing."""
    session = ctx.session
    used = session.game_rounds.values_list("question_id", flat=True)
    fresh = pool.questions(ctx.settings).exclude(id__in=used)
    candidates = list(fresh.values_list("id", flat=True))
    if not candidates:
        raise conflict("NO_QUESTIONS_LEFT", _("The question packs have no unused question left."))
    question = Question.objects.get(id=random.SystemRandom().choice(candidates))
    lie_time = ctx.settings["lie_time_limit"]
    ctx.enter(LIE, lie_time * 1000)
    Round.objects.create(session=session, number=session.round_number, question=question)
    payload = {
        "round": session.round_number,
        "rounds": session.rounds,
        "prompt": question.prompt,
        "category": question.category,
        "time_limit": lie_time,
        "deadline": session.deadline_ms,
    }
    ctx.emit(events.LIE_STARTED, payload)


def show_question(ctx: Context, body: dict | None = None) -> None:
    """Lie -> question: the question goes up on the big screen (same countdown)."""
    ctx.require_phase(LIE)
    game_round = state.current_round(ctx.session)
    ctx.enter(QUESTION, keep_countdown=True)
    payload = {
        "round": ctx.round,
        "question": game_round.question.prompt,
        "category": game_round.question.category,
    }
    ctx.emit(events.QUESTION_SHOWN, payload)


def submit_lie(ctx: Context, body: dict) -> dict:
    """Store or replace a player's lie for the current round."""
    text = lobby_text.clean(body.get("text"), rules.LIE)
    normalized = rules.normalize(text)
    if not normalized:
        raise bad_request("INVALID_LIE", _("A lie needs at least one letter or digit."))
    ctx.require_phase(LIE, QUESTION)
    game_round = state.current_round(ctx.session)
    if normalized == rules.normalize(game_round.question.answer):
        raise bad_request("LIE_IS_TRUTH", _("That is the true answer: write a lie instead."))
    Lie.objects.update_or_create(
        round=game_round, player=ctx.player, defaults={"text": text, "normalized": normalized}
    )
    advance_if_all_in(ctx)
    return {"accepted": True, "round": game_round.number, "text": text}


def mix_answers(ctx: Context, body: dict | None = None) -> None:
    """Question -> guess: merge identical lies, add the truth, shuffle."""
    ctx.require_phase(QUESTION)
    game_round = state.current_round(ctx.session)
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
    guess_time = ctx.settings["guess_time_limit"]
    ctx.enter(GUESS, guess_time * 1000)
    payload = {
        "round": ctx.round,
        "answers": state.public_answers(game_round),
        "time_limit": guess_time,
        "deadline": ctx.session.deadline_ms,
    }
    ctx.emit(events.GUESS_STARTED, payload)


def submit_guess(ctx: Context, body: dict) -> dict:
    """Record a player's one guess of the round."""
    answer_id = body["answer_id"]  # a whole number (the action's fields)
    ctx.require_phase(GUESS)
    game_round = state.current_round(ctx.session)
    answer = game_round.answers.filter(number=answer_id).first()
    if answer is None:
        message = _("There is no answer %(id)s this round.") % {"id": answer_id}
        raise bad_request("UNKNOWN_ANSWER", message)
    if answer.authors.filter(id=ctx.player.id).exists():
        raise bad_request("OWN_LIE", _("You cannot pick your own lie."))
    if game_round.guesses.filter(player=ctx.player).exists():
        raise conflict("ALREADY_GUESSED", _("You already guessed this round."))
    try:
        with transaction.atomic():
            Guess.objects.create(round=game_round, player=ctx.player, answer=answer)
    except IntegrityError:
        raise conflict("ALREADY_GUESSED", _("You already guessed this round.")) from None
    advance_if_all_in(ctx)
    return {"accepted": True, "round": game_round.number, "answer_id": answer_id}


def calculate_scores(ctx: Context, body: dict | None = None) -> None:
    """Guess -> scores: award truth finders and liars, escalating by round.

    Broadcasts the step-by-step reveal (phase.reveal_step, one per answer)
    and then phase.scores_calculated, all at once with their `reveal_at`.
    """
    ctx.require_phase(GUESS)
    session = ctx.session
    game_round = state.current_round(session)
    points = rules.score_round(session.round_number, state.guess_outcomes(game_round))
    ctx.add_points(points)
    payload = state.round_results(session, game_round, points)
    step_ms = int(django_settings.PARTYHUB_REVEAL_STEP * 1000)
    now = ctx.now_ms()
    game_round.reveal = reveal.build_reveal(payload, now + step_ms, step_ms)
    game_round.save(update_fields=["reveal"])
    payload["reveal_at"] = game_round.reveal["reveal_at"]
    hold_ms = int(django_settings.PARTYHUB_RESULTS_HOLD * 1000)
    countdown = payload["reveal_at"] - now + hold_ms if session.auto_advance else None
    ctx.enter(SCORES, countdown)
    payload["deadline"] = session.deadline_ms
    for step in game_round.reveal["steps"]:
        ctx.emit(events.REVEAL_STEP, step)
    ctx.emit(events.SCORES_CALCULATED, payload)


def reveal_scoreboard(ctx: Context, body: dict | None = None) -> None:
    """Scores -> the platform's scoreboard: the ranking after this round."""
    ctx.require_phase(SCORES)
    ctx.show_scoreboard()


def lie_deadline(ctx: Context) -> None:
    """The lie countdown ran out: the question goes up and the answers are mixed."""
    show_question(ctx)
    mix_answers(ctx)


def advance_if_all_in(ctx: Context) -> None:
    """With auto_advance, end the lie or guess phase once every player has submitted."""
    session = ctx.session
    if not session.auto_advance or session.paused:
        return
    game_round = state.current_round(session)
    if session.phase in (LIE, QUESTION):
        done = game_round.lies.count()
    elif session.phase == GUESS:
        done = game_round.guesses.count()
    else:
        return
    if done >= len(ctx.players()):
        ctx.advance()
