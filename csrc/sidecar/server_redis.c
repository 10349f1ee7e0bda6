/*
 * server_redis.c: the sidecar's Redis side. One shard per entry of the
 * channel layer's `hosts`, placed by channels_redis' consistent hash; per
 * shard a command link, a BZPOPMIN receive link and, for a Sentinel
 * entry, a discovery link, each with its own reconnect backoff. Every
 * link AUTHs (ACL user or password) and SELECTs its db before use. Also
 * the process's group memberships in Redis (one member per process per
 * group, on the group's shard, re-added on refresh and after a reconnect).
 */
#define _GNU_SOURCE 1

#include "server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chash.h"
#include "keys.h"
#include "rbound.h"
#include "uvredis.h"

static const char *const link_names[PH_RLINKS] = {
    "command", "receive", "sentinel"
};

static void rlink_schedule(rlink *l);
static void rx_receive(rlink *l);
static void rx_note_size(ph_server *srv, size_t len);

/* rx_reply_cb's priv when no ZPOPMIN was pipelined behind the BZPOPMIN. */
#define RX_ALONE ((void *)1)
static void shard_lost_master(rshard *sh, const char *why);

/* ------------------------------------------------------------------ */
/* shard choice                                                         */

/* Shard of a group (or any hashed name): channels_redis' consistent hash. */
int
ph_srv_shard_of(const ph_server *srv, const char *name, size_t len)
{
    return chash_index(name, len, srv->nshards);
}

/*
 * Shard of game code's group `game_<code>`, which also holds its session
 * and state keys (realtime/snapshot.py client_for).
 */
int
ph_srv_game_shard(const ph_server *srv, const char *code)
{
    char group[PH_GROUP_NAME_MAX];
    int n = snprintf(group, sizeof(group), PH_GROUP_GAME "%s", code);

    if (n < 0 || (size_t)n >= sizeof(group)) {
        n = (int)sizeof(group) - 1;
    }
    return ph_srv_shard_of(srv, group, (size_t)n);
}

/*
 * Shard for the next send to the inbound channel: round-robin like
 * channels_redis' send() to a normal channel (its receivers take turns
 * over every host), skipping shards whose command link is down. Returns
 * -1 when every shard is down.
 */
int
ph_srv_inbound_shard(ph_server *srv)
{
    int k;

    for (k = 0; k < srv->nshards; k++) {
        int i = (int)(srv->inbound_rr++ % (unsigned)srv->nshards);

        if (srv->shards[i].links[RLINK_CMD].up) {
            return i;
        }
    }
    return -1;
}

/* 1 when shard's command link is up (a bad index is down). */
int
ph_srv_redis_up(const ph_server *srv, int shard)
{
    return shard >= 0 && shard < srv->nshards
           && srv->shards[shard].links[RLINK_CMD].up;
}

/* "host:port", "/path" or "name@host:port" of sh for log lines. */
static const char *
shard_addr(const rshard *sh, char *buf, size_t len)
{
    if (sh->host[0] == '/') {
        snprintf(buf, len, "%s", sh->host);
    }
    else if (sh->host[0] == '\0') {
        snprintf(buf, len, "%s@(sentinel)", sh->cfg.master_name);
    }
    else {
        snprintf(buf, len, "%s%s%s:%d", sh->cfg.master_name,
                 sh->cfg.master_name[0] ? "@" : "", sh->host, sh->port);
    }
    return buf;
}

/* ------------------------------------------------------------------ */
/* commands                                                             */

/*
 * Send argv on shard's command link. fn(ac, reply, priv) runs exactly
 * once: with the reply, or with NULL when the link is down, the shard
 * does not exist or the command cannot be queued (then synchronously,
 * before this returns). fn may be NULL.
 */
void
ph_srv_redis_command(ph_server *srv, int shard, redisCallbackFn *fn,
                     void *priv, int argc, const char **argv,
                     const size_t *lens)
{
    rlink *l = &srv->shards[shard >= 0 && shard < srv->nshards ? shard : 0]
                    .links[RLINK_CMD];

    if (shard < 0 || shard >= srv->nshards || l->ac == NULL || !l->up
        || redisAsyncCommandArgv(l->ac, fn, priv, argc, argv, lens)
               != REDIS_OK) {
        /* hiredis owes no callback here: run it with "no reply". */
        if (fn != NULL) {
            redisAsyncContext fake;

            memset(&fake, 0, sizeof(fake));
            fake.data = l;
            fn(&fake, NULL, priv);
        }
    }
}

/* One script call kept until its reply, to be sent again with EVAL when
 * the server lost the script: one allocation holding the arguments. */
typedef struct script_call {
    ph_server *srv;
    redisCallbackFn *fn;
    void *priv;
    int shard;
    rs_script id;
    int nkeys;
    int argc;                    /* the caller's arguments (keys first) */
    const char **argv;           /* argc + 3: EVALSHA sha nkeys args... */
    size_t *lens;
    char nkeys_s[16];
} script_call;

