/*
 * chanmsg.c: see chanmsg.h.
 */
#include "chanmsg.h"

#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "mpack_read.h"

static int
key_is(const mpr_item *k, const char *name)
{
    size_t n = strlen(name);

    return k->v.s.len == n && memcmp(k->v.s.ptr, name, n) == 0;
}

/* Read the next value into *s when it is a str; else leave c unchanged
 * and return -1. */
static int
read_str(mpr_cursor *c, ph_chanmsg_str *s)
{
    mpr_cursor peek = *c;
    mpr_item it;

    if (mpr_next(&peek, &it) != MPR_OK || it.type != MPR_STR) {
        return -1;
    }
    s->p = (const char *)it.v.s.ptr;
    s->len = it.v.s.len;
    *c = peek;
    return 0;
}

/* Read the next value into *v when it is an int within int64. */
static int
read_int(mpr_cursor *c, int64_t *v)
{
    mpr_cursor peek = *c;
    mpr_item it;

    if (mpr_next(&peek, &it) != MPR_OK) {
        return -1;
    }
    if (it.type == MPR_INT) {
        *v = it.v.i;
    }
    else if (it.type == MPR_UINT && it.v.u <= INT64_MAX) {
        *v = (int64_t)it.v.u;
    }
    else {
        return -1;
    }
    *c = peek;
    return 0;
}

/* __asgi_channel__: a str, or an array of str (channels_redis' group_send). */
static int
read_channels(mpr_cursor *c, ph_chanmsg *out)
{
    mpr_cursor peek = *c;
    mpr_item it;
    uint32_t i;

    if (read_str(c, &out->channels[0]) == 0) {
        out->nchannels = 1;
        return 0;
    }
    if (mpr_next(&peek, &it) != MPR_OK || it.type != MPR_ARRAY
        || it.v.count > PH_CHANMSG_MAX_CHANNELS) {
        return -1;
    }
    for (i = 0; i < it.v.count; i++) {
        if (read_str(&peek, &out->channels[i]) < 0) {
            return -1;
        }
    }
    out->nchannels = it.v.count;
    *c = peek;
    return 0;
}

/*
 * Decode one msgpack map from p[0..len) into out. Returns 0, or -1 when
 * the input is malformed, truncated, not a map with str keys, nested
 * deeper than MPR_MAX_DEPTH, lists more than PH_CHANMSG_MAX_CHANNELS
 * channels or a channel that is not a str, or has bytes after the map.
 */
int
ph_chanmsg_decode(const unsigned char *p, size_t len, ph_chanmsg *out)
{
    mpr_cursor c;
    mpr_item map, key;
    uint32_t i;

    memset(out, 0, offsetof(ph_chanmsg, channels));
    mpr_init(&c, p, len);
    if (mpr_next(&c, &map) != MPR_OK || map.type != MPR_MAP) {
        return -1;
    }
    for (i = 0; i < map.v.count; i++) {
        /* channels_redis' keys are always str. */
        if (mpr_next(&c, &key) != MPR_OK || key.type != MPR_STR) {
            return -1;
        }
        if (key_is(&key, "type") && read_str(&c, &out->type) == 0) {
            continue;
        }
        if (key_is(&key, "text") && read_str(&c, &out->text) == 0) {
            continue;
        }
        if (key_is(&key, "code") && read_int(&c, &out->code) == 0) {
            out->has_code = 1;
            continue;
        }
        if (key_is(&key, "seq") && read_int(&c, &out->seq) == 0) {
            out->has_seq = 1;
            continue;
        }
        if (key_is(&key, "__asgi_channel__")) {
            if (read_channels(&c, out) < 0) {
                return -1;
            }
            continue;
        }
        if (mpr_skip(&c) != MPR_OK) {
            return -1;
        }
    }
    return c.p == c.end ? 0 : -1;
}

static int
pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);

    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

/*
 * Pack prefix[0..prefix_len) (channels_redis' random member prefix)
 * followed by the msgpack map of m into a new malloc'd buffer. Returns
 * the buffer (the caller frees it) with its length in *out_len, or NULL
 * when out of memory.
 */
unsigned char *
ph_chanmsg_pack_inbound(const unsigned char *prefix, size_t prefix_len,
                        const ph_chanmsg_inbound *m, size_t *out_len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc = 0;

    /* msgpack-c's sbuffer aborts nothing: a failed write returns -1. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rc |= msgpack_sbuffer_write(&sb, (const char *)prefix, prefix_len);
    rc |= msgpack_pack_map(&pk, 6);
    rc |= pack_cstr(&pk, "type");
    rc |= pack_cstr(&pk, "client.message");
    rc |= pack_cstr(&pk, "session");
    rc |= pack_cstr(&pk, m->session);
    rc |= pack_cstr(&pk, "player_id");
    if (m->player_id >= 0) {
        rc |= msgpack_pack_int64(&pk, m->player_id);
    }
    else {
        rc |= msgpack_pack_nil(&pk);
    }
    rc |= pack_cstr(&pk, "role");
    rc |= pack_cstr(&pk, m->role);
    rc |= pack_cstr(&pk, "reply_channel");
    rc |= pack_cstr(&pk, m->reply_channel);
    rc |= pack_cstr(&pk, "text");
    rc |= msgpack_pack_str(&pk, m->text_len);
    rc |= msgpack_pack_str_body(&pk, m->text, m->text_len);
    if (rc != 0 || sb.data == NULL) {
        msgpack_sbuffer_destroy(&sb);
        return NULL;
    }
    *out_len = sb.size;
    return (unsigned char *)msgpack_sbuffer_release(&sb);
}
