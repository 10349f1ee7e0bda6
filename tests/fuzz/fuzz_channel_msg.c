/*
 * fuzz_channel_msg: csrc/fanout_mp.c, the sidecar's msgpack decoder for
 * channel-layer messages popped from Redis (BZPOPMIN), and its writer.
 *
 * Decoding: any bytes, no read outside the input (ASan), every decoded
 * string inside the input, at most PH_MP_MAX_CHANNELS channels.
 * Writing: the first bytes of the input choose a map of strings and ints
 * that is written with ph_mp_put_* into a buffer of fuzzed size; it must
 * either overflow cleanly or decode back to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout_mp.h"

#include "fuzz_util.h"

static int
inside(const ph_mp_str *s, const uint8_t *buf, size_t size)
{
    return s->p == NULL || s->len == 0
           || ((const uint8_t *)s->p >= buf
               && (const uint8_t *)s->p + s->len <= buf + size);
}

static void
decode_any(const uint8_t *data, size_t size)
{
    static ph_mp_msg msg;
    uint8_t *buf = malloc(size ? size : 1);
    size_t i;

    memcpy(buf, data, size);
    if (ph_mp_decode_msg(buf, size, &msg) == 0) {
        CHECK(inside(&msg.type, buf, size) && inside(&msg.text, buf, size));
        CHECK(msg.nchannels <= PH_MP_MAX_CHANNELS);
        for (i = 0; i < msg.nchannels; i++) {
            CHECK(msg.channels[i].p != NULL && inside(&msg.channels[i], buf, size));
        }
    }
    free(buf);
}

/* Round trip: {"type": s1, "text": s2, "code": n, "__asgi_channel__": [..]}. */
static void
round_trip(const uint8_t *data, size_t size)
{
    static ph_mp_msg msg;
    unsigned char *out;
    size_t cap, l1, l2, nch, i;
    int64_t code;
    ph_mp_buf b;

    if (size < 12) {
        return;
    }
    cap = (size_t)data[0] << 8 | data[1];
    l1 = data[2] % 40;
    nch = data[3] % 4;
    memcpy(&code, data + 4, 8);
    data += 12;
    size -= 12;
    if (l1 > size) {
        l1 = size;
    }
    l2 = size - l1;                    /* text: the rest, any length */
    out = malloc(cap ? cap : 1);
    ph_mp_buf_init(&b, out, cap);
    ph_mp_put_map(&b, 4);
    ph_mp_put_cstr(&b, "type");
    ph_mp_put_str(&b, (const char *)data, l1);
    ph_mp_put_cstr(&b, "text");
    ph_mp_put_str(&b, (const char *)data + l1, l2);
    ph_mp_put_cstr(&b, "code");
    ph_mp_put_int(&b, code);
    ph_mp_put_cstr(&b, "__asgi_channel__");
    /* An array header by hand (the writer has no array call). */
    {
        unsigned char h = (unsigned char)(0x90 | nch);

        ph_mp_put_raw(&b, &h, 1);
    }
    for (i = 0; i < nch; i++) {
        ph_mp_put_str(&b, (const char *)data, l1 < i ? l1 : i);
    }
    CHECK(b.len <= cap);
    if (!b.overflow) {
        CHECK(ph_mp_decode_msg(out, b.len, &msg) == 0);
        CHECK(msg.type.len == l1 && memcmp(msg.type.p, data, l1) == 0);
        CHECK(msg.text.len == l2 && memcmp(msg.text.p, data + l1, l2) == 0);
        CHECK(msg.has_code && msg.code == code);
        CHECK(msg.nchannels == nch);
    }
    free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_any(data, size);
    round_trip(data, size);
    return 0;
}
