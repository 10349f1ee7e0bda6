/*
 * server.c: the sidecar's event loop, WebSocket protocol, Redis links and
 * HTTP endpoints. See server.h for the threading contract.
 *
 * Layout of this file:
 *   configuration and lifetime (new / run / stop / free / teardown)
 *   listener (own SO_REUSEPORT socket, adopted into lws)
 *   Redis links (connect, backoff, BZPOPMIN loop, group registration)
 *   connection protocol (auth, welcome, fan-out, inbound forward, close)
 *   HTTP endpoints (/healthz, /metrics)
 */
#define _GNU_SOURCE 1

#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <libwebsockets.h>
#include <uv.h>

#include "conn.h"
#include "conn_auth.h"
#include "fanout.h"
#include "fanout_mp.h"
#include "uvredis.h"
#include "wsparse.h"

#define PH_RANDOM_PREFIX_LEN 12       /* channels_redis random_prefix_length */
#define PH_ACCEPTS_PER_WAKE 64        /* fairness for the listener */
#define PH_REDIS_BACKOFF_MIN_MS 100
#define PH_REDIS_BACKOFF_MAX_MS 5000
#define PH_KEY_MAX 256
#define PH_TICK_MS 1000
#define PH_STOP_POLL_MS 50
#define PH_REPLY_MAX 1024              /* pong/error replies */
#define PH_CLOSE_WAIT_S 3              /* max wait to send a close frame */

