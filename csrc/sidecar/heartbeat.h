/*
 * heartbeat: when each WebSocket is due a PING, and when it is due to be
 * dropped, with O(1) work per sign of life and O(due) work per tick.
 *
 * Why not lws' own validity timers (retry_and_idle_policy): lws 4.1 keeps
 * every per-connection timer in one sorted linked list and inserts by
 * walking it from the head, and each PING and each PONG re-inserts the
 * connection's timer near the tail. At 10,000 idle sockets with 20 s
 * heartbeats that walk was 86 % of the sidecar's CPU (see "Performance
 * notes" in docs/architecture.md).
 *
 * Here both deadlines are "last sign of life + a constant", so a plain
 * FIFO list per kind is already sorted: a sign of life moves the node to
 * the tail of the "silent" list (PING due ping_interval s later); when that
 * expires the node moves, in the same order, to the tail of the "pinged"
 * list (hang-up due ping_timeout s after the last sign of life, as with
 * lws); a tick pops expired nodes from the heads. Times are milliseconds
 * of a monotonic clock supplied by the caller, kept in 32 bits and
 * compared with serial-number arithmetic (deadlines are at most 65535 s
 * ahead, far below the 24-day wrap horizon).
 *
 * Loop-thread only: nothing here is locked. Nodes are embedded in the
 * connection (ph_conn.hb); the lists own nothing.
 */
#ifndef PH_HEARTBEAT_H
#define PH_HEARTBEAT_H

#include <stddef.h>
#include <stdint.h>

typedef enum ph_hb_kind {
    PH_HB_NONE = 0,        /* not linked */
    PH_HB_SILENT = 1,      /* waiting for ping_interval of silence */
    PH_HB_PINGED = 2       /* PING sent, waiting for any sign of life */
} ph_hb_kind;

typedef struct ph_hb_node {
    struct ph_hb_node *prev, *next;
    uint32_t alive_ms;     /* last sign of life (caller's clock, wraps) */
    uint8_t kind;          /* ph_hb_kind: which list holds the node */
    uint8_t ping_queued;   /* PING owed, to go out from WRITEABLE */
} ph_hb_node;

typedef struct ph_hb_list {
    ph_hb_node *head, *tail;
    size_t n;
} ph_hb_list;

typedef struct ph_hb {
    ph_hb_list silent, pinged;
    uint32_t ping_ms;      /* ping_interval */
    uint32_t hangup_ms;    /* ping_timeout */
} ph_hb;

/*
 * Initialise empty lists: PING after ping_interval s of silence, drop when
 * nothing has arrived ping_timeout s after the last sign of life
 * (ping_timeout > ping_interval > 0, checked by the server's config).
 */
void ph_hb_init(ph_hb *hb, uint32_t ping_interval, uint32_t ping_timeout);

/*
 * A sign of life at now_ms (milliseconds): link n (or move it) to the tail
 * of the silent list, its PING due ping_interval s later. O(1).
 */
void ph_hb_alive(ph_hb *hb, ph_hb_node *n, uint64_t now_ms);

/*
 * n's PING is due and goes out (or is queued) now: move n to the tail of
 * the pinged list, to be dropped ping_timeout s after its last sign of
 * life unless ph_hb_alive is called first. O(1).
 */
void ph_hb_pinged(ph_hb *hb, ph_hb_node *n);

/* Unlink n (no-op when not linked). O(1). */
void ph_hb_remove(ph_hb *hb, ph_hb_node *n);

/*
 * The next node whose deadline has passed at now_ms, still linked, or NULL
 * when none is due; *kind says which deadline (PH_HB_SILENT: send a PING,
 * PH_HB_PINGED: drop it). The caller must move or unlink the node before
 * asking again, or it gets the same node back. O(1).
 */
ph_hb_node *ph_hb_due(ph_hb *hb, uint64_t now_ms, ph_hb_kind *kind);

#endif /* PH_HEARTBEAT_H */
