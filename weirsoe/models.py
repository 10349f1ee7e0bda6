"""The quiz's data: question packs (the built-in bank and users' own),
presets, and each round's lies, answers and guesses.

Packs and presets are kept; rounds hang off the platform's GameSession and
lies, answers and guesses off its Player, so the purge (lobby.lifecycle)
deletes them with the session.
"""

from django.db import models

from lobby.models import GameSession, Pack, Player, preset_columns

from . import rules
from .settings_table import SETTINGS


class QuestionPack(Pack):
    """A set of questions: the built-in bank (weirsoe/data/questions.json) or
    a user's upload (lobby.packs)."""

    class Meta(Pack.Meta):
        verbose_name = "question pack"


class Question(models.Model):
    """A trivia question with its short true answer, in one pack."""

    pack = models.ForeignKey(QuestionPack, on_delete=models.CASCADE, related_name="questions")
    prompt = models.CharField(max_length=200)
    answer = models.CharField(max_length=40)
    category = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["pack", "prompt"], name="unique_question_in_pack")
        ]

    def __str__(self) -> str:
        return self.prompt


class QuizPreset(preset_columns(SETTINGS)):
    """The quiz's part of a preset: its settings, packs and categories."""

    packs = models.ManyToManyField(QuestionPack, blank=True, related_name="+")
    categories = models.JSONField(default=list, blank=True)


class Round(models.Model):
    session = models.ForeignKey(GameSession, on_delete=models.CASCADE, related_name="game_rounds")
    number = models.PositiveSmallIntegerField()
    question = models.ForeignKey(Question, on_delete=models.PROTECT)
    # The step-by-step reveal sent when scores were calculated:
    # {"steps": [phase.reveal_step payloads], "reveal_at": ms of the scores}.
    reveal = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["session", "number"], name="unique_round_number"),
            models.UniqueConstraint(fields=["session", "question"], name="unique_round_question"),
        ]


class Lie(models.Model):
    """What one player wrote this round (replaceable until answers are mixed)."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="lies")
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="lies")
    text = models.CharField(max_length=rules.LIE.max_code_points)
    normalized = models.CharField(max_length=rules.LIE.max_code_points)
    submitted_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["submitted_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["round", "player"], name="one_lie_per_round")
        ]


class Answer(models.Model):
    """One choice shown in the guess phase: the truth or a (possibly shared) lie.

    `number` is the public id, assigned after shuffling so it reveals nothing.
    """

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="answers")
    number = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=rules.LIE.max_code_points)
    is_truth = models.BooleanField(default=False)
    authors = models.ManyToManyField(Player, related_name="authored_answers", blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["round", "number"], name="unique_answer_number")
        ]


class Guess(models.Model):
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="guesses")
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="guesses")
    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="guesses")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["round", "player"], name="one_guess_per_round")
        ]