/* Fan-out latency histogram bounds in milliseconds (+Inf implied). */
static const double ph_lat_bounds_ms[] = {
    0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500
};
#define PH_LAT_NB (sizeof(ph_lat_bounds_ms) / sizeof(ph_lat_bounds_ms[0]))

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
    uv_timer_t stop_timer;
    int handles_ready;
    uint64_t stop_deadline_ms;
    uint64_t next_refresh_ms;

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
    uint64_t next_serial;
    uint64_t rng;                /* splitmix64 state for random prefixes */

    srv_counters st;
    ph_log *log;
};

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double
wall_time(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
rng_next(ph_server *srv)
{
    uint64_t z = (srv->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void
rng_bytes(ph_server *srv, unsigned char *out, size_t n)
{
    while (n > 0) {
        uint64_t v = rng_next(srv);
        size_t k = n < 8 ? n : 8;

        memcpy(out, &v, k);
        out += k;
        n -= k;
    }
}

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
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

/* Keep an owned copy of *field (NULL stays NULL). */
static int
own_string(ph_server *srv, const char **field)
{
    char *copy;

    if (*field == NULL) {
        return 0;
    }
    if (srv->nstrings == sizeof(srv->strings) / sizeof(srv->strings[0])) {
        return -1;
    }
    copy = strdup(*field);
    if (copy == NULL) {
        return -1;
    }
    srv->strings[srv->nstrings++] = copy;
    *field = copy;
    return 0;
}

/* Release a frame reference; broadcast frames feed the latency histogram. */
static void
frame_release(void *arg, ph_frame *f)
{
    ph_server *srv = arg;
    uint64_t t0 = f->t0_ns;

    if (ph_frame_decref(f) == 0 && t0 != 0) {
        double ms = (double)(now_ns() - t0) / 1e6;
        size_t i;

        for (i = 0; i < PH_LAT_NB && ms > ph_lat_bounds_ms[i]; i++) {
        }
        srv->st.lat_buckets[i]++;
        srv->st.lat_sum_s += ms / 1000.0;
        srv->st.lat_count++;
    }
}

/* The server of a hiredis context (ac->data is its rlink). */
static inline ph_server *
link_srv(const redisAsyncContext *ac)
{
    return ((const rlink *)ac->data)->srv;
}

/* ------------------------------------------------------------------ */
/* connection helpers                                                   */

static void rlink_command(ph_server *srv, redisCallbackFn *fn, void *priv,
                          int argc, const char **argv, const size_t *lens);

/*
 * Close c asynchronously with code: the queue is dropped and the close
 * frame goes out from the next WRITEABLE (closing from WRITEABLE by
 * returning -1 loses the close frame in this lws build; see
 * docs/architecture-sidecar-notes.md).
 */
static void
conn_close_async(ph_server *srv, ph_conn *c, int code)
{
    if (c->state == PH_CONN_CLOSING) {
        return;
    }
    c->state = PH_CONN_CLOSING;
    c->close_code = code;
    ph_outq_clear(&c->q, frame_release, srv);
    /*
     * A peer whose receive window is full never becomes writeable: if the
     * close frame cannot go out within PH_CLOSE_WAIT_S, lws drops the link.
     */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, PH_CLOSE_WAIT_S);
    lws_callback_on_writable(c->wsi);
}

/*
 * Queue f for c and ask for WRITEABLE. Breaching the queue limits closes
 * c with 1008 (slow consumer) without touching anyone else.
 */
static void
conn_send(ph_server *srv, ph_conn *c, ph_frame *f)
{
    ph_outq_status rc;

    if (c->state == PH_CONN_CLOSING) {
        return;
    }
    rc = ph_outq_push(&c->q, f, &srv->cfg.out_limits, now_ms());
    if (rc == PH_OUTQ_OK) {
        if (c->state == PH_CONN_READY) {
            lws_callback_on_writable(c->wsi);
        }
        return;
    }
    if (rc == PH_OUTQ_NOMEM) {
        ph_logf(srv->log, PH_LOG_ERROR, "out of memory queueing for %s", c->id);
        conn_close_async(srv, c, 1011);
        return;
    }
    cnt_add(&srv->st.slow_consumer_closes, 1);
    ph_logf(srv->log, PH_LOG_WARNING,
            "slow consumer %s (session %s): %zu messages, %zu bytes queued "
            "(%s limit); closing 1008",
            c->id, c->code, c->q.count, c->q.bytes,
            rc == PH_OUTQ_HARD ? "hard" : "soft");
    conn_close_async(srv, c, 1008);
}

/* Queue a copy of text[0..len) for c alone. */
static void
conn_send_text(ph_server *srv, ph_conn *c, const char *text, size_t len)
{
    ph_frame *f = ph_frame_new(text, len);

    if (f == NULL) {
        conn_close_async(srv, c, 1011);
        return;
    }
    conn_send(srv, c, f);
    frame_release(srv, f);
}

static void
group_key(const ph_server *srv, const char *group, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s:group:%s", srv->cfg.prefix, group);
}

static void
group_channel(const ph_server *srv, const char *group, char *out,
              size_t outlen)
{
    snprintf(out, outlen, "%sg.%s", srv->chan_prefix, group);
}

/* ZADD the local channel of group to its Redis group set, then EXPIRE. */
static void
redis_group_add(ph_server *srv, const char *group)
{
    char key[PH_KEY_MAX], member[PH_KEY_MAX], score[32], exp[16];
    const char *argv[4];
    size_t lens[4];
    int i;

    group_key(srv, group, key, sizeof(key));
    group_channel(srv, group, member, sizeof(member));
    snprintf(score, sizeof(score), "%.6f", wall_time());
    snprintf(exp, sizeof(exp), "%d", srv->cfg.group_expiry);
    argv[0] = "ZADD"; argv[1] = key; argv[2] = score; argv[3] = member;
    for (i = 0; i < 4; i++) {
        lens[i] = strlen(argv[i]);
    }
    rlink_command(srv, NULL, NULL, 4, argv, lens);
    argv[0] = "EXPIRE"; argv[2] = exp;
    for (i = 0; i < 3; i++) {
        lens[i] = strlen(argv[i]);
    }
    rlink_command(srv, NULL, NULL, 3, argv, lens);
}

static void
redis_group_del(ph_server *srv, const char *group)
{
    char key[PH_KEY_MAX], member[PH_KEY_MAX];
    const char *argv[3];
    size_t lens[3];
    int i;

    group_key(srv, group, key, sizeof(key));
    group_channel(srv, group, member, sizeof(member));
    argv[0] = "ZREM"; argv[1] = key; argv[2] = member;
    for (i = 0; i < 3; i++) {
        lens[i] = strlen(argv[i]);
    }
    rlink_command(srv, NULL, NULL, 3, argv, lens);
}

/* Leave every group; withdraw from Redis the groups that became empty. */
static void
conn_leave_groups(ph_server *srv, ph_conn *c)
{
    char name[PH_GROUP_NAME_MAX];
    int i;

    for (i = 0; i < PH_CONN_GROUPS; i++) {
        if (ph_fanout_leave(&srv->fan, c, i, name) == 1
            && srv->phase == SRV_RUNNING) {
            redis_group_del(srv, name);
        }
    }
}

/* Join group in slot; register in Redis when it is new locally. */
static int
conn_join(ph_server *srv, ph_conn *c, int slot, const char *group)
{
    int first = 0;

    if (ph_fanout_join(&srv->fan, c, slot, group, &first) < 0) {
        return -1;
    }
    if (first) {
        redis_group_add(srv, group);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* authentication: HMGET session hash, then GET state                  */

static void
state_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    ph_server *srv = link_srv(ac);
    redisReply *reply = r;
    ph_conn *c = ph_fanout_conn(&srv->fan, (uint64_t)(uintptr_t)priv);
    char buf[512];
    ph_frame *f;
    int n;

    if (c == NULL || c->state != PH_CONN_AUTHING) {
        return;
    }
    if (reply == NULL) {
        conn_close_async(srv, c, 1013);
        return;
    }
    /* Welcome first, then the state snapshot, then anything queued since. */
    if (reply->type == REDIS_REPLY_STRING && reply->len > 0) {
        f = ph_frame_new(reply->str, reply->len);
        if (f == NULL || ph_outq_push_front(&c->q, f) != PH_OUTQ_OK) {
            if (f != NULL) {
                frame_release(srv, f);
            }
            conn_close_async(srv, c, 1011);
            return;
        }
        frame_release(srv, f);
    }
    n = ph_ws_welcome(buf, sizeof(buf), c->id, srv->cfg.server_version,
                      c->code, c->role == PH_ROLE_HOST ? "host" : "player",
                      c->player_id);
    f = n < 0 ? NULL : ph_frame_new(buf, (size_t)n);
    if (f == NULL || ph_outq_push_front(&c->q, f) != PH_OUTQ_OK) {
        if (f != NULL) {
            frame_release(srv, f);
        }
        conn_close_async(srv, c, 1011);
        return;
    }
    frame_release(srv, f);
    c->state = PH_CONN_READY;
    lws_callback_on_writable(c->wsi);
}

static void
state_key(const ph_server *srv, const char *code, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s", srv->cfg.state_key_prefix, code);
}

/* Parse a decimal player id; -1 when it is not one. */
static int64_t
parse_player_id(const char *s, size_t len)
{
    int64_t v = 0;
    size_t i;

    if (len == 0 || len > 18) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static void
auth_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    ph_server *srv = link_srv(ac);
    redisReply *reply = r;
    ph_conn *c = ph_fanout_conn(&srv->fan, (uint64_t)(uintptr_t)priv);
    redisReply *host, *player;
    char digest[PH_SHA256_HEX_LEN + 1], group[PH_GROUP_NAME_MAX];
    char key[PH_KEY_MAX];
    const char *argv[2];
    size_t lens[2];

    if (c == NULL || c->state != PH_CONN_AUTHING) {
        return;
    }
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2) {
        ph_logf(srv->log, PH_LOG_WARNING, "session lookup failed for %s",
                c->code);
        conn_close_async(srv, c, 1013);
        return;
    }
    host = reply->element[0];
    player = reply->element[1];
    if (host->type != REDIS_REPLY_STRING) {
        conn_close_async(srv, c, 4004);      /* no such session */
        return;
    }
    if (c->role == PH_ROLE_HOST) {
        ph_sha256_hex(c->token, digest);
        if (!ph_ct_equal(digest, PH_SHA256_HEX_LEN, host->str,
                         (size_t)host->len)) {
            conn_close_async(srv, c, 4003);
            return;
        }
        c->player_id = -1;
    }
    else {
        if (player->type != REDIS_REPLY_STRING
            || (c->player_id = parse_player_id(player->str,
                                               (size_t)player->len)) < 0) {
            conn_close_async(srv, c, 4003);
            return;
        }
    }
    memset(c->token, 0, sizeof(c->token));
    snprintf(group, sizeof(group), "game_%s", c->code);
    if (conn_join(srv, c, 0, group) < 0) {
        conn_close_async(srv, c, 1011);
        return;
    }
    if (c->role == PH_ROLE_PLAYER) {
        snprintf(group, sizeof(group), "player_%s_%lld", c->code,
                 (long long)c->player_id);
        if (conn_join(srv, c, 1, group) < 0) {
            conn_close_async(srv, c, 1011);
            return;
        }
    }
    /* Joined before reading the snapshot, so no event falls in between. */
    state_key(srv, c->code, key, sizeof(key));
    argv[0] = "GET"; argv[1] = key;
    lens[0] = 3; lens[1] = strlen(key);
    rlink_command(srv, state_reply_cb, (void *)(uintptr_t)c->serial, 2, argv,
                  lens);
}

/* Start the Redis lookups for a freshly opened socket. */
static void
conn_start_auth(ph_server *srv, ph_conn *c)
{
    char key[PH_KEY_MAX], field[2 + PH_SHA256_HEX_LEN + 1];
    char digest[PH_SHA256_HEX_LEN + 1];
    const char *argv[4];
    size_t lens[4];
    int i;

    c->state = PH_CONN_AUTHING;
    snprintf(key, sizeof(key), "%s%s", srv->cfg.session_key_prefix, c->code);
    ph_sha256_hex(c->token, digest);
    snprintf(field, sizeof(field), "p:%s", digest);
    argv[0] = "HMGET"; argv[1] = key; argv[2] = "host"; argv[3] = field;
    for (i = 0; i < 4; i++) {
        lens[i] = strlen(argv[i]);
    }
    rlink_command(srv, auth_reply_cb, (void *)(uintptr_t)c->serial, 4, argv,
                  lens);
}

/* ------------------------------------------------------------------ */
/* inbound: client -> Django through channels_redis                     */

static void
inbound_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    ph_server *srv = link_srv(ac);
    redisReply *reply = r;
    ph_conn *c;

    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER
        && reply->integer == 1) {
        cnt_add(&srv->st.inbound_forwarded, 1);
        return;
    }
    cnt_add(&srv->st.redis_undelivered, 1);
    c = ph_fanout_conn(&srv->fan, (uint64_t)(uintptr_t)priv);
    if (c != NULL && c->state == PH_CONN_READY) {
        char buf[256];
        int n = ph_ws_error(buf, sizeof(buf), "SERVER_BUSY",
                            reply == NULL ? "Message could not be delivered"
                                          : "Server is busy; try again");

        if (n > 0) {
            conn_send_text(srv, c, buf, (size_t)n);
        }
    }
}

