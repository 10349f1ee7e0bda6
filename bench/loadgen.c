/*
 * loadgen: the benchmark's WebSocket client swarm. One process, one epoll
 * loop, no libraries; a real RFC 6455 client (random Sec-WebSocket-Key,
 * Sec-WebSocket-Accept checked, masked client frames, PING answered with
 * PONG, close frames answered).
 *
 *   loadgen --port P --max-conns N --shm FILE [--sources K]
 *           [--origin http://127.0.0.1] [--host 127.0.0.1] [--follow 1]
 *
 * Driven over stdin, one command a line; answers are JSON lines on stdout:
 *
 *   connect SPECFILE CONCURRENCY TIMEOUT_S
 *       open one connection per SPECFILE line "<game-index> <path?query>",
 *       at most CONCURRENCY handshakes in flight. A connection is *ready*
 *       once `welcome` and `session.state` arrived (the server's token check
 *       done). Prints {"ev":"progress",...} about once a second and then
 *       {"ev":"connected",...} with counts, elapsed time and error reasons.
 *   drain FOLLOW_PORT TIMEOUT_S
 *       follow a draining server (issue 9): a ready socket that gets
 *       {"type":"server.draining","reconnect_in_ms":d} and then close 1012
 *       reconnects to FOLLOW_PORT (same path) at receipt + d (at once if
 *       the close comes later); its session.state there is its resync
 *       (events below that seq are covered, gaps after it are lost). Run
 *       the command, wait for {"ev":"following"}, then signal the server;
 *       it prints {"ev":"drained",...}
 *       once every socket ready at the start has moved or died (or at the
 *       timeout): reconnects per socket, connects per 100 ms / per second
 *       on FOLLOW_PORT, close-to-ready downtime. Needs --follow (keeps
 *       each socket's path for the reconnect).
 *   reset   zero the event counters and the latency histogram
 *   stats   print {"ev":"stats",...}
 *   quit    exit (the kernel closes the sockets)
 *
 * Each event frame (type "phase.*" / "player.*") carries "seq" and, in its
 * payload, "t" = CLOCK_MONOTONIC ns at the broadcast call; the receive
 * time minus t goes into the latency histogram and seq is checked per
 * connection (gaps = missing seqs, reorder = seq not above the last one).
 * Only the first WS_RX_PREFIX bytes of a message are kept (seq and t sit
 * there); longer messages are skipped in place, so memory per connection
 * is fixed (~sizeof(conn)).
 *
 * The protocol pieces (upgrade request and answer, masked frames, the frame
 * reader, the loopback connect) are bench/wscommon.h's, shared with soak.c.
 *
 * Sources are spread over 127.0.0.1 .. 127.0.0.K (bind with
 * IP_BIND_ADDRESS_NO_PORT) so ephemeral ports do not run out. Only loopback
 * addresses are ever used. RLIMIT_NOFILE is raised to what --max-conns
 * needs when the hard limit allows; the limit in force is reported.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wscommon.h"

#define PATH_MAX_LEN 400       /* one spec line's path */
#define MAX_REASONS 32
#define STDIN_TAG UINT32_MAX
#define MOVE_BIN_NS 100000000ull  /* connect-rate bins of the drain command */
#define MOVE_BINS 3000            /* 300 s of bins */

/* C_WAIT: closed 1012 by a draining server, reconnecting at move_at. */
enum { C_FREE, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_READY, C_DEAD, C_WAIT };

typedef struct conn {
    int fd;
    uint8_t state;
    uint8_t welcome;           /* welcome seen */
    uint8_t moves;             /* reconnects after a drain (1012) */
    uint8_t told;              /* server.draining seen on this socket */
    uint8_t fresh;             /* moved; no event since its resync yet */
    int32_t game;
    int64_t last_seq;          /* last event seq (or the state's seq) */
    ws_rx rx;                  /* frame reader (message prefix kept) */
    ws_handshake *hs;          /* only during the handshake */
    uint64_t t_start;          /* connect() time */
    uint64_t move_at;          /* server.draining: receipt + reconnect_in_ms */
    uint64_t closed_at;        /* the draining server's 1012 close */
} conn;

typedef struct reason {
    char text[64];
    uint64_t count;
} reason;

