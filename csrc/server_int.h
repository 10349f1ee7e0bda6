/*
 * server_int.h: the sidecar server's internals, shared by its files and
 * by nothing else (the public API is server.h).
 *
 *   server.c         configuration, lifetime (new/run/stop/free), timers
 *   server_listen.c  our SO_REUSEPORT listening socket, adopted into lws
 *   server_redis.c   the two hiredis links, the BZPOPMIN receive loop,
 *                    group registration in Redis
 *   server_conn.c    the lws protocol callback: connection lifecycle,
 *                    authentication, client messages, fan-out
 *   server_http.c    /healthz and /metrics
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
#include "server.h"

#define PH_RANDOM_PREFIX_LEN 12       /* channels_redis random_prefix_length */
#define PH_ACCEPTS_PER_WAKE 64        /* fairness for the listener */
#define PH_REDIS_BACKOFF_MIN_MS 100
#define PH_REDIS_BACKOFF_MAX_MS 5000
#define PH_KEY_MAX 256
#define PH_TICK_MS 1000
#define PH_HB_TICK_MS 250              /* heartbeat deadline resolution */
#define PH_STOP_POLL_MS 50
#define PH_REPLY_MAX 1024              /* pong/error replies */
#define PH_PENDING_MAX 16              /* messages held before the welcome */
#define PH_MSG_BUSY "The server cannot take messages now; try again."
#define PH_CLOSE_WAIT_S 3              /* max wait to send a close frame */

/* Fan-out latency histogram bounds in milliseconds (+Inf implied). */
#define PH_LAT_NB 12
extern const double ph_srv_lat_bounds_ms[PH_LAT_NB];

/*
 * Sends to the inbound channel follow channels_redis' send(): drop expired
 * members, check capacity, ZADD, EXPIRE. One EVAL keeps the capacity check
 * and the add atomic without a round trip per step.
 */
static const char ph_send_lua[] =
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[4])\n"
    "if redis.call('ZCOUNT', KEYS[1], '-inf', '+inf') < tonumber(ARGV[3]) then\n"
    "  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

typedef enum srv_phase {
    SRV_NEW = 0,
    SRV_RUNNING,
    SRV_STOPPING,
    SRV_DONE
} srv_phase;

typedef enum rlink_kind {
    RLINK_CMD = 0,
    RLINK_RX = 1
} rlink_kind;

/* One hiredis async connection with its own reconnect timer. */
typedef struct rlink {
    struct ph_server *srv;
    rlink_kind kind;
    redisAsyncContext *ac;       /* NULL while down */
    int up;                      /* connected (and SELECTed) */
    int ever_up;
    unsigned backoff_ms;
    uv_timer_t retry;
} rlink;

typedef struct srv_counters {
    _Atomic uint64_t connections, connections_total;
    _Atomic uint64_t messages_in, bytes_in, messages_out, bytes_out;
    _Atomic uint64_t broadcasts, slow_consumer_closes;
    _Atomic uint64_t redis_reconnects, redis_undelivered, inbound_forwarded;
    _Atomic uint64_t decode_errors, unhandled;
    _Atomic int redis_up;
    /* Loop-thread only (read by /metrics on the loop thread). */
    uint64_t lat_buckets[PH_LAT_NB + 1];
    double lat_sum_s;
    uint64_t lat_count;
} srv_counters;

struct ph_server {
    ph_server_config cfg;        /* strings point into owned copies */
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

    pthread_mutex_t lock;        /* guards stop_requested and closed */
    int stop_requested;
    int closed;                  /* wake handle gone: never uv_async_send */

    srv_phase phase;
    int torn_down;

    rlink links[2];
    int need_resync;             /* send session.state after a reconnect */

    char client_prefix[33];      /* uuid4 hex, like channels_redis */
    char chan_prefix[64];        /* "specific.<prefix>!" */
    char rx_key[PH_KEY_MAX];     /* "<prefix>specific.<client_prefix>!" */
    char inbound_key[PH_KEY_MAX];

    ph_fanout fan;
    ph_hb hb;                    /* heartbeat deadlines (server_hb.c) */
    uint64_t next_serial;
    uint64_t rng;                /* splitmix64 state for random prefixes */

    srv_counters st;
    ph_log *log;
    uint64_t nofile_limit;       /* RLIMIT_NOFILE soft limit after raising */
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

/* ---- server_redis.c --------------------------------------------------- */

void ph_srv_redis_open(rlink *l);
void ph_srv_redis_command(ph_server *srv, redisCallbackFn *fn, void *priv,
                          int argc, const char **argv, const size_t *lens);
void ph_srv_redis_group_add(ph_server *srv, const char *group);
void ph_srv_redis_group_del(ph_server *srv, const char *group);
void ph_srv_redis_reregister(ph_server *srv, int resync);
void ph_srv_state_key(const ph_server *srv, const char *code, char *out,
                      size_t outlen);

/* ---- server_conn.c ---------------------------------------------------- */

int ph_srv_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);
void ph_srv_conn_close(ph_server *srv, ph_conn *c, int code);
void ph_srv_conn_send(ph_server *srv, ph_conn *c, ph_frame *f);
void ph_srv_dispatch(ph_server *srv, const unsigned char *p, size_t len);

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
