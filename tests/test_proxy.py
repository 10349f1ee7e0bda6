"""Who sent a request: realtime.proxy, the Python twin of the sidecar's rule.

The C function (`ph_conn_client_addr`, csrc/sidecar/conn.c) is called through
ctypes from the built extension and must agree with the Python one on every
input, from the C unit test's table and from random headers.
"""

from __future__ import annotations

import ctypes
import random
import unittest

from daphne import http_protocol, ws_protocol
from django.test import RequestFactory, SimpleTestCase, TestCase, override_settings
from twisted.web.http_headers import Headers

from realtime import daphne as daphne_proxy
from realtime import proxy

from .helpers import Api

LOOPBACK = "127.0.0.1,::1"
C_KINDS = {0: proxy.PEER, 1: proxy.FORWARDED, 2: proxy.PROXY}  # csrc/sidecar/conn.h PH_ADDR_*


def c_client_address():
    """ph_conn_client_addr from realtime._sidecar, or None (not built)."""
    try:
        from realtime import _sidecar
    except ImportError:
        return None
    func = ctypes.CDLL(_sidecar.__file__).ph_conn_client_addr
    func.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]
    func.restype = ctypes.c_int

    def call(peer: str, xff: str | None, trusted: str | None) -> proxy.Client:
        out = ctypes.create_string_buffer(proxy.ADDR_MAX)
        enc = lambda s: None if s is None else s.encode()  # noqa: E731
        kind = func(enc(peer), enc(xff), enc(trusted), out)
        return proxy.Client(out.value.decode(), C_KINDS[kind])

    return call


# tests/c/sidecar_unit.c test_client_addr, case for case.
TABLE = [
    (("203.0.113.5", None, LOOPBACK), ("203.0.113.5", proxy.PEER)),
    (("203.0.113.5", "1.2.3.4", LOOPBACK), ("203.0.113.5", proxy.PEER)),
    (("127.0.0.1", None, LOOPBACK), ("127.0.0.1", proxy.PROXY)),
    (("127.0.0.1", "", LOOPBACK), ("127.0.0.1", proxy.PROXY)),
    (("127.0.0.1", " 1.2.3.4 ", LOOPBACK), ("1.2.3.4", proxy.FORWARDED)),
    (("127.0.0.1", "6.6.6.6, 9.9.9.9, 127.0.0.1", LOOPBACK), ("9.9.9.9", proxy.FORWARDED)),
    (("::ffff:127.0.0.1", "2001:DB8::1", LOOPBACK), ("2001:db8::1", proxy.FORWARDED)),
    (("::1", "::ffff:10.1.2.3", LOOPBACK), ("10.1.2.3", proxy.FORWARDED)),
    (("127.0.0.1", "9.9.9.9, nonsense", LOOPBACK), ("127.0.0.1", proxy.PROXY)),
    (("127.0.0.1", "nonsense, 9.9.9.9", LOOPBACK), ("9.9.9.9", proxy.FORWARDED)),
    (("127.0.0.1", "1.2.3.4:80", LOOPBACK), ("127.0.0.1", proxy.PROXY)),
    (("127.0.0.1", "1.2.3.4", None), ("127.0.0.1", proxy.PEER)),
    (("127.0.0.1", "1.2.3.4", ""), ("127.0.0.1", proxy.PEER)),
    (("127.0.0.1", "::1,127.0.0.1", LOOPBACK), ("::1", proxy.FORWARDED)),
]

# Pieces random headers are made of: addresses in many spellings, trusted
# ones, and what clients and broken proxies write.
PIECES = [
    "127.0.0.1", "::1", "10.0.0.7", "203.0.113.5", "2001:DB8::1", "2001:db8:0:0:0:0:0:1",
    "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::1.2.3.4", "::0.0.1.2", "1:2:3:4:5:6:7::",
    "fe80::1%eth0", "01.2.3.4", "1.2.3.4:80", "256.1.1.1", "unknown", "", " ", "\t",
    "::", "0.0.0.0", "1.2.3", "1::2::3", "a" * 60, "::FFFF:1.2.3.4", "[::1]", "1.2.3.4 5",
]  # fmt: skip


def random_header(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 5)):
        pad = rng.choice(["", " ", "\t", "  "])
        parts.append(pad + rng.choice(PIECES) + rng.choice(["", " ", "\t"]))
    return ",".join(parts)


class ClientAddressTests(SimpleTestCase):
    def test_the_c_unit_tests_table(self):
        for args, (address, kind) in TABLE:
            with self.subTest(args=args):
                self.assertEqual(proxy.client_address(*args), proxy.Client(address, kind))

    def test_canonical_forms(self):
        self.assertEqual(proxy.canonical(" 2001:DB8:0:0:0:0:0:1\t"), "2001:db8::1")
        self.assertEqual(proxy.canonical("::FFFF:1.2.3.4"), "1.2.3.4")
        self.assertEqual(proxy.canonical("::1.2.3.4"), "::1.2.3.4")  # as glibc writes it
        for bad in ("fe80::1%eth0", "01.2.3.4", "1.2.3.4:80", "", "localhost", "[::1]"):
            self.assertIsNone(proxy.canonical(bad), bad)

    @unittest.skipIf(c_client_address() is None, "the C extension is not built")
    def test_python_and_c_agree_on_random_headers(self):
        c = c_client_address()
        for args, _ in TABLE:
            self.assertEqual(proxy.client_address(*args), c(*args), args)
        rng = random.Random(18)
        for _ in range(5000):
            peer = rng.choice(PIECES)
            xff = rng.choice([None, random_header(rng)])
            trusted = rng.choice([LOOPBACK, "", None, random_header(rng), "10.0.0.7, ::1"])
            self.assertEqual(
                proxy.client_address(peer, xff, trusted),
                c(peer, xff, trusted),
                (peer, xff, trusted),
            )


