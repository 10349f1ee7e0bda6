/*
 * sidecar_loopbench: the minimal lws WebSocket server used to choose the
 * sidecar's event loop. The same callback runs on lws' own poll() loop or
 * on a libuv loop we own (LWS_SERVER_OPTION_LIBUV + foreign loop), so the
 * only variable is the loop.
 *
 *   sidecar_loopbench poll|uv PORT
 *
 * Client text "B..." -> the payload is broadcast to every connection
 * (one shared buffer, written from each WRITEABLE); "E..." -> echoed to
 * the sender. Driven by sidecar_loadgen. SIGINT stops it.
 */
#define _GNU_SOURCE 1

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <uv.h>

#define BENCH_MAX 256

typedef struct bench {
    struct lws_context *ctx;
    unsigned char bcast[LWS_PRE + BENCH_MAX];
    size_t bcast_len;
    unsigned gen;
    volatile sig_atomic_t stop;
} bench;

typedef struct pss {
    unsigned gen;
    unsigned char echo[LWS_PRE + BENCH_MAX];
    size_t echo_len;
} pss;

static int
cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
   size_t len)
{
    bench *b = lws_context_user(lws_get_context(wsi));
    pss *p = user;

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        p->gen = b->gen;
        break;
    case LWS_CALLBACK_RECEIVE:
        if (len == 0 || len > BENCH_MAX) {
            break;
        }
        if (((char *)in)[0] == 'B') {
            memcpy(b->bcast + LWS_PRE, in, len);
            b->bcast_len = len;
            b->gen++;
            lws_callback_on_writable_all_protocol(b->ctx, lws_get_protocol(wsi));
        }
        else {
            memcpy(p->echo + LWS_PRE, in, len);
            p->echo_len = len;
            lws_callback_on_writable(wsi);
        }
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (p->echo_len) {
            lws_write(wsi, p->echo + LWS_PRE, p->echo_len, LWS_WRITE_TEXT);
            p->echo_len = 0;
            if (p->gen != b->gen) {
                lws_callback_on_writable(wsi);
            }
            break;
        }
        if (p->gen != b->gen) {
            p->gen = b->gen;
            lws_write(wsi, b->bcast + LWS_PRE, b->bcast_len, LWS_WRITE_TEXT);
        }
        break;
    default:
        break;
    }
    return 0;
}

static bench *g_sig_bench;  /* signal handler only: the driver is a test tool */

static void
on_sigint(int sig)
{
    (void)sig;
    g_sig_bench->stop = 1;
    lws_cancel_service(g_sig_bench->ctx);
}

static void
bench_check_stop(uv_timer_t *t)
{
    bench *b = t->data;

    if (b->stop) {
        uv_stop(t->loop);
    }
}

int
main(int argc, char **argv)
{
    static const struct lws_protocols protocols[] = {
        { "bench", cb, sizeof(pss), 4096, 0, NULL, 0 },
        { NULL, NULL, 0, 0, 0, NULL, 0 }
    };
    struct lws_context_creation_info info;
    static bench b;
    uv_loop_t loop;
    uv_timer_t t;
    void *loops[1] = { &loop };
    int use_uv;

    if (argc < 3) {
        fprintf(stderr, "usage: %s poll|uv PORT\n", argv[0]);
        return 2;
    }
    use_uv = strcmp(argv[1], "uv") == 0;
    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof(info));
    info.port = atoi(argv[2]);
    info.protocols = protocols;
    info.user = &b;
    if (use_uv) {
        uv_loop_init(&loop);
        info.options |= LWS_SERVER_OPTION_LIBUV;
        info.foreign_loops = loops;
    }
    b.ctx = lws_create_context(&info);
    if (b.ctx == NULL) {
        fprintf(stderr, "context failed\n");
        return 1;
    }
    g_sig_bench = &b;
    signal(SIGINT, on_sigint);
    signal(SIGPIPE, SIG_IGN);
    printf("ready %s %d\n", argv[1], info.port);
    fflush(stdout);
    if (use_uv) {
        uv_timer_init(&loop, &t);
        t.data = &b;
        uv_timer_start(&t, bench_check_stop, 100, 100);
        uv_run(&loop, UV_RUN_DEFAULT);
        lws_context_destroy(b.ctx);
        uv_close((uv_handle_t *)&t, NULL);
        while (uv_run(&loop, UV_RUN_DEFAULT)) {
        }
        lws_context_destroy(b.ctx);
        uv_loop_close(&loop);
    }
    else {
        while (!b.stop && lws_service(b.ctx, 0) >= 0) {
        }
        lws_context_destroy(b.ctx);
    }
    return 0;
}
