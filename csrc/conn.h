/*
 * conn: one player's or host's WebSocket connection.
 *
 * The struct is lws' per-session data (lws allocates and zeroes it), so it
 * lives exactly as long as the wsi. Everything that may outlive the wsi
 * (Redis replies in flight) refers to a connection by its serial number
 * and looks it up again; see fanout.h.
 */
#ifndef PH_CONN_H
#define PH_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "conn_auth.h"
#include "heartbeat.h"
#include "outq.h"
#include "wsparse.h"

struct lws;
struct ph_group;

typedef enum ph_conn_state {
    PH_CONN_NEW = 0,       /* HTTP or handshake in progress */
    PH_CONN_AUTHING,       /* WebSocket open, Redis lookups in flight */
    PH_CONN_READY,         /* welcome sent (or queued); events flow */
    PH_CONN_CLOSING        /* close requested; waiting for WRITEABLE */
} ph_conn_state;

/* Group slots a connection can hold: its game and (players) its own. */
#define PH_CONN_GROUPS 2
#define PH_CONN_ID_LEN 32  /* hex characters of connection_id */

/*
 * Kept small: one exists per open socket (see "Performance notes" in
 * docs/architecture.md); flags are bytes and the token is kept only as
 * its raw sha256, which is all the session check needs.
 */
typedef struct ph_conn {
    struct lws *wsi;
    uint64_t serial;                   /* hash key; never reused */
    char id[PH_CONN_ID_LEN + 1];       /* connection_id: serial hex + random hex */
    char code[PH_CODE_LEN + 1];
    uint8_t in_table;                  /* linked into the server's hash */
    uint8_t is_ws;                     /* passed FILTER_PROTOCOL_CONNECTION */
    uint8_t token_ok;                  /* token_digest holds a valid token's */
    uint8_t role_ok;                   /* role= was absent, player or host */
    uint8_t code_ok;                   /* the path segment can be a code */
    ph_conn_state state;
    ph_conn_role role;
    int close_code;
    int64_t player_id;                 /* -1 for hosts */
    /* sha256 of the presented token, wiped once the check is done */
    unsigned char token_digest[PH_SHA256_LEN];
    ph_outq q;
    ph_hb_node hb;                     /* heartbeat deadline (server_hb.c) */
    struct ph_group *groups[PH_CONN_GROUPS];
    uint32_t group_idx[PH_CONN_GROUPS]; /* position in groups[i]->members */
    char *rx;                          /* fragment reassembly, NULL if none */
    size_t rx_len;
    /* Messages received before the welcome, answered right after it. */
    struct ph_pending *pend_head, *pend_tail;
    size_t npend;
    /* HTTP endpoints (/healthz, /metrics) */
    unsigned char *http_body;          /* PH_FRAME_HEADROOM + body */
    size_t http_len;
    UT_hash_handle hh;
} ph_conn;

/*
 * Append in[0..len) to the reassembly buffer unless that would exceed max
 * bytes. Returns 0, -1 when the message is too big (the buffer is kept;
 * the caller closes 1009), or -2 when out of memory.
 */
int ph_conn_rx_append(ph_conn *c, const void *in, size_t len, size_t max);

/* Free the reassembly buffer. */
void ph_conn_rx_reset(ph_conn *c);

/* One client message held while the connection is being authenticated. */
typedef struct ph_pending {
    struct ph_pending *next;
    size_t len;
    char text[];                       /* len bytes + NUL */
} ph_pending;

/*
 * Keep a copy of text[0..len) at the end of c's pending list, unless max
 * messages are held already. Returns 0, -1 when the list is full, -2 when
 * out of memory.
 */
int ph_conn_pending_add(ph_conn *c, const char *text, size_t len, size_t max);

/* Unlink and return the oldest pending message (the caller frees it), or
 * NULL when none is held. */
ph_pending *ph_conn_pending_pop(ph_conn *c);

/* Free every pending message. */
void ph_conn_pending_clear(ph_conn *c);

#endif /* PH_CONN_H */
