/*
 * server.c: the sidecar's configuration and lifetime (new / run / stop /
 * free / teardown), its timers and its counters. See server.h for the
 * threading contract and server_int.h for how the other server_*.c files
 * divide the work.
 */
#define _GNU_SOURCE 1

#include "server_int.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "keys.h"
#include "uvredis.h"

const double ph_srv_lat_bounds_ms[PH_LAT_NB] = {
    0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500
};

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

/* Next value of the server's splitmix64 generator (loop thread; not for
 * secrets: it only makes channel-layer member prefixes unique). */
uint64_t
ph_srv_rng_next(ph_server *srv)
{
    uint64_t z = (srv->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Fill out[0..n) from ph_srv_rng_next(). Never fails. */
void
ph_srv_rng_bytes(ph_server *srv, unsigned char *out, size_t n)
{
    while (n > 0) {
        uint64_t v = ph_srv_rng_next(srv);
        size_t k = n < 8 ? n : 8;

        memcpy(out, &v, k);
        out += k;
        n -= k;
    }
}

/* printf into err[0..errlen) (NUL-terminated); no-op when err is NULL. */
void
ph_srv_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
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
void
ph_srv_frame_release(void *arg, ph_frame *f)
{
    ph_server *srv = arg;
    uint64_t t0 = f->t0_ns;

    if (ph_frame_decref(f) == 0 && t0 != 0) {
        double ms = (double)(now_ns() - t0) / 1e6;
        size_t i;

        for (i = 0; i < PH_LAT_NB && ms > ph_srv_lat_bounds_ms[i]; i++) {
        }
        srv->st.lat_buckets[i]++;
        srv->st.lat_sum_s += ms / 1000.0;
        srv->st.lat_count++;
    }
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

/*
 * Once a burst of connects or closes is over (a tick with no change after
 * ticks with changes), give free heap pages back to the kernel: each
 * handshake borrows lws a ~4 KB header buffer and ~1 KB of bookkeeping, and
 * after hundreds of concurrent handshakes the freed buffers sit scattered
 * between long-lived connections, where glibc never returns them on its
 * own. Measured in "Performance notes" (docs/architecture.md); one call
 * took 0.19 ms with 10,000 sockets open, once per burst, never per tick.
 */
static void
trim_after_burst(ph_server *srv)
{
    uint64_t seen = cnt_get(&srv->st.connections_total)
                    * 2 - cnt_get(&srv->st.connections);

    if (seen != srv->trim_seen) {
        srv->trim_seen = seen;
        srv->trim_pending = 1;
        return;
    }
    if (srv->trim_pending) {
        srv->trim_pending = 0;
#ifdef __GLIBC__
        malloc_trim(0);
#endif
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
        uv_poll_start(&srv->listen_poll, UV_READABLE, ph_srv_listen_cb);
    }
    trim_after_burst(srv);
    /* Re-add groups well before channels_redis' group_expiry drops them. */
    if (now >= srv->next_refresh_ms) {
        srv->next_refresh_ms = now + (uint64_t)srv->cfg.group_refresh * 1000u;
        ph_srv_redis_refresh(srv);
    }
    ph_srv_redis_check_ready(srv);
}

/* Heartbeats: O(due) work (see heartbeat.h), so a short period is cheap. */
static void
hb_timer_cb(uv_timer_t *t)
{
    ph_server *srv = t->data;

    if (srv->phase == SRV_RUNNING) {
        ph_srv_hb_tick(srv);
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
    ph_srv_listen_close(srv, 0);
    ph_srv_drain_halt(srv);
    HASH_ITER(hh, srv->fan.groups, g, gtmp) {
        ph_srv_redis_group_del(srv, g->name);
    }
    srv->phase = SRV_STOPPING;
    /* Drained sockets were told when to come back: 1012 keeps them to it. */
    HASH_ITER(hh, srv->fan.conns, c, tmp) {
        ph_srv_conn_close(srv, c, srv->drain.active ? PH_CLOSE_RESTART : 1001);
    }
    srv->stop_deadline_ms = now_ms() + (uint64_t)(srv->cfg.stop_grace * 1000.0);
    uv_timer_start(&srv->stop_timer, stop_timer_cb, 0, PH_STOP_POLL_MS);
}

static void
wake_cb(uv_async_t *a)
{
    ph_server *srv = a->data;
    int stop, drain;
    uint64_t drain_ms;

    pthread_mutex_lock(&srv->lock);
    stop = srv->stop_requested;
    drain = srv->drain_requested;
    drain_ms = srv->drain_request_ms;
    srv->drain_requested = 0;
    pthread_mutex_unlock(&srv->lock);
    if (stop) {
        stop_begin(srv);
    }
    else if (drain) {
        ph_srv_drain_begin(srv, drain_ms);
    }
}

/*
 * Ask the server to stop. Safe from any thread (including signal-driven
 * Python code) and idempotent; returns at once.
 */
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
    ph_srv_redis_teardown(srv);
    if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
    }
    ph_srv_drain_halt(srv);
    if (srv->loop_ready) {
        uv_handle_t *ours[] = {
            (uv_handle_t *)&srv->wake, (uv_handle_t *)&srv->tick,
            (uv_handle_t *)&srv->hb_timer,
            (uv_handle_t *)&srv->stop_timer, (uv_handle_t *)&srv->drain.timer,
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

/*
 * Run the loop until ph_server_stop is called; then close every socket
 * with 1001, withdraw group memberships, and tear the loop down. Returns
 * 0, or -1 if called twice. Blocks; call without the GIL.
 */
int
ph_server_run(ph_server *srv)
{
    if (srv->phase != SRV_NEW) {
        return -1;
    }
    srv->phase = SRV_RUNNING;
    ph_srv_redis_start(srv);
    uv_poll_start(&srv->listen_poll, UV_READABLE, ph_srv_listen_cb);
    uv_timer_start(&srv->tick, tick_cb, PH_TICK_MS, PH_TICK_MS);
    uv_timer_start(&srv->hb_timer, hb_timer_cb, PH_HB_TICK_MS, PH_HB_TICK_MS);
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

/* Fill cfg with the defaults listed above. */
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
    cfg->session_key_prefix = PH_KEY_SESSION;
    cfg->state_key_prefix = PH_KEY_STATE;
    cfg->private_key_prefix = PH_KEY_PRIVATE;
    cfg->ready_key = NULL;
    cfg->allowed_origins = NULL;
    cfg->client_types = NULL;
    cfg->server_version = "partyhub-sidecar/0.1";
    cfg->max_json_depth = 32;
#define PH_SETTING(name, type, dflt, low, high) cfg->name = dflt;
#include "ph_settings.def"
#undef PH_SETTING
    cfg->log_level = PH_LOG_INFO;
    cfg->log_lines = 1024;
}

/* The range of one setting of the table (ph_settings.def): numbers within
 * [low, high] (NaN is not), strings of at most `high` bytes (NULL allowed
 * when `low` is 0, for "none"). */
#define SETTING_BAD_int(v, low, high) (!((v) >= (low) && (v) <= (high)))
#define SETTING_BAD_size(v, low, high) \
    (!((double)(v) >= (low) && (double)(v) <= (high)))
#define SETTING_BAD_float(v, low, high) (!((v) >= (low) && (v) <= (high)))
#define SETTING_BAD_str(v, low, high) str_out_of_range((v), (low), (high))

static int
str_out_of_range(const char *v, double low, double high)
{
    double n = v != NULL ? (double)strlen(v) : 0.0;

    return v == NULL ? low > 0 : !(n >= low && n <= high);
}

static int
settings_check(const ph_server_config *cfg, char *err, size_t errlen)
{
#define PH_SETTING(name, type, dflt, low, high) \
    if (SETTING_BAD_##type(cfg->name, low, high)) { \
        ph_srv_set_err(err, errlen, "%s out of range (%g..%g)", #name, \
                       (double)(low), (double)(high)); \
        return -1; \
    }
#include "ph_settings.def"
#undef PH_SETTING
    return 0;
}

static int
config_check(const ph_server_config *cfg, char *err, size_t errlen)
{
    if (cfg->host == NULL || cfg->redis_host == NULL || cfg->prefix == NULL
        || cfg->session_key_prefix == NULL || cfg->state_key_prefix == NULL
        || cfg->private_key_prefix == NULL || cfg->server_version == NULL) {
        ph_srv_set_err(err, errlen, "missing required configuration string");
        return -1;
    }
    if (cfg->port < 0 || cfg->port > 65535 || cfg->redis_port <= 0
        || cfg->redis_port > 65535) {
        ph_srv_set_err(err, errlen, "port out of range");
        return -1;
    }
    if (settings_check(cfg, err, errlen) < 0) {
        return -1;
    }
    if (cfg->ping_timeout <= cfg->ping_interval) {
        ph_srv_set_err(err, errlen, "ping_timeout must exceed ping_interval");
        return -1;
    }
    if (cfg->receive_timeout <= 0 || cfg->capacity <= 0 || cfg->expiry <= 0
        || cfg->group_expiry <= 0 || cfg->group_refresh <= 0
        || cfg->group_refresh >= cfg->group_expiry || cfg->backlog <= 0
        /* cJSON's own nesting limit is 1000 (CJSON_NESTING_LIMIT). */
        || cfg->max_json_depth < 1 || cfg->max_json_depth > 1000) {
        ph_srv_set_err(err, errlen, "numeric setting out of range");
        return -1;
    }
    if (strlen(cfg->prefix) > 32
        || strlen(cfg->session_key_prefix) > 128
        || strlen(cfg->state_key_prefix) > 128
        || strlen(cfg->private_key_prefix) > 128
        || (cfg->ready_key != NULL && strlen(cfg->ready_key) > 128)) {
        ph_srv_set_err(err, errlen, "prefix or channel name too long");
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
        ph_srv_set_err(err, errlen, "getrandom: %s", strerror(errno));
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
    srv->rx_avg_bytes = PH_RX_BATCH_BYTES / 16; /* 16 a batch until measured */
    snprintf(srv->inbound_key, sizeof(srv->inbound_key), "%s%s",
             srv->cfg.prefix, srv->cfg.inbound_channel);
    return 0;
}

/*
 * Raise the RLIMIT_NOFILE soft limit to the hard limit (at most
 * PH_NOFILE_MAX): the Debian default of 1024 would cap the sidecar near
 * 1,000 sockets. Must run before lws_create_context, which sizes its fd
 * tables from the limit. Failure is logged, not fatal.
 */
static void
server_raise_nofile(ph_server *srv)
{
    struct rlimit rl;
    rlim_t want;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        ph_logf(srv->log, PH_LOG_WARNING, "getrlimit(RLIMIT_NOFILE): %s",
                strerror(errno));
        return;
    }
    want = rl.rlim_max;
    if (want == RLIM_INFINITY || want > (rlim_t)PH_NOFILE_MAX) {
        want = (rlim_t)PH_NOFILE_MAX;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        struct rlimit nrl = { .rlim_cur = want, .rlim_max = rl.rlim_max };

        if (setrlimit(RLIMIT_NOFILE, &nrl) == 0) {
            rl.rlim_cur = want;
        }
        else {
            ph_logf(srv->log, PH_LOG_WARNING, "setrlimit(RLIMIT_NOFILE, %llu): %s",
                    (unsigned long long)want, strerror(errno));
        }
    }
    srv->nofile_limit = rl.rlim_cur == RLIM_INFINITY ? (uint64_t)PH_NOFILE_MAX
                                                     : (uint64_t)rl.rlim_cur;
    ph_logf(srv->log, PH_LOG_INFO, "RLIMIT_NOFILE soft limit %llu (hard %llu)",
            (unsigned long long)srv->nofile_limit,
            (unsigned long long)rl.rlim_max);
}

static int
server_make_lws(ph_server *srv, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    void *loops[1];

    srv->protocols[0].name = "partyhub";
    srv->protocols[0].callback = ph_srv_ws_callback;
    srv->protocols[0].per_session_data_size = sizeof(ph_conn);
    /* lws allocates rx_buffer_size + LWS_PRE per connection for its whole
     * life: keep it small (see "Performance notes" in docs/architecture.md). */
    srv->protocols[0].rx_buffer_size = srv->cfg.rx_buffer;
    srv->protocols[0].tx_packet_size = 4096;
    /*
     * An all-zero policy turns lws' per-connection validity timers off
     * (secs_since_valid_hangup == 0): their sorted-list inserts cost O(open
     * connections) per PING and per PONG. server_hb.c pings instead.
     */
    memset(&srv->retry_policy, 0, sizeof(srv->retry_policy));

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
        ph_srv_set_err(err, errlen, "lws_create_context failed (is the "
                "libwebsockets-evlib-uv package installed?)");
        return -1;
    }
    info.vhost_name = "partyhub";
    srv->vh = lws_create_vhost(srv->ctx, &info);
    if (srv->vh == NULL) {
        ph_srv_set_err(err, errlen, "lws_create_vhost failed");
        return -1;
    }
    return 0;
}

static int
server_make_handles(ph_server *srv, char *err, size_t errlen)
{
    if (uv_async_init(&srv->loop, &srv->wake, wake_cb) != 0
        || uv_timer_init(&srv->loop, &srv->tick) != 0
        || uv_timer_init(&srv->loop, &srv->hb_timer) != 0
        || uv_timer_init(&srv->loop, &srv->stop_timer) != 0
        || ph_srv_drain_init(srv) != 0
        || uv_poll_init_socket(&srv->loop, &srv->listen_poll,
                               srv->listen_fd) != 0) {
        ph_srv_set_err(err, errlen, "libuv handle initialisation failed");
        return -1;
    }
    srv->handles_ready = 1;
    srv->listen_active = 1;
    srv->wake.data = srv;
    srv->tick.data = srv;
    srv->hb_timer.data = srv;
    srv->stop_timer.data = srv;
    srv->listen_poll.data = srv;
    return ph_srv_redis_init(srv, err, errlen);
}

/*
 * Create the server: copies cfg (strings included), creates the loop, the
 * lws context and vhost, and binds and listens on host:port. Redis
 * connections are started when ph_server_run begins. Returns NULL with a
 * message in err[0..errlen) on any failure (port busy, bad address,
 * missing lws libuv plugin, out of memory); nothing is leaked.
 */
ph_server *
ph_server_new(const ph_server_config *cfg, char *err, size_t errlen)
{
    ph_server *srv;

    if (config_check(cfg, err, errlen) < 0) {
        return NULL;
    }
    /* libcrypto sets itself up now, not at the first token check. */
    if (ph_sha256_selftest() < 0) {
        ph_srv_set_err(err, errlen, "libcrypto: SHA-256 self-test failed");
        return NULL;
    }
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        ph_srv_set_err(err, errlen, "out of memory");
        return NULL;
    }
    srv->listen_fd = -1;
    srv->cfg = *cfg;
    if (pthread_mutex_init(&srv->lock, NULL) != 0) {
        free(srv);
        ph_srv_set_err(err, errlen, "mutex init failed");
        return NULL;
    }
    srv->closed = 1;                   /* until the wake handle exists */
    ph_fanout_init(&srv->fan);
    srv->out_limits = ph_srv_out_limits(cfg);
    srv->rate.rate_milli = (uint64_t)(cfg->msg_rate * 1000.0 + 0.5);
    srv->rate.burst = (uint32_t)cfg->msg_burst;
    srv->rate.flood = (uint32_t)cfg->msg_flood;
    ph_hb_init(&srv->hb, (uint32_t)cfg->ping_interval,
               (uint32_t)cfg->ping_timeout);
    if (own_string(srv, &srv->cfg.host) < 0
        || own_string(srv, &srv->cfg.redis_host) < 0
        || own_string(srv, &srv->cfg.prefix) < 0
        || own_string(srv, &srv->cfg.session_key_prefix) < 0
        || own_string(srv, &srv->cfg.state_key_prefix) < 0
        || own_string(srv, &srv->cfg.private_key_prefix) < 0
        || own_string(srv, &srv->cfg.ready_key) < 0
        || own_string(srv, &srv->cfg.inbound_channel) < 0
        || own_string(srv, &srv->cfg.allowed_origins) < 0
        || own_string(srv, &srv->cfg.client_types) < 0
        || own_string(srv, &srv->cfg.server_version) < 0
        || own_string(srv, &srv->cfg.trusted_proxies) < 0) {
        ph_srv_set_err(err, errlen, "out of memory");
        goto error;
    }
    srv->log = ph_log_new(cfg->log_lines, cfg->log_level);
    if (srv->log == NULL) {
        ph_srv_set_err(err, errlen, "out of memory");
        goto error;
    }
    server_raise_nofile(srv);
    if (server_make_ids(srv, err, errlen) < 0
        || ph_srv_listen_open(srv, err, errlen) < 0) {
        goto error;
    }
    if (uv_loop_init(&srv->loop) != 0) {
        ph_srv_set_err(err, errlen, "uv_loop_init failed");
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

/* Snapshot the counters (any thread). */
void
ph_server_stats_get(ph_server *srv, ph_server_stats *out)
{
    srv_counters *s = &srv->st;

    memset(out, 0, sizeof(*out));
    out->port = srv->port;
    out->redis_up = atomic_load_explicit(&s->redis_up, memory_order_relaxed);
    out->redis_shards = srv->nshards;
    out->redis_home_shard = srv->home_shard;
    out->redis_shards_up = atomic_load_explicit(&s->redis_shards_up,
                                                memory_order_relaxed);
    out->connections = cnt_get(&s->connections);
#define PH_COUNTER(name, metric, kind, help) out->name = cnt_get(&s->name);
#include "ph_counters.def"
#undef PH_COUNTER
    out->log_dropped = srv->log ? ph_log_dropped(srv->log) : 0;
    out->nofile_limit = srv->nofile_limit;
    out->draining = atomic_load_explicit(&s->draining, memory_order_relaxed);
}

/* The log ring lines can be drained from (any thread); owned by srv. */
ph_log *
ph_server_log(ph_server *srv)
{
    return srv->log;
}

/*
 * Free the server. If ph_server_run is running in another thread, the
 * caller must stop it and wait for it to return first.
 */
void
ph_server_free(ph_server *srv)
{
    size_t i;

    if (srv == NULL) {
        return;
    }
    server_teardown(srv);
    ph_srv_redis_free(srv);
    ph_addr_count_clear(&srv->addrs);
    free(srv->cork);
    for (i = 0; i < srv->nstrings; i++) {
        free(srv->strings[i]);
    }
    ph_log_free(srv->log);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}