static conn *conns;
static size_t nconns, max_conns;
static int epfd, port = 8000, nsources = 8;
static const char *origin = "http://127.0.0.1";
static const char *target_host = "127.0.0.1";
static bench_progress *prog;
static lathist hist;
static reason reasons[MAX_REASONS];
static size_t nreasons;
static uint64_t close_codes[8][2];   /* (code, count) pairs */
static size_t nclose_codes;
static unsigned long fd_limit;
/* --follow: each socket's path (for drain reconnects); NULL otherwise. */
static char (*conn_paths)[PATH_MAX_LEN];
static int conn_port_b;            /* drain command's FOLLOW_PORT */
/* Drain command state (reset by each drain command). */
static struct {
    uint64_t t0, notices, closes_1012, moves_started, moved, move_failed;
    uint64_t resync_covered, state_behind, n_waiting, gaps_first_after_move;
    uint64_t gaps_before_move;
    uint32_t bins[MOVE_BINS];  /* reconnects started per 100 ms */
    uint32_t close_bins[MOVE_BINS];  /* 1012 closes received per 100 ms */
    lathist downtime;          /* 1012 close -> session.state on the peer */
    lathist wait;              /* 1012 close -> reconnect started */
    lathist reconnect;         /* reconnect started -> session.state */
} mv;
/* Sockets in C_WAIT, a binary min-heap on move_at (O(log n) per move: a
 * scan of every socket per loop turn would starve the loop at 10,000). */
static uint32_t *wait_heap;
static size_t wait_n;

