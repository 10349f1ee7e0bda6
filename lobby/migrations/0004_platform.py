"""The platform: sessions of any game, with per-game settings and data.

Existing sessions become game "weirsoe" with their settings moved into the
`settings` JSON. The quiz's models (questions, rounds, lies, answers,
guesses) leave the platform's state here and join the `weirsoe` app's in its
first migration, keeping their tables and rows (SeparateDatabaseAndState).
"""

from django.db import migrations, models


def settings_to_json(apps, schema_editor):
    GameSession = apps.get_model("lobby", "GameSession")
    for session in GameSession.objects.all():
        session.game = "weirsoe"
        session.settings = {
            "rounds": session.rounds,
            "lie_time_limit": session.lie_time_limit,
            "guess_time_limit": session.guess_time_limit,
            "auto_advance": session.auto_advance,
        }
        session.save(update_fields=["game", "settings"])


def settings_from_json(apps, schema_editor):
    GameSession = apps.get_model("lobby", "GameSession")
    for session in GameSession.objects.all():
        settings = session.settings or {}
        session.rounds = settings.get("rounds", 3)
        session.lie_time_limit = settings.get("lie_time_limit", 60)
        session.guess_time_limit = settings.get("guess_time_limit", 30)
        session.save(update_fields=["rounds", "lie_time_limit", "guess_time_limit"])


class Migration(migrations.Migration):
    dependencies = [("lobby", "0003_game_flow")]

    operations = [
        migrations.AddField(
            model_name="gamesession",
            name="game",
            field=models.CharField(db_index=True, default="weirsoe", max_length=32),
        ),
        migrations.AddField(
            model_name="gamesession",
            name="settings",
            field=models.JSONField(default=dict),
        ),
        migrations.AddField(
            model_name="gamesession",
            name="data",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="player",
            name="data",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="player",
            name="left_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(settings_to_json, settings_from_json),
        migrations.RemoveField(model_name="gamesession", name="rounds"),
        migrations.RemoveField(model_name="gamesession", name="lie_time_limit"),
        migrations.RemoveField(model_name="gamesession", name="guess_time_limit"),
        migrations.AlterField(
            model_name="gamesession",
            name="phase",
            field=models.CharField(default="lobby", max_length=32),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Guess"),
                migrations.DeleteModel(name="Lie"),
                migrations.DeleteModel(name="Answer"),
                migrations.DeleteModel(name="Round"),
                migrations.DeleteModel(name="Question"),
            ]
        ),
    ]
