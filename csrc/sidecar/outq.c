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

/*
 * A queue's first frame is held in the slot union itself (cap 1), so a
 * socket that gets one frame at a time, the fan-out at a fixed rate, never
 * allocates a ring: before, every such delivery cost a malloc and a free
 * (malloc, free and glibc's chunk merging: 1.7 % of the sidecar's CPU at
 * 10,000 sockets, 2 events/s, in perf). Alternated builds, 4 runs each:
 * CPU per delivery there 9.10 -> 8.70 us (medians), p99 108.5 -> 102.2 ms;
 * at 1,000 sockets within the runs' noise (BENCHMARKS.md, issue 20).
 */
static ph_frame *
outq_get(const ph_outq *q, size_t k)
{
    if (q->cap == 1) {
        return q->slots.one;
    }
    return q->slots.ring[(q->head + k) & (q->cap - 1)];
}

static void
outq_set(ph_outq *q, size_t k, ph_frame *f)
{
    if (q->cap == 1) {
        q->slots.one = f;
    }
    else {
        q->slots.ring[(q->head + k) & (q->cap - 1)] = f;
    }
}

/* Free the allocated ring, if any; the queue then holds no slots. */
static void
outq_free_slots(ph_outq *q)
{
    if (q->cap > 1) {
        free(q->slots.ring);
    }
    q->slots.ring = NULL;
    q->cap = 0;
    q->head = 0;
}

/*
 * Allocate a frame holding a copy of data[0..len) with refcnt 1.
 * Returns NULL when out of memory. The payload is NUL-terminated for
 * convenience (the NUL is not part of len).
 */
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

/*
 * Drop one reference; frees the frame when it was the last one.
 * Returns the number of references left (0 = freed).
 */
uint32_t
ph_frame_decref(ph_frame *f)
{
    if (--f->refcnt == 0) {
        free(f);
        return 0;
    }
    return f->refcnt;
}

/* Initialise an empty queue; allocates nothing. */
void
ph_outq_init(ph_outq *q)
{
    memset(q, 0, sizeof(*q));
}

/*
 * Drop every queued frame (one decref each, through release() when it
 * is not NULL so the caller can observe frames reaching zero) and free
 * the ring. The queue is left empty and reusable.
 */
void
ph_outq_clear(ph_outq *q, void (*release)(void *arg, ph_frame *f), void *arg)
{
    while (q->count > 0) {
        ph_frame *f = outq_get(q, 0);

        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
        if (release != NULL) {
            release(arg, f);
        }
        else {
            ph_frame_decref(f);
        }
    }
    outq_free_slots(q);
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
    if (q->cap == 0) {
        q->cap = 1;                    /* the first frame goes inline */
        q->head = 0;
        return 0;
    }
    ncap = q->cap == 1 ? PH_OUTQ_MIN_CAP : q->cap * 2;
    if (ncap > SIZE_MAX / sizeof(*nring)) {
        return -1;
    }
    nring = malloc(ncap * sizeof(*nring));
    if (nring == NULL) {
        return -1;
    }
    /* Unwrap the old slots so the oldest frame lands at index 0. */
    for (i = 0; i < q->count; i++) {
        nring[i] = outq_get(q, i);
    }
    if (q->cap > 1) {
        free(q->slots.ring);
    }
    q->slots.ring = nring;
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

/*
 * Append f (taking a new reference on success) subject to lim at time
 * now_ms. On any failure the queue is unchanged and no reference is taken.
 */
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
    outq_set(q, q->count, ph_frame_incref(f));
    q->count++;
    q->bytes += f->len;
    return PH_OUTQ_OK;
}

/*
 * Insert f in front of everything queued (taking a reference). Limits are
 * not checked: used for the welcome and state messages that must precede
 * any event queued while the connection was being authenticated.
 */
ph_outq_status
ph_outq_push_front(ph_outq *q, ph_frame *f)
{
    if (outq_grow(q) < 0) {
        return PH_OUTQ_NOMEM;
    }
    q->head = (q->head + q->cap - 1) & (q->cap - 1);
    outq_set(q, 0, ph_frame_incref(f));
    q->count++;
    q->bytes += f->len;
    return PH_OUTQ_OK;
}

/* Oldest frame or NULL; the queue keeps its reference. */
ph_frame *
ph_outq_peek(const ph_outq *q)
{
    return q->count ? outq_get(q, 0) : NULL;
}

/*
 * Remove the oldest frame and return it; the caller now owns that
 * reference. NULL when empty. The ring is freed when the queue becomes
 * empty (the next push holds its frame inline; a second allocates one).
 */
ph_frame *
ph_outq_pop(ph_outq *q, const ph_outq_limits *lim)
{
    ph_frame *f;

    if (q->count == 0) {
        return NULL;
    }
    f = outq_get(q, 0);
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
    q->bytes -= f->len;
    if (!outq_over_soft(q, lim, 0, 0)) {
        q->soft_since_ms = 0;
    }
    if (q->count == 0) {
        /* Give the ring back whenever the queue empties: most sockets are
         * idle or written to directly (server_conn.c), and a kept ring
         * would cost every connection 80 bytes for good. */
        outq_free_slots(q);
    }
    return f;
}

/*
 * Server-to-client text frame header (RFC 6455 5.2, FIN, unmasked) for a
 * payload of len bytes into h (10 bytes room); returns its size.
 */
static size_t
ws_text_header(unsigned char *h, size_t len)
{
    int i;

    h[0] = 0x81;
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (i = 0; i < 8; i++) {
        h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
    return 10;
}

/*
 * Lay the oldest queued frames out as complete WebSocket text frames in
 * buf[0..cap): at most max_frames of them, stopping before the first that
 * does not fit whole. The queue is not changed (the caller pops *nframes
 * frames once the bytes are handed to the socket). Returns the bytes
 * written; 0 with *nframes == 0 when the oldest frame alone needs more
 * than cap (it goes out on its own).
 */
size_t
ph_outq_pack(const ph_outq *q, size_t max_frames, unsigned char *buf,
             size_t cap, size_t *nframes)
{
    size_t used = 0, k;

    *nframes = 0;
    for (k = 0; k < q->count && k < max_frames; k++) {
        ph_frame *f = outq_get(q, k);
        unsigned char h[10];
        size_t hl = ws_text_header(h, f->len);

        if (f->len > cap || hl + f->len > cap - used) {
            break;
        }
        memcpy(buf + used, h, hl);
        memcpy(buf + used + hl, ph_frame_payload(f), f->len);
        used += hl + f->len;
        (*nframes)++;
    }
    return used;
}