static void
wait_push(uint32_t idx)
{
    size_t i = wait_n++;

    while (i > 0 && conns[wait_heap[(i - 1) / 2]].move_at > conns[idx].move_at) {
        wait_heap[i] = wait_heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    wait_heap[i] = idx;
}

static uint32_t
wait_pop(void)
{
    uint32_t top = wait_heap[0], last = wait_heap[--wait_n];
    size_t i = 0;

    for (;;) {
        size_t k = 2 * i + 1;

        if (k >= wait_n) {
            break;
        }
        if (k + 1 < wait_n && conns[wait_heap[k + 1]].move_at < conns[wait_heap[k]].move_at) {
            k++;
        }
        if (conns[wait_heap[k]].move_at >= conns[last].move_at) {
            break;
        }
        wait_heap[i] = wait_heap[k];
        i = k;
    }
    wait_heap[i] = last;
    return top;
}

/* Event counters (reset by "reset"). */
static struct {
    uint64_t deliveries, gaps, gap_events, reorder, other, pings, pongs;
    uint64_t bytes_rx, first_t, last_rx, write_fail, bad_frames, too_big;
} ctr;
static uint64_t n_ready, n_failed, n_closed_ready, n_inflight;

/* ---- small helpers -------------------------------------------------------- */

static void
add_reason(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
add_reason(const char *fmt, ...)
{
    char text[64];
    va_list ap;
    size_t i;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    for (i = 0; i < nreasons; i++) {
        if (strcmp(reasons[i].text, text) == 0) {
            reasons[i].count++;
            return;
        }
    }
    if (nreasons < MAX_REASONS) {
        snprintf(reasons[nreasons].text, sizeof(reasons[nreasons].text), "%s", text);
        reasons[nreasons++].count = 1;
    }
}

static void
add_close_code(unsigned code)
{
    size_t i;

    for (i = 0; i < nclose_codes; i++) {
        if (close_codes[i][0] == code) {
            close_codes[i][1]++;
            return;
        }
    }
    if (nclose_codes < 8) {
        close_codes[nclose_codes][0] = code;
        close_codes[nclose_codes++][1] = 1;
    }
}

static uint32_t rng_state = 0x9E3779B9u;

static uint32_t
rng(void)
{
    return bench_xorshift32(&rng_state);
}

static void
publish(void)
{
    if (prog != NULL) {
        __atomic_store_n(&prog->deliveries, ctr.deliveries, __ATOMIC_RELEASE);
        __atomic_store_n(&prog->open, n_ready, __ATOMIC_RELEASE);
        __atomic_store_n(&prog->closed, n_closed_ready, __ATOMIC_RELEASE);
    }
}

static double
self_cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6
           + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Write a whole small client frame (masked). Returns 0 or -1. */
static int
send_frame(conn *c, int opcode, const void *payload, size_t n)
{
    unsigned char fr[131];
    size_t len = ws_client_frame(fr, opcode, payload, n, rng());

    if (write(c->fd, fr, len) != (ssize_t)len) {
        ctr.write_fail++;
        return -1;
    }
    return 0;
}

static void
conn_kill(conn *c, const char *why)
{
    if (c->state == C_DEAD || c->state == C_FREE) {
        return;
    }
    if (c->state == C_READY) {
        n_closed_ready++;
        if (why != NULL) {
            add_reason("after ready: %s", why);
        }
    } else if (c->state == C_WAIT) {
        mv.n_waiting--;
        mv.move_failed++;
    } else {
        n_failed++;
        n_inflight--;
        if (c->moves > 0) {
            mv.move_failed++;
        }
        if (why != NULL) {
            add_reason("%s%s", c->moves > 0 ? "move: " : "", why);
        }
    }
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    free(c->hs);
    c->hs = NULL;
    c->state = C_DEAD;
}

/* Closed 1012 by a draining server: drop the socket, reconnect at the time
 * server.draining gave (at once without one, or when it has passed). */
static void
conn_wait(conn *c)
{
    uint64_t now = now_ns();

    mv.closes_1012++;
    if ((now - mv.t0) / MOVE_BIN_NS < MOVE_BINS) {
        mv.close_bins[(now - mv.t0) / MOVE_BIN_NS]++;
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->closed_at = now;
    if (!c->told || c->move_at < now) {
        c->move_at = now;
    }
    c->state = C_WAIT;
    mv.n_waiting++;
    wait_push((uint32_t)(c - conns));
}

/* ---- messages ------------------------------------------------------------- */

/* A whole text message arrived (its first bytes are in c->rx.pre). */
static void
on_text(conn *c, uint64_t rx)
{
    const char *p = c->rx.pre;
    size_t n = c->rx.pre_len;
    static const char head[] = "{\"type\":\"";

    if (n < sizeof(head) || memcmp(p, head, sizeof(head) - 1) != 0) {
        ctr.other++;
        return;
    }
    p += sizeof(head) - 1;
    n -= sizeof(head) - 1;
    if ((n > 6 && memcmp(p, "phase.", 6) == 0) || (n > 7 && memcmp(p, "player.", 7) == 0)) {
        int64_t seq = ws_find_num(p, n, "\"seq\":");
        int64_t t = ws_find_num(p, n, "\"t\":");

        if (seq < 0) {
            ctr.bad_frames++;
            return;
        }
        if (seq <= c->last_seq) {
            ctr.reorder++;
            return;
        }
        if (seq > c->last_seq + 1) {
            ctr.gaps += (uint64_t)(seq - c->last_seq - 1);
            ctr.gap_events++;
            if (c->fresh) {
                mv.gaps_first_after_move += (uint64_t)(seq - c->last_seq - 1);
            } else if (c->moves == 0) {
                mv.gaps_before_move += (uint64_t)(seq - c->last_seq - 1);
            }
        }
        c->fresh = 0;
        c->last_seq = seq;
        ctr.deliveries++;
        if (t > 0) {
            if ((uint64_t)t <= rx) {
                lathist_add(&hist, rx - (uint64_t)t);
            }
            if (ctr.first_t == 0 || (uint64_t)t < ctr.first_t) {
                ctr.first_t = (uint64_t)t;
            }
        }
        ctr.last_rx = rx;
        return;
    }
    if (n > 8 && memcmp(p, "welcome\"", 8) == 0) {
        c->welcome = 1;
        return;
    }
    if (n > 14 && memcmp(p, "session.state\"", 14) == 0) {
        int64_t seq = ws_find_num(p, n, "\"seq\":");

        if (seq < 0) {
            seq = 0;
        }
        if (c->moves > 0 && c->state == C_OPEN) {
            /* The resync after a move: the state covers what was missed. */
            if (seq > c->last_seq) {
                mv.resync_covered += (uint64_t)(seq - c->last_seq);
            } else if (seq < c->last_seq) {
                mv.state_behind++;
                seq = c->last_seq;
            }
            mv.moved++;
            c->fresh = 1;
            lathist_add(&mv.downtime, rx - c->closed_at);
            lathist_add(&mv.reconnect, rx - c->t_start);
        }
        c->last_seq = seq;
        if (c->state == C_OPEN) {
            c->state = C_READY;
            n_ready++;
            n_inflight--;
        }
        return;
    }
    if (n > 16 && memcmp(p, "server.draining\"", 16) == 0) {
        int64_t ms = ws_find_num(p, n, "\"reconnect_in_ms\":");

        mv.notices++;
        c->told = 1;
        c->move_at = rx + (uint64_t)(ms < 0 ? 0 : ms) * 1000000u;
        return;
    }
    ctr.other++;
}

/* A whole control frame arrived. Returns -1 when the connection is gone. */
static int
on_control(conn *c)
{
    const ws_rx *r = &c->rx;

    switch (r->opcode) {
    case 0x9:                                   /* PING -> PONG */
        ctr.pings++;
        if (send_frame(c, 0xA, r->pre, r->pre_len) == 0) {
            ctr.pongs++;
        }
        return 0;
    case 0xA:
        return 0;
    case 0x8: {
        unsigned code = r->pre_len >= 2
                            ? (unsigned)((unsigned char)r->pre[0] << 8 | (unsigned char)r->pre[1])
                            : 1005;
        char why[32];

        add_close_code(code);
        send_frame(c, 0x8, r->pre, r->pre_len >= 2 ? 2 : 0);
        if (code == 1012 && conn_paths != NULL && conn_port_b > 0 && c->state == C_READY) {
            conn_wait(c);
            return -1;
        }
        snprintf(why, sizeof(why), "close %u", code);
        conn_kill(c, why);
        return -1;
    }
    default:
        ctr.bad_frames++;
        conn_kill(c, "bad control opcode");
        return -1;
    }
}

/* Feed received WebSocket bytes. Returns -1 when the connection is gone. */
static int
feed(conn *c, const unsigned char *d, size_t n, uint64_t rx)
{
    while (n > 0) {
        int r = ws_rx_feed(&c->rx, &d, &n);

        if (r == WS_RX_ERROR) {
            if (ws_rx_error_masked(&c->rx)) {
                ctr.bad_frames++;
                conn_kill(c, "masked server frame");
            } else {
                conn_kill(c, "control frame too long");
            }
            return -1;
        }
        if (r == WS_RX_CONTROL) {
            if (on_control(c) < 0) {
                return -1;
            }
        } else if (r == WS_RX_MESSAGE) {
            if (c->rx.opcode == 0x1) {
                on_text(c, rx);
            } else {
                ctr.other++;
            }
        }
    }
    return 0;
}

/* ---- handshake ------------------------------------------------------------ */

/* Format c's upgrade request for path (sent on EPOLLOUT). Returns 0, or -1
 * when it does not fit. */
static int
start_handshake(conn *c, const char *path, int to_port)
{
    unsigned char nonce[16];
    int len, i;

    for (i = 0; i < 16; i++) {
        nonce[i] = (unsigned char)rng();
    }
    len = ws_client_request(c->hs->buf, WS_HS_MAX, path, target_host, to_port, origin, nonce,
                            c->hs->accept);
    if (len < 0) {
        return -1;
    }
    c->hs->len = (size_t)len;
    return 0;
}

/* Read the upgrade response; on success pass the bytes after it to feed(). */
static void
on_handshake_read(conn *c, uint64_t rx)
{
    unsigned char rest[WS_HS_MAX];
    size_t extra = 0, before = c->hs->len;
    char why[40];
    int rc = ws_handshake_read(c->hs, c->fd, rest, &extra, why, sizeof(why));

    ctr.bytes_rx += c->hs->len - before;
    if (rc <= 0) {
        if (rc < 0) {
            conn_kill(c, why);
        }
        return;
    }
    free(c->hs);
    c->hs = NULL;
    c->state = C_OPEN;
    if (extra > 0) {
        feed(c, rest, extra, rx);
    }
}

/* Start connecting c (socket idx) to to_port. Returns 0, or -1 with errno
 * kept and the reason counted. */
static int
start_connect(conn *c, int idx, int to_port)
{
    struct epoll_event ev;
    char why[64];

    c->fd = bench_connect(target_host, to_port, nsources, (uint32_t)idx, why, sizeof(why));
    if (c->fd < 0) {
        int err = errno;

        add_reason("%s", why);
        errno = err;
        return -1;
    }
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u32 = (uint32_t)idx;
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    c->state = C_CONNECTING;
    c->t_start = now_ns();
    return 0;
}

/* ---- the loop ------------------------------------------------------------- */

static bench_lines cmds;           /* stdin command lines */

static void
on_conn_event(uint32_t idx, uint32_t events, unsigned char *scratch, size_t scratch_len)
{
    conn *c = &conns[idx];
    uint64_t rx;

    if (c->state == C_DEAD || c->state == C_FREE) {
        return;
    }
    if (c->state == C_CONNECTING) {
        if (events & (EPOLLERR | EPOLLHUP)) {
            int err = 0;
            socklen_t el = sizeof(err);

            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            add_reason("connect: %s", strerror(err ? err : ECONNRESET));
            c->state = C_HANDSHAKE;      /* counted as failed below */
            conn_kill(c, NULL);
            return;
        }
        if (events & EPOLLOUT) {
            struct epoll_event ev;
            ssize_t w = write(c->fd, c->hs->buf, c->hs->len);

            if (w != (ssize_t)c->hs->len) {
                conn_kill(c, "handshake write failed");
                return;
            }
            c->hs->len = 0;
            c->state = C_HANDSHAKE;
            ev.events = EPOLLIN | EPOLLRDHUP;
            ev.data.u32 = idx;
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        }
        return;
    }
    if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) {
        return;
    }
    rx = now_ns();
    if (c->state == C_HANDSHAKE) {
        on_handshake_read(c, rx);
        return;
    }
    /* Bounded: at most 4 reads per wake-up, so one busy socket cannot starve
     * the others; level-triggered epoll brings us back. */
    for (int k = 0; k < 4; k++) {
        ssize_t r = read(c->fd, scratch, scratch_len);

        if (r > 0) {
            ctr.bytes_rx += (uint64_t)r;
            if (feed(c, scratch, (size_t)r, rx) < 0) {
                return;
            }
            if ((size_t)r < scratch_len) {
                return;
            }
            continue;
        }
        if (r == 0) {
            conn_kill(c, "eof");
        } else if (errno != EAGAIN && errno != EINTR) {
            conn_kill(c, strerror(errno));
        }
        return;
    }
}

/* One epoll_wait round (timeout in ms); returns 1 when stdin has a line. */
static int
pump(int timeout_ms)
{
    static unsigned char scratch[65536];
    struct epoll_event evs[1024];
    int n, k, line = 0;

    n = epoll_wait(epfd, evs, 1024, timeout_ms);
    for (k = 0; k < n; k++) {
        if (evs[k].data.u32 == STDIN_TAG) {
            bench_lines_read(&cmds, epfd);
            line = 1;
            continue;
        }
        on_conn_event(evs[k].data.u32, evs[k].events, scratch, sizeof(scratch));
    }
    publish();
    return line;
}

static void
print_reasons(FILE *f)
{
    size_t i;

    fputs("\"errors\":{", f);
    for (i = 0; i < nreasons; i++) {
        fprintf(f, "%s\"%s\":%llu", i ? "," : "", reasons[i].text,
                (unsigned long long)reasons[i].count);
    }
    fputs("},\"close_codes\":{", f);
    for (i = 0; i < nclose_codes; i++) {
        fprintf(f, "%s\"%llu\":%llu", i ? "," : "", (unsigned long long)close_codes[i][0],
                (unsigned long long)close_codes[i][1]);
    }
    fputs("}", f);
}

static void
cmd_connect(const char *file, int concurrency, double timeout_s)
{
    FILE *f = fopen(file, "r");
    char line[PATH_MAX_LEN + 32];
    uint64_t t0 = now_ns(), last_print = t0, deadline;
    uint64_t ready0 = n_ready, failed0 = n_failed;
    size_t first = nconns, target = 0, started = 0;
    int stop_launch = 0;
    char (*paths)[PATH_MAX_LEN] = NULL;
    int32_t *games = NULL;
    size_t cap = 0;

    if (f == NULL) {
        printf("{\"ev\":\"error\",\"msg\":\"cannot open %s\"}\n", file);
        fflush(stdout);
        return;
    }
    /* Read the specs (bounded by --max-conns). */
    while (fgets(line, sizeof(line), f) != NULL && first + target < max_conns) {
        char *sp = strchr(line, ' ');
        size_t pl;

        if (sp == NULL) {
            continue;
        }
        if (target == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            void *np = realloc(paths, ncap * sizeof(*paths));
            void *ng = realloc(games, ncap * sizeof(*games));

            if (np == NULL || ng == NULL) {
                fprintf(stderr, "out of memory reading specs\n");
                exit(3);
            }
            paths = np;
            games = ng;
            cap = ncap;
        }
        games[target] = (int32_t)atoi(line);
        pl = strcspn(sp + 1, "\r\n");
        if (pl >= PATH_MAX_LEN) {
            pl = PATH_MAX_LEN - 1;
        }
        memcpy(paths[target], sp + 1, pl);
        paths[target][pl] = '\0';
        target++;
    }
    fclose(f);
    deadline = t0 + (uint64_t)(timeout_s * 1e9);
    while (now_ns() < deadline) {
        uint64_t now;

        while (!stop_launch && started < target && n_inflight < (uint64_t)concurrency) {
            conn *c = &conns[first + started];

            memset(c, 0, sizeof(*c));
            c->fd = -1;
            c->game = games[started];
            c->last_seq = 0;
            c->hs = malloc(sizeof(ws_handshake));
            if (c->hs == NULL) {
                add_reason("malloc");
                stop_launch = 1;
                break;
            }
            if (conn_paths != NULL) {
                memcpy(conn_paths[first + started], paths[started], PATH_MAX_LEN);
            }
            nconns = first + started + 1;
            started++;
            n_inflight++;
            if (start_handshake(c, paths[started - 1], port) < 0) {
                c->state = C_HANDSHAKE;
                conn_kill(c, "handshake request too long");
            } else if (start_connect(c, (int)(first + started - 1), port) < 0) {
                /* EMFILE and friends: no point in trying more. */
                int err = errno;

                c->state = C_HANDSHAKE;
                conn_kill(c, NULL);
                errno = err;
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
                    || errno == ENOMEM || errno == EADDRNOTAVAIL) {
                    stop_launch = 1;
                }
            }
        }
        if ((started == target || stop_launch) && n_inflight == 0) {
            break;
        }
        pump(20);
        now = now_ns();
        /* Handshakes that take longer than 30 s count as failed. */
        if (now - last_print >= 1000000000ull) {
            size_t i;

            for (i = first; i < nconns; i++) {
                conn *c = &conns[i];

                if ((c->state == C_CONNECTING || c->state == C_HANDSHAKE || c->state == C_OPEN)
                    && now - c->t_start > 30000000000ull) {
                    conn_kill(c, "handshake timeout (30 s)");
                }
            }
            last_print = now;
            printf("{\"ev\":\"progress\",\"ready\":%llu,\"failed\":%llu,\"target\":%zu,"
                   "\"elapsed_s\":%.2f}\n",
                   (unsigned long long)(n_ready - ready0),
                   (unsigned long long)(n_failed - failed0), target, (double)(now - t0) / 1e9);
            fflush(stdout);
        }
    }
    {
        size_t i;

        for (i = first; i < nconns; i++) {
            conn *c = &conns[i];

            if (c->state == C_CONNECTING || c->state == C_HANDSHAKE || c->state == C_OPEN) {
                conn_kill(c, "connect phase timed out");
            }
        }
    }
    {
        double el = (double)(now_ns() - t0) / 1e9;
        uint64_t got = n_ready - ready0;

        printf("{\"ev\":\"connected\",\"target\":%zu,\"ready\":%llu,\"failed\":%llu,"
               "\"not_started\":%zu,\"elapsed_s\":%.3f,\"rate\":%.1f,\"total_ready\":%llu,"
               "\"fd_limit\":%lu,",
               target, (unsigned long long)got, (unsigned long long)(n_failed - failed0),
               target - started, el, el > 0 ? (double)got / el : 0.0,
               (unsigned long long)n_ready, fd_limit);
        print_reasons(stdout);
        /* Ready connections per game index (for expected deliveries). */
        {
            int32_t gmax = -1;
            size_t i;

            for (i = 0; i < nconns; i++) {
                if (conns[i].game > gmax) {
                    gmax = conns[i].game;
                }
            }
            if (gmax >= 0 && gmax < 200000) {
                uint32_t *per = xcalloc((size_t)gmax + 1, sizeof(*per));
                int32_t g;

                for (i = 0; i < nconns; i++) {
                    if (conns[i].state == C_READY && conns[i].game >= 0) {
                        per[conns[i].game]++;
                    }
                }
                fputs(",\"game_ready\":[", stdout);
                for (g = 0; g <= gmax; g++) {
                    printf("%s%u", g ? "," : "", per[g]);
                }
                fputs("]", stdout);
                free(per);
            }
        }
        printf("}\n");
        fflush(stdout);
    }
    free(paths);
    free(games);
}

/* Reconnect, to the drain's FOLLOW_PORT, every socket whose time came. */
static void
service_moves(uint64_t now)
{
    while (wait_n > 0 && conns[wait_heap[0]].move_at <= now) {
        uint32_t i = wait_pop();
        conn *c = &conns[i];
        uint64_t bin;

        if (c->state != C_WAIT) {
            continue;
        }
        mv.n_waiting--;
        lathist_add(&mv.wait, now - c->closed_at);
        c->hs = malloc(sizeof(ws_handshake));
        if (c->hs == NULL) {
            c->state = C_DEAD;
            mv.move_failed++;
            continue;
        }
        c->moves++;
        c->told = 0;
        memset(&c->rx, 0, sizeof(c->rx));
        n_inflight++;
        mv.moves_started++;
        bin = (now - mv.t0) / MOVE_BIN_NS;
        if (bin < MOVE_BINS) {
            mv.bins[bin]++;
        }
        if (start_handshake(c, conn_paths[i], conn_port_b) < 0) {
            c->state = C_HANDSHAKE;
            conn_kill(c, "handshake request too long");
        } else if (start_connect(c, (int)i, conn_port_b) < 0) {
            c->state = C_HANDSHAKE;
            conn_kill(c, NULL);
        }
    }
}

/* Every socket ready at the drain's start has moved (ready again) or died. */
static int
drain_done(void)
{
    size_t i;

    for (i = 0; i < nconns; i++) {
        const conn *c = &conns[i];

        if (c->state == C_CONNECTING || c->state == C_HANDSHAKE || c->state == C_OPEN
            || c->state == C_WAIT || (c->state == C_READY && c->moves == 0)) {
            return 0;
        }
    }
    return 1;
}

static void
cmd_drain(int follow, double timeout_s)
{
    uint64_t t0 = now_ns(), now = t0, last_check = t0;
    uint64_t deadline = t0 + (uint64_t)(timeout_s * 1e9);
    uint64_t targets = 0, on_a = 0, hist[3] = {0, 0, 0};
    uint32_t max_bin = 0, max_s = 0, win = 0, max_close_bin = 0;
    size_t i, first_bin = MOVE_BINS, last_bin = 0;
    int done = 0;

    if (conn_paths == NULL || follow <= 0 || follow > 65535) {
        printf("{\"ev\":\"error\",\"msg\":\"drain needs --follow 1 and a port\"}\n");
        fflush(stdout);
        return;
    }
    memset(&mv, 0, sizeof(mv));
    wait_n = 0;
    lathist_reset(&mv.downtime);
    lathist_reset(&mv.wait);
    lathist_reset(&mv.reconnect);
    mv.t0 = t0;
    conn_port_b = follow;
    for (i = 0; i < nconns; i++) {
        if (conns[i].state == C_READY) {
            conns[i].moves = 0;
            conns[i].told = 0;
            targets++;
        }
    }
    /* Signal the server only after this: notices before it are not counted. */
    printf("{\"ev\":\"following\",\"targets\":%llu}\n", (unsigned long long)targets);
    fflush(stdout);
    while (now < deadline && !done) {
        pump(5);
        now = now_ns();
        service_moves(now);
        if (now - last_check >= MOVE_BIN_NS) {
            last_check = now;
            done = drain_done();
        }
    }
    for (i = 0; i < nconns; i++) {
        const conn *c = &conns[i];

        if (c->state == C_FREE) {
            continue;
        }
        hist[c->moves > 2 ? 2 : c->moves]++;
        on_a += c->state == C_READY && c->moves == 0;
    }
    for (i = 0; i < MOVE_BINS; i++) {
        win += mv.bins[i];
        if (i >= 10) {
            win -= mv.bins[i - 10];
        }
        if (mv.bins[i] > max_bin) {
            max_bin = mv.bins[i];
        }
        if (mv.close_bins[i] > max_close_bin) {
            max_close_bin = mv.close_bins[i];
        }
        if (win > max_s) {
            max_s = win;
        }
        if (mv.bins[i] > 0) {
            if (first_bin == MOVE_BINS) {
                first_bin = i;
            }
            last_bin = i;
        }
    }
    printf("{\"ev\":\"drained\",\"done\":%s,\"elapsed_s\":%.3f,\"targets\":%llu,"
           "\"notices\":%llu,\"closes_1012\":%llu,\"moves_started\":%llu,\"moved\":%llu,"
           "\"move_failed\":%llu,\"still_on_first\":%llu,\"reconnects_0\":%llu,"
           "\"reconnects_1\":%llu,\"reconnects_2_or_more\":%llu,\"resync_covered\":%llu,"
           "\"state_behind\":%llu,\"gaps_first_after_move\":%llu,\"gaps_before_move\":%llu,"
           "\"max_connects_per_100ms\":%u,\"max_connects_per_s\":%u,"
           "\"max_closes_per_100ms\":%u,"
           "\"first_connect_s\":%.1f,\"last_connect_s\":%.1f,",
           done ? "true" : "false", (double)(now - t0) / 1e9, (unsigned long long)targets,
           (unsigned long long)mv.notices, (unsigned long long)mv.closes_1012,
           (unsigned long long)mv.moves_started, (unsigned long long)mv.moved,
           (unsigned long long)mv.move_failed, (unsigned long long)on_a,
           (unsigned long long)hist[0], (unsigned long long)hist[1],
           (unsigned long long)hist[2], (unsigned long long)mv.resync_covered,
           (unsigned long long)mv.state_behind,
           (unsigned long long)mv.gaps_first_after_move,
           (unsigned long long)mv.gaps_before_move, max_bin, max_s, max_close_bin,
           first_bin == MOVE_BINS ? 0.0 : (double)first_bin / 10.0,
           (double)(last_bin + 1) / 10.0);
    lathist_json(stdout, "downtime", &mv.downtime);
    putchar(',');
    lathist_json(stdout, "wait", &mv.wait);
    putchar(',');
    lathist_json(stdout, "reconnect", &mv.reconnect);
    putchar(',');
    print_reasons(stdout);
    printf("}\n");
    fflush(stdout);
}

static void
cmd_stats(void)
{
    uint64_t open = 0;
    size_t i;

    for (i = 0; i < nconns; i++) {
        open += conns[i].state == C_READY;
    }
    printf("{\"ev\":\"stats\",\"ready\":%llu,\"open\":%llu,\"closed_after_ready\":%llu,"
           "\"failed\":%llu,\"deliveries\":%llu,\"gaps\":%llu,\"gap_events\":%llu,"
           "\"reorder\":%llu,\"other_msgs\":%llu,\"pings\":%llu,\"pongs_sent\":%llu,"
           "\"bytes_rx\":%llu,\"first_t_ns\":%llu,\"last_rx_ns\":%llu,\"now_ns\":%llu,"
           "\"write_fail\":%llu,\"bad_frames\":%llu,\"cpu_s\":%.3f,",
           (unsigned long long)n_ready, (unsigned long long)open,
           (unsigned long long)n_closed_ready, (unsigned long long)n_failed,
           (unsigned long long)ctr.deliveries, (unsigned long long)ctr.gaps,
           (unsigned long long)ctr.gap_events, (unsigned long long)ctr.reorder,
           (unsigned long long)ctr.other, (unsigned long long)ctr.pings,
           (unsigned long long)ctr.pongs, (unsigned long long)ctr.bytes_rx,
           (unsigned long long)ctr.first_t, (unsigned long long)ctr.last_rx,
           (unsigned long long)now_ns(), (unsigned long long)ctr.write_fail,
           (unsigned long long)ctr.bad_frames, self_cpu_s());
    lathist_json(stdout, "latency", &hist);
    putchar(',');
    print_reasons(stdout);
    printf("}\n");
    fflush(stdout);
}

/* Handle complete stdin lines; returns 1 on quit. */
static int
handle_commands(void)
{
    char line[sizeof(cmds.buf)];

    while (bench_lines_next(&cmds, line, sizeof(line))) {
        char cmd[16] = "", a[512] = "";
        int b = 0;
        double t = 0;

        sscanf(line, "%15s %511s %d %lf", cmd, a, &b, &t);
        if (strcmp(cmd, "quit") == 0) {
            return 1;
        } else if (strcmp(cmd, "connect") == 0) {
            cmd_connect(a, b > 0 ? b : 256, t > 0 ? t : 60);
        } else if (strcmp(cmd, "drain") == 0) {
            cmd_drain(atoi(a), b > 0 ? b : 120);
        } else if (strcmp(cmd, "reset") == 0) {
            memset(&ctr, 0, sizeof(ctr));
            lathist_reset(&hist);
            publish();
            printf("{\"ev\":\"reset\"}\n");
            fflush(stdout);
        } else if (strcmp(cmd, "stats") == 0) {
            cmd_stats();
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
    const char *shm = NULL;
    struct epoll_event ev;
    int i, follow = 0;

    max_conns = 1000;
    for (i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-conns")) max_conns = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--shm")) shm = argv[i + 1];
        else if (!strcmp(argv[i], "--sources")) nsources = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--origin")) origin = argv[i + 1];
        else if (!strcmp(argv[i], "--host")) target_host = argv[i + 1];
        else if (!strcmp(argv[i], "--follow")) follow = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (strncmp(target_host, "127.", 4) != 0) {
        fprintf(stderr, "loadgen only targets loopback addresses (127.0.0.0/8)\n");
        return 2;
    }
    if (nsources < 1 || nsources > 250 || max_conns < 1 || max_conns > 2000000
        || port <= 0 || port > 65535) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    rng_state ^= (uint32_t)now_ns() ^ (uint32_t)getpid();
    fd_limit = bench_raise_nofile(max_conns + 64);
    conns = xcalloc(max_conns, sizeof(*conns));
    if (follow) {
        conn_paths = xcalloc(max_conns, sizeof(*conn_paths));
        wait_heap = xcalloc(max_conns, sizeof(*wait_heap));
    }
    lathist_reset(&hist);
    if (shm != NULL && (prog = bench_progress_map(shm, 1)) == NULL) {
        return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.u32 = STDIN_TAG;
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
    printf("{\"ev\":\"hello\",\"fd_limit\":%lu,\"max_conns\":%zu,\"conn_bytes\":%zu}\n",
           fd_limit, max_conns, sizeof(conn));
    fflush(stdout);
    for (;;) {
        if (pump(100) && handle_commands()) {
            break;
        }
    }
    return 0;
}
