"""A private redis-server process: free port, its own dir, nothing saved.

Used by `make run` (when no Redis is configured) and by the tests:

    with RedisServer() as redis:
        redis.port, redis.url, redis.kill(), redis.restart()
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

# Where free_port() looks: by default the kernel's choice (port 0, from the
# ephemeral range). A test process that runs beside others (`manage.py test
# --parallel`) takes a block of its own below the ephemeral range
# (use_port_block), so that two processes, or a client socket the kernel just
# gave a port, cannot be handed the same port between its choice and its bind.
_block: dict[str, int] = {}


def use_port_block(first: int, count: int) -> None:
    """Make free_port() hand out ports from [first, first + count) in turn."""
    _block.update(first=first, count=count, next=random.randrange(count))


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(count: int = 1) -> int:
    """The first of `count` adjacent TCP ports on 127.0.0.1 that nothing uses right now."""
    for _ in range(200):
        if _block:
            port = _block["first"] + _block["next"]
            _block["next"] = (_block["next"] + count) % (_block["count"] - count)
        else:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        if all(_bindable(port + i) for i in range(count)):
            return port
    raise RuntimeError(f"no {count} adjacent free ports")


def redis_server_binary() -> str:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        raise RuntimeError("redis-server is not installed: `make run` or `make test` installs it")
    return binary


class RedisServer:
    """One redis-server process owned by the test run."""

    def __init__(self, port: int | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        self.extra_args = extra_args
        self.dir = tempfile.mkdtemp(prefix="partyhub-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def args(self) -> list[str]:
        """The redis-server command line: this port, this dir, nothing saved."""
        return [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.dir,
            "--logfile",
            os.path.join(self.dir, "redis.log"),
            *self.extra_args,
        ]

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            self.args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: see {self.dir}/redis.log")
            if self.ping():
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *args: str | bytes) -> bytes:
        """Send one command in RESP and return the raw reply (for simple checks)."""
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg.encode() if isinstance(arg, str) else arg
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"".join(parts))
            return sock.recv(65536)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
