"""Daphne with `--proxy-headers` that believes trusted proxies only.

`python -m realtime.daphne --proxy-headers ...` takes Daphne's own command
line. Daphne's `--proxy-headers` alone believes the leftmost X-Forwarded-For
entry from any peer, which a client writes itself through nginx's
`$proxy_add_x_forwarded_for`, and it has no setting for whom to trust. Here
its header parser is replaced by the sidecar's rule (realtime.proxy, with
the sidecar's `trusted_proxies`): from a peer that is no trusted proxy,
X-Forwarded-For, -Proto and -Port are ignored; from a trusted one,
X-Forwarded-For is read from the right past trusted proxies and
X-Forwarded-Proto gives the scheme. The ASGI scope then carries the client's
address and the scheme the client used (https behind TLS at nginx), for the
rate limits, join links and logs alike; Django's ProxyHeadersMiddleware
applies the same rule again, so the two never disagree.

Daphne parses the headers in one function that its HTTP and WebSocket
protocols import by name; both names are replaced before Daphne starts
(daphne is pinned to 4.2.x in pyproject.toml; tests/test_deploy.py runs it
behind nginx, tests/test_proxy.py checks the rule).
"""

from __future__ import annotations

from daphne import http_protocol, ws_protocol
from daphne.cli import CommandLineInterface
from twisted.web.http_headers import Headers

from . import proxy
from .config import setting


def _values(headers, name: str | None) -> list[str]:
    """Every value of header `name` (Daphne hands either Twisted's Headers or
    a dict of lowercase byte names to byte values)."""
    if not name:
        return []
    if isinstance(headers, Headers):
        headers = dict(headers.getAllRawHeaders())
    wanted = name.lower().encode("latin-1")
    for key, value in headers.items():
        if key.lower() == wanted:
            values = value if isinstance(value, list) else [value]
            return [v.decode("latin-1") for v in values]
    return []


def parse_forwarded(
    headers,
    address_header_name="X-Forwarded-For",
    port_header_name="X-Forwarded-Port",
    proto_header_name="X-Forwarded-Proto",
    original_addr=None,
    original_scheme=None,
):
    """Daphne's parse_x_forwarded_for, believing trusted proxies only."""
    if not address_header_name or not original_addr:
        return original_addr, original_scheme
    trusted = setting("trusted_proxies")
    peer = str(original_addr[0])
    if proxy.canonical(peer) not in proxy.trusted_set(trusted):
        return original_addr, original_scheme
    forwarded = _values(headers, address_header_name)
    client = proxy.client_address(peer, ",".join(forwarded) if forwarded else None, trusted)
    addr = original_addr
    if client.kind == proxy.FORWARDED:
        addr = [client.address, 0]
        ports = _values(headers, port_header_name)
        if ports and ports[-1].strip().isdigit():
            addr[1] = int(ports[-1].strip())
    scheme = original_scheme
    protos = _values(headers, proto_header_name)
    if protos and protos[-1].strip().lower() in ("http", "https"):
        scheme = protos[-1].strip().lower()
    return addr, scheme


def install() -> None:
    """Replace Daphne's header parser in both of its protocols."""
    http_protocol.parse_x_forwarded_for = parse_forwarded
    ws_protocol.parse_x_forwarded_for = parse_forwarded


def main() -> None:
    install()
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