class ProxyHeadersTests(TestCase):
    """The middleware: REMOTE_ADDR, X-Forwarded-Proto, the header's length."""

    def create(self, **meta):
        return self.client.post("/api/sessions/", "{}", content_type="application/json", **meta)

    def test_https_is_believed_from_a_trusted_proxy_only(self):
        code, _ = Api().create()
        page = f"/play/{code}/"
        with override_settings(SECURE_SSL_REDIRECT=True):
            self.https_only(code, page)

    def https_only(self, code: str, page: str) -> None:
        proxied = self.client.get(
            page, HTTP_HOST="testserver", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="127.0.0.1"
        )
        self.assertEqual(proxied.status_code, 200)
        # The join link on the page says https: the proxy said so.
        self.assertIn(f"https://testserver/play/{code}/", proxied.content.decode())
        # Anyone else's X-Forwarded-Proto is dropped: plain HTTP, redirected.
        direct = self.client.get(
            page, HTTP_HOST="testserver", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="203.0.113.5"
        )
        self.assertEqual(direct.status_code, 301)
        self.assertEqual(direct["Location"], f"https://testserver{page}")

    def test_remote_addr_becomes_the_client(self):
        seen = {}

        def view(request):
            seen.update(addr=request.META["REMOTE_ADDR"], client=proxy.client_of(request))

        request = RequestFactory().get(
            "/", REMOTE_ADDR="::1", HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.7"
        )
        proxy.ProxyHeadersMiddleware(view)(request)
        self.assertEqual(seen["addr"], "198.51.100.7")
        self.assertEqual(seen["client"], proxy.Client("198.51.100.7", proxy.FORWARDED))

    def test_a_header_the_sidecar_would_not_read_is_refused(self):
        longest = ",".join(["10.0.0.1"] * 227)  # 2,042 bytes
        self.assertEqual(self.create(HTTP_X_FORWARDED_FOR=longest).status_code, 201)
        response = self.create(HTTP_X_FORWARDED_FOR=longest + ",1.2.3.4")  # 2,050
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"]["code"], "BAD_REQUEST")


@override_settings(PARTYHUB_SIDECAR={"trusted_proxies": LOOPBACK})
class DaphneProxyHeadersTests(SimpleTestCase):
    """realtime.daphne: Daphne's --proxy-headers, believing trusted proxies only."""

    def parse(self, peer: str, headers: dict[bytes, bytes], scheme="http"):
        return daphne_proxy.parse_forwarded(
            headers,
            "X-Forwarded-For",
            "X-Forwarded-Port",
            "X-Forwarded-Proto",
            [peer, 5555],
            scheme,
        )

    def test_a_trusted_proxy_names_the_client_and_the_scheme(self):
        headers = {
            b"x-forwarded-for": b"198.51.100.1, 203.0.113.4, 127.0.0.1",
            b"x-forwarded-proto": b"https",
        }
        # Read from the right past trusted proxies: what the client wrote
        # (198.51.100.1, left of the address nginx appended) is not believed.
        self.assertEqual(self.parse("127.0.0.1", headers), (["203.0.113.4", 0], "https"))
        twisted = Headers({b"X-Forwarded-For": [b"203.0.113.4"], b"X-Forwarded-Port": [b"443"]})
        self.assertEqual(self.parse("::1", twisted), (["203.0.113.4", 443], "http"))

    def test_anyone_else_is_taken_as_they_connect(self):
        headers = {b"x-forwarded-for": b"203.0.113.4", b"x-forwarded-proto": b"https"}
        self.assertEqual(self.parse("192.0.2.9", headers), (["192.0.2.9", 5555], "http"))

    def test_a_trusted_proxy_that_names_nobody_stays_itself(self):
        for headers in ({}, {b"x-forwarded-for": b"not an address"}):
            self.assertEqual(self.parse("127.0.0.1", headers), (["127.0.0.1", 5555], "http"))
        self.assertEqual(
            self.parse("127.0.0.1", {b"x-forwarded-proto": b"gopher"}, "http"),
            (["127.0.0.1", 5555], "http"),
        )

    def test_both_of_daphnes_protocols_use_it(self):
        daphne_proxy.install()
        self.assertIs(http_protocol.parse_x_forwarded_for, daphne_proxy.parse_forwarded)
        self.assertIs(ws_protocol.parse_x_forwarded_for, daphne_proxy.parse_forwarded)
