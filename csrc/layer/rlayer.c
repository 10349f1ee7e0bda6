/* rlayer.c - synchronous Redis access over hiredis 0.14 for the layer.
 *
 * Model: one rl_conn per thread (pylayer.c keeps it in a threading.local),
 * one blocking hiredis context per host, opened on first use with connect
 * and read timeouts, so a dead Redis costs at most those timeouts and never
 * a hang. hiredis contexts are dead after any error: we free them and the
 * next call connects afresh. Before reusing an idle context we peek at its
 * socket; a server restart or idle-timeout shows up there as EOF and we
 * reconnect *before* sending, instead of failing the call (or resending a
 * command that may already have run).
 *
 * Redis Sentinel (ph_redis_host.master_name): a connection is opened by
 * asking the sentinels for the master, connecting there and checking ROLE in the
 * set-up round trip; a failed attempt is retried with backoff (50 ms
 * doubling to 500 ms) until the host's failover_wait runs out, so a call
 * made during a failover waits for the new master for a bounded time.
 *
 * Nothing in this file touches Python: callers release the GIL around
 * rl_exec(). */
#define _GNU_SOURCE
#include "rlayer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rbound.h"

static struct timeval
to_timeval(double seconds)
{
    struct timeval tv;
    if (seconds < 0.001) {
        seconds = 0.001;   /* 0 would mean "block forever" to the kernel */
    }
    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    return tv;
}

/* Fill `err` with "Redis at <where>: <detail>". */
static void
set_err(rl_err *err, rl_status st, const ph_redis_host *h, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    err->status = st;
    if (h == NULL) {
        snprintf(err->msg, sizeof(err->msg), "Redis: %s", detail);
    }
    else if (h->master_name[0] != '\0') {
        snprintf(err->msg, sizeof(err->msg), "Redis master %.48s: %.250s",
                 h->master_name, detail);
    }
    else if (h->host[0] == '/') {
        snprintf(err->msg, sizeof(err->msg), "Redis at unix:%.64s: %.230s",
                 h->host, detail);
    }
    else {
        snprintf(err->msg, sizeof(err->msg), "Redis at %.64s:%d: %.230s",
                 h->host, h->port, detail);
    }
}

/* Describe a failed context's error, turning hiredis's "Resource
 * temporarily unavailable" (SO_RCVTIMEO expired) into a timeout message. */
static void
set_ctx_err(rl_err *err, const ph_redis_host *h, const redisContext *ctx,
            double timeout)
{
    if (ctx->err == REDIS_ERR_IO && (strstr(ctx->errstr, "temporarily") ||
                                     strstr(ctx->errstr, "timed out"))) {
        set_err(err, RL_UNAVAILABLE, h, "no reply within %.3g s", timeout);
    }
    else if (ctx->err == REDIS_ERR_EOF) {
        set_err(err, RL_UNAVAILABLE, h, "connection closed by the server");
    }
    else if (ctx->err == REDIS_ERR_OOM) {
        /* hiredis' text for a refused reply object (ph_redis_reader_bound). */
        set_err(err, RL_UNAVAILABLE, h,
                "reply refused: over the reader's size bounds, or out of memory");
    }
    else {
        set_err(err, RL_UNAVAILABLE, h, "%s", ctx->errstr);
    }
}

static void
slot_drop(rl_slot *s)
{
    if (s->ctx != NULL) {
        redisFree(s->ctx);
        s->ctx = NULL;
    }
}

/* Is an idle context still usable? A closed peer reads as EOF; pending
 * unsolicited bytes mean we are out of step with the server. */
