/*
 * outq: reference-counted WebSocket frames and bounded per-connection
 * output queues.
 *
 * A broadcast is encoded once into a ph_frame (LWS_PRE bytes of headroom
 * followed by the payload) and every recipient's queue holds one reference.
 * The queue is a growable ring of frame pointers (its first frame held
 * inline, without an allocation) with limits modelled on
 * Redis' client-output-buffer-limit: a hard limit (bytes or messages) that
 * fails the push at once, and a soft limit that fails it only after the
 * queue has stayed above it for soft_ms milliseconds.
 *
 * Loop-thread only: nothing here is locked.
 */
#ifndef PH_OUTQ_H
#define PH_OUTQ_H

#include <stddef.h>
#include <stdint.h>

/* Headroom in front of each payload; must be >= LWS_PRE (checked in outq.c). */
#define PH_FRAME_HEADROOM 16

typedef struct ph_frame {
    uint32_t refcnt;
    uint32_t flags;        /* PH_FRAME_* */
    uint64_t t0_ns;        /* creation time for latency metrics, 0 = none */
    size_t len;            /* payload length */
    unsigned char buf[];   /* PH_FRAME_HEADROOM + len + 1 (NUL) */
} ph_frame;

#define PH_FRAME_BROADCAST 1u

typedef struct ph_outq_limits {
    size_t hard_bytes;     /* 0 = unlimited */
    size_t hard_msgs;      /* 0 = unlimited */
    size_t soft_bytes;     /* 0 = no soft limit */
    size_t soft_msgs;      /* 0 = no soft limit */
    uint64_t soft_ms;      /* how long the soft limit may be exceeded */
} ph_outq_limits;

typedef struct ph_outq {
    union {
        ph_frame **ring;   /* cap >= 2: the allocated ring */
        ph_frame *one;     /* cap == 1: the one slot, held inline */
    } slots;
    size_t cap;            /* slots (power of two; 1 = inline, no allocation) */
    size_t head;           /* index of the oldest frame */
    size_t count;          /* frames queued */
    size_t bytes;          /* payload bytes queued */
    uint64_t soft_since_ms; /* 0 = currently under the soft limit */
} ph_outq;

typedef enum ph_outq_status {
    PH_OUTQ_OK = 0,
    PH_OUTQ_NOMEM = -1,
    PH_OUTQ_HARD = -2,     /* hard limit reached: the caller should drop the client */
    PH_OUTQ_SOFT = -3      /* soft limit held too long: drop the client */
} ph_outq_status;

/*
 * Allocate a frame holding a copy of data[0..len) with refcnt 1.
 * Returns NULL when out of memory. The payload is NUL-terminated for
 * convenience (the NUL is not part of len).
 */
ph_frame *ph_frame_new(const void *data, size_t len);

/* Take one more reference. */
static inline ph_frame *
ph_frame_incref(ph_frame *f)
{
    f->refcnt++;
    return f;
}

/*
 * Drop one reference; frees the frame when it was the last one.
 * Returns the number of references left (0 = freed).
 */
uint32_t ph_frame_decref(ph_frame *f);

/* Pointer to the payload (the headroom lies just before it). */
static inline unsigned char *
ph_frame_payload(ph_frame *f)
{
    return f->buf + PH_FRAME_HEADROOM;
}

/* Initialise an empty queue; allocates nothing. */
void ph_outq_init(ph_outq *q);

/*
 * Drop every queued frame (one decref each, through release() when it
 * is not NULL so the caller can observe frames reaching zero) and free
 * the ring. The queue is left empty and reusable.
 */
void ph_outq_clear(ph_outq *q, void (*release)(void *arg, ph_frame *f),
                   void *arg);

/*
 * Append f (taking a new reference on success) subject to lim at time
 * now_ms. On any failure the queue is unchanged and no reference is taken.
 */
ph_outq_status ph_outq_push(ph_outq *q, ph_frame *f, const ph_outq_limits *lim,
                            uint64_t now_ms);

/*
 * Insert f in front of everything queued (taking a reference). Limits are
 * not checked: used for the welcome and state messages that must precede
 * any event queued while the connection was being authenticated.
 */
ph_outq_status ph_outq_push_front(ph_outq *q, ph_frame *f);

/* Oldest frame or NULL; the queue keeps its reference. */
ph_frame *ph_outq_peek(const ph_outq *q);

/*
 * Remove the oldest frame and return it; the caller now owns that
 * reference. NULL when empty. The ring is freed when the queue becomes
 * empty (the next push allocates it again).
 */
ph_frame *ph_outq_pop(ph_outq *q, const ph_outq_limits *lim);

/*
 * Corked writes: lay the oldest queued frames out as complete WebSocket
 * text frames (header + payload, server side: unmasked, FIN) in
 * buf[0..cap), at most max_frames and only whole frames, so one send()
 * carries several (as uWebSockets corks a socket's frames). The queue is
 * unchanged; *nframes tells how many to pop once the bytes are handed to
 * the socket. Returns the bytes laid out; 0 with *nframes == 0 when the
 * oldest frame alone does not fit (the caller writes it on its own).
 */
size_t ph_outq_pack(const ph_outq *q, size_t max_frames, unsigned char *buf,
                    size_t cap, size_t *nframes);

#endif /* PH_OUTQ_H */
