/*
 * sidecar_unit: unit tests for the sidecar's pure pieces (no sockets):
 * outq limits and frame sharing, the channel-message view over the
 * bounded msgpack reader (vectors, channels_redis-shaped input,
 * truncation and random-input fuzzing), the inbound packer, wsparse,
 * SHA-256, the log ring, local groups, the message rate bucket, the
 * per-address connection count (X-Forwarded-For from trusted proxies) and
 * heartbeat deadlines.
 */
#define _GNU_SOURCE 1

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "conn_auth.h"
#include "fanout.h"
#include "heartbeat.h"
#include "chanmsg.h"
#include "mpack_read.h"

#include <msgpack.h>
#include "outq.h"
#include "server_log.h"
#include "wsparse.h"

static int failures, checks;

#define CHECK(cond)                                                        \
    do {                                                                   \
        checks++;                                                          \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
        }                                                                  \
    } while (0)

static void
test_outq(void)
{
    ph_outq_limits lim = { 100, 5, 50, 0, 1000 };
    ph_outq q;
    ph_frame *a = ph_frame_new("0123456789", 10), *f;
    int i;

    ph_outq_init(&q);
    for (i = 0; i < 5; i++) {
        CHECK(ph_outq_push(&q, a, &lim, 1000) == PH_OUTQ_OK);
    }
    CHECK(a->refcnt == 6);                      /* shared, never copied */
    CHECK(ph_outq_push(&q, a, &lim, 1000) == PH_OUTQ_HARD);   /* 6 msgs */
    CHECK(q.count == 5 && q.bytes == 50);
    f = ph_outq_pop(&q, &lim);
    CHECK(f == a);
    ph_frame_decref(f);
    /* soft: 60 bytes > 50 since t=1000, dropped only after 1000 ms */
    CHECK(ph_outq_push(&q, a, &lim, 1000) == PH_OUTQ_OK);      /* 50 -> over at push */
    f = ph_outq_pop(&q, &lim);
    ph_frame_decref(f);
    ph_outq_clear(&q, NULL, NULL);
    CHECK(a->refcnt == 1);

    lim.hard_msgs = 0;
    lim.hard_bytes = 0;
    ph_outq_init(&q);
    for (i = 0; i < 5; i++) {
        CHECK(ph_outq_push(&q, a, &lim, 5000) == PH_OUTQ_OK);
    }
    CHECK(ph_outq_push(&q, a, &lim, 5500) == PH_OUTQ_OK);     /* 60 > 50: soft since 5500 */
    CHECK(ph_outq_push(&q, a, &lim, 6100) == PH_OUTQ_OK);     /* held 600 ms: fine */
    CHECK(ph_outq_push(&q, a, &lim, 6600) == PH_OUTQ_SOFT);   /* held 1100 ms */
    while ((f = ph_outq_pop(&q, &lim)) != NULL) {
        ph_frame_decref(f);
    }
    CHECK(q.soft_since_ms == 0);
    /* growth and push_front order */
    for (i = 0; i < 100; i++) {
        ph_frame *n = ph_frame_new(&i, sizeof(i));

        CHECK(ph_outq_push(&q, n, &lim, 1) == PH_OUTQ_OK || lim.soft_bytes);
        ph_frame_decref(n);
    }
    f = ph_frame_new("W", 1);
    ph_outq_push_front(&q, f);
    ph_frame_decref(f);
    f = ph_outq_pop(&q, &lim);
    CHECK(f->len == 1 && ph_frame_payload(f)[0] == 'W');
    ph_frame_decref(f);
    ph_outq_clear(&q, NULL, NULL);
    ph_frame_decref(a);
}

/* One frame at a time is held inline; a second moves both into a ring,
 * in order, and an emptied queue holds nothing. */
static void
test_outq_inline(void)
{
    ph_outq_limits lim = { 0, 0, 0, 0, 0 };
    ph_outq q;
    ph_frame *a = ph_frame_new("a", 1), *b = ph_frame_new("bb", 2);
    ph_frame *c = ph_frame_new("ccc", 3), *f;
    unsigned char buf[64];
    size_t nf, n;
    int i;

    ph_outq_init(&q);
    for (i = 0; i < 3; i++) {              /* the fixed-rate pattern */
        CHECK(ph_outq_push(&q, a, &lim, 1) == PH_OUTQ_OK);
        CHECK(q.cap == 1 && q.count == 1 && ph_outq_peek(&q) == a);
        n = ph_outq_pack(&q, 8, buf, sizeof(buf), &nf);
        CHECK(nf == 1 && n == 3 && buf[0] == 0x81 && buf[1] == 1 && buf[2] == 'a');
        f = ph_outq_pop(&q, &lim);
        CHECK(f == a && q.count == 0 && q.cap == 0 && ph_outq_peek(&q) == NULL);
        ph_frame_decref(f);
    }
    CHECK(a->refcnt == 1);
    /* inline -> ring keeps the order, push_front included */
    CHECK(ph_outq_push(&q, b, &lim, 1) == PH_OUTQ_OK);
    CHECK(ph_outq_push_front(&q, a) == PH_OUTQ_OK);          /* a, b */
    CHECK(q.cap == 8 && q.count == 2 && q.bytes == 3);
    CHECK(ph_outq_push(&q, c, &lim, 1) == PH_OUTQ_OK);       /* a, b, c */
    n = ph_outq_pack(&q, 8, buf, sizeof(buf), &nf);
    CHECK(nf == 3 && n == 12 && buf[2] == 'a' && buf[5] == 'b' && buf[9] == 'c');
    f = ph_outq_pop(&q, &lim);
    CHECK(f == a);
    ph_frame_decref(f);
    f = ph_outq_pop(&q, &lim);
    CHECK(f == b);
    ph_frame_decref(f);
    f = ph_outq_pop(&q, &lim);
    CHECK(f == c && q.cap == 0);
    ph_frame_decref(f);
    /* push_front onto an empty queue goes inline; clear releases it */
    CHECK(ph_outq_push_front(&q, c) == PH_OUTQ_OK && q.cap == 1);
    ph_outq_clear(&q, NULL, NULL);
    CHECK(c->refcnt == 1 && q.cap == 0 && q.count == 0);
    ph_frame_decref(a);
    ph_frame_decref(b);
    ph_frame_decref(c);
}

