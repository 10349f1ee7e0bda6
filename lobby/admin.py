"""The Django admin of the platform: live sessions (read only), presets, and
the base of every game's pack admin.

A running game is never changed from here: sessions and their players can
be looked at, not added, changed or deleted, and have no bulk actions (the
purge deletes them, lobby.lifecycle). A pack is deleted the way its owner
deletes it (lobby.packs.delete_pack: a game using it keeps it to its end).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count

from . import packs, registry
from .models import GameSession, Player, Preset

admin.site.site_header = "partyhub administration"
admin.site.site_title = "partyhub admin"


class ReadOnly:
    """An admin that may look and nothing else."""

    actions = None

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PlayerInline(ReadOnly, admin.TabularInline):
    model = Player
    fields = ("name", "score", "reactions_received", "joined_at", "left_at")
    readonly_fields = fields
    extra = 0


@admin.register(GameSession)
class GameSessionAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("code", "game", "phase", "round_number", "players", "created_at", "ended_at")
    list_filter = ("game", "phase", "closed")
    search_fields = ("code",)
    fields = (
        "code", "game", "phase", "round_number", "settings", "paused", "deadline_ms",
        "auto_advance", "created_at", "updated_at", "ended_at", "closed",
    )  # fmt: skip
    readonly_fields = fields
    inlines = (PlayerInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(player_count=Count("players"))

    @admin.display(ordering="player_count")
    def players(self, session) -> int:
        return session.player_count


def _game_inline(driver):
    """The inline of one game's part of a preset (its preset model)."""
    attrs = {"model": driver.preset_model, "can_delete": False, "max_num": 1, "min_num": 1}
    return type(f"{driver.preset_model.__name__}Inline", (admin.StackedInline,), attrs)


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    """Presets of every game; a game's settings in its own inline. (They are
    checked again when a game is created from them.)"""

    list_display = ("name", "game", "owner", "updated_at")
    list_filter = ("game",)
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner",)

    def get_inlines(self, request, obj):
        drivers = [d for d in registry.games() if d.preset_model is not None]
        return [_game_inline(d) for d in drivers if obj is not None and d.name == obj.game]


class PackAdmin(admin.ModelAdmin):
    """The admin of a game's packs (subclass it with `game`): publish or
    unpublish, see who owns what; deleting goes through lobby.packs."""

    game = ""
    list_display = ("name", "owner", "published", "builtin", "items", "created_at", "deleted_at")
    list_filter = ("published", "builtin")
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner",)
    readonly_fields = ("deleted_at", "created_at")
    actions = ("publish", "unpublish", "delete_selected")

    def driver(self):
        return registry.game(self.game)

    @admin.display(description="items")
    def items(self, pack) -> int:
        return packs.items_of(self.driver().packs, pack).count()

    @admin.action(description="Publish the selected packs (everyone may use them)")
    def publish(self, request, queryset) -> None:
        queryset.filter(deleted_at__isnull=True).update(published=True)

    @admin.action(description="Unpublish the selected packs (their owners' only)")
    def unpublish(self, request, queryset) -> None:
        queryset.update(published=False)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj and obj.builtin)

    def get_deleted_objects(self, objs, request):
        # A game using the pack protects the items it drew (from Django's
        # delete, and from their admin's delete permission); delete_pack
        # keeps them for that game instead of refusing. Deleting the pack is
        # this admin's own permission.
        deleted, counts, _permissions, _protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), []

    def delete_model(self, request, obj) -> None:
        packs.delete_pack(self.driver(), obj)

    def delete_queryset(self, request, queryset) -> None:
        for pack in queryset.filter(builtin=False):
            packs.delete_pack(self.driver(), pack)


class LockedWhileInPlay:
    """An admin of what games draw (questions, locations): what a game not
    over has drawn is view-only, so that it cannot change under the game.
    `rounds_using(obj)`: the game's rounds (with a `session`) that drew it."""

    def rounds_using(self, obj):
        raise NotImplementedError

    def _in_play(self, obj) -> bool:
        return obj is not None and self.rounds_using(obj).filter(session__ended_at=None).exists()

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and not self._in_play(obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not self._in_play(obj)
