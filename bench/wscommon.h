/*
 * wscommon.h: small helpers shared by the benchmark tools (bench/loadgen.c,
 * bench/soak.c, bench/rawserver.c). Header-only, static functions; the
 * handshake's SHA-1 and base64 come from libcrypto (link with -lcrypto).
 *
 *   now_ns()            CLOCK_MONOTONIC in ns (the clock Python's
 *                       time.monotonic_ns() reads on Linux)
 *   ws_accept_key()     RFC 6455 Sec-WebSocket-Accept for a key
 *   ws_client_request() a client's upgrade request and the Accept it expects
 *   ws_header_value()   one header of an HTTP response head
 *   ws_upgrade_response() check the server's 101 answer to that request
 *   ws_handshake_read() read and check that answer from a socket
 *   ws_client_frame()   a masked client frame (control-sized payloads)
 *   ws_rx_*             incremental server-frame reader (header, message
 *                       prefix, control frames)
 *   ws_find_num()       an unsigned decimal after a needle (seq, t)
 *   bench_connect()     a non-blocking loopback connect from a spread source
 *   bench_xorshift32()  the tools' PRNG (mask keys, nonces, picks)
 *   bench_raise_nofile() RLIMIT_NOFILE up to what a swarm needs
 *   lathist_*           log-linear latency histogram (about 1.6 % precision)
 *   bench_progress_map() the load generator's shared progress page
 *   bench_lines_*       the stdin command lines an epoll loop reads
 *
 * The including file defines _GNU_SOURCE first (memmem,
 * IP_BIND_ADDRESS_NO_PORT).
 *
 * These are benchmark tools, not part of the extension: they may exit() on
 * impossible conditions (allocation failure) with a message.
 */
#ifndef BENCH_WSCOMMON_H
#define BENCH_WSCOMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static inline uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* calloc that never returns NULL (the tools cannot go on without memory). */
static inline void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL) {
        fprintf(stderr, "out of memory (%zu x %zu bytes)\n", n, size);
        exit(3);
    }
    return p;
}

/* ---- the handshake's SHA-1 and base64: libcrypto (OpenSSL) -------------- */

/* Sec-WebSocket-Accept for key (at most 64 chars) into out[29]. */
static inline void
ws_accept_key(const char *key, size_t keylen, char out[29])
{
    char buf[64 + sizeof(WS_GUID)];
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int diglen = 0;

    if (keylen > 64) {
        keylen = 64;
    }
    memcpy(buf, key, keylen);
    memcpy(buf + keylen, WS_GUID, sizeof(WS_GUID) - 1);
    if (!EVP_Digest(buf, keylen + sizeof(WS_GUID) - 1, dig, &diglen, EVP_sha1(), NULL)
        || diglen != 20) {
        fprintf(stderr, "libcrypto: SHA-1 failed\n");
        exit(3);
    }
    EVP_EncodeBlock((unsigned char *)out, dig, 20);   /* 28 chars and a NUL */
}

/* ---- client side of the protocol -----------------------------------------
 * Used by bench/loadgen.c and bench/soak.c.
 */

/* Format the upgrade request for path into req[0..cap) and the Accept value
 * the server must answer into accept[29]; nonce is 16 random bytes. Returns
 * the request length, or -1 when it does not fit. */
static inline int
ws_client_request(char *req, size_t cap, const char *path, const char *host, int port,
                  const char *origin, const unsigned char nonce[16], char accept[29])
{
    char key[25];
    int len;

    EVP_EncodeBlock((unsigned char *)key, nonce, 16);   /* 24 chars and a NUL */
    ws_accept_key(key, strlen(key), accept);
    len = snprintf(req, cap,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\nOrigin: %s\r\n\r\n",
                   path, host, port, key, origin);
    return len < 0 || (size_t)len >= cap ? -1 : len;
}

/* Copy the value of header name (case-insensitive) from the response head
 * resp[0..n) into out (NUL-terminated, truncated to outlen - 1). Returns 0,
 * or -1 when the header is absent. */
