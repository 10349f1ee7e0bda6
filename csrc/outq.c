/*
 * outq.c: see outq.h.
 */
#include "outq.h"

#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

_Static_assert(PH_FRAME_HEADROOM >= LWS_PRE, "frame headroom below LWS_PRE");

/* Smallest ring we allocate; grows by doubling up to the message limit. */
#define PH_OUTQ_MIN_CAP 8

ph_frame *
ph_frame_new(const void *data, size_t len)
{
    ph_frame *f;

    if (len > SIZE_MAX - sizeof(*f) - PH_FRAME_HEADROOM - 1) {
        return NULL;
    }
    f = malloc(sizeof(*f) + PH_FRAME_HEADROOM + len + 1);
    if (f == NULL) {
        return NULL;
    }
    f->refcnt = 1;
    f->flags = 0;
    f->t0_ns = 0;
    f->len = len;
    if (len > 0) {
        memcpy(f->buf + PH_FRAME_HEADROOM, data, len);
    }
    f->buf[PH_FRAME_HEADROOM + len] = '\0';
    return f;
}

uint32_t
ph_frame_decref(ph_frame *f)
{
    if (--f->refcnt == 0) {
        free(f);
        return 0;
    }
    return f->refcnt;
}

void
ph_outq_init(ph_outq *q)
{
    memset(q, 0, sizeof(*q));
}

void
ph_outq_clear(ph_outq *q, void (*release)(void *arg, ph_frame *f), void *arg)
{
    while (q->count > 0) {
        ph_frame *f = q->ring[q->head];

        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
        if (release != NULL) {
            release(arg, f);
        }
        else {
            ph_frame_decref(f);
        }
    }
    free(q->ring);
    memset(q, 0, sizeof(*q));
}

/* Make room for one more slot; returns 0 or -1 on allocation failure. */
static int
outq_grow(ph_outq *q)
{
    size_t ncap, i;
    ph_frame **nring;

    if (q->count < q->cap) {
        return 0;
    }
    ncap = q->cap ? q->cap * 2 : PH_OUTQ_MIN_CAP;
    if (ncap > SIZE_MAX / sizeof(*nring)) {
        return -1;
    }
    nring = malloc(ncap * sizeof(*nring));
    if (nring == NULL) {
        return -1;
    }
    /* Unwrap the old ring so the oldest frame lands at index 0. */
    for (i = 0; i < q->count; i++) {
        nring[i] = q->ring[(q->head + i) & (q->cap - 1)];
    }
    free(q->ring);
    q->ring = nring;
    q->cap = ncap;
    q->head = 0;
    return 0;
}

/* True when the queue (plus extra_bytes/extra_msgs) is above the soft limit. */
static int
outq_over_soft(const ph_outq *q, const ph_outq_limits *lim, size_t extra_bytes,
               size_t extra_msgs)
{
    if (lim->soft_bytes && q->bytes + extra_bytes > lim->soft_bytes) {
        return 1;
    }
    if (lim->soft_msgs && q->count + extra_msgs > lim->soft_msgs) {
        return 1;
    }
    return 0;
}

ph_outq_status
ph_outq_push(ph_outq *q, ph_frame *f, const ph_outq_limits *lim,
             uint64_t now_ms)
{
    if (lim->hard_bytes && q->bytes + f->len > lim->hard_bytes) {
        return PH_OUTQ_HARD;
    }
    if (lim->hard_msgs && q->count + 1 > lim->hard_msgs) {
        return PH_OUTQ_HARD;
    }
    if (outq_over_soft(q, lim, f->len, 1)) {
        if (q->soft_since_ms == 0) {
            /* 0 means "not over", so never store 0 as a start time. */
            q->soft_since_ms = now_ms ? now_ms : 1;
        }
        else if (now_ms - q->soft_since_ms >= lim->soft_ms) {
            return PH_OUTQ_SOFT;
        }
    }
    if (outq_grow(q) < 0) {
        return PH_OUTQ_NOMEM;
    }
    q->ring[(q->head + q->count) & (q->cap - 1)] = ph_frame_incref(f);
    q->count++;
    q->bytes += f->len;
    return PH_OUTQ_OK;
}

ph_outq_status
ph_outq_push_front(ph_outq *q, ph_frame *f)
{
    if (outq_grow(q) < 0) {
        return PH_OUTQ_NOMEM;
    }
    q->head = (q->head + q->cap - 1) & (q->cap - 1);
    q->ring[q->head] = ph_frame_incref(f);
    q->count++;
    q->bytes += f->len;
    return PH_OUTQ_OK;
}

ph_frame *
ph_outq_peek(const ph_outq *q)
{
    return q->count ? q->ring[q->head] : NULL;
}

ph_frame *
ph_outq_pop(ph_outq *q, const ph_outq_limits *lim)
{
    ph_frame *f;

    if (q->count == 0) {
        return NULL;
    }
    f = q->ring[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
    q->bytes -= f->len;
    if (!outq_over_soft(q, lim, 0, 0)) {
        q->soft_since_ms = 0;
    }
    if (q->count == 0 && q->cap > PH_OUTQ_MIN_CAP * 4) {
        /* Give back a ring that grew during a burst. */
        free(q->ring);
        q->ring = NULL;
        q->cap = 0;
        q->head = 0;
    }
    return f;
}