static int
slot_alive(const rl_slot *s)
{
    char b;
    ssize_t r = recv(s->ctx->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
    return 0;
}

/* Read one reply; on failure describe it and drop the context. */
static int
slot_read(rl_slot *s, const ph_redis_host *h, double timeout, redisReply **out,
          rl_err *err)
{
    void *reply = NULL;
    if (redisGetReply(s->ctx, &reply) != REDIS_OK || reply == NULL) {
        set_ctx_err(err, h, s->ctx, timeout);
        slot_drop(s);
        return -1;
    }
    *out = reply;
    return 0;
}

/* The status of a failed set-up step: credentials and a server that is
 * not (yet) the master make the host unavailable, other errors are replies. */
static rl_status
setup_status(ph_setup_result res)
{
    return res == PH_SETUP_ERROR ? RL_REPLY : RL_UNAVAILABLE;
}

/* Open the slot's connection: connect with the connect timeout, then AUTH,
 * ROLE (check_role: a master found through Sentinel), SELECT and SCRIPT
 * LOAD of every script pipelined in one round trip (rsetup.h). */
static int
slot_connect(rl_slot *s, const ph_redis_host *h, int check_role, rl_err *err)
{
    struct timeval ctv = to_timeval(h->connect_timeout);
    redisContext *ctx = h->host[0] == '/'
                             ? redisConnectUnixWithTimeout(h->host, ctv)
                             : redisConnectWithTimeout(h->host, h->port, ctv);
    redisReply *r = NULL;
    ph_setup setup;
    char why[256];

    if (ctx == NULL) {
        set_err(err, RL_NOMEM, h, "out of memory");
        return -1;
    }
    s->ctx = ctx;
    if (ctx->err) {
        if (strstr(ctx->errstr, "temporarily") || strstr(ctx->errstr, "timed out")) {
            set_err(err, RL_UNAVAILABLE, h, "cannot connect within %.3g s",
                    h->connect_timeout);
        }
        else {
            set_err(err, RL_UNAVAILABLE, h, "cannot connect: %s", ctx->errstr);
        }
        goto error;
    }
    /* Arrays over PH_REDIS_MAX_ELEMENTS and strings over PH_REDIS_MAX_BULK
     * fail the reply (hiredis 0.14 would calloc any array count Redis
     * sends); slot_read then drops the connection as on any error. */
    (void)ph_redis_reader_bound(ctx->reader);
    if (redisSetTimeout(ctx, to_timeval(h->timeout)) != REDIS_OK) {
        set_ctx_err(err, h, ctx, h->timeout);
        goto error;
    }
    (void)redisEnableKeepAlive(ctx);
    ph_setup_build(&setup, h->username, h->password, h->db,
                   PH_SETUP_LOAD_SCRIPTS
                   | (check_role ? PH_SETUP_CHECK_ROLE : 0u));
    for (int i = 0; i < setup.n; i++) {
        redisAppendCommandArgv(ctx, setup.cmd[i].argc, setup.cmd[i].argv,
                               setup.cmd[i].lens);
    }
    for (int i = 0; i < setup.n; i++) {
        ph_setup_result res;

        if (slot_read(s, h, h->timeout, &r, err) < 0) {
            goto error;
        }
        res = ph_setup_check(setup.cmd[i].step, setup.cmd[i].script, r,
                             s->sha, why, sizeof(why));
        if (res != PH_SETUP_OK) {
            set_err(err, setup_status(res), h, "%s", why);
            goto error;
        }
        freeReplyObject(r);
        r = NULL;
    }
    return 0;
error:
    if (r != NULL) {
        freeReplyObject(r);
    }
    slot_drop(s);
    return -1;
}

/* ---- Redis Sentinel ---------------------------------------------------- */

static double
now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_seconds(double seconds)
{
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* "sentinel <host>:<port>: <detail>", bounded. */
static void
sentinel_why(char *why, size_t whylen, const ph_sentinel_addr *at,
             const char *detail)
{
    snprintf(why, whylen, "sentinel %.64s:%d: %.200s", at->host, at->port,
             detail);
}

/* Ask one sentinel where h's master is: (AUTH and) SENTINEL
 * get-master-addr-by-name in one round trip. Returns 0 with `out` set, or
 * -1 with a one-line reason in `why`. */
static int
sentinel_ask(const ph_sentinel_addr *at, const ph_redis_host *h,
             ph_sentinel_addr *out, char *why, size_t whylen)
{
    struct timeval tv = to_timeval(h->sentinel_timeout);
    redisContext *ctx = redisConnectWithTimeout(at->host, at->port, tv);
    redisReply *r = NULL;
    const char *av[3];
    size_t lens[3];
    char detail[256];
    ph_setup setup;
    int rc = -1;

    if (ctx == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    if (ctx->err || redisSetTimeout(ctx, tv) != REDIS_OK) {
        sentinel_why(why, whylen, at, ctx->errstr);
        goto done;
    }
    (void)ph_redis_reader_bound(ctx->reader);
    ph_setup_build(&setup, h->sentinel_username, h->sentinel_password, 0, 0);
    for (int i = 0; i < setup.n; i++) {
        redisAppendCommandArgv(ctx, setup.cmd[i].argc, setup.cmd[i].argv,
                               setup.cmd[i].lens);
    }
    ph_sentinel_command(h->master_name, av, lens);
    redisAppendCommandArgv(ctx, 3, av, lens);
    for (int i = 0; i < setup.n; i++) {
        if (redisGetReply(ctx, (void **)&r) != REDIS_OK || r == NULL) {
            r = NULL;
            sentinel_why(why, whylen, at, ctx->errstr);
            goto done;
        }
        if (ph_setup_check(setup.cmd[i].step, -1, r, NULL, detail,
                           sizeof(detail)) != PH_SETUP_OK) {
            sentinel_why(why, whylen, at, detail);
            goto done;
        }
        freeReplyObject(r);
        r = NULL;
    }
    if (redisGetReply(ctx, (void **)&r) != REDIS_OK) {
        r = NULL;   /* parse_master reports "no reply" */
    }
    if (ph_sentinel_parse_master(r, out, detail, sizeof(detail)) < 0) {
        sentinel_why(why, whylen, at, detail);
        goto done;
    }
    rc = 0;
done:
    if (r != NULL) {
        freeReplyObject(r);
    }
    redisFree(ctx);
    return rc;
}

/* Find h's master: ask the sentinels in turn, starting with the one that
 * answered last (as redis-py moves it to the front). */
static int
sentinel_discover(rl_slot *s, const ph_redis_host *h, rl_err *err)
{
    char why[320] = "no sentinel configured";

    for (int k = 0; k < h->nsentinels; k++) {
        int i = (s->sentinel_first + k) % h->nsentinels;
        if (sentinel_ask(&h->sentinels[i], h, &s->master, why,
                         sizeof(why)) == 0) {
            s->sentinel_first = i;
            return 0;
        }
    }
    set_err(err, RL_UNAVAILABLE, h, "no sentinel named a master (last: %s)",
            why);
    return -1;
}

/* Connect to the master a sentinel names, checking ROLE. Error messages
 * name the address tried. */
static int
sentinel_connect(rl_slot *s, const ph_redis_host *h, rl_err *err)
{
    ph_redis_host at = *h;

    if (sentinel_discover(s, h, err) < 0) {
        return -1;
    }
    memcpy(at.host, s->master.host, sizeof(at.host));
    at.port = s->master.port;
    at.master_name[0] = '\0';
    return slot_connect(s, &at, 1, err);
}

/* Open the slot's connection. Sentinel hosts retry discovery with backoff
 * while the failure may be a failover in progress, for at most
 * failover_wait seconds. */
static int
slot_open(rl_slot *s, const ph_redis_host *h, rl_err *err)
{
    double deadline, left, delay = 0.05;

    if (h->master_name[0] == '\0') {
        return slot_connect(s, h, 0, err);
    }
    deadline = now_monotonic() + h->failover_wait;
    for (;;) {
        if (sentinel_connect(s, h, err) == 0) {
            return 0;
        }
        left = deadline - now_monotonic();
        if (err->status != RL_UNAVAILABLE || left <= 0) {
            return -1;
        }
        sleep_seconds(delay < left ? delay : left);
        delay = delay * 2 < 0.5 ? delay * 2 : 0.5;
    }
}

/* Initialise `c` for `nhosts` hosts (no connection is opened). Returns 0,
 * or -1 if out of memory. Pair with rl_conn_free(). */
int
rl_conn_init(rl_conn *c, int nhosts)
{
    memset(c, 0, sizeof(*c));
    c->slots = calloc((size_t)nhosts, sizeof(rl_slot));
    if (c->slots == NULL) {
        return -1;
    }
    c->nhosts = nhosts;
    c->pid = getpid();
    if (getrandom(c->rng, sizeof(c->rng), 0) != (ssize_t)sizeof(c->rng)) {
        /* No entropy source: time and address still keep threads apart. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        c->rng[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
        c->rng[1] = (uint64_t)(uintptr_t)c ^ (uint64_t)c->pid;
    }
    if ((c->rng[0] | c->rng[1]) == 0) {
        c->rng[1] = 0x9E3779B97F4A7C15ull;
    }
    return 0;
}

/* Close every connection but keep the slots (they reconnect on next use).
 * After fork() the inherited sockets belong to the parent: they are
 * dropped without a word to the server. */
void
rl_conn_close(rl_conn *c)
{
    for (int i = 0; i < c->nhosts; i++) {
        slot_drop(&c->slots[i]);
    }
}

/* Close every connection and free the slots. Safe on a zeroed struct. */
void
rl_conn_free(rl_conn *c)
{
    if (c->slots != NULL) {
        rl_conn_close(c);
        free(c->slots);
    }
    c->slots = NULL;
    c->nhosts = 0;
}

/* Fill `buf` with `n` pseudo-random bytes from the connection's generator
 * (seeded from getrandom()). Only uniqueness matters: the bytes keep equal
 * messages apart in a sorted set. Never fails. */
void
rl_random_bytes(rl_conn *c, unsigned char *buf, size_t n)
{
    while (n > 0) {
        /* xorshift128+ */
        uint64_t s1 = c->rng[0];
        const uint64_t s0 = c->rng[1];
        c->rng[0] = s0;
        s1 ^= s1 << 23;
        c->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
        uint64_t v = c->rng[1] + s0;
        size_t k = n < 8 ? n : 8;
        memcpy(buf, &v, k);
        buf += k;
        n -= k;
    }
}

/* Queue one call on its host's context (hiredis copies the arguments). */
static int
append_call(rl_slot *s, const rl_call *call, int use_eval)
{
    if (call->script < 0) {
        return redisAppendCommandArgv(s->ctx, call->argc, call->argv,
                                      call->lens);
    }
    int argc = call->argc + 3;
    const char **av = malloc(sizeof(char *) * (size_t)argc);
    size_t *lens = malloc(sizeof(size_t) * (size_t)argc);
    char nkeys[16];
    int rc = REDIS_ERR;
    if (av == NULL || lens == NULL) {
        goto done;
    }
    snprintf(nkeys, sizeof(nkeys), "%d", call->nkeys);
    av[0] = use_eval ? "EVAL" : "EVALSHA";
    av[1] = use_eval ? rs_source((rs_script)call->script)
                     : s->sha[call->script];
    av[2] = nkeys;
    for (int i = 0; i < 3; i++) {
        lens[i] = strlen(av[i]);
    }
    for (int i = 0; i < call->argc; i++) {
        av[i + 3] = call->argv[i];
        lens[i + 3] = call->lens ? call->lens[i] : strlen(call->argv[i]);
    }
    rc = redisAppendCommandArgv(s->ctx, argc, av, lens);
done:
    free(av);
    free(lens);
    return rc;
}

static void
free_replies(rl_call *calls, int ncalls)
{
    for (int i = 0; i < ncalls; i++) {
        if (calls[i].reply != NULL) {
            freeReplyObject(calls[i].reply);
            calls[i].reply = NULL;
        }
    }
}

static int
is_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && r->len >= 8 &&
           memcmp(r->str, "NOSCRIPT", 8) == 0;
}

/* Set every used host's read timeout to its own plus `extra`. */
static void
set_timeouts(rl_conn *c, const ph_redis_host *hosts, const char *used,
             double extra)
{
    for (int h = 0; h < c->nhosts; h++) {
        if (used[h] && c->slots[h].ctx != NULL) {
            redisSetTimeout(c->slots[h].ctx,
                            to_timeval(hosts[h].timeout + extra));
        }
    }
}

/* Connect every host the calls use. */
static int
prepare_hosts(rl_conn *c, const ph_redis_host *hosts, const rl_call *calls,
              int ncalls, char *used, rl_err *err)
{
    for (int i = 0; i < ncalls; i++) {
        int h = calls[i].host;
        if (h < 0 || h >= c->nhosts) {
            set_err(err, RL_REPLY, NULL, "host index %d out of range", h);
            return -1;
        }
        if (used[h]) {
            continue;
        }
        used[h] = 1;
        rl_slot *s = &c->slots[h];
        if (s->ctx != NULL && !slot_alive(s)) {
            slot_drop(s);
        }
        if (s->ctx == NULL && slot_open(s, &hosts[h], err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Write every used host's output buffer before reading any reply. */
static int
flush_hosts(rl_conn *c, const ph_redis_host *hosts, const char *used, rl_err *err)
{
    for (int h = 0; h < c->nhosts; h++) {
        int done = 0;
        if (!used[h]) {
            continue;
        }
        rl_slot *s = &c->slots[h];
        while (!done) {
            if (redisBufferWrite(s->ctx, &done) != REDIS_OK) {
                set_ctx_err(err, &hosts[h], s->ctx, hosts[h].timeout);
                return -1;
            }
        }
    }
    return 0;
}

/* Re-run calls whose script the server no longer knows, with EVAL. */
static int
retry_noscript(rl_conn *c, const ph_redis_host *hosts, rl_call *calls, int ncalls,
               double timeout_extra, rl_err *err)
{
    for (int i = 0; i < ncalls; i++) {
        rl_call *call = &calls[i];
        if (call->script < 0 || !is_noscript(call->reply)) {
            continue;
        }
        rl_slot *s = &c->slots[call->host];
        freeReplyObject(call->reply);
        call->reply = NULL;
        if (append_call(s, call, 1) != REDIS_OK) {
            set_err(err, RL_NOMEM, &hosts[call->host], "out of memory");
            return -1;
        }
        if (slot_read(s, &hosts[call->host],
                      hosts[call->host].timeout + timeout_extra,
                      &call->reply, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Did a Sentinel host refuse the call because it is no longer the master?
 * A replica answers writes with READONLY and unblocks blocked pops with
 * UNBLOCKED when demoted; in both cases the command did not run. */
static int
is_demoted(const ph_redis_host *h, const redisReply *r)
{
    if (h->master_name[0] == '\0' || r->type != REDIS_REPLY_ERROR) {
        return 0;
    }
    return (r->len >= 8 && memcmp(r->str, "READONLY", 8) == 0)
           || (r->len >= 9 && memcmp(r->str, "UNBLOCKED", 9) == 0);
}

/* Re-discover the master of every Sentinel host that refused calls as a
 * replica, and resend those calls there, one at a time. */
static int
retry_demoted(rl_conn *c, const ph_redis_host *hosts, rl_call *calls, int ncalls,
              double timeout_extra, char *fresh, rl_err *err)
{
    for (int i = 0; i < ncalls; i++) {
        rl_call *call = &calls[i];
        const ph_redis_host *h = &hosts[call->host];
        rl_slot *s = &c->slots[call->host];
        if (!is_demoted(h, call->reply)) {
            continue;
        }
        freeReplyObject(call->reply);
        call->reply = NULL;
        if (!fresh[call->host]) {
            fresh[call->host] = 1;
            slot_drop(s);
            if (slot_open(s, h, err) < 0) {
                return -1;
            }
            redisSetTimeout(s->ctx, to_timeval(h->timeout + timeout_extra));
        }
        if (append_call(s, call, 0) != REDIS_OK) {
            set_err(err, RL_NOMEM, h, "out of memory");
            return -1;
        }
        if (slot_read(s, h, h->timeout + timeout_extra, &call->reply,
                      err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Run `ncalls` commands, pipelined: each host's commands are written before
 * any reply is read, and several hosts are all written to before the first
 * read, so one call costs one round trip per run however many hosts take
 * part. Opens connections as needed (connect, AUTH, SELECT and SCRIPT LOAD
 * in one round trip). `extra_timeout` seconds are added to the socket read
 * timeout for this run (for blocking commands).
 *
 * Returns 0 with every calls[i].reply set (caller frees them with
 * freeReplyObject), or -1 with `err` filled and no reply left: any Redis
 * error reply makes the whole run fail with RL_REPLY; an I/O error or
 * timeout closes that host's connection (the next run reconnects) and fails
 * with RL_UNAVAILABLE.
 *
 * Sentinel hosts follow a failover: a connection found closed before the
 * run, or a READONLY / UNBLOCKED reply (the master was demoted; the command
 * did not run), makes the host re-discover its master (bounded by its
 * failover_wait) and, for those replies, resend the refused calls. A
 * connection lost after sending is never resent (the command may have
 * run): the run fails and the next one re-discovers. */
int
rl_exec(rl_conn *c, const ph_redis_host *hosts, rl_call *calls, int ncalls,
        double extra_timeout, rl_err *err)
{
    char *used = calloc((size_t)c->nhosts * 2, 1);
    char *fresh = used + c->nhosts;   /* re-discovered by retry_demoted */
    int rc = -1;
    int in_flight = 0;

    err->status = RL_OK;
    err->msg[0] = '\0';
    if (used == NULL) {
        set_err(err, RL_NOMEM, NULL, "out of memory");
        return -1;
    }
    for (int i = 0; i < ncalls; i++) {
        calls[i].reply = NULL;
    }
    if (c->pid != getpid()) {
        /* Forked: the sockets are shared with the parent. Closing our copy
         * of the fds leaves the parent's connections alone. */
        rl_conn_close(c);
        c->pid = getpid();
    }
    if (prepare_hosts(c, hosts, calls, ncalls, used, err) < 0) {
        goto error;
    }
    in_flight = 1;
    if (extra_timeout > 0) {
        set_timeouts(c, hosts, used, extra_timeout);
    }
    for (int i = 0; i < ncalls; i++) {
        if (append_call(&c->slots[calls[i].host], &calls[i], 0) != REDIS_OK) {
            set_err(err, RL_NOMEM, &hosts[calls[i].host], "out of memory");
            goto error;
        }
    }
    if (flush_hosts(c, hosts, used, err) < 0) {
        goto error;
    }
    for (int i = 0; i < ncalls; i++) {
        int h = calls[i].host;
        if (slot_read(&c->slots[h], &hosts[h], hosts[h].timeout + extra_timeout,
                      &calls[i].reply, err) < 0) {
            goto error;
        }
    }
    if (retry_noscript(c, hosts, calls, ncalls, extra_timeout, err) < 0) {
        goto error;
    }
    if (retry_demoted(c, hosts, calls, ncalls, extra_timeout, fresh,
                      err) < 0) {
        goto error;
    }
    for (int i = 0; i < ncalls; i++) {
        if (calls[i].reply->type == REDIS_REPLY_ERROR) {
            set_err(err, RL_REPLY, &hosts[calls[i].host], "%s",
                    calls[i].reply->str);
            goto error;
        }
    }
    rc = 0;
error:
    if (rc < 0) {
        free_replies(calls, ncalls);
        /* After an I/O error or a half-queued pipeline a context may
         * hold unsent commands or unread replies: it is out of step with
         * its server, so drop it. (An error *reply* leaves it in step.) */
        for (int h = 0; h < c->nhosts; h++) {
            if (used[h] && in_flight && err->status != RL_REPLY) {
                slot_drop(&c->slots[h]);
            }
        }
    }
    if (extra_timeout > 0) {
        set_timeouts(c, hosts, used, 0);
    }
    free(used);
    return rc;
}
