/*
 * server_conn.c: one WebSocket connection's life, as the lws protocol
 * callback sees it: handshake checks (route, Origin), authentication
 * against the Redis snapshot Django writes, welcome and state, client
 * messages (answered here or forwarded to Django), fan-out of
 * channel-layer messages to local sockets, bounded output queues and
 * asynchronous closes.
 */
#define _GNU_SOURCE 1

#include "server_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chanmsg.h"
#include "conn_auth.h"
#include "keys.h"
#include "wsparse.h"

/* protocol.TOO_MANY_MESSAGES, word for word. */
#define PH_MSG_RATE_LIMITED "Too many messages: wait a moment."
/* Longest X-Forwarded-For header read (lws keeps at most 4 KiB of headers). */
#define PH_XFF_MAX 2048
#define PH_CLOSE_FLOODING 4008       /* protocol.CLOSE_FLOODING */
/*
 * lws_write's opcode for a close frame: 4 in lws 4.1's enum, left out of
 * the public header because lws_close_reason() normally sends it; that
 * path hangs up without waiting for the client (see ws_close_then_wait).
 */
#define PH_LWS_WRITE_CLOSE ((enum lws_write_protocol)4)


/* The wall clock in epoch milliseconds (welcome's server_time). */
static int64_t
wall_clock_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* connection helpers                                                   */

static void conn_queue(ph_server *srv, ph_conn *c, ph_frame *f, int arm);
static int conn_write_packed(ph_server *srv, ph_conn *c, size_t max);
static int cork_add(ph_server *srv, ph_conn *c);
static void cork_write(ph_server *srv, ph_conn *c);


/*
 * Close c asynchronously with code: the queue is dropped and the close
 * frame goes out from the next WRITEABLE (closing from WRITEABLE by
 * returning -1 loses the close frame in this lws build; see
 * docs/architecture.md).
 */
void
ph_srv_conn_close(ph_server *srv, ph_conn *c, int code)
{
    if (c->state == PH_CONN_CLOSING) {
        return;
    }
    c->state = PH_CONN_CLOSING;
    c->close_code = code;
    ph_outq_clear(&c->q, ph_srv_frame_release, srv);
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
void
ph_srv_conn_send(ph_server *srv, ph_conn *c, ph_frame *f)
{
    conn_queue(srv, c, f, 1);
}

/*
 * ph_srv_conn_send's body; arm = 0 leaves asking for WRITEABLE to the
 * caller (the corked fan-out writes the socket itself at the flush).
 */
static void
conn_queue(ph_server *srv, ph_conn *c, ph_frame *f, int arm)
{
    ph_outq_status rc;

    if (c->state == PH_CONN_CLOSING) {
        return;
    }
    rc = ph_outq_push(&c->q, f, &srv->out_limits, now_ms());
    if (rc == PH_OUTQ_OK) {
        if (arm && c->state == PH_CONN_READY) {
            lws_callback_on_writable(c->wsi);
        }
        return;
    }
    if (rc == PH_OUTQ_NOMEM) {
        ph_logf(srv->log, PH_LOG_ERROR, "out of memory queueing for "
                PH_CONN_ID_FMT, PH_CONN_ID_ARGS(c));
        ph_srv_conn_close(srv, c, 1011);
        return;
    }
    cnt_add(&srv->st.slow_consumer_closes, 1);
    ph_logf(srv->log, PH_LOG_WARNING,
            "slow consumer " PH_CONN_ID_FMT " (session %s): %zu messages, "
            "%zu bytes queued (%s limit); closing 1008",
            PH_CONN_ID_ARGS(c), c->code, c->q.count, c->q.bytes,
            rc == PH_OUTQ_HARD ? "hard" : "soft");
    ph_srv_conn_close(srv, c, 1008);
}

/*
 * Fan-out fast path: write f to c at once when nothing is ahead of it
 * (our queue is empty and lws holds no unsent remainder of an earlier
 * write), saving the two epoll_ctl calls that arming and disarming POLLOUT
 * cost per recipient. lws_write frames it (FIN + text, unmasked) in the
 * frame's headroom, identically for every recipient; a short send is kept
 * by lws (at most one frame per socket) and flushed before anything else,
 * so later frames see lws_partial_buffered() and take the queue. lws_write
 * never closes the wsi itself, so the caller's member array stays intact.
 * Only plain h1 WebSocket links without extensions exist here (see
 * "Performance notes" in docs/architecture.md). Returns 1 when f was
 * handed to lws (or c was closed on a send error), 0 when the caller must
 * queue it.
 */
static int
conn_write_now(ph_server *srv, ph_conn *c, ph_frame *f)
{
    int n;

    if (c->state != PH_CONN_READY || c->q.count != 0
        || lws_partial_buffered(c->wsi)) {
        return 0;
    }
    n = lws_write(c->wsi, ph_frame_payload(f), f->len, LWS_WRITE_TEXT);
    if (n < (int)f->len) {
        /* The socket is unusable (lws has marked it so): the close frame
         * will not get out either; lws drops the link on its timeout. */
        ph_srv_conn_close(srv, c, 1011);
        return 1;
    }
    cnt_add(&srv->st.messages_out, 1);
    cnt_add(&srv->st.bytes_out, f->len);
    return 1;
}

/* Queue a copy of text[0..len) for c alone. */
static void
conn_send_text(ph_server *srv, ph_conn *c, const char *text, size_t len)
{
    ph_frame *f = ph_frame_new(text, len);

    if (f == NULL) {
        ph_srv_conn_close(srv, c, 1011);
        return;
    }
    ph_srv_conn_send(srv, c, f);
    ph_srv_frame_release(srv, f);
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
            ph_srv_redis_group_del(srv, name);
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
        ph_srv_redis_group_add(srv, group);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* authentication: HMGET session hash, then GET state                  */

static void conn_run_pending(ph_server *srv, ph_conn *c);

/*
 * Queue the greeting in front of whatever was queued since c joined its
 * groups: welcome, the session.state frame, then (a player whose private
 * state is stored) the player.state frame; then c is READY. Takes the
 * caller's references to state and private (NULL: none). On failure c is
 * closed with 1011.
 */
static void
conn_greet(ph_server *srv, ph_conn *c, ph_frame *state, ph_frame *private)
{
    char buf[512], id[PH_CONN_ID_LEN + 1];
    ph_frame *welcome = NULL;
    int n, ok;

    ph_conn_id(c, id);
    n = ph_ws_welcome(buf, sizeof(buf), id, srv->cfg.server_version,
                      c->code, c->role == PH_ROLE_HOST ? "host" : "player",
                      c->player_id, wall_clock_ms());
    if (n >= 0) {
        welcome = ph_frame_new(buf, (size_t)n);
    }
    ok = welcome != NULL
         && (private == NULL || ph_outq_push_front(&c->q, private) == PH_OUTQ_OK)
         && ph_outq_push_front(&c->q, state) == PH_OUTQ_OK
         && ph_outq_push_front(&c->q, welcome) == PH_OUTQ_OK;
    if (welcome != NULL) {
        ph_srv_frame_release(srv, welcome);
    }
    if (private != NULL) {
        ph_srv_frame_release(srv, private);
    }
    ph_srv_frame_release(srv, state);
    if (!ok) {
        ph_srv_conn_close(srv, c, 1011);
        return;
    }
    c->state = PH_CONN_READY;
    lws_callback_on_writable(c->wsi);
    conn_run_pending(srv, c);
}

/*
 * Write "<private_key_prefix><code>:<player id>" (the Redis key of the
 * player.state text Django stores with each private message to the player,
 * realtime/snapshot.py private_key) NUL-terminated into out[0..outlen).
 */
static void
private_key(const ph_server *srv, const ph_conn *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s:%lld", srv->cfg.private_key_prefix, c->code,
             (long long)c->player_id);
}

/* The player's stored private state: greet with it (or without, nil). */
static void
private_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    ph_server *srv = link_srv(ac);
    redisReply *reply = r;
    ph_conn *c = ph_fanout_conn(&srv->fan, (uint64_t)(uintptr_t)priv);
    ph_frame *state, *private = NULL;

    if (c == NULL || c->state != PH_CONN_AUTHING || c->state_frame == NULL) {
        return;                        /* ws_closed releases a held frame */
    }
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ph_srv_conn_close(srv, c, 1013);
        return;
    }
    state = c->state_frame;
    c->state_frame = NULL;
    if (reply->type == REDIS_REPLY_STRING && reply->len > 0) {
        private = ph_frame_new(reply->str, reply->len);
        if (private == NULL) {
            ph_srv_frame_release(srv, state);
            ph_srv_conn_close(srv, c, 1011);
            return;
        }
    }
    conn_greet(srv, c, state, private);
}

