"""Formerly loaded the question bank; the quiz's own migrations do now
(weirsoe/migrations/0002_load_questions.py), so the platform depends on no game."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("lobby", "0001_initial")]
    operations = []