static void script_send(script_call *sc, int eval);

static int
is_noscript(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR
           && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

static void
script_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    script_call *sc = priv;

    if (is_noscript(r) && strcmp(sc->argv[0], "EVALSHA") == 0) {
        script_send(sc, 1);            /* that call owns sc now */
        return;
    }
    if (sc->fn != NULL) {
        sc->fn(ac, r, sc->priv);
    }
    free(sc);
}

/* Send sc as EVALSHA, or as EVAL with the script's source. */
static void
script_send(script_call *sc, int eval)
{
    rshard *sh = &sc->srv->shards[sc->shard];

    sc->argv[0] = eval ? "EVAL" : "EVALSHA";
    sc->argv[1] = eval ? rs_source(sc->id) : sh->sha[sc->id];
    sc->lens[0] = strlen(sc->argv[0]);
    sc->lens[1] = strlen(sc->argv[1]);
    ph_srv_redis_command(sc->srv, sc->shard, script_reply_cb, sc,
                         sc->argc + 3, sc->argv, sc->lens);
}

/*
 * Run script id on shard's command link by its SHA1 (EVALSHA, loaded by
 * the link's set-up), the first nkeys of argv being keys; a NOSCRIPT reply
 * (the server lost its scripts) sends it once more with EVAL, which loads
 * it again. fn(ac, reply, priv) runs exactly once, as with
 * ph_srv_redis_command; out of memory it runs at once with NULL.
 */
void
ph_srv_redis_script(ph_server *srv, int shard, rs_script id,
                    redisCallbackFn *fn, void *priv, int nkeys, int argc,
                    const char **argv, const size_t *lens)
{
    size_t bytes = 0, n = (size_t)argc + 3;
    script_call *sc;
    char *data;
    int i;

    for (i = 0; i < argc; i++) {
        bytes += lens[i];
    }
    sc = malloc(sizeof(*sc) + n * (sizeof(char *) + sizeof(size_t)) + bytes);
    if (sc == NULL || shard < 0 || shard >= srv->nshards) {
        free(sc);
        ph_srv_redis_command(srv, -1, fn, priv, 0, NULL, NULL);
        return;
    }
    sc->srv = srv;
    sc->fn = fn;
    sc->priv = priv;
    sc->shard = shard;
    sc->id = id;
    sc->nkeys = nkeys;
    sc->argc = argc;
    sc->argv = (const char **)(sc + 1);
    sc->lens = (size_t *)(sc->argv + n);
    data = (char *)(sc->lens + n);
    snprintf(sc->nkeys_s, sizeof(sc->nkeys_s), "%d", nkeys);
    sc->argv[2] = sc->nkeys_s;
    sc->lens[2] = strlen(sc->nkeys_s);
    for (i = 0; i < argc; i++) {
        memcpy(data, argv[i], lens[i]);
        sc->argv[i + 3] = data;
        sc->lens[i + 3] = lens[i];
        data += lens[i];
    }
    script_send(sc, 0);
}

/* An error reply that says the shard's server is no longer a master. */
static int
reply_not_master(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR
           && (strncmp(r->str, "READONLY", 8) == 0
               || strncmp(r->str, "UNBLOCKED", 9) == 0);
}

/* Reply to a write we do not wait for: only a READONLY matters. */
static void
write_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    rlink *l = ac->data;

    (void)priv;
    if (reply_not_master(r) && l->ac != NULL) {
        shard_lost_master(l->shard, ((redisReply *)r)->str);
    }
}

/* ------------------------------------------------------------------ */
/* group registration                                                   */

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

/* ZADD the local channel of group to its set on the group's shard, then
 * EXPIRE it (channels_redis' group_add). */
void
ph_srv_redis_group_add(ph_server *srv, const char *group)
{
    char key[PH_KEY_MAX], member[PH_KEY_MAX], score[32], exp[16];
    int shard = ph_srv_shard_of(srv, group, strlen(group));
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
    ph_srv_redis_command(srv, shard, write_reply_cb, NULL, 4, argv, lens);
    argv[0] = "EXPIRE"; argv[2] = exp;
    for (i = 0; i < 3; i++) {
        lens[i] = strlen(argv[i]);
    }
    ph_srv_redis_command(srv, shard, NULL, NULL, 3, argv, lens);
}

/* ZREM this process's channel from the Redis set of group (fire and
 * forget; a lost command is repaired by the group's expiry). */
void
ph_srv_redis_group_del(ph_server *srv, const char *group)
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
    ph_srv_redis_command(srv, ph_srv_shard_of(srv, group, strlen(group)),
                         NULL, NULL, 3, argv, lens);
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
            ph_srv_conn_send(srv, g->members[i], f);
        }
    }
    ph_srv_frame_release(srv, f);
}