/* Send the client's raw text to the inbound channel. */
static void
conn_forward(ph_server *srv, ph_conn *c, const char *text, size_t len)
{
    unsigned char *mem;
    size_t cap = PH_RANDOM_PREFIX_LEN + len + 512;
    ph_mp_buf b;
    char chan[128], score[32], cap_s[16], cutoff[32], exp[16];
    const char *argv[9];
    size_t lens[9];
    int i;

    mem = malloc(cap);
    if (mem == NULL) {
        cnt_add(&srv->st.redis_undelivered, 1);
        return;
    }
    rng_bytes(srv, mem, PH_RANDOM_PREFIX_LEN);
    ph_mp_buf_init(&b, mem + PH_RANDOM_PREFIX_LEN, cap - PH_RANDOM_PREFIX_LEN);
    snprintf(chan, sizeof(chan), "%sc.%s", srv->chan_prefix, c->id);
    ph_mp_put_map(&b, 6);
    ph_mp_put_cstr(&b, "type");
    ph_mp_put_cstr(&b, "client.message");
    ph_mp_put_cstr(&b, "session");
    ph_mp_put_cstr(&b, c->code);
    ph_mp_put_cstr(&b, "player_id");
    if (c->player_id >= 0) {
        ph_mp_put_int(&b, c->player_id);
    }
    else {
        ph_mp_put_nil(&b);
    }
    ph_mp_put_cstr(&b, "role");
    ph_mp_put_cstr(&b, c->role == PH_ROLE_HOST ? "host" : "player");
    ph_mp_put_cstr(&b, "reply_channel");
    ph_mp_put_cstr(&b, chan);
    ph_mp_put_cstr(&b, "text");
    ph_mp_put_str(&b, text, len);
    if (b.overflow) {
        free(mem);
        cnt_add(&srv->st.redis_undelivered, 1);
        return;
    }
    snprintf(score, sizeof(score), "%.6f", wall_time());
    snprintf(cap_s, sizeof(cap_s), "%d", srv->cfg.capacity);
    snprintf(cutoff, sizeof(cutoff), "%lld",
             (long long)wall_time() - srv->cfg.expiry);
    snprintf(exp, sizeof(exp), "%d", srv->cfg.expiry);
    argv[0] = "EVAL"; argv[1] = ph_send_lua; argv[2] = "1";
    argv[3] = srv->inbound_key; argv[4] = score; argv[5] = (char *)mem;
    argv[6] = cap_s; argv[7] = cutoff; argv[8] = exp;
    for (i = 0; i < 9; i++) {
        /* argv[5] is binary (random bytes + msgpack): never strlen it. */
        lens[i] = i == 5 ? PH_RANDOM_PREFIX_LEN + b.len : strlen(argv[i]);
    }
    rlink_command(srv, inbound_reply_cb, (void *)(uintptr_t)c->serial, 9, argv,
                  lens);
    free(mem);
}

/* Handle one complete client text message. */
static void
conn_on_message(ph_server *srv, ph_conn *c, const char *text, size_t len)
{
    char reply[PH_REPLY_MAX];
    int kind;

    cnt_add(&srv->st.messages_in, 1);
    cnt_add(&srv->st.bytes_in, len);
    lws_validity_confirmed(c->wsi);   /* data counts as liveness too */
    kind = ph_ws_client_message(text, len, srv->cfg.client_types, reply,
                                sizeof(reply));
    if (kind == PH_CLIENT_FORWARD) {
        if (c->state != PH_CONN_READY) {
            int n = ph_ws_error(reply, sizeof(reply), "NOT_READY",
                                "Wait for the welcome message");

            if (n > 0) {
                conn_send_text(srv, c, reply, (size_t)n);
            }
            return;
        }
        if (!srv->links[RLINK_CMD].up) {
            int n = ph_ws_error(reply, sizeof(reply), "SERVER_BUSY",
                                "Message could not be delivered");

            cnt_add(&srv->st.redis_undelivered, 1);
            if (n > 0) {
                conn_send_text(srv, c, reply, (size_t)n);
            }
            return;
        }
        conn_forward(srv, c, text, len);
        return;
    }
    if (kind < 0) {
        int n = ph_ws_error(reply, sizeof(reply), "INVALID_MESSAGE",
                            "Message could not be processed");

        if (n < 0) {
            return;
        }
        conn_send_text(srv, c, reply, (size_t)n);
        return;
    }
    conn_send_text(srv, c, reply, strlen(reply));
}

/* ------------------------------------------------------------------ */
/* outbound: channels_redis -> sockets                                  */

/* Deliver msg to one connection (frame shared, built lazily by caller). */
static void
deliver_to_conn(ph_server *srv, ph_conn *c, const ph_mp_msg *msg,
                ph_frame *f)
{
    if (c->state == PH_CONN_CLOSING || c->state == PH_CONN_NEW) {
        return;
    }
    if (f == NULL) {
        int code = msg->has_code ? (int)msg->code : 1000;

        if (code < 1000 || code > 4999) {
            code = 1000;
        }
        conn_close_async(srv, c, code);
        return;
    }
    conn_send(srv, c, f);
}

static int
mp_str_eq(const ph_mp_str *s, const char *lit)
{
    size_t n = strlen(lit);

    return s->p != NULL && s->len == n && memcmp(s->p, lit, n) == 0;
}

/* Dispatch one message popped from our channels_redis key. */
static void
dispatch_member(ph_server *srv, const unsigned char *p, size_t len)
{
    ph_mp_msg *msg;
    ph_frame *f = NULL;
    size_t plen = strlen(srv->chan_prefix), i;

    if (len < PH_RANDOM_PREFIX_LEN) {
        cnt_add(&srv->st.decode_errors, 1);
        return;
    }
    msg = malloc(sizeof(*msg));
    if (msg == NULL) {
        return;
    }
    if (ph_mp_decode_msg(p + PH_RANDOM_PREFIX_LEN, len - PH_RANDOM_PREFIX_LEN,
                         msg) < 0) {
        cnt_add(&srv->st.decode_errors, 1);
        ph_logf(srv->log, PH_LOG_WARNING,
                "undecodable channel-layer message (%zu bytes)", len);
        goto done;
    }
    cnt_add(&srv->st.broadcasts, 1);
    if (!mp_str_eq(&msg->type, "websocket.close")) {
        if (msg->text.p == NULL) {
            cnt_add(&srv->st.unhandled, 1);
            ph_logf(srv->log, PH_LOG_DEBUG, "message without text ignored");
            goto done;
        }
        /* Encoded once; every recipient's queue shares this frame. */
        f = ph_frame_new(msg->text.p, msg->text.len);
        if (f == NULL) {
            goto done;
        }
        f->t0_ns = now_ns();
        f->flags |= PH_FRAME_BROADCAST;
    }
    for (i = 0; i < msg->nchannels; i++) {
        const ph_mp_str *ch = &msg->channels[i];
        const char *suffix;
        size_t slen;

        if (ch->len <= plen + 2 || memcmp(ch->p, srv->chan_prefix, plen) != 0) {
            continue;                  /* not ours */
        }
        suffix = ch->p + plen + 2;
        slen = ch->len - plen - 2;
        if (ch->p[plen] == 'g' && ch->p[plen + 1] == '.') {
            ph_group *g = ph_fanout_group(&srv->fan, suffix, slen);
            size_t k;

            for (k = 0; g != NULL && k < g->n; k++) {
                deliver_to_conn(srv, g->members[k], msg, f);
            }
        }
        else if (ch->p[plen] == 'c' && ch->p[plen + 1] == '.'
                 && slen == PH_CONN_ID_LEN) {
            char hex[17];
            uint64_t serial;
            ph_conn *c;

            memcpy(hex, suffix, 16);
            hex[16] = '\0';
            serial = strtoull(hex, NULL, 16);
            c = ph_fanout_conn(&srv->fan, serial);
            if (c != NULL && memcmp(c->id, suffix, PH_CONN_ID_LEN) == 0) {
                deliver_to_conn(srv, c, msg, f);
            }
        }
    }
done:
    if (f != NULL) {
        frame_release(srv, f);
    }
    free(msg);
}

