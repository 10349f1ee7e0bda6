"""REST routes under /api/."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("sessions/", views.create_session, name="create_session"),
    path("sessions/<str:code>/", views.session_detail, name="session_detail"),
    path("sessions/<str:code>/join/", views.join_session, name="join_session"),
    path("sessions/<str:code>/start-round/", views.start_round, name="start_round"),
    path("sessions/<str:code>/show-question/", views.show_question, name="show_question"),
    path("sessions/<str:code>/lies/", views.submit_lie, name="submit_lie"),
    path("sessions/<str:code>/mix-answers/", views.mix_answers, name="mix_answers"),
    path("sessions/<str:code>/guesses/", views.submit_guess, name="submit_guess"),
    path("sessions/<str:code>/calculate-scores/", views.calculate_scores, name="calculate_scores"),
    path(
        "sessions/<str:code>/reveal-scoreboard/", views.reveal_scoreboard, name="reveal_scoreboard"
    ),
    path("sessions/<str:code>/finish/", views.finish_game, name="finish_game"),
    path("sessions/<str:code>/pause/", views.pause_game, name="pause_game"),
    path("sessions/<str:code>/resume/", views.resume_game, name="resume_game"),
    path("sessions/<str:code>/exit/", views.exit_game, name="exit_game"),
    re_path(r"^(?P<path>.*)$", views.not_found),
]
