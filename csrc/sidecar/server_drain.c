/*
 * server_drain.c: draining a sidecar without a reconnect storm (issue 9).
 *
 * At the start (loop thread) the listening socket is closed, every open
 * socket gets a turn, uniformly spread over the window in a shuffled
 * order, and is told it at once: {"type":"server.draining",
 * "reconnect_in_ms":<turn>}. A timer closes each socket with 1012 (service
 * restart) when its turn comes; the client reconnects at the time it was
 * given, so the peers taking the clients see a steady connect rate of
 * n / window instead of n at once.
 *
 * Telling everyone at the start (rather than each at its turn) gives every
 * client the whole window's notice (a page can say so) while its socket
 * keeps delivering events until its turn, and a SIGTERM that cuts the
 * drain short still closes with 1012, so clients keep to their turns.
 *
 * Cost: O(n) at the start (one pass over the table, a Fisher-Yates
 * shuffle, n small frames) and O(1) per turn (a hash lookup by serial).
 */
#define _GNU_SOURCE 1

#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>

/* Milliseconds after the start at which entry i of n closes: the middle
 * of its 1/n-th of the window. */
static uint64_t
turn_ms(const srv_drain *d, size_t i)
{
    return (d->window_ms * (2 * (uint64_t)i + 1)) / (2 * (uint64_t)d->n);
}

/* Free the schedule and stop the timer. */
static void
drain_finish(ph_server *srv)
{
    srv_drain *d = &srv->drain;

    uv_timer_stop(&d->timer);
    free(d->serials);
    d->serials = NULL;
    d->n = d->next = 0;
}

/* Close, with 1012, every connection whose turn has come. */
static void
drain_timer_cb(uv_timer_t *t)
{
    ph_server *srv = t->data;
    srv_drain *d = &srv->drain;
    uint64_t elapsed = now_ms() - d->start_ms;

    while (d->next < d->n && turn_ms(d, d->next) <= elapsed) {
        ph_conn *c = ph_fanout_conn(&srv->fan, d->serials[d->next++]);

        if (c != NULL) {               /* NULL: it has closed itself */
            ph_srv_conn_close(srv, c, PH_CLOSE_RESTART);
        }
    }
    if (d->next >= d->n) {
        ph_logf(srv->log, PH_LOG_INFO,
                "drained: every turn has passed; waiting for stop");
        drain_finish(srv);
    }
}

/*
 * Tell c its turn, written at once when nothing is queued ahead (a close
 * drops the queue, so a queued notice could be lost at an early turn). A
 * socket the frame cannot be built for closes now.
 */
static void
drain_notify(ph_server *srv, ph_conn *c, uint64_t delay_ms)
{
    char buf[80];
    int n = snprintf(buf, sizeof(buf),
                     "{\"type\":\"server.draining\",\"reconnect_in_ms\":%llu}",
                     (unsigned long long)delay_ms);
    ph_frame *f = n < 0 || (size_t)n >= sizeof(buf)
                      ? NULL : ph_frame_new(buf, (size_t)n);

    if (f == NULL) {
        ph_srv_conn_close(srv, c, PH_CLOSE_RESTART);
        return;
    }
    ph_srv_conn_deliver(srv, c, f);
    ph_srv_frame_release(srv, f);
}

/*
 * Initialise the drain timer on srv's loop (from server_make_handles).
 * Returns 0, or -1 when libuv refuses.
 */
int
ph_srv_drain_init(ph_server *srv)
{
    if (uv_timer_init(&srv->loop, &srv->drain.timer) != 0) {
        return -1;
    }
    srv->drain.timer.data = srv;
    return 0;
}

/*
 * Begin draining over window_ms (loop thread; no-op unless running and
 * not draining yet): close the listener, schedule and notify every open
 * socket, start the timer. Without memory for the schedule every socket
 * is closed 1012 at once (logged).
 */
void
ph_srv_drain_begin(ph_server *srv, uint64_t window_ms)
{
    srv_drain *d = &srv->drain;
    ph_conn *c, *tmp;
    size_t i;

    if (srv->phase != SRV_RUNNING) {
        return;
    }
    if (d->active) {
        ph_logf(srv->log, PH_LOG_INFO, "already draining; request ignored");
        return;
    }
    d->active = 1;
    atomic_store(&srv->st.draining, 1);
    d->start_ms = now_ms();
    d->window_ms = window_ms > PH_DRAIN_MAX_MS ? PH_DRAIN_MAX_MS : window_ms;
    ph_srv_listen_close(srv, 1);
    ph_logf(srv->log, PH_LOG_INFO, "draining %zu connections over %llu ms",
            srv->fan.nconns, (unsigned long long)d->window_ms);
    if (srv->fan.nconns == 0) {
        return;
    }
    d->serials = malloc(srv->fan.nconns * sizeof(*d->serials));
    if (d->serials == NULL) {
        ph_logf(srv->log, PH_LOG_ERROR,
                "out of memory for the drain schedule: closing all now");
        HASH_ITER(hh, srv->fan.conns, c, tmp) {
            ph_srv_conn_close(srv, c, PH_CLOSE_RESTART);
        }
        return;
    }
    HASH_ITER(hh, srv->fan.conns, c, tmp) {
        if (c->state != PH_CONN_CLOSING && d->n < srv->fan.nconns) {
            d->serials[d->n++] = c->serial;
        }
    }
    /* Fisher-Yates: games and arrival order are spread over the window. */
    for (i = d->n; i > 1; i--) {
        size_t j = (size_t)(ph_srv_rng_next(srv) % i);
        uint64_t s = d->serials[i - 1];

        d->serials[i - 1] = d->serials[j];
        d->serials[j] = s;
    }
    for (i = 0; i < d->n; i++) {
        c = ph_fanout_conn(&srv->fan, d->serials[i]);
        if (c != NULL) {
            drain_notify(srv, c, turn_ms(d, i));
        }
    }
    /* Not 0: libuv runs due timers before polling, and a close clears the
     * output queue, so the earliest turns would lose their notice before
     * it is written. One step lets the loop write the notices first. */
    uv_timer_start(&d->timer, drain_timer_cb, PH_DRAIN_STEP_MS, PH_DRAIN_STEP_MS);
}

/*
 * Stop the drain timer and free the schedule (stop and teardown; safe
 * when no drain ran). Connections still open are the caller's to close.
 */
void
ph_srv_drain_halt(ph_server *srv)
{
    if (srv->drain.timer.loop != NULL) {
        drain_finish(srv);
    }
    else {
        free(srv->drain.serials);
        srv->drain.serials = NULL;
    }
}

/*
 * Ask the server to drain over window_ms (capped at one hour). Safe from
 * any thread; see server.h.
 */
void
ph_server_drain(ph_server *srv, uint64_t window_ms)
{
    pthread_mutex_lock(&srv->lock);
    if (!srv->closed) {
        srv->drain_requested = 1;
        srv->drain_request_ms = window_ms;
        uv_async_send(&srv->wake);
    }
    pthread_mutex_unlock(&srv->lock);
}
