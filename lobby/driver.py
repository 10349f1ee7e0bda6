"""The GameDriver interface: what a game (a cartridge) gives the platform.

A game is a Django app that subclasses `GameDriver`, fills in its tables and
hooks, and registers one instance in its AppConfig.ready() with
`lobby.registry.register(...)`. docs/games.md walks through a whole game.

Everything about a game is declared once, here, as data the platform reads:

- `settings`: the per-session settings table (validated at create, with
  defaults and ranges; the home page builds its form from it);
- `phases`: the phase table (which phases exist, which have a deadline,
  which the host may pause, what runs when a deadline passes);
- `actions`: REST actions under /api/sessions/<code>/<action>/, each also a
  WebSocket client message when it names one;
- `events` and `private_events`: every event type it sends, with its
  payload fields, typed (realtime.schema; the transport refuses any other
  type and any payload without its required fields);
- `awards`: the awards of `phase.game_over`;
- `pages`: the templates of the host's screen and the player's phone;
- `options`: settings beyond whole numbers and switches (which packs of
  questions or locations to draw from, which categories), and `packs`:
  what users may upload for the game (lobby.packs);
- `preset_model`: the game's part of a saved preset (lobby.presets), its
  columns derived from `settings`, plus one field per option.

and the hooks below (`start_round`, `public_state`, `private_state`,
`award_counts`, ...), which the platform calls inside the action's
transaction with the session row locked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext

from realtime.schema import Field, array, boolean, integer, nullable, string

from .errors import bad_request
from .models import FINISHED, LOBBY, GameSession, Player

if TYPE_CHECKING:
    from .context import Context

# Who may run an action.
HOST = "host"
PLAYER = "player"
ANYONE = "anyone"  # no token needed (e.g. join)


@dataclass(frozen=True)
class Setting:
    """One per-session setting: a whole number in [minimum, maximum], or a bool."""

    name: str
    label: str  # for the home page's form, e.g. "Seconds to write a lie"
    default: int | bool
    minimum: int | None = None
    maximum: int | None = None
    help: str = ""  # one line under the field
    # What the home page's form starts with when it differs from `default`
    # (the API's, kept for clients that send nothing).
    form_default: int | bool | None = None

    @property
    def kind(self) -> str:
        return "bool" if isinstance(self.default, bool) else "int"

    def parse(self, value: Any) -> int | bool:
        """The value if valid, else GameError 400 (INVALID_FIELD or OUT_OF_RANGE)."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                message = gettext("%(field)s must be true or false.")
                raise bad_request("INVALID_FIELD", message % {"field": repr(self.name)})
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            message = gettext("%(field)s must be a whole number.")
            raise bad_request("INVALID_FIELD", message % {"field": repr(self.name)})
        if not self.minimum <= value <= self.maximum:
            message = gettext("%(field)s must be between %(least)s and %(most)s.") % {
                "field": repr(self.name),
                "least": self.minimum,
                "most": self.maximum,
            }
            raise bad_request("OUT_OF_RANGE", message)
        return value

    def schema(self) -> dict:
        """The value's JSON Schema (the contracts): what `parse` accepts."""
        if self.kind == "bool":
            return {**boolean(), "default": self.default, "description": self.label}
        kind = integer(self.minimum, self.maximum)
        return {**kind, "default": self.default, "description": self.label}

    def describe(self) -> dict:
        """The setting as GET /api/games/ lists it."""
        return {
            "name": self.name,
            "label": self.label,
            "type": self.kind,
            "default": self.default,
            "form_default": self.default if self.form_default is None else self.form_default,
            "min": self.minimum,
            "max": self.maximum,
            "help": self.help,
        }


# Kinds of Option.
PACK = "pack"  # one of the game's packs; null: its built-in one
PACKS = "packs"  # a list of the game's packs; empty: its built-in one
TAGS = "tags"  # a list of names from Option.choices (e.g. question categories)
OPTION_KINDS = (PACK, PACKS, TAGS)


@dataclass(frozen=True)
class Option:
    """A setting beyond the table's numbers and switches: what a game draws from.

    Validated at create (a pack must be one the caller may use:
    lobby.packs), stored in `session.settings` with the table's, saved in
    presets (a field of the same name in the game's preset model: a
    ManyToManyField for PACKS, a ForeignKey for PACK, a JSONField for TAGS).
    """

    name: str
    label: str
    kind: str
    help: str = ""
    # TAGS: the names a user may pick (`choices(user)`, user None for a guest).
    choices: Callable[[Any], list[str]] | None = None
    max_items: int = 50  # PACKS and TAGS: at most this many

    @property
    def default(self) -> int | list | None:
        return None if self.kind == PACK else []

    def schema(self) -> dict:
        """The value's JSON Schema (the contracts); lobby.options checks it."""
        if self.kind == PACK:
            value = nullable(integer(1))
        elif self.kind == PACKS:
            value = {**array(integer(1)), "maxItems": self.max_items}
        else:
            value = {**array(string()), "maxItems": self.max_items}
        return {**value, "description": f"{self.label}. {self.help}".strip()}

    def describe(self) -> dict:
        """The option as GET /api/games/ lists it."""
        return {"name": self.name, "label": self.label, "type": self.kind, "help": self.help}


@dataclass(frozen=True)
class Column:
    """One field of an uploaded pack's rows: a CSV column, a key of a JSON object.

    Text is stored trimmed with inner spaces squeezed; `many`: a list of
    texts (a JSON array; in CSV one cell, the texts separated by ";").
    """

    name: str
    max_length: int
    required: bool = True
    many: bool = False


