/* mpack_read.h - bounded, allocation-free msgpack reader. */
#ifndef PARTYHUB_MPACK_READ_H
#define PARTYHUB_MPACK_READ_H

#include <stddef.h>
#include <stdint.h>

/* Deepest container nesting we accept. Python msgpack's packer refuses to
 * nest deeper than 511 levels, so everything a Python peer can produce fits;
 * the bound keeps our recursive decoder's C stack use small. */
#define MPR_MAX_DEPTH 512

typedef enum {
    MPR_OK = 0,
    MPR_ERR_TRUNCATED = -1,  /* input ends inside an item */
    MPR_ERR_INVALID = -2,    /* 0xc1, the one byte msgpack never uses */
    MPR_ERR_COUNT = -3,      /* a count/length larger than the bytes left */
    MPR_ERR_DEPTH = -4,      /* nesting deeper than MPR_MAX_DEPTH */
    MPR_ERR_TRAILING = -5    /* bytes left after the top-level value */
} mpr_status;

typedef enum {
    MPR_NIL,
    MPR_BOOL,
    MPR_INT,    /* signed value in v.i (negative ints) */
    MPR_UINT,   /* unsigned value in v.u (non-negative ints) */
    MPR_FLOAT,  /* float32 or float64, widened to double in v.f */
    MPR_STR,    /* v.s: pointer into the input, length */
    MPR_BIN,
    MPR_ARRAY,  /* v.count elements follow */
    MPR_MAP,    /* v.count key/value pairs follow */
    MPR_EXT     /* v.s payload, ext_type */
} mpr_type;

typedef struct mpr_item {
    mpr_type type;
    int8_t ext_type;
    union {
        int b;
        int64_t i;
        uint64_t u;
        double f;
        uint32_t count;
        struct {
            const uint8_t *ptr;
            uint32_t len;
        } s;
    } v;
} mpr_item;

typedef struct mpr_cursor {
    const uint8_t *p;    /* next unread byte */
    const uint8_t *end;  /* one past the last byte */
} mpr_cursor;

/* Point `c` at `len` bytes at `data`. The bytes must outlive the cursor and
 * every item read from it (strings point into them). */
void mpr_init(mpr_cursor *c, const void *data, size_t len);

/* Read one item header (and the payload of scalars, strings, bins, exts) and
 * advance. Container items only report their count; their elements follow.
 *
 * Every length is checked against the bytes left, and every container count
 * too: an array of n needs at least n more bytes, a map of n at least 2n. So
 * a 5-byte input cannot claim 4 billion elements. Returns MPR_OK or a
 * negative mpr_status; on error the cursor is left unchanged. Never
 * allocates. */
mpr_status mpr_next(mpr_cursor *c, mpr_item *out);

/* Validate one complete value (recursively, iteratively implemented) and
 * advance past it. Returns MPR_OK, or a negative mpr_status if the value is
 * truncated, malformed, over-counted or nested deeper than MPR_MAX_DEPTH.
 * Never allocates; uses a fixed stack of MPR_MAX_DEPTH counters. */
mpr_status mpr_skip(mpr_cursor *c);

/* Validate that [data, data+len) holds exactly one well-formed value. */
mpr_status mpr_validate(const void *data, size_t len);

/* Short English description of a status, for error messages. */
const char *mpr_strerror(mpr_status status);

#endif
