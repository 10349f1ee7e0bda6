"""The link players join by, and its QR code for the big screen.

The link uses the address a phone can reach: `PARTYHUB_PUBLIC_URL` when a
deployment names its public origin; else the request's own origin (behind
the TLS proxy that is the public one: its Host header, and X-Forwarded-Proto
from a trusted proxy, realtime.proxy); but a big screen opened on this
machine's loopback name while `make run` serves the whole LAN
(PARTYHUB_HOST=0.0.0.0) gets the LAN address runparty found
(`PARTYHUB_LAN_ADDRESS`), since `localhost` on a phone is the phone.
"""

from __future__ import annotations

import ipaddress

import segno
from django.conf import settings
from django.http import HttpRequest

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def _is_loopback(hostname: str) -> bool:
    name = hostname.strip("[]").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_host(host: str) -> tuple[str, str]:
    """("name", ":port" or "") of a Host header value."""
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1], host[end + 1 :]
    name, colon, port = host.rpartition(":")
    return (name, f":{port}") if colon and port.isdigit() else (host, "")


def public_origin(request: HttpRequest) -> str:
    """scheme://host[:port] that other devices reach this server at."""
    configured = getattr(settings, "PARTYHUB_PUBLIC_URL", None)
    if configured:
        return configured.rstrip("/")
    scheme = request.scheme
    name, port = _split_host(request.get_host())
    lan = getattr(settings, "PARTYHUB_LAN_ADDRESS", None)
    if lan and _is_loopback(name):
        name = f"[{lan}]" if ":" in lan else lan
    return f"{scheme}://{name}{port}"


def join_url(request: HttpRequest, code: str) -> str:
    """The link a player opens to join game `code`."""
    return f"{public_origin(request)}/play/{code}/"


def qr_svg(text: str, title: str) -> str:
    """`text` as an inline SVG QR code (segno), scaled by CSS (no fixed size).

    Error correction M survives a glare on the TV; the quiet zone is kept.
    """
    qr = segno.make(text, error="m", micro=False)
    return qr.svg_inline(
        scale=1, omitsize=True, title=title, dark="#000", light="#fff", svgclass="qr-code"
    )