/* Corked writes: queued frames laid out as whole RFC 6455 frames. */
static void
test_outq_pack(void)
{
    ph_outq_limits lim = { 0, 0, 0, 0, 0 };
    ph_outq q;
    unsigned char buf[400], big[300];
    ph_frame *a = ph_frame_new("hello", 5), *b, *f;
    size_t n, nf;

    memset(big, 'x', sizeof(big));
    b = ph_frame_new(big, sizeof(big));
    ph_outq_init(&q);
    n = ph_outq_pack(&q, 16, buf, sizeof(buf), &nf);
    CHECK(n == 0 && nf == 0);                        /* empty queue */
    CHECK(ph_outq_push(&q, a, &lim, 1) == PH_OUTQ_OK);
    CHECK(ph_outq_push(&q, a, &lim, 1) == PH_OUTQ_OK);
    CHECK(ph_outq_push(&q, b, &lim, 1) == PH_OUTQ_OK);
    CHECK(ph_outq_push(&q, a, &lim, 1) == PH_OUTQ_OK);
    /* two 7-byte frames, then 4 + 300 (126: 16-bit length), then 7 */
    n = ph_outq_pack(&q, 16, buf, sizeof(buf), &nf);
    CHECK(nf == 4 && n == 7 + 7 + 304 + 7);
    CHECK(buf[0] == 0x81 && buf[1] == 5 && memcmp(buf + 2, "hello", 5) == 0);
    CHECK(buf[7] == 0x81 && buf[8] == 5);
    CHECK(buf[14] == 0x81 && buf[15] == 126 && buf[16] == 1 && buf[17] == 44);
    CHECK(buf[18] == 'x' && buf[317] == 'x' && buf[318] == 0x81);
    CHECK(q.count == 4);                             /* nothing popped */
    n = ph_outq_pack(&q, 1, buf, sizeof(buf), &nf); /* frame cap */
    CHECK(nf == 1 && n == 7);
    n = ph_outq_pack(&q, 16, buf, 100, &nf);         /* whole frames only */
    CHECK(nf == 2 && n == 14);
    f = ph_outq_pop(&q, &lim);
    ph_frame_decref(f);
    f = ph_outq_pop(&q, &lim);
    ph_frame_decref(f);
    n = ph_outq_pack(&q, 16, buf, 100, &nf);         /* head too big alone */
    CHECK(nf == 0 && n == 0);
    ph_outq_clear(&q, NULL, NULL);
    CHECK(a->refcnt == 1 && b->refcnt == 1);
    ph_frame_decref(a);
    ph_frame_decref(b);
}

static void
pk_cstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* channels_redis-style message, packed with msgpack-c like Python would. */
static size_t
build_msg(unsigned char *buf, size_t cap, int list)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    size_t len;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pk_cstr(&pk, "type");
    pk_cstr(&pk, "game.event");
    pk_cstr(&pk, "seq");
    msgpack_pack_int(&pk, 300);
    pk_cstr(&pk, "text");
    pk_cstr(&pk, "{\"type\":\"phase\"}");
    pk_cstr(&pk, "extra");
    msgpack_pack_map(&pk, 1);
    pk_cstr(&pk, "k");
    msgpack_pack_int(&pk, -70000);
    pk_cstr(&pk, "__asgi_channel__");
    if (list) {
        msgpack_pack_array(&pk, 2);
        pk_cstr(&pk, "specific.abc!g.game_ABCD");
        pk_cstr(&pk, "specific.abc!c.1");
    }
    else {
        pk_cstr(&pk, "specific.abc!c.1");
    }
    len = sb.size <= cap ? sb.size : 0;
    memcpy(buf, sb.data, len);
    msgpack_sbuffer_destroy(&sb);
    return len;
}

/* The channel-message view over the shared bounded reader (mpack_read.c,
 * whose own vectors, lying counts and fuzzing live in tests/c/test_main.c
 * and tests/test_msgpack.py), and the inbound packer. */
