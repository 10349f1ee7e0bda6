/*
 * fanout_mp.c: see fanout_mp.h.
 */
#include "fanout_mp.h"

#include <string.h>

typedef struct mp_cur {
    const unsigned char *p;
    size_t left;
} mp_cur;

static int
mp_take(mp_cur *c, size_t n, const unsigned char **out)
{
    if (n > c->left) {
        return -1;
    }
    *out = c->p;
    c->p += n;
    c->left -= n;
    return 0;
}

static int
mp_be(mp_cur *c, size_t n, uint64_t *v)
{
    const unsigned char *q;
    size_t i;

    if (mp_take(c, n, &q) < 0) {
        return -1;
    }
    *v = 0;
    for (i = 0; i < n; i++) {
        *v = (*v << 8) | q[i];
    }
    return 0;
}

/*
 * Read the next value's header. kind is one of 's' (str), 'b' (bin),
 * 'a' (array), 'm' (map), 'i' (int, value in *ival), 'x' (ext),
 * 'o' (other scalar, already consumed). For s/b/x, *n is the byte length;
 * for a/m the element count.
 */
static int
mp_head(mp_cur *c, int *kind, uint64_t *n, int64_t *ival)
{
    const unsigned char *q;
    uint64_t v;
    unsigned char t;

    if (mp_take(c, 1, &q) < 0) {
        return -1;
    }
    t = q[0];
    *n = 0;
    if (t <= 0x7f) {
        *kind = 'i';
        *ival = t;
        return 0;
    }
    if (t >= 0xe0) {
        *kind = 'i';
        *ival = (int8_t)t;
        return 0;
    }
    if ((t & 0xf0) == 0x80) {
        *kind = 'm';
        *n = t & 0x0f;
        return 0;
    }
    if ((t & 0xf0) == 0x90) {
        *kind = 'a';
        *n = t & 0x0f;
        return 0;
    }
    if ((t & 0xe0) == 0xa0) {
        *kind = 's';
        *n = t & 0x1f;
        return 0;
    }
    switch (t) {
    case 0xc0: case 0xc2: case 0xc3:
        *kind = 'o';
        return 0;
    case 0xc4: case 0xc5: case 0xc6:
        *kind = 'b';
        return mp_be(c, (size_t)1 << (t - 0xc4), n);
    case 0xc7: case 0xc8: case 0xc9:
        *kind = 'x';
        if (mp_be(c, (size_t)1 << (t - 0xc7), n) < 0) {
            return -1;
        }
        (*n)++;                        /* the type byte */
        return 0;
    case 0xca:
        *kind = 'o';
        return mp_take(c, 4, &q);
    case 0xcb:
        *kind = 'o';
        return mp_take(c, 8, &q);
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        *kind = 'i';
        if (mp_be(c, (size_t)1 << (t - 0xcc), &v) < 0) {
            return -1;
        }
        *ival = (int64_t)v;            /* uint64 above INT64_MAX wraps: unused */
        return 0;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        size_t w = (size_t)1 << (t - 0xd0);

        *kind = 'i';
        if (mp_be(c, w, &v) < 0) {
            return -1;
        }
        if (w < 8 && (v >> (8 * w - 1)) & 1) {
            v |= ~(uint64_t)0 << (8 * w);   /* sign-extend */
        }
        *ival = (int64_t)v;
        return 0;
    }
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        *kind = 'x';
        *n = ((uint64_t)1 << (t - 0xd4)) + 1;
        return 0;
    case 0xd9: case 0xda: case 0xdb:
        *kind = 's';
        return mp_be(c, (size_t)1 << (t - 0xd9), n);
    case 0xdc: case 0xdd:
        *kind = 'a';
        return mp_be(c, (size_t)2 << (t - 0xdc), n);
    case 0xde: case 0xdf:
        *kind = 'm';
        return mp_be(c, (size_t)2 << (t - 0xde), n);
    default:                           /* 0xc1 is never used */
        return -1;
    }
}

/* Skip one complete value, nesting at most depth levels. */
static int
mp_skip(mp_cur *c, int depth)
{
    int kind;
    uint64_t n, i;
    int64_t iv;
    const unsigned char *q;

    if (depth <= 0 || mp_head(c, &kind, &n, &iv) < 0) {
        return -1;
    }
    switch (kind) {
    case 's': case 'b': case 'x':
        return n > c->left ? -1 : mp_take(c, (size_t)n, &q);
    case 'a': case 'm':
        if (kind == 'm') {
            if (n > UINT64_MAX / 2) {
                return -1;
            }
            n *= 2;
        }
        /* Every element takes at least one byte: reject lying counts early. */
        if (n > c->left) {
            return -1;
        }
        for (i = 0; i < n; i++) {
            if (mp_skip(c, depth - 1) < 0) {
                return -1;
            }
        }
        return 0;
    default:
        return 0;
    }
}

/* Read a str value; -1 when the next value is not a str. */
static int
mp_str(mp_cur *c, ph_mp_str *s)
{
    int kind;
    uint64_t n;
    int64_t iv;
    const unsigned char *q;

    if (mp_head(c, &kind, &n, &iv) < 0 || kind != 's' || n > c->left
        || mp_take(c, (size_t)n, &q) < 0) {
        return -1;
    }
    s->p = (const char *)q;
    s->len = (size_t)n;
    return 0;
}

static int
key_is(const ph_mp_str *k, const char *name)
{
    size_t n = strlen(name);

    return k->len == n && memcmp(k->p, name, n) == 0;
}

