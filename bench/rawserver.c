/*
 * rawserver: the raw C baseline, the ceiling on this box. It accepts
 * WebSocket connections on /ws/game/<CODE>/ (RFC 6455 handshake, no token
 * check, no Redis), greets each like the real servers (welcome, then
 * session.state with seq 0) and, when told, writes prebuilt event frames to
 * the already-open sockets of a game with plain write() calls: each event's
 * frame is built once and written to every socket of its game.
 *
 *   rawserver --port P [--host 127.0.0.1] [--shm FILE]
 *
 * stdin commands (answers are JSON lines on stdout):
 *
 *   run COUNT RATE WINDOW GAME PAYLOAD SEED [CORK]
 *       send COUNT events; RATE events/s (0 = as fast as the clients take
 *       them: event k waits until the load generator's progress page
 *       (--shm) shows every delivery of event k-WINDOW); GAME is a code or
 *       "*" for a random game per event (xorshift seeded with SEED);
 *       PAYLOAD is the approximate frame text size in bytes. Each frame is
 *       {"type":"phase.game_over","seq":S,"payload":{"t":T,"round":0,
 *       "ranking":[],"awards":[],"pad":"x..."}} with T = CLOCK_MONOTONIC ns just before its first
 *       write(). Answers {"ev":"done",...} with the time each event took to
 *       write to all its sockets ("write" histogram).
 *   stats   {"ev":"stats","conns":N,"games":G}
 *   quit
 *
 * Writes are effectively blocking: EAGAIN waits in poll() for POLLOUT (at
 * most 5 s, then the socket's frame is counted as dropped), so a slow
 * reader slows the sender down, as the real servers' queues would.
 */
#define _GNU_SOURCE 1

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wscommon.h"

#define HS_MAX 4096
#define NCODES (26 * 26 * 26 * 26)
#define FRAME_MAX 8192
#define LISTEN_TAG UINT32_MAX
#define STDIN_TAG (UINT32_MAX - 1)

typedef struct rconn {
    uint8_t state;              /* 0 free, 1 handshake, 2 open */
    int32_t game;
    int32_t pos;                /* index in the game's fd list */
    char *hs;                   /* request bytes while in handshake */
    uint16_t hs_len;
} rconn;

typedef struct game {
    char code[5];
    int *fds;
    size_t n, cap;
    uint64_t seq;
} game;

static rconn *rc;               /* indexed by fd */
static size_t rc_cap;
static int32_t *code_index;     /* code -> game, -1 when none */
static game *games;
static size_t ngames, games_cap, nopen;
static int epfd, lfd;
static bench_progress *prog;

static int
code_num(const char *c)
{
    int v = 0, i;

    for (i = 0; i < 4; i++) {
        char ch = c[i];

        if (ch >= 'a' && ch <= 'z') {
            ch = (char)(ch - 'a' + 'A');
        }
        if (ch < 'A' || ch > 'Z') {
            return -1;
        }
        v = v * 26 + (ch - 'A');
    }
    return v;
}

static int32_t
game_for(const char *code)
{
    int num = code_num(code);
    game *g;
    int i;

    if (num < 0) {
        return -1;
    }
    if (code_index[num] >= 0) {
        return code_index[num];
    }
    if (ngames == games_cap) {
        size_t ncap = games_cap ? games_cap * 2 : 64;
        game *ng = realloc(games, ncap * sizeof(*games));

        if (ng == NULL) {
            return -1;
        }
        games = ng;
        games_cap = ncap;
    }
    g = &games[ngames];
    memset(g, 0, sizeof(*g));
    for (i = 0; i < 4; i++) {
        g->code[i] = (char)(code[i] >= 'a' ? code[i] - 'a' + 'A' : code[i]);
    }
    code_index[num] = (int32_t)ngames;
    return (int32_t)ngames++;
}

static int
game_add(int32_t gi, int fd)
{
    game *g = &games[gi];

    if (g->n == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 16;
        int *nf = realloc(g->fds, ncap * sizeof(int));

        if (nf == NULL) {
            return -1;
        }
        g->fds = nf;
        g->cap = ncap;
    }
    rc[fd].pos = (int32_t)g->n;
    g->fds[g->n++] = fd;
    return 0;
}

