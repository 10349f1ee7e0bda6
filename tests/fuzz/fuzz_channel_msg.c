/*
 * fuzz_channel_msg: csrc/common/chanmsg.c, the sidecar's decoder for channel-layer
 * messages popped from Redis (BZPOPMIN, ph_chanmsg_decode) and its writer
 * of the inbound message a client sends to Django
 * (ph_chanmsg_pack_inbound, msgpack-c's packer).
 *
 * Decoding: any bytes, no read outside the input (ASan), every decoded
 * string inside the input, at most PH_CHANMSG_MAX_CHANNELS channels.
 * Writing: the first bytes of the input choose the fields of an inbound
 * message (session, player_id, role, reply channel, text: the rest of the
 * input, any bytes); the packed member must start with the prefix and
 * decode back, with the bounded reader, to type "client.message" and the
 * same text, with nothing after the map.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chanmsg.h"

#include "fuzz_util.h"

static int
inside(const ph_chanmsg_str *s, const uint8_t *buf, size_t size)
{
    return s->p == NULL || s->len == 0
           || ((const uint8_t *)s->p >= buf
               && (const uint8_t *)s->p + s->len <= buf + size);
}

static void
decode_any(const uint8_t *data, size_t size)
{
    static ph_chanmsg msg;
    uint8_t *buf = malloc(size ? size : 1);
    size_t i;

    CHECK(buf != NULL);
    memcpy(buf, data, size);
    if (ph_chanmsg_decode(buf, size, &msg) == 0) {
        CHECK(inside(&msg.type, buf, size) && inside(&msg.text, buf, size));
        CHECK(msg.nchannels <= PH_CHANMSG_MAX_CHANNELS);
        for (i = 0; i < msg.nchannels; i++) {
            CHECK(msg.channels[i].p != NULL && inside(&msg.channels[i], buf, size));
        }
    }
    free(buf);
}

/* Copy n bytes of data as a NUL-terminated string (NULs become 'x'). */
static void
cstr(char *out, const uint8_t *data, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        out[i] = data[i] == '\0' ? 'x' : (char)data[i];
    }
    out[n] = '\0';
}

/* Pack an inbound message from the input, then read it back. */
static void
round_trip(const uint8_t *data, size_t size)
{
    static ph_chanmsg msg;
    unsigned char prefix[12], *out;
    char session[8], role[8], reply[40];
    size_t ls, lr, lc, outlen = 0;
    int64_t pid;
    ph_chanmsg_inbound m;

    if (size < 12 + 8) {
        return;
    }
    memcpy(prefix, data, sizeof(prefix));
    memcpy(&pid, data + 12, 8);
    data += 20;
    size -= 20;
    ls = size > 0 ? data[0] % 8 : 0;
    lr = size > 1 ? data[1] % 8 : 0;
    lc = size > 2 ? data[2] % 40 : 0;
    data += size < 3 ? size : 3;
    size -= size < 3 ? size : 3;
    if (ls + lr + lc > size) {
        ls = lr = lc = 0;
    }
    cstr(session, data, ls);
    cstr(role, data + ls, lr);
    cstr(reply, data + ls + lr, lc);
    m.session = session;
    m.player_id = pid;
    m.role = role;
    m.reply_channel = reply;
    m.text = (const char *)data + ls + lr + lc;    /* the rest, any bytes */
    m.text_len = size - ls - lr - lc;

    out = ph_chanmsg_pack_inbound(prefix, sizeof(prefix), &m, &outlen);
    CHECK(out != NULL);
    CHECK(outlen > sizeof(prefix) && memcmp(out, prefix, sizeof(prefix)) == 0);
    CHECK(ph_chanmsg_decode(out + sizeof(prefix), outlen - sizeof(prefix), &msg) == 0);
    CHECK(msg.type.len == 14 && memcmp(msg.type.p, "client.message", 14) == 0);
    CHECK(msg.text.len == m.text_len
          && (m.text_len == 0 || memcmp(msg.text.p, m.text, m.text_len) == 0));
    CHECK(!msg.has_code && !msg.has_seq && msg.nchannels == 0);
    free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_any(data, size);
    round_trip(data, size);
    return 0;
}