/*
 * Read a player's private state before greeting them. The key lives on the
 * shard of the player's group (where Django's broadcast of a private
 * message stores it), and the GET goes on that shard's command link after
 * the ZADD of the player's group (conn_join), which orders it as the
 * session.state GET is ordered after the game group's.
 */
static void
conn_read_private(ph_server *srv, ph_conn *c)
{
    char key[PH_KEY_MAX], group[PH_GROUP_NAME_MAX];
    const char *argv[2];
    size_t lens[2];
    int n;

    n = snprintf(group, sizeof(group), PH_GROUP_PLAYER "%s_%lld", c->code,
                 (long long)c->player_id);
    private_key(srv, c, key, sizeof(key));
    argv[0] = "GET"; argv[1] = key;
    lens[0] = 3; lens[1] = strlen(key);
    ph_srv_redis_command(srv, ph_srv_shard_of(srv, group, (size_t)n),
                         private_reply_cb, (void *)(uintptr_t)c->serial, 2,
                         argv, lens);
}

static void
state_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    ph_server *srv = link_srv(ac);
    redisReply *reply = r;
    ph_conn *c = ph_fanout_conn(&srv->fan, (uint64_t)(uintptr_t)priv);
    ph_frame *f;

    if (c == NULL || c->state != PH_CONN_AUTHING) {
        return;
    }
    if (reply == NULL) {
        ph_srv_conn_close(srv, c, 1013);
        return;
    }
    if (reply->type != REDIS_REPLY_STRING || reply->len == 0) {
        /* Django writes the state with the session: without it there is
         * no session.state to send, which the protocol requires. */
        ph_logf(srv->log, PH_LOG_ERROR, "no session state for %s", c->code);
        ph_srv_conn_close(srv, c, 1011);
        return;
    }
    f = ph_frame_new(reply->str, reply->len);
    if (f == NULL) {
        ph_srv_conn_close(srv, c, 1011);
        return;
    }
    if (c->role == PH_ROLE_PLAYER) {
        c->state_frame = f;            /* greeted once the private state is in */
        conn_read_private(srv, c);
        return;
    }
    conn_greet(srv, c, f, NULL);
}

/* Write "<state_key_prefix><code>" (the Redis key of the session.state
 * text Django stores) NUL-terminated into out[0..outlen), truncating. */
void
ph_srv_state_key(const ph_server *srv, const char *code, char *out, size_t outlen)
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

/* No session hash: 4004 if the shard's keys are complete (the ready key
 * is there), else 1013: Redis lost them and Django is rebuilding them, so
 * the session may well exist; the client retries with backoff. */
static void
ready_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    ph_server *srv = link_srv(ac);
    redisReply *reply = r;
    ph_conn *c = ph_fanout_conn(&srv->fan, (uint64_t)(uintptr_t)priv);

    if (c == NULL || c->state != PH_CONN_AUTHING) {
        return;
    }
    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER
        && reply->integer == 1) {
        ph_srv_conn_close(srv, c, 4004);      /* no such session */
        return;
    }
    ph_srv_conn_close(srv, c, 1013);
}

/*
 * The session lookup's context (auth_reply_cb's priv): the connection and
 * the sha256 of the token it presented, held for that one round trip
 * only, so that no ph_conn carries it for its whole life.
 */
typedef struct auth_req {
    uint64_t serial;
    unsigned char digest[PH_SHA256_LEN];   /* zeros without a valid token */
} auth_req;