static inline int
ws_header_value(const char *resp, size_t n, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = resp, *end = resp + n;

    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);

        if (eol == NULL) {
            break;
        }
        if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            size_t vl;

            while (v < eol && *v == ' ') {
                v++;
            }
            vl = (size_t)(eol - v);
            if (vl >= outlen) {
                vl = outlen - 1;
            }
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
        p = eol + 2;
    }
    return -1;
}

/* Check the upgrade response in buf[0..len) (NUL-terminated) against the
 * Accept value ws_client_request() gave. Returns 0 while the head is
 * incomplete, 1 when it is a valid 101 (*head = its length: the bytes after
 * it are the first frames), -1 otherwise with the reason in why. */
static inline int
ws_upgrade_response(const char *buf, size_t len, const char accept[29], size_t *head,
                    char *why, size_t whylen)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    char got[64];

    if (end == NULL) {
        return 0;
    }
    *head = (size_t)(end + 4 - buf);
    if (strncmp(buf, "HTTP/1.1 101", 12) != 0) {
        snprintf(why, whylen, "http %.3s", len > 12 ? buf + 9 : "?");
        return -1;
    }
    if (ws_header_value(buf, *head, "Sec-WebSocket-Accept", got, sizeof(got)) < 0
        || strcmp(got, accept) != 0) {
        snprintf(why, whylen, "bad Sec-WebSocket-Accept");
        return -1;
    }
    return 1;
}

/* A client's handshake while it is under way: the request to send, then
 * the server's answer as it arrives, and the Accept value it must carry. */
#define WS_HS_MAX 2048

typedef struct ws_handshake {
    char buf[WS_HS_MAX];
    size_t len;                /* request bytes to send / answer bytes read */
    char accept[29];           /* expected Sec-WebSocket-Accept */
} ws_handshake;

/* Read what fd has of the upgrade answer into h (h->len: bytes held so far)
 * and check it. Returns 1 when it is a valid 101: the bytes after its head
 * (the first frames) are copied to rest[WS_HS_MAX], *extra of them; 0 while
 * the head is incomplete; -1 with the reason in why (EOF, read error, too
 * long, not a valid 101). */
static inline int
ws_handshake_read(ws_handshake *h, int fd, unsigned char *rest, size_t *extra, char *why,
                  size_t whylen)
{
    ssize_t r = read(fd, h->buf + h->len, WS_HS_MAX - 1 - h->len);
    size_t head = 0;
    int rc;

    if (r <= 0) {
        snprintf(why, whylen, "%s", r == 0 ? "eof in handshake" : "read error in handshake");
        return -1;
    }
    h->len += (size_t)r;
    h->buf[h->len] = '\0';
    rc = ws_upgrade_response(h->buf, h->len, h->accept, &head, why, whylen);
    if (rc == 0 && h->len >= WS_HS_MAX - 1) {
        snprintf(why, whylen, "handshake response too long");
        return -1;
    }
    if (rc == 1) {
        *extra = h->len - head;
        memcpy(rest, h->buf + head, *extra);
    }
    return rc;
}

/* Build a masked client frame (FIN set) of opcode with payload[0..n), n cut
 * to 125, into out[131] with the 4-byte mask key. Returns its length. */
static inline size_t
ws_client_frame(unsigned char out[131], int opcode, const void *payload, size_t n,
                uint32_t key)
{
    size_t i;

    if (n > 125) {
        n = 125;
    }
    out[0] = (unsigned char)(0x80 | opcode);
    out[1] = (unsigned char)(0x80 | n);
    memcpy(out + 2, &key, 4);
    for (i = 0; i < n; i++) {
        out[6 + i] = ((const unsigned char *)payload)[i] ^ out[2 + (i & 3)];
    }
    return 6 + n;
}

/* Parse an unsigned decimal (at most 19 digits) right after needle in
 * s[0..n); -1 when the needle or the digits are absent. */
