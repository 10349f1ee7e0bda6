"""`manage.py runparty` (`make run`) under realtime.supervisor (issues 21
and 18): one line per service and quiet after; a dead service is restarted
while the others keep their pids (the private Redis too, noted); one that
keeps dying is backed off and reported, and SIGTERM still ends everything;
one that cannot start stops everything with its reason. Real processes;
the pages through a restarted sidecar are tests/test_browser_runparty.py.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time

from django.test import SimpleTestCase

from partyhub.redisproc import RedisServer

from .processes import RunParty, alive, listeners, wait_until

SERVICES = ["redis", "sidecar", "inbound", "daphne", "celery", "beat", "relay"]


class RunPartyTests(SimpleTestCase):
    def party(self, **kwargs) -> RunParty:
        party = RunParty(**kwargs)
        self.addCleanup(party.close)
        return party.start()

    def wait_restarted(self, party: RunParty, name: str, old: int, timeout: float = 30) -> int:
        def new_pid():
            pid = party.pids().get(name)
            return pid if pid not in (None, old) else None

        return wait_until(new_pid, timeout, 0.05, f"{name} was not restarted:\n{party.text()}")

    def test_quiet_start_restarts_and_backoff_then_sigterm_ends_everything(self):
        # The private Redis is ours, so it is supervised too; the deadline
        # sweep runs every second (it logs at INFO each time).
        party = self.party(private_redis=True, env={"PARTYHUB_TIMER_SWEEP_INTERVAL": "1"})
        self.assertEqual(list(party.started), SERVICES)
        self.assertEqual(party.pids(), party.started)
        time.sleep(3)  # three sweeps
        text = party.text()
        self.assertEqual(len(re.findall(r"^  \w+ +pid \d+ ", text, re.M)), len(SERVICES))
        self.assertNotRegex(text, r"(?m)^(?!Press Ctrl-C).*\bINFO\b", "make run is not quiet")

        # The private Redis restarts on its port, with what it costs.
        redis_port = int(re.search(r"^  redis +pid \d+ +127\.0\.0\.1:(\d+)", text, re.M)[1])
        before = party.pids()
        os.kill(before["redis"], signal.SIGKILL)
        self.wait_restarted(party, "redis", before["redis"])
        wait_until(RedisServer(port=redis_port).ping, 10)
        self.assertRegex(
            party.text(),
            rf"WARNING realtime\.supervisor: redis \(pid {before['redis']}\) was killed by "
            r"SIGKILL: restarted as pid \d+ \(restart 1 of redis, \d in all\)\. It starts empty",
        )
        after = party.pids()
        # The Channels worker exits when its Redis connection drops; it is restarted.
        for name in ("sidecar", "daphne", "celery", "beat", "relay"):
            self.assertEqual(after[name], before[name], name)
        self.assertIn("inbound", after)

        # Beat killed again and again: at once four times, then backed off.
        for _ in range(6):
            old = party.pids()["beat"]
            os.kill(old, signal.SIGKILL)
            self.wait_restarted(party, "beat", old)
        self.assertRegex(
            party.text(),
            r"ERROR realtime\.supervisor: beat \(pid \d+\) was killed by SIGKILL; it died "
            r"5 times within 60 s: restarting it in 1 s",
        )
        self.assertIn("it died 6 times within 60 s: restarting it in 2 s", party.text())

        # Killed once more it waits 4 s: SIGTERM meanwhile stops everything.
        last = party.pids()
        os.kill(last["beat"], signal.SIGKILL)
        time.sleep(0.3)
        stopping = time.monotonic()
        self.assertEqual(party.stop(), 0, party.text())
        self.assertLess(time.monotonic() - stopping, 10)
        self.assertFalse([name for name, pid in last.items() if alive(pid)])
        for port in (party.port, party.ws_port, redis_port):
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), 2).close()

    def test_info_level_shows_more_usr1_drains_the_sidecar_and_ctrl_c_stops(self):
        party = self.party(env={"PARTYHUB_LOG_LEVEL": "INFO", "PARTYHUB_TIMER_SWEEP_INTERVAL": "1"})
        wait_until(lambda: "Sending due task sweep-deadlines" in party.text(), 20)
        # SIGUSR1 drains the sidecar, as it does `runsidecar`: it stops
        # listening and is not replaced; the rest serves on.
        sidecar = party.pids()["sidecar"]
        party.proc.send_signal(signal.SIGUSR1)
        wait_until(lambda: listeners(party.ws_port) == 0, 10)
        time.sleep(1)
        self.assertEqual(party.pids()["sidecar"], sidecar)
        self.assertEqual(listeners(party.port), 1)  # Daphne
        self.assertIn(f"passing SIGUSR1 to sidecar (pid {sidecar})", party.text())
        self.assertEqual(party.stop(signal.SIGINT), 0)  # Ctrl-C
        self.assertFalse(alive(sidecar))

    def test_a_service_that_cannot_start_stops_everything_with_its_reason(self):
        party = RunParty(env={"CELERY_BROKER_URL": "nosuch://nowhere"})
        self.addCleanup(party.close)
        with self.assertRaises(AssertionError):
            party.start()
        self.assertEqual(party.proc.wait(20), 1)
        text = party.text()
        self.assertIn("CommandError: celery could not start: it exited with status 1", text)
        self.assertIn("No such transport: nosuch", text)  # celery's own words, above
        self.assertNotIn("partyhub is running", text)
        for port in (party.port, party.ws_port):  # Daphne and the sidecar were stopped
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), 2).close()

    def test_a_taken_port_fails_fast_and_says_which(self):
        party = RunParty()
        self.addCleanup(party.close)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", party.ws_port))
            taken.listen()
            with self.assertRaises(AssertionError):
                party.start(timeout=30)
            self.assertEqual(party.proc.wait(20), 1)
        self.assertIn(
            f"CommandError: port {party.ws_port} on 127.0.0.1 is in use (another `make run`?)",
            party.text(),
        )