/* The session lookup's reply for c, which presented token_digest. */
static void
auth_check(ph_server *srv, ph_conn *c, redisReply *reply,
           const unsigned char token_digest[PH_SHA256_LEN])
{
    redisReply *host, *player, *closed;
    char digest[PH_SHA256_HEX_LEN + 1], group[PH_GROUP_NAME_MAX];
    char key[PH_KEY_MAX];
    const char *argv[2];
    size_t lens[2];

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 3) {
        ph_logf(srv->log, PH_LOG_WARNING, "session lookup failed for %s",
                c->code);
        ph_srv_conn_close(srv, c, 1013);
        return;
    }
    host = reply->element[0];
    player = reply->element[1];
    closed = reply->element[2];
    if (host->type != REDIS_REPLY_STRING) {
        if (srv->cfg.ready_key == NULL) {
            ph_srv_conn_close(srv, c, 4004);  /* no such session */
            return;
        }
        argv[0] = "EXISTS"; argv[1] = srv->cfg.ready_key;
        lens[0] = 6; lens[1] = strlen(srv->cfg.ready_key);
        ph_srv_redis_command(srv, ph_srv_game_shard(srv, c->code),
                             ready_reply_cb, (void *)(uintptr_t)c->serial, 2,
                             argv, lens);
        return;
    }
    if (closed->type == REDIS_REPLY_STRING && closed->len == 1
        && closed->str[0] == '1') {
        ph_srv_conn_close(srv, c, 4000);      /* the host exited the game */
        return;
    }
    if (!c->role_ok || !c->token_ok) {
        ph_srv_conn_close(srv, c, 4003);      /* after 4004, like the consumer */
        return;
    }
    if (c->role == PH_ROLE_HOST) {
        ph_sha256_hex(token_digest, digest);
        if (!ph_ct_equal(digest, PH_SHA256_HEX_LEN, host->str,
                         (size_t)host->len)) {
            ph_srv_conn_close(srv, c, 4003);
            return;
        }
        c->player_id = -1;
    }
    else {
        if (player->type != REDIS_REPLY_STRING
            || (c->player_id = parse_player_id(player->str,
                                               (size_t)player->len)) < 0) {
            ph_srv_conn_close(srv, c, 4003);
            return;
        }
    }
    snprintf(group, sizeof(group), PH_GROUP_GAME "%s", c->code);
    if (conn_join(srv, c, 0, group) < 0) {
        ph_srv_conn_close(srv, c, 1011);
        return;
    }
    if (c->role == PH_ROLE_PLAYER) {
        snprintf(group, sizeof(group), PH_GROUP_PLAYER "%s_%lld", c->code,
                 (long long)c->player_id);
        if (conn_join(srv, c, 1, group) < 0) {
            ph_srv_conn_close(srv, c, 1011);
            return;
        }
    }
    /* Joined before reading the snapshot, so no event falls in between.
     * When c is the first local member, conn_join has just queued the
     * group's ZADD on the command link of the group's shard, which also
     * holds the state; the GET below goes on the same link after it
     * (ph_srv_redis_command), and Redis runs one
     * connection's commands in order, so the ZADD has run before the GET
     * without waiting for its reply. A broadcast is one atomic script that
     * stores the event and the state (RS_GROUP_SEND; with several hosts
     * the state is stored before the event is delivered), so it runs
     * either before the ZADD (the GET then reads a state that has the
     * event) or after it (the event reaches this process and is queued
     * until the state is sent; the client drops seq <= the state's).
     * If the link is down both commands fail and c is closed with 1013. */
    ph_srv_state_key(srv, c->code, key, sizeof(key));
    argv[0] = "GET"; argv[1] = key;
    lens[0] = 3; lens[1] = strlen(key);
    ph_srv_redis_command(srv, ph_srv_game_shard(srv, c->code), state_reply_cb,
                         (void *)(uintptr_t)c->serial, 2, argv, lens);
}

/* Runs once per lookup (ph_srv_redis_command); frees its context. */
static void
auth_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    auth_req *q = priv;
    ph_server *srv = link_srv(ac);
    ph_conn *c = ph_fanout_conn(&srv->fan, q->serial);

    if (c != NULL && c->state == PH_CONN_AUTHING) {
        auth_check(srv, c, r, q->digest);
    }
    ph_wipe(q, sizeof(*q));
    free(q);
}

/*
 * Start the Redis lookups for a freshly opened socket: its token (still
 * readable from the handshake's headers) is hashed into the lookup's
 * context. Returns 0, or -1 when out of memory or libcrypto fails (the
 * caller closes with 1011).
 */
static int
conn_start_auth(ph_server *srv, ph_conn *c)
{
    char key[PH_KEY_MAX], field[2 + PH_SHA256_HEX_LEN + 1];
    char digest[PH_SHA256_HEX_LEN + 1], val[PH_TOKEN_MAX + 32];
    const char *argv[5], *v;
    size_t lens[5];
    auth_req *q = calloc(1, sizeof(*q));
    int i;

    if (q == NULL) {
        return -1;
    }
    q->serial = c->serial;
    if (c->token_ok) {
        /* Only the digest is used: Django stores sha256(token) too. */
        v = lws_get_urlarg_by_name(c->wsi, "session_token=", val, sizeof(val));
        if (v == NULL || ph_sha256(v, strlen(v), q->digest) < 0) {
            ph_logf(srv->log, PH_LOG_ERROR, "token digest failed for %s",
                    c->code);
            ph_wipe(val, sizeof(val));
            free(q);
            return -1;
        }
        ph_wipe(val, sizeof(val));
    }
    c->state = PH_CONN_AUTHING;
    snprintf(key, sizeof(key), "%s%s", srv->cfg.session_key_prefix, c->code);
    ph_sha256_hex(q->digest, digest);
    snprintf(field, sizeof(field), PH_FIELD_PLAYER "%s", digest);
    /* One round trip: host digest, this token's player id, exited flag. */
    argv[0] = "HMGET"; argv[1] = key; argv[2] = PH_FIELD_HOST; argv[3] = field;
    argv[4] = PH_FIELD_CLOSED;
    for (i = 0; i < 5; i++) {
        lens[i] = strlen(argv[i]);
    }
    ph_srv_redis_command(srv, ph_srv_game_shard(srv, c->code), auth_reply_cb,
                         q, 5, argv, lens);
    return 0;
}

