"""The quiz's events and the payload fields each one carries at least.

Declared to the platform in the driver (weirsoe.driver); the names keep the
`phase.` prefix clients have always used. `deadline` and `reveal_at` are
server time in epoch milliseconds.
"""

from __future__ import annotations

from lobby.events import GAME_OVER, PAUSED, PLAYER_JOINED, RESUMED, SCOREBOARD, SESSION_CLOSED

LIE_STARTED = "phase.lie_started"
QUESTION_SHOWN = "phase.question_shown"
GUESS_STARTED = "phase.guess_started"
SCORES_CALCULATED = "phase.scores_calculated"
REVEAL_STEP = "phase.reveal_step"

FIELDS: dict[str, tuple[str, ...]] = {
    LIE_STARTED: ("round", "prompt", "time_limit", "deadline"),
    QUESTION_SHOWN: ("round", "question"),
    GUESS_STARTED: ("round", "answers", "time_limit", "deadline"),
    SCORES_CALCULATED: ("round", "truth", "deltas", "fooled", "reveal_at"),
    REVEAL_STEP: ("round", "index", "answer", "authors", "fooled", "points", "reveal_at"),
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
