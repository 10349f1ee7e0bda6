"""Top-level URL configuration."""

from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from lobby import i18n, library_pages, pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("host/<str:code>/", pages.host_page, name="host_page"),
    path("play/<str:code>/", pages.play_page, name="play_page"),
    path("api/", include("lobby.urls")),
    # The language switcher (set_language) and the scripts' translations.
    path("i18n/", include("django.conf.urls.i18n")),
    path(
        "jsi18n/",
        JavaScriptCatalog.as_view(packages=i18n.script_packages()),
        name="javascript-catalog",
    ),
    # What a signed-in user keeps (lobby.library_pages) and their account.
    path("presets/", library_pages.preset_list, name="presets"),
    path("presets/new/<str:game>/", library_pages.preset_new, name="preset_new"),
    path("presets/<int:preset_id>/", library_pages.preset_edit, name="preset_edit"),
    path("presets/<int:preset_id>/delete/", library_pages.preset_delete, name="preset_delete"),
    path("packs/", library_pages.pack_list, name="packs"),
    path("packs/<str:game>/<int:pack_id>/", library_pages.pack_detail, name="pack_detail"),
    path("packs/<str:game>/<int:pack_id>/delete/", library_pages.pack_delete, name="pack_delete"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    # Static files: WhiteNoise (MIDDLEWARE), before any URL is resolved.
]
