/*
 * server_http.c: the plain HTTP endpoints served on the WebSocket port:
 * GET /healthz (JSON) and GET /metrics (Prometheus text); 404 otherwise.
 */
#define _GNU_SOURCE 1

#include "server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

/* ------------------------------------------------------------------ */
/* HTTP endpoints                                                       */

/* Append formatted text to a growing buffer; -1 on overflow. */
static int
buf_appendf(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*pos >= cap) {
        return -1;
    }
    va_start(ap, fmt);
    n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *pos) {
        *pos = cap;
        return -1;
    }
    *pos += (size_t)n;
    return 0;
}

/* "ok" while serving; "draining" and "stopping" answer 503 so load
 * balancers stop routing here. */
static const char *
health_status(ph_server *srv)
{
    if (srv->phase != SRV_RUNNING) {
        return "stopping";
    }
    return atomic_load(&srv->st.draining) ? "draining" : "ok";
}

static int
render_healthz(ph_server *srv, char *buf, size_t cap, size_t *pos)
{
    return buf_appendf(buf, cap, pos,
                       "{\"status\":\"%s\",\"connections\":%llu,"
                       "\"redis\":\"%s\",\"stopping\":%s,\"draining\":%s}\n",
                       health_status(srv),
                       (unsigned long long)srv->fan.nconns,
                       atomic_load(&srv->st.redis_up) ? "up" : "down",
                       srv->phase == SRV_RUNNING ? "false" : "true",
                       atomic_load(&srv->st.draining) ? "true" : "false");
}

/* The gauges of realtime/counters_table.py, read when /metrics is asked. */
static uint64_t
gauge_connections(ph_server *srv)
{
    return srv->fan.nconns;
}

static uint64_t
gauge_client_addresses(ph_server *srv)
{
    return HASH_COUNT(srv->addrs);
}

static uint64_t
gauge_redis_up(ph_server *srv)
{
    return (uint64_t)atomic_load(&srv->st.redis_up);
}

static uint64_t
gauge_draining(ph_server *srv)
{
    return (uint64_t)atomic_load(&srv->st.draining);
}

static int
render_metrics(ph_server *srv, char *buf, size_t cap, size_t *pos)
{
    srv_counters *s = &srv->st;
    struct { const char *name, *type, *help; uint64_t v; } m[] = {
#define PH_COUNTER(name, metric, kind, help) \
        { metric, kind, help, cnt_get(&s->name) },
#define PH_GAUGE(name, metric, help) { metric, "gauge", help, gauge_##name(srv) },
#include "ph_counters.def"
#undef PH_GAUGE
#undef PH_COUNTER
    };
    size_t i;
    uint64_t cum = 0;

    for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        if (buf_appendf(buf, cap, pos, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n",
                        m[i].name, m[i].help, m[i].name, m[i].type, m[i].name,
                        (unsigned long long)m[i].v) < 0) {
            return -1;
        }
    }
    if (buf_appendf(buf, cap, pos, "# HELP partyhub_sidecar_redis_shard_up 1 "
                    "when the shard's command and receive links are up\n"
                    "# TYPE partyhub_sidecar_redis_shard_up gauge\n") < 0) {
        return -1;
    }
    for (i = 0; i < (size_t)srv->nshards; i++) {
        const rshard *sh = &srv->shards[i];

        if (buf_appendf(buf, cap, pos,
                        "partyhub_sidecar_redis_shard_up{shard=\"%zu\"} %d\n",
                        i, sh->links[RLINK_CMD].up && sh->links[RLINK_RX].up)
            < 0) {
            return -1;
        }
    }
    if (srv->cfg.worker_restarts != NULL
        && buf_appendf(buf, cap, pos,
                       "# HELP " PH_METRIC_WORKER_RESTARTS " "
                       PH_METRIC_WORKER_RESTARTS_HELP "\n"
                       "# TYPE " PH_METRIC_WORKER_RESTARTS " counter\n"
                       PH_METRIC_WORKER_RESTARTS " %llu\n",
                       (unsigned long long)atomic_load_explicit(
                           srv->cfg.worker_restarts, memory_order_relaxed))
           < 0) {
        return -1;
    }
    if (buf_appendf(buf, cap, pos,
                    "# HELP partyhub_sidecar_fanout_latency_seconds Time from "
                    "receiving a channel-layer message to its last socket "
                    "write\n# TYPE partyhub_sidecar_fanout_latency_seconds "
                    "histogram\n") < 0) {
        return -1;
    }
    for (i = 0; i <= PH_LAT_NB; i++) {
        cum += s->lat_buckets[i];
        if (i < PH_LAT_NB) {
            if (buf_appendf(buf, cap, pos,
                            "partyhub_sidecar_fanout_latency_seconds_bucket"
                            "{le=\"%g\"} %llu\n", ph_srv_lat_bounds_ms[i] / 1000.0,
                            (unsigned long long)cum) < 0) {
                return -1;
            }
        }
        else if (buf_appendf(buf, cap, pos,
                             "partyhub_sidecar_fanout_latency_seconds_bucket"
                             "{le=\"+Inf\"} %llu\n",
                             (unsigned long long)cum) < 0) {
            return -1;
        }
    }
    return buf_appendf(buf, cap, pos,
                       "partyhub_sidecar_fanout_latency_seconds_sum %.6f\n"
                       "partyhub_sidecar_fanout_latency_seconds_count %llu\n",
                       s->lat_sum_s, (unsigned long long)s->lat_count);
}

/* Answer GET /healthz or /metrics; anything else 404. Returns lws' rc. */
int
ph_srv_http_request(ph_server *srv, struct lws *wsi, ph_conn *c, const char *path)
{
    unsigned char hdr[LWS_PRE + 512];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
    const size_t cap = 16384;
    const char *ctype;
    char *body;
    size_t len = 0;
    int rc, status = HTTP_STATUS_OK;

    if (strcmp(path, "/healthz") == 0) {
        ctype = "application/json";
        if (strcmp(health_status(srv), "ok") != 0) {
            status = HTTP_STATUS_SERVICE_UNAVAILABLE;
        }
    }
    else if (strcmp(path, "/metrics") == 0) {
        ctype = "text/plain; version=0.0.4";
    }
    else {
        if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL)) {
            return -1;
        }
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    free(c->http_body);
    c->http_body = malloc(PH_FRAME_HEADROOM + cap);
    if (c->http_body == NULL) {
        return -1;
    }
    body = (char *)c->http_body + PH_FRAME_HEADROOM;
    rc = ctype[0] == 'a' ? render_healthz(srv, body, cap, &len)
                         : render_metrics(srv, body, cap, &len);
    if (rc < 0) {
        return -1;
    }
    c->http_len = len;
    if (lws_add_http_common_headers(wsi, (unsigned int)status, ctype, len,
                                    &p, end)
        || lws_finalize_write_http_header(wsi, start, &p, end)) {
        return -1;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

/* Write the body prepared by ph_srv_http_request and complete the
 * transaction. Returns 0, or -1 to close the connection. */
int
ph_srv_http_writeable(struct lws *wsi, ph_conn *c)
{
    int n;

    if (c->http_body == NULL) {
        return 0;
    }
    n = lws_write(wsi, c->http_body + PH_FRAME_HEADROOM, c->http_len,
                  LWS_WRITE_HTTP_FINAL);
    free(c->http_body);
    c->http_body = NULL;
    if (n < 0) {
        return -1;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

