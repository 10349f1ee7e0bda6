"""Spyster in the admin: location decks and their locations.

A location a running game has dealt cannot be changed or deleted here
(lobby.admin: a running game is never changed from the admin).
"""

from django.contrib import admin

from lobby.admin import LockedWhileInPlay, PackAdmin

from .models import Deck, Location, Round


@admin.register(Deck)
class DeckAdmin(PackAdmin):
    game = "spyster"


@admin.register(Location)
class LocationAdmin(LockedWhileInPlay, admin.ModelAdmin):
    list_display = ("name", "deck")
    list_filter = ("deck__builtin",)
    search_fields = ("name", "deck__name")
    list_select_related = ("deck",)
    raw_id_fields = ("deck",)

    def rounds_using(self, obj):
        return Round.objects.filter(location=obj)