/* ------------------------------------------------------------------ */
/* inbound: client -> Django through channels_redis                     */

static void conn_send_error(ph_server *srv, ph_conn *c, const char *code,
                            const char *message);

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
        conn_send_error(srv, c, "SERVER_BUSY", PH_MSG_BUSY);
    }
}

/* Send the client's raw text to the inbound channel on shard. */
static void
conn_forward(ph_server *srv, ph_conn *c, int shard, const char *text,
             size_t len)
{
    unsigned char prefix[PH_RANDOM_PREFIX_LEN], *member;
    char chan[128], cap_s[16], exp[16];
    ph_chanmsg_inbound m;
    const char *argv[4];
    size_t lens[4], mlen = 0;
    int i;

    ph_srv_rng_bytes(srv, prefix, sizeof(prefix));
    snprintf(chan, sizeof(chan), "%sc." PH_CONN_ID_FMT, srv->chan_prefix,
             PH_CONN_ID_ARGS(c));
    m.session = c->code;
    m.player_id = c->player_id;
    m.role = c->role == PH_ROLE_HOST ? "host" : "player";
    m.reply_channel = chan;
    m.text = text;
    m.text_len = len;
    member = ph_chanmsg_pack_inbound(prefix, sizeof(prefix), &m, &mlen);
    if (member == NULL) {
        cnt_add(&srv->st.redis_undelivered, 1);
        conn_send_error(srv, c, "SERVER_BUSY", PH_MSG_BUSY);
        return;
    }
    /* channels_redis' send(), scored by the Redis server's clock like the
     * layer's sends (rscripts.c RS_SEND). */
    snprintf(exp, sizeof(exp), "%d", srv->cfg.expiry);
    snprintf(cap_s, sizeof(cap_s), "%d", srv->cfg.capacity);
    argv[0] = srv->inbound_key; argv[1] = exp; argv[2] = cap_s;
    argv[3] = (char *)member;
    for (i = 0; i < 3; i++) {
        lens[i] = strlen(argv[i]);
    }
    lens[3] = mlen;                    /* binary: random bytes + msgpack */
    ph_srv_redis_script(srv, shard, RS_SEND, inbound_reply_cb,
                        (void *)(uintptr_t)c->serial, 1, 4, argv, lens);
    free(member);
}

/* Send {"type":"error",...} to c alone. */
static void
conn_send_error(ph_server *srv, ph_conn *c, const char *code,
                const char *message)
{
    char buf[512];
    int n = ph_ws_error(buf, sizeof(buf), code, message);

    if (n > 0) {
        conn_send_text(srv, c, buf, (size_t)n);
    }
}

/* Answer or forward one complete client message of a READY connection. */
static void
conn_handle_message(ph_server *srv, ph_conn *c, const char *text, size_t len)
{
    char small[PH_REPLY_MAX];
    char *reply = small;
    size_t cap = len + PH_REPLY_MAX;   /* a pong is ts's text + 21 bytes */
    int kind, shard;

    if (cap > sizeof(small)) {
        reply = malloc(cap);
        if (reply == NULL) {
            ph_srv_conn_close(srv, c, 1011);
            return;
        }
    }
    else {
        cap = sizeof(small);
    }
    kind = ph_ws_client_message(text, len, srv->cfg.client_types,
                                srv->cfg.max_json_depth, reply, cap);
    if (kind == PH_CLIENT_FORWARD) {
        if ((shard = ph_srv_inbound_shard(srv)) < 0) {
            cnt_add(&srv->st.redis_undelivered, 1);
            conn_send_error(srv, c, "SERVER_BUSY", PH_MSG_BUSY);
        }
        else {
            conn_forward(srv, c, shard, text, len);
        }
    }
    else if (kind < 0) {
        ph_srv_conn_close(srv, c, 1011);    /* out of memory */
    }
    else {
        conn_send_text(srv, c, reply, strlen(reply));
    }
    if (reply != small) {
        free(reply);
    }
}

/*
 * Close c with code once what is queued for it is written, with the close
 * handshake (ws_close_then_wait). For clients that are still sending.
 */
static void
conn_close_after_queue(ph_conn *c, int code)
{
    if (c->state == PH_CONN_CLOSING) {
        return;
    }
    c->state = PH_CONN_CLOSING;
    c->close_code = code;
    c->close_await_ack = 1;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, PH_CLOSE_WAIT_S);
    lws_callback_on_writable(c->wsi);
}

/*
 * Take one message from c's bucket (settings msg_rate, msg_burst). Over
 * the rate the message is dropped and answered RATE_LIMITED; after
 * msg_flood such drops without a pause c is closed 4008
 * (protocol.CLOSE_FLOODING: Daphne cannot send 1008, and both servers
 * close a flooder alike). Returns 1 when the message may be handled.
 */
static int
conn_rate_ok(ph_server *srv, ph_conn *c)
{
    /* uv_now: the loop's cached clock, no system call per message. */
    ph_rate_verdict v = ph_rate_take(&c->rate, &srv->rate, uv_now(&srv->loop));

    if (v == PH_RATE_OK) {
        return 1;
    }
    cnt_add(&srv->st.rate_limited, 1);
    if (v == PH_RATE_FLOOD) {
        cnt_add(&srv->st.flood_closes, 1);
        ph_logf(srv->log, PH_LOG_WARNING, PH_CONN_ID_FMT " (session %s, %s): "
                "%u messages over msg_rate; closing 4008", PH_CONN_ID_ARGS(c),
                c->code,
                c->addr != NULL ? c->addr->addr : "?", c->rate.drops);
        conn_close_after_queue(c, PH_CLOSE_FLOODING);
        return 0;
    }
    conn_send_error(srv, c, "RATE_LIMITED", PH_MSG_RATE_LIMITED);
    return 0;
}

