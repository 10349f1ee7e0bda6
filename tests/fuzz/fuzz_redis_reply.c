/*
 * fuzz_redis_reply: the sidecar's handling of Redis replies, from RESP
 * bytes to what it does with each connection.
 *
 * The RESP bytes go through hiredis' reader (redisReader, the parser the
 * sidecar's async links use), bounded exactly as the sidecar bounds its
 * links (ph_redis_reader_bound, csrc/common/rbound.c), and every reply it
 * produces is handed to one of the reply callbacks, exactly as the event
 * loop would:
 *   auth_reply_cb     HMGET partyhub:session:<CODE> host p:<digest> closed
 *   state_reply_cb    GET partyhub:state:<CODE>            (server_conn.c)
 *   inbound_reply_cb  EVAL of the inbound send script      (server_conn.c)
 *   rx_reply_cb       BZPOPMIN on our channel (msgpack)    (server_redis.c)
 *   rx_batch_cb       the ZPOPMIN pipelined behind it      (server_redis.c)
 *   resync_reply_cb   GET of the state after a reconnect   (server_redis.c)
 *
 * The callbacks are static, so the two files that hold them are
 * #included here (nothing else is: server.c, server_http.c, ... are linked
 * as they are built, see mk/fuzz.mk). A non-static seam would mean editing
 * server_conn.c, which is being reworked in parallel; server_redis.c's two
 * callbacks could get one, but a harness that reaches half its callbacks
 * one way and half another is not cleaner.
 *
 * The server object is built by hand with four connections (two
 * authenticating, two ready in groups) and no Redis link, so follow-up
 * commands are refused the way they are while Redis is down. lws is
 * linked but the only lws calls the reply paths make
 * (lws_callback_on_writable, lws_set_timeout, lws_partial_buffered,
 * lws_write, all in server_conn.c's close/send paths) are wrapped
 * (-Wl,--wrap, see mk/fuzz.mk) to checks: the connections have no real wsi (0x1000), so a
 * new lws call on these paths crashes the smoke run until it is wrapped
 * here too. Not covered: the socket I/O of hiredis' async context and
 * uvredis.c's libuv glue.
 *
 * Input: 4 selector bytes (which callback, which connection, per reply),
 * then the RESP stream.
 *
 * hiredis 0.14.1's reader callocs count * 8 bytes for an array header
 * before any element arrives ("*1234567883\r\n" asks for 9.8 GB). The
 * sidecar's bound refuses it; LLVMFuzzerInitialize checks that on every
 * start, under libFuzzer's -malloc_limit_mb (= -rss_limit_mb, 2048), and
 * the corpus holds the input as a regression test (docs/testing.md).
 */
#include "../../csrc/sidecar/server_conn.c"
#include "../../csrc/sidecar/server_redis.c"

#include "fuzz_util.h"

int __wrap_lws_callback_on_writable(struct lws *wsi);
void __wrap_lws_set_timeout(struct lws *wsi, enum pending_timeout reason,
                            int secs);

void
__wrap_lws_set_timeout(struct lws *wsi, enum pending_timeout reason, int secs)
{
    CHECK(wsi != NULL && secs != 0);
    (void)reason;
}

int
__wrap_lws_callback_on_writable(struct lws *wsi)
{
    CHECK(wsi != NULL);
    return 0;
}

/*
 * The fan-out fast path (conn_write_now) asks whether lws holds an unsent
 * remainder, then writes directly. Both answers come from the input's
 * length (bit 0: a remainder is held, so the frame is queued; bit 1: the
 * write comes up short, so the connection is closed 1011), so every
 * branch is reachable and each input replays the same way.
 */
static size_t input_size;

int __wrap_lws_partial_buffered(struct lws *wsi);
int __wrap_lws_write(struct lws *wsi, unsigned char *buf, size_t len,
                     enum lws_write_protocol wp);

int
__wrap_lws_partial_buffered(struct lws *wsi)
{
    CHECK(wsi != NULL);
    return (int)(input_size & 1);
}

int
__wrap_lws_write(struct lws *wsi, unsigned char *buf, size_t len,
                 enum lws_write_protocol wp)
{
    size_t off = 0;