/* ------------------------------------------------------------------ */
/* Redis links                                                          */

static void rlink_schedule(rlink *l);
static void rx_receive(ph_server *srv);

static void
rlink_command(ph_server *srv, redisCallbackFn *fn, void *priv, int argc,
              const char **argv, const size_t *lens)
{
    rlink *l = &srv->links[RLINK_CMD];

    if (l->ac == NULL || !l->up
        || redisAsyncCommandArgv(l->ac, fn, priv, argc, argv, lens)
               != REDIS_OK) {
        /* hiredis owes no callback here: run it with "no reply". */
        if (fn != NULL && l->ac != NULL) {
            fn(l->ac, NULL, priv);
        }
        else if (fn != NULL) {
            redisAsyncContext fake;

            memset(&fake, 0, sizeof(fake));
            fake.data = l;
            fn(&fake, NULL, priv);
        }
    }
}

static void
update_redis_up(ph_server *srv)
{
    atomic_store_explicit(&srv->st.redis_up,
                          srv->links[0].up && srv->links[1].up,
                          memory_order_relaxed);
}

/* Send every local socket of group the current session.state. */
static void
resync_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    ph_server *srv = link_srv(ac);
    redisReply *reply = r;
    char *group = priv;
    ph_group *g;
    ph_frame *f;
    size_t i;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        free(group);
        return;
    }
    g = ph_fanout_group(&srv->fan, group, strlen(group));
    free(group);
    if (g == NULL) {
        return;
    }
    f = ph_frame_new(reply->str, reply->len);
    if (f == NULL) {
        return;
    }
    for (i = 0; i < g->n; i++) {
        if (g->members[i]->state == PH_CONN_READY) {
            conn_send(srv, g->members[i], f);
        }
    }
    frame_release(srv, f);
}

/*
 * After (re)connecting the command link: re-add every local group (Redis
 * may have lost them) and, after a reconnect, resend session state.
 */
static void
redis_reregister(ph_server *srv, int resync)
{
    ph_group *g, *tmp;

    HASH_ITER(hh, srv->fan.groups, g, tmp) {
        redis_group_add(srv, g->name);
        if (resync && strncmp(g->name, "game_", 5) == 0) {
            char key[PH_KEY_MAX];
            const char *argv[2];
            size_t lens[2];
            char *name = strdup(g->name);

            if (name == NULL) {
                continue;
            }
            state_key(srv, g->name + 5, key, sizeof(key));
            argv[0] = "GET"; argv[1] = key;
            lens[0] = 3; lens[1] = strlen(key);
            rlink_command(srv, resync_reply_cb, name, 2, argv, lens);
        }
    }
}

static void
rlink_connect_cb(const redisAsyncContext *ac, int status)
{
    rlink *l = ac->data;
    ph_server *srv = l->srv;

    if (status != REDIS_OK) {
        /* hiredis frees ac after this callback. */
        ph_logf(srv->log, PH_LOG_WARNING, "redis %s link: connect failed: %s",
                l->kind == RLINK_CMD ? "command" : "receive", ac->errstr);
        l->ac = NULL;
        l->up = 0;
        update_redis_up(srv);
        rlink_schedule(l);
        return;
    }
    if (srv->cfg.redis_db != 0) {
        char db[16];

        snprintf(db, sizeof(db), "%d", srv->cfg.redis_db);
        redisAsyncCommand(l->ac, NULL, NULL, "SELECT %s", db);
    }
    l->up = 1;
    l->backoff_ms = 0;
    if (l->ever_up) {
        cnt_add(&srv->st.redis_reconnects, 1);
    }
    ph_logf(srv->log, PH_LOG_INFO, "redis %s link up%s",
            l->kind == RLINK_CMD ? "command" : "receive",
            l->ever_up ? " (reconnected)" : "");
    update_redis_up(srv);
    if (l->kind == RLINK_CMD) {
        redis_reregister(srv, l->ever_up || srv->need_resync);
        srv->need_resync = 0;
    }
    else {
        rx_receive(srv);
    }
    l->ever_up = 1;
}

static void
rlink_disconnect_cb(const redisAsyncContext *ac, int status)
{
    rlink *l = ac->data;
    ph_server *srv = l->srv;

    l->ac = NULL;
    l->up = 0;
    update_redis_up(srv);
    if (srv->phase != SRV_RUNNING) {
        return;
    }
    ph_logf(srv->log, PH_LOG_WARNING, "redis %s link lost (%s); reconnecting",
            l->kind == RLINK_CMD ? "command" : "receive",
            status == REDIS_OK ? "closed" : ac->errstr);
    if (l->kind == RLINK_CMD) {
        srv->need_resync = 1;
    }
    rlink_schedule(l);
}

/* Open l's connection now; on immediate failure schedule a retry. */
static void
rlink_open(rlink *l)
{
    ph_server *srv = l->srv;
    redisAsyncContext *ac;

    if (srv->phase != SRV_RUNNING || l->ac != NULL) {
        return;
    }
    ac = redisAsyncConnect(srv->cfg.redis_host, srv->cfg.redis_port);
    if (ac == NULL || ac->err) {
        ph_logf(srv->log, PH_LOG_WARNING, "redis connect: %s",
                ac ? ac->errstr : "out of memory");
        if (ac != NULL) {
            redisAsyncFree(ac);
        }
        rlink_schedule(l);
        return;
    }
    ac->data = l;                      /* callbacks find their link, then srv */
    if (ph_uvredis_attach(ac, &srv->loop) < 0) {
        redisAsyncFree(ac);
        rlink_schedule(l);
        return;
    }
    l->ac = ac;
    redisAsyncSetConnectCallback(ac, rlink_connect_cb);
    redisAsyncSetDisconnectCallback(ac, rlink_disconnect_cb);
}

static void
rlink_retry_cb(uv_timer_t *t)
{
    rlink_open(t->data);
}

/* Retry with exponential backoff (100 ms doubling to 5 s). */
static void
rlink_schedule(rlink *l)
{
    if (l->srv->phase != SRV_RUNNING) {
        return;
    }
    l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : PH_REDIS_BACKOFF_MIN_MS;
    if (l->backoff_ms > PH_REDIS_BACKOFF_MAX_MS) {
        l->backoff_ms = PH_REDIS_BACKOFF_MAX_MS;
    }
    uv_timer_start(&l->retry, rlink_retry_cb, l->backoff_ms, 0);
}

static void
rx_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    ph_server *srv = link_srv(ac);
    redisReply *reply = r;

    (void)priv;
    if (reply == NULL) {
        return;                        /* link going down; reconnect re-arms */
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3
        && reply->element[1]->type == REDIS_REPLY_STRING) {
        dispatch_member(srv, (const unsigned char *)reply->element[1]->str,
                        reply->element[1]->len);
    }
    else if (reply->type == REDIS_REPLY_ERROR) {
        ph_logf(srv->log, PH_LOG_ERROR, "BZPOPMIN: %s", reply->str);
    }
    if (srv->phase == SRV_RUNNING) {
        rx_receive(srv);
    }
}

/* Issue the next blocking pop on the receive link. */
static void
rx_receive(ph_server *srv)
{
    rlink *l = &srv->links[RLINK_RX];
    char timeout[16];
    const char *argv[3];
    size_t lens[3];

    if (l->ac == NULL || !l->up) {
        return;
    }
    snprintf(timeout, sizeof(timeout), "%d", srv->cfg.receive_timeout);
    argv[0] = "BZPOPMIN"; argv[1] = srv->rx_key; argv[2] = timeout;
    lens[0] = 8; lens[1] = strlen(srv->rx_key); lens[2] = strlen(timeout);
    redisAsyncCommandArgv(l->ac, rx_reply_cb, NULL, 3, argv, lens);
}