static void
conn_close(int fd)
{
    rconn *c = &rc[fd];

    if (c->state == 2 && c->game >= 0) {
        game *g = &games[c->game];
        int last = g->fds[g->n - 1];

        g->fds[c->pos] = last;
        rc[last].pos = c->pos;
        g->n--;
        nopen--;
    }
    free(c->hs);
    memset(c, 0, sizeof(*c));
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
}

/* Write all of buf, waiting for POLLOUT on EAGAIN. 0, or -1 (dropped). */
static int
write_all(int fd, const char *buf, size_t len, uint64_t *waits)
{
    size_t off = 0;

    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);

        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};

            (*waits)++;
            if (poll(&p, 1, 5000) <= 0) {
                return -1;
            }
            continue;
        }
        return -1;
    }
    return 0;
}

/* Server frame header for a text payload of n bytes into h; returns size. */
static size_t
frame_header(unsigned char *h, size_t n)
{
    h[0] = 0x81;
    if (n < 126) {
        h[1] = (unsigned char)n;
        return 2;
    }
    h[1] = 126;
    h[2] = (unsigned char)(n >> 8);
    h[3] = (unsigned char)n;
    return 4;
}

static int
send_text(int fd, const char *text)
{
    char fr[FRAME_MAX];
    size_t n = strlen(text), h;
    uint64_t waits = 0;

    if (n + 4 > sizeof(fr)) {
        return -1;
    }
    h = frame_header((unsigned char *)fr, n);
    memcpy(fr + h, text, n);
    return write_all(fd, fr, h + n, &waits);
}

