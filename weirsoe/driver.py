"""The Weirsøe Party Protocol as a partyhub game: its tables and hooks.

The bluffing quiz: each round everyone writes a believable lie for a trivia
question, the lies are mixed with the truth, and everyone picks what they
think is true. Finding the truth scores, and so does every player your lie
fools (weirsoe.rules).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from lobby import timers
from lobby.driver import HOST, PACKS, PLAYER, TAGS, Action, GameDriver, Option, Pages, Phase
from lobby.models import GameSession, Player
from realtime.schema import Field, integer, string

from . import actions as play
from . import awards as quiz_awards
from . import events as quiz_events
from . import pool, reveal, rules, state
from .models import QuizPreset
from .question_bank import PACKS as QUESTION_PACKS
from .settings_table import SETTINGS

# The phase table. The lie and question phases share one countdown (showing
# the question does not restart it); scores has a deadline only with
# auto_advance (the reveal, then PARTYHUB_RESULTS_HOLD).
PHASES = (
    Phase("lie", "Writing lies", timed=True, on_deadline=play.lie_deadline),
    Phase("question", "Question shown", timed=True, stage="lie", on_deadline=play.mix_answers),
    Phase("guess", "Guessing", timed=True, on_deadline=play.calculate_scores),
    Phase("scores", "Scores calculated", timed=True, on_deadline=play.reveal_scoreboard),
)

OPTIONS = (
    Option(
        "packs",
        _("Question packs"),
        PACKS,
        help=_("None chosen: the built-in questions."),
    ),
    Option(
        "categories",
        _("Categories"),
        TAGS,
        help=_("None chosen: every category."),
        choices=pool.categories,
    ),
)

ACTIONS = (
    Action("show-question", play.show_question, role=HOST),
    Action(
        "lies",
        play.submit_lie,
        role=PLAYER,
        status=201,
        message="weirsoe.lie",
        fields=(Field("text", string(), doc=f"the lie, 1 to {rules.LIE_MAX} characters"),),
    ),
    Action("mix-answers", play.mix_answers, role=HOST),
    Action(
        "guesses",
        play.submit_guess,
        role=PLAYER,
        status=201,
        message="weirsoe.guess",
        fields=(Field("answer_id", integer(), doc="the `id` of one of the answers"),),
    ),
    Action("calculate-scores", play.calculate_scores, role=HOST),
    Action("reveal-scoreboard", play.reveal_scoreboard, role=HOST),
)


class WeirsoeDriver(GameDriver):
    name = "weirsoe"
    title = "Weirsøe Party Protocol"
    pitch = _("The bluffing quiz: write a lie, spot the truth, fool your friends.")
    min_players = rules.MIN_PLAYERS
    max_players = rules.MAX_PLAYERS
    settings = SETTINGS
    phases = PHASES
    actions = ACTIONS
    events = quiz_events.FIELDS
    after = quiz_events.AFTER
    state_fields = state.STATE_FIELDS
    private_fields = state.PRIVATE_FIELDS
    awards = quiz_awards.AWARDS
    pages = Pages(host="weirsoe/host.html", play="weirsoe/play.html")
    options = OPTIONS
    packs = QUESTION_PACKS
    preset_model = QuizPreset

    def check_settings(self, settings: dict) -> None:
        pool.check(settings)

    def auto_advance(self, settings: dict) -> bool:
        return settings["auto_advance"]

    def start_round(self, ctx) -> None:
        play.start_round(ctx)

    def public_state(self, session: GameSession) -> dict:
        return state.public_state(session)

    def private_state(self, session: GameSession, player: Player) -> dict:
        return state.private_state(session, player)

    def award_counts(self, session: GameSession) -> dict[str, dict[int, int]]:
        return quiz_awards.tally(session)

    def reaction_targets(self, session: GameSession, sender_id: int, target: int | None):
        """Counted only while guessing and during the reveal: for the named
        target, or, without one, during the reveal for the author(s) of the
        lie on screen at that moment (none while the truth or nothing is shown)."""
        if session.phase not in (play.GUESS, play.SCORES):
            return []
        if target is not None:
            return [target]
        if session.phase == play.SCORES:
            game_round = state.current_round(session)
            step = reveal.step_at(game_round.reveal, timers.now_ms())
            return [a["player_id"] for a in step["authors"]] if step else []
        return []

    def on_leave(self, ctx, player: Player) -> None:
        """One fewer to wait for: the phase may be complete now."""
        play.advance_if_all_in(ctx)

    def page_config(self, session: GameSession | None) -> dict:
        return {"lie_max": rules.LIE_MAX}