/*
 * One complete client message. Until the welcome is queued the socket has
 * no identity to forward with, so messages wait (like a consumer's messages
 * wait for connect() to return) and are answered, in order, right after
 * the welcome and the state.
 */
static void
conn_on_message(ph_server *srv, ph_conn *c, const char *text, size_t len)
{
    cnt_add(&srv->st.messages_in, 1);
    cnt_add(&srv->st.bytes_in, len);
    ph_srv_hb_alive(srv, c);          /* data counts as liveness too */
    if (c->state == PH_CONN_AUTHING) {
        int rc = ph_conn_pending_add(c, text, len, PH_PENDING_MAX);

        if (rc < 0) {
            ph_logf(srv->log, PH_LOG_WARNING, PH_CONN_ID_FMT ": %s before "
                    "the welcome; closing", PH_CONN_ID_ARGS(c), rc == -1 ? "too many messages"
                                               : "out of memory");
            ph_srv_conn_close(srv, c, rc == -1 ? 1008 : 1011);
        }
        return;
    }
    if (c->state == PH_CONN_READY && conn_rate_ok(srv, c)) {
        conn_handle_message(srv, c, text, len);
    }
}

/* Answer the messages that arrived before the welcome. */
static void
conn_run_pending(ph_server *srv, ph_conn *c)
{
    ph_pending *p;

    while (c->state == PH_CONN_READY && (p = ph_conn_pending_pop(c)) != NULL) {
        conn_handle_message(srv, c, p->text, p->len);
        free(p);
    }
}

/* ------------------------------------------------------------------ */
/* outbound: channels_redis -> sockets                                  */

/* Deliver msg to one connection (frame shared, built lazily by caller). */
static void
deliver_to_conn(ph_server *srv, ph_conn *c, const ph_chanmsg *msg,
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
        ph_srv_conn_close(srv, c, code);
        return;
    }
    ph_srv_conn_deliver(srv, c, f);
}

/*
 * Write f to c at once when nothing is ahead of it (see conn_write_now),
 * else queue it (ph_srv_conn_send). The caller keeps its reference.
 */
void
ph_srv_conn_deliver(ph_server *srv, ph_conn *c, ph_frame *f)
{
    if (srv->corking && c->state == PH_CONN_READY && cork_add(srv, c) == 0) {
        conn_queue(srv, c, f, 0);
        if (c->state == PH_CONN_READY && c->q.bytes >= PH_CORK_BYTES) {
            /* A send's worth is waiting: write it now, so a burst never
             * piles up in the queue of a client that keeps up (its limits
             * are for clients that do not). */
            cork_write(srv, c);
        }
        return;
    }
    if (!conn_write_now(srv, c, f)) {
        ph_srv_conn_send(srv, c, f);
    }
}

/* ------------------------------------------------------------------ */
/* corked fan-out                                                       */

/* List c for the flush (once). 0, or -1 when the list cannot grow (the
 * caller then writes c at once, as without the cork). */
static int
cork_add(ph_server *srv, ph_conn *c)
{
    if (c->corked) {
        return 0;
    }
    if (srv->ncork == srv->cork_cap) {
        size_t ncap = srv->cork_cap ? srv->cork_cap * 2 : 1024;
        ph_conn **nc;

        if (ncap > UINT32_MAX) {
            return -1;
        }
        nc = realloc(srv->cork, ncap * sizeof(*nc));
        if (nc == NULL) {
            return -1;
        }
        srv->cork = nc;
        srv->cork_cap = ncap;
    }
    c->cork_idx = (uint32_t)srv->ncork;
    c->corked = 1;
    srv->cork[srv->ncork++] = c;
    return 0;
}

void
ph_srv_cork_begin(ph_server *srv)
{
    srv->corking = 1;
}

/*
 * Write each listed socket's queued frames, several in one send (see
 * conn_write_packed); a socket with more than one send's worth, or whose
 * previous send is still partly in lws, is left to WRITEABLE.
 */
void
ph_srv_cork_flush(ph_server *srv)
{
    size_t i;

    srv->corking = 0;
    for (i = 0; i < srv->ncork; i++) {
        ph_conn *c = srv->cork[i];

        if (c == NULL) {
            continue;                  /* closed since it was listed */
        }
        c->corked = 0;
        cork_write(srv, c);
        if (c->state == PH_CONN_READY && ph_outq_peek(&c->q) != NULL) {
            lws_callback_on_writable(c->wsi);
        }
    }
    srv->ncork = 0;
}

/* One corked send to ready c unless lws still holds part of the last. */
static void
cork_write(ph_server *srv, ph_conn *c)
{
    if (c->state != PH_CONN_READY || ph_outq_peek(&c->q) == NULL
        || lws_partial_buffered(c->wsi)) {
        return;
    }
    if (conn_write_packed(srv, c, (size_t)srv->cfg.writes_per_turn) < 0) {
        /* As in conn_write_now: the socket is unusable. */
        ph_srv_conn_close(srv, c, 1011);
    }
}

/*
 * Write c's oldest queued frames in one send: as many whole frames as fit
 * in PH_CORK_BYTES (ph_outq_pack lays them out, headers included, and
 * lws_write passes LWS_WRITE_RAW bytes through unframed, keeping any
 * unsent remainder like any other write), at most max. A frame bigger
 * than that goes alone, framed by lws in its headroom. Returns the frames
 * written (0 when the queue is empty), or -1 on a socket error.
 */
static int
conn_write_packed(ph_server *srv, ph_conn *c, size_t max)
{
    size_t nf, n, i, bytes = 0;
    ph_frame *f = ph_outq_peek(&c->q);

    if (f == NULL) {
        return 0;
    }
    n = ph_outq_pack(&c->q, max, srv->cork_buf, sizeof(srv->cork_buf), &nf);
    if (nf == 0) {
        if (lws_write(c->wsi, ph_frame_payload(f), f->len, LWS_WRITE_TEXT)
            < (int)f->len) {
            return -1;
        }
        nf = 1;
    }
    else if (lws_write(c->wsi, srv->cork_buf, n, LWS_WRITE_RAW) < (int)n) {
        return -1;
    }
    for (i = 0; i < nf; i++) {
        f = ph_outq_pop(&c->q, &srv->out_limits);
        bytes += f->len;
        ph_srv_frame_release(srv, f);
    }
    cnt_add(&srv->st.messages_out, nf);
    cnt_add(&srv->st.bytes_out, bytes);
    return (int)nf;
}