static inline int64_t
ws_find_num(const char *s, size_t n, const char *needle)
{
    const char *p = memmem(s, n, needle, strlen(needle));
    const char *end = s + n;
    int64_t v = 0;
    int digits = 0;

    if (p == NULL) {
        return -1;
    }
    p += strlen(needle);
    while (p < end && *p >= '0' && *p <= '9' && digits < 19) {
        v = v * 10 + (*p - '0');
        p++;
        digits++;
    }
    return digits ? v : -1;
}

/* Incremental reader of unmasked server frames. Only the first
 * WS_RX_PREFIX bytes of each message are kept (enough for type, seq and
 * t), so its size is fixed; the rest is skipped in place. */
#define WS_RX_PREFIX 160

typedef struct ws_rx {
    uint64_t remaining;        /* payload bytes left in the current frame */
    uint16_t pre_len;          /* bytes held in pre */
    uint8_t hdr_len;           /* bytes of the current frame header held */
    uint8_t opcode;            /* opcode of the current message/control */
    uint8_t fin;               /* current frame ends its message */
    uint8_t ctrl;              /* current frame is a control frame */
    uint8_t hdr[14];
    char pre[WS_RX_PREFIX];    /* start of the current message */
} ws_rx;

enum {
    WS_RX_MORE = 0,            /* all input used, nothing complete yet */
    WS_RX_MESSAGE,             /* a data message ended (opcode, pre) */
    WS_RX_CONTROL,             /* a control frame ended (opcode, pre) */
    WS_RX_ERROR                /* masked server frame or oversized control */
};

/* Consume bytes from *d[0..*n) until a message or control frame completes
 * (or the input ends); *d and *n move past the bytes consumed. The
 * completed frame's opcode and first bytes stay in rx until the next call. */
static inline int
ws_rx_feed(ws_rx *rx, const unsigned char **dp, size_t *np)
{
    const unsigned char *d = *dp;
    size_t i = 0, n = *np;
    int ret = WS_RX_MORE;

    while (i < n) {
        if (rx->remaining == 0 && rx->hdr_len < 14) {
            size_t need, plen;
            uint64_t len;
            int op;

            rx->hdr[rx->hdr_len++] = d[i++];
            if (rx->hdr_len < 2) {
                continue;
            }
            if (rx->hdr[1] & 0x80) {
                ret = WS_RX_ERROR;
                goto done;
            }
            plen = rx->hdr[1] & 0x7f;
            need = plen == 126 ? 4 : plen == 127 ? 10 : 2;
            if (rx->hdr_len < need) {
                continue;
            }
            len = plen;
            if (plen == 126) {
                len = (uint64_t)rx->hdr[2] << 8 | rx->hdr[3];
            } else if (plen == 127) {
                len = 0;
                for (size_t k = 2; k < 10; k++) {
                    len = len << 8 | rx->hdr[k];
                }
            }
            op = rx->hdr[0] & 0x0f;
            rx->hdr_len = 0;
            rx->fin = (rx->hdr[0] & 0x80) != 0;
            rx->ctrl = (op & 0x8) != 0;
            if (rx->ctrl) {
                if (len > 125) {
                    ret = WS_RX_ERROR;
                    goto done;
                }
                rx->opcode = (uint8_t)op;
                rx->pre_len = 0;
            } else if (op != 0) {
                rx->opcode = (uint8_t)op;    /* first frame of a message */
                rx->pre_len = 0;
            }
            rx->remaining = len;
            if (len > 0) {
                continue;
            }
        } else {
            size_t take = n - i < rx->remaining ? n - i : (size_t)rx->remaining;
            size_t room = WS_RX_PREFIX - rx->pre_len;
            size_t keep = take < room ? take : room;

            memcpy(rx->pre + rx->pre_len, d + i, keep);
            rx->pre_len = (uint16_t)(rx->pre_len + keep);
            i += take;
            rx->remaining -= take;
            if (rx->remaining > 0) {
                continue;
            }
        }
        /* a frame ended */
        if (rx->ctrl) {
            rx->ctrl = 0;
            ret = WS_RX_CONTROL;
            goto done;
        }
        if (rx->fin) {
            ret = WS_RX_MESSAGE;
            goto done;
        }
    }
done:
    *dp = d + i;
    *np = n - i;
    return ret;
}

