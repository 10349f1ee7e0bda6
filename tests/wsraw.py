"""A raw-socket WebSocket client (RFC 6455) for conformance tests.

Written for the tests and independent of any server code: it builds frames
byte by byte, so a test can send what a well-behaved client never would
(reserved bits, reserved opcodes, unmasked frames, fragmented control frames,
oversized control frames, invalid UTF-8, bad close codes), split them into
arbitrary TCP writes, and then record exactly what the server answered, frame
by frame, up to the TCP close.

    ws = RawWebSocket.connect("127.0.0.1", 8000, "/ws/game/ABCD/?session_token=…",
                              origin="http://localhost")
    ws.send_frame(OP_TEXT, b'{"type":"ping"}')
    frame = ws.recv_frame(timeout=2)
"""

from __future__ import annotations

import base64
import hashlib
import os
import select
import socket
import struct
import time
from dataclasses import dataclass

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
OPCODE_NAMES = {
    OP_CONT: "cont",
    OP_TEXT: "text",
    OP_BINARY: "binary",
    OP_CLOSE: "close",
    OP_PING: "ping",
    OP_PONG: "pong",
}

RSV1, RSV2, RSV3 = 0x4, 0x2, 0x1  # as the 3-bit rsv argument of frame()


class HandshakeError(Exception):
    """The server did not answer the opening handshake with a valid 101."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Eof(Exception):
    """The server closed the TCP connection."""


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def mask_bytes(payload: bytes, key: bytes) -> bytes:
    """XOR payload with the 4-byte masking key (RFC 6455 section 5.3)."""
    if not payload:
        return b""
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(payload), "big"
    )


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    mask_key: bytes | None = None,
    length_form: int | None = None,
) -> bytes:
    """One frame as bytes (RFC 6455 section 5.2).

    length_form forces the payload-length encoding: 7 (one byte), 16 (126 +
    two bytes) or 64 (127 + eight bytes); None picks the minimal one, as the
    RFC requires of senders.
    """
    head = bytes([(0x80 if fin else 0) | (rsv & 0x7) << 4 | (opcode & 0xF)])
    n = len(payload)
    form = length_form or (7 if n <= 125 else 16 if n <= 0xFFFF else 64)
    maskbit = 0x80 if mask else 0
    if form == 7:
        head += bytes([maskbit | n])
    elif form == 16:
        head += bytes([maskbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([maskbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return head + key + mask_bytes(payload, key)


def close_payload(code: int | None, reason: bytes = b"") -> bytes:
    """The body of a close frame: 2-byte code then reason (section 5.5.1)."""
    if code is None:
        return reason
    return struct.pack("!H", code) + reason


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes
    masked: bool = False

    @property
    def name(self) -> str:
        return OPCODE_NAMES.get(self.opcode, f"op{self.opcode}")

    def close_code(self) -> int | None:
        """The status code of a close frame (None when its body is empty)."""
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    def close_reason(self) -> bytes:
        return self.payload[2:]


class RawWebSocket:
    """One client connection on a plain TCP socket."""

    def __init__(self, sock: socket.socket, leftover: bytes = b"") -> None:
        self.sock = sock
        self.buf = bytearray(leftover)
        self.eof = False
        self.response_headers: dict[str, str] = {}

    # -- opening handshake (section 4.1) ------------------------------------

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        path: str,
        *,
        origin: str | None = "http://localhost",
        timeout: float = 5.0,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> RawWebSocket:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if origin is not None:
            lines.append(f"Origin: {origin}")
        lines += [f"{name}: {value}" for name, value in extra_headers]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data:
            if time.monotonic() > deadline:
                sock.close()
                raise HandshakeError("no handshake response in time")
            chunk = sock.recv(4096)
            if not chunk:
                sock.close()
                raise HandshakeError(f"connection closed during handshake: {data[:200]!r}")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status != 101:
            sock.close()
            raise HandshakeError(f"handshake answered {status_line!r}", status)
        if headers.get("sec-websocket-accept") != accept_key(key):
            sock.close()
            raise HandshakeError("wrong Sec-WebSocket-Accept", status)
        if headers.get("upgrade", "").lower() != "websocket":
            sock.close()
            raise HandshakeError("missing Upgrade: websocket", status)
        ws = cls(sock, rest)
        ws.response_headers = headers
        return ws

    # -- sending --------------------------------------------------------------

    def send_raw(self, data: bytes, chunk: int | None = None, delay: float = 0.0) -> bool:
        """Write bytes, optionally in chunks of `chunk` with `delay` between.

        Returns False when the server had already closed (EPIPE/ECONNRESET):
        a server that fails a connection may close before we finish writing.
        """
        try:
            if not chunk:
                self.sock.sendall(data)
                return True
            for i in range(0, len(data), chunk):
                self.sock.sendall(data[i : i + chunk])
                if delay:
                    time.sleep(delay)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def send_frame(self, opcode: int, payload: bytes = b"", **kw) -> bool:
        chunk = kw.pop("chunk", None)
        delay = kw.pop("delay", 0.0)
        return self.send_raw(frame(opcode, payload, **kw), chunk, delay)

    def send_text(self, text: str | bytes, **kw) -> bool:
        data = text.encode() if isinstance(text, str) else text
        return self.send_frame(OP_TEXT, data, **kw)

    def send_close(self, code: int | None = 1000, reason: bytes = b"") -> bool:
        return self.send_frame(OP_CLOSE, close_payload(code, reason))

    # -- receiving --------------------------------------------------------------

    def _fill(self, need: int, deadline: float) -> None:
        while len(self.buf) < need:
            if self.eof:
                raise Eof()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError()
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                raise TimeoutError()
            try:
                chunk = self.sock.recv(1 << 16)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
                raise Eof()
            self.buf += chunk

    def recv_frame(self, timeout: float = 5.0) -> Frame:
        """The next frame; raises Eof on TCP close, TimeoutError on silence.

        A frame cut short by the TCP close raises Eof too.
        """
        deadline = time.monotonic() + timeout
        self._fill(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            self._fill(4, deadline)
            n = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif n == 127:
            self._fill(10, deadline)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        masked = bool(b1 & 0x80)
        key = b""
        if masked:
            self._fill(pos + 4, deadline)
            key = bytes(self.buf[pos : pos + 4])
            pos += 4
        self._fill(pos + n, deadline)
        payload = bytes(self.buf[pos : pos + n])
        del self.buf[: pos + n]
        if masked:
            payload = mask_bytes(payload, key)
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 0x7, b0 & 0xF, payload, masked)

    def wait_eof(self, timeout: float = 2.0) -> bool:
        """Read and discard until the server closes TCP; True if it did in time."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(len(self.buf) + 1, deadline)
                self.buf.clear()
        except Eof:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
