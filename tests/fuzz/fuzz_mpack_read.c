/*
 * fuzz_mpack_read: csrc/common/mpack_read.c, the bounded msgpack reader that
 * reads every channel-layer message taken from Redis (the C layer's
 * receive path decodes with it).
 *
 * Checks, for any input: mpr_validate never reads outside the buffer (ASan)
 * and agrees with an independent walk by mpr_next that tracks container
 * counts itself; every string/bin/ext item points inside the input; a
 * cursor is left unchanged on error; mpr_strerror names every status.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpack_read.h"

#include "fuzz_util.h"

/* Walk one value with mpr_next only, counting pending elements by hand. */
static mpr_status
walk(mpr_cursor *c, const uint8_t *start, const uint8_t *end)
{
    static uint64_t pending[MPR_MAX_DEPTH + 2];
    int depth = 0;

    pending[0] = 1;
    while (depth >= 0) {
        mpr_item it;
        mpr_cursor before = *c;
        mpr_status st;

        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        st = mpr_next(c, &it);
        if (st != MPR_OK) {
            CHECK(c->p == before.p && c->end == before.end);
            return st;
        }
        CHECK(c->p > before.p && c->p <= end);
        pending[depth]--;
        switch (it.type) {
        case MPR_STR:
        case MPR_BIN:
        case MPR_EXT:
            CHECK(it.v.s.len == 0
                  || (it.v.s.ptr >= start && it.v.s.ptr + it.v.s.len <= end));
            break;
        case MPR_ARRAY:
        case MPR_MAP:
            if (depth + 1 > MPR_MAX_DEPTH) {
                return MPR_ERR_DEPTH;
            }
            pending[++depth] = it.type == MPR_MAP ? 2 * (uint64_t)it.v.count
                                                 : it.v.count;
            /* The reader promised the count fits in the bytes left. */
            CHECK(pending[depth] <= (uint64_t)(end - c->p));
            break;
        default:
            break;
        }
    }
    return MPR_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy so ASan sees any read past the exact end. */
    uint8_t *buf = malloc(size ? size : 1);
    mpr_cursor c, w;
    mpr_status v, s;

    memcpy(buf, data, size);
    v = mpr_validate(buf, size);
    CHECK(mpr_strerror(v) != NULL);

    mpr_init(&c, buf, size);
    s = mpr_skip(&c);
    CHECK(s <= 0 && s >= MPR_ERR_TRAILING);
    if (s == MPR_OK) {
        CHECK(c.p <= buf + size);
        /* validate = skip + nothing left over */
        CHECK(v == (c.p == buf + size ? MPR_OK : MPR_ERR_TRAILING));
    }
    else {
        CHECK(v == s);
    }

    mpr_init(&w, buf, size);
    s = walk(&w, buf, buf + size);
    /* The hand walk fails exactly as skip does, or ends where it ends. */
    mpr_init(&c, buf, size);
    CHECK(mpr_skip(&c) == s);
    CHECK(s != MPR_OK || c.p == w.p);
    free(buf);
    return 0;
}