static int
mp_str_eq(const ph_chanmsg_str *s, const char *lit)
{
    size_t n = strlen(lit);

    return s->p != NULL && s->len == n && memcmp(s->p, lit, n) == 0;
}

/* Dispatch one message popped from our channels_redis key. */
void
ph_srv_dispatch(ph_server *srv, const unsigned char *p, size_t len)
{
    ph_chanmsg *msg;
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
    if (ph_chanmsg_decode(p + PH_RANDOM_PREFIX_LEN, len - PH_RANDOM_PREFIX_LEN,
                         msg) < 0) {
        cnt_add(&srv->st.decode_errors, 1);
        ph_logf(srv->log, PH_LOG_WARNING,
                "undecodable channel-layer message (%zu bytes)", len);
        goto done;
    }
    cnt_add(&srv->st.broadcasts, 1);
    /* websocket.close (Channels' own) and game.close (the host exited the
     * session: protocol.GROUP_CLOSE_TYPE) close with their code. */
    if (!mp_str_eq(&msg->type, "websocket.close")
        && !mp_str_eq(&msg->type, "game.close")) {
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
        const ph_chanmsg_str *ch = &msg->channels[i];
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
            char hex[17], id[PH_CONN_ID_LEN + 1];
            uint64_t serial;
            ph_conn *c;

            memcpy(hex, suffix, 16);
            hex[16] = '\0';
            serial = strtoull(hex, NULL, 16);
            c = ph_fanout_conn(&srv->fan, serial);
            if (c != NULL) {
                ph_conn_id(c, id);
                if (memcmp(id, suffix, PH_CONN_ID_LEN) == 0) {
                    deliver_to_conn(srv, c, msg, f);
                }
            }
        }
    }
done:
    if (f != NULL) {
        ph_srv_frame_release(srv, f);
    }
    free(msg);
}

/* ------------------------------------------------------------------ */
/* the lws protocol callback                                            */

/*
 * Answer status (403 as Daphne does for a refused handshake; 429 or 503
 * over a connection limit) with no body. lws'
 * status line names the version of the request it has parsed, which for
 * an upgrade is not known yet at this point (it would say HTTP/1.0, which
 * WebSocket clients reject): the request was HTTP/1.1, say so. Returns 1
 * (answered) or -1 (hang up).
 */
static int
http_refuse(struct lws *wsi, unsigned status)
{
    unsigned char buf[LWS_PRE + 256];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;

    if (lws_add_http_header_status(wsi, status, &p, end)
        || lws_add_http_header_content_length(wsi, 0, &p, end)
        || lws_finalize_http_header(wsi, &p, end)) {
        return -1;
    }
    if (p - start > 8 && memcmp(start, "HTTP/1.0", 8) == 0) {
        start[7] = '1';
    }
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0) {
        return -1;
    }
    return 1;
}

/*
 * The address wsi is counted under (see ph_conn_client_addr) into out.
 * Returns what ph_conn_client_addr does (PH_ADDR_PROXY: a trusted proxy
 * that names no client), or -1 when the X-Forwarded-For header is too
 * long to read.
 */
static int
conn_client_addr(ph_server *srv, struct lws *wsi, char out[PH_ADDR_MAX])
{
    char peer[PH_ADDR_MAX], xff[PH_XFF_MAX];
    const char *x = NULL;
    int n;

    peer[0] = '\0';
    lws_get_peer_simple(wsi, peer, sizeof(peer));
    n = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
    if (n > 0) {
        if (n >= (int)sizeof(xff)
            || lws_hdr_copy(wsi, xff, sizeof(xff), WSI_TOKEN_X_FORWARDED_FOR) < 0) {
            return -1;
        }
        x = xff;
    }
    return ph_conn_client_addr(peer, x, srv->cfg.trusted_proxies, out);
}

/*
 * Log the n-th refusal only when n is a power of two: someone opening
 * thousands of sockets must not flood the log ring (the counters in
 * /metrics have every one).
 */
static int
log_this_time(uint64_t n)
{
    return (n & (n - 1)) == 0;
}

/*
 * The connection caps: HTTP 503 when max_connections sockets are open,
 * 429 when max_conns_per_ip are open from this client's address, 400 when
 * its X-Forwarded-For is too long to read (all
 * checked before any per-connection state exists, so a refusal costs
 * nothing but the answer). Returns 0 to go on, else what http_refuse does.
 */
static int
ws_check_caps(ph_server *srv, struct lws *wsi)
{
    char addr[PH_ADDR_MAX];
    uint64_t n;
    int rc;

    if (srv->cfg.max_connections > 0
        && srv->fan.nconns >= (size_t)srv->cfg.max_connections) {
        n = atomic_fetch_add_explicit(&srv->st.conn_limit_refusals, 1,
                                      memory_order_relaxed) + 1;
        if (log_this_time(n)) {
            ph_logf(srv->log, PH_LOG_WARNING, "max_connections (%d) reached; "
                    "handshake refused (%llu refused so far)",
                    srv->cfg.max_connections, (unsigned long long)n);
        }
        return http_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE);
    }
    rc = conn_client_addr(srv, wsi, addr);
    if (rc < 0) {
        return http_refuse(wsi, HTTP_STATUS_BAD_REQUEST);
    }
    /* A trusted proxy without X-Forwarded-For stands for any number of
     * clients (and loopback for local tools): only max_connections holds. */
    if (rc != PH_ADDR_PROXY && srv->cfg.max_conns_per_ip > 0
        && ph_addr_count_get(srv->addrs, addr)
               >= (uint32_t)srv->cfg.max_conns_per_ip) {
        n = atomic_fetch_add_explicit(&srv->st.ip_limit_refusals, 1,
                                      memory_order_relaxed) + 1;
        if (log_this_time(n)) {
            ph_logf(srv->log, PH_LOG_WARNING, "%s has max_conns_per_ip (%d) "
                    "open; handshake refused (%llu refused so far)", addr,
                    srv->cfg.max_conns_per_ip, (unsigned long long)n);
        }
        return http_refuse(wsi, 429);
    }
    return 0;
}