/* GET the state of game group g (on its shard) and send it to g's sockets. */
static void
group_resync(ph_server *srv, const ph_group *g)
{
    char key[PH_KEY_MAX];
    const char *argv[2];
    size_t lens[2];
    char *name = strdup(g->name);

    if (name == NULL) {
        return;
    }
    ph_srv_state_key(srv, g->name + 5, key, sizeof(key));
    argv[0] = "GET"; argv[1] = key;
    lens[0] = 3; lens[1] = strlen(key);
    ph_srv_redis_command(srv, ph_srv_game_shard(srv, g->name + 5),
                         resync_reply_cb, name, 2, argv, lens);
}

/*
 * After shard's command link came (back) up: re-add the local groups that
 * live on it (Redis may have lost them) and, after a reconnect, resend
 * session.state to the games that may have missed events: those whose
 * group lives there and, when it is the home shard (where every group's
 * messages for this process are stored), all of them.
 */
static void
shard_reregister(rshard *sh, int resync)
{
    ph_server *srv = sh->srv;
    ph_group *g, *tmp;

    HASH_ITER(hh, srv->fan.groups, g, tmp) {
        int gs = ph_srv_shard_of(srv, g->name, strlen(g->name));

        if (gs == sh->index) {
            ph_srv_redis_group_add(srv, g->name);
        }
        if (resync && strncmp(g->name, PH_GROUP_GAME, strlen(PH_GROUP_GAME)) == 0
            && (gs == sh->index || sh->index == srv->home_shard)) {
            group_resync(srv, g);
        }
    }
}

/* Re-add every local group on its shard (the periodic refresh). */
void
ph_srv_redis_refresh(ph_server *srv)
{
    ph_group *g, *tmp;

    HASH_ITER(hh, srv->fan.groups, g, tmp) {
        if (ph_srv_redis_up(srv, ph_srv_shard_of(srv, g->name,
                                                 strlen(g->name)))) {
            ph_srv_redis_group_add(srv, g->name);
        }
    }
}

/*
 * The ready key's value on shard sh (Django's relay sets it to the Redis
 * server's run_id once it rebuilt the shard's keys from the database). A
 * change -- gone after a FLUSHALL, another value after a failover or a
 * rebuild -- means the shard may have lost our group memberships and
 * events without our links noticing: re-add and resync as after a
 * reconnect.
 */
static void
shard_ready_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    rshard *sh = priv;
    redisReply *reply = r;
    char now[PH_READY_MAX];

    (void)ac;
    if (reply == NULL || (reply->type != REDIS_REPLY_STRING
                          && reply->type != REDIS_REPLY_NIL)) {
        return;
    }
    now[0] = '\0';
    if (reply->type == REDIS_REPLY_STRING) {
        snprintf(now, sizeof(now), "%.*s", (int)reply->len, reply->str);
    }
    if (sh->ready_known && strcmp(now, sh->ready_seen) != 0) {
        ph_logf(sh->srv->log, PH_LOG_WARNING,
                "redis shard %d was reset (its keys %s): resyncing", sh->index,
                now[0] ? "were rebuilt" : "are gone");
        shard_reregister(sh, 1);
    }
    memcpy(sh->ready_seen, now, sizeof(now));
    sh->ready_known = 1;
}

/* Queue a GET of the ready key on sh's command link (if it is up). */
static void
shard_check_ready(rshard *sh)
{
    ph_server *srv = sh->srv;
    const char *argv[2];
    size_t lens[2];

    if (srv->cfg.ready_key == NULL || !sh->links[RLINK_CMD].up) {
        return;
    }
    argv[0] = "GET"; argv[1] = srv->cfg.ready_key;
    lens[0] = 3; lens[1] = strlen(srv->cfg.ready_key);
    ph_srv_redis_command(srv, sh->index, shard_ready_reply_cb, sh, 2, argv,
                         lens);
}

/* Read the ready key on every shard whose command link is up (the tick). */
void
ph_srv_redis_check_ready(ph_server *srv)
{
    int i;

    for (i = 0; i < srv->nshards; i++) {
        shard_check_ready(&srv->shards[i]);
    }
}

/* ------------------------------------------------------------------ */
/* link state                                                           */

static void
update_redis_up(ph_server *srv)
{
    int i, up = 0;

    for (i = 0; i < srv->nshards; i++) {
        up += srv->shards[i].links[RLINK_CMD].up
              && srv->shards[i].links[RLINK_RX].up;
    }
    atomic_store_explicit(&srv->st.redis_shards_up, up, memory_order_relaxed);
    atomic_store_explicit(&srv->st.redis_up, up == srv->nshards,
                          memory_order_relaxed);
}

