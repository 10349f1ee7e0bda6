"""Top-level URL configuration."""

from django.urls import include, path

from lobby import pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("host/<str:code>/", pages.host_page, name="host_page"),
    path("play/<str:code>/", pages.play_page, name="play_page"),
    path("api/", include("lobby.urls")),
    # Static files: WhiteNoise (MIDDLEWARE), before any URL is resolved.
]