static void
on_handshake(int fd)
{
    rconn *c = &rc[fd];
    ssize_t r = read(fd, c->hs + c->hs_len, HS_MAX - 1 - c->hs_len);
    char *end, *key, *path, *kend, accept[29], resp[256], text[256];
    int32_t gi;

    if (r <= 0) {
        conn_close(fd);
        return;
    }
    c->hs_len = (uint16_t)(c->hs_len + r);
    c->hs[c->hs_len] = '\0';
    end = strstr(c->hs, "\r\n\r\n");
    if (end == NULL) {
        if (c->hs_len >= HS_MAX - 1) {
            conn_close(fd);
        }
        return;
    }
    path = strstr(c->hs, "/ws/game/");
    key = strcasestr(c->hs, "\r\nSec-WebSocket-Key:");
    if (path == NULL || key == NULL || strncmp(c->hs, "GET ", 4) != 0) {
        const char *no = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";

        if (write(fd, no, strlen(no)) < 0) {
            /* closing anyway */
        }
        conn_close(fd);
        return;
    }
    key += strlen("\r\nSec-WebSocket-Key:");
    while (*key == ' ') {
        key++;
    }
    kend = strstr(key, "\r\n");
    ws_accept_key(key, (size_t)(kend - key), accept);
    gi = game_for(path + strlen("/ws/game/"));
    if (gi < 0) {
        conn_close(fd);
        return;
    }
    snprintf(resp, sizeof(resp),
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
    {
        uint64_t waits = 0;

        if (write_all(fd, resp, strlen(resp), &waits) < 0) {
            conn_close(fd);
            return;
        }
    }
    free(c->hs);
    c->hs = NULL;
    c->state = 2;
    c->game = gi;
    if (game_add(gi, fd) < 0) {
        c->state = 1;
        conn_close(fd);
        return;
    }
    nopen++;
    snprintf(text, sizeof(text),
             "{\"type\":\"welcome\",\"connection_id\":\"raw%d\",\"server_version\":\"raw\","
             "\"session\":\"%s\",\"role\":\"player\",\"player_id\":null}",
             fd, games[gi].code);
    if (send_text(fd, text) < 0
        || send_text(fd, "{\"type\":\"session.state\",\"seq\":0,\"payload\":{}}") < 0) {
        conn_close(fd);
    }
}

static void
on_accept(void)
{
    for (int k = 0; k < 256; k++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct epoll_event ev;
        int one = 1;

        if (fd < 0) {
            return;
        }
        if ((size_t)fd >= rc_cap) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        rc[fd].hs = malloc(HS_MAX);
        if (rc[fd].hs == NULL) {
            close(fd);
            continue;
        }
        rc[fd].state = 1;
        rc[fd].hs_len = 0;
        rc[fd].game = -1;
        ev.events = EPOLLIN;
        ev.data.u32 = (uint32_t)fd;
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

static void
on_readable(int fd)
{
    char buf[4096];
    ssize_t r;

    if (rc[fd].state == 1) {
        on_handshake(fd);
        return;
    }
    /* Client frames (PONGs, close) are read and dropped; EOF closes. */
    r = read(fd, buf, sizeof(buf));
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(fd);
    }
}

static bench_lines cmds;        /* stdin command lines */

static void
pump(int timeout_ms)
{
    struct epoll_event evs[512];
    int n = epoll_wait(epfd, evs, 512, timeout_ms), k;

    for (k = 0; k < n; k++) {
        uint32_t tag = evs[k].data.u32;

        if (tag == LISTEN_TAG) {
            on_accept();
        } else if (tag == STDIN_TAG) {
            bench_lines_read(&cmds, epfd);
        } else {
            on_readable((int)tag);
        }
    }
}

static uint32_t rng_state = 1;

static uint32_t
rng(void)
{
    return bench_xorshift32(&rng_state);
}

#define CORK_MAX 16

static void
cmd_run(long count, double rate, long window, const char *which, long payload, long seed,
        long cork)
{
    static lathist wh;
    static char fr[CORK_MAX * (FRAME_MAX + 4)];   /* a batch of whole frames */
    char text[FRAME_MAX], pad[FRAME_MAX];
    size_t blen = 0;
    uint64_t *cum;                   /* expected deliveries after event k */
    uint64_t t0, t_batch = 0, waits = 0, dropped = 0, frames = 0, stalls = 0;
    int32_t fixed = -1;
    long k;
    size_t padlen;

    if (count < 0 || count > 10000000 || window < 1 || payload < 0 || payload > FRAME_MAX / 2
        || cork < 1 || cork > CORK_MAX || (cork > 1 && (rate > 0 || strcmp(which, "*") == 0))) {
        printf("{\"ev\":\"error\",\"msg\":\"bad run arguments\"}\n");
        fflush(stdout);
        return;
    }
    if (strcmp(which, "*") != 0) {
        int num = code_num(which);

        fixed = num < 0 ? -1 : code_index[num];
        if (fixed < 0) {
            printf("{\"ev\":\"error\",\"msg\":\"unknown game %s\"}\n", which);
            fflush(stdout);
            return;
        }
    }
    if (ngames == 0) {
        printf("{\"ev\":\"error\",\"msg\":\"no games\"}\n");
        fflush(stdout);
        return;
    }
    rng_state = (uint32_t)seed | 1u;
    /* The same shape as the Python broadcaster's event, padded to size. */
    padlen = payload > 114 ? (size_t)payload - 114 : 1;
    memset(pad, 'x', padlen);
    pad[padlen] = '\0';
    cum = xcalloc((size_t)count + 1, sizeof(*cum));
    lathist_reset(&wh);
    t0 = now_ns();
    for (k = 0; k < count; k++) {
        int32_t gi = fixed >= 0 ? fixed : (int32_t)(rng() % ngames);
        game *g = &games[gi];
        uint64_t t, t_end;
        size_t n, h, i;

        cum[k + 1] = cum[k] + g->n;
        if (rate > 0) {
            uint64_t due = t0 + (uint64_t)((double)k * 1e9 / rate);

            for (uint64_t now = now_ns(); now < due; now = now_ns()) {
                uint64_t left = due - now;   /* > 0: now < due */

                pump(left > 2000000 ? (int)(left / 1000000) - 1 : 0);
            }
        } else if (prog != NULL && k % cork == 0 && k >= window) {
            /* cork 1: every delivery of event k - window; cork > 1: of the
             * previous batch (its last event is k - 1). */
            uint64_t need = cum[cork > 1 ? k : k - window + 1], start = now_ns();

            while (__atomic_load_n(&prog->deliveries, __ATOMIC_ACQUIRE) < need) {
                if (now_ns() - start > 5000000000ull) {
                    stalls++;
                    break;
                }
                pump(0);
            }
        }
        g->seq++;
        t = now_ns();
        if (blen == 0) {
            t_batch = t;
        }
        n = (size_t)snprintf(text, sizeof(text),
                             "{\"type\":\"phase.game_over\",\"seq\":%llu,\"payload\":{\"t\":%llu,"
                             "\"round\":0,\"ranking\":[],\"awards\":[],\"pad\":\"%s\"}}",
                             (unsigned long long)g->seq, (unsigned long long)t, pad);
        h = frame_header((unsigned char *)fr + blen, n);
        memcpy(fr + blen + h, text, n);
        blen += h + n;
        if ((k + 1) % cork != 0 && k + 1 < count) {
            continue;                /* more frames for this batch */
        }
        for (i = 0; i < g->n; i++) {
            if (write_all(g->fds[i], fr, blen, &waits) < 0) {
                dropped += (uint64_t)(k % cork + 1);
            } else {
                frames += (uint64_t)(k % cork + 1);
            }
        }
        blen = 0;
        t_end = now_ns();
        lathist_add(&wh, t_end - t_batch);
        if ((k & 63) == 0) {
            pump(0);                 /* accept/EOF bookkeeping, bounded */
        }
    }
    {
        double el = (double)(now_ns() - t0) / 1e9;

        printf("{\"ev\":\"done\",\"sent\":%ld,\"frames\":%llu,\"dropped\":%llu,"
               "\"eagain_waits\":%llu,\"stalls\":%llu,\"elapsed_s\":%.4f,"
               "\"expected_deliveries\":%llu,\"frame_bytes\":%zu,",
               count, (unsigned long long)frames, (unsigned long long)dropped,
               (unsigned long long)waits, (unsigned long long)stalls, el,
               (unsigned long long)cum[count], (size_t)payload);
        lathist_json(stdout, "write", &wh);
        printf("}\n");
        fflush(stdout);
    }
    free(cum);
}

static int
handle_commands(void)
{
    char line[sizeof(cmds.buf)];

    while (bench_lines_next(&cmds, line, sizeof(line))) {
        char cmd[16] = "", which[16] = "*";
        long count = 0, window = 1, payload = 200, seed = 1, cork = 1;
        double rate = 0;

        sscanf(line, "%15s %ld %lf %ld %15s %ld %ld %ld", cmd, &count, &rate, &window, which,
               &payload, &seed, &cork);
        if (strcmp(cmd, "quit") == 0) {
            return 1;
        } else if (strcmp(cmd, "run") == 0) {
            cmd_run(count, rate, window, which, payload, seed, cork);
        } else if (strcmp(cmd, "stats") == 0) {
            printf("{\"ev\":\"stats\",\"conns\":%zu,\"games\":%zu}\n", nopen, ngames);
            fflush(stdout);
        } else if (cmd[0] != '\0') {
            printf("{\"ev\":\"error\",\"msg\":\"unknown command\"}\n");
            fflush(stdout);
        }
    }
    return cmds.eof;
}

int
main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *shm = NULL;
    int port = 0, one = 1, i;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    struct epoll_event ev;
    unsigned long fd_limit;

    for (i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--host")) host = argv[i + 1];
        else if (!strcmp(argv[i], "--shm")) shm = argv[i + 1];
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (strncmp(host, "127.", 4) != 0 || port < 0 || port > 65535) {
        fprintf(stderr, "rawserver listens on loopback only\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    fd_limit = bench_raise_nofile(0);        /* soft up to the hard limit */
    rc_cap = fd_limit > 4000000 ? 4000000 : (size_t)fd_limit;
    rc = xcalloc(rc_cap, sizeof(*rc));
    code_index = xcalloc(NCODES, sizeof(*code_index));
    memset(code_index, 0xff, NCODES * sizeof(*code_index));
    if (shm != NULL && (prog = bench_progress_map(shm, 0)) == NULL) {
        return 1;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0) {
        perror("bind/listen");
        return 1;
    }
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.u32 = LISTEN_TAG;
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.u32 = STDIN_TAG;
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
    printf("{\"ev\":\"hello\",\"port\":%d,\"fd_limit\":%zu}\n", ntohs(sa.sin_port), rc_cap);
    fflush(stdout);
    for (;;) {
        pump(100);
        if (handle_commands()) {
            break;
        }
    }
    return 0;
}
