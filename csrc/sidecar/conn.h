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

/* Longest textual IP address kept (INET6_ADDRSTRLEN). */
#define PH_ADDR_MAX 46

/*
 * One client address and how many of the server's open WebSockets come
 * from it. The table (a uthash keyed by addr) holds an entry only while
 * its count is non-zero, so it never has more entries than open sockets.
 */
typedef struct ph_addr_count {
    char addr[PH_ADDR_MAX];
    uint32_t n;
    UT_hash_handle hh;
} ph_addr_count;

/* Limits of a connection's client messages (a token bucket). */
typedef struct ph_rate_limits {
    uint64_t rate_milli;   /* messages per second x 1000; 0 = no limit */
    uint32_t burst;        /* bucket size in messages (>= 1) */
    uint32_t flood;        /* refusals, since the bucket was last full,
                            * after which the client is closed 4008 */
} ph_rate_limits;

/*
 * A connection's bucket: micro-messages (10^6 per message), so that the
 * refill is one multiplication by rate_milli per elapsed millisecond.
 */
typedef struct ph_rate {
    uint64_t last_ms;
    uint64_t tokens;
    uint32_t drops;        /* refused since the bucket was last full */
} ph_rate;

typedef enum ph_rate_verdict {
    PH_RATE_OK = 0,        /* take the message */
    PH_RATE_DROP,          /* refuse it (answer RATE_LIMITED) */
    PH_RATE_FLOOD          /* refuse it and close the connection (4008) */
} ph_rate_verdict;

/* Group slots a connection can hold: its game and (players) its own. */
#define PH_CONN_GROUPS 2
#define PH_CONN_ID_LEN 32  /* hex characters of connection_id */
/* printf format and arguments of c's connection_id (see ph_conn_id). */
#define PH_CONN_ID_FMT "%016llx%016llx"
#define PH_CONN_ID_ARGS(c) \
    (unsigned long long)(c)->serial, (unsigned long long)(c)->id_rand

/*
 * Kept small: one exists per open socket (see "Performance notes" in
 * docs/architecture.md); flags, state, role and close code are bytes, the
 * connection_id is kept as its random half (ph_conn_id() writes it); the
 * token's sha256 lives in the session lookup's context (server_conn.c),
 * not here.
 */
typedef struct ph_conn {
    struct lws *wsi;
    uint64_t serial;                   /* hash key; never reused */
    uint64_t id_rand;                  /* connection_id's random half */
    char code[PH_CODE_LEN + 1];
    uint8_t in_table;                  /* linked into the server's hash */
    uint8_t is_ws;                     /* passed FILTER_PROTOCOL_CONNECTION */
    uint8_t token_ok;                  /* session_token= is well formed */
    uint8_t role_ok;                   /* role= was absent, player or host */
    uint8_t code_ok;                   /* the path segment can be a code */
    uint8_t close_await_ack;           /* close with a handshake (flooder) */
    uint8_t close_sent;                /* our close frame is out */
    uint8_t corked;                    /* listed at srv->cork[cork_idx] */
    uint8_t state;                     /* ph_conn_state */
    uint8_t role;                      /* ph_conn_role */
    uint16_t close_code;               /* 1000..4999 once a close is asked */
    int64_t player_id;                 /* -1 for hosts */
    ph_rate rate;                      /* client message bucket */
    ph_addr_count *addr;               /* counted under this address */
    ph_outq q;
    /* A player's session.state, held while their private state is read. */
    ph_frame *state_frame;
    ph_hb_node hb;                     /* heartbeat deadline (server_hb.c) */
    struct ph_group *groups[PH_CONN_GROUPS];
    uint32_t group_idx[PH_CONN_GROUPS]; /* position in groups[i]->members */
    uint32_t cork_idx;                 /* slot in srv->cork while corked */
    char *rx;                          /* fragment reassembly, NULL if none */
    uint32_t rx_len;                   /* <= max_message (16 MiB at most) */
    /* Messages received before the welcome, answered right after it: a
     * ring through the newest (pend->next is the oldest), NULL if none. */
    uint32_t npend;
    struct ph_pending *pend;
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

/*
 * c's connection_id, NUL-terminated into out[33]: its serial and its
 * random half, 16 lowercase hex digits each.
 */
void ph_conn_id(const ph_conn *c, char out[PH_CONN_ID_LEN + 1]);

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

/*
 * Start a full bucket at now_ms (milliseconds, any monotonic clock).
 */
void ph_rate_init(ph_rate *r, const ph_rate_limits *lim, uint64_t now_ms);

/*
 * Account for one client message at now_ms: refill the bucket for the time
 * elapsed, then take one message from it. O(1), no allocation. Returns
 * PH_RATE_OK, PH_RATE_DROP when the bucket is empty, or PH_RATE_FLOOD when
 * it is empty and lim->flood messages have been refused since it was last
 * full. With lim->rate_milli == 0 every message is PH_RATE_OK.
 */
ph_rate_verdict ph_rate_take(ph_rate *r, const ph_rate_limits *lim,
                             uint64_t now_ms);

/*
 * How many open sockets are counted under addr in *table (0 when none).
 */
uint32_t ph_addr_count_get(ph_addr_count *table, const char *addr);

/*
 * Count one more socket under addr (at most PH_ADDR_MAX - 1 bytes; longer
 * is truncated) in *table, adding its entry if needed. Returns the entry
 * (the caller keeps it and passes it to ph_addr_count_release), or NULL
 * when out of memory.
 */
ph_addr_count *ph_addr_count_add(ph_addr_count **table, const char *addr);

/*
 * Count one socket less under e; frees e when none is left. e may be NULL
 * (nothing is done).
 */
void ph_addr_count_release(ph_addr_count **table, ph_addr_count *e);

/* Free every entry of *table (at teardown). */
void ph_addr_count_clear(ph_addr_count **table);

/*
 * The address a connection is counted under, written NUL-terminated into
 * out[0..PH_ADDR_MAX). peer is the socket's address; xff the
 * X-Forwarded-For header (NULL when absent); trusted a comma-separated list
 * of proxy addresses whose X-Forwarded-For is believed (NULL or "" = none).
 * IPv4-mapped IPv6 ("::ffff:1.2.3.4") is written as IPv4. When peer is
 * trusted, the entries of xff are read from the right (the nearest proxy
 * appends last) past trusted proxies; the first other valid address is the
 * client's. An entry that is not a numeric IP stops the walk: the last
 * address read (or peer) is used, so a malformed header never lets a
 * client choose its address. Returns PH_ADDR_XFF when the address came
 * from xff, PH_ADDR_PEER when it is peer's, PH_ADDR_PROXY when peer is a
 * trusted proxy and xff names no client (absent, empty or malformed).
 */
#define PH_ADDR_PEER 0
#define PH_ADDR_XFF 1
#define PH_ADDR_PROXY 2
int ph_conn_client_addr(const char *peer, const char *xff, const char *trusted,
                        char out[PH_ADDR_MAX]);

#endif /* PH_CONN_H */
