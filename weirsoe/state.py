"""What the quiz shows: its part of `session.state`, each player's own view,
and the round's results."""

from __future__ import annotations

from lobby.events import PLAYER_ID
from lobby.models import FINISHED, GameSession, Player
from realtime.schema import Field, array, integer, nullable, obj, string

from . import events, rules
from .models import Round

LIE, QUESTION, GUESS, SCORES, SCOREBOARD = "lie", "question", "guess", "scores", "scoreboard"

# The fields of public_state() and private_state() (the contracts; the tests
# check every state against them).
STATE_FIELDS = (
    Field(
        "question",
        nullable(obj(Field("prompt", string()), Field("category", string()))),
        doc="from lie to scoreboard",
    ),
    Field("answers", nullable(array(events.ANSWER)), doc="from guess on"),
    Field("lies_submitted", array(PLAYER_ID), doc="who has written a lie"),
    Field("guesses_submitted", array(PLAYER_ID), doc="who has guessed"),
    Field("results", nullable(events.RESULTS), doc="in scores and scoreboard"),
    Field(
        "reveal",
        nullable(
            obj(
                Field("steps", array(obj(*events.FIELDS[events.REVEAL_STEP]))),
                Field("reveal_at", integer()),
            )
        ),
        doc="in scores: the reveal's steps",
    ),
    Field("time_limit", integer(0), required=False, doc="seconds, in lie, question and guess"),
)
PRIVATE_FIELDS = (
    Field("lie", nullable(string()), doc="your lie this round"),
    Field("own_answer_ids", array(integer(1)), doc="the answers that are your lie"),
    Field("guess", nullable(integer(1)), doc="the answer you picked"),
)


def current_round(session: GameSession) -> Round | None:
    if session.round_number == 0:
        return None
    return session.game_rounds.select_related("question").get(number=session.round_number)


def public_answers(game_round: Round) -> list[dict]:
    return [{"id": a.number, "text": a.text} for a in game_round.answers.all()]


def public_state(session: GameSession) -> dict:
    """The quiz's fields of `session.state` (docs/protocol.md)."""
    state = {
        "question": None,
        "answers": None,
        "lies_submitted": [],
        "guesses_submitted": [],
        "results": None,
        "reveal": None,
    }
    game_round = current_round(session)
    if game_round is None or session.phase == FINISHED:
        return state
    question = game_round.question
    state["question"] = {"prompt": question.prompt, "category": question.category}
    state["lies_submitted"] = sorted(game_round.lies.values_list("player_id", flat=True))
    state["guesses_submitted"] = sorted(game_round.guesses.values_list("player_id", flat=True))
    if session.phase in (LIE, QUESTION):
        state["time_limit"] = session.settings["lie_time_limit"]
    if session.phase == GUESS:
        state["time_limit"] = session.settings["guess_time_limit"]
    if session.phase in (GUESS, SCORES, SCOREBOARD):
        state["answers"] = public_answers(game_round)
    if session.phase in (SCORES, SCOREBOARD):
        state["results"] = round_results(session, game_round, {})
    if session.phase == SCORES:
        state["reveal"] = game_round.reveal
    return state


def private_state(session: GameSession, player: Player) -> dict:
    """What only this player may see: their lie, its answer ids, their guess."""
    view = {"lie": None, "own_answer_ids": [], "guess": None}
    game_round = current_round(session)
    if game_round is None or session.phase == FINISHED:
        return view
    lie = game_round.lies.filter(player=player).first()
    view["lie"] = lie.text if lie else None
    view["own_answer_ids"] = list(
        game_round.answers.filter(authors=player).values_list("number", flat=True)
    )
    guess = game_round.guesses.filter(player=player).select_related("answer").first()
    view["guess"] = guess.answer.number if guess else None
    return view


def guess_outcomes(game_round: Round) -> list[rules.GuessOutcome]:
    """Every guess of the round, as the scoring rule reads them."""
    return [
        rules.GuessOutcome(
            guesser_id=g.player_id,
            answer_id=g.answer.number,
            is_truth=g.answer.is_truth,
            author_ids=tuple(g.answer.authors.values_list("id", flat=True)),
        )
        for g in game_round.guesses.select_related("answer")
    ]


def round_results(session: GameSession, game_round: Round, points: dict[int, int]) -> dict:
    """The scores payload: truth, every answer with authors and guessers, deltas.

    `points` is this round's award by player id; when it is empty (state
    snapshots after the fact) it is recomputed from the stored guesses.
    """
    players = {p.id: p for p in session.players.all()}
    answers = []
    fooled = []
    truth = None
    for answer in game_round.answers.prefetch_related("authors", "guesses"):
        author_ids = sorted(a.id for a in answer.authors.all())
        guesser_ids = sorted(g.player_id for g in answer.guesses.all())
        answers.append(
            {
                "id": answer.number,
                "text": answer.text,
                "is_truth": answer.is_truth,
                "authors": [_who(players[i]) for i in author_ids],
                "guessed_by": [_who(players[i]) for i in guesser_ids],
            }
        )
        if answer.is_truth:
            truth = {"id": answer.number, "text": answer.text}
        for guesser in guesser_ids:
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
        points = rules.score_round(game_round.number, guess_outcomes(game_round))
    deltas = [
        {"player_id": p.id, "name": p.name, "delta": points.get(p.id, 0), "score": p.score}
        for p in sorted(players.values(), key=lambda p: p.id)
        if p.left_at is None
    ]
    return {
        "round": game_round.number,
        "truth": truth,
        "answers": answers,
        "deltas": deltas,
        "fooled": fooled,
    }


def _who(player: Player) -> dict:
    return {"player_id": player.id, "name": player.name}
