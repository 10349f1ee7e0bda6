"""Serve the C sidecar for the benchmark through its Python binding.

    python bench/serve_sidecar.py --port 0 --redis-port N [--ping 20]

Configured like `manage.py runsidecar` (`realtime.sidecar.sidecar_kwargs()`:
the channel layer's Redis and prefix, ALLOWED_HOSTS as Origin allowlist, the
PARTYHUB_SIDECAR defaults) with the bind address and heartbeat interval
overridden. Uses `realtime._sidecar.Server`; on a branch where module.c does
not register it yet, the stand-in module `_sidecar_server_test` that
mk/sidecar.mk builds into build/sidecar/ (same csrc/sidecar/server_py.c
binding). serve() runs in a worker thread with the GIL released;
SIGTERM/SIGINT call stop(). Prints one JSON
line {"ev": "hello", "port": ..., "binding": ...} once listening and Redis
is up; C log lines go to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def server_type():
    try:
        mod = importlib.import_module("realtime._sidecar")
        if hasattr(mod, "Server"):
            return mod.Server, "realtime._sidecar.Server"
    except ImportError:
        pass
    sys.path.insert(0, str(ROOT / "build" / "sidecar"))
    mod = importlib.import_module("_sidecar_server_test")
    return mod.Server, "_sidecar_server_test.Server (stand-in; module.c does not register Server)"


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partyhub.settings")
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--ping", type=int, default=20, help="heartbeat PING interval (s)")
    parser.add_argument("--origins", default="127.0.0.1", help="without realtime.sidecar only")
    args = parser.parse_args()
    server_cls, where = server_type()
    kwargs = {
        "host": args.host,
        "port": args.port,
        "redis_host": "127.0.0.1",
        "redis_port": args.redis_port,
        "allowed_origins": args.origins,
        "backlog": 4096,
        "log_level": 30,
    }
    try:
        import django

        django.setup()
        from realtime.sidecar import sidecar_kwargs

        kwargs = sidecar_kwargs(bind=f"{args.host}:{args.port}", log_level=30, backlog=4096)
        where += " configured by realtime.sidecar.sidecar_kwargs()"
    except ImportError:
        pass
    kwargs["ping_interval"] = args.ping
    kwargs["ping_timeout"] = max(args.ping + 5, args.ping * 3 // 2)
    srv = server_cls(**kwargs)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: srv.stop())
    signal.signal(signal.SIGINT, lambda *_: srv.stop())

    def serve() -> None:
        try:
            srv.serve()
        finally:
            done.set()

    thread = threading.Thread(target=serve, name="sidecar")
    thread.start()
    for _ in range(200):  # bounded: 10 s for Redis to come up
        if srv.stats()["redis_up"] or done.is_set():
            break
        time.sleep(0.05)
    print(
        json.dumps(
            {
                "ev": "hello",
                "port": srv.stats()["port"],
                "binding": where,
                "redis_up": srv.stats()["redis_up"],
            }
        ),
        flush=True,
    )
    while not done.wait(0.5):
        for level, line in srv.drain_logs():
            print(f"sidecar[{level}] {line}", file=sys.stderr, flush=True)
    thread.join()
    for level, line in srv.drain_logs():
        print(f"sidecar[{level}] {line}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
