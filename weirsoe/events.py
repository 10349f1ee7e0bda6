"""The quiz's events and their payload fields (the typed table, realtime.schema).

Declared to the platform in the driver (weirsoe.driver); the names keep the
`phase.` prefix clients have always used. `deadline` and `reveal_at` are
server time in epoch milliseconds.
"""

from __future__ import annotations

from lobby.events import (
    DEADLINE,
    GAME_OVER,
    PAUSED,
    PLAYER_ID,
    PLAYER_JOINED,
    RESUMED,
    ROUND,
    SCORE_DELTA,
    SCOREBOARD,
    SESSION_CLOSED,
    TIME_LIMIT,
    WHO,
)
from realtime.schema import Field, array, boolean, integer, nullable, obj, string

LIE_STARTED = "phase.lie_started"
QUESTION_SHOWN = "phase.question_shown"
GUESS_STARTED = "phase.guess_started"
SCORES_CALCULATED = "phase.scores_calculated"
REVEAL_STEP = "phase.reveal_step"

_ANSWER = obj(Field("id", integer(1)), Field("text", string()), title="QuizAnswer")
_ANSWER_SHOWN = obj(
    Field("id", integer(1)),
    Field("text", string()),
    Field("is_truth", boolean()),
    title="QuizRevealedAnswer",
)
_ANSWER_SCORED = obj(
    Field("id", integer(1)),
    Field("text", string()),
    Field("is_truth", boolean()),
    Field("authors", array(WHO)),
    Field("guessed_by", array(WHO)),
    title="QuizScoredAnswer",
)
_POINTS = obj(
    Field("player_id", PLAYER_ID),
    Field("name", string()),
    Field("points", integer()),
    Field("score", integer(), doc="the running score after this step"),
    title="QuizStepPoints",
)
_FOOLED = obj(
    Field("liar_id", PLAYER_ID),
    Field("liar_name", string()),
    Field("victim_id", PLAYER_ID),
    Field("victim_name", string()),
    Field("answer_id", integer(1)),
    title="QuizFooled",
)
REVEAL_AT = Field("reveal_at", integer(), doc="epoch ms when to show it")

TRUTH = Field("truth", obj(Field("id", integer(1)), Field("text", string())))
ANSWERS_SCORED = Field("answers", array(_ANSWER_SCORED))
DELTAS = Field("deltas", array(SCORE_DELTA))
FOOLED = Field("fooled", array(_FOOLED))
# The scores of a round (phase.scores_calculated without its timings, and
# `results` in session.state).
RESULTS = obj(ROUND, TRUTH, ANSWERS_SCORED, DELTAS, FOOLED, title="QuizResults")
ANSWER = _ANSWER

FIELDS: dict[str, tuple[Field, ...]] = {
    LIE_STARTED: (
        ROUND,
        Field("rounds", integer(1)),
        Field("prompt", string(), doc="the question"),
        Field("category", string()),
        TIME_LIMIT,
        DEADLINE,
    ),
    QUESTION_SHOWN: (
        ROUND,
        Field("question", string(), doc="its text"),
        Field("category", string()),
    ),
    GUESS_STARTED: (
        ROUND,
        Field("answers", array(_ANSWER), doc="shuffled, no authors, the truth unmarked"),
        TIME_LIMIT,
        DEADLINE,
    ),
    REVEAL_STEP: (
        ROUND,
        Field("index", integer(0), doc="0, 1, …"),
        Field("answer", _ANSWER_SHOWN),
        Field("authors", array(WHO), doc="empty for the truth"),
        Field("fooled", array(WHO), doc="who picked this lie; empty for the truth"),
        Field("guessed_by", array(WHO), doc="who picked it"),
        Field("points", array(_POINTS), doc="what this step awards"),
        REVEAL_AT,
    ),
    SCORES_CALCULATED: (
        ROUND,
        TRUTH,
        ANSWERS_SCORED,
        DELTAS,
        FOOLED,
        Field("reveal_at", integer(), doc="one step after the last answer"),
        Field("deadline", nullable(integer()), doc="when the scoreboard comes; null by hand"),
    ),
}

AFTER = {
    LIE_STARTED: "`start-round`",
    QUESTION_SHOWN: "`show-question`",
    GUESS_STARTED: "`mix-answers`",
    REVEAL_STEP: "`calculate-scores`, once per answer, before `phase.scores_calculated`",
    SCORES_CALCULATED: "`calculate-scores`",
}

# A round's events in the order they come (the platform's scoreboard and
# game over included), then the platform's other events.
PHASE_EVENTS = (
    LIE_STARTED,
    QUESTION_SHOWN,
    GUESS_STARTED,
    SCORES_CALCULATED,
    SCOREBOARD,
    GAME_OVER,
    PLAYER_JOINED,
    REVEAL_STEP,
    PAUSED,
    RESUMED,
    SESSION_CLOSED,
)