/* ------------------------------------------------------------------ */
/* HTTP endpoints                                                       */

/* Append formatted text to a growing buffer; -1 on overflow. */
static int
buf_appendf(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*pos >= cap) {
        return -1;
    }
    va_start(ap, fmt);
    n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *pos) {
        *pos = cap;
        return -1;
    }
    *pos += (size_t)n;
    return 0;
}

static int
render_healthz(ph_server *srv, char *buf, size_t cap, size_t *pos)
{
    return buf_appendf(buf, cap, pos,
                       "{\"status\":\"%s\",\"connections\":%llu,"
                       "\"redis\":\"%s\",\"stopping\":%s}\n",
                       srv->phase == SRV_RUNNING ? "ok" : "stopping",
                       (unsigned long long)srv->fan.nconns,
                       atomic_load(&srv->st.redis_up) ? "up" : "down",
                       srv->phase == SRV_RUNNING ? "false" : "true");
}

static int
render_metrics(ph_server *srv, char *buf, size_t cap, size_t *pos)
{
    srv_counters *s = &srv->st;
    struct { const char *name, *type, *help; uint64_t v; } m[] = {
        { "partyhub_sidecar_connections", "gauge", "Open WebSocket connections",
          srv->fan.nconns },
        { "partyhub_sidecar_connections_total", "counter",
          "WebSocket connections accepted", cnt_get(&s->connections_total) },
        { "partyhub_sidecar_messages_in_total", "counter",
          "Client messages received", cnt_get(&s->messages_in) },
        { "partyhub_sidecar_bytes_in_total", "counter",
          "Client message bytes received", cnt_get(&s->bytes_in) },
        { "partyhub_sidecar_messages_out_total", "counter",
          "Frames written to sockets", cnt_get(&s->messages_out) },
        { "partyhub_sidecar_bytes_out_total", "counter",
          "Payload bytes written to sockets", cnt_get(&s->bytes_out) },
        { "partyhub_sidecar_broadcasts_total", "counter",
          "Channel-layer messages received", cnt_get(&s->broadcasts) },
        { "partyhub_sidecar_slow_consumer_closes_total", "counter",
          "Sockets closed 1008 for exceeding output limits",
          cnt_get(&s->slow_consumer_closes) },
        { "partyhub_sidecar_redis_reconnects_total", "counter",
          "Redis reconnections", cnt_get(&s->redis_reconnects) },
        { "partyhub_sidecar_redis_undelivered_total", "counter",
          "Inbound messages not stored in Redis",
          cnt_get(&s->redis_undelivered) },
        { "partyhub_sidecar_inbound_forwarded_total", "counter",
          "Inbound messages stored in Redis", cnt_get(&s->inbound_forwarded) },
        { "partyhub_sidecar_decode_errors_total", "counter",
          "Undecodable channel-layer messages", cnt_get(&s->decode_errors) },
        { "partyhub_sidecar_redis_up", "gauge", "1 when both Redis links are up",
          (uint64_t)atomic_load(&s->redis_up) },
    };
    size_t i;
    uint64_t cum = 0;

    for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        if (buf_appendf(buf, cap, pos, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n",
                        m[i].name, m[i].help, m[i].name, m[i].type, m[i].name,
                        (unsigned long long)m[i].v) < 0) {
            return -1;
        }
    }
    if (buf_appendf(buf, cap, pos,
                    "# HELP partyhub_sidecar_fanout_latency_seconds Time from "
                    "receiving a channel-layer message to its last socket "
                    "write\n# TYPE partyhub_sidecar_fanout_latency_seconds "
                    "histogram\n") < 0) {
        return -1;
    }
    for (i = 0; i <= PH_LAT_NB; i++) {
        cum += s->lat_buckets[i];
        if (i < PH_LAT_NB) {
            if (buf_appendf(buf, cap, pos,
                            "partyhub_sidecar_fanout_latency_seconds_bucket"
                            "{le=\"%g\"} %llu\n", ph_lat_bounds_ms[i] / 1000.0,
                            (unsigned long long)cum) < 0) {
                return -1;
            }
        }
        else if (buf_appendf(buf, cap, pos,
                             "partyhub_sidecar_fanout_latency_seconds_bucket"
                             "{le=\"+Inf\"} %llu\n",
                             (unsigned long long)cum) < 0) {
            return -1;
        }
    }
    return buf_appendf(buf, cap, pos,
                       "partyhub_sidecar_fanout_latency_seconds_sum %.6f\n"
                       "partyhub_sidecar_fanout_latency_seconds_count %llu\n",
                       s->lat_sum_s, (unsigned long long)s->lat_count);
}

/* Answer GET /healthz or /metrics; anything else 404. Returns lws' rc. */
static int
http_request(ph_server *srv, struct lws *wsi, ph_conn *c, const char *path)
{
    unsigned char hdr[LWS_PRE + 512];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
    const size_t cap = 16384;
    const char *ctype;
    char *body;
    size_t len = 0;
    int rc;

    if (strcmp(path, "/healthz") == 0) {
        ctype = "application/json";
    }
    else if (strcmp(path, "/metrics") == 0) {
        ctype = "text/plain; version=0.0.4";
    }
    else {
        if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL)) {
            return -1;
        }
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    free(c->http_body);
    c->http_body = malloc(PH_FRAME_HEADROOM + cap);
    if (c->http_body == NULL) {
        return -1;
    }
    body = (char *)c->http_body + PH_FRAME_HEADROOM;
    rc = ctype[0] == 'a' ? render_healthz(srv, body, cap, &len)
                         : render_metrics(srv, body, cap, &len);
    if (rc < 0) {
        return -1;
    }
    c->http_len = len;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, ctype, len, &p, end)
        || lws_finalize_write_http_header(wsi, start, &p, end)) {
        return -1;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

static int
http_writeable(struct lws *wsi, ph_conn *c)
{
    int n;

    if (c->http_body == NULL) {
        return 0;
    }
    n = lws_write(wsi, c->http_body + PH_FRAME_HEADROOM, c->http_len,
                  LWS_WRITE_HTTP_FINAL);
    free(c->http_body);
    c->http_body = NULL;
    if (n < 0) {
        return -1;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* the lws protocol callback                                            */

/* FILTER: check path and Origin, remember code, role and token. */
static int
ws_filter(ph_server *srv, struct lws *wsi, ph_conn *c)
{
    char path[128], origin[256], val[PH_TOKEN_MAX + 32];
    const char *orig = NULL, *v;
    int n;

    if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0
        || ph_ws_parse_path(path, c->code) < 0) {
        return -1;                     /* unrouted: like Channels, no accept */
    }
    n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (n > 0) {
        if (n >= (int)sizeof(origin)
            || lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0) {
            return -1;
        }
        orig = origin;
    }
    if (!ph_ws_origin_ok(orig, srv->cfg.allowed_origins)) {
        ph_logf(srv->log, PH_LOG_INFO, "origin %s refused", orig);
        return -1;
    }
    c->is_ws = 1;
    c->role = PH_ROLE_PLAYER;
    /* lws returns a pointer to the value inside val ("name=value"). */
    v = lws_get_urlarg_by_name(wsi, "role=", val, sizeof(val));
    if (v != NULL && strcmp(v, "host") == 0) {
        c->role = PH_ROLE_HOST;
    }
    c->token_ok = 0;
    v = lws_get_urlarg_by_name(wsi, "session_token=", val, sizeof(val));
    if (v != NULL && ph_ws_token_ok(v)) {
        memcpy(c->token, v, strlen(v) + 1);  /* token_ok: <= PH_TOKEN_MAX */
        c->token_ok = 1;
    }
    return 0;
}

static int
ws_established(ph_server *srv, struct lws *wsi, ph_conn *c)
{
    uint64_t r = rng_next(srv);

    c->wsi = wsi;
    c->serial = ++srv->next_serial;
    snprintf(c->id, sizeof(c->id), "%016llx%016llx",
             (unsigned long long)c->serial, (unsigned long long)r);
    ph_outq_init(&c->q);
    c->player_id = -1;
    ph_fanout_add_conn(&srv->fan, c);
    cnt_add(&srv->st.connections, 1);
    cnt_add(&srv->st.connections_total, 1);
    if (srv->phase != SRV_RUNNING) {
        lws_close_reason(wsi, 1001, (unsigned char *)"stopping", 8);
        return -1;
    }
    if (!c->token_ok) {
        lws_close_reason(wsi, 4003, (unsigned char *)"forbidden", 9);
        return -1;
    }
    if (!srv->links[RLINK_CMD].up) {
        lws_close_reason(wsi, 1013, (unsigned char *)"redis unavailable", 17);
        return -1;
    }
    conn_start_auth(srv, c);
    return 0;
}

static int
ws_receive(ph_server *srv, struct lws *wsi, ph_conn *c, const char *in,
           size_t len)
{
    int rc;

    if (lws_frame_is_binary(wsi)) {
        lws_close_reason(wsi, 1003, (unsigned char *)"binary", 6);
        return -1;
    }
    if (c->state == PH_CONN_CLOSING) {
        return 0;
    }
    if (c->rx == NULL && lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi)
        && lws_remaining_packet_payload(wsi) == 0) {
        if (len > srv->cfg.max_message) {
            lws_close_reason(wsi, 1009, (unsigned char *)"too big", 7);
            return -1;
        }
        conn_on_message(srv, c, in, len);   /* common case: no copy */
        return 0;
    }
    rc = ph_conn_rx_append(c, in, len, srv->cfg.max_message);
    if (rc == 0 && c->rx_len + lws_remaining_packet_payload(wsi)
                       > srv->cfg.max_message) {
        rc = -1;
    }
    if (rc < 0) {
        ph_conn_rx_reset(c);
        lws_close_reason(wsi, rc == -1 ? 1009 : 1011,
                         (unsigned char *)"too big", 7);
        return -1;
    }
    if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
        conn_on_message(srv, c, c->rx, c->rx_len);
        ph_conn_rx_reset(c);
    }
    return 0;
}

