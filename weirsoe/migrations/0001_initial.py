"""The quiz's models, taken over from the platform app with their rows.

Until lobby 0004 they were the `lobby` app's; here they join this app's
state on their old tables (no database change), then the tables take this
app's names (weirsoe_question, ...; the answers' authors table follows).
"""

import django.db.models.deletion
from django.db import migrations, models

MODELS = ("Question", "Round", "Lie", "Answer", "Guess")


def _id():
    return models.BigAutoField(
        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
    )


STATE = [
    migrations.CreateModel(
        name="Question",
        fields=[
            ("id", _id()),
            ("prompt", models.CharField(max_length=200, unique=True)),
            ("answer", models.CharField(max_length=40)),
            ("category", models.CharField(blank=True, max_length=20)),
        ],
        options={"db_table": "lobby_question"},
    ),
    migrations.CreateModel(
        name="Round",
        fields=[
            ("id", _id()),
            ("number", models.PositiveSmallIntegerField()),
            ("reveal", models.JSONField(blank=True, null=True)),
            (
                "question",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.PROTECT, to="weirsoe.question"
                ),
            ),
            (
                "session",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="game_rounds",
                    to="lobby.gamesession",
                ),
            ),
        ],
        options={
            "db_table": "lobby_round",
            "ordering": ["number"],
            "constraints": [
                models.UniqueConstraint(fields=("session", "number"), name="unique_round_number"),
                models.UniqueConstraint(
                    fields=("session", "question"), name="unique_round_question"
                ),
            ],
        },
    ),
    migrations.CreateModel(
        name="Lie",
        fields=[
            ("id", _id()),
            ("text", models.CharField(max_length=80)),
            ("normalized", models.CharField(max_length=80)),
            ("submitted_at", models.DateTimeField(auto_now=True)),
            (
                "player",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="lies",
                    to="lobby.player",
                ),
            ),
            (
                "round",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="lies",
                    to="weirsoe.round",
                ),
            ),
        ],
        options={
            "db_table": "lobby_lie",
            "ordering": ["submitted_at", "id"],
            "constraints": [
                models.UniqueConstraint(fields=("round", "player"), name="one_lie_per_round")
            ],
        },
    ),
    migrations.CreateModel(
        name="Answer",
        fields=[
            ("id", _id()),
            ("number", models.PositiveSmallIntegerField()),
            ("text", models.CharField(max_length=80)),
            ("is_truth", models.BooleanField(default=False)),
            (
                "authors",
                models.ManyToManyField(
                    blank=True, related_name="authored_answers", to="lobby.player"
                ),
            ),
            (
                "round",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="answers",
                    to="weirsoe.round",
                ),
            ),
        ],
        options={
            "db_table": "lobby_answer",
            "ordering": ["number"],
            "constraints": [
                models.UniqueConstraint(fields=("round", "number"), name="unique_answer_number")
            ],
        },
    ),
    migrations.CreateModel(
        name="Guess",
        fields=[
            ("id", _id()),
            ("created_at", models.DateTimeField(auto_now_add=True)),
            (
                "answer",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="guesses",
                    to="weirsoe.answer",
                ),
            ),
            (
                "player",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="guesses",
                    to="lobby.player",
                ),
            ),
            (
                "round",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="guesses",
                    to="weirsoe.round",
                ),
            ),
        ],
        options={
            "db_table": "lobby_guess",
            "ordering": ["id"],
            "constraints": [
                models.UniqueConstraint(fields=("round", "player"), name="one_guess_per_round")
            ],
        },
    ),
]


class Migration(migrations.Migration):
    initial = True

    dependencies = [("lobby", "0004_platform")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=STATE),
        *(migrations.AlterModelTable(name=name, table=None) for name in MODELS),
    ]
