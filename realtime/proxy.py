"""Who sent an HTTP request, by the sidecar's rule for WebSockets.

`client_address()` is the Python twin of the C sidecar's
`ph_conn_client_addr` (csrc/sidecar/conn.c; tests/test_proxy.py checks both agree):
the socket's peer, unless the peer is one of `trusted_proxies` (the
sidecar's setting, `PARTYHUB_SIDECAR`); then X-Forwarded-For is read from
the right (the nearest proxy appends last) past trusted proxies, and the
first other address is the client's, so what a client writes further left
is never believed. docs/architecture.md "Which address" has the reasons.

`ProxyHeadersMiddleware` (first in MIDDLEWARE) applies it to every request:
REMOTE_ADDR becomes the client's address, and X-Forwarded-Proto (which
SECURE_PROXY_SSL_HEADER reads) is dropped unless a trusted proxy sent it.
Daphne's own `--proxy-headers` believes the leftmost X-Forwarded-For entry
from any peer, which a client writes itself through nginx's
`$proxy_add_x_forwarded_for`; realtime.daphne runs Daphne with this rule
instead, so the scope's client and scheme agree with this middleware.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, JsonResponse

from .config import setting

# What the address is (csrc/sidecar/conn.h PH_ADDR_*): the peer's own; read from
# X-Forwarded-For; or a trusted proxy's that names no client (no header, or
# a malformed one), which stands for any number of clients.
PEER, FORWARDED, PROXY = "peer", "forwarded", "proxy"

# The longest X-Forwarded-For read; longer is refused with 400 (csrc/sidecar/server_conn.c
# PH_XFF_MAX: the sidecar copies the header into a buffer of this size).
XFF_MAX = 2048
# inet_ntop's longest text plus its NUL (csrc/sidecar/conn.h PH_ADDR_MAX).
ADDR_MAX = 46


@dataclass(frozen=True)
class Client:
    """A request's client: its address and what kind of address it is."""

    address: str
    kind: str


def canonical(text: str) -> str | None:
    """A numeric IP address in inet_ntop's form (IPv4-mapped IPv6 as IPv4),
    or None when `text` (spaces and tabs trimmed) is not one."""
    text = text.strip(" \t")
    # inet_pton takes neither zone ids nor anything longer than its buffer.
    if not text or len(text) >= ADDR_MAX or "%" in text:
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        packed = addr.packed
        if packed[:12] == bytes(12) and packed[12:14] != b"\0\0":
            # glibc's inet_ntop writes IPv4-compatible addresses dotted.
            return "::" + str(ipaddress.IPv4Address(packed[12:]))
    return str(addr)


def trusted_set(trusted: str | None) -> frozenset[str]:
    """The comma-separated `trusted_proxies` setting as canonical addresses."""
    return frozenset(a for a in map(canonical, (trusted or "").split(",")) if a is not None)


def client_address(peer: str, xff: str | None, trusted: str | None) -> Client:
    """The address a request from `peer` with X-Forwarded-For `xff` (None:
    absent) counts under, given the trusted proxies (see the module doc)."""
    proxies = trusted_set(trusted)
    # A unix socket's or unknown peer: as is (cut as the C buffer cuts it).
    current = canonical(peer) or peer[: ADDR_MAX - 1]
    if current not in proxies:
        return Client(current, PEER)
    kind = PROXY
    for entry in reversed((xff or "").split(",") if xff else []):
        if current not in proxies:
            break
        address = canonical(entry)
        if address is None:
            break  # garbage: keep the last address read
        current, kind = address, FORWARDED
    return Client(current, kind)


def client_of(request: HttpRequest) -> Client:
    """The request's client (set by ProxyHeadersMiddleware, else computed)."""
    client = getattr(request, "partyhub_client", None)
    if client is None:
        client = client_address(
            request.META.get("REMOTE_ADDR", ""),
            request.META.get("HTTP_X_FORWARDED_FOR"),
            setting("trusted_proxies"),
        )
        request.partyhub_client = client
    return client


class ProxyHeadersMiddleware:
    """Believe X-Forwarded-For and X-Forwarded-Proto from trusted proxies only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        xff = request.META.get("HTTP_X_FORWARDED_FOR")
        if xff is not None and len(xff.encode()) >= XFF_MAX:
            return JsonResponse(
                {
                    "error": {
                        "code": "BAD_REQUEST",
                        "message": "The X-Forwarded-For header is too long.",
                    }
                },
                status=400,
            )
        peer = request.META.get("REMOTE_ADDR", "")
        client = client_of(request)
        if canonical(peer) not in trusted_set(setting("trusted_proxies")):
            request.META.pop("HTTP_X_FORWARDED_PROTO", None)
        request.META["REMOTE_ADDR"] = client.address
        return self.get_response(request)