    CHECK(wsi != NULL && buf != NULL
          && (wp == LWS_WRITE_TEXT || wp == LWS_WRITE_RAW));
    /* A corked write (LWS_WRITE_RAW): whole server text frames (FIN,
     * unmasked) back to back, nothing cut. */
    while (wp == LWS_WRITE_RAW && off < len) {
        size_t n, h = 2;
        int i;

        CHECK(len - off >= 2 && buf[off] == 0x81 && (buf[off + 1] & 0x80) == 0);
        n = buf[off + 1];
        if (n == 126) {
            CHECK(len - off >= 4);
            n = ((size_t)buf[off + 2] << 8) | buf[off + 3];
            h = 4;
        }
        else if (n == 127) {
            CHECK(len - off >= 10);
            for (n = 0, i = 0; i < 8; i++) {
                n = (n << 8) | buf[off + 2 + i];
            }
            h = 10;
        }
        CHECK(n <= len - off - h);
        off += h + n;
    }
    return input_size & 2 ? (int)len - 1 : (int)len;
}

/*
 * The hostile header, and the largest array the bound allows (8 MiB of
 * element pointers): refused, accepted. Aborts on failure; an allocation
 * over -malloc_limit_mb aborts by itself.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char hostile[] = "*1234567883\r\n";
    char ok[32];
    redisReader *rd = redisReaderCreate();
    void *reply = NULL;

    (void)argc;
    (void)argv;
    CHECK(rd != NULL && ph_redis_reader_bound(rd) == 0);
    CHECK(redisReaderFeed(rd, hostile, sizeof(hostile) - 1) == REDIS_OK);
    CHECK(redisReaderGetReply(rd, &reply) == REDIS_ERR && reply == NULL);
    CHECK(rd->err != 0);
    redisReaderFree(rd);

    rd = redisReaderCreate();
    CHECK(rd != NULL && ph_redis_reader_bound(rd) == 0);
    snprintf(ok, sizeof(ok), "*%d\r\n", PH_REDIS_MAX_ELEMENTS + 1);
    CHECK(redisReaderFeed(rd, ok, strlen(ok)) == REDIS_OK);
    CHECK(redisReaderGetReply(rd, &reply) == REDIS_ERR && reply == NULL);
    redisReaderFree(rd);

    rd = redisReaderCreate();
    CHECK(rd != NULL && ph_redis_reader_bound(rd) == 0);
    snprintf(ok, sizeof(ok), "*%d\r\n", PH_REDIS_MAX_ELEMENTS);
    CHECK(redisReaderFeed(rd, ok, strlen(ok)) == REDIS_OK);
    CHECK(redisReaderGetReply(rd, &reply) == REDIS_OK && reply == NULL);
    redisReaderFree(rd);                /* frees the partial 8 MiB array */
    return 0;
}

#define NCONN 4
#define MAX_REPLIES 64

static const char *const tokens[NCONN] = {
    "tok-player-1", "tok-host-2", "tok-player-3", "tok-host-4"
};

static void
conn_make(ph_server *srv, ph_conn *c, uint64_t serial)
{
    memset(c, 0, sizeof(*c));
    c->wsi = (struct lws *)(uintptr_t)0x1000;   /* never dereferenced */
    c->serial = serial;
    c->id_rand = 0x0123456789abcdefull;
    memcpy(c->code, "ABCD", 5);
    c->role = serial % 2 == 0 ? PH_ROLE_HOST : PH_ROLE_PLAYER;
    c->player_id = c->role == PH_ROLE_HOST ? -1 : (int64_t)serial + 4;
    c->token_ok = 1;
    c->is_ws = 1;
    ph_outq_init(&c->q);
    ph_fanout_add_conn(&srv->fan, c);
    if (serial <= 2) {
        c->state = PH_CONN_AUTHING;
        return;
    }
    c->state = PH_CONN_READY;
    CHECK(conn_join(srv, c, 0, "game_ABCD") == 0);
    if (c->role == PH_ROLE_PLAYER) {
        char g[PH_GROUP_NAME_MAX];

        snprintf(g, sizeof(g), "player_ABCD_%lld", (long long)c->player_id);
        CHECK(conn_join(srv, c, 1, g) == 0);
    }
}

