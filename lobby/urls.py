"""REST routes under /api/: sessions of every game, and the list of games.

A session's actions are one route: /api/sessions/<code>/<action>/ runs the
platform's action of that name or the session's game's (lobby.actions).
"""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("games/", views.game_list, name="game_list"),
    path("sessions/", views.create_session, name="create_session"),
    path("sessions/<str:code>/", views.session_detail, name="session_detail"),
    path("sessions/<str:code>/<str:action>/", views.session_action, name="session_action"),
    re_path(r"^(?P<path>.*)$", views.not_found),
]