/* The link passed its set-up (AUTH, SELECT, PING or ROLE): use it. */
static void
link_up(rlink *l)
{
    ph_server *srv = l->srv;
    rshard *sh = l->shard;
    char addr[PH_SENTINEL_HOST_MAX + PH_REDIS_CRED_MAX + 16];

    l->up = 1;
    l->backoff_ms = 0;
    if (l->ever_up) {
        cnt_add(&srv->st.redis_reconnects, 1);
    }
    ph_logf(srv->log, PH_LOG_INFO, "redis shard %d (%s) %s link up%s",
            sh->index, shard_addr(sh, addr, sizeof(addr)),
            link_names[l->kind], l->ever_up ? " (reconnected)" : "");
    update_redis_up(srv);
    if (l->kind == RLINK_CMD) {
        /*
         * Take the ready key's reading first: the link answers in order,
         * so every membership, admission and state read after it is
         * newer, and a reset in between changes what the next tick reads.
         * Left to the first tick (up to PH_TICK_MS later), a FLUSHALL and
         * rebuild before it went unseen and the sockets kept stale states.
         */
        shard_check_ready(sh);
        shard_reregister(sh, l->ever_up || sh->need_resync);
        sh->need_resync = 0;
    }
    else {
        rx_receive(l);
    }
    l->ever_up = 1;
}

/* A set-up command's step and script, carried as the reply's priv. */
#define SETUP_PRIV(step, script) \
    ((void *)(uintptr_t)((unsigned)(step) | ((unsigned)((script) + 1) << 8)))
#define SETUP_STEP(priv) ((ph_setup_step)((uintptr_t)(priv) & 0xffu))
#define SETUP_SCRIPT(priv) ((int)((uintptr_t)(priv) >> 8) - 1)

/* A set-up reply: the link is up once the last one arrived without error. */
static void
setup_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    rlink *l = ac->data;
    rshard *sh = l->shard;
    redisReply *reply = r;
    char addr[PH_SENTINEL_HOST_MAX + PH_REDIS_CRED_MAX + 16];
    char why[256];
    ph_setup_result res;

    if (reply == NULL || l->ac == NULL) {
        return;                        /* going down: disconnect_cb follows */
    }
    l->setup_pending--;
    if (l->setup_failed) {
        return;
    }
    res = ph_setup_check(SETUP_STEP(priv), SETUP_SCRIPT(priv), reply,
                         sh->sha, why, sizeof(why));
    if (res != PH_SETUP_OK) {
        l->setup_failed = 1;
        if (res == PH_SETUP_NOT_MASTER) {
            ph_logf(l->srv->log, PH_LOG_WARNING, "redis shard %d (%s) %s "
                    "link: not a master any more; asking the sentinels again",
                    sh->index, shard_addr(sh, addr, sizeof(addr)),
                    link_names[l->kind]);
            sh->have_master = 0;
        }
        else {
            ph_logf(l->srv->log, PH_LOG_ERROR, "redis shard %d (%s) %s link: "
                    "%s", sh->index, shard_addr(sh, addr, sizeof(addr)),
                    link_names[l->kind], why);
        }
        redisAsyncDisconnect(ac);      /* retried with backoff */
        return;
    }
    if (l->setup_pending == 0 && l->kind != RLINK_SENTINEL) {
        link_up(l);
    }
}

