"""Spyster's data: location decks, presets, and each round's spy, roles and votes.

Decks (the built-in one from spyster/data/locations.json, and users' own
uploads, lobby.packs) and presets are kept. Rounds hang off the platform's GameSession
and their cards and votes off its Player, so the purge (lobby.lifecycle)
deletes them with the session. None of this is public before a round ends:
what the platform publishes is spyster.state's, which picks its fields.
"""

from django.db import models

from lobby.models import GameSession, Pack, Player, preset_columns

from .rules import NAME_MAX
from .settings_table import SETTINGS


class Deck(Pack):
    """A set of locations a game draws from: the built-in one (spyster.deck),
    or a user's upload (lobby.packs)."""

    class Meta(Pack.Meta):
        verbose_name = "location deck"


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


class SpysterPreset(preset_columns(SETTINGS)):
    """Spyster's part of a preset: its settings and its deck (null: the built-in one)."""

    deck = models.ForeignKey(
        Deck, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )


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