static int
ws_writeable(ph_server *srv, struct lws *wsi, ph_conn *c)
{
    int n = 0;
    ph_frame *f;

    if (c->state == PH_CONN_CLOSING) {
        char reason[16];

        snprintf(reason, sizeof(reason), "%d", c->close_code);
        lws_close_reason(wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)reason, strlen(reason));
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE,
                        LWS_TO_KILL_ASYNC);
        return 0;
    }
    if (c->state != PH_CONN_READY) {
        return 0;
    }
    /* Fairness: at most writes_per_turn frames, and stop when choked. */
    while ((f = ph_outq_peek(&c->q)) != NULL && n < srv->cfg.writes_per_turn) {
        if (n > 0 && lws_send_pipe_choked(wsi)) {
            break;
        }
        if (lws_write(wsi, ph_frame_payload(f), f->len, LWS_WRITE_TEXT)
            < (int)f->len) {
            return -1;
        }
        cnt_add(&srv->st.messages_out, 1);
        cnt_add(&srv->st.bytes_out, f->len);
        frame_release(srv, ph_outq_pop(&c->q, &srv->cfg.out_limits));
        n++;
    }
    if (ph_outq_peek(&c->q) != NULL) {
        lws_callback_on_writable(wsi);
    }
    return 0;
}

