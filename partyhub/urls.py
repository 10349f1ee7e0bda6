"""Top-level URL configuration."""

from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path

from lobby import pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("host/<str:code>/", pages.host_page, name="host_page"),
    path("play/<str:code>/", pages.play_page, name="play_page"),
    path("api/", include("lobby.urls")),
    # Daphne serves no static files of its own: the pages' JS and CSS come
    # from the apps' static/ folders through Django, with DEBUG on or off.
    re_path(r"^static/(?P<path>.+)$", serve_static, {"insecure": True}),
]
