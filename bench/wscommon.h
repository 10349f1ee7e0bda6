/*
 * wscommon.h: small helpers shared by the benchmark tools (bench/loadgen.c,
 * bench/rawserver.c). Header-only, static functions, no libraries.
 *
 *   now_ns()            CLOCK_MONOTONIC in ns (the clock Python's
 *                       time.monotonic_ns() reads on Linux)
 *   ws_accept_key()     RFC 6455 Sec-WebSocket-Accept for a key
 *   lathist_*           log-linear latency histogram (about 1.6 % precision)
 *
 * These are benchmark tools, not part of the extension: they may exit() on
 * impossible conditions (allocation failure) with a message.
 */
#ifndef BENCH_WSCOMMON_H
#define BENCH_WSCOMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- SHA-1 (RFC 3174), only for the handshake key ----------------------- */

static inline uint32_t
sha1_rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static inline void
sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80], a, b, c, d, e, f, k, t;
    int i;

    for (i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16
               | (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    }
    for (i = 16; i < 80; i++) {
        w[i] = sha1_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];
    for (i = 0; i < 80; i++) {
        if (i < 20) {
            f = (b & c) | (~b & d); k = 0x5A827999u;
        } else if (i < 40) {
            f = b ^ c ^ d; k = 0x6ED9EBA1u;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDCu;
        } else {
            f = b ^ c ^ d; k = 0xCA62C1D6u;
        }
        t = sha1_rol(a, 5) + f + e + k + w[i];
        e = d; d = c; c = sha1_rol(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

/* SHA-1 of data[0..len) into out[20]; len < 2^29. */
static inline void
sha1(const void *data, size_t len, unsigned char out[20])
{
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u,
                     0xC3D2E1F0u};
    const unsigned char *p = data;
    unsigned char tail[128];
    size_t full = len / 64 * 64, rest = len - full, tl;
    uint64_t bits = (uint64_t)len * 8;
    int i;

    for (size_t off = 0; off < full; off += 64) {
        sha1_block(h, p + off);
    }
    memset(tail, 0, sizeof(tail));
    memcpy(tail, p + full, rest);
    tail[rest] = 0x80;
    tl = rest + 1 + 8 <= 64 ? 64 : 128;
    for (i = 0; i < 8; i++) {
        tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
    }
    sha1_block(h, tail);
    if (tl == 128) {
        sha1_block(h, tail + 64);
    }
    for (i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h[i];
    }
}

/* Base64 of in[0..n) into out (NUL-terminated); out needs 4*ceil(n/3)+1. */
static inline void
base64(const unsigned char *in, size_t n, char *out)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);

        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

/* Sec-WebSocket-Accept for key (at most 64 chars) into out[29]. */
static inline void
ws_accept_key(const char *key, size_t keylen, char out[29])
{
    char buf[64 + sizeof(WS_GUID)];
    unsigned char dig[20];

    if (keylen > 64) {
        keylen = 64;
    }
    memcpy(buf, key, keylen);
    memcpy(buf + keylen, WS_GUID, sizeof(WS_GUID) - 1);
    sha1(buf, keylen + sizeof(WS_GUID) - 1, dig);
    base64(dig, 20, out);
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

#endif /* BENCH_WSCOMMON_H */
