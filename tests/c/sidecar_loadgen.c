/*
 * sidecar_loadgen: many idle WebSocket clients + broadcast and echo
 * measurements against sidecar_loopbench (or any server speaking its
 * "B..."/"E..." convention). One epoll loop, no libraries.
 *
 *   sidecar_loadgen PORT N SERVER_PID [ACTIVE] [ECHO_RATE_HZ]
 *
 * Phases: connect N sockets; 10 s idle (server CPU); 20 broadcasts
 * (latency until the last of N clients has the frame; server CPU per
 * broadcast); ACTIVE clients each sending ECHO_RATE_HZ echo requests per
 * second for 5 s (round-trip latency, server CPU). Timestamps are
 * CLOCK_MONOTONIC nanoseconds carried in the payload.
 */
#define _GNU_SOURCE 1

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct cl {
    int fd;
    int state;             /* 0 connecting, 1 handshake sent, 2 open */
    char buf[4096];
    size_t len;
    uint64_t last_bcast;   /* timestamp of the last broadcast received */
} cl;

static cl *cls;
static int ncl, epfd, port;
static uint64_t *lat;      /* scratch for percentile computation */
static size_t nlat;

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double
server_cpu_s(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut, st;
    FILE *f;
    int i;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
        if (f) fclose(f);
        return -1;
    }
    fclose(f);
    p = strrchr(buf, ')') + 2;
    for (i = 0; i < 11; i++) {
        p = strchr(p, ' ') + 1;
    }
    sscanf(p, "%lu %lu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void
send_text(cl *c, const char *s)
{
    unsigned char fr[256];
    size_t n = strlen(s);

    fr[0] = 0x81;
    fr[1] = (unsigned char)(0x80 | n);
    memset(fr + 2, 0, 4);          /* zero mask key: payload unchanged */
    memcpy(fr + 6, s, n);
    if (write(c->fd, fr, n + 6) < 0) {
        perror("write");
    }
}

static void
start_connect(int i)
{
    struct sockaddr_in sa;
    struct epoll_event ev;
    cl *c = &cls[i];

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(0x7f000001);
    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = (uint32_t)i;
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Handle events; returns number of frames consumed. on_frame gets payloads. */
static void
pump(int timeout_ms, void (*on_frame)(int i, const char *p, size_t n))
{
    struct epoll_event evs[512];
    int n, k;

    n = epoll_wait(epfd, evs, 512, timeout_ms);
    for (k = 0; k < n; k++) {
        int i = (int)evs[k].data.u32;
        cl *c = &cls[i];

        if (c->state == 0 && (evs[k].events & EPOLLOUT)) {
            char req[512];
            struct epoll_event ev;

            snprintf(req, sizeof(req),
                     "GET /ws/game/ABCD/ HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n", port);
            if (write(c->fd, req, strlen(req)) < 0) {
                perror("handshake write");
            }
            c->state = 1;
            ev.events = EPOLLIN;
            ev.data.u32 = (uint32_t)i;
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
            continue;
        }
        if (evs[k].events & EPOLLIN) {
            ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

            if (r <= 0) {
                continue;
            }
            c->len += (size_t)r;
            if (c->state == 1) {
                char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);

                if (e == NULL) {
                    continue;
                }
                if (strncmp(c->buf, "HTTP/1.1 101", 12) != 0) {
                    fprintf(stderr, "bad handshake\n");
                    exit(1);
                }
                c->state = 2;
                memmove(c->buf, e + 4, c->len - (size_t)(e + 4 - c->buf));
                c->len -= (size_t)(e + 4 - c->buf);
            }
            while (c->len >= 2) {
                size_t pl = c->buf[1] & 0x7f;

                if (pl >= 126 || c->len < 2 + pl) {
                    break;
                }
                if ((c->buf[0] & 0x0f) == 1 && on_frame) {
                    on_frame(i, c->buf + 2, pl);
                }
                memmove(c->buf, c->buf + 2 + pl, c->len - 2 - pl);
                c->len -= 2 + pl;
            }
        }
    }
}

static int open_count(void)
{
    int i, n = 0;

    for (i = 0; i < ncl; i++) {
        n += cls[i].state == 2;
    }
    return n;
}

static uint64_t bcast_t0;
static int bcast_got;

static void
on_bcast(int i, const char *p, size_t n)
{
    uint64_t t;

    (void)n;
    if (p[0] != 'B') {
        return;
    }
    t = strtoull(p + 1, NULL, 10);
    if (t == bcast_t0 && cls[i].last_bcast != t) {
        cls[i].last_bcast = t;
        lat[nlat++] = now_ns() - t;
        bcast_got++;
    }
}

static void
on_echo(int i, const char *p, size_t n)
{
    (void)i;
    (void)n;
    if (p[0] == 'E' && nlat < 1000000) {
        lat[nlat++] = now_ns() - strtoull(p + 1, NULL, 10);
    }
}

int
main(int argc, char **argv)
{
    int n, pid, active, rate, i, r, started = 0;
    double cpu0, cpu1;
    uint64_t t0, maxlat_sum = 0;
    uint64_t *maxes;

    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT N SERVER_PID [ACTIVE] [RATE]\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    n = ncl = atoi(argv[2]);
    pid = atoi(argv[3]);
    active = argc > 4 ? atoi(argv[4]) : 50;
    rate = argc > 5 ? atoi(argv[5]) : 100;
    cls = calloc((size_t)n, sizeof(*cls));
    lat = calloc(1000000 + (size_t)n, sizeof(*lat));
    maxes = calloc(20, sizeof(*maxes));
    epfd = epoll_create1(0);

    /* connect, at most 256 handshakes in flight */
    t0 = now_ns();
    while (open_count() < n) {
        while (started < n && started - open_count() < 256) {
            start_connect(started++);
        }
        pump(10, NULL);
        if (now_ns() - t0 > 120000000000ull) {
            fprintf(stderr, "connect timeout: %d open\n", open_count());
            return 1;
        }
    }
    printf("connected %d in %.2f s\n", n, (double)(now_ns() - t0) / 1e9);

    /* idle */
    cpu0 = server_cpu_s(pid);
    t0 = now_ns();
    while (now_ns() - t0 < 10000000000ull) {
        pump(100, NULL);
    }
    cpu1 = server_cpu_s(pid);
    printf("idle: server cpu %.2f%% over 10 s\n", (cpu1 - cpu0) * 10.0);

    /* broadcasts */
    cpu0 = server_cpu_s(pid);
    nlat = 0;
    for (r = 0; r < 20; r++) {
        char msg[64];
        size_t first = nlat;

        bcast_t0 = now_ns();
        bcast_got = 0;
        snprintf(msg, sizeof(msg), "B%llu", (unsigned long long)bcast_t0);
        send_text(&cls[0], msg);
        while (bcast_got < n && now_ns() - bcast_t0 < 5000000000ull) {
            pump(50, on_bcast);
        }
        qsort(lat + first, nlat - first, sizeof(*lat), cmp_u64);
        maxes[r] = nlat > first ? lat[nlat - 1] : 0;
        maxlat_sum += maxes[r];
        /* settle between rounds */
        t0 = now_ns();
        while (now_ns() - t0 < 200000000ull) {
            pump(20, on_bcast);
        }
    }
    cpu1 = server_cpu_s(pid);
    qsort(lat, nlat, sizeof(*lat), cmp_u64);
    qsort(maxes, 20, sizeof(*maxes), cmp_u64);
    printf("broadcast to %d: last-recipient latency median %.2f ms max %.2f ms; "
           "per-recipient p50 %.2f ms p99 %.2f ms; server cpu %.1f ms/broadcast\n",
           n, (double)maxes[10] / 1e6, (double)maxes[19] / 1e6,
           (double)lat[nlat / 2] / 1e6, (double)lat[nlat * 99 / 100] / 1e6,
           (cpu1 - cpu0) * 1000.0 / 20);

    /* echo from an active subset while everyone else idles */
    if (active > n) {
        active = n;
    }
    nlat = 0;
    cpu0 = server_cpu_s(pid);
    t0 = now_ns();
    {
        uint64_t period = 1000000000ull / (uint64_t)rate, next = t0;
        long sent = 0;

        while (now_ns() - t0 < 5000000000ull) {
            uint64_t now = now_ns();

            while (next <= now) {
                for (i = 0; i < active; i++) {
                    char msg[64];

                    snprintf(msg, sizeof(msg), "E%llu", (unsigned long long)now_ns());
                    send_text(&cls[i + 1 < n ? i + 1 : i], msg);
                    sent++;
                }
                next += period;
            }
            pump(1, on_echo);
        }
        t0 = now_ns();
        while (now_ns() - t0 < 500000000ull) {
            pump(10, on_echo);
        }
        cpu1 = server_cpu_s(pid);
        qsort(lat, nlat, sizeof(*lat), cmp_u64);
        printf("echo: %d active x %d/s (%ld sent, %zu answered): rtt p50 %.3f ms "
               "p99 %.3f ms; server cpu %.1f%%\n", active, rate, sent, nlat,
               nlat ? (double)lat[nlat / 2] / 1e6 : 0.0,
               nlat ? (double)lat[nlat * 99 / 100] / 1e6 : 0.0,
               (cpu1 - cpu0) * 100.0 / 5.5);
    }
    return 0;
}