/* Decode __asgi_channel__ (str or array of str) into out->channels. */
static int
mp_channels(mp_cur *c, ph_mp_msg *out)
{
    mp_cur save = *c;
    int kind;
    uint64_t n, i;
    int64_t iv;

    if (mp_head(c, &kind, &n, &iv) < 0) {
        return -1;
    }
    if (kind == 's') {
        *c = save;
        out->nchannels = 1;
        return mp_str(c, &out->channels[0]);
    }
    if (kind != 'a' || n > PH_MP_MAX_CHANNELS || n > c->left) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (mp_str(c, &out->channels[i]) < 0) {
            return -1;
        }
    }
    out->nchannels = (size_t)n;
    return 0;
}

int
ph_mp_decode_msg(const unsigned char *p, size_t len, ph_mp_msg *out)
{
    mp_cur c = { p, len };
    int kind;
    uint64_t n, i;
    int64_t iv;

    memset(out, 0, sizeof(*out) - sizeof(out->channels));
    if (mp_head(&c, &kind, &n, &iv) < 0 || kind != 'm' || n > c.left) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        ph_mp_str key;
        mp_cur save;

        if (mp_str(&c, &key) < 0) {
            return -1;                 /* channels_redis keys are always str */
        }
        save = c;
        if (key_is(&key, "type") || key_is(&key, "text")) {
            ph_mp_str *dst = key_is(&key, "type") ? &out->type : &out->text;

            if (mp_str(&c, dst) == 0) {
                continue;
            }
            dst->p = NULL;
            dst->len = 0;
            c = save;                  /* not a str: skip it below */
        }
        else if (key_is(&key, "code") || key_is(&key, "seq")) {
            uint64_t dummy;

            if (mp_head(&c, &kind, &dummy, &iv) == 0
                && kind == 'i') {
                if (key_is(&key, "code")) {
                    out->has_code = 1;
                    out->code = iv;
                }
                else {
                    out->has_seq = 1;
                    out->seq = iv;
                }
                continue;
            }
            c = save;
        }
        else if (key_is(&key, "__asgi_channel__")) {
            if (mp_channels(&c, out) < 0) {
                return -1;
            }
            continue;
        }
        if (mp_skip(&c, PH_MP_MAX_DEPTH) < 0) {
            return -1;
        }
    }
    return c.left == 0 ? 0 : -1;
}

void
ph_mp_buf_init(ph_mp_buf *b, unsigned char *mem, size_t cap)
{
    b->p = mem;
    b->cap = cap;
    b->len = 0;
    b->overflow = 0;
}

void
ph_mp_put_raw(ph_mp_buf *b, const void *data, size_t len)
{
    if (b->overflow || len > b->cap - b->len) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

/* Write tag then v as an n-byte big-endian integer. */
static void
mp_put_tagged(ph_mp_buf *b, unsigned char tag, uint64_t v, size_t n)
{
    unsigned char tmp[9];
    size_t i;

    tmp[0] = tag;
    for (i = 0; i < n; i++) {
        tmp[1 + i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    }
    ph_mp_put_raw(b, tmp, n + 1);
}

void
ph_mp_put_map(ph_mp_buf *b, uint32_t n)
{
    if (n < 16) {
        mp_put_tagged(b, (unsigned char)(0x80 | n), 0, 0);
    }
    else if (n <= 0xffff) {
        mp_put_tagged(b, 0xde, n, 2);
    }
    else {
        mp_put_tagged(b, 0xdf, n, 4);
    }
}

void
ph_mp_put_str(ph_mp_buf *b, const char *s, size_t len)
{
    if (len < 32) {
        mp_put_tagged(b, (unsigned char)(0xa0 | len), 0, 0);
    }
    else if (len <= 0xff) {
        mp_put_tagged(b, 0xd9, len, 1);
    }
    else if (len <= 0xffff) {
        mp_put_tagged(b, 0xda, len, 2);
    }
    else if (len <= 0xffffffffu) {
        mp_put_tagged(b, 0xdb, len, 4);
    }
    else {
        b->overflow = 1;
        return;
    }
    ph_mp_put_raw(b, s, len);
}

void
ph_mp_put_cstr(ph_mp_buf *b, const char *s)
{
    ph_mp_put_str(b, s, strlen(s));
}

void
ph_mp_put_int(ph_mp_buf *b, int64_t v)
{
    if (v >= 0) {
        uint64_t u = (uint64_t)v;

        if (u <= 0x7f) {
            mp_put_tagged(b, (unsigned char)u, 0, 0);
        }
        else if (u <= 0xff) {
            mp_put_tagged(b, 0xcc, u, 1);
        }
        else if (u <= 0xffff) {
            mp_put_tagged(b, 0xcd, u, 2);
        }
        else if (u <= 0xffffffffu) {
            mp_put_tagged(b, 0xce, u, 4);
        }
        else {
            mp_put_tagged(b, 0xcf, u, 8);
        }
    }
    else if (v >= -32) {
        mp_put_tagged(b, (unsigned char)(int8_t)v, 0, 0);
    }
    else if (v >= INT8_MIN) {
        mp_put_tagged(b, 0xd0, (uint64_t)v & 0xff, 1);
    }
    else if (v >= INT16_MIN) {
        mp_put_tagged(b, 0xd1, (uint64_t)v & 0xffff, 2);
    }
    else if (v >= INT32_MIN) {
        mp_put_tagged(b, 0xd2, (uint64_t)v & 0xffffffffu, 4);
    }
    else {
        mp_put_tagged(b, 0xd3, (uint64_t)v, 8);
    }
}

void
ph_mp_put_nil(ph_mp_buf *b)
{
    mp_put_tagged(b, 0xc0, 0, 0);
}
