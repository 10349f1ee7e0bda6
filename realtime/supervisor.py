"""Keep a set of processes running: `runparty` (`make run`) and `runsidecar --workers N`.

One supervisor for both, modelled on gunicorn's arbiter (a dead worker is
replaced, the others are not touched) and on foreman/honcho (a development
process set that one Ctrl-C stops):

- **Start.** `start(services)` starts each service and waits until it is
  ready: its probe says so (a port that accepts, a forked worker that
  reported in) or, without a probe, it stayed up `START_SECONDS`. A process
  that exits before it is ready could not start at all (port taken,
  extension not built): everything started is stopped and `StartError`
  names it. Calling `start()` again starts a later stage (Redis first).
- **Run.** `run()` replaces a process that exits while nothing asked it to,
  at once, in the same slot. `Backoff` decides when a slot that keeps dying
  waits (logged at error level). Restarts are counted per slot and in all,
  and logged; `on_restart` hears of each one.
- **Signals.** TERM, INT and HUP stop everything: the latest stage first,
  each process gets SIGTERM, and whatever is left after `stop_timeout`
  SIGKILL; a second such signal kills at once. USR1 is passed on to the
  services that take it (the sidecar: drain), which are not restarted from
  then on. Each process runs in its own process group, so a Ctrl-C or a
  closed terminal reaches the supervisor only (it then stops the others,
  once), and a process whose supervisor dies gets SIGTERM
  (PR_SET_PDEATHSIG) instead of living on unsupervised.

Signals reach the loop through `signal.set_wakeup_fd` (the self-pipe
gunicorn and foreman use), so a death or a Ctrl-C wakes it at once and
nothing runs inside a signal handler.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import mmap
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

logger = logging.getLogger("realtime.supervisor")

# The restart policy (docs/operations.md "What restarts what").
BURST = 5  # deaths within WINDOW before the next restart waits
WINDOW = 60.0  # s; also how long a process must stay up to clear its backoff
FIRST_DELAY = 1.0  # s, the first wait; doubled at each further death
MAX_DELAY = 30.0  # s, the longest wait
START_SECONDS = 3.0  # a service without a probe is ready once up this long
START_TIMEOUT = 60.0  # s for a service to become ready at its first start
STOP_TIMEOUT = 8.0  # s from SIGTERM to SIGKILL

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PASSED_SIGNALS = (signal.SIGUSR1,)
_HANDLED = (*STOP_SIGNALS, *PASSED_SIGNALS, signal.SIGCHLD)
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


class StartError(Exception):
    """A service could not start at all (it exited, or was not ready in time)."""


class Proc(Protocol):
    """A running child: subprocess.Popen, or Forked."""

    pid: int

    def poll(self) -> int | None: ...

    def send_signal(self, sig: int) -> None: ...


@dataclass
class Service:
    """One process to keep running.

    `start` starts it (`Supervisor.popen` or `Supervisor.fork`); `ready`
    probes whether it serves yet (None: up for START_SECONDS); `takes` are
    the signals passed on to it; `restart_note` is added to the warning
    logged when it is restarted (what its restart costs).
    """

    name: str
    start: Callable[[], Proc]
    ready: Callable[[Proc], bool] | None = None
    takes: frozenset[int] = frozenset()
    restart_note: str = ""


def how_it_ended(returncode: int) -> str:
    """'exited with status 1' or 'was killed by SIGKILL', from a Popen-style return code."""
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def notify_ready() -> None:
    """Tell whoever supervises this process that it serves now: READY=1 on
    $NOTIFY_SOCKET, systemd's sd_notify protocol (Type=notify units), which
    Supervisor.popen(notify=True) speaks too; nothing without it.

    One datagram, written here rather than taken from a library: `sdnotify`
    is these same lines, `systemd-python` needs libsystemd to build.
    """
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address.startswith(("/", "@")):
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        with contextlib.suppress(OSError):
            sock.sendto(b"READY=1", address)


def port_open(host: str, port: int) -> bool:
    """True if something accepts TCP connections on host:port now."""
    host = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=0.5):
            return True
    except OSError:
        return False


def port_in_use(host: str, port: int) -> bool:
    """True if a listener (of any process, SO_REUSEPORT or not) holds host:port.

    A plain bind fails against any listener; SO_REUSEADDR only lets it past
    connections in TIME_WAIT, as servers bind.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


