"""Process trees and socket owners from /proc, and `manage.py runparty` as a
subprocess: what the supervisor tests look at from outside, as an operator
would with ps and ss."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .redis_server import free_port
from .servers import manage

ROOT = Path(__file__).resolve().parent.parent
TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
LISTEN, ESTABLISHED = "0A", "01"


def wait_until(predicate, timeout: float, step: float = 0.05, message: str = ""):
    """Poll predicate() until it returns something true; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"not true within {timeout} s: {predicate}")
        time.sleep(step)


def children(pid: int) -> list[int]:
    """The direct children of pid, from /proc (every thread's list)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found += [int(child) for child in text.split()]
    except FileNotFoundError:
        return []
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def alive(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def _tcp_rows():
    for table in TCP_TABLES:
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            yield local_port, remote_port, fields[3], fields[9]


def listeners(port: int) -> int:
    """Listening TCP sockets on port (both address families)."""
    return sum(1 for local, _, state, _ in _tcp_rows() if local == port and state == LISTEN)


def socket_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of pids holds the server side of the connection from client_port."""
    inodes = {
        inode
        for local, remote, state, inode in _tcp_rows()
        if local == server_port and remote == client_port and state == ESTABLISHED
    }
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    return None


def free_port_pair() -> int:
    """A port p such that p and p + 1 are both free on 127.0.0.1 (Daphne, sidecar)."""
    return free_port(2)


# What each runparty service runs, to tell them apart in the process list.
SERVICES = {
    "redis": "redis-server",
    "sidecar": "manage.py runsidecar",
    "inbound": "manage.py runworker",
    "daphne": "-m realtime.daphne",
    "celery": " worker --loglevel",
    "beat": " beat --loglevel",
    "relay": "manage.py runrelay",
}


class RunParty:
    """`manage.py runparty` (what `make run` runs) on free ports, output in a log.

    It inherits the test run's environment (test database, and Redis unless
    `private_redis`, which lets it start its own); `env` adds to it.
    """

    def __init__(self, env: dict[str, str] | None = None, private_redis: bool = False) -> None:
        self.port = free_port_pair()
        self.ws_port = self.port + 1
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        for name in ("PARTYHUB_WS_URL", "PARTYHUB_WS_PORT", "PARTYHUB_LOG_LEVEL"):
            self.env.pop(name, None)
        if private_redis:
            for name in ("CHANNEL_REDIS_HOST", "CHANNEL_REDIS_PORT", "CELERY_BROKER_URL"):
                self.env.pop(name, None)
        self.env.update(env or {})
        fd, name = tempfile.mkstemp(prefix="partyhub-runparty-", suffix=".log")
        os.close(fd)
        self.log = Path(name)
        self.proc: subprocess.Popen | None = None
        self.started: dict[str, int] = {}

    def start(self, timeout: float = 90) -> RunParty:
        """Start it and wait for its start lines: {service: pid}."""
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                manage("runparty", "--port", str(self.port)),
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._started, timeout, 0.1, f"runparty did not start:\n{self.text()}")
        for name, pid in re.findall(r"^  (\w+) +pid (\d+) ", self.text(), re.M):
            self.started[name] = int(pid)
        return self

    def _started(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"runparty exited with {self.proc.returncode}:\n{self.text()}")
        return "partyhub is running" in self.text()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self) -> dict[str, int]:
        """Each service's current pid, from runparty's children in /proc."""
        found = {}
        for pid in children(self.proc.pid):
            line = cmdline(pid)
            for name, mark in SERVICES.items():
                if mark in line and alive(pid):
                    found[name] = pid
        return found

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # its children get SIGTERM (PR_SET_PDEATHSIG)
                self.proc.wait()
        self.log.unlink(missing_ok=True)
