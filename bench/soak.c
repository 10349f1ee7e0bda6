/*
 * soak: the churning WebSocket client swarm of `make soak` (issue 7). One
 * process, one epoll loop, no libraries; the RFC 6455 client side comes
 * from wscommon.h (random key, Accept checked, masked frames, PING
 * answered, close answered).
 *
 *   soak --port P --specs FILE [--sources K] [--origin O] [--host H]
 *
 * FILE has one *slot* a line, "<game-index> <path?query>" (a player token
 * of a game). The swarm keeps `target` slots connected and, at `churn` per
 * second, makes a random ready client leave (alternately a clean close
 * 1000 and a plain socket close, as a closed tab does); the slot it frees
 * or another idle one connects again, so connects follow disconnects.
 * A slot connecting for the first time is a join, later ones are rejoins.
 *
 * Commands on stdin, one a line; answers are JSON lines on stdout:
 *
 *   target N     keep N clients connected (0: everybody leaves)
 *   churn R      R leaves a second (and so R connects)
 *   fill R       at most R connects a second (default 1000)
 *   stats        {"ev":"stats",...}
 *   verify FILE  FILE: "<game-index> <seq>" lines, the last seq of each
 *                game; counts ready clients whose last seq differs
 *   quit
 *
 * Event checks, per client, on phase.* / player.* frames: events with a seq
 * at or below the session.state's are stale (the protocol drops them); the
 * first later event may jump (a join gap: the event went out between the
 * group join and the state write, the protocol's resync case); from then
 * on every seq must be the previous + 1 (else lost) and never go back
 * (else reordered). Payload "t" (CLOCK_MONOTONIC ns) gives the latency.
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
#include <sys/socket.h>
#include <unistd.h>

#include "wscommon.h"

#define SPEC_PATH 200          /* one slot's path?query */
#define MAX_REASONS 32
#define STDIN_TAG UINT32_MAX
#define TICK_MS 10
#define CONCURRENCY 256        /* handshakes in flight */
#define HS_TIMEOUT_NS 30000000000ull

enum { S_IDLE, S_CONNECTING, S_HANDSHAKE, S_OPEN, S_READY };

typedef struct slot {
    int fd;
    uint8_t state;
    uint8_t seen_event;        /* an event after the state arrived */
    uint8_t joined;            /* connected at least once before */
    int32_t game;
    int64_t last_seq;
    uint64_t t_start;
    ws_handshake *hs;          /* only while connecting */
    ws_rx rx;
    char path[SPEC_PATH];
} slot;

typedef struct reason {
    char text[48];
    uint64_t count;
} reason;

typedef struct counters {
    uint64_t connects, joins, rejoins, ready, failed;
    uint64_t leaves_clean, leaves_abrupt, server_closed;
    uint64_t deliveries, stale, join_gaps, join_gap_events;
    uint64_t lost, lost_events, reorder, pings, bad_frames, other;
} counters;

typedef struct soak {
    slot *slots;
    size_t nslots;
    size_t target;             /* clients to keep connected */
    size_t active;             /* slots not idle */
    size_t inflight;           /* handshakes under way */
    size_t nready;
    double churn, fill;        /* per second */
    double leave_credit, connect_credit;
    int epfd, port, nsources;
    const char *origin, *host;
    uint32_t rng;
    counters c;
    reason reasons[MAX_REASONS];
    size_t nreasons;
    uint64_t close_codes[8][2];
    size_t nclose_codes;
    lathist lat, hs_lat;
    bench_lines in;            /* stdin command lines */
    unsigned long fd_limit;
} soak;

/* ---- small helpers -------------------------------------------------------- */

static uint32_t
rng_next(soak *s)
{
    return bench_xorshift32(&s->rng);
}

