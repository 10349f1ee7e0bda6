"""Game data: sessions, players, rounds, lies, answers and guesses.

Tokens are never stored: only their SHA-256 hex digest, so a database leak
does not let anyone act as a player. Digests are looked up by index and then
compared with `hmac.compare_digest`.
"""

from django.db import models


class Phase(models.TextChoices):
    LOBBY = "lobby", "Lobby"
    LIE = "lie", "Writing lies"
    QUESTION = "question", "Question shown"
    GUESS = "guess", "Guessing"
    SCORES = "scores", "Scores calculated"
    SCOREBOARD = "scoreboard", "Scoreboard"
    FINISHED = "finished", "Finished"


class Question(models.Model):
    """A trivia question from the bank, with its short true answer."""

    prompt = models.CharField(max_length=200, unique=True)
    answer = models.CharField(max_length=40)
    category = models.CharField(max_length=20, blank=True)

    def __str__(self) -> str:
        return self.prompt


class GameSession(models.Model):
    code = models.CharField(max_length=4, unique=True)
    host_token_digest = models.CharField(max_length=64, db_index=True)
    phase = models.CharField(max_length=12, choices=Phase.choices, default=Phase.LOBBY)
    round_number = models.PositiveSmallIntegerField(default=0)
    rounds = models.PositiveSmallIntegerField(default=3)
    lie_time_limit = models.PositiveSmallIntegerField(default=60)
    guess_time_limit = models.PositiveSmallIntegerField(default=30)
    # Timers advance the phases by themselves (lie -> guess -> scores -> scoreboard -> next).
    auto_advance = models.BooleanField(default=False)
    # When the running countdown ends (epoch ms); null when nothing counts down.
    deadline_ms = models.BigIntegerField(null=True, blank=True)
    # Paused by the host: the countdown is frozen with `remaining_ms` left.
    paused = models.BooleanField(default=False)
    remaining_ms = models.IntegerField(null=True, blank=True)
    # The one timer task that may still advance this phase carries this token;
    # it changes on every transition, pause and resume (see lobby.timers).
    timer_token = models.CharField(max_length=16, blank=True, default="")
    # Set when the game finishes or is exited; the purge deletes the session a
    # grace period later. `closed`: exited by the host (REST answers 410).
    ended_at = models.DateTimeField(null=True, blank=True)
    closed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # last activity, for the purge

    def __str__(self) -> str:
        return self.code


class Player(models.Model):
    session = models.ForeignKey(GameSession, on_delete=models.CASCADE, related_name="players")
    name = models.CharField(max_length=20)
    name_key = models.CharField(max_length=20)
    token_digest = models.CharField(max_length=64, db_index=True)
    score = models.IntegerField(default=0)
    reactions_received = models.PositiveIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "name_key"], name="unique_player_name")
        ]

    def __str__(self) -> str:
        return self.name


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
    text = models.CharField(max_length=80)
    normalized = models.CharField(max_length=80)
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
    text = models.CharField(max_length=80)
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
