"""The quiz in the admin: question packs and their questions.

A question a running game has drawn cannot be changed or deleted here
(lobby.admin: a running game is never changed from the admin).
"""

from django.contrib import admin

from lobby.admin import LockedWhileInPlay, PackAdmin

from .models import Question, QuestionPack, Round


@admin.register(QuestionPack)
class QuestionPackAdmin(PackAdmin):
    game = "weirsoe"


@admin.register(Question)
class QuestionAdmin(LockedWhileInPlay, admin.ModelAdmin):
    list_display = ("prompt", "answer", "category", "pack")
    list_filter = ("pack__builtin", "category")
    search_fields = ("prompt", "answer", "pack__name")
    list_select_related = ("pack",)
    raw_id_fields = ("pack",)

    def rounds_using(self, obj):
        return Round.objects.filter(question=obj)
