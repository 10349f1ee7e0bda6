/* mpack_read.c - bounded, allocation-free msgpack reader.
 *
 * Why not msgpack-c's unpacker: it trusts the counts in its input. A 5-byte
 * message claiming a 64M-element array makes it allocate ~2 GiB before it
 * notices the input is short. Bytes we read from Redis come from any process
 * that can write to it, so we check every count against the bytes actually
 * left before anyone allocates anything, and we bound nesting depth. The
 * reader itself never allocates; the Python decoder (mpack_dec.c) only ever
 * allocates in proportion to the input size. */
#include "mpack_read.h"

#include <string.h>

/* Point `c` at `len` bytes at `data`. The bytes must outlive the cursor and
 * every item read from it (strings point into them). */
void
mpr_init(mpr_cursor *c, const void *data, size_t len)
{
    c->p = (const uint8_t *)data;
    c->end = c->p + len;
}

static inline uint64_t
load_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static inline size_t
left(const mpr_cursor *c, const uint8_t *p)
{
    return (size_t)(c->end - p);
}

/* Read a payload of `len` bytes starting at *pp into out->v.s. */
static mpr_status
take_bytes(const mpr_cursor *c, const uint8_t **pp, uint64_t len,
           mpr_item *out)
{
    if (len > left(c, *pp)) {
        return MPR_ERR_TRUNCATED;
    }
    out->v.s.ptr = *pp;
    out->v.s.len = (uint32_t)len;
    *pp += len;
    return MPR_OK;
}

/* Read a big-endian length of `n` bytes at *pp. */
static mpr_status
take_len(const mpr_cursor *c, const uint8_t **pp, int n, uint64_t *len)
{
    if ((size_t)n > left(c, *pp)) {
        return MPR_ERR_TRUNCATED;
    }
    *len = load_be(*pp, n);
    *pp += n;
    return MPR_OK;
}

/* A container of `count` entries needing `per` bytes each at least. */
static mpr_status
take_count(const mpr_cursor *c, const uint8_t *p, uint64_t count, int per,
           mpr_item *out)
{
    if (count > left(c, p) / (size_t)per) {
        return MPR_ERR_COUNT;
    }
    out->v.count = (uint32_t)count;
    return MPR_OK;
}

static mpr_status
read_fixed(const mpr_cursor *c, const uint8_t **pp, uint8_t tag,
           mpr_item *out)
{
    static const int width[] = {1, 2, 4, 8};
    const uint8_t *p = *pp;
    if (tag == 0xca || tag == 0xcb) {
        int n = tag == 0xca ? 4 : 8;
        if ((size_t)n > left(c, p)) {
            return MPR_ERR_TRUNCATED;
        }
        uint64_t bits = load_be(p, n);
        out->type = MPR_FLOAT;
        if (n == 4) {
            uint32_t b32 = (uint32_t)bits;
            float f;
            memcpy(&f, &b32, sizeof(f));
            out->v.f = f;
        }
        else {
            memcpy(&out->v.f, &bits, sizeof(double));
        }
        *pp = p + n;
        return MPR_OK;
    }
    /* 0xcc..0xcf unsigned, 0xd0..0xd3 signed */
    int is_signed = tag >= 0xd0;
    int n = width[(tag - 0xcc) & 3];
    if ((size_t)n > left(c, p)) {
        return MPR_ERR_TRUNCATED;
    }
    uint64_t raw = load_be(p, n);
    *pp = p + n;
    if (!is_signed) {
        out->type = MPR_UINT;
        out->v.u = raw;
        return MPR_OK;
    }
    int64_t v;
    switch (n) {
    case 1: v = (int8_t)(uint8_t)raw; break;
    case 2: v = (int16_t)(uint16_t)raw; break;
    case 4: v = (int32_t)(uint32_t)raw; break;
    default: memcpy(&v, &raw, sizeof(v)); break;
    }
    if (v >= 0) {
        out->type = MPR_UINT;
        out->v.u = (uint64_t)v;
    }
    else {
        out->type = MPR_INT;
        out->v.i = v;
    }
    return MPR_OK;
}

static mpr_status
read_ext(const mpr_cursor *c, const uint8_t **pp, uint64_t len,
         mpr_item *out)
{
    if (left(c, *pp) < 1) {
        return MPR_ERR_TRUNCATED;
    }
    out->type = MPR_EXT;
    out->ext_type = (int8_t)**pp;
    *pp += 1;
    return take_bytes(c, pp, len, out);
}

/* Read one item header (and the payload of scalars, strings, bins, exts) and
 * advance. Container items only report their count; their elements follow.
 *
 * Every length is checked against the bytes left, and every container count
 * too: an array of n needs at least n more bytes, a map of n at least 2n. So
 * a 5-byte input cannot claim 4 billion elements. Returns MPR_OK or a
 * negative mpr_status; on error the cursor is left unchanged. Never
 * allocates. */