static void
add_reason(soak *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add_reason(soak *s, const char *fmt, ...)
{
    char text[48];
    va_list ap;
    size_t i;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    for (i = 0; i < s->nreasons; i++) {
        if (strcmp(s->reasons[i].text, text) == 0) {
            s->reasons[i].count++;
            return;
        }
    }
    if (s->nreasons < MAX_REASONS) {
        snprintf(s->reasons[s->nreasons].text, sizeof(s->reasons[0].text), "%s", text);
        s->reasons[s->nreasons++].count = 1;
    }
}

static void
add_close_code(soak *s, unsigned code)
{
    size_t i;

    for (i = 0; i < s->nclose_codes; i++) {
        if (s->close_codes[i][0] == code) {
            s->close_codes[i][1]++;
            return;
        }
    }
    if (s->nclose_codes < 8) {
        s->close_codes[s->nclose_codes][0] = code;
        s->close_codes[s->nclose_codes++][1] = 1;
    }
}

static int
send_frame(soak *s, slot *c, int opcode, const void *payload, size_t n)
{
    unsigned char fr[131];
    size_t len = ws_client_frame(fr, opcode, payload, n, rng_next(s));

    return write(c->fd, fr, len) == (ssize_t)len ? 0 : -1;
}

/* Back to idle: close the socket. why: NULL for a leave we chose. */
static void
slot_drop(soak *s, slot *c, const char *why)
{
    if (c->state == S_IDLE) {
        return;
    }
    if (c->state == S_READY) {
        s->nready--;
        if (why != NULL) {
            s->c.server_closed++;
            add_reason(s, "after ready: %s", why);
        }
    } else {
        s->inflight--;
        s->c.failed++;
        if (why != NULL) {
            add_reason(s, "%s", why);
        }
    }
    if (c->fd >= 0) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    free(c->hs);
    c->hs = NULL;
    c->state = S_IDLE;
    s->active--;
}

/* ---- messages ------------------------------------------------------------- */

static void
on_event(soak *s, slot *c, const char *p, size_t n, uint64_t now)
{
    int64_t seq = ws_find_num(p, n, "\"seq\":");
    int64_t t = ws_find_num(p, n, "\"t\":");

    if (seq < 0) {
        s->c.bad_frames++;
        return;
    }
    if (!c->seen_event) {
        if (seq <= c->last_seq) {
            s->c.stale++;               /* already in the state we got */
            return;
        }
        if (seq > c->last_seq + 1) {
            s->c.join_gaps++;
            s->c.join_gap_events += (uint64_t)(seq - c->last_seq - 1);
        }
        c->seen_event = 1;
    } else if (seq <= c->last_seq) {
        s->c.reorder++;
        return;
    } else if (seq > c->last_seq + 1) {
        s->c.lost++;
        s->c.lost_events += (uint64_t)(seq - c->last_seq - 1);
    }
    c->last_seq = seq;
    s->c.deliveries++;
    if (t > 0 && (uint64_t)t <= now) {
        lathist_add(&s->lat, now - (uint64_t)t);
    }
}

/* A whole text message (its first bytes in c->rx.pre). */
static void
on_text(soak *s, slot *c, uint64_t now)
{
    static const char head[] = "{\"type\":\"";
    const char *p = c->rx.pre;
    size_t n = c->rx.pre_len;

    if (n < sizeof(head) || memcmp(p, head, sizeof(head) - 1) != 0) {
        s->c.other++;
        return;
    }
    p += sizeof(head) - 1;
    n -= sizeof(head) - 1;
    if ((n > 6 && memcmp(p, "phase.", 6) == 0) || (n > 7 && memcmp(p, "player.", 7) == 0)) {
        if (c->state == S_READY) {
            on_event(s, c, p, n, now);
        } else {
            s->c.bad_frames++;          /* an event before the state */
        }
        return;
    }
    if (n > 14 && memcmp(p, "session.state\"", 14) == 0 && c->state == S_OPEN) {
        int64_t seq = ws_find_num(p, n, "\"seq\":");

        c->last_seq = seq < 0 ? 0 : seq;
        c->seen_event = 0;
        c->state = S_READY;
        s->inflight--;
        s->nready++;
        s->c.ready++;
        lathist_add(&s->hs_lat, now - c->t_start);
        return;
    }
    if (n > 8 && memcmp(p, "welcome\"", 8) == 0) {
        return;
    }
    s->c.other++;
}

/* A whole control frame. Returns -1 when the slot was dropped. */
static int
on_control(soak *s, slot *c)
{
    char why[24];
    unsigned code;

    switch (c->rx.opcode) {
    case 0x9:
        s->c.pings++;
        send_frame(s, c, 0xA, c->rx.pre, c->rx.pre_len);
        return 0;
    case 0xA:
        return 0;
    case 0x8:
        code = c->rx.pre_len >= 2 ? (unsigned)((unsigned char)c->rx.pre[0] << 8
                                               | (unsigned char)c->rx.pre[1])
                                  : 1005;
        add_close_code(s, code);
        send_frame(s, c, 0x8, c->rx.pre, c->rx.pre_len >= 2 ? 2 : 0);
        snprintf(why, sizeof(why), "close %u", code);
        slot_drop(s, c, why);
        return -1;
    default:
        s->c.bad_frames++;
        slot_drop(s, c, "bad control opcode");
        return -1;
    }
}

/* Feed received bytes. Returns -1 when the slot was dropped. */
static int
feed(soak *s, slot *c, const unsigned char *d, size_t n, uint64_t now)
{
    while (n > 0) {
        int r = ws_rx_feed(&c->rx, &d, &n);

        if (r == WS_RX_ERROR) {
            s->c.bad_frames++;
            slot_drop(s, c, "bad server frame");
            return -1;
        }
        if (r == WS_RX_CONTROL && on_control(s, c) < 0) {
            return -1;
        }
        if (r == WS_RX_MESSAGE) {
            if (c->rx.opcode == 0x1) {
                on_text(s, c, now);
            } else {
                s->c.other++;
            }
        }
    }
    return 0;
}

/* ---- connecting ----------------------------------------------------------- */

/* Start connecting slot idx; 0, or -1 (counted as failed). */
static int
slot_connect(soak *s, uint32_t idx)
{
    slot *c = &s->slots[idx];
    struct epoll_event ev;
    unsigned char nonce[16];
    char why[64];
    int i, len;

    c->hs = malloc(sizeof(ws_handshake));
    if (c->hs == NULL) {
        add_reason(s, "malloc");
        s->c.failed++;
        return -1;
    }
    for (i = 0; i < 16; i++) {
        nonce[i] = (unsigned char)rng_next(s);
    }
    len = ws_client_request(c->hs->buf, WS_HS_MAX, c->path, s->host, s->port, s->origin,
                            nonce, c->hs->accept);
    if (len < 0) {
        goto error;
    }
    c->hs->len = (size_t)len;
    c->fd = bench_connect(s->host, s->port, s->nsources, idx, why, sizeof(why));
    if (c->fd < 0) {
        add_reason(s, "%s", why);
        goto error;
    }
    ev.events = EPOLLOUT | EPOLLRDHUP;
    ev.data.u32 = idx;
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        add_reason(s, "epoll: %s", strerror(errno));
        goto error;
    }
    memset(&c->rx, 0, sizeof(c->rx));
    c->state = S_CONNECTING;
    c->t_start = now_ns();
    s->active++;
    s->inflight++;
    s->c.connects++;
    if (c->joined) {
        s->c.rejoins++;
    } else {
        s->c.joins++;
        c->joined = 1;
    }
    return 0;

error:
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    free(c->hs);
    c->hs = NULL;
    s->c.failed++;
    return -1;
}