static ph_server *
server_make(ph_conn conns[NCONN])
{
    ph_server *srv = calloc(1, sizeof(*srv));
    int i;

    ph_server_config_defaults(&srv->cfg);
    srv->out_limits = ph_srv_out_limits(&srv->cfg);
    srv->log = ph_log_new(16, PH_LOG_DEBUG);
    ph_fanout_init(&srv->fan);
    snprintf(srv->client_prefix, sizeof(srv->client_prefix), "%s",
             "0123456789abcdef0123456789abcdef");
    snprintf(srv->chan_prefix, sizeof(srv->chan_prefix), "specific.%s!",
             srv->client_prefix);
    srv->phase = SRV_RUNNING;
    srv->shards = calloc(1, sizeof(*srv->shards));
    CHECK(srv->shards != NULL);
    srv->nshards = 1;
    srv->shards[0].srv = srv;
    for (i = 0; i < PH_RLINKS; i++) {
        srv->shards[0].links[i].srv = srv;
        srv->shards[0].links[i].shard = &srv->shards[0];
        srv->shards[0].links[i].kind = (rlink_kind)i;
    }
    for (i = 0; i < NCONN; i++) {
        conn_make(srv, &conns[i], (uint64_t)i + 1);
    }
    return srv;
}

static void
server_drop(ph_server *srv, ph_conn conns[NCONN])
{
    int i;

    for (i = 0; i < NCONN; i++) {
        /* Queues stay consistent whatever was pushed or cleared. */
        CHECK((conns[i].q.count == 0) == (ph_outq_peek(&conns[i].q) == NULL));
        ws_closed(srv, &conns[i]);
    }
    CHECK(srv->fan.nconns == 0 && srv->fan.groups == NULL);
    ph_fanout_clear(&srv->fan);
    ph_log_free(srv->log);
    free(srv->cork);
    free(srv->shards);
    free(srv);
}

static void
dispatch(ph_server *srv, redisReply *reply, uint8_t sel)
{
    redisAsyncContext fake;
    void *priv = (void *)(uintptr_t)(1 + (sel >> 3) % (NCONN + 1));
    static const char *const groups[] = {
        "game_ABCD", "player_ABCD_5", "game_ZZZZ", "player_ABCD_7"
    };

    memset(&fake, 0, sizeof(fake));
    switch (sel % 5) {
    case 0: {
        /* The lookup's context, as conn_start_auth makes it (the
         * callback frees it); a serial past NCONN has gone. */
        auth_req *q = calloc(1, sizeof(*q));

        CHECK(q != NULL);
        q->serial = (uint64_t)(uintptr_t)priv;
        if (q->serial <= NCONN) {
            const char *t = tokens[q->serial - 1];

            CHECK(ph_sha256(t, strlen(t), q->digest) == 0);
        }
        fake.data = &srv->shards[0].links[RLINK_CMD];
        auth_reply_cb(&fake, reply, q);
        break;
    }
    case 1:
        fake.data = &srv->shards[0].links[RLINK_CMD];
        state_reply_cb(&fake, reply, priv);
        break;
    case 2:
        /* The receive pair: the BZPOPMIN's reply, or the pipelined
         * ZPOPMIN's (member, score, ...), which ends the cork. */
        fake.data = &srv->shards[0].links[RLINK_RX];
        if ((sel >> 3) & 1) {
            rx_batch_cb(&fake, reply, NULL);
        }
        else {
            rx_reply_cb(&fake, reply, NULL);
        }
        break;
    case 3:
        fake.data = &srv->shards[0].links[RLINK_CMD];
        inbound_reply_cb(&fake, reply, priv);
        break;
    default:
        fake.data = &srv->shards[0].links[RLINK_CMD];
        resync_reply_cb(&fake, reply, strdup(groups[(sel >> 3) % 4]));
        break;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ph_conn conns[NCONN];
    ph_server *srv;
    redisReader *rd;
    void *reply = NULL;
    int n = 0;

    if (size < 4) {
        return 0;
    }
    input_size = size;
    srv = server_make(conns);
    rd = redisReaderCreate();
    CHECK(rd != NULL && ph_redis_reader_bound(rd) == 0);
    redisReaderFeed(rd, (const char *)data + 4, size - 4);
    while (n < MAX_REPLIES && redisReaderGetReply(rd, &reply) == REDIS_OK
           && reply != NULL) {
        dispatch(srv, reply, data[n % 4]);
        freeReplyObject(reply);
        reply = NULL;
        n++;
    }
    redisReaderFree(rd);
    server_drop(srv, conns);
    return 0;
}
