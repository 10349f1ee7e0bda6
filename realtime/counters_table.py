"""The sidecar's counters and gauges, one row each: the only place they are written.

From these tables come the C counters (realtime/c_tables.py, run by setup.py
and mk/gen.mk, generates `ph_counters.def` into build/ for
csrc/sidecar/server_int.h, server.h and server_http.c),
`realtime._sidecar.Server.stats()`'s keys, the `/metrics` names, types and
help texts, and the supervisor's restart metric of `runsidecar --workers`.
tests/test_settings_table.py checks docs/operations.md names each metric.

Pure data and standard library only: setup.py reads it before anything is
installed.
"""

from __future__ import annotations

from typing import NamedTuple


class Counter(NamedTuple):
    name: str  # the C field and the key of Server.stats()
    metric: str  # the /metrics name
    kind: str  # Prometheus type: "counter" or "gauge"
    help: str


# Kept by each worker's loop (atomic, read by /metrics and stats()).
COUNTERS: tuple[Counter, ...] = (
    Counter(
        "connections_total",
        "partyhub_sidecar_connections_total",
        "counter",
        "WebSocket connections accepted",
    ),
    Counter(
        "messages_in", "partyhub_sidecar_messages_in_total", "counter", "Client messages received"
    ),
    Counter(
        "bytes_in", "partyhub_sidecar_bytes_in_total", "counter", "Client message bytes received"
    ),
    Counter(
        "messages_out",
        "partyhub_sidecar_messages_out_total",
        "counter",
        "Frames written to sockets",
    ),
    Counter(
        "bytes_out",
        "partyhub_sidecar_bytes_out_total",
        "counter",
        "Payload bytes written to sockets",
    ),
    Counter(
        "broadcasts",
        "partyhub_sidecar_broadcasts_total",
        "counter",
        "Channel-layer messages received",
    ),
    Counter(
        "slow_consumer_closes",
        "partyhub_sidecar_slow_consumer_closes_total",
        "counter",
        "Sockets closed 1008 for exceeding output limits",
    ),
    Counter(
        "rate_limited",
        "partyhub_sidecar_rate_limited_total",
        "counter",
        "Client messages refused over msg_rate (RATE_LIMITED)",
    ),
    Counter(
        "flood_closes",
        "partyhub_sidecar_flood_closes_total",
        "counter",
        "Sockets closed 4008 for sending over msg_rate past msg_flood",
    ),
    Counter(
        "ip_limit_refusals",
        "partyhub_sidecar_ip_limit_refusals_total",
        "counter",
        "Handshakes refused (HTTP 429) over max_conns_per_ip",
    ),
    Counter(
        "conn_limit_refusals",
        "partyhub_sidecar_conn_limit_refusals_total",
        "counter",
        "Handshakes refused (HTTP 503) over max_connections",
    ),
    Counter(
        "redis_reconnects",
        "partyhub_sidecar_redis_reconnects_total",
        "counter",
        "Redis reconnections",
    ),
    Counter(
        "redis_undelivered",
        "partyhub_sidecar_redis_undelivered_total",
        "counter",
        "Inbound messages not stored in Redis",
    ),
    Counter(
        "inbound_forwarded",
        "partyhub_sidecar_inbound_forwarded_total",
        "counter",
        "Inbound messages stored in Redis",
    ),
    Counter(
        "decode_errors",
        "partyhub_sidecar_decode_errors_total",
        "counter",
        "Undecodable channel-layer messages",
    ),
)

# Read from the worker's state when /metrics is scraped: each has a
# `gauge_<name>(srv)` in csrc/sidecar/server_http.c (a missing one does not
# compile).
GAUGES: tuple[Counter, ...] = (
    Counter("connections", "partyhub_sidecar_connections", "gauge", "Open WebSocket connections"),
    Counter(
        "client_addresses",
        "partyhub_sidecar_client_addresses",
        "gauge",
        "Client addresses with open sockets",
    ),
    Counter(
        "redis_up",
        "partyhub_sidecar_redis_up",
        "gauge",
        "1 when every Redis shard's links are up",
    ),
    Counter(
        "draining",
        "partyhub_sidecar_draining",
        "gauge",
        "1 once a drain has begun (not accepting; /healthz answers 503)",
    ),
)

# Kept by the supervisor of `runsidecar --workers N` (realtime.supervisor
# SharedCount), shown by every worker's /metrics and by --metrics-file.
WORKER_RESTARTS = Counter(
    "worker_restarts",
    "partyhub_sidecar_worker_restarts_total",
    "counter",
    "Workers the supervisor replaced after they exited",
)


def _c_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def c_def() -> str:
    """ph_counters.def: PH_COUNTER(name, metric, kind, help) per counter,
    PH_GAUGE(name, metric, help) per gauge (where PH_GAUGE is defined), and
    the worker restart metric's name and help."""
    lines = ["/* ph_counters.def: generated from realtime/counters_table.py; do not edit. */"]
    for c in COUNTERS:
        args = (c.name, _c_str(c.metric), _c_str(c.kind), _c_str(c.help))
        lines.append("PH_COUNTER({}, {}, {}, {})".format(*args))
    lines.append("#ifdef PH_GAUGE")
    for g in GAUGES:
        lines.append(f"PH_GAUGE({g.name}, {_c_str(g.metric)}, {_c_str(g.help)})")
    lines.append("#endif")
    lines.append(f"#define PH_METRIC_WORKER_RESTARTS {_c_str(WORKER_RESTARTS.metric)}")
    lines.append(f"#define PH_METRIC_WORKER_RESTARTS_HELP {_c_str(WORKER_RESTARTS.help)}")
    return "\n".join(lines) + "\n"