mpr_status
mpr_next(mpr_cursor *c, mpr_item *out)
{
    const uint8_t *p = c->p;
    uint64_t len = 0;
    mpr_status st = MPR_OK;

    if (p >= c->end) {
        return MPR_ERR_TRUNCATED;
    }
    uint8_t tag = *p++;
    out->ext_type = 0;
    if (tag <= 0x7f) {
        out->type = MPR_UINT;
        out->v.u = tag;
    }
    else if (tag >= 0xe0) {
        out->type = MPR_INT;
        out->v.i = (int8_t)tag;
    }
    else if (tag <= 0x8f) {
        out->type = MPR_MAP;
        st = take_count(c, p, tag & 0x0f, 2, out);
    }
    else if (tag <= 0x9f) {
        out->type = MPR_ARRAY;
        st = take_count(c, p, tag & 0x0f, 1, out);
    }
    else if (tag <= 0xbf) {
        out->type = MPR_STR;
        st = take_bytes(c, &p, tag & 0x1f, out);
    }
    else {
        switch (tag) {
        case 0xc0: out->type = MPR_NIL; break;
        case 0xc2: out->type = MPR_BOOL; out->v.b = 0; break;
        case 0xc3: out->type = MPR_BOOL; out->v.b = 1; break;
        case 0xc4: case 0xc5: case 0xc6:
            out->type = MPR_BIN;
            st = take_len(c, &p, 1 << (tag - 0xc4), &len);
            if (st == MPR_OK) {
                st = take_bytes(c, &p, len, out);
            }
            break;
        case 0xc7: case 0xc8: case 0xc9:
            st = take_len(c, &p, 1 << (tag - 0xc7), &len);
            if (st == MPR_OK) {
                st = read_ext(c, &p, len, out);
            }
            break;
        case 0xca: case 0xcb:
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
        case 0xd0: case 0xd1: case 0xd2: case 0xd3:
            st = read_fixed(c, &p, tag, out);
            break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            st = read_ext(c, &p, (uint64_t)1 << (tag - 0xd4), out);
            break;
        case 0xd9: case 0xda: case 0xdb:
            out->type = MPR_STR;
            st = take_len(c, &p, 1 << (tag - 0xd9), &len);
            if (st == MPR_OK) {
                st = take_bytes(c, &p, len, out);
            }
            break;
        case 0xdc: case 0xdd:
            out->type = MPR_ARRAY;
            st = take_len(c, &p, tag == 0xdc ? 2 : 4, &len);
            if (st == MPR_OK) {
                st = take_count(c, p, len, 1, out);
            }
            break;
        case 0xde: case 0xdf:
            out->type = MPR_MAP;
            st = take_len(c, &p, tag == 0xde ? 2 : 4, &len);
            if (st == MPR_OK) {
                st = take_count(c, p, len, 2, out);
            }
            break;
        default: /* 0xc1 */
            st = MPR_ERR_INVALID;
            break;
        }
    }
    if (st == MPR_OK) {
        c->p = p;
    }
    return st;
}

/* Validate one complete value (recursively, iteratively implemented) and
 * advance past it. Returns MPR_OK, or a negative mpr_status if the value is
 * truncated, malformed, over-counted or nested deeper than MPR_MAX_DEPTH.
 * Never allocates; uses a fixed stack of MPR_MAX_DEPTH counters. */
mpr_status
mpr_skip(mpr_cursor *c)
{
    /* pending[d] = values still to read at depth d. Counts were checked
     * against the input, so they cannot overflow a uint64. */
    uint64_t pending[MPR_MAX_DEPTH + 1];
    int depth = 0;
    mpr_cursor save = *c;
    mpr_item item;

    pending[0] = 1;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        mpr_status st = mpr_next(c, &item);
        if (st != MPR_OK) {
            *c = save;
            return st;
        }
        if (item.type == MPR_ARRAY || item.type == MPR_MAP) {
            if (depth == MPR_MAX_DEPTH) {
                *c = save;
                return MPR_ERR_DEPTH;
            }
            uint64_t n = item.v.count;
            pending[++depth] = item.type == MPR_MAP ? 2 * n : n;
        }
    }
    return MPR_OK;
}

/* Validate that [data, data+len) holds exactly one well-formed value. */
mpr_status
mpr_validate(const void *data, size_t len)
{
    mpr_cursor c;
    mpr_init(&c, data, len);
    mpr_status st = mpr_skip(&c);
    if (st == MPR_OK && c.p != c.end) {
        return MPR_ERR_TRAILING;
    }
    return st;
}

/* Short English description of a status, for error messages. */
const char *
mpr_strerror(mpr_status status)
{
    switch (status) {
    case MPR_OK: return "ok";
    case MPR_ERR_TRUNCATED: return "truncated msgpack data";
    case MPR_ERR_INVALID: return "invalid msgpack byte 0xc1";
    case MPR_ERR_COUNT: return "msgpack count larger than the data";
    case MPR_ERR_DEPTH: return "msgpack nesting too deep";
    case MPR_ERR_TRAILING: return "extra bytes after the msgpack value";
    }
    return "unknown msgpack error";
}
