/*
 * conn_auth.c: SHA-256 (FIPS 180-4) and constant-time comparison.
 *
 * A local SHA-256 because Debian's libwebsockets is built without
 * LWS_WITH_GENCRYPTO and the extension should not pull in libcrypto for
 * one hash per connection.
 */
#include "conn_auth.h"

#include <stdint.h>
#include <string.h>

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t total;        /* bytes hashed so far */
    unsigned char block[64];
    size_t fill;           /* bytes waiting in block */
} sha256_ctx;

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

static inline uint32_t
ror32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static void
sha256_block(sha256_ctx *c, const unsigned char *p)
{
    uint32_t w[64], a, b, cc, d, e, f, g, h, t1, t2;
    int i;

    for (i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16
               | (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    }
    for (i = 16; i < 64; i++) {
        uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3];
    e = c->h[4]; f = c->h[5]; g = c->h[6]; h = c->h[7];
    for (i = 0; i < 64; i++) {
        t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25))
             + ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
        t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22))
             + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g; g = f; f = e; e = d + t1;
        d = cc; cc = b; b = a; a = t1 + t2;
    }
    c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d;
    c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

static void
sha256_update(sha256_ctx *c, const unsigned char *p, size_t len)
{
    c->total += len;
    while (len > 0) {
        size_t n = 64 - c->fill;

        if (n > len) {
            n = len;
        }
        memcpy(c->block + c->fill, p, n);
        c->fill += n;
        p += n;
        len -= n;
        if (c->fill == 64) {
            sha256_block(c, c->block);
            c->fill = 0;
        }
    }
}

/* SHA-256 of data[0..len) into out[32]. Never fails. */
void
ph_sha256(const void *data, size_t len, unsigned char out[PH_SHA256_LEN])
{
    static const uint32_t init[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    };
    sha256_ctx c;
    unsigned char pad[72];
    uint64_t bits;
    size_t padlen;
    int i;

    memcpy(c.h, init, sizeof(init));
    c.total = 0;
    c.fill = 0;
    sha256_update(&c, data, len);
    bits = c.total * 8;
    padlen = (c.fill < 56) ? 56 - c.fill : 120 - c.fill;
    memset(pad, 0, sizeof(pad));
    pad[0] = 0x80;
    for (i = 0; i < 8; i++) {
        pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
    }
    sha256_update(&c, pad, padlen + 8);
    for (i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c.h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c.h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c.h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c.h[i];
    }
}

/*
 * Lowercase hex SHA-256 of the NUL-terminated string s into hex[65]
 * (NUL-terminated).
 */
void
ph_sha256_hex(const char *s, char hex[PH_SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char d[PH_SHA256_LEN];
    int i;

    ph_sha256(s, strlen(s), d);
    for (i = 0; i < PH_SHA256_LEN; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[PH_SHA256_HEX_LEN] = '\0';
}

/*
 * Constant-time equality of a[0..alen) and b[0..blen): the time depends
 * only on the lengths. Returns 1 when equal, 0 otherwise.
 */
int
ph_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    const unsigned char *pa = a, *pb = b;
    unsigned char diff = 0;
    size_t i;

    if (alen != blen) {
        return 0;
    }
    for (i = 0; i < alen; i++) {
        diff |= pa[i] ^ pb[i];
    }
    return diff == 0;
}