/* Read the upgrade response; bytes after it go to feed(). */
static void
on_handshake_read(soak *s, slot *c, uint64_t now)
{
    unsigned char rest[WS_HS_MAX];
    size_t extra = 0;
    char why[40];
    int rc = ws_handshake_read(c->hs, c->fd, rest, &extra, why, sizeof(why));

    if (rc <= 0) {
        if (rc < 0) {
            slot_drop(s, c, why);
        }
        return;
    }
    free(c->hs);
    c->hs = NULL;
    c->state = S_OPEN;
    if (extra > 0) {
        feed(s, c, rest, extra, now);
    }
}

static void
on_slot_event(soak *s, uint32_t idx, uint32_t events, unsigned char *scratch, size_t cap)
{
    slot *c = &s->slots[idx];
    uint64_t now;

    if (c->state == S_IDLE) {
        return;
    }
    if (c->state == S_CONNECTING) {
        struct epoll_event ev;

        if (events & (EPOLLERR | EPOLLHUP)) {
            int err = 0;
            socklen_t el = sizeof(err);

            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            add_reason(s, "connect: %s", strerror(err ? err : ECONNRESET));
            slot_drop(s, c, NULL);
            return;
        }
        if (write(c->fd, c->hs->buf, c->hs->len) != (ssize_t)c->hs->len) {
            slot_drop(s, c, "handshake write failed");
            return;
        }
        c->hs->len = 0;
        c->state = S_HANDSHAKE;
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u32 = idx;
        epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        return;
    }
    now = now_ns();
    if (c->state == S_HANDSHAKE) {
        on_handshake_read(s, c, now);
        return;
    }
    /* At most 4 reads per wake-up so one socket cannot starve the rest. */
    for (int k = 0; k < 4; k++) {
        ssize_t r = read(c->fd, scratch, cap);

        if (r > 0) {
            if (feed(s, c, scratch, (size_t)r, now) < 0 || (size_t)r < cap) {
                return;
            }
            continue;
        }
        if (r == 0) {
            slot_drop(s, c, "eof");
        } else if (errno != EAGAIN && errno != EINTR) {
            slot_drop(s, c, strerror(errno));
        }
        return;
    }
}