/*
 * 1 when a query argument holds a NUL (decoded from %00): lws' lookups
 * would read it cut short where Daphne refuses the target (403).
 */
static int
args_hold_nul(struct lws *wsi)
{
    char arg[1024];
    int i, n;

    for (i = 0; (n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i)) > 0; i++) {
        /* Longer arguments are no token or role: their NUL changes nothing. */
        if (n < (int)sizeof(arg)
            && lws_hdr_copy_fragment(wsi, arg, sizeof(arg), WSI_TOKEN_HTTP_URI_ARGS, i) == n
            && strlen(arg) != (size_t)n) {
            return 1;
        }
    }
    return 0;
}

/*
 * CONFIRM_UPGRADE: refuse the handshake with HTTP 403, as Channels does,
 * when the path is not the game route or the Origin is not allowed
 * (AllowedHostsOriginValidator), or a query argument holds %00 (Daphne
 * refuses it too); then
 * apply the connection caps (ws_check_caps). Returns 0 to go on, 1 when refused (the response is
 * written), -1 to hang up.
 */
static int
ws_confirm_upgrade(ph_server *srv, struct lws *wsi)
{
    char path[256], origin[256], code[PH_CODE_LEN + 1];
    const char *orig = NULL;
    int n;

    if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0) {
        goto refuse;
    }
    if (ph_ws_parse_path(path, code) < 0 || args_hold_nul(wsi)) {
        goto refuse;
    }
    n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (n > 0) {
        if (n >= (int)sizeof(origin)
            || lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0) {
            goto refuse;
        }
        orig = origin;
    }
    if (!ph_ws_origin_ok(orig, srv->cfg.allowed_origins)) {
        ph_logf(srv->log, PH_LOG_INFO, "origin %s refused",
                orig != NULL ? orig : "(none)");
        goto refuse;
    }
    return ws_check_caps(srv, wsi);

refuse:
    return http_refuse(wsi, HTTP_STATUS_FORBIDDEN);
}

/*
 * FILTER: remember code, role and whether the token is well formed (path
 * and Origin are checked). Refuses (-1) a bad path.
 */
static int
ws_filter(struct lws *wsi, ph_conn *c)
{
    char path[256], val[PH_TOKEN_MAX + 32];
    const char *v;
    int rc;

    if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0
        || (rc = ph_ws_parse_path(path, c->code)) < 0) {
        return -1;
    }
    c->is_ws = 1;
    c->code_ok = rc == 0;
    if (!c->code_ok) {
        c->code[0] = '\0';
    }
    /* lws returns a pointer to the value inside val ("name=value"). */
    v = lws_get_urlarg_by_name(wsi, "role=", val, sizeof(val));
    rc = ph_ws_parse_role(v);
    c->role_ok = rc >= 0;
    c->role = rc == PH_ROLE_HOST ? PH_ROLE_HOST : PH_ROLE_PLAYER;
    /* Checked here, hashed when the lookup starts (conn_start_auth). */
    v = lws_get_urlarg_by_name(wsi, "session_token=", val, sizeof(val));
    c->token_ok = v != NULL && ph_ws_token_ok(v);
    return 0;
}

static int
ws_established(ph_server *srv, struct lws *wsi, ph_conn *c)
{
    uint64_t r = ph_srv_rng_next(srv);
    char addr[PH_ADDR_MAX];

    c->wsi = wsi;
    c->serial = ++srv->next_serial;
    c->id_rand = r;
    ph_outq_init(&c->q);
    c->player_id = -1;
    ph_fanout_add_conn(&srv->fan, c);
    ph_srv_hb_alive(srv, c);
    cnt_add(&srv->st.connections, 1);
    cnt_add(&srv->st.connections_total, 1);
    ph_rate_init(&c->rate, &srv->rate, uv_now(&srv->loop));
    /* The headers ws_check_caps read a moment ago: this cannot fail but
     * for memory. ws_closed releases the count. */
    if (conn_client_addr(srv, wsi, addr) < 0
        || (c->addr = ph_addr_count_add(&srv->addrs, addr)) == NULL) {
        lws_close_reason(wsi, 1011, NULL, 0);
        return -1;
    }
    if (srv->phase != SRV_RUNNING) {
        lws_close_reason(wsi, 1001, NULL, 0);
        return -1;
    }
    if (srv->drain.active) {           /* accepted just before the drain */
        lws_close_reason(wsi, PH_CLOSE_RESTART, NULL, 0);
        return -1;
    }
    if (!c->code_ok) {
        lws_close_reason(wsi, 4004, NULL, 0);
        return -1;
    }
    if (!ph_srv_redis_up(srv, ph_srv_game_shard(srv, c->code))) {
        lws_close_reason(wsi, 1013, NULL, 0);
        return -1;
    }
    if (conn_start_auth(srv, c) < 0) {
        lws_close_reason(wsi, 1011, NULL, 0);
        return -1;
    }
    return 0;
}