/* Why ws_rx_feed() last returned WS_RX_ERROR: 1 for a masked server frame
 * (the header bytes are still held), 0 for an oversized control frame. */
static inline int
ws_rx_error_masked(const ws_rx *rx)
{
    return rx->hdr_len >= 2 && (rx->hdr[1] & 0x80) != 0;
}

/* Open a non-blocking TCP socket (TCP_NODELAY) and start connecting it to
 * host:port (an IPv4 literal). With nsources > 1 it is bound first to the
 * source 127.0.0.(1 + idx % nsources) (IP_BIND_ADDRESS_NO_PORT), so a swarm
 * does not run out of ephemeral ports. Returns the fd (connect in progress
 * or done), or -1 with errno kept and the reason ("socket: ...", "bind: ...",
 * "connect: ...") in why. */
static inline int
bench_connect(const char *host, int port, int nsources, uint32_t idx, char *why,
              size_t whylen)
{
    struct sockaddr_in sa, src;
    const char *step = "socket";
    int fd, one = 1, err;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        goto error;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (nsources > 1) {
        step = "bind";
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f000001u + idx % (uint32_t)nsources);
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
            goto error;
        }
    }
    step = "connect";
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        goto error;
    }
    return fd;

error:
    err = errno;
    snprintf(why, whylen, "%s: %s", step, strerror(err));
    if (fd >= 0) {
        close(fd);
    }
    errno = err;
    return -1;
}

/* xorshift32 step of *state (never 0): mask keys, nonces and random picks
 * need not be secret here. */
