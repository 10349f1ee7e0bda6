/*
 * server_int.h: the sidecar server's internals, shared by its files and
 * by nothing else (the public API is server.h).
 *
 *   server.c         configuration, lifetime (new/run/stop/free), timers
 *   server_listen.c  our SO_REUSEPORT listening socket, adopted into lws
 *   server_redis.c   the hiredis links of every shard (commands, the
 *                    BZPOPMIN receive loop, Sentinel discovery), AUTH,
 *                    group registration in Redis
 *   server_conn.c    the lws protocol callback: connection lifecycle,
 *                    authentication, client messages, fan-out
 *   server_http.c    /healthz and /metrics
 *   server_drain.c   draining: stop accepting, tell each client when to
 *                    reconnect, close each with 1012 at its turn
 *   server_hb.c      the heartbeat: PING after silence, drop after more
 *
 * Everything here runs on the loop thread unless marked otherwise.
 */
#ifndef PH_SERVER_INT_H
#define PH_SERVER_INT_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <libwebsockets.h>
#include <uv.h>

#include "conn.h"
#include "fanout.h"
#include "heartbeat.h"
#include "rsetup.h"
#include "server.h"

#define PH_RANDOM_PREFIX_LEN 12       /* channels_redis random_prefix_length */
#define PH_ACCEPTS_PER_WAKE 64        /* fairness for the listener */
#define PH_REDIS_BACKOFF_MIN_MS 100
#define PH_REDIS_BACKOFF_MAX_MS 5000
#define PH_KEY_MAX 256
#define PH_TICK_MS 1000
#define PH_READY_MAX 64         /* bytes kept of the ready key's value */
#define PH_HB_TICK_MS 250              /* heartbeat deadline resolution */
#define PH_STOP_POLL_MS 50
#define PH_REPLY_MAX 1024              /* pong/error replies */
#define PH_PENDING_MAX 16              /* messages held before the welcome */
#define PH_MSG_BUSY "The server cannot take messages now; try again."
#define PH_CLOSE_WAIT_S 3              /* max wait to send a close frame */
#define PH_DRAIN_STEP_MS 10            /* drain timer period */
#define PH_DRAIN_MAX_MS (3600u * 1000u) /* longest drain window */
#define PH_CLOSE_RESTART 1012          /* service restart (drain turns) */
/* Messages per receive round trip: a BZPOPMIN and, pipelined behind it, a
 * ZPOPMIN of the rest (BENCHMARKS.md "Corked writes"). */
#define PH_RX_BATCH 64
/* ... and at most about this many message bytes: a batch lands in the
 * recipients' queues at once, and their limits are for slow clients, not
 * for a burst of large messages (the count follows the average size). */
#define PH_RX_BATCH_BYTES (32 * 1024)
/* One corked send: the queued frames of a socket laid out back to back. */
#define PH_CORK_BYTES 16384

/* The output queue limits of cfg's hard_* and soft_* settings. */
static inline ph_outq_limits
ph_srv_out_limits(const ph_server_config *cfg)
{
    ph_outq_limits l;

    l.hard_bytes = cfg->hard_bytes;
    l.hard_msgs = cfg->hard_msgs;
    l.soft_bytes = cfg->soft_bytes;
    l.soft_msgs = cfg->soft_msgs;
    l.soft_ms = (uint64_t)(cfg->soft_seconds * 1000.0);
    return l;
}

/* Fan-out latency histogram bounds in milliseconds (+Inf implied). */
#define PH_LAT_NB 12
extern const double ph_srv_lat_bounds_ms[PH_LAT_NB];

typedef enum srv_phase {
    SRV_NEW = 0,
    SRV_RUNNING,
    SRV_STOPPING,
    SRV_DONE
} srv_phase;

typedef enum rlink_kind {
    RLINK_CMD = 0,               /* every command but the blocking pop */
    RLINK_RX = 1,                /* the BZPOPMIN receive loop */
    RLINK_SENTINEL = 2           /* asking a sentinel for the master */
} rlink_kind;

#define PH_RLINKS 3

struct rshard;

/* One hiredis async connection with its own reconnect timer. */
typedef struct rlink {
    struct ph_server *srv;
    struct rshard *shard;
    rlink_kind kind;
    redisAsyncContext *ac;       /* NULL while down */
    int up;                      /* connected, AUTHed, SELECTed, checked */
    int ever_up;
    int setup_pending;           /* set-up replies still awaited */
    int setup_failed;
    unsigned backoff_ms;
    uv_timer_t retry;
} rlink;

