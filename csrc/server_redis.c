/*
 * server_redis.c: the sidecar's two hiredis links on the loop (commands;
 * the BZPOPMIN receive loop), their reconnection with backoff, and the
 * process's group memberships in Redis (one member per process per group,
 * re-added on refresh and after a reconnect).
 */
#define _GNU_SOURCE 1

#include "server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvredis.h"

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

/* ZADD the local channel of group to its Redis group set, then EXPIRE. */
void
ph_srv_redis_group_add(ph_server *srv, const char *group)
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
    ph_srv_redis_command(srv, NULL, NULL, 4, argv, lens);
    argv[0] = "EXPIRE"; argv[2] = exp;
    for (i = 0; i < 3; i++) {
        lens[i] = strlen(argv[i]);
    }
    ph_srv_redis_command(srv, NULL, NULL, 3, argv, lens);
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
    ph_srv_redis_command(srv, NULL, NULL, 3, argv, lens);
}
/* ------------------------------------------------------------------ */
/* Redis links                                                          */

static void rlink_schedule(rlink *l);
static void rx_receive(ph_server *srv);

/*
 * Send argv on the command link. fn(ac, reply, priv) runs exactly once:
 * with the reply, or with NULL when the link is down or the command cannot
 * be queued (then synchronously, before this returns). fn may be NULL.
 */
void
ph_srv_redis_command(ph_server *srv, redisCallbackFn *fn, void *priv, int argc,
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
            ph_srv_conn_send(srv, g->members[i], f);
        }
    }
    ph_srv_frame_release(srv, f);
}

/*
 * After (re)connecting the command link: re-add every local group (Redis
 * may have lost them) and, after a reconnect, resend session state.
 */
void
ph_srv_redis_reregister(ph_server *srv, int resync)
{
    ph_group *g, *tmp;

    HASH_ITER(hh, srv->fan.groups, g, tmp) {
        ph_srv_redis_group_add(srv, g->name);
        if (resync && strncmp(g->name, "game_", 5) == 0) {
            char key[PH_KEY_MAX];
            const char *argv[2];
            size_t lens[2];
            char *name = strdup(g->name);

            if (name == NULL) {
                continue;
            }
            ph_srv_state_key(srv, g->name + 5, key, sizeof(key));
            argv[0] = "GET"; argv[1] = key;
            lens[0] = 3; lens[1] = strlen(key);
            ph_srv_redis_command(srv, resync_reply_cb, name, 2, argv, lens);
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
        ph_srv_redis_reregister(srv, l->ever_up || srv->need_resync);
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
    ph_logf(srv->log, PH_LOG_WARNING, "redis %s link lost (%s%s); reconnecting",
            l->kind == RLINK_CMD ? "command" : "receive",
            status == REDIS_OK ? "closed" : ac->errstr,
            status != REDIS_OK && ac->err == REDIS_ERR_OOM
                ? ": a reply over the reader's size bounds, or no memory" : "");
    if (l->kind == RLINK_CMD) {
        srv->need_resync = 1;
    }
    rlink_schedule(l);
}

/* Open l's connection now; on immediate failure schedule a retry. */
void
ph_srv_redis_open(rlink *l)
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
        ph_srv_dispatch(srv, (const unsigned char *)reply->element[1]->str,
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

