"""Browser pages: the home page, the host's big screen and the player's phone.

The pages are plain Django templates; everything live happens in the static
ES modules (`lobby/static/lobby/*.js`) on top of the client module
`realtime/static/realtime/partyhub-client.js`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from realtime import protocol

from . import rules

# Used until the server defines `realtime.protocol.REACTION_EMOJI`.
FALLBACK_REACTION_EMOJI = ("😂", "😮", "👏", "🔥", "🤔", "😈")


def reaction_emoji() -> list[str]:
    """The emoji a player may send as a reaction (the server's list when it has one)."""
    return list(getattr(protocol, "REACTION_EMOJI", FALLBACK_REACTION_EMOJI))


def _code_or_404(code: str) -> str:
    code = code.upper()
    if len(code) != 4 or any(ch not in rules.CODE_ALPHABET for ch in code):
        raise Http404("No such game code.")
    return code


def page_config(request: HttpRequest, code: str | None = None, role: str | None = None) -> dict:
    """What a page's script needs: code, role, where sockets go, limits, emoji.

    Sockets go to `ws_url` when set, else to the page's own host on `ws_port`
    (the sidecar under `make run`), else on the page's own port.
    """
    return {
        "code": code,
        "role": role,
        "ws_url": settings.PARTYHUB_WS_URL,
        "ws_port": getattr(settings, "PARTYHUB_WS_PORT", None),
        "join_url": request.build_absolute_uri(f"/play/{code}/") if code else None,
        "name_max": rules.NAME_MAX,
        "lie_max": rules.LIE_MAX,
        "min_players": rules.MIN_PLAYERS,
        "reaction_emoji": reaction_emoji(),
    }


def home(request: HttpRequest) -> HttpResponse:
    """`/`: create a game (host) or join one by code."""
    context = {
        "config": page_config(request),
        "settings_limits": rules.SETTINGS,
    }
    return render(request, "lobby/home.html", context)


def host_page(request: HttpRequest, code: str) -> HttpResponse:
    """`/host/<code>/`: the big screen."""
    code = _code_or_404(code)
    config = page_config(request, code, "host")
    return render(request, "lobby/host.html", {"config": config, "code": code})


def play_page(request: HttpRequest, code: str) -> HttpResponse:
    """`/play/<code>/`: a player's phone."""
    code = _code_or_404(code)
    config = page_config(request, code, "player")
    return render(request, "lobby/play.html", {"config": config, "code": code})
