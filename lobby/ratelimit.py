"""HTTP rate limits per client address: creating games, joining, actions,
signing in.

Every POST (or other unsafe method) counts against one limit, chosen by the
route: `create` (POST /api/sessions/), `join` (the session action `join`),
`account` (signing in or up, asking for a password reset, deleting an
account: what guesses passwords or sends email), or `action` for
everything else. A limit is
"N/S": at most N requests at once from one address, refilled at N per S
seconds (GCRA, the token bucket as one timestamp per key). Over it the
answer is 429 with `Retry-After` and the API's JSON error body, code
RATE_LIMITED (outside /api/, a page in the platform's look). Counters live
in Redis (the channel layer's hosts, placed by channels_redis' hash), so
every Daphne process enforces the same limit.

The client address is realtime.proxy's (the sidecar's rule with its
`trusted_proxies`). A trusted proxy that names no client (loopback without
X-Forwarded-For: local tools, `make run` in one browser) is not limited, as
the sidecar does not cap its sockets. When Redis cannot be asked the request
goes on (logged): the limit protects the service, it must not stop it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import ngettext

from realtime import keys, proxy, snapshot

from .errors import GameError

logger = logging.getLogger("lobby.ratelimit")

# Default limits, "N/S" (N requests, refilled over S seconds; "0" = none).
# Players of a party share a venue's address, so join and action are meant
# to stop one machine flooding, not to limit a party (docs/operations.md).
DEFAULTS = {"create": "10/60", "join": "60/60", "action": "600/60", "account": "10/300"}
# Requests with a limit of their own, by URL name (lobby/urls.py) and by
# session action (/api/sessions/<code>/<action>/, lobby.actions); any other
# unsafe request is an action.
KIND_BY_ROUTE = {
    "create_session": "create",
    # accounts/urls.py: a person mistypes a few times; a script guesses on.
    "login": "account",
    "signup": "account",
    "password_reset": "account",
    "delete_account": "account",
}
KIND_BY_ACTION = {"join": "join"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# One GCRA step, on the server's clock (every process agrees on it).
# KEYS[1] the address's key; ARGV[1] N, ARGV[2] S in microseconds.
# The key holds the theoretical arrival time (µs) and expires when the
# bucket is full again. Returns 0 (go on) or the µs to wait.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local period = tonumber(ARGV[2])
local interval = period / tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat + interval - now - period
if wait > 0 then return math.ceil(wait) end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
return 0
"""


def parse_limit(text: str) -> tuple[int, float] | None:
    """'N/S' -> (N, S); '0' or 'off' -> None (no limit)."""
    value = str(text).strip().lower()
    if value in {"0", "off", "none", ""}:
        return None
    count, sep, seconds = value.partition("/")
    try:
        parsed = (int(count), float(seconds))
    except ValueError:
        parsed = None
    if not sep or parsed is None or parsed[0] < 1 or not 0 < parsed[1] < 1e9:
        raise ImproperlyConfigured(f"rate limit {text!r} is not 'N/S' (N requests per S seconds)")
    return parsed


def limit(kind: str) -> tuple[int, float] | None:
    """The limit of `kind`: PARTYHUB_RATE_LIMITS[kind] or its default."""
    return parse_limit(getattr(settings, "PARTYHUB_RATE_LIMITS", {}).get(kind, DEFAULTS[kind]))


def kind_of(request: HttpRequest) -> str | None:
    """Which limit a request counts against (None: a safe method)."""
    if request.method in SAFE_METHODS:
        return None
    match = request.resolver_match
    if match is None:
        return "action"
    return KIND_BY_ROUTE.get(match.url_name) or KIND_BY_ACTION.get(
        match.kwargs.get("action"), "action"
    )


class Limiter:
    """Takes one request from an address's bucket in Redis."""

    def __init__(self) -> None:
        self._script: redis.commands.core.Script | None = None

    def wait(self, kind: str, address: str, count: int, seconds: float) -> float:
        """Seconds to wait before this request may go on (0: go on now)."""
        name = f"{keys.KEY_RATELIMIT}{kind}:{address}"
        client = snapshot.client_for_key(name)
        if self._script is None:
            self._script = client.register_script(_TAKE)  # EVALSHA on any client
        waited = self._script(keys=[name], args=[count, int(seconds * 1_000_000)], client=client)
        return int(waited) / 1_000_000


class RateLimitMiddleware:
    """429 with Retry-After for an address over its limit (see the module doc)."""

    LOG_EVERY = 60.0  # s between two warnings that Redis could not be asked

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limiter = Limiter()
        self._last_warning = -math.inf

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        kind = kind_of(request)
        if kind is None:
            return None
        bounds = limit(kind)
        client = proxy.client_of(request)
        if bounds is None or client.kind == proxy.PROXY:
            return None
        try:
            wait = self.limiter.wait(kind, client.address, *bounds)
        except redis.RedisError as exc:
            now = time.monotonic()
            if now - self._last_warning >= self.LOG_EVERY:
                self._last_warning = now
                logger.warning("rate limit not checked (Redis: %s); requests go on", exc)
            return None
        if wait <= 0:
            return None
        retry_after = max(1, math.ceil(wait))
        message = ngettext(
            "Too many requests from your address: try again in %(seconds)s second.",
            "Too many requests from your address: try again in %(seconds)s seconds.",
            retry_after,
        )
        error = GameError(429, "RATE_LIMITED", message % {"seconds": retry_after})
        if request.path.startswith("/api/"):
            response = JsonResponse(error.as_json(), status=error.status)
        else:
            context = {"retry_after": retry_after}
            response = render(request, "lobby/rate_limited.html", context, status=error.status)
        response["Retry-After"] = str(retry_after)
        return response
