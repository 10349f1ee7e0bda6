"""REST routes under /api/: sessions of every game, the list of games, and a
signed-in user's presets and packs (lobby.library_api), and the API's
contracts (lobby.contract_views).

A session's actions are one route: /api/sessions/<code>/<action>/ runs the
platform's action of that name or the session's game's (lobby.actions).
"""

from django.urls import path, re_path

from . import contract_views, library_api, views

urlpatterns = [
    path("games/", views.game_list, name="game_list"),
    path("sessions/", views.create_session, name="create_session"),
    path("sessions/<str:code>/", views.session_detail, name="session_detail"),
    path("sessions/<str:code>/<str:action>/", views.session_action, name="session_action"),
    path("presets/", library_api.preset_list, name="preset_list"),
    path("presets/<str:preset_id>/", library_api.preset_detail, name="preset_detail"),
    path("packs/", library_api.pack_list, name="pack_list"),
    path("packs/<str:game>/<str:pack_id>/", library_api.pack_detail, name="pack_detail"),
    # The contracts (lobby.contract_views).
    path("openapi.json", contract_views.openapi_document, name="openapi"),
    path("asyncapi.json", contract_views.asyncapi_document, name="asyncapi"),
    path("docs/", contract_views.docs_page, name="api_docs"),
    re_path(r"^(?P<path>.*)$", views.not_found),
]
