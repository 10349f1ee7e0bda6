"""The Django admin (issue 19): every registered model's pages load; live
sessions are read-only (no add, change, delete or bulk action); what a
running game drew cannot change; packs are published and deleted safely."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import TestCase
from django.urls import reverse

from lobby.models import GameSession, Player, Preset
from spyster.models import Deck, Location
from weirsoe.models import Question, QuestionPack, QuizPreset

from .helpers import Api
from .members import Member

User = get_user_model()


class AdminTests(TestCase):
    def setUp(self):
        self.admin = User.objects.create_superuser("root", "root@example.com", "admin pass 123")
        self.client.force_login(self.admin)
        self.ana = Member("ana")
        self.preset = self.ana.preset("weirsoe", "Friday", rounds=2)
        self.pack = self.ana.pack("weirsoe", "q.csv", "prompt,answer\nA?,a\nB?,b\nC?,c\n")
        self.api = Api()
        self.code, self.host = self.ana.create(rounds=2, packs=[self.pack])
        self.api.join(self.code, "Ana")
        self.api.join(self.code, "Bo")
        self.assertEqual(self.api.host(self.code, "start-round", self.host)[0], 200)

    def url(self, model, view: str, *args) -> str:
        meta = model._meta
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)

    def test_every_registered_model_has_pages_that_load(self):
        registered = set(admin.site._registry)
        for model in (User, GameSession, Preset, Question, QuestionPack, Deck, Location):
            self.assertIn(model, registered, model)
        self.assertEqual(self.client.get("/admin/").status_code, 200)
        for model in registered:
            with self.subTest(model=model.__name__):
                self.assertEqual(self.client.get(self.url(model, "changelist")).status_code, 200)
                obj = model.objects.order_by("pk").first()
                if obj is not None:
                    page = self.client.get(self.url(model, "change", obj.pk))
                    self.assertEqual(page.status_code, 200)
                add = self.client.get(self.url(model, "add")).status_code
                self.assertEqual(add, 403 if model is GameSession else 200)
        # The preset's page shows its game's settings inline.
        page = self.client.get(self.url(Preset, "change", self.preset))
        self.assertContains(page, "Lie time limit")

    def test_live_sessions_are_read_only(self):
        session = GameSession.objects.get(code=self.code)
        before = (session.phase, session.round_number, session.settings)
        changelist = self.client.get(self.url(GameSession, "changelist"))
        self.assertContains(changelist, self.code)
        self.assertNotContains(changelist, 'name="action"')  # no bulk actions at all
        page = self.client.get(self.url(GameSession, "change", session.pk))
        self.assertContains(page, "Ana")  # its players, inline
        self.assertNotContains(page, "token_digest")
        self.assertNotContains(page, session.host_token_digest)
        attempts = [
            (self.url(GameSession, "change", session.pk), {"phase": "finished", "round_number": 9}),
            (self.url(GameSession, "delete", session.pk), {"post": "yes"}),
            (self.url(GameSession, "add"), {"code": "ZZZZ"}),
            (
                self.url(GameSession, "changelist"),
                {"action": "delete_selected", "_selected_action": [session.pk], "post": "yes"},
            ),
        ]
        for url, data in attempts:
            with self.subTest(url=url):
                # Refused, or the list shown again with nothing done.
                self.assertIn(self.client.post(url, data).status_code, (403, 302, 200))
        session.refresh_from_db()
        self.assertEqual((session.phase, session.round_number, session.settings), before)
        self.assertEqual(Player.objects.filter(session=session).count(), 2)
        self.assertFalse(GameSession.objects.filter(code="ZZZZ").exists())

    def test_a_question_in_play_is_view_only(self):
        drawn = Question.objects.get(round__session__code=self.code)
        url = self.url(Question, "change", drawn.pk)
        page = self.client.get(url)
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, 'name="_save"')
        self.assertEqual(
            self.client.post(url, {"prompt": "Changed?", "answer": "x"}).status_code, 403
        )
        drawn.refresh_from_db()
        self.assertNotEqual(drawn.prompt, "Changed?")
        spare = Question.objects.filter(pack_id=self.pack).exclude(pk=drawn.pk).first()
        self.assertContains(self.client.get(self.url(Question, "change", spare.pk)), 'name="_save"')

    def test_packs_are_published_and_deleted_the_safe_way(self):
        changelist = self.url(QuestionPack, "changelist")
        self.client.post(changelist, {"action": "publish", "_selected_action": [self.pack]})
        self.assertTrue(QuestionPack.objects.get(id=self.pack).published)
        bo = Member("bo")
        self.assertEqual(bo.call("GET", f"/api/packs/weirsoe/{self.pack}/")[0], 200)
        # Deleting it in the admin while the game uses it: the game keeps it.
        response = self.client.post(self.url(QuestionPack, "delete", self.pack), {"post": "yes"})
        self.assertEqual(response.status_code, 302)
        pack = QuestionPack.objects.get(id=self.pack)
        self.assertIsNotNone(pack.deleted_at)
        self.assertFalse(pack.published)
        self.assertEqual(bo.call("GET", f"/api/packs/weirsoe/{self.pack}/")[0], 404)
        self.assertEqual(self.api.host(self.code, "show-question", self.host)[0], 200)
        # The built-in pack cannot be deleted.
        builtin = QuestionPack.objects.get(builtin=True)
        self.assertEqual(
            self.client.get(self.url(QuestionPack, "delete", builtin.pk)).status_code, 403
        )

    def test_deleting_a_user_in_the_admin_takes_presets_and_packs(self):
        user = self.ana.user
        response = self.client.post(self.url(User, "delete", user.pk), {"post": "yes"})
        self.assertEqual(response.status_code, 302)
        self.assertFalse(Preset.objects.exists())
        self.assertFalse(QuizPreset.objects.exists())
        self.assertIsNotNone(QuestionPack.objects.get(id=self.pack).deleted_at)  # in play

    def test_only_staff_get_in(self):
        self.client.logout()
        self.assertEqual(self.client.get("/admin/").status_code, 302)
        self.ana.client.get("/admin/lobby/gamesession/")
        response = self.ana.client.get("/admin/lobby/gamesession/")
        self.assertEqual(response.status_code, 302)
        self.assertIn("/admin/login/", response["Location"])
