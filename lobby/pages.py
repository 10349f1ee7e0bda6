"""Browser pages: the home page, and each game's host screen and player phone.

Every page extends the platform's shell (templates/lobby/base.html: top bar,
connection status indicator, toasts, the page's config as JSON). The home
page lists the registered games and builds each one's settings form from its
settings table; /host/<code>/ and /play/<code>/ render the session's game's
templates (GameDriver.pages). Everything live happens in static ES modules on
top of the client module `realtime/static/realtime/partyhub-client.js`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.translation import gettext as _

from . import joinlink, options, presets, registry, rules
from .driver import GameDriver
from .models import GameSession
from .reactions import REACTION_EMOJI
from .views import describe_games


def _code_or_404(code: str) -> str:
    if not rules.is_code(code):
        raise Http404("No such game code.")
    return code.upper()


def page_config(
    request: HttpRequest,
    code: str | None = None,
    role: str | None = None,
    driver: GameDriver | None = None,
    session: GameSession | None = None,
) -> dict:
    """What a page's script needs: code, role, where sockets go, limits, emoji,
    and the game's own facts (GameDriver.page_config).

    Sockets go to `ws_url` when set, else to the page's own host on `ws_port`
    (the sidecar under `make run`), else on the page's own port.
    """
    config = {
        "code": code,
        "role": role,
        "ws_url": settings.PARTYHUB_WS_URL,
        "ws_port": getattr(settings, "PARTYHUB_WS_PORT", None),
        "join_url": joinlink.join_url(request, code) if code else None,
        "name_max": rules.NAME_MAX,
        "reaction_emoji": list(REACTION_EMOJI),
    }
    if driver is not None:
        config.update(game=driver.name, title=driver.title, min_players=driver.min_players)
        # Award titles travel in English in phase.game_over (one event for
        # everyone): each page gets them in its own language, by award id.
        config["award_titles"] = {award.id: _(award.title) for award in driver.awards}
        config.update(driver.page_config(session))
    return config


def home(request: HttpRequest) -> HttpResponse:
    """`/`: create a game of any registered kind (host) or join one by code.

    The form offers each game's options (the packs and categories this
    visitor may use) and, signed in, their presets (`?game=&preset=` picks
    one). Guests host exactly as before.
    """
    games = describe_games()
    user = request.user if request.user.is_authenticated else None
    config = {
        **page_config(request),
        "games": games,
        "default": registry.default_game(),
        "choices": {
            d.name: {o.name: options.choices(d, o, user) for o in d.options}
            for d in registry.games()
        },
        "presets": [presets.describe(p) for p in presets.owned(user)],
        "signed_in": user is not None,
        "selected": {"game": request.GET.get("game"), "preset": request.GET.get("preset")},
    }
    if user is not None:
        config["csrf_token"] = get_token(request)  # a signed-in create is CSRF-checked
    context = {"config": config, "games": games, "default": registry.default_game()}
    return render(request, "lobby/home.html", context)


def _game_page(request: HttpRequest, code: str, role: str) -> HttpResponse:
    code = _code_or_404(code)
    session = GameSession.objects.filter(code=code).first()
    # An unknown code still gets a page (of the default game), which tells
    # the visitor there is no such game.
    driver = registry.of(session) if session else registry.game(registry.default_game())
    template = driver.pages.host if role == "host" else driver.pages.play
    config = page_config(request, code, role, driver, session)
    context = {"config": config, "code": code, "game": driver}
    if role == "host":
        context["join_qr"] = joinlink.qr_svg(
            config["join_url"], _("QR code of the join link %(url)s") % {"url": config["join_url"]}
        )
    return render(request, template, context)


def host_page(request: HttpRequest, code: str) -> HttpResponse:
    """`/host/<code>/`: the big screen."""
    return _game_page(request, code, "host")


def play_page(request: HttpRequest, code: str) -> HttpResponse:
    """`/play/<code>/`: a player's phone."""
    return _game_page(request, code, "player")