/* ---- churn ---------------------------------------------------------------- */

/* A random slot in state want, by bounded probing; NULL if none found. */
static slot *
pick(soak *s, int want)
{
    for (int k = 0; k < 256; k++) {
        slot *c = &s->slots[rng_next(s) % s->nslots];

        if (c->state == want) {
            return c;
        }
    }
    for (size_t i = 0; i < s->nslots; i++) {
        if (s->slots[i].state == want) {
            return &s->slots[i];
        }
    }
    return NULL;
}

/* One tick of dt seconds: leaves, connects, handshake timeouts. */
static void
tick(soak *s, double dt, uint64_t now)
{
    s->leave_credit += s->churn * dt;
    while (s->leave_credit >= 1.0) {
        slot *c = s->nready > 0 ? pick(s, S_READY) : NULL;

        s->leave_credit -= 1.0;
        if (c == NULL) {
            break;
        }
        if ((s->c.leaves_clean + s->c.leaves_abrupt) % 2 == 0) {
            send_frame(s, c, 0x8, "\x03\xe8", 2);   /* 1000, then hang up */
            s->c.leaves_clean++;
        } else {
            s->c.leaves_abrupt++;
        }
        slot_drop(s, c, NULL);
    }
    while (s->active > s->target && s->nready > 0) {       /* target lowered */
        slot *c = pick(s, S_READY);

        if (c == NULL) {
            break;
        }
        send_frame(s, c, 0x8, "\x03\xe8", 2);
        s->c.leaves_clean++;
        slot_drop(s, c, NULL);
    }
    s->connect_credit += s->fill * dt;
    if (s->connect_credit > s->fill) {
        s->connect_credit = s->fill;                       /* no bursts */
    }
    while (s->active < s->target && s->inflight < CONCURRENCY && s->connect_credit >= 1.0) {
        slot *c = pick(s, S_IDLE);

        if (c == NULL) {
            break;
        }
        s->connect_credit -= 1.0;
        slot_connect(s, (uint32_t)(c - s->slots));
    }
    for (size_t i = 0; i < s->nslots && s->inflight > 0; i++) {
        slot *c = &s->slots[i];

        if (c->state != S_IDLE && c->state != S_READY && now > c->t_start
            && now - c->t_start > HS_TIMEOUT_NS) {
            slot_drop(s, c, "handshake timeout (30 s)");
        }
    }
}

/* ---- commands ------------------------------------------------------------- */