static inline uint32_t
bench_xorshift32(uint32_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

/* Raise RLIMIT_NOFILE: the hard limit to want when allowed (root), the
 * soft limit to the hard one. Returns the soft limit in force. */
static inline unsigned long
bench_raise_nofile(size_t want)
{
    struct rlimit rl;

    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        struct rlimit hi = {want, want};

        if (setrlimit(RLIMIT_NOFILE, &hi) == 0) {
            rl = hi;
        }
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return (unsigned long)rl.rlim_cur;
}

/* ---- latency histogram ------------------------------------------------------
 * Values in ns. Bucket = (highest bit position e, next 6 bits): 64 linear
 * sub-buckets per power of two, so a reported value is within 1/64 of the
 * true one. Values up to 2^40 ns (18 min); larger clamp to the top bucket.
 */
#define LH_SUB 64
#define LH_EXP 41
#define LH_N (LH_EXP * LH_SUB)

typedef struct lathist {
    uint64_t b[LH_N];
    uint64_t count, max, min;
    double sum;
} lathist;

static inline void
lathist_reset(lathist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

static inline size_t
lathist_index(uint64_t v)
{
    int e;

    if (v < LH_SUB) {
        return (size_t)v;
    }
    e = 63 - __builtin_clzll(v);              /* e >= 6 */
    if (e >= LH_EXP) {
        return LH_N - 1;
    }
    return (size_t)(e - 5) * LH_SUB + (size_t)((v >> (e - 6)) & (LH_SUB - 1));
}

/* Lower bound of bucket i (inverse of lathist_index). */
static inline uint64_t
lathist_value(size_t i)
{
    size_t e, sub;

    if (i < LH_SUB) {
        return i;
    }
    e = i / LH_SUB + 5;
    sub = i % LH_SUB;
    return ((uint64_t)1 << e) | ((uint64_t)sub << (e - 6));
}

static inline void
lathist_add(lathist *h, uint64_t v)
{
    h->b[lathist_index(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v > h->max) h->max = v;
    if (v < h->min) h->min = v;
}

/* The q-quantile (0 <= q <= 1) in ns; 0 when empty. */
static inline uint64_t
lathist_quantile(const lathist *h, double q)
{
    uint64_t want, seen = 0;
    size_t i;

    if (h->count == 0) {
        return 0;
    }
    want = (uint64_t)(q * (double)h->count);
    if (want >= h->count) {
        return h->max;
    }
    for (i = 0; i < LH_N; i++) {
        seen += h->b[i];
        if (seen > want) {
            uint64_t v = lathist_value(i);

            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* Print the histogram summary as JSON object members (no braces). */
static inline void
lathist_json(FILE *f, const char *name, const lathist *h)
{
    fprintf(f,
            "\"%s\":{\"count\":%llu,\"mean_us\":%.1f,\"min_us\":%.1f,"
            "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
            "\"max_us\":%.1f}",
            name, (unsigned long long)h->count,
            h->count ? h->sum / (double)h->count / 1e3 : 0.0,
            h->count ? (double)h->min / 1e3 : 0.0,
            (double)lathist_quantile(h, 0.50) / 1e3,
            (double)lathist_quantile(h, 0.90) / 1e3,
            (double)lathist_quantile(h, 0.99) / 1e3,
            (double)lathist_quantile(h, 0.999) / 1e3, (double)h->max / 1e3);
}

/* ---- shared progress page ---------------------------------------------------
 * The load generator publishes its counters in a small file it mmaps; the
 * broadcasters (Python and rawserver) read it for closed-loop pacing.
 */
typedef struct bench_progress {
    uint64_t magic;          /* BENCH_PROGRESS_MAGIC once initialised */
    uint64_t deliveries;     /* event frames received (all connections) */
    uint64_t open;           /* connections ready (welcome + state seen) */
    uint64_t closed;         /* connections lost after being ready */
} bench_progress;

#define BENCH_PROGRESS_MAGIC 0x50484231ull /* "PHB1" */

/* Map the progress page at path (created, one page), shared. With init
 * (the load generator, its writer) it is zeroed and marked with the magic.
 * Returns the page, or NULL after perror(). */
static inline bench_progress *
bench_progress_map(const char *path, int init)
{
    bench_progress *p;
    int fd = open(path, O_RDWR | O_CREAT, 0600);

    if (fd < 0 || ftruncate(fd, 4096) < 0) {
        perror("shm");
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        perror("mmap");
        return NULL;
    }
    if (init) {
        memset(p, 0, sizeof(*p));
        __atomic_store_n(&p->magic, BENCH_PROGRESS_MAGIC, __ATOMIC_RELEASE);
    }
    return p;
}

/* ---- stdin commands ---------------------------------------------------------
 * The tools take one command a line on stdin (fd 0), which their epoll
 * loop watches next to the sockets.
 */
typedef struct bench_lines {
    char buf[8192];
    size_t len;
    int eof;                 /* stdin ended (or failed) */
} bench_lines;

/* Read what stdin has into in (on EPOLLIN); at its end (or an error) set
 * in->eof and take fd 0 out of epfd. */
static inline void
bench_lines_read(bench_lines *in, int epfd)
{
    ssize_t r = read(0, in->buf + in->len, sizeof(in->buf) - 1 - in->len);

    if (r <= 0) {
        in->eof = 1;
        epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
    } else {
        in->len += (size_t)r;
    }
}

/* Take the next whole line out of in into line[cap] (NUL-terminated, no
 * newline, cut to cap - 1). Returns 1, or 0 when no whole line is held; a
 * line that fills the buffer without ending is dropped. */
static inline int
bench_lines_next(bench_lines *in, char *line, size_t cap)
{
    char *nl = memchr(in->buf, '\n', in->len);
    size_t used, n;

    if (nl == NULL) {
        if (in->len >= sizeof(in->buf) - 1) {
            in->len = 0;                         /* an absurd line: drop it */
        }
        return 0;
    }
    used = (size_t)(nl - in->buf) + 1;
    n = used - 1 < cap - 1 ? used - 1 : cap - 1;
    memcpy(line, in->buf, n);
    line[n] = '\0';
    memmove(in->buf, nl + 1, in->len - used);
    in->len -= used;
    return 1;
}

#endif /* BENCH_WSCOMMON_H */