static void
test_chanmsg(void)
{
    /* Vector from channels-redis-wire.md: {"a":True,"b":None,"c":{"d":[]}} */
    static const unsigned char vec[] = {
        0x83, 0xa1, 0x61, 0xc3, 0xa1, 0x62, 0xc0, 0xa1, 0x63, 0x81, 0xa1,
        0x64, 0x90
    };
    unsigned char buf[512];
    ph_chanmsg *m = malloc(sizeof(*m));
    size_t len, cut;
    int i;

    CHECK(ph_chanmsg_decode(vec, sizeof(vec), m) == 0);
    CHECK(m->type.p == NULL && m->nchannels == 0);
    len = build_msg(buf, sizeof(buf), 1);
    CHECK(len > 0);
    CHECK(ph_chanmsg_decode(buf, len, m) == 0);
    CHECK(m->type.len == 10 && memcmp(m->type.p, "game.event", 10) == 0);
    CHECK(m->has_seq && m->seq == 300);
    CHECK(m->text.len == 16 && m->text.p[0] == '{');
    CHECK(m->nchannels == 2 && m->channels[1].len == 16);
    len = build_msg(buf, sizeof(buf), 0);
    CHECK(ph_chanmsg_decode(buf, len, m) == 0 && m->nchannels == 1);
    /* every truncation fails cleanly; trailing garbage fails */
    for (cut = 0; cut < len; cut++) {
        CHECK(ph_chanmsg_decode(buf, cut, m) < 0);
    }
    buf[len] = 0xc0;
    CHECK(ph_chanmsg_decode(buf, len + 1, m) < 0);
    /* lying counts: a map32 claiming 2^32-1 pairs in 5 bytes */
    {
        static const unsigned char liar[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
        static const unsigned char deep_arr[] = { 0x81, 0xa1, 0x78, 0xdd, 0x7f, 0xff, 0xff, 0xff };
        static const unsigned char int_chan[] = { 0x81, 0xb0, '_', '_', 'a', 's', 'g', 'i', '_',
                                                 'c', 'h', 'a', 'n', 'n', 'e', 'l', '_', '_',
                                                 0x91, 0x01 };

        CHECK(ph_chanmsg_decode(liar, sizeof(liar), m) < 0);
        CHECK(ph_chanmsg_decode(deep_arr, sizeof(deep_arr), m) < 0);
        CHECK(ph_chanmsg_decode(int_chan, sizeof(int_chan), m) < 0);
    }
    /* nesting deeper than the reader's cap */
    {
        size_t n = 0, k;
        unsigned char *deep = malloc(4 + MPR_MAX_DEPTH + 10);

        deep[n++] = 0x81;
        deep[n++] = 0xa1;
        deep[n++] = 'x';
        for (k = 0; k < MPR_MAX_DEPTH + 5; k++) {
            deep[n++] = 0x91;
        }
        deep[n++] = 0xc0;
        CHECK(ph_chanmsg_decode(deep, n, m) < 0);
        free(deep);
    }
    /* the inbound packer: the reader gets back what was packed */
    {
        static const unsigned char prefix[12] = "0123456789ab";
        ph_chanmsg_inbound in = { "ABCD", 7, "player", "specific.x!c.y",
                                  "{\"type\":\"reaction\"}", 19 };
        size_t plen = 0;
        unsigned char *packed = ph_chanmsg_pack_inbound(prefix, 12, &in, &plen);

        CHECK(packed != NULL && plen > 12 && memcmp(packed, prefix, 12) == 0);
        CHECK(ph_chanmsg_decode(packed + 12, plen - 12, m) == 0);
        CHECK(m->type.len == 14 && memcmp(m->type.p, "client.message", 14) == 0);
        CHECK(m->text.len == 19 && memcmp(m->text.p, in.text, 19) == 0);
        CHECK(mpr_validate(packed + 12, plen - 12) == MPR_OK);
        /* the map: fixmap of 6; player_id 7 as a positive fixint */
        CHECK(packed[12] == 0x86);
        free(packed);
        in.player_id = -1;
        packed = ph_chanmsg_pack_inbound(prefix, 12, &in, &plen);
        CHECK(packed != NULL && memmem(packed, plen, "\xa9player_id\xc0", 11) != NULL);
        free(packed);
    }
    /* fuzz: random bytes and random mutations of a valid message */
    srand(12345);
    for (i = 0; i < 200000; i++) {
        size_t n = (size_t)(rand() % 64), k;
        unsigned char r[64];

        if (i % 2) {
            len = build_msg(buf, sizeof(buf), 1);
            memcpy(r, buf, len < 64 ? len : 64);
            n = len < 64 ? len : 64;
            r[rand() % (int)n] = (unsigned char)rand();
        }
        else {
            for (k = 0; k < n; k++) {
                r[k] = (unsigned char)rand();
            }
        }
        /* must not crash or read out of bounds (run under ASan/valgrind) */
        {
            unsigned char *heap = malloc(n ? n : 1);

            memcpy(heap, r, n);
            (void)ph_chanmsg_decode(heap, n, m);
            free(heap);
        }
    }
    free(m);
}

static void
test_wsparse(void)
{
    char code[5], reply[512];
    int k;

    CHECK(ph_ws_parse_path("/ws/game/ABCD/", code) == 0 && strcmp(code, "ABCD") == 0);
    CHECK(ph_ws_parse_path("/ws/game/abCd/", code) == 0 && strcmp(code, "ABCD") == 0);
    CHECK(ph_ws_parse_path("/ws/game/ABCD", code) < 0);       /* not routed */
    CHECK(ph_ws_parse_path("/ws/game//", code) < 0);
    CHECK(ph_ws_parse_path("/ws/game/ABCD/x", code) < 0);
    /* ";params" of the last segment are dropped, as Daphne's urlparse does */
    CHECK(ph_ws_parse_path("/ws/game/ABCD/;x", code) == 0 && strcmp(code, "ABCD") == 0);
    CHECK(ph_ws_parse_path("/ws/game/ABCD/;x/", code) < 0);
    CHECK(ph_ws_parse_path("/ws/game/ABCD;x/", code) == 1);
    CHECK(ph_ws_parse_path("/other/", code) < 0);
    CHECK(ph_ws_parse_path("/ws/game/ABCDE/", code) == 1);    /* routed: 4004 */
    CHECK(ph_ws_parse_path("/ws/game/ab/", code) == 1);
    CHECK(ph_ws_parse_path("/ws/game/AB1D/", code) == 1);
    CHECK(ph_ws_parse_role(NULL) == PH_ROLE_PLAYER);
    CHECK(ph_ws_parse_role("") == PH_ROLE_PLAYER);
    CHECK(ph_ws_parse_role("player") == PH_ROLE_PLAYER);
    CHECK(ph_ws_parse_role("host") == PH_ROLE_HOST);
    CHECK(ph_ws_parse_role("admin") < 0);
    CHECK(ph_ws_parse_role("Host") < 0);
    CHECK(ph_ws_token_ok("abc-DEF_123"));
    CHECK(!ph_ws_token_ok(""));
    CHECK(!ph_ws_token_ok("a b"));
    CHECK(!ph_ws_token_ok("a+b"));
    {
        char longtok[200];

        memset(longtok, 'a', sizeof(longtok) - 1);
        longtok[sizeof(longtok) - 1] = '\0';
        CHECK(!ph_ws_token_ok(longtok));
        longtok[PH_TOKEN_MAX] = '\0';
        CHECK(ph_ws_token_ok(longtok));
    }
    /* Channels' OriginValidator semantics over ALLOWED_HOSTS patterns. */
    CHECK(!ph_ws_origin_ok(NULL, NULL));
    CHECK(!ph_ws_origin_ok(NULL, "localhost"));
    CHECK(ph_ws_origin_ok(NULL, "*"));
    CHECK(!ph_ws_origin_ok("http://a", NULL));
    CHECK(ph_ws_origin_ok("http://a", "http://b, http://a"));
    CHECK(!ph_ws_origin_ok("http://a", "http://ab"));
    CHECK(ph_ws_origin_ok("http://x", "*"));
    CHECK(ph_ws_origin_ok("http://localhost:8000", "localhost,127.0.0.1"));
    CHECK(ph_ws_origin_ok("https://LOCALHOST", "localhost"));
    CHECK(ph_ws_origin_ok("http://127.0.0.1:9", "localhost, 127.0.0.1"));
    CHECK(ph_ws_origin_ok("http://[::1]:8000", "[::1]"));
    CHECK(!ph_ws_origin_ok("http://evil.example", "localhost"));
    CHECK(!ph_ws_origin_ok("http://localhost.evil.example", "localhost"));
    CHECK(ph_ws_origin_ok("https://a.example.com", ".example.com"));
    CHECK(ph_ws_origin_ok("https://example.com", ".example.com"));
    CHECK(!ph_ws_origin_ok("https://badexample.com", ".example.com"));
    CHECK(ph_ws_origin_ok("https://example.com", "https://example.com:443"));
    CHECK(!ph_ws_origin_ok("http://example.com", "https://example.com"));
    CHECK(!ph_ws_origin_ok("https://example.com:8443", "https://example.com"));
    CHECK(!ph_ws_origin_ok("null", "localhost"));
    CHECK(!ph_ws_origin_ok("http://a:99999999999", "a"));

#define MSG(text, types) ph_ws_client_message(text, strlen(text), types, 32, reply, sizeof(reply))
    k = MSG("{\"type\":\"ping\",\"ts\":[1,\"x\"]}", NULL);
    CHECK(k == PH_CLIENT_PING && strcmp(reply, "{\"type\":\"pong\",\"ts\":[1,\"x\"]}") == 0);
    k = MSG("{\"type\":\"ping\"}", NULL);
    CHECK(k == PH_CLIENT_PING && strcmp(reply, "{\"type\":\"pong\",\"ts\":null}") == 0);
    /* ts is echoed as sent: big integers and float spellings survive */
    k = MSG("{\"type\":\"ping\",\"ts\":123456789012345678901234567890}", NULL);
    CHECK(k == PH_CLIENT_PING
          && strcmp(reply, "{\"type\":\"pong\",\"ts\":123456789012345678901234567890}") == 0);
    k = MSG(" { \"ts\" : 1.50e3 , \"type\" : \"ping\" } ", NULL);
    CHECK(k == PH_CLIENT_PING && strcmp(reply, "{\"type\":\"pong\",\"ts\":1.50e3}") == 0);
    k = MSG("{\"type\":\"ping\",\"ts\":{\"a\":\"}]\\\"\"},\"ts\":\"last\"}", NULL);
    CHECK(k == PH_CLIENT_PING && strcmp(reply, "{\"type\":\"pong\",\"ts\":\"last\"}") == 0);
    k = MSG("{\"type\":\"ping\",\"t\\u0073\":7}", NULL);
    CHECK(k == PH_CLIENT_PING && strcmp(reply, "{\"type\":\"pong\",\"ts\":7}") == 0);
    k = MSG("nope", NULL);
    CHECK(k == PH_CLIENT_ERROR
          && strcmp(reply, "{\"type\":\"error\",\"code\":\"MESSAGE_PARSE_FAILED\","
                           "\"message\":\"The message is not valid JSON.\"}") == 0);
    k = MSG("{\"type\":\"ping\"} x", NULL);              /* trailing data */
    CHECK(k == PH_CLIENT_ERROR && strstr(reply, "MESSAGE_PARSE_FAILED"));
    k = MSG("{\"type\":1}", NULL);
    CHECK(k == PH_CLIENT_ERROR
          && strcmp(reply, "{\"type\":\"error\",\"code\":\"INVALID_MESSAGE\",\"message\":"
                           "\"A message must be a JSON object with a string 'type'.\"}") == 0);
    k = MSG("{\"type\":\"ping\",\"type\":\"dance\"}", NULL);  /* last key counts */
    CHECK(k == PH_CLIENT_ERROR
          && strcmp(reply, "{\"type\":\"error\",\"code\":\"UNKNOWN_TYPE\",\"message\":"
                           "\"Unknown message type 'dance'.\"}") == 0);
    k = MSG("{\"type\":\"vote\"}", "answer,vote");
    CHECK(k == PH_CLIENT_FORWARD);
    k = MSG("{\"type\":\"vote\"}", "*");
    CHECK(k == PH_CLIENT_FORWARD);
    k = MSG("{\"type\":\"vote\"}", "");
    CHECK(k == PH_CLIENT_ERROR && strstr(reply, "UNKNOWN_TYPE"));
    k = MSG("{\"type\":\"dance\"}", "answer,vote");
    CHECK(k == PH_CLIENT_ERROR && strstr(reply, "UNKNOWN_TYPE") && strstr(reply, "dance"));
    k = MSG("{\"type\":\"ping\",\"ts\":\"xxxxxxxxxxxxxxxxxxxxxxxxxx\"}", NULL);
    CHECK(k == PH_CLIENT_PING);
    k = ph_ws_client_message("{\"type\":\"ping\",\"ts\":\"xxxxxxxxxxxxxxxxxxxxxxxxxx\"}", 47,
                             NULL, 32, reply, 20);
    CHECK(k == -1);                            /* reply does not fit */
    /* Strict JSON (realtime.protocol.loads): each of these is
     * MESSAGE_PARSE_FAILED, the same texts at their limit pass. */
    {
        static const char *const refused[] = {
            "{\"type\":\"ping\",\"ts\":NaN}",
            "{\"type\":\"ping\",\"ts\":-Infinity}",
            "{\"type\":\"ping\",\"ts\":1e400}",
            "{\"type\":\"ping\",\"ts\":-1.8e308}",
            "{\"type\":\"ping\",\"ts\":\"\\ud800\"}",
            "{\"type\":\"ping\",\"ts\":\"\\udc00\\ud800\"}",
            "{\"type\":\"ping\",\"ts\":\"a\\u0000b\"}",
            "{\"type\":\"p\\u0000\",\"type\":\"ping\"}",
            "{\"type\":\"ping\",\"ts\":"
            "1234567890123456789012345678901234567890123456789012345678901234}",
            "{\"type\":\"ping\",\"ts\":"
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
            NULL,
        };
        size_t r;

        for (r = 0; refused[r] != NULL; r++) {
            k = MSG(refused[r], NULL);
            CHECK(k == PH_CLIENT_ERROR && strstr(reply, "MESSAGE_PARSE_FAILED"));
        }
        k = MSG("{\"type\":\"ping\",\"ts\":"
                "123456789012345678901234567890123456789012345678901234567890123}", NULL);
        CHECK(k == PH_CLIENT_PING);                        /* 63 characters */
        k = MSG("{\"type\":\"ping\",\"ts\":"
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", NULL);
        CHECK(k == PH_CLIENT_PING);                        /* depth 32 */
        k = MSG("{\"type\":\"ping\",\"ts\":[\"\\ud83d\\ude00\",1.7976931348623157e308]}", NULL);
        CHECK(k == PH_CLIENT_PING);
    }
#undef MSG
    /* repr() of the type, cut at 40 code points */
    {
        char out[512];

        CHECK(ph_py_repr_prefix(out, sizeof(out), "dance", 40) > 0 && strcmp(out, "'dance'") == 0);
        CHECK(ph_py_repr_prefix(out, sizeof(out), "it's", 40) > 0 && strcmp(out, "\"it's\"") == 0);
        CHECK(ph_py_repr_prefix(out, sizeof(out), "a'\"b", 40) > 0
              && strcmp(out, "'a\\'\"b'") == 0);
        CHECK(ph_py_repr_prefix(out, sizeof(out), "t\tn\n\x01\\", 40) > 0
              && strcmp(out, "'t\\tn\\n\\x01\\\\'") == 0);
        CHECK(ph_py_repr_prefix(out, sizeof(out), "\xc3\xa9\xc3\xa9\xc3\xa9", 2) > 0
              && strcmp(out, "'\xc3\xa9\xc3\xa9'") == 0);
    }
    CHECK(ph_ws_welcome(reply, sizeof(reply), "id\"1", "v", "ABCD", "host", -1, 1700000000123) > 0);
    CHECK(strcmp(reply, "{\"type\":\"welcome\",\"connection_id\":\"id\\\"1\","
                        "\"server_version\":\"v\",\"session\":\"ABCD\","
                        "\"role\":\"host\",\"player_id\":null,"
                        "\"server_time\":1700000000123}") == 0);
    CHECK(ph_ws_welcome(reply, 10, "id", "v", "ABCD", "host", 3, 1) < 0);
}

static void
test_sha(void)
{
    unsigned char d[PH_SHA256_LEN];
    char hex[PH_SHA256_HEX_LEN + 1];

    CHECK(ph_sha256("abc", 3, d) == 0);
    ph_sha256_hex(d, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    CHECK(ph_sha256("", 0, d) == 0);
    ph_sha256_hex(d, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    /* Two blocks of input (the padding spills into a second block). */
    CHECK(ph_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d) == 0);
    ph_sha256_hex(d, hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
    CHECK(ph_sha256_selftest() == 0);
    CHECK(ph_ct_equal("abc", 3, "abc", 3));
    CHECK(!ph_ct_equal("abc", 3, "abd", 3));
    CHECK(!ph_ct_equal("abc", 3, "ab", 2));
}

static void
test_log(void)
{
    ph_log *lg = ph_log_new(2, PH_LOG_INFO);
    char line[PH_LOG_LINE_MAX];
    int level;

    ph_logf(lg, PH_LOG_DEBUG, "hidden");
    ph_logf(lg, PH_LOG_INFO, "one %d", 1);
    ph_logf(lg, PH_LOG_ERROR, "two");
    ph_logf(lg, PH_LOG_ERROR, "three (dropped: ring full)");
    CHECK(ph_log_dropped(lg) == 1);
    CHECK(ph_log_pop(lg, &level, line, sizeof(line)) && level == PH_LOG_INFO
          && strcmp(line, "one 1") == 0);
    CHECK(ph_log_pop(lg, &level, line, sizeof(line)) && level == PH_LOG_ERROR);
    CHECK(!ph_log_pop(lg, &level, line, sizeof(line)));
    {
        char big[600];

        memset(big, 'x', sizeof(big));
        memcpy(big + PH_LOG_LINE_MAX - 2, "\xc3\xa9", 2);   /* bytes 238..239 */
        big[sizeof(big) - 1] = '\0';
        ph_logf(lg, PH_LOG_ERROR, "%s", big);
        CHECK(ph_log_pop(lg, &level, line, sizeof(line)));
        CHECK(strlen(line) == PH_LOG_LINE_MAX - 2);   /* cut before the split é */
    }
    ph_log_free(lg);
}

static void
test_fanout(void)
{
    ph_fanout f;
    ph_conn *c = calloc(3, sizeof(*c));
    char name[PH_GROUP_NAME_MAX];
    int first, i;
    ph_group *g;

    ph_fanout_init(&f);
    for (i = 0; i < 3; i++) {
        c[i].serial = (uint64_t)i + 1;
        ph_fanout_add_conn(&f, &c[i]);
        CHECK(ph_fanout_join(&f, &c[i], 0, "game_ABCD", &first) == 0);
        CHECK(first == (i == 0));
    }
    CHECK(ph_fanout_join(&f, &c[0], 1, "player_ABCD_1", &first) == 0 && first);
    CHECK(ph_fanout_conn(&f, 2) == &c[1]);
    g = ph_fanout_group(&f, "game_ABCD", 9);
    CHECK(g != NULL && g->n == 3);
    CHECK(ph_fanout_leave(&f, &c[0], 0, name) == 0);    /* swap-remove */
    CHECK(g->n == 2 && g->members[c[2].group_idx[0]] == &c[2]);
    CHECK(ph_fanout_leave(&f, &c[2], 0, name) == 0);
    CHECK(ph_fanout_leave(&f, &c[1], 0, name) == 1 && strcmp(name, "game_ABCD") == 0);
    CHECK(ph_fanout_group(&f, "game_ABCD", 9) == NULL);
    CHECK(ph_fanout_leave(&f, &c[0], 1, name) == 1);
    for (i = 0; i < 3; i++) {
        ph_fanout_del_conn(&f, &c[i]);
    }
    CHECK(f.nconns == 0);
    ph_fanout_clear(&f);
    free(c);
}

static void
test_conn_id(void)
{
    ph_conn c;
    char id[PH_CONN_ID_LEN + 1];

    memset(&c, 0, sizeof(c));
    c.serial = 0x1f;
    c.id_rand = 0xfedcba9876543210ull;
    ph_conn_id(&c, id);
    CHECK(strcmp(id, "000000000000001ffedcba9876543210") == 0);
}

/* Messages held before the welcome come back oldest first, at most max
 * of them; clear frees what is left. */
static void
test_conn_pending(void)
{
    ph_conn c;
    ph_pending *p;
    char text[8];
    int i;

    memset(&c, 0, sizeof(c));
    CHECK(ph_conn_pending_pop(&c) == NULL);
    for (i = 0; i < 3; i++) {
        snprintf(text, sizeof(text), "m%d", i);
        CHECK(ph_conn_pending_add(&c, text, strlen(text), 3) == 0);
    }
    CHECK(ph_conn_pending_add(&c, "m3", 2, 3) == -1 && c.npend == 3);
    p = ph_conn_pending_pop(&c);
    CHECK(p != NULL && p->len == 2 && strcmp(p->text, "m0") == 0);
    free(p);
    CHECK(ph_conn_pending_add(&c, "m3", 2, 3) == 0);  /* behind m1, m2 */
    for (i = 1; i <= 3; i++) {
        snprintf(text, sizeof(text), "m%d", i);
        p = ph_conn_pending_pop(&c);
        CHECK(p != NULL && strcmp(p->text, text) == 0);
        free(p);
    }
    CHECK(ph_conn_pending_pop(&c) == NULL && c.npend == 0 && c.pend == NULL);
    CHECK(ph_conn_pending_add(&c, "x", 1, 3) == 0);
    CHECK(ph_conn_pending_add(&c, "y", 1, 3) == 0);
    ph_conn_pending_clear(&c);                       /* valgrind: no leak */
    CHECK(c.npend == 0 && c.pend == NULL);
    /* Reassembly: up to max bytes, then -1 with the buffer kept. */
    CHECK(ph_conn_rx_append(&c, "abc", 3, 5) == 0);
    CHECK(ph_conn_rx_append(&c, "de", 2, 5) == 0);
    CHECK(c.rx_len == 5 && strcmp(c.rx, "abcde") == 0);
    CHECK(ph_conn_rx_append(&c, "f", 1, 5) == -1 && c.rx_len == 5);
    ph_conn_rx_reset(&c);
    CHECK(c.rx == NULL && c.rx_len == 0);
}

/* A group's first member is held inline; the array takes over at the
 * second and keeps every member through growth, swap-removes and clear. */
static void
test_fanout_inline(void)
{
    enum { N = 9 };
    ph_fanout f;
    ph_conn *c = calloc(N, sizeof(*c));
    char name[PH_GROUP_NAME_MAX];
    int first, i, k;
    ph_group *g;

    ph_fanout_init(&f);
    CHECK(ph_fanout_join(&f, &c[0], 1, "player_ABCD_1", &first) == 0 && first);
    g = ph_fanout_group(&f, "player_ABCD_1", 13);
    CHECK(g != NULL && g->n == 1 && g->members == &g->one && g->one == &c[0]);
    for (i = 1; i < N; i++) {              /* 1 -> 3 -> 6 -> 12 slots */
        CHECK(ph_fanout_join(&f, &c[i], 1, "player_ABCD_1", &first) == 0 && !first);
        CHECK(g->members != &g->one && g->n == (uint32_t)i + 1 && g->cap >= g->n);
        for (k = 0; k <= i; k++) {
            CHECK(g->members[c[k].group_idx[1]] == &c[k]);
        }
    }
    CHECK(ph_fanout_leave(&f, &c[0], 1, name) == 0);   /* the inline one */
    CHECK(g->members[c[N - 1].group_idx[1]] == &c[N - 1]);
    /* One left in the array, then back to one group member: still found. */
    for (i = 1; i < N - 1; i++) {
        CHECK(ph_fanout_leave(&f, &c[i], 1, name) == 0);
    }
    CHECK(g->n == 1 && g->members[0] == &c[N - 1]);
    CHECK(ph_fanout_leave(&f, &c[N - 1], 1, name) == 1
          && strcmp(name, "player_ABCD_1") == 0);
    /* Freed by clear, inline or not; the members' slots are emptied. */
    CHECK(ph_fanout_join(&f, &c[0], 0, "game_ABCD", &first) == 0);
    CHECK(ph_fanout_join(&f, &c[1], 0, "game_EFGH", &first) == 0);
    CHECK(ph_fanout_join(&f, &c[2], 0, "game_EFGH", &first) == 0);
    ph_fanout_clear(&f);
    CHECK(c[0].groups[0] == NULL && c[1].groups[0] == NULL && c[2].groups[0] == NULL);
    CHECK(f.groups == NULL);
    free(c);
}

static void
test_rate(void)
{
    ph_rate_limits lim = { 10000, 3, 4 };       /* 10/s, burst 3, flood 4 */
    ph_rate r;
    int i;

    ph_rate_init(&r, &lim, 1000);
    for (i = 0; i < 3; i++) {
        CHECK(ph_rate_take(&r, &lim, 1000) == PH_RATE_OK);  /* the burst */
    }
    CHECK(ph_rate_take(&r, &lim, 1000) == PH_RATE_DROP);
    CHECK(ph_rate_take(&r, &lim, 1099) == PH_RATE_DROP);    /* 0.99 token */
    CHECK(ph_rate_take(&r, &lim, 1100) == PH_RATE_OK);      /* 1 token back */
    CHECK(ph_rate_take(&r, &lim, 1100) == PH_RATE_DROP);
    CHECK(ph_rate_take(&r, &lim, 1100) == PH_RATE_FLOOD);   /* 4th refusal */
    /* A full bucket again (300 ms) forgives the refusals. */
    ph_rate_init(&r, &lim, 0);
    for (i = 0; i < 3; i++) {
        CHECK(ph_rate_take(&r, &lim, 0) == PH_RATE_OK);
    }
    CHECK(ph_rate_take(&r, &lim, 0) == PH_RATE_DROP);
    CHECK(ph_rate_take(&r, &lim, 0) == PH_RATE_DROP);
    CHECK(ph_rate_take(&r, &lim, 300) == PH_RATE_OK && r.drops == 0);
    /* Days idle: full, no overflow; a clock going back refills nothing. */
    CHECK(ph_rate_take(&r, &lim, UINT64_MAX / 2) == PH_RATE_OK);
    CHECK(r.tokens == 2 * 1000000u);
    CHECK(ph_rate_take(&r, &lim, 5) == PH_RATE_OK && r.tokens == 1000000u);
    lim.rate_milli = 0;                         /* off */
    for (i = 0; i < 100; i++) {
        CHECK(ph_rate_take(&r, &lim, 0) == PH_RATE_OK);
    }
}

static void
test_client_addr(void)
{
    const char *lo = "127.0.0.1,::1";
    char out[PH_ADDR_MAX];
    ph_addr_count *table = NULL, *a, *b;

    CHECK(ph_conn_client_addr("203.0.113.5", NULL, lo, out) == PH_ADDR_PEER
          && strcmp(out, "203.0.113.5") == 0);
    /* Not a trusted peer: its X-Forwarded-For is not believed. */
    CHECK(ph_conn_client_addr("203.0.113.5", "1.2.3.4", lo, out) == PH_ADDR_PEER
          && strcmp(out, "203.0.113.5") == 0);
    CHECK(ph_conn_client_addr("127.0.0.1", NULL, lo, out) == PH_ADDR_PROXY
          && strcmp(out, "127.0.0.1") == 0);
    CHECK(ph_conn_client_addr("127.0.0.1", "", lo, out) == PH_ADDR_PROXY);
    CHECK(ph_conn_client_addr("127.0.0.1", " 1.2.3.4 ", lo, out) == PH_ADDR_XFF
          && strcmp(out, "1.2.3.4") == 0);
    /* From the right, past trusted proxies; the left part is the client's. */
    CHECK(ph_conn_client_addr("127.0.0.1", "6.6.6.6, 9.9.9.9, 127.0.0.1", lo, out)
              == PH_ADDR_XFF && strcmp(out, "9.9.9.9") == 0);
    CHECK(ph_conn_client_addr("::ffff:127.0.0.1", "2001:DB8::1", lo, out)
              == PH_ADDR_XFF && strcmp(out, "2001:db8::1") == 0);
    CHECK(ph_conn_client_addr("::1", "::ffff:10.1.2.3", lo, out) == PH_ADDR_XFF
          && strcmp(out, "10.1.2.3") == 0);
    /* Garbage stops the walk at the last address read. */
    CHECK(ph_conn_client_addr("127.0.0.1", "9.9.9.9, nonsense", lo, out)
              == PH_ADDR_PROXY && strcmp(out, "127.0.0.1") == 0);
    CHECK(ph_conn_client_addr("127.0.0.1", "nonsense, 9.9.9.9", lo, out)
              == PH_ADDR_XFF && strcmp(out, "9.9.9.9") == 0);
    CHECK(ph_conn_client_addr("127.0.0.1", "1.2.3.4:80", lo, out) == PH_ADDR_PROXY);
    CHECK(ph_conn_client_addr("127.0.0.1", "1.2.3.4", NULL, out) == PH_ADDR_PEER
          && strcmp(out, "127.0.0.1") == 0);
    CHECK(ph_conn_client_addr("127.0.0.1", "1.2.3.4", "", out) == PH_ADDR_PEER);
    /* All trusted: the leftmost stands. */
    CHECK(ph_conn_client_addr("127.0.0.1", "::1,127.0.0.1", lo, out) == PH_ADDR_XFF
          && strcmp(out, "::1") == 0);

    /* Random headers (X-Forwarded-For is client input): never past out,
     * always NUL-terminated, an X-Forwarded-For address always valid. */
    {
        static const char alphabet[] = "0123456789abcdefABCDEF.:, \t[]%f";
        char xff[64];
        unsigned seed = 7;
        int i, n, j;

        for (i = 0; i < 200000; i++) {
            n = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 63;
            for (j = 0; j < n; j++) {
                seed = seed * 1103515245u + 12345u;
                xff[j] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
            }
            xff[n] = '\0';
            memset(out, 'x', sizeof(out));
            if (ph_conn_client_addr("127.0.0.1", xff, lo, out) == PH_ADDR_XFF) {
                unsigned char bin[16];

                CHECK(inet_pton(AF_INET, out, bin) == 1
                      || inet_pton(AF_INET6, out, bin) == 1);
            }
            CHECK(memchr(out, '\0', sizeof(out)) != NULL);
        }
    }

    a = ph_addr_count_add(&table, "1.2.3.4");
    b = ph_addr_count_add(&table, "1.2.3.4");
    CHECK(a != NULL && a == b && ph_addr_count_get(table, "1.2.3.4") == 2);
    CHECK(ph_addr_count_get(table, "1.2.3.5") == 0);
    ph_addr_count_release(&table, a);
    CHECK(ph_addr_count_get(table, "1.2.3.4") == 1);
    ph_addr_count_release(&table, b);
    CHECK(table == NULL);                       /* empty entries are freed */
    ph_addr_count_release(&table, NULL);
    CHECK(ph_addr_count_add(&table, "::1") != NULL);
    ph_addr_count_clear(&table);
    CHECK(table == NULL);
}

/* Heartbeat lists: FIFO = deadline order, moves are O(1), never early,
 * and the 32-bit clock may wrap. */
static void
test_heartbeat(void)
{
    const uint64_t t0 = 0xfffff000u;           /* wraps 4 s in */
    ph_hb hb;
    ph_hb_node n[3];
    ph_hb_kind kind;

    memset(n, 0, sizeof(n));
    ph_hb_init(&hb, 20, 30);
    ph_hb_alive(&hb, &n[0], t0);               /* PING due at t0 + 20 s */
    ph_hb_alive(&hb, &n[1], t0 + 500);
    ph_hb_alive(&hb, &n[2], t0 + 1000);
    CHECK(hb.silent.n == 3 && hb.pinged.n == 0);
    CHECK(ph_hb_due(&hb, t0 + 19999, &kind) == NULL);   /* never early */
    CHECK(ph_hb_due(&hb, t0 + 20000, &kind) == &n[0] && kind == PH_HB_SILENT);
    ph_hb_pinged(&hb, &n[0]);                  /* drop due at t0 + 30 s */
    CHECK(ph_hb_due(&hb, t0 + 20499, &kind) == NULL);
    ph_hb_alive(&hb, &n[1], t0 + 20400);       /* a PONG: due t0 + 40.4 s */
    CHECK(hb.silent.head == &n[2] && hb.silent.tail == &n[1]);
    CHECK(ph_hb_due(&hb, t0 + 21000, &kind) == &n[2] && kind == PH_HB_SILENT);
    ph_hb_remove(&hb, &n[2]);
    ph_hb_remove(&hb, &n[2]);                  /* no-op */
    CHECK(n[2].kind == PH_HB_NONE && hb.silent.n == 1);
    CHECK(ph_hb_due(&hb, t0 + 29999, &kind) == NULL);
    CHECK(ph_hb_due(&hb, t0 + 30000, &kind) == &n[0] && kind == PH_HB_PINGED);
    ph_hb_remove(&hb, &n[0]);
    CHECK(hb.pinged.head == NULL && hb.pinged.tail == NULL && hb.pinged.n == 0);
    CHECK(ph_hb_due(&hb, t0 + 40399, &kind) == NULL);
    CHECK(ph_hb_due(&hb, t0 + 40400, &kind) == &n[1]);
    ph_hb_remove(&hb, &n[1]);
    CHECK(hb.silent.head == NULL && hb.silent.tail == NULL && hb.silent.n == 0);
}

int
main(void)
{
    test_outq();
    test_outq_inline();
    test_outq_pack();
    test_chanmsg();
    test_wsparse();
    test_sha();
    test_log();
    test_fanout();
    test_fanout_inline();
    test_conn_id();
    test_conn_pending();
    test_rate();
    test_client_addr();
    test_heartbeat();
    printf("sidecar_unit: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