/*
 * One Redis host of the channel layer (a shard): its command and receive
 * links and, for a Sentinel entry, the discovery link and the master
 * currently in use.
 */
typedef struct rshard {
    struct ph_server *srv;
    int index;
    ph_redis_host cfg;
    char host[PH_SENTINEL_HOST_MAX];  /* where CMD and RX connect */
    int port;
    int have_master;             /* host/port valid (always without
                                  * Sentinel) */
    int sentinel_next;           /* the sentinel asked next */
    int sentinel_tried;          /* sentinels asked in this round */
    int need_resync;             /* send session.state after a reconnect */
    int ready_known;             /* ready_seen holds a reading */
    char ready_seen[PH_READY_MAX];  /* the ready key's value, "" if none */
    char sha[RS_COUNT][PH_SHA_LEN + 1];  /* the scripts, loaded by the
                                          * command link's set-up */
    rlink links[PH_RLINKS];
} rshard;

typedef struct srv_counters {
    _Atomic uint64_t connections;  /* open now */
    _Atomic uint64_t unhandled;    /* channel-layer types we ignore */
    /* The counters of realtime/counters_table.py (ph_counters.def). */
#define PH_COUNTER(name, metric, kind, help) _Atomic uint64_t name;
#include "ph_counters.def"
#undef PH_COUNTER
    _Atomic int redis_up;
    _Atomic int redis_shards_up;
    _Atomic int draining;        /* 1 from the drain's start on */
    /* Loop-thread only (read by /metrics on the loop thread). */
    uint64_t lat_buckets[PH_LAT_NB + 1];
    double lat_sum_s;
    uint64_t lat_count;
} srv_counters;

/*
 * A drain in progress (loop thread). The closing order is kept as serials,
 * never pointers: a connection that closes itself meanwhile is simply not
 * found when its turn comes.
 */
typedef struct srv_drain {
    int active;                  /* begun (never reset) */
    uint64_t start_ms, window_ms;
    uint64_t *serials;           /* closing order; NULL once all are done */
    size_t n, next;              /* entries; index of the next turn */
    uv_timer_t timer;
} srv_drain;

struct ph_server {
    ph_server_config cfg;        /* strings point into owned copies */
    ph_outq_limits out_limits;   /* from cfg's hard_* and soft_* */
    char *strings[16];           /* owned copies of cfg strings */
    size_t nstrings;

    uv_loop_t loop;
    int loop_ready;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct lws_protocols protocols[2];
    lws_retry_bo_t retry_policy;

    int listen_fd;
    uv_poll_t listen_poll;
    int listen_active;           /* listen_poll initialised and not closed */
    int port;

    uv_async_t wake;
    uv_timer_t tick;
    uv_timer_t hb_timer;         /* heartbeat deadlines (server_hb.c) */
    uv_timer_t stop_timer;
    int handles_ready;
    uint64_t stop_deadline_ms;
    uint64_t next_refresh_ms;
    uint64_t trim_seen;          /* connections opened + closed at the last tick */
    int trim_pending;            /* they changed: trim once they stop changing */

    pthread_mutex_t lock;        /* guards stop_requested, drain_requested,
                                  * drain_request_ms and closed */
    int stop_requested;
    int drain_requested;
    uint64_t drain_request_ms;
    srv_drain drain;
    int closed;                  /* wake handle gone: never uv_async_send */

    srv_phase phase;
    int torn_down;

    rshard *shards;              /* cfg.nredis_hosts of them */
    int nshards;
    int home_shard;              /* where senders put our messages */
    unsigned inbound_rr;         /* round-robin of inbound sends */

    char client_prefix[33];      /* uuid4 hex, like channels_redis */
    char chan_prefix[64];        /* "specific.<prefix>!" */
    char rx_key[PH_KEY_MAX];     /* "<prefix>specific.<client_prefix>!" */
    size_t rx_avg_bytes;         /* received message size: max-biased average */
    char inbound_key[PH_KEY_MAX];

    ph_fanout fan;
    ph_addr_count *addrs;        /* open sockets per client address */
    ph_rate_limits rate;         /* from cfg.msg_rate/_burst/_flood */
    ph_hb hb;                    /* heartbeat deadlines (server_hb.c) */
    uint64_t next_serial;
    uint64_t rng;                /* splitmix64 state for random prefixes */

    srv_counters st;
    ph_log *log;
    uint64_t nofile_limit;       /* RLIMIT_NOFILE soft limit after raising */