static void
ws_closed(ph_server *srv, ph_conn *c)
{
    if (!c->in_table) {
        return;                        /* rejected before ESTABLISHED */
    }
    conn_leave_groups(srv, c);
    ph_fanout_del_conn(&srv->fan, c);
    ph_outq_clear(&c->q, frame_release, srv);
    ph_conn_rx_reset(c);
    atomic_fetch_sub_explicit(&srv->st.connections, 1, memory_order_relaxed);
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
            void *in, size_t len)
{
    ph_server *srv = lws_context_user(lws_get_context(wsi));
    ph_conn *c = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return ws_filter(srv, wsi, c);
    case LWS_CALLBACK_ESTABLISHED:
        return ws_established(srv, wsi, c);
    case LWS_CALLBACK_RECEIVE:
        return ws_receive(srv, wsi, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ws_writeable(srv, wsi, c);
    case LWS_CALLBACK_CLOSED:
        ws_closed(srv, c);
        return 0;
    case LWS_CALLBACK_HTTP:
        return http_request(srv, wsi, c, in ? (const char *)in : "");
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return http_writeable(wsi, c);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (c != NULL) {
            free(c->http_body);
            c->http_body = NULL;
        }
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ------------------------------------------------------------------ */
/* listener                                                             */

static void
listen_cb(uv_poll_t *h, int status, int events)
{
    ph_server *srv = h->data;
    int i;

    (void)events;
    if (status < 0 || srv->phase != SRV_RUNNING) {
        return;
    }
    for (i = 0; i < PH_ACCEPTS_PER_WAKE; i++) {
        int fd = accept4(srv->listen_fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* Out of descriptors: pause until the next tick. */
                ph_logf(srv->log, PH_LOG_ERROR,
                        "accept: out of file descriptors; pausing");
                uv_poll_stop(&srv->listen_poll);
            }
            return;
        }
        if (lws_adopt_socket_vhost(srv->vh, fd) == NULL) {
            ph_logf(srv->log, PH_LOG_ERROR, "lws refused an accepted socket");
            /* lws closes the descriptor when adoption fails. */
        }
    }
}

static int
listener_open(ph_server *srv, char *err, size_t errlen)
{
    struct addrinfo hints, *ai = NULL;
    char portstr[16];
    int fd = -1, one = 1, rc;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", srv->cfg.port);
    rc = getaddrinfo(srv->cfg.host, portstr, &hints, &ai);
    if (rc != 0) {
        set_err(err, errlen, "bad listen address %s:%d: %s", srv->cfg.host,
                srv->cfg.port, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, errlen, "socket: %s", strerror(errno));
        goto error;
    }
    /* SO_REUSEPORT lets --workers N processes share the port. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        set_err(err, errlen, "setsockopt: %s", strerror(errno));
        goto error;
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        set_err(err, errlen, "cannot bind %s:%d: %s", srv->cfg.host,
                srv->cfg.port, strerror(errno));
        goto error;
    }
    if (listen(fd, srv->cfg.backlog) < 0) {
        set_err(err, errlen, "listen: %s", strerror(errno));
        goto error;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        srv->port = ss.ss_family == AF_INET6
                        ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    freeaddrinfo(ai);
    srv->listen_fd = fd;
    return 0;

error:
    if (fd >= 0) {
        close(fd);
    }
    freeaddrinfo(ai);
    return -1;
}

/* ------------------------------------------------------------------ */
/* timers, stop                                                         */

static void
close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

static void
tick_cb(uv_timer_t *t)
{
    ph_server *srv = t->data;
    uint64_t now = now_ms();

    if (srv->phase != SRV_RUNNING) {
        return;
    }
    if (srv->listen_active && !uv_is_active((uv_handle_t *)&srv->listen_poll)) {
        uv_poll_start(&srv->listen_poll, UV_READABLE, listen_cb);
    }
    /* Re-add groups well before channels_redis' group_expiry drops them. */
    if (now >= srv->next_refresh_ms) {
        srv->next_refresh_ms = now + (uint64_t)srv->cfg.group_refresh * 1000u;
        if (srv->links[RLINK_CMD].up) {
            redis_reregister(srv, 0);
        }
    }
}

static void
stop_finish(ph_server *srv)
{
    srv->phase = SRV_DONE;
    uv_stop(&srv->loop);
}

static void
stop_timer_cb(uv_timer_t *t)
{
    ph_server *srv = t->data;

    if (srv->fan.nconns == 0 || now_ms() >= srv->stop_deadline_ms) {
        stop_finish(srv);
    }
}

/* Stop accepting, close every socket 1001, withdraw groups from Redis. */
static void
stop_begin(ph_server *srv)
{
    ph_conn *c, *tmp;
    ph_group *g, *gtmp;

    if (srv->phase != SRV_RUNNING) {
        return;
    }
    ph_logf(srv->log, PH_LOG_INFO, "stopping: closing %zu connections",
            srv->fan.nconns);
    if (srv->listen_active) {
        uv_poll_stop(&srv->listen_poll);
        close_handle((uv_handle_t *)&srv->listen_poll);
        srv->listen_active = 0;
    }
    if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
    }
    HASH_ITER(hh, srv->fan.groups, g, gtmp) {
        redis_group_del(srv, g->name);
    }
    srv->phase = SRV_STOPPING;
    HASH_ITER(hh, srv->fan.conns, c, tmp) {
        conn_close_async(srv, c, 1001);
    }
    srv->stop_deadline_ms = now_ms() + (uint64_t)srv->cfg.stop_grace_ms;
    uv_timer_start(&srv->stop_timer, stop_timer_cb, 0, PH_STOP_POLL_MS);
}

static void
wake_cb(uv_async_t *a)
{
    ph_server *srv = a->data;
    int stop;

    pthread_mutex_lock(&srv->lock);
    stop = srv->stop_requested;
    pthread_mutex_unlock(&srv->lock);
    if (stop) {
        stop_begin(srv);
    }
}

void
ph_server_stop(ph_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    if (!srv->closed) {
        srv->stop_requested = 1;
        uv_async_send(&srv->wake);
    }
    pthread_mutex_unlock(&srv->lock);
}

/*
 * Tear everything down in the order that ran valgrind-clean with this lws
 * build: destroy the context once, close our handles, run the loop until
 * no handle remains, destroy the context again, close the loop.
 */
static void
server_teardown(ph_server *srv)
{
    int i;

    if (srv->torn_down) {
        return;
    }
    srv->torn_down = 1;
    pthread_mutex_lock(&srv->lock);
    srv->closed = 1;
    pthread_mutex_unlock(&srv->lock);
    srv->phase = SRV_DONE;
    if (srv->ctx != NULL) {
        lws_context_destroy(srv->ctx);
    }
    for (i = 0; i < 2; i++) {
        if (srv->links[i].ac != NULL) {
            redisAsyncContext *ac = srv->links[i].ac;

            srv->links[i].ac = NULL;
            redisAsyncFree(ac);
        }
    }
    if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
    }
    if (srv->loop_ready) {
        uv_handle_t *ours[] = {
            (uv_handle_t *)&srv->wake, (uv_handle_t *)&srv->tick,
            (uv_handle_t *)&srv->stop_timer,
            (uv_handle_t *)&srv->links[0].retry,
            (uv_handle_t *)&srv->links[1].retry,
            (uv_handle_t *)&srv->listen_poll,
        };
        size_t k;

        /* Only our own handles: lws closes its own on the loop. */
        for (k = 0; k < sizeof(ours) / sizeof(ours[0]); k++) {
            if (ours[k]->loop != NULL) {       /* initialised (srv is calloc'd) */
                close_handle(ours[k]);
            }
        }
        srv->listen_active = 0;
        while (uv_run(&srv->loop, UV_RUN_DEFAULT) != 0) {
        }
    }
    if (srv->ctx != NULL) {
        lws_context_destroy(srv->ctx);
        srv->ctx = NULL;
    }
    if (srv->loop_ready) {
        uv_run(&srv->loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&srv->loop) != 0) {
            /* A handle we do not own is still open: leak the loop's
             * internals rather than abort the process. */
            ph_logf(srv->log, PH_LOG_ERROR, "uv_loop_close: handles left open");
        }
        srv->loop_ready = 0;
    }
    ph_fanout_clear(&srv->fan);
}

int
ph_server_run(ph_server *srv)
{
    int i;

    if (srv->phase != SRV_NEW) {
        return -1;
    }
    srv->phase = SRV_RUNNING;
    for (i = 0; i < 2; i++) {
        rlink_open(&srv->links[i]);
    }
    uv_poll_start(&srv->listen_poll, UV_READABLE, listen_cb);
    uv_timer_start(&srv->tick, tick_cb, PH_TICK_MS, PH_TICK_MS);
    srv->next_refresh_ms = now_ms() + (uint64_t)srv->cfg.group_refresh * 1000u;
    ph_logf(srv->log, PH_LOG_INFO, "listening on %s:%d (client prefix %s)",
            srv->cfg.host, srv->port, srv->client_prefix);
    /* A stop requested before run started is honoured at once. */
    wake_cb(&srv->wake);
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    server_teardown(srv);
    ph_logf(srv->log, PH_LOG_INFO, "stopped");
    return 0;
}

/* ------------------------------------------------------------------ */
/* creation                                                             */

void
ph_server_config_defaults(ph_server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "0.0.0.0";
    cfg->port = 8001;
    cfg->backlog = 1024;
    cfg->redis_host = "127.0.0.1";
    cfg->redis_port = 6379;
    cfg->prefix = "asgi";
    cfg->expiry = 60;
    cfg->group_expiry = 86400;
    cfg->group_refresh = 3600;
    cfg->capacity = 100;
    cfg->receive_timeout = 5;
    cfg->session_key_prefix = "partyhub:session:";
    cfg->state_key_prefix = "partyhub:state:";
    cfg->inbound_channel = "partyhub.inbound";
    cfg->allowed_origins = NULL;
    cfg->client_types = NULL;
    cfg->server_version = "partyhub-sidecar/0.1";
    cfg->max_message = 4096;
    cfg->ping_interval = 20;
    cfg->ping_timeout = 30;
    /* Roughly Redis' pubsub class: 1 MiB hard, 256 KiB for 10 s soft. */
    cfg->out_limits.hard_bytes = 1024 * 1024;
    cfg->out_limits.hard_msgs = 4096;
    cfg->out_limits.soft_bytes = 256 * 1024;
    cfg->out_limits.soft_msgs = 1024;
    cfg->out_limits.soft_ms = 10000;
    cfg->writes_per_turn = 16;
    cfg->stop_grace_ms = 2000;
    cfg->log_level = PH_LOG_INFO;
    cfg->log_lines = 1024;
}

static int
config_check(const ph_server_config *cfg, char *err, size_t errlen)
{
    if (cfg->host == NULL || cfg->redis_host == NULL || cfg->prefix == NULL
        || cfg->session_key_prefix == NULL || cfg->state_key_prefix == NULL
        || cfg->inbound_channel == NULL || cfg->server_version == NULL) {
        set_err(err, errlen, "missing required configuration string");
        return -1;
    }
    if (cfg->port < 0 || cfg->port > 65535 || cfg->redis_port <= 0
        || cfg->redis_port > 65535) {
        set_err(err, errlen, "port out of range");
        return -1;
    }
    if (cfg->ping_interval <= 0 || cfg->ping_timeout <= cfg->ping_interval
        || cfg->ping_timeout > 65535) {
        set_err(err, errlen, "ping_timeout must exceed ping_interval (> 0)");
        return -1;
    }
    if (cfg->max_message == 0 || cfg->max_message > 16 * 1024 * 1024
        || cfg->writes_per_turn <= 0 || cfg->receive_timeout <= 0
        || cfg->capacity <= 0 || cfg->expiry <= 0 || cfg->group_expiry <= 0
        || cfg->group_refresh <= 0 || cfg->group_refresh >= cfg->group_expiry
        || cfg->stop_grace_ms < 0 || cfg->backlog <= 0) {
        set_err(err, errlen, "numeric setting out of range");
        return -1;
    }
    if (strlen(cfg->prefix) > 32 || strlen(cfg->inbound_channel) > 99
        || strlen(cfg->session_key_prefix) > 128
        || strlen(cfg->state_key_prefix) > 128) {
        set_err(err, errlen, "prefix or channel name too long");
        return -1;
    }
    return 0;
}

