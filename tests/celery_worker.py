"""A real `celery -A partyhub worker` process for the end-to-end timer tests.

It inherits the test environment (the runner points DATABASE_URL at the test
database file and the broker at the private test Redis); `extra_env` adds
settings such as short reveal spacings. Queued tasks left by earlier tests are
purged before it starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

from django.conf import settings

from partyhub.celery import app


class CeleryWorker:
    """One worker process (solo pool) owned by a test class."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        self.extra_env = extra_env or {}
        self.name = f"partyhub-test-{uuid.uuid4().hex[:8]}@localhost"
        self.dir = tempfile.mkdtemp(prefix="partyhub-celery-")
        self.logfile = os.path.join(self.dir, "worker.log")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> CeleryWorker:
        app.control.purge()
        env = dict(os.environ, **self.extra_env)
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "partyhub",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
            f"--hostname={self.name}",
            f"--logfile={self.logfile}",
        ]
        self.process = subprocess.Popen(
            args,
            env=env,
            cwd=settings.BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited:\n{self.log()}")
            if app.control.ping(destination=[self.name], timeout=0.5):
                return self
        self.stop()
        raise RuntimeError(f"celery worker did not answer a ping:\n{self.log()}")

    def log(self) -> str:
        try:
            with open(self.logfile, encoding="utf-8", errors="replace") as handle:
                return handle.read()[-4000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