static void
print_stats(soak *s)
{
    size_t i;

    printf("{\"ev\":\"stats\",\"target\":%zu,\"active\":%zu,\"ready_now\":%zu,"
           "\"inflight\":%zu,\"connects\":%llu,\"joins\":%llu,\"rejoins\":%llu,"
           "\"ready\":%llu,\"failed\":%llu,\"leaves_clean\":%llu,\"leaves_abrupt\":%llu,"
           "\"server_closed\":%llu,\"deliveries\":%llu,\"stale\":%llu,\"join_gaps\":%llu,"
           "\"join_gap_events\":%llu,\"lost\":%llu,\"lost_events\":%llu,\"reorder\":%llu,"
           "\"pings\":%llu,\"bad_frames\":%llu,\"other\":%llu,\"fd_limit\":%lu,",
           s->target, s->active, s->nready, s->inflight,
           (unsigned long long)s->c.connects, (unsigned long long)s->c.joins,
           (unsigned long long)s->c.rejoins, (unsigned long long)s->c.ready,
           (unsigned long long)s->c.failed, (unsigned long long)s->c.leaves_clean,
           (unsigned long long)s->c.leaves_abrupt, (unsigned long long)s->c.server_closed,
           (unsigned long long)s->c.deliveries, (unsigned long long)s->c.stale,
           (unsigned long long)s->c.join_gaps, (unsigned long long)s->c.join_gap_events,
           (unsigned long long)s->c.lost, (unsigned long long)s->c.lost_events,
           (unsigned long long)s->c.reorder, (unsigned long long)s->c.pings,
           (unsigned long long)s->c.bad_frames, (unsigned long long)s->c.other,
           s->fd_limit);
    lathist_json(stdout, "latency", &s->lat);
    putchar(',');
    lathist_json(stdout, "connect", &s->hs_lat);
    fputs(",\"errors\":{", stdout);
    for (i = 0; i < s->nreasons; i++) {
        printf("%s\"%s\":%llu", i ? "," : "", s->reasons[i].text,
               (unsigned long long)s->reasons[i].count);
    }
    fputs("},\"close_codes\":{", stdout);
    for (i = 0; i < s->nclose_codes; i++) {
        printf("%s\"%llu\":%llu", i ? "," : "", (unsigned long long)s->close_codes[i][0],
               (unsigned long long)s->close_codes[i][1]);
    }
    puts("}}");
    fflush(stdout);
}

/* Compare every ready client's last seq with its game's final seq. */
static void
cmd_verify(soak *s, const char *file)
{
    FILE *f = fopen(file, "r");
    int64_t *final = NULL;
    size_t i, behind = 0, ahead = 0, equal = 0, unknown = 0, ngames = 0;
    long g;
    long long seq;

    if (f == NULL) {
        puts("{\"ev\":\"error\",\"msg\":\"cannot open the verify file\"}");
        fflush(stdout);
        return;
    }
    for (i = 0; i < s->nslots; i++) {
        if (s->slots[i].game >= 0 && (size_t)s->slots[i].game >= ngames) {
            ngames = (size_t)s->slots[i].game + 1;
        }
    }
    final = xcalloc(ngames, sizeof(*final));
    for (i = 0; i < ngames; i++) {
        final[i] = -1;
    }
    while (fscanf(f, "%ld %lld", &g, &seq) == 2) {
        if (g >= 0 && (size_t)g < ngames) {
            final[g] = seq;
        }
    }
    fclose(f);
    for (i = 0; i < s->nslots; i++) {
        slot *c = &s->slots[i];

        if (c->state != S_READY) {
            continue;
        }
        if (c->game < 0 || final[c->game] < 0) {
            unknown++;
        } else if (c->last_seq < final[c->game]) {
            behind++;
        } else if (c->last_seq > final[c->game]) {
            ahead++;
        } else {
            equal++;
        }
    }
    free(final);
    printf("{\"ev\":\"verify\",\"equal\":%zu,\"behind\":%zu,\"ahead\":%zu,\"unknown\":%zu}\n",
           equal, behind, ahead, unknown);
    fflush(stdout);
}

/* Handle complete stdin lines; returns 1 on quit or end of input. */
static int
handle_commands(soak *s)
{
    char line[sizeof(s->in.buf)];

    while (bench_lines_next(&s->in, line, sizeof(line))) {
        char cmd[16] = "", arg[400] = "";

        sscanf(line, "%15s %399s", cmd, arg);
        if (strcmp(cmd, "quit") == 0) {
            return 1;
        } else if (strcmp(cmd, "target") == 0) {
            s->target = strtoul(arg, NULL, 10);
            if (s->target > s->nslots) {
                s->target = s->nslots;
            }
        } else if (strcmp(cmd, "churn") == 0) {
            s->churn = strtod(arg, NULL);
        } else if (strcmp(cmd, "fill") == 0) {
            s->fill = strtod(arg, NULL);
        } else if (strcmp(cmd, "stats") == 0) {
            print_stats(s);
        } else if (strcmp(cmd, "verify") == 0) {
            cmd_verify(s, arg);
        } else if (cmd[0] != '\0') {
            puts("{\"ev\":\"error\",\"msg\":\"unknown command\"}");
            fflush(stdout);
        }
    }
    return s->in.eof;
}