static int
server_make_ids(ph_server *srv, char *err, size_t errlen)
{
    unsigned char r[16];
    int i;

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)
        || getrandom(&srv->rng, sizeof(srv->rng), 0)
               != (ssize_t)sizeof(srv->rng)) {
        set_err(err, errlen, "getrandom: %s", strerror(errno));
        return -1;
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);   /* uuid4 version */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);   /* variant */
    for (i = 0; i < 16; i++) {
        snprintf(srv->client_prefix + 2 * i, 3, "%02x", r[i]);
    }
    snprintf(srv->chan_prefix, sizeof(srv->chan_prefix), "specific.%s!",
             srv->client_prefix);
    snprintf(srv->rx_key, sizeof(srv->rx_key), "%s%s", srv->cfg.prefix,
             srv->chan_prefix);
    snprintf(srv->inbound_key, sizeof(srv->inbound_key), "%s%s",
             srv->cfg.prefix, srv->cfg.inbound_channel);
    return 0;
}

static int
server_make_lws(ph_server *srv, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    void *loops[1];

    srv->protocols[0].name = "partyhub";
    srv->protocols[0].callback = ws_callback;
    srv->protocols[0].per_session_data_size = sizeof(ph_conn);
    srv->protocols[0].rx_buffer_size = 4096;
    srv->protocols[0].tx_packet_size = 4096;
    srv->retry_policy.secs_since_valid_ping = (uint16_t)srv->cfg.ping_interval;
    srv->retry_policy.secs_since_valid_hangup = (uint16_t)srv->cfg.ping_timeout;

    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof(info));
    loops[0] = &srv->loop;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS
                   | LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.foreign_loops = loops;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.user = srv;
    info.protocols = srv->protocols;
    info.retry_and_idle_policy = &srv->retry_policy;
    srv->ctx = lws_create_context(&info);
    if (srv->ctx == NULL) {
        set_err(err, errlen, "lws_create_context failed (is the "
                "libwebsockets-evlib-uv package installed?)");
        return -1;
    }
    info.vhost_name = "partyhub";
    srv->vh = lws_create_vhost(srv->ctx, &info);
    if (srv->vh == NULL) {
        set_err(err, errlen, "lws_create_vhost failed");
        return -1;
    }
    return 0;
}

static int
server_make_handles(ph_server *srv, char *err, size_t errlen)
{
    int i;

    if (uv_async_init(&srv->loop, &srv->wake, wake_cb) != 0
        || uv_timer_init(&srv->loop, &srv->tick) != 0
        || uv_timer_init(&srv->loop, &srv->stop_timer) != 0
        || uv_timer_init(&srv->loop, &srv->links[0].retry) != 0
        || uv_timer_init(&srv->loop, &srv->links[1].retry) != 0
        || uv_poll_init_socket(&srv->loop, &srv->listen_poll,
                               srv->listen_fd) != 0) {
        set_err(err, errlen, "libuv handle initialisation failed");
        return -1;
    }
    srv->handles_ready = 1;
    srv->listen_active = 1;
    srv->wake.data = srv;
    srv->tick.data = srv;
    srv->stop_timer.data = srv;
    srv->listen_poll.data = srv;
    for (i = 0; i < 2; i++) {
        srv->links[i].srv = srv;
        srv->links[i].kind = (rlink_kind)i;
        srv->links[i].retry.data = &srv->links[i];
    }
    /* The tick must not keep a stopping loop alive on its own. */
    return 0;
}

ph_server *
ph_server_new(const ph_server_config *cfg, char *err, size_t errlen)
{
    ph_server *srv;

    if (config_check(cfg, err, errlen) < 0) {
        return NULL;
    }
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    srv->listen_fd = -1;
    srv->cfg = *cfg;
    if (pthread_mutex_init(&srv->lock, NULL) != 0) {
        free(srv);
        set_err(err, errlen, "mutex init failed");
        return NULL;
    }
    srv->closed = 1;                   /* until the wake handle exists */
    ph_fanout_init(&srv->fan);
    if (own_string(srv, &srv->cfg.host) < 0
        || own_string(srv, &srv->cfg.redis_host) < 0
        || own_string(srv, &srv->cfg.prefix) < 0
        || own_string(srv, &srv->cfg.session_key_prefix) < 0
        || own_string(srv, &srv->cfg.state_key_prefix) < 0
        || own_string(srv, &srv->cfg.inbound_channel) < 0
        || own_string(srv, &srv->cfg.allowed_origins) < 0
        || own_string(srv, &srv->cfg.client_types) < 0
        || own_string(srv, &srv->cfg.server_version) < 0) {
        set_err(err, errlen, "out of memory");
        goto error;
    }
    srv->log = ph_log_new(cfg->log_lines, cfg->log_level);
    if (srv->log == NULL) {
        set_err(err, errlen, "out of memory");
        goto error;
    }
    if (server_make_ids(srv, err, errlen) < 0
        || listener_open(srv, err, errlen) < 0) {
        goto error;
    }
    if (uv_loop_init(&srv->loop) != 0) {
        set_err(err, errlen, "uv_loop_init failed");
        goto error;
    }
    srv->loop_ready = 1;
    if (server_make_handles(srv, err, errlen) < 0
        || server_make_lws(srv, err, errlen) < 0) {
        goto error;
    }
    pthread_mutex_lock(&srv->lock);
    srv->closed = 0;
    pthread_mutex_unlock(&srv->lock);
    return srv;

error:
    ph_server_free(srv);
    return NULL;
}

void
ph_server_stats_get(ph_server *srv, ph_server_stats *out)
{
    srv_counters *s = &srv->st;

    memset(out, 0, sizeof(*out));
    out->port = srv->port;
    out->redis_up = atomic_load_explicit(&s->redis_up, memory_order_relaxed);
    out->connections = cnt_get(&s->connections);
    out->connections_total = cnt_get(&s->connections_total);
    out->messages_in = cnt_get(&s->messages_in);
    out->bytes_in = cnt_get(&s->bytes_in);
    out->messages_out = cnt_get(&s->messages_out);
    out->bytes_out = cnt_get(&s->bytes_out);
    out->broadcasts = cnt_get(&s->broadcasts);
    out->slow_consumer_closes = cnt_get(&s->slow_consumer_closes);
    out->redis_reconnects = cnt_get(&s->redis_reconnects);
    out->redis_undelivered = cnt_get(&s->redis_undelivered);
    out->inbound_forwarded = cnt_get(&s->inbound_forwarded);
    out->log_dropped = srv->log ? ph_log_dropped(srv->log) : 0;
}

ph_log *
ph_server_log(ph_server *srv)
{
    return srv->log;
}

void
ph_server_free(ph_server *srv)
{
    size_t i;

    if (srv == NULL) {
        return;
    }
    server_teardown(srv);
    for (i = 0; i < srv->nstrings; i++) {
        free(srv->strings[i]);
    }
    ph_log_free(srv->log);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}