/* Queue l's set-up commands (rsetup.h); each reply goes to setup_reply_cb. */
static void
setup_send(rlink *l, const char *user, const char *password, int db,
           unsigned flags)
{
    ph_setup setup;
    int i;

    l->setup_pending = 0;
    l->setup_failed = 0;
    ph_setup_build(&setup, user, password, db, flags);
    for (i = 0; i < setup.n; i++) {
        ph_setup_cmd *c = &setup.cmd[i];

        if (redisAsyncCommandArgv(l->ac, setup_reply_cb,
                                  SETUP_PRIV(c->step, c->script), c->argc,
                                  c->argv, c->lens) == REDIS_OK) {
            l->setup_pending++;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Sentinel discovery                                                   */

static int
is_numeric_host(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1
           || inet_pton(AF_INET6, host, buf) == 1;
}

/* Use the master m the sentinel of discovery link l named. */
static void
sentinel_use_master(rlink *l, const ph_sentinel_addr *m)
{
    rshard *sh = l->shard;
    const ph_sentinel_addr *s = &sh->cfg.sentinels[sh->sentinel_next];

    if (sh->host[0] == '\0') {
        ph_logf(l->srv->log, PH_LOG_INFO, "redis shard %d: master '%s' at "
                "%s:%d (sentinel %s:%d)", sh->index, sh->cfg.master_name,
                m->host, m->port, s->host, s->port);
    }
    else if (strcmp(sh->host, m->host) != 0 || sh->port != m->port) {
        ph_logf(l->srv->log, PH_LOG_WARNING, "redis shard %d: master '%s' "
                "failed over from %s:%d to %s:%d (sentinel %s:%d)", sh->index,
                sh->cfg.master_name, sh->host, sh->port, m->host, m->port,
                s->host, s->port);
    }
    else {
        ph_logf(l->srv->log, PH_LOG_DEBUG, "redis shard %d: master '%s' "
                "still at %s:%d", sh->index, sh->cfg.master_name, m->host,
                m->port);
    }
    memcpy(sh->host, m->host, sizeof(sh->host));
    sh->port = m->port;
    sh->have_master = 1;
    sh->sentinel_tried = 0;
    l->backoff_ms = 0;
    redisAsyncDisconnect(l->ac);
    ph_srv_redis_open(&sh->links[RLINK_CMD]);
    ph_srv_redis_open(&sh->links[RLINK_RX]);
}

/* The sentinel answered: use the master it names, or ask the next one. */
static void
sentinel_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    rlink *l = ac->data;
    rshard *sh = l->shard;
    const ph_sentinel_addr *s = &sh->cfg.sentinels[sh->sentinel_next];
    ph_sentinel_addr m;
    char err[PH_SENTINEL_HOST_MAX + 128];

    (void)priv;
    if (r == NULL || l->ac == NULL) {
        return;                        /* going down: disconnect_cb follows */
    }
    if (l->setup_failed) {
        return;                        /* AUTH refused: already logged */
    }
    if (ph_sentinel_parse_master(r, &m, err, sizeof(err)) == 0) {
        if (is_numeric_host(m.host)) {
            sentinel_use_master(l, &m);
            return;
        }
        snprintf(err, sizeof(err), "master host %.100s is not an IP address "
                 "(the sidecar never resolves names on its loop)", m.host);
    }
    ph_logf(l->srv->log, PH_LOG_WARNING, "redis shard %d: sentinel %s:%d: %s",
            sh->index, s->host, s->port, err);
    redisAsyncDisconnect(ac);          /* disconnect_cb asks the next one */
}

/* The sentinel link is gone: done, or on to the next sentinel / backoff. */
static void
sentinel_gone(rlink *l)
{
    rshard *sh = l->shard;

    if (l->srv->phase != SRV_RUNNING || sh->have_master) {
        return;
    }
    sh->sentinel_next = (sh->sentinel_next + 1) % sh->cfg.nsentinels;
    if (++sh->sentinel_tried < sh->cfg.nsentinels) {
        ph_srv_redis_open(l);
        return;
    }
    sh->sentinel_tried = 0;
    ph_logf(l->srv->log, PH_LOG_WARNING, "redis shard %d: no sentinel named "
            "a master for '%s'; asking again", sh->index, sh->cfg.master_name);
    rlink_schedule(l);
}

/* Connected to a sentinel: AUTH if configured, then ask for the master. */
static void
sentinel_ask(rlink *l)
{
    rshard *sh = l->shard;
    const char *argv[3];
    size_t lens[3];

    setup_send(l, sh->cfg.sentinel_username, sh->cfg.sentinel_password, 0, 0);
    ph_sentinel_command(sh->cfg.master_name, argv, lens);
    redisAsyncCommandArgv(l->ac, sentinel_reply_cb, NULL, 3, argv, lens);
}

/*
 * The shard's master is unknown or wrong (READONLY, UNBLOCKED, ROLE says
 * replica): forget it and drop both links; their reconnects ask the
 * sentinels. Without Sentinel there is nobody to ask: log it only.
 */
static void
shard_lost_master(rshard *sh, const char *why)
{
    int k;

    if (sh->cfg.master_name[0] == '\0') {
        ph_logf(sh->srv->log, PH_LOG_ERROR, "redis shard %d: %.200s",
                sh->index, why);
        return;
    }
    if (!sh->have_master) {
        return;
    }
    ph_logf(sh->srv->log, PH_LOG_WARNING, "redis shard %d: %s:%d is no longer "
            "the master (%.200s); asking the sentinels", sh->index, sh->host,
            sh->port, why);
    sh->have_master = 0;
    for (k = RLINK_CMD; k <= RLINK_RX; k++) {
        rlink *l = &sh->links[k];

        l->up = 0;
        if (l->ac != NULL) {
            redisAsyncDisconnect(l->ac);
        }
    }
    update_redis_up(sh->srv);
}

/* ------------------------------------------------------------------ */
/* connecting                                                           */

static void
rlink_connect_cb(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    rlink *l = ac->data;
    rshard *sh = l->shard;
    char addr[PH_SENTINEL_HOST_MAX + PH_REDIS_CRED_MAX + 16];

    if (status != REDIS_OK) {
        /* hiredis frees ac after this callback. */
        ph_logf(l->srv->log, PH_LOG_WARNING, "redis shard %d (%s) %s link: "
                "connect failed: %s", sh->index,
                shard_addr(sh, addr, sizeof(addr)), link_names[l->kind],
                ac->errstr);
        l->ac = NULL;
        l->up = 0;
        update_redis_up(l->srv);
        if (l->kind == RLINK_SENTINEL) {
            sentinel_gone(l);
            return;
        }
        if (sh->cfg.master_name[0] != '\0') {
            sh->have_master = 0;       /* the master may have moved */
        }
        rlink_schedule(l);
        return;
    }
    if (l->kind == RLINK_SENTINEL) {
        sentinel_ask(l);
        return;
    }
    /* ROLE checks a Sentinel-named master (a sentinel may lag a failover,
     * as redis-py checks); PING makes a missing password fail here. The
     * command link loads the scripts it runs by SHA1 (ph_srv_redis_script). */
    setup_send(l, sh->cfg.username, sh->cfg.password, sh->cfg.db,
               (sh->cfg.master_name[0] != '\0' ? PH_SETUP_CHECK_ROLE : 0u)
               | PH_SETUP_PING_LAST
               | (l->kind == RLINK_CMD ? PH_SETUP_LOAD_SCRIPTS : 0u));
    if (l->setup_pending == 0) {
        redisAsyncDisconnect(ac);      /* could not queue: retry */
    }
}

static void
rlink_disconnect_cb(const redisAsyncContext *ac, int status)
{
    rlink *l = ac->data;
    rshard *sh = l->shard;
    ph_server *srv = l->srv;
    char addr[PH_SENTINEL_HOST_MAX + PH_REDIS_CRED_MAX + 16];
    int was_up = l->up;

    l->ac = NULL;
    l->up = 0;
    update_redis_up(srv);
    if (srv->phase != SRV_RUNNING) {
        return;
    }
    if (l->kind == RLINK_SENTINEL) {
        sentinel_gone(l);
        return;
    }
    if (was_up || status != REDIS_OK) {
        ph_logf(srv->log, PH_LOG_WARNING, "redis shard %d (%s) %s link lost "
                "(%s%s); reconnecting", sh->index,
                shard_addr(sh, addr, sizeof(addr)), link_names[l->kind],
                status == REDIS_OK ? "closed" : ac->errstr,
                status != REDIS_OK && ac->err == REDIS_ERR_OOM
                    ? ": a reply over the reader's size bounds, or no memory"
                    : "");
    }
    if (l->kind == RLINK_CMD) {
        sh->need_resync = 1;
    }
    if (sh->cfg.master_name[0] != '\0' && status != REDIS_OK) {
        sh->have_master = 0;           /* ask the sentinels where it went */
    }
    rlink_schedule(l);
}

/*
 * Open l's connection now (a sentinel's for a discovery link, the master's
 * once known otherwise; an unknown master starts discovery instead). On
 * immediate failure a retry is scheduled. Never blocks: host names are
 * numeric, hiredis connects non-blocking.
 */
void
ph_srv_redis_open(rlink *l)
{
    ph_server *srv = l->srv;
    rshard *sh = l->shard;
    redisAsyncContext *ac;
    const char *host = sh->host;
    int port = sh->port;

    if (srv->phase != SRV_RUNNING || l->ac != NULL) {
        return;
    }
    if (l->kind == RLINK_SENTINEL) {
        host = sh->cfg.sentinels[sh->sentinel_next].host;
        port = sh->cfg.sentinels[sh->sentinel_next].port;
    }
    else if (!sh->have_master) {
        rlink *s = &sh->links[RLINK_SENTINEL];

        if (s->ac == NULL && !uv_is_active((uv_handle_t *)&s->retry)) {
            ph_srv_redis_open(s);      /* discovery opens us when done */
        }
        return;
    }
    ac = host[0] == '/' ? redisAsyncConnectUnix(host)
                        : redisAsyncConnect(host, port);
    if (ac == NULL || ac->err) {
        ph_logf(srv->log, PH_LOG_WARNING, "redis shard %d %s link: "
                "connect: %s", sh->index, link_names[l->kind],
                ac ? ac->errstr : "out of memory");
        if (ac != NULL) {
            redisAsyncFree(ac);
        }
        rlink_schedule(l);
        return;
    }
    /* Arrays over PH_REDIS_MAX_ELEMENTS and strings over PH_REDIS_MAX_BULK
     * fail the reply (hiredis 0.14 would calloc any array count Redis
     * sends): the link then drops and reconnects like on any error. */
    (void)ph_redis_reader_bound(ac->c.reader);
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
    ph_srv_redis_open(t->data);
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

/* ------------------------------------------------------------------ */
/* the receive loop                                                     */

/*
 * The BZPOPMIN's reply: its message is dispatched corked (queued for each
 * recipient), to go out with the rest of the batch from rx_batch_cb when
 * the pipelined ZPOPMIN's reply is already in hiredis' read buffer (Redis
 * runs the ZPOPMIN as soon as the BZPOPMIN is served and usually writes
 * both replies in one go; hiredis then calls rx_batch_cb before returning
 * to the loop). When it is not there yet, the cork is flushed here: a lone
 * event never waits for Redis' next turn (BENCHMARKS.md, issue 20). On a
 * lost link hiredis calls both callbacks with NULL, so the cork always ends.
 */
static void
rx_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    rlink *l = ac->data;
    ph_server *srv = l->srv;
    redisReply *reply = r;
    int alone = priv == RX_ALONE;      /* no ZPOPMIN behind this one */

    if (reply == NULL) {
        return;                        /* link going down; reconnect re-arms */
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3
        && reply->element[1]->type == REDIS_REPLY_STRING) {
        ph_srv_cork_begin(srv);
        rx_note_size(srv, reply->element[1]->len);
        ph_srv_dispatch(srv, (const unsigned char *)reply->element[1]->str,
                        reply->element[1]->len);
        if (alone || ac->c.reader == NULL
            || ac->c.reader->pos >= ac->c.reader->len) {
            ph_srv_cork_flush(srv);    /* the batch reply is not here yet */
        }
    }
    else if (reply_not_master(reply) && l->ac != NULL) {
        shard_lost_master(l->shard, reply->str);
        return;
    }
    else if (reply->type == REDIS_REPLY_ERROR) {
        ph_logf(srv->log, PH_LOG_ERROR, "BZPOPMIN: %s", reply->str);
    }
    if (alone && srv->phase == SRV_RUNNING) {
        rx_receive(l);
    }
}

/*
 * The pipelined ZPOPMIN's reply (member, score, member, score, ...): the
 * messages that were waiting behind the first one. Dispatched corked too,
 * then every recipient is written once (ph_srv_cork_flush) and the next
 * receive is issued.
 */
static void
rx_batch_cb(redisAsyncContext *ac, void *r, void *priv)
{
    rlink *l = ac->data;
    ph_server *srv = l->srv;
    redisReply *reply = r;
    size_t i;

    (void)priv;
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY) {
        ph_srv_cork_begin(srv);
        for (i = 0; i + 1 < reply->elements; i += 2) {
            if (reply->element[i]->type == REDIS_REPLY_STRING) {
                rx_note_size(srv, reply->element[i]->len);
                ph_srv_dispatch(srv, (const unsigned char *)reply->element[i]->str,
                                reply->element[i]->len);
            }
        }
    }
    ph_srv_cork_flush(srv);
    if (reply == NULL || (reply_not_master(reply) && l->ac != NULL)) {
        return;                        /* lost link / master: re-armed on reconnect */
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        ph_logf(srv->log, PH_LOG_ERROR, "ZPOPMIN: %s", reply->str);
    }
    if (srv->phase == SRV_RUNNING) {
        rx_receive(l);
    }
}

/* Fold a received message's size into the average: up at once to a larger
 * one, down slowly (1/8 weight), so large messages shrink batches at once. */
static void
rx_note_size(ph_server *srv, size_t len)
{
    srv->rx_avg_bytes = len > srv->rx_avg_bytes
                        ? len : (srv->rx_avg_bytes * 7 + len) / 8;
}

/*
 * Issue the next receive on link l: a blocking pop of one message and,
 * pipelined behind it, a ZPOPMIN of up to PH_RX_BATCH - 1 more (fewer when
 * messages are large: about PH_RX_BATCH_BYTES a batch), so a burst costs
 * one round trip per batch instead of one per message. Messages of half
 * that or more are popped one at a time (RX_ALONE), as before batching:
 * they fill a send by themselves.
 */
static void
rx_receive(rlink *l)
{
    ph_server *srv = l->srv;
    char timeout[16], count[24];
    const char *argv[3];
    size_t lens[3], more;

    if (l->ac == NULL || !l->up) {
        return;
    }
    snprintf(timeout, sizeof(timeout), "%d", srv->cfg.receive_timeout);
    more = PH_RX_BATCH_BYTES / (srv->rx_avg_bytes ? srv->rx_avg_bytes : 1);
    more = more < 1 ? 0 : more > PH_RX_BATCH ? PH_RX_BATCH - 1 : more - 1;
    snprintf(count, sizeof(count), "%zu", more);
    argv[0] = "BZPOPMIN"; argv[1] = srv->rx_key; argv[2] = timeout;
    lens[0] = 8; lens[1] = strlen(srv->rx_key); lens[2] = strlen(timeout);
    redisAsyncCommandArgv(l->ac, rx_reply_cb, more ? NULL : RX_ALONE, 3,
                          argv, lens);
    if (more == 0) {
        return;
    }
    argv[0] = "ZPOPMIN"; argv[2] = count;
    lens[0] = 7; lens[2] = strlen(count);
    redisAsyncCommandArgv(l->ac, rx_batch_cb, NULL, 3, argv, lens);
}

/* ------------------------------------------------------------------ */
/* lifetime                                                             */

static int
host_check(const ph_redis_host *h, char *err, size_t errlen)
{
    int i;

    if (memchr(h->host, '\0', sizeof(h->host)) == NULL
        || memchr(h->username, '\0', sizeof(h->username)) == NULL
        || memchr(h->password, '\0', sizeof(h->password)) == NULL
        || memchr(h->master_name, '\0', sizeof(h->master_name)) == NULL
        || memchr(h->sentinel_username, '\0', sizeof(h->sentinel_username))
               == NULL
        || memchr(h->sentinel_password, '\0', sizeof(h->sentinel_password))
               == NULL) {
        ph_srv_set_err(err, errlen, "Redis host string not terminated");
        return -1;
    }
    if (h->db < 0) {
        ph_srv_set_err(err, errlen, "Redis db must be >= 0");
        return -1;
    }
    if (h->master_name[0] != '\0') {
        if (h->nsentinels < 1 || h->nsentinels > PH_SENTINEL_MAX) {
            ph_srv_set_err(err, errlen, "a Sentinel host needs 1 to %d "
                           "sentinels", PH_SENTINEL_MAX);
            return -1;
        }
        for (i = 0; i < h->nsentinels; i++) {
            if (!is_numeric_host(h->sentinels[i].host)
                || h->sentinels[i].port <= 0
                || h->sentinels[i].port > 65535) {
                ph_srv_set_err(err, errlen, "sentinel %d: numeric address "
                               "and port 1..65535 required", i);
                return -1;
            }
        }
        return 0;
    }
    if (h->host[0] != '/' && (!is_numeric_host(h->host) || h->port <= 0
                              || h->port > 65535)) {
        ph_srv_set_err(err, errlen, "Redis host %.100s:%d: numeric address "
                       "and port 1..65535 required", h->host, h->port);
        return -1;
    }
    return 0;
}

/*
 * Build the shards from cfg (redis_hosts, or the single redis_host) and
 * their links' timers on srv's loop; home_shard is where senders put this
 * process's messages (the hash of chan_prefix, which must be set). Returns
 * 0, or -1 with a message in err (bad host entry, out of memory).
 */
int
ph_srv_redis_init(ph_server *srv, char *err, size_t errlen)
{
    size_t n = srv->cfg.redis_hosts != NULL ? srv->cfg.nredis_hosts : 1;
    size_t i;
    int k;

    if (n == 0 || n > PH_REDIS_SHARDS_MAX) {
        ph_srv_set_err(err, errlen, "need 1 to %d Redis hosts",
                       PH_REDIS_SHARDS_MAX);
        return -1;
    }
    srv->shards = calloc(n, sizeof(*srv->shards));
    if (srv->shards == NULL) {
        ph_srv_set_err(err, errlen, "out of memory");
        return -1;
    }
    srv->nshards = (int)n;
    for (i = 0; i < n; i++) {
        rshard *sh = &srv->shards[i];

        if (srv->cfg.redis_hosts != NULL) {
            sh->cfg = srv->cfg.redis_hosts[i];
        }
        else {
            snprintf(sh->cfg.host, sizeof(sh->cfg.host), "%s",
                     srv->cfg.redis_host);
            sh->cfg.port = srv->cfg.redis_port;
            sh->cfg.db = srv->cfg.redis_db;
        }
        if (host_check(&sh->cfg, err, errlen) < 0) {
            return -1;
        }
        sh->srv = srv;
        sh->index = (int)i;
        if (sh->cfg.master_name[0] == '\0') {
            memcpy(sh->host, sh->cfg.host, sizeof(sh->host));
            sh->port = sh->cfg.port;
            sh->have_master = 1;
        }
        for (k = 0; k < PH_RLINKS; k++) {
            sh->links[k].srv = srv;
            sh->links[k].shard = sh;
            sh->links[k].kind = (rlink_kind)k;
            sh->links[k].retry.data = &sh->links[k];
            if (uv_timer_init(&srv->loop, &sh->links[k].retry) != 0) {
                ph_srv_set_err(err, errlen, "libuv timer init failed");
                return -1;
            }
        }
    }
    srv->cfg.redis_hosts = NULL;       /* the caller's array: copied */
    srv->home_shard = ph_srv_shard_of(srv, srv->chan_prefix,
                                      strlen(srv->chan_prefix));
    return 0;
}

/* Open every shard's command and receive links (loop thread, running). */
void
ph_srv_redis_start(ph_server *srv)
{
    int i;

    for (i = 0; i < srv->nshards; i++) {
        ph_srv_redis_open(&srv->shards[i].links[RLINK_CMD]);
        ph_srv_redis_open(&srv->shards[i].links[RLINK_RX]);
    }
}

/* Free every hiredis context and close the retry timers (teardown; the
 * caller runs the loop until the handles are closed). */
void
ph_srv_redis_teardown(ph_server *srv)
{
    int i, k;

    for (i = 0; i < srv->nshards; i++) {
        for (k = 0; k < PH_RLINKS; k++) {
            rlink *l = &srv->shards[i].links[k];

            if (l->ac != NULL) {
                redisAsyncContext *ac = l->ac;

                l->ac = NULL;
                redisAsyncFree(ac);
            }
            if (l->retry.loop != NULL
                && !uv_is_closing((uv_handle_t *)&l->retry)) {
                uv_close((uv_handle_t *)&l->retry, NULL);
            }
        }
    }
}

/* Release the shards (after ph_srv_redis_teardown and the loop's close). */
void
ph_srv_redis_free(ph_server *srv)
{
    free(srv->shards);
    srv->shards = NULL;
    srv->nshards = 0;
}
