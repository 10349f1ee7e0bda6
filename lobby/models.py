"""Platform data: sessions and players, for every game; and what is kept
across games: users' presets and the base of every game's packs.

A game keeps what it needs beyond these in its own models (with foreign keys
to GameSession and Player, deleted with them), or, for small games, in the
`data` JSON of the session and of each player.

Tokens are never stored: only their SHA-256 hex digest, so a database leak
does not let anyone act as a player. Digests are looked up by index and then
compared with `hmac.compare_digest`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models

from . import rules

# Phases every game has (lobby.driver adds the game's own in between).
LOBBY = "lobby"
SCOREBOARD = "scoreboard"
FINISHED = "finished"


class GameSession(models.Model):
    code = models.CharField(max_length=4, unique=True)
    # The registered game (lobby.registry) this session plays.
    game = models.CharField(max_length=32, default="weirsoe", db_index=True)
    host_token_digest = models.CharField(max_length=64, db_index=True)
    # A phase of the game's phase table (lobby.driver.Phase).
    phase = models.CharField(max_length=32, default=LOBBY)
    round_number = models.PositiveSmallIntegerField(default=0)
    # The game's settings, validated against its settings table at create.
    settings = models.JSONField(default=dict)
    # A game's own per-session data (games without models of their own).
    data = models.JSONField(default=dict, blank=True)
    # Timers advance the phases by themselves at their deadlines.
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
    # The seq of the session's last public event: taken here, in the
    # transaction of the change the event announces (lobby.outbox), so it
    # only grows, whatever Redis loses.
    seq = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.code

    @property
    def rounds(self) -> int:
        """How many rounds the game has (every game's settings have `rounds`)."""
        return int(self.settings["rounds"])


class PlayerQuerySet(models.QuerySet):
    def active(self) -> PlayerQuerySet:
        """Players still in the game (not left)."""
        return self.filter(left_at__isnull=True)


class Player(models.Model):
    session = models.ForeignKey(GameSession, on_delete=models.CASCADE, related_name="players")
    # lobby.text: NFKC, checked, at most rules.NAME_MAX user-perceived characters.
    name = models.CharField(max_length=rules.NAME.max_code_points)
    # Its confusable skeleton (lobby.text.confusable_key), unique per session.
    name_key = models.CharField(max_length=rules.NAME_KEY_MAX)
    token_digest = models.CharField(max_length=64, db_index=True)
    score = models.IntegerField(default=0)
    reactions_received = models.PositiveIntegerField(default=0)
    # A game's own per-player data (games without models of their own).
    data = models.JSONField(default=dict, blank=True)
    joined_at = models.DateTimeField(auto_now_add=True)
    # Left after the lobby (their token no longer works); in the lobby a
    # player who leaves is deleted instead.
    left_at = models.DateTimeField(null=True, blank=True)
    # The pseq of the last private message to this player (like GameSession.seq).
    pseq = models.PositiveIntegerField(default=0)

    objects = PlayerQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "name_key"], name="unique_player_name")
        ]

    def __str__(self) -> str:
        return self.name


class OutboxEvent(models.Model):
    """What an action leaves for Redis, written in the action's transaction
    (the transactional outbox, lobby.outbox): one row per event, in order,
    deleted once Redis has taken it; `manage.py runrelay` delivers what is
    left (Redis was down or stalled).

    An event row carries its text split around its seq (`head` + seq +
    `tail`) and, for the last event of an action, the state text the
    WebSocket servers greet with (`state_head` + seq + `state_tail`:
    `session.state`, or a private `player.state` when `player_id` is set,
    where `seq` is that player's pseq). A row with no event (empty `head`)
    only stores what it carries. `tokens` (the session's token digests) and
    `close` (sockets to close after the event) are set when the action
    changed them.
    """

    session = models.ForeignKey(GameSession, on_delete=models.CASCADE, related_name="outbox")
    seq = models.PositiveIntegerField()
    player_id = models.BigIntegerField(null=True, blank=True)  # a private message's player
    event_type = models.CharField(max_length=64, blank=True)
    head = models.TextField(blank=True)
    tail = models.TextField(blank=True)
    state_head = models.TextField(blank=True)
    state_tail = models.TextField(blank=True)
    # {"host": digest, "players": {digest: player id}}: every token that works now.
    tokens = models.JSONField(null=True, blank=True)
    # {"code": close code or null, "players": [player ids closed with 4001]}.
    close = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.session_id}:{self.event_type or 'sync'}#{self.seq}"


# --- kept across games: presets and packs ------------------------------------
#
# Sessions and players are ephemeral (lobby.lifecycle purges them); presets
# and packs belong to a user account and are kept. Deleting the account
# deletes its presets (cascade) and its packs (lobby.packs.delete_pack).


class Preset(models.Model):
    """A user's named settings for one game.

    The settings themselves are in the game's preset model (a subclass of
    GamePreset made by lobby.presets.preset_columns), one row per preset.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presets"
    )
    game = models.CharField(max_length=32)
    name = models.CharField(max_length=60)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["game", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "game", "name"], name="unique_preset_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.game})"


class GamePreset(models.Model):
    """A game's part of a preset (abstract; see lobby.presets.preset_columns)."""

    preset = models.OneToOneField(
        Preset,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="%(app_label)s_%(class)s",
    )

    class Meta:
        abstract = True


def preset_columns(table: Iterable[Any]) -> type[GamePreset]:
    """An abstract GamePreset with a nullable column per setting of a game's
    settings table (lobby.driver.Setting; null: the setting's default).

    A game's models.py subclasses it and adds a field per option:
    `class QuizPreset(preset_columns(SETTINGS)): packs = ManyToManyField(...)`.
    """
    attrs: dict[str, Any] = {
        "__module__": __name__,
        "Meta": type("Meta", (), {"abstract": True}),
    }
    for setting in table:
        column = models.BooleanField if setting.kind == "bool" else models.IntegerField
        attrs[setting.name] = column(null=True, blank=True)
    return type("GamePresetColumns", (GamePreset,), attrs)


class Pack(models.Model):
    """A set of things a game draws from (the quiz's questions, Spyster's
    locations), abstract: each game's pack model subclasses it.

    A user's pack is theirs alone unless an admin publishes it; a built-in
    pack (shipped with the game) is everyone's and the game's default. A pack
    deleted while a game still uses it is only marked (`deleted_at`): nobody
    sees it any more, the game goes on with it, and the purge deletes it
    once no session refers to it (lobby.packs).
    """

    name = models.CharField(max_length=60)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="%(app_label)s_%(class)s_set",
    )
    published = models.BooleanField(
        default=False, help_text="Everyone may use it (only an admin can publish)."
    )
    builtin = models.BooleanField(default=False, help_text="Shipped with the game: its default.")
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True
        ordering = ["-builtin", "name", "id"]

    def __str__(self) -> str:
        return self.name