    /* Corked fan-out (server_conn.c): while a receive batch is dispatched,
     * frames are queued and each socket listed once; the flush writes each
     * listed socket's frames in one send. ws_closed() clears its slot. */
    int corking;
    ph_conn **cork;
    size_t ncork, cork_cap;
    unsigned char cork_buf[PH_CORK_BYTES];
};

/* ---- small inline helpers ------------------------------------------ */

static inline uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline double
wall_time(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void
cnt_add(_Atomic uint64_t *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static inline uint64_t
cnt_get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* The server of a hiredis context (ac->data is its rlink). */
static inline ph_server *
link_srv(const redisAsyncContext *ac)
{
    return ((const rlink *)ac->data)->srv;
}

/* ---- server.c -------------------------------------------------------- */

uint64_t ph_srv_rng_next(ph_server *srv);
void ph_srv_rng_bytes(ph_server *srv, unsigned char *out, size_t n);
void ph_srv_set_err(char *err, size_t errlen, const char *fmt, ...);
void ph_srv_frame_release(void *arg, ph_frame *f);

/* ---- server_listen.c -------------------------------------------------- */

int ph_srv_listen_open(ph_server *srv, char *err, size_t errlen);
void ph_srv_listen_cb(uv_poll_t *h, int status, int events);
void ph_srv_listen_close(ph_server *srv, int accept_pending);

/* ---- server_redis.c --------------------------------------------------- */

int ph_srv_redis_init(ph_server *srv, char *err, size_t errlen);
void ph_srv_redis_start(ph_server *srv);
void ph_srv_redis_teardown(ph_server *srv);
void ph_srv_redis_free(ph_server *srv);
void ph_srv_redis_open(rlink *l);
int ph_srv_shard_of(const ph_server *srv, const char *name, size_t len);
int ph_srv_game_shard(const ph_server *srv, const char *code);
int ph_srv_inbound_shard(ph_server *srv);
int ph_srv_redis_up(const ph_server *srv, int shard);
void ph_srv_redis_command(ph_server *srv, int shard, redisCallbackFn *fn,
                          void *priv, int argc, const char **argv,
                          const size_t *lens);
void ph_srv_redis_script(ph_server *srv, int shard, rs_script id,
                         redisCallbackFn *fn, void *priv, int nkeys,
                         int argc, const char **argv, const size_t *lens);
void ph_srv_redis_group_add(ph_server *srv, const char *group);
void ph_srv_redis_group_del(ph_server *srv, const char *group);
void ph_srv_redis_refresh(ph_server *srv);
void ph_srv_redis_check_ready(ph_server *srv);
void ph_srv_state_key(const ph_server *srv, const char *code, char *out,
                      size_t outlen);

/* ---- server_conn.c ---------------------------------------------------- */

int ph_srv_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);
void ph_srv_conn_close(ph_server *srv, ph_conn *c, int code);
void ph_srv_conn_send(ph_server *srv, ph_conn *c, ph_frame *f);
void ph_srv_conn_deliver(ph_server *srv, ph_conn *c, ph_frame *f);
/*
 * Cork the fan-out: until ph_srv_cork_flush(), ph_srv_conn_deliver()
 * queues frames for ready sockets instead of writing them, listing each
 * socket once. The flush writes every listed socket's queued frames in
 * one send (up to PH_CORK_BYTES, whole frames) and ends the cork. Nothing
 * else may run between the two but the dispatch of received messages.
 */
void ph_srv_cork_begin(ph_server *srv);
void ph_srv_cork_flush(ph_server *srv);
void ph_srv_dispatch(ph_server *srv, const unsigned char *p, size_t len);

/* ---- server_drain.c --------------------------------------------------- */

int ph_srv_drain_init(ph_server *srv);
void ph_srv_drain_begin(ph_server *srv, uint64_t window_ms);
void ph_srv_drain_halt(ph_server *srv);

/* ---- server_hb.c ------------------------------------------------------ */

void ph_srv_hb_alive(ph_server *srv, ph_conn *c);
void ph_srv_hb_stop(ph_server *srv, ph_conn *c);
int ph_srv_hb_writeable(ph_server *srv, ph_conn *c);
void ph_srv_hb_tick(ph_server *srv);

/* ---- server_http.c ---------------------------------------------------- */

int ph_srv_http_request(ph_server *srv, struct lws *wsi, ph_conn *c,
                        const char *path);
int ph_srv_http_writeable(struct lws *wsi, ph_conn *c);

#endif /* PH_SERVER_INT_H */
