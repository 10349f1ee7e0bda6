"""Shared helpers of the benchmark harness: child processes that speak JSON
lines, /proc sampling, the Django environment of a run, clean-up.

Every child is registered in `Children`; `Children.stop_all()` runs from the
orchestrator's `finally`, its SIGINT/SIGTERM handlers and `atexit`, so no
server, Redis or load generator outlives a run (even on Ctrl-C or a crash).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = ROOT / "build" / "bench"
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
ORIGIN = "http://127.0.0.1"


def log(msg: str) -> None:
    """A progress line (stderr, flushed, with the wall-clock time)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    """A step of the harness failed (not a measured failure of a peer)."""


def placement(pin: bool) -> dict[str, set[int]] | None:
    """The CPUs of a run: the server under test alone on one, everything
    else (the load generator, Redis, the broadcaster, this orchestrator) on
    another; None when not pinning or with fewer than two CPUs.

    Why: on loopback a server's send() runs the client's receive path and
    wakes the client with a sync wake-up, and the scheduler's wake-affine
    rule then queues the client on the *server's* CPU while the other one
    idles, so the client waits behind the whole write loop. A server that
    busy-polls keeps its CPU occupied and escapes that; one that sleeps
    between events does not (measured with `perf sched`: BENCHMARKS.md,
    "p99 at a fixed rate"). Redis or the broadcaster landing on the server's
    CPU adds noise of the same kind. Real clients are on other machines and
    a deployed server has its core, so every peer gets the same: one CPU of
    its own.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None
    return {"server": {cpus[0]}, "rest": set(cpus[1:2])}


class Child:
    """A child process; optionally a JSON-lines peer on stdin/stdout,
    optionally bound to a CPU set (every thread it starts inherits it)."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str] | None = None,
        json_io: bool = False,
        log_path: Path | None = None,
        cwd: Path = ROOT,
        cpus: set[int] | None = None,
    ) -> None:
        self.name = name
        self.args = args
        self.json_io = json_io
        self._log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if json_io else subprocess.DEVNULL,
            stdout=subprocess.PIPE if json_io else self._log,
            stderr=self._log,
            env=env,
            cwd=cwd,
            start_new_session=True,  # Ctrl-C goes to us; we stop the children
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        self._buf = b""
        Children.add(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def read(self, timeout: float) -> dict[str, Any] | None:
        """The next JSON line, or None after `timeout` seconds."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                if not self.alive():
                    raise BenchError(f"{self.name} exited with {self.proc.returncode}")
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise BenchError(f"{self.name} closed its output (exit {self.proc.poll()})")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def expect(self, event: str, timeout: float, on_other=None) -> dict[str, Any]:
        """Read lines until one with ev == event; others go to on_other."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.read(max(0.0, deadline - time.monotonic()))
            if msg is None:
                raise BenchError(f"{self.name}: no {event!r} within {timeout:.0f} s")
            if msg.get("ev") == event:
                return msg
            if msg.get("ev") == "error":
                raise BenchError(f"{self.name}: {msg.get('msg')}")
            if on_other is not None:
                on_other(msg)

    def call(self, line: str, event: str, timeout: float, on_other=None) -> dict[str, Any]:
        self.send(line)
        return self.expect(event, timeout, on_other)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM the process group, SIGKILL after `timeout`; idempotent."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if self._log is not subprocess.DEVNULL:
            self._log.close()
            self._log = subprocess.DEVNULL
        Children.discard(self)
        return self.proc.returncode


class Children:
    """Every live child of the run, for guaranteed clean-up."""

    _live: list[Child] = []
    _extra: list = []  # objects with .close() (e.g. RedisServer)

    @classmethod
    def add(cls, child: Child) -> None:
        cls._live.append(child)

    @classmethod
    def discard(cls, child: Child) -> None:
        if child in cls._live:
            cls._live.remove(child)

    @classmethod
    def add_closer(cls, obj) -> None:
        cls._extra.append(obj)

    @classmethod
    def stop_all(cls) -> None:
        for child in list(reversed(cls._live)):
            try:
                child.stop(timeout=3)
            except Exception as exc:  # clean-up must go on
                log(f"could not stop {child.name}: {exc}")
        for obj in list(reversed(cls._extra)):
            try:
                obj.close()
            except Exception as exc:
                log(f"could not close {obj!r}: {exc}")
        cls._extra.clear()


# ---- /proc ---------------------------------------------------------------


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss(pid: int) -> int:
    """Resident set size in bytes (user-space memory of the process)."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def proc_limit_nofile(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    parts = line.split()
                    return f"soft {parts[3]} hard {parts[4]}"
    except OSError:
        pass
    return "?"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "kernel": os.uname().release,
        "mem_gib": round(mem_kb / 2**20, 1),
        "loadavg_at_start": [float(x) for x in load],
        "python": sys.version.split()[0],
        "nofile_limit": proc_limit_nofile(os.getpid()),
    }


def django_env(db_path: Path, redis_port: int, extra: dict[str, str] | None = None) -> dict:
    """Environment for every Django process of the run (setup, broadcaster,
    Daphne, uvicorn): the run's own SQLite file and Redis, DEBUG off, logs
    at WARNING (per-connection INFO lines would be measured otherwise)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "partyhub.settings",
            "DATABASE_URL": f"sqlite:///{db_path}",
            "CHANNEL_REDIS_HOST": "127.0.0.1",
            "CHANNEL_REDIS_PORT": str(redis_port),
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
            "PARTYHUB_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            # The load generators stand for thousands of players but spread
            # their sockets over a few 127.0.0.x addresses: no per-address cap.
            "PARTYHUB_MAX_CONNS_PER_IP": "0",
        }
    )
    env.update(extra or {})
    return env