/* ---- set-up --------------------------------------------------------------- */

static int
load_specs(soak *s, const char *file)
{
    FILE *f = fopen(file, "r");
    char line[SPEC_PATH + 32];
    size_t cap = 0;

    if (f == NULL) {
        perror(file);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *sp = strchr(line, ' ');
        size_t pl;
        slot *c;

        if (sp == NULL) {
            continue;
        }
        if (s->nslots == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            slot *np = realloc(s->slots, ncap * sizeof(*np));

            if (np == NULL) {
                fclose(f);
                return -1;
            }
            s->slots = np;
            cap = ncap;
        }
        c = &s->slots[s->nslots++];
        memset(c, 0, sizeof(*c));
        c->fd = -1;
        c->game = (int32_t)atoi(line);
        pl = strcspn(sp + 1, "\r\n");
        if (pl >= SPEC_PATH) {
            pl = SPEC_PATH - 1;
        }
        memcpy(c->path, sp + 1, pl);
        c->path[pl] = '\0';
    }
    fclose(f);
    return s->nslots > 0 ? 0 : -1;
}

/* One epoll round; returns 1 when stdin delivered bytes. */
static int
pump(soak *s, unsigned char *scratch, size_t cap)
{
    struct epoll_event evs[512];
    int n = epoll_wait(s->epfd, evs, 512, TICK_MS), k, line = 0;

    for (k = 0; k < n; k++) {
        if (evs[k].data.u32 == STDIN_TAG) {
            bench_lines_read(&s->in, s->epfd);
            line = 1;
            continue;
        }
        on_slot_event(s, evs[k].data.u32, evs[k].events, scratch, cap);
    }
    return line;
}

int
main(int argc, char **argv)
{
    static unsigned char scratch[65536];
    soak *s = xcalloc(1, sizeof(soak));
    const char *specs = NULL;
    struct epoll_event ev;
    uint64_t last;
    int i;

    s->port = 0;
    s->nsources = 8;
    s->origin = "http://127.0.0.1";
    s->host = "127.0.0.1";
    s->fill = 1000;
    for (i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) s->port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--specs")) specs = argv[i + 1];
        else if (!strcmp(argv[i], "--sources")) s->nsources = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--origin")) s->origin = argv[i + 1];
        else if (!strcmp(argv[i], "--host")) s->host = argv[i + 1];
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (strncmp(s->host, "127.", 4) != 0) {
        fprintf(stderr, "soak only targets loopback addresses (127.0.0.0/8)\n");
        return 2;
    }
    if (specs == NULL || s->port <= 0 || s->port > 65535 || s->nsources < 1
        || s->nsources > 250) {
        fprintf(stderr, "usage: soak --port P --specs FILE [--sources K] [--origin O]\n");
        return 2;
    }
    if (load_specs(s, specs) < 0) {
        fprintf(stderr, "no slots in %s\n", specs);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    s->rng = 0x9E3779B9u ^ (uint32_t)now_ns() ^ (uint32_t)getpid();
    if (s->rng == 0) {
        s->rng = 1;
    }
    s->fd_limit = bench_raise_nofile(s->nslots + 64);
    lathist_reset(&s->lat);
    lathist_reset(&s->hs_lat);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.u32 = STDIN_TAG;
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, 0, &ev);
    printf("{\"ev\":\"hello\",\"slots\":%zu,\"fd_limit\":%lu,\"slot_bytes\":%zu}\n",
           s->nslots, s->fd_limit, sizeof(slot));
    fflush(stdout);
    last = now_ns();
    for (;;) {
        uint64_t now;

        if (pump(s, scratch, sizeof(scratch)) && handle_commands(s)) {
            break;
        }
        now = now_ns();
        if (now - last >= TICK_MS * 1000000ull) {
            tick(s, (double)(now - last) / 1e9, now);
            last = now;
        }
    }
    return 0;
}
