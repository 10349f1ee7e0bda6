"""Spyster's data: location decks, and each round's spy, roles and votes.

Decks are kept (the built-in one comes from spyster/data/locations.json;
issue 19 adds decks of users). Rounds hang off the platform's GameSession
and their cards and votes off its Player, so the purge (lobby.lifecycle)
deletes them with the session. None of this is public before a round ends:
what the platform publishes is spyster.state's, which picks its fields.
"""

from django.db import models

from lobby.models import GameSession, Player

from .rules import NAME_MAX


class Deck(models.Model):
    """A set of locations a game draws from."""

    name = models.CharField(max_length=60, unique=True)
    # The deck shipped with Spyster (spyster.deck); games use it unless told otherwise.
    builtin = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.name


class Location(models.Model):
    """Where a round takes place, with the roles people have there."""

    deck = models.ForeignKey(Deck, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=NAME_MAX)
    roles = models.JSONField()  # a list of role names, at least one

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["deck", "name"], name="unique_location_in_deck")
        ]

    def __str__(self) -> str:
        return self.name


class Round(models.Model):
    """One round: where, who the spy is, and how it ended."""

    session = models.ForeignKey(
        GameSession, on_delete=models.CASCADE, related_name="spyster_rounds"
    )
    number = models.PositiveSmallIntegerField()
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    spy = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="+")
    # Who asks the first question (anyone, the spy included).
    first_player = models.ForeignKey(
        Player, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The round's clock left while an accusation's vote stops it (ms).
    clock_ms = models.IntegerField(null=True, blank=True)
    # How it ended (spyster.rules.ENDINGS); empty while it runs.
    how = models.CharField(max_length=16, blank=True, default="")
    # Who started the accusation that ended it, and the spy's guess, if any.
    accuser = models.ForeignKey(
        Player, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    guess = models.CharField(max_length=NAME_MAX, blank=True, default="")
    # The non-spies still in the game when it ended (for the scoring rule).
    non_spy_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["session", "number"], name="unique_spyster_round")
        ]


class Card(models.Model):
    """A non-spy's secret card for one round: their role at the location."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="cards")
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="spyster_cards")
    role = models.CharField(max_length=NAME_MAX)

    class Meta:
        ordering = ["player_id"]
        constraints = [
            models.UniqueConstraint(fields=["round", "player"], name="one_card_per_round")
        ]


class Accusation(models.Model):
    """A player accuses another: a vote of everyone else (once per accuser and round)."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="accusations")
    accuser = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="+")
    accused = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="+")
    # spyster.rules PASSED, REJECTED, TIMED_OUT or CANCELLED; empty while open.
    result = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["round", "accuser"], name="one_accusation_per_round")
        ]


class Vote(models.Model):
    """One yes/no on an accusation."""

    accusation = models.ForeignKey(Accusation, on_delete=models.CASCADE, related_name="votes")
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="+")
    agree = models.BooleanField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["accusation", "player"], name="one_vote_per_accusation")
        ]


class Suspicion(models.Model):
    """One player's suspect in the final vote, when the round's time ran out."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="suspicions")
    voter = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="+")
    suspect = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["round", "voter"], name="one_suspect_per_round")
        ]