@dataclass(frozen=True)
class Packs:
    """What a game's users may upload (lobby.packs): packs of items.

    `model`, `item_model`: "app.Model" labels of the pack (a
    lobby.models.Pack) and of its items (a ForeignKey to the pack and one
    field per column). A file is CSV with a header row naming the columns,
    or JSON: a list of objects, or {"name": ..., <items_key>: [...]}.
    Two items whose first columns have the same `key` are duplicates.
    """

    model: str
    item_model: str
    label: str  # "question pack"
    item_label: str  # "question"
    items_key: str  # "questions"
    columns: tuple[Column, ...]
    min_items: int = 1
    key: Callable[[str], str] = str.casefold


@dataclass(frozen=True)
class Phase:
    """One row of a game's phase table.

    `timed`: the phase may have a deadline (a countdown the platform shows
    and, with auto_advance, ends by running `on_deadline`). Phases with the
    same `stage` share one countdown (entering the next keeps it running).
    `pausable`: the host may pause during it. `on_deadline(ctx)`: what
    happens when the countdown ends (required for a timed phase); the
    platform runs it in a transaction with the session locked, exactly as an
    action, and publishes what it emits.
    """

    name: str
    title: str
    timed: bool = False
    pausable: bool = True
    on_deadline: Callable[[Context], None] | None = None
    stage: str = ""

    @property
    def timer_stage(self) -> str:
        return self.stage or self.name


@dataclass(frozen=True)
class Action:
    """One thing a client can ask a game to do.

    REST: POST /api/sessions/<code>/<name>/ with a JSON object body; the
    response is what `run(ctx, body)` returns (or the phase and last event),
    with `status`. WebSocket: when `message` is set, the client message
    {"type": <message>, ..., "ref": <anything>} runs the same action from
    either server; the sender gets {"type": "result", ...} or an `error`.
    `while_paused`: also runs while the host has paused the game.
    """

    name: str
    run: Callable[[Context, dict], dict | None]
    role: str = PLAYER
    status: int = 200
    message: str | None = None
    while_paused: bool = False
    # The body's fields (realtime.schema): checked before `run` (400
    # INVALID_FIELD, over REST and the socket alike) and published in the
    # contracts (the REST request body, the client message's fields).
    fields: tuple[Field, ...] = ()
    doc: str = ""  # one line for the contracts


@dataclass(frozen=True)
class Award:
    """One award of `phase.game_over`: the top count wins (ties: all of them)."""

    id: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class Pages:
    """Templates of the game's pages, rendered in the platform's page shell
    (they extend "lobby/base.html") with `config` (lobby.pages.page_config)."""

    host: str
    play: str


class GameDriver:
    """Subclass, set these class attributes and override the hooks you need;
    see the module docstring and docs/games.md."""

    name: str = ""  # the id in POST /api/sessions/ {"game": ...}: [a-z][a-z0-9_]*
    title: str = ""
    pitch: str = ""  # one line for the home page
    min_players: int = 2
    max_players: int = 12
    settings: tuple[Setting, ...] = ()  # must include the whole number "rounds"
    phases: tuple[Phase, ...] = ()  # the game's own; lobby, scoreboard, finished are the platform's
    actions: tuple[Action, ...] = ()
    # Event type -> its payload fields (realtime.schema.Field): read-only tables.
    events: dict[str, tuple[Field, ...]] = {}
    private_events: dict[str, tuple[Field, ...]] = {}
    after: dict[str, str] = {}  # event type -> when it is sent (for the docs)
    # The fields of public_state() (after the platform's in `session.state`)
    # and of private_state() (`player.state`, `you`): typed like events.
    state_fields: tuple[Field, ...] = ()
    private_fields: tuple[Field, ...] = ()
    awards: tuple[Award, ...] = ()  # may include lobby.awards.CROWD_FAVOURITE
    pages: Pages | None = None
    options: tuple[Option, ...] = ()
    packs: Packs | None = None
    # The game's part of a preset: a lobby.presets.preset_columns(settings)
    # model with a field per option. None: the game has no presets.
    preset_model: type | None = None

    # --- hooks ------------------------------------------------------------

    def auto_advance(self, settings: dict) -> bool:
        """Whether deadlines end phases by themselves (else the host advances)."""
        return True

    def check_settings(self, settings: dict) -> None:
        """Refuse (GameError) settings that are valid one by one but not
        together, e.g. more rounds than the chosen packs have questions."""

    def start_round(self, ctx: Context) -> None:
        """Begin round `ctx.session.round_number` (already counted): enter the
        round's first phase and emit its event. Raise GameError to refuse."""
        raise NotImplementedError

    def public_state(self, session: GameSession) -> dict:
        """The game's part of `session.state`: what everyone may see now."""
        return {}

    def private_state(self, session: GameSession, player: Player) -> dict:
        """What only `player` may see now (their secret card, their own answer).

        Sent to that player's sockets only: as `you` in GET with their token,
        and as `player.state`, stored with every private message to them.
        """
        return {}

    def award_counts(self, session: GameSession) -> dict[str, dict[int, int]]:
        """Per award id of the game's own awards, per player id, the count."""
        return {}

    def reaction_targets(
        self, session: GameSession, sender_id: int, target: int | None
    ) -> list[int]:
        """Whom a reaction counts for (Player.reactions_received): by default
        the named target, while the game runs (not in the lobby nor after it)."""
        if target is None or session.phase in (LOBBY, FINISHED):
            return []
        return [target]

    def on_leave(self, ctx: Context, player: Player) -> None:
        """A player left after the lobby (the platform ends the game below
        min_players): react, e.g. end the round if they were needed."""

    def page_config(self, session: GameSession | None) -> dict:
        """Extra facts the game's pages need (e.g. input limits)."""
        return {}
