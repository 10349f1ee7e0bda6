"""WebSocket servers and clients for the tests: Daphne serving GameConsumer,
the C sidecar (in this process, as `manage.py runsidecar`, or the standalone
C driver under a tool such as valgrind), and `manage.py runworker`.

Every server process started here inherits the test run's environment:
CHANNEL_REDIS_* (the private redis-server) and DATABASE_URL (the file-based
test database, see tests/runner.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websockets

from realtime import protocol

from .redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "http://localhost"
# Timeout multiplier for slow tools (valgrind): SIDECAR_SLOW=8.
SLOW = float(os.environ.get("SIDECAR_SLOW", "1"))


def wait_port(port: int, proc: subprocess.Popen | None, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}:\n{log.read_text()[-4000:]}")


class Process:
    """A child process with its output in a temporary log file."""

    def __init__(self, args: list[str], name: str) -> None:
        self.log = Path(tempfile.mkstemp(prefix=f"partyhub-{name}-", suffix=".log")[1])
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ)
            )

    def logtext(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.unlink(missing_ok=True)


def manage(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


class Daphne:
    """Daphne serving partyhub.asgi (GameConsumer) as a real subprocess."""

    name = "daphne"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process = Process(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "partyhub.asgi:application",
            ],
            "daphne",
        )
        wait_port(self.port, self.process.proc, 30, self.process.log)

    def close(self) -> None:
        self.process.stop()
        self.process.close()


class InProcessSidecar:
    """realtime._sidecar.Server serving in a thread of the test process."""

    name = "sidecar"

    def __init__(self, **overrides) -> None:
        from realtime.sidecar import SidecarRunner

        self.runner = SidecarRunner(bind="127.0.0.1:0", **overrides).start()
        self.port = self.runner.port
        wait_redis_up(self.stats)

    def stats(self) -> dict:
        return self.runner.stats()

    def stop(self) -> None:
        self.runner.stop()
        if not self.runner.wait(10 * SLOW):
            raise AssertionError("the sidecar did not stop within 10 s")

    def close(self) -> None:
        self.stop()


class DriverSidecar:
    """The standalone C driver (tests/c/sidecar_run.c), optionally under a
    tool: SIDECAR_BIN=build/sidecar/sidecar_run SIDECAR_WRAP='valgrind …'."""

    name = "sidecar"
    OPTIONS = {
        "client_types": "--types",
        "max_message": "--max-message",
        "ping_interval": "--ping",
        "ping_timeout": "--ping-timeout",
        "hard_bytes": "--hard-bytes",
        "hard_msgs": "--hard-msgs",
        "soft_bytes": "--soft-bytes",
        "soft_msgs": "--soft-msgs",
        "max_conns_per_ip": "--max-conns-per-ip",
        "max_connections": "--max-connections",
        "trusted_proxies": "--trusted-proxies",
    }
    # Passed always: runsidecar's defaults (realtime/sidecar.py), not C's.
    DEPLOYED = {
        "msg_rate": "--msg-rate",
        "msg_burst": "--msg-burst",
        "msg_flood": "--msg-flood",
        "max_json_depth": "--max-json-depth",
    }

    def __init__(self, **overrides) -> None:
        from realtime.sidecar import sidecar_kwargs

        kwargs = sidecar_kwargs(bind="127.0.0.1:0", **overrides)
        self.port = free_port()
        args = [
            os.environ["SIDECAR_BIN"],
            "--port",
            str(self.port),
            "--redis-port",
            str(kwargs["redis_hosts"][0]["port"]),
            "--origins",
            kwargs["allowed_origins"],
            "--version",
            kwargs["server_version"],
        ]
        for key, flag in self.OPTIONS.items():
            if key in overrides:
                args += [flag, str(overrides[key])]
        for key, flag in self.DEPLOYED.items():
            args += [flag, str(kwargs[key])]
        if "soft_seconds" in overrides:
            args += ["--soft-ms", str(int(overrides["soft_seconds"] * 1000))]
        self.process = Process(shlex.split(os.environ.get("SIDECAR_WRAP", "")) + args, "sidecar")
        wait_port(self.port, self.process.proc, 30 * SLOW, self.process.log)
        wait_redis_up(self.stats)

    def stats(self) -> dict:
        return healthz_stats(self.port)

    def close(self) -> None:
        status = self.process.stop(timeout=30 * SLOW)
        try:
            if status != 0:  # under valgrind/ASan: the tool found errors
                raise AssertionError(f"sidecar exited {status}:\n{self.process.logtext()[-6000:]}")
        finally:
            self.process.close()


def Sidecar(**overrides):  # noqa: N802 - a factory standing for a class
    """The sidecar the suite runs against: in-process unless SIDECAR_BIN is set."""
    if os.environ.get("SIDECAR_BIN"):
        return DriverSidecar(**overrides)
    return InProcessSidecar(**overrides)


class RunSidecar:
    """`manage.py runsidecar` as a subprocess (signals, log drain, exit)."""

    name = "runsidecar"

    def __init__(self, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process = Process(
            manage("runsidecar", "--bind", f"127.0.0.1:{self.port}", *args), "runsidecar"
        )
        wait_port(self.port, self.process.proc, 30, self.process.log)
        # Sockets opened before its Redis links are up are closed 1013. With
        # --workers N each new connection reaches any worker (SO_REUSEPORT):
        # 24 answers in a row that say "up" leave a worker unasked with a
        # chance below 1 in 4,000 for N <= 3.
        for _ in range(24 if "--workers" in args else 1):
            wait_redis_up(lambda: healthz_stats(self.port))

    def close(self) -> None:
        self.process.stop()
        self.process.close()


class Worker:
    """`manage.py runworker partyhub.inbound`."""

    def __init__(self) -> None:
        self.process = Process(manage("runworker", "partyhub.inbound"), "worker")
        time.sleep(1.0)  # no port to wait for; it polls Redis once started
        if self.process.proc.poll() is not None:
            raise RuntimeError(self.process.logtext())

    def close(self) -> None:
        self.process.stop()
        self.process.close()


def healthz_stats(port: int) -> dict:
    """redis_up and connections of a sidecar process, from its /healthz."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        health = json.loads(r.read())
    return {"redis_up": health["redis"] == "up", "connections": health["connections"]}


def wait_redis_up(stats, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if stats()["redis_up"]:
                return
        time.sleep(0.02)
    raise RuntimeError("the sidecar did not reach Redis")


# ---- clients -------------------------------------------------------------


def ws_url(port: int, code: str, query: str = "") -> str:
    return f"ws://127.0.0.1:{port}/ws/game/{code}/?{query}"


async def connect(port: int, code: str, query: str, origin: str | None = ORIGIN, **kw):
    return await websockets.connect(
        ws_url(port, code, query), origin=origin, max_size=None, open_timeout=10 * SLOW, **kw
    )


async def recv_json(ws, timeout: float = 5) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout * SLOW))


async def join(port: int, code: str, query: str, **kw):
    """Open a socket and read welcome and state: (ws, welcome, state)."""
    ws = await connect(port, code, query, **kw)
    welcome = await recv_json(ws, 10)
    state = await recv_json(ws, 10)
    assert welcome["type"] == protocol.WELCOME, welcome
    assert state["type"] == protocol.SESSION_STATE, state
    return ws, welcome, state


async def close_code(ws, timeout: float = 5):
    """Read until the server closes; the close code it sent (None if none)."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout * SLOW)
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None
