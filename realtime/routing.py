"""WebSocket URL routes, matched on the path as the sidecar sees it."""

import re

from channels.security.websocket import WebsocketDenier
from django.urls import re_path

from .consumers import GameConsumer, UnroutedConsumer

websocket_urlpatterns = [
    re_path(r"^ws/game/(?P<code>[^/]+)/$", GameConsumer.as_asgi()),
    # Anything else: the handshake refused with 403 (as the sidecar does),
    # not Channels' "No route found" (HTTP 500 and a traceback).
    re_path(r"", UnroutedConsumer.as_asgi()),
]


def canonical_path(path: str) -> str:
    """The (percent-decoded) request path as the sidecar's libwebsockets
    rewrites it before routing: runs of "/" collapsed to one, "/./" to "/",
    and "/../" backing up one segment (never above "/").

    Written here because the rule is libwebsockets' (lws_parse_urldecode),
    not a URL standard's; tests/test_differential.py checks both agree.
    """
    out: list[str] = []
    state = ""  # "", "/", "/.", "/.."
    for ch in path:
        if state == "/":
            if ch == "/":
                continue
            if ch == ".":
                state = "/."
                continue
        elif state == "/.":
            if ch == ".":
                state = "/.."
                continue
            if ch == "/":
                state = "/"
                continue
            out.append(".")
        elif state == "/..":
            if ch == "/":
                _back_up(out)
                state = "/"
                continue
            out.append("..")
        state = "/" if ch == "/" else ""
        out.append(ch)
    if state == "/..":
        _back_up(out)
    return "".join(out)


def _back_up(out: list[str]) -> None:
    """Drop the last segment of out (which ends with "/"), keeping its "/"."""
    text = "".join(out)
    if len(text) > 1:
        text = text[: text.rstrip("/").rfind("/") + 1] or "/"
    out[:] = [text]


# A request target libwebsockets cannot take as it is: a "%" without two hex
# digits after it (it answers 403), or an escaped control character (%00 to
# %1F: it hangs up, or ends the target there). Daphne refuses both (403;
# docs/protocol.md, "Intended differences").
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})|%[01][0-9A-Fa-f]")


def refused_target(raw_path: bytes, query_string: bytes) -> bool:
    """True for a request target with an escape libwebsockets refuses."""
    return bool(_BAD_ESCAPE.search(raw_path) or _BAD_ESCAPE.search(query_string))


class CanonicalPath:
    """ASGI middleware: route on canonical_path(scope["path"]); refuse
    (HTTP 403) a request target with an escape the sidecar cannot decode,
    or one that does not start with "/" (Autobahn would route it)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if not scope["path"].startswith("/") or refused_target(
            raw_path, scope.get("query_string", b"")
        ):
            return await WebsocketDenier()(scope, receive, send)
        scope = dict(scope, path=canonical_path(scope["path"]))
        return await self.app(scope, receive, send)