class Backoff:
    """When to restart a slot whose process died.

    At once, until it has died BURST times within WINDOW seconds; from then
    on FIRST_DELAY, doubled at each further death up to MAX_DELAY, until a
    process of the slot has stayed up WINDOW seconds (systemd's
    StartLimitBurst/Interval and Kubernetes' CrashLoopBackOff work alike).
    """

    def __init__(
        self,
        burst: int = BURST,
        window: float = WINDOW,
        first: float = FIRST_DELAY,
        cap: float = MAX_DELAY,
    ) -> None:
        self.burst, self.window, self.first, self.cap = burst, window, first, cap
        self.deaths: deque[float] = deque()
        self.streak = 0  # deaths since the backoff began

    def delay(self, now: float, uptime: float) -> float:
        """Record a death at `now` of a process that ran `uptime` s; seconds to wait."""
        if uptime >= self.window:
            self.streak = 0
        self.deaths.append(now)
        while now - self.deaths[0] > self.window:
            self.deaths.popleft()
        if self.streak == 0 and len(self.deaths) < self.burst:
            return 0.0
        self.streak += 1
        return min(self.first * 2 ** (self.streak - 1), self.cap)


class Child(subprocess.Popen):
    """A started command; `ready()` reads its NOTIFY_SOCKET (Supervisor.popen)."""

    notify: socket.socket | None = None
    _ready = False

    def ready(self) -> bool:
        """True once it sent READY=1 (systemd's sd_notify protocol)."""
        while self.notify is not None and not self._ready:
            try:
                message = self.notify.recv(4096)
            except BlockingIOError:
                break
            self._ready = b"READY=1" in message.split(b"\n")
        return self._ready

    def poll(self) -> int | None:
        returncode = super().poll()
        if returncode is not None and self.notify is not None:
            self.notify.close()
            self.notify = None
        return returncode


