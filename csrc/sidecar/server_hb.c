/*
 * server_hb.c: the sidecar's WebSocket heartbeat. A connection that has
 * been silent for ping_interval s gets a PING; one that shows no sign of
 * life (PONG or message) for ping_timeout s is dropped, as lws' validity
 * timers did before (see heartbeat.h for why we keep our own lists).
 */
#define _GNU_SOURCE 1

#include "server_int.h"

#include <stddef.h>
#include <string.h>

/* The connection that embeds node n. */
static ph_conn *
conn_of(ph_hb_node *n)
{
    return (ph_conn *)(void *)((char *)n - offsetof(ph_conn, hb));
}

/*
 * Write a PING with an 8-byte payload (a clock reading, like lws' own):
 * lws raises LWS_CALLBACK_RECEIVE_PONG only for a non-empty PONG, and a
 * PONG echoes the PING's payload. lws keeps a short send (see
 * conn_write_now in server_conn.c). Returns 0, or -1 when the socket is
 * unusable.
 */
static int
hb_write_ping(ph_conn *c)
{
    unsigned char buf[LWS_PRE + 8];
    uint64_t t = now_ns();

    memcpy(buf + LWS_PRE, &t, sizeof(t));
    return lws_write(c->wsi, buf + LWS_PRE, sizeof(t), LWS_WRITE_PING)
                   < (int)sizeof(t) ? -1 : 0;
}

/* A sign of life from c (established, PONG, message). O(1). */
void
ph_srv_hb_alive(ph_server *srv, ph_conn *c)
{
    if (c->in_table) {
        ph_hb_alive(&srv->hb, &c->hb, uv_now(&srv->loop));
    }
}

/* c is closed: forget it. */
void
ph_srv_hb_stop(ph_server *srv, ph_conn *c)
{
    ph_hb_remove(&srv->hb, &c->hb);
}

/*
 * From c's WRITEABLE: send the PING the tick could not write at once.
 * Returns 0, or -1 when the socket is unusable (the caller closes).
 */
int
ph_srv_hb_writeable(ph_server *srv, ph_conn *c)
{
    (void)srv;
    if (!c->hb.ping_queued) {
        return 0;
    }
    c->hb.ping_queued = 0;
    return hb_write_ping(c);
}

/* Due PING for c: at once when nothing is ahead of it, else from WRITEABLE. */
static void
hb_ping(ph_server *srv, ph_conn *c)
{
    if (c->state == PH_CONN_CLOSING) {
        return;                        /* the hang-up deadline still runs */
    }
    if (c->q.count == 0 && !lws_partial_buffered(c->wsi)) {
        if (hb_write_ping(c) < 0) {
            ph_srv_conn_close(srv, c, 1011);
        }
        return;
    }
    c->hb.ping_queued = 1;
    lws_callback_on_writable(c->wsi);
}

/*
 * Once per tick: PING every connection silent for ping_interval s, drop
 * every one silent for ping_timeout s (no close frame: a peer that does not
 * answer PINGs would not answer that either). O(due), not O(connections).
 */
void
ph_srv_hb_tick(ph_server *srv)
{
    uint64_t now = uv_now(&srv->loop);
    ph_hb_kind kind;
    ph_hb_node *n;

    while ((n = ph_hb_due(&srv->hb, now, &kind)) != NULL) {
        ph_conn *c = conn_of(n);

        if (kind == PH_HB_PINGED) {
            ph_hb_remove(&srv->hb, n);
            ph_logf(srv->log, PH_LOG_INFO, PH_CONN_ID_FMT ": no answer to "
                    "PING for %d s; dropped", PH_CONN_ID_ARGS(c),
                    srv->cfg.ping_timeout);
            ph_srv_conn_close(srv, c, 1011);
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
            continue;
        }
        ph_hb_pinged(&srv->hb, n);
        hb_ping(srv, c);
    }
}