static int
ws_receive(ph_server *srv, struct lws *wsi, ph_conn *c, const char *in,
           size_t len)
{
    int rc;

    if (c->state == PH_CONN_CLOSING) {
        return 0;
    }
    if (lws_frame_is_binary(wsi)) {
        /* Our protocol is JSON text only: 1003 (unsupported data), as the
         * consumer does, without buffering a byte of it. lws keeps the
         * message's opcode across its continuation frames. */
        lws_close_reason(wsi, 1003, NULL, 0);
        return -1;
    }
    if (c->rx == NULL && lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi)
        && lws_remaining_packet_payload(wsi) == 0) {
        if (len > srv->cfg.max_message) {
            lws_close_reason(wsi, 1009, NULL, 0);
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

/*
 * Write up to writes_per_turn queued frames, several per send
 * (conn_write_packed), stopping when the socket is full: lws then keeps the unsent part (lws_partial_buffered), which tells
 * us without the poll() lws_send_pipe_choked() costs per frame. Asks for
 * another WRITEABLE when frames remain. Returns 0, or -1 to hang up.
 */
static int
ws_write_queue(ph_server *srv, struct lws *wsi, ph_conn *c)
{
    int n = 0, w;

    while (ph_outq_peek(&c->q) != NULL && n < srv->cfg.writes_per_turn) {
        if (n > 0 && lws_partial_buffered(wsi)) {
            break;
        }
        w = conn_write_packed(srv, c, (size_t)(srv->cfg.writes_per_turn - n));
        if (w < 0) {
            return -1;
        }
        n += w;
    }
    if (ph_outq_peek(&c->q) != NULL) {
        lws_callback_on_writable(wsi);
    }
    return 0;
}

/*
 * Close a client that is still sending (a flooder) the way RFC 6455 7.1.1
 * asks: first what is queued for it (the RATE_LIMITED answers that explain
 * the close), then the close frame; keep reading (and dropping) what
 * arrives, and let go of the TCP connection only when the client's close
 * frame comes back (ws_peer_close) or PH_CLOSE_WAIT_S runs out. Hanging up
 * at once, as lws does after lws_close_reason(), would leave the client's
 * data unread, and the kernel would answer with a reset that destroys the
 * close frame before the client reads it. Returns WRITEABLE's result.
 */
static int
ws_close_then_wait(ph_server *srv, struct lws *wsi, ph_conn *c)
{
    unsigned char buf[LWS_PRE + 2];

    if (c->close_sent) {
        return 0;
    }
    if (ws_write_queue(srv, wsi, c) < 0) {
        return -1;
    }
    if (ph_outq_peek(&c->q) != NULL) {
        return 0;                      /* the close frame comes after them */
    }
    buf[LWS_PRE] = (unsigned char)(c->close_code >> 8);
    buf[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
    if (lws_write(wsi, buf + LWS_PRE, 2, PH_LWS_WRITE_CLOSE) < 2) {
        return -1;
    }
    c->close_sent = 1;
    lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, PH_CLOSE_WAIT_S);
    return 0;
}

static int
ws_writeable(ph_server *srv, struct lws *wsi, ph_conn *c)
{
    if (c->state == PH_CONN_CLOSING && c->close_await_ack) {
        return ws_close_then_wait(srv, wsi, c);
    }
    if (c->state == PH_CONN_CLOSING) {
        /* No reason text: Daphne sends none either. */
        lws_close_reason(wsi, (enum lws_close_status)c->close_code, NULL, 0);
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE,
                        LWS_TO_KILL_ASYNC);
        return 0;
    }
    if (ph_srv_hb_writeable(srv, c) < 0) {
        return -1;
    }
    if (c->state != PH_CONN_READY) {
        return 0;
    }
    return ws_write_queue(srv, wsi, c);
}

static void
ws_closed(ph_server *srv, ph_conn *c)
{
    if (!c->in_table) {
        return;                        /* rejected before ESTABLISHED */
    }
    if (c->corked) {
        srv->cork[c->cork_idx] = NULL;
        c->corked = 0;
    }
    conn_leave_groups(srv, c);
    ph_fanout_del_conn(&srv->fan, c);
    ph_srv_hb_stop(srv, c);
    ph_outq_clear(&c->q, ph_srv_frame_release, srv);
    if (c->state_frame != NULL) {
        ph_srv_frame_release(srv, c->state_frame);
        c->state_frame = NULL;
    }
    ph_conn_rx_reset(c);
    ph_conn_pending_clear(c);
    ph_addr_count_release(&srv->addrs, c->addr);
    c->addr = NULL;
    atomic_fetch_sub_explicit(&srv->st.connections, 1, memory_order_relaxed);
}


/*
 * The client's close frame, before lws echoes it (RFC 6455 5.5.1, 7.4),
 * or its answer to ours (ws_close_then_wait), which ends the connection.
 * lws 4.1 replaces codes below 3000 that must not be sent with 1002 in
 * place but echoes a 1-byte body and codes above 4999 unchanged; do the
 * same for those codes, and fail a 1-byte body with 1002.
 */
static int
ws_peer_close(struct lws *wsi, ph_conn *c, unsigned char *body, size_t len)
{
    if (c->close_sent) {
        return -1;        /* the answer to our close frame: hang up now */
    }
    if (len == 1) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR,
                         (unsigned char *)"bad close", 9);
        return -1;
    }
    if (len >= 2 && (((unsigned)body[0] << 8) | body[1]) > 4999) {
        body[0] = (unsigned char)(LWS_CLOSE_STATUS_PROTOCOL_ERR >> 8);
        body[1] = (unsigned char)(LWS_CLOSE_STATUS_PROTOCOL_ERR & 0xff);
    }
    return 0;
}

/*
 * The lws protocol callback of the vhost (protocol 0 serves both the game
 * WebSocket and the HTTP endpoints). Returns what lws expects: 0 to go on,
 * non-zero to refuse or close (see each case).
 */
int
ph_srv_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
            void *in, size_t len)
{
    ph_server *srv = lws_context_user(lws_get_context(wsi));
    ph_conn *c = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return ws_filter(wsi, c);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return ws_confirm_upgrade(srv, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return ws_established(srv, wsi, c);
    case LWS_CALLBACK_RECEIVE:
        return ws_receive(srv, wsi, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ws_writeable(srv, wsi, c);
    case LWS_CALLBACK_RECEIVE_PONG:
        ph_srv_hb_alive(srv, c);
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return ws_peer_close(wsi, c, in, len);
    case LWS_CALLBACK_CLOSED:
        ws_closed(srv, c);
        return 0;
    case LWS_CALLBACK_HTTP:
        return ph_srv_http_request(srv, wsi, c, in ? (const char *)in : "");
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return ph_srv_http_writeable(wsi, c);
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