class Forked:
    """A forked child: poll/send_signal like Popen, and a pipe on which it
    reports 'ready' (or, failing to start, why) to the supervisor."""

    def __init__(self, pid: int, report_fd: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.error = ""
        self._report_fd: int | None = report_fd
        self._ready = False
        os.set_blocking(report_fd, False)

    def ready(self) -> bool:
        """Read what the child reported so far: True once it said 'ready'."""
        while self._report_fd is not None and not self._ready:
            try:
                data = os.read(self._report_fd, 4096)
            except BlockingIOError:
                break
            if not data:
                self._close_report()
                break
            if data.startswith(b"ready\n"):
                self._ready = True
            else:
                self.error += data.decode(errors="replace")
        return self._ready

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 0
            if pid:
                self.ready()  # collect a last report
                self.returncode = os.waitstatus_to_exitcode(status)
                self._close_report()
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def _close_report(self) -> None:
        if self._report_fd is not None:
            os.close(self._report_fd)
            self._report_fd = None


@dataclass
class _Slot:
    service: Service
    stage: int
    proc: Proc | None = None
    started: float = 0.0
    due: float | None = None  # when a waiting slot restarts (monotonic)
    ended: str = ""  # how its last process ended, for the restart's log line
    held: bool = False  # passed a drain: not restarted
    restarts: int = 0
    backoff: Backoff = field(default_factory=Backoff)


class Supervisor:
    """Start services, keep them running, stop them all (see the module docstring).

    Use it as a context manager in the main thread: entering installs the
    signal handling, leaving stops whatever still runs and restores it.
    """

    def __init__(
        self,
        stop_timeout: float = STOP_TIMEOUT,
        on_restart: Callable[[Supervisor], None] | None = None,
    ) -> None:
        self.stop_timeout = stop_timeout
        self.on_restart = on_restart
        self.slots: list[_Slot] = []
        self.restarts = 0
        self.stopping = False
        self._stage = 0
        self._notified = 0  # NOTIFY_SOCKETs handed out
        self._wake: tuple[int, int] | None = None
        self._saved: dict[int, object] = {}
        self._saved_wakeup = -1

    # -- set-up ---------------------------------------------------------

    def __enter__(self) -> Supervisor:
        self._wake = os.pipe()
        for fd in self._wake:
            os.set_blocking(fd, False)
        self._saved_wakeup = signal.set_wakeup_fd(self._wake[1], warn_on_full_buffer=False)
        for sig in _HANDLED:
            # The handler does nothing: the wakeup fd carries the signal.
            self._saved[sig] = signal.signal(sig, _noop)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            for sig, handler in self._saved.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(self._saved_wakeup)
            for fd in self._wake or ():
                os.close(fd)
            self._wake = None

    def popen(self, args: list[str], notify: bool = False, **kwargs) -> Child:
        """Start args in its own process group, SIGTERMed if we die.

        With `notify`, it gets a NOTIFY_SOCKET of its own, and `ready()`
        turns true once it sends READY=1 there (`notify_ready()`).
        """
        parent = os.getpid()
        listener = None
        env = kwargs.get("env") or os.environ
        if "NOTIFY_SOCKET" in env:  # ours (systemd's, say) is not theirs
            kwargs["env"] = {k: v for k, v in env.items() if k != "NOTIFY_SOCKET"}
        if notify:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            listener.setblocking(False)
            self._notified += 1
            name = f"partyhub-notify-{parent}-{self._notified}"
            listener.bind("\0" + name)  # abstract: nothing to clean up on disk
            kwargs["env"] = dict(kwargs.get("env") or os.environ, NOTIFY_SOCKET=f"@{name}")
        with _signals_blocked() as mask:
            child = Child(
                args,
                process_group=0,
                preexec_fn=lambda: self._in_child(parent, mask),
                **kwargs,
            )
        child.notify = listener
        return child

    def fork(self, target: Callable[[Callable[[], None]], int | None]) -> Forked:
        """Run target(ready) in a forked child; its return value is the exit status.

        The child calls ready() once it serves. An exception it raises is
        reported to the supervisor (StartError's text) and exits 1.
        """
        read_fd, write_fd = os.pipe()
        parent = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        with _signals_blocked() as mask:
            pid = os.fork()
            if pid:
                os.close(write_fd)
                return Forked(pid, read_fd)
            status = 1
            try:
                os.close(read_fd)
                self._in_child(parent, mask)
                os.setpgid(0, 0)
                status = target(lambda: os.write(write_fd, b"ready\n")) or 0
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
            except BaseException as exc:  # noqa: BLE001 - reported, then the child exits
                with contextlib.suppress(OSError):
                    os.write(write_fd, (str(exc) or type(exc).__name__).encode()[:4000])
            finally:
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(status)

    def _in_child(self, parent: int, mask: set[int]) -> None:
        """In a new child, before anything else: drop the supervisor's signal
        set-up and descriptors, get SIGTERM when the supervisor dies, then let
        signals in again (they were blocked across the fork, so that none
        could reach the supervisor's wakeup fd through the child)."""
        signal.set_wakeup_fd(-1)
        for sig in _HANDLED:
            signal.signal(sig, signal.SIG_DFL)
        for fd in self._wake or ():
            os.close(fd)
        for slot in self.slots:
            if isinstance(slot.proc, Forked):
                slot.proc._close_report()
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    # -- starting -------------------------------------------------------

    def start(self, services: Iterable[Service], timeout: float = START_TIMEOUT) -> bool:
        """Start services and wait until each is ready.

        False if a stop signal came meanwhile (everything is then stopped);
        StartError (after stopping everything) if one exits first or is not
        ready within `timeout`.
        """
        new = [_Slot(service, self._stage) for service in services]
        self._stage += 1
        self.slots += new
        for slot in new:
            try:
                self._spawn(slot)
            except OSError as exc:
                self.stop()
                raise StartError(f"{slot.service.name} could not start: {exc}") from exc
        deadline = time.monotonic() + timeout
        waiting = list(new)
        while waiting:
            if self._take_signals() or self.stopping:
                self.stop()
                return False
            for slot in list(waiting):
                returncode = slot.proc.poll()
                if self._is_ready(slot):
                    waiting.remove(slot)
                elif returncode is not None:
                    failure = self._start_failure(slot, returncode)
                    self.stop()
                    raise StartError(failure)
            if waiting and time.monotonic() > deadline:
                names = ", ".join(slot.service.name for slot in waiting)
                self.stop()
                raise StartError(f"{names} did not start within {timeout:g} s")
            self._sleep(0.05)
        return True

    def _is_ready(self, slot: _Slot) -> bool:
        if slot.proc.poll() is not None:
            return False
        if slot.service.ready is None:
            return time.monotonic() - slot.started >= START_SECONDS
        return slot.service.ready(slot.proc)

    @staticmethod
    def _start_failure(slot: _Slot, returncode: int) -> str:
        reason = getattr(slot.proc, "error", "").strip()
        text = f"{slot.service.name} could not start: it {how_it_ended(returncode)}"
        return f"{text}: {reason}" if reason else f"{text} (its output is above)"

    def _spawn(self, slot: _Slot) -> None:
        slot.due = None
        slot.proc = slot.service.start()
        slot.started = time.monotonic()

    # -- running --------------------------------------------------------

    def pids(self) -> dict[str, int]:
        """Each running service's name -> pid."""
        return {
            s.service.name: s.proc.pid
            for s in self.slots
            if s.proc is not None and s.proc.poll() is None
        }

    def run(self) -> None:
        """Keep every service running until a stop signal (or until every
        slot was drained and has exited); then stop everything."""
        while not self.stopping:
            if self._take_signals():
                break
            now = time.monotonic()
            for slot in self.slots:
                if slot.proc is not None and slot.proc.poll() is not None:
                    self._died(slot, now)
                if slot.due is not None and slot.due <= now and not self.stopping:
                    self._restart(slot)
            if all(s.held and s.proc is None for s in self.slots):
                logger.info("every process was drained and has exited")
                break
            dues = [s.due for s in self.slots if s.due is not None]
            self._sleep(min([0.5, *(due - now for due in dues)]))
        self.stop()

    def _died(self, slot: _Slot, now: float) -> None:
        proc, slot.proc = slot.proc, None
        ended = how_it_ended(proc.returncode)
        name = slot.service.name
        if slot.held:
            logger.info("%s (pid %d) %s after its drain", name, proc.pid, ended)
            return
        # Anything it reported before dying (a forked worker's exception).
        said = getattr(proc, "error", "").strip()
        slot.ended = f"(pid {proc.pid}) {ended}" + (f" ({said})" if said else "")
        delay = slot.backoff.delay(now, now - slot.started)
        slot.due = now + delay
        if delay:
            logger.error(
                "%s %s; it died %d times within %g s: restarting it in %g s",
                name,
                slot.ended,
                len(slot.backoff.deaths),
                slot.backoff.window,
                delay,
            )

    def _restart(self, slot: _Slot) -> None:
        name = slot.service.name
        try:
            self._spawn(slot)
        except OSError as exc:
            now = time.monotonic()
            slot.due = now + max(slot.backoff.delay(now, 0.0), FIRST_DELAY)
            logger.error("%s could not be started again: %s", name, exc)
            return
        slot.restarts += 1
        self.restarts += 1
        logger.warning(
            "%s %s: restarted as pid %d (restart %d of %s, %d in all).%s",
            name,
            slot.ended,
            slot.proc.pid,
            slot.restarts,
            name,
            self.restarts,
            f" {slot.service.restart_note}" if slot.service.restart_note else "",
        )
        if self.on_restart is not None:
            self.on_restart(self)

    # -- signals and stopping -------------------------------------------

    def _sleep(self, timeout: float) -> None:
        """Wait up to `timeout` s, less if a signal arrives."""
        if self._wake is None:
            time.sleep(max(0.0, timeout))
            return
        with contextlib.suppress(InterruptedError):
            select.select([self._wake[0]], [], [], max(0.0, timeout))

    def _take_signals(self) -> bool:
        """Act on the signals that arrived; True if one asks to stop."""
        if self._wake is None:
            return False
        try:
            received = os.read(self._wake[0], 512)
        except BlockingIOError:
            return False
        stop = False
        for number in received:
            if number in STOP_SIGNALS:
                logger.info("%s: stopping", signal.Signals(number).name)
                stop = True
            elif number in PASSED_SIGNALS:
                self._pass_on(number)
        return stop

    def _pass_on(self, sig: int) -> None:
        """Send sig to every service that takes it; those are not restarted from now on."""
        for slot in self.slots:
            if sig in slot.service.takes:
                slot.held = True
                slot.due = None
                if slot.proc is not None:
                    logger.info(
                        "passing %s to %s (pid %d)",
                        signal.Signals(sig).name,
                        slot.service.name,
                        slot.proc.pid,
                    )
                    slot.proc.send_signal(sig)

    def stop(self) -> None:
        """Stop every process, the latest stage first: SIGTERM, then SIGKILL
        after stop_timeout (at once on a second stop signal). Idempotent."""
        self.stopping = True
        deadline = time.monotonic() + self.stop_timeout
        for stage in sorted({slot.stage for slot in self.slots}, reverse=True):
            slots = [s for s in self.slots if s.stage == stage]
            for slot in slots:
                slot.due = None
                if slot.proc is not None and slot.proc.poll() is None:
                    slot.proc.send_signal(signal.SIGTERM)
            killed = False
            while any(s.proc is not None and s.proc.poll() is None for s in slots):
                if not killed and (self._take_signals() or time.monotonic() > deadline):
                    self._kill(slots)
                    killed = True
                    deadline = 0.0  # later stages are killed at once too
                self._sleep(0.05)
            for slot in slots:
                if slot.proc is not None:
                    logger.info(
                        "%s (pid %d) %s",
                        slot.service.name,
                        slot.proc.pid,
                        how_it_ended(slot.proc.poll()),
                    )
                    slot.proc = None

    @staticmethod
    def _kill(slots: list[_Slot]) -> None:
        for slot in slots:
            if slot.proc is not None and slot.proc.poll() is None:
                logger.warning(
                    "%s (pid %d) did not stop: SIGKILL", slot.service.name, slot.proc.pid
                )
                slot.proc.send_signal(signal.SIGKILL)


def _noop(signum, frame) -> None:
    """The handler of every supervised signal: set_wakeup_fd already carried it."""


@contextlib.contextmanager
def _signals_blocked():
    """Block the supervised signals across a fork; yields the mask to restore."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED)
    try:
        yield mask
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


class SharedCount:
    """A supervisor's restart counter in memory its forked workers share
    (an anonymous shared mapping made before the first fork): each worker's
    own /metrics reads it (realtime._sidecar.Server's `worker_restarts`),
    so a scrape of any live worker sees every replacement."""

    def __init__(self) -> None:
        self.memory = mmap.mmap(-1, mmap.PAGESIZE)  # MAP_SHARED: kept across fork
        self._count = memoryview(self.memory).cast("Q")  # one aligned 8-byte store

    def __call__(self, supervisor: Supervisor) -> None:
        """on_restart: publish the new count."""
        self._count[0] = supervisor.restarts


class RestartsFile:
    """A supervisor's restart counter as a Prometheus text file, for
    node_exporter's textfile collector (`--collector.textfile.directory`):
    written whole and renamed into place at start and at each restart,
    removed at exit. The series is labelled with the file's name, so that
    two supervisors (blue and green) never report the same series."""

    def __init__(self, path: str, metric: str, help_text: str) -> None:
        self.path = os.path.abspath(path)
        self.metric = metric
        self.help = help_text

    def __call__(self, supervisor: Supervisor) -> None:
        """on_restart: write the new count (a failure is logged: restarts go on)."""
        try:
            self.write(supervisor.restarts)
        except OSError as exc:
            logger.error("cannot write %s: %s", self.path, exc)

    def write(self, restarts: int) -> None:
        label = os.path.basename(self.path).replace("\\", "\\\\").replace('"', '\\"')
        text = (
            f"# HELP {self.metric} {self.help}\n"
            f"# TYPE {self.metric} counter\n"
            f'{self.metric}{{file="{label}"}} {restarts}\n'
        )
        temporary = f"{self.path}.{os.getpid()}.tmp"
        with open(temporary, "w") as out:
            out.write(text)
        os.replace(temporary, self.path)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)
