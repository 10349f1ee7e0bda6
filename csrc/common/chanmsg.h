/*
 * chanmsg: the channels_redis messages the sidecar reads and writes.
 *
 * Reading: one msgpack map popped from the process's channel key, decoded
 * with the bounded reader (mpack_read.h) into the few fields the sidecar
 * dispatches on; everything else is validated and skipped. Nothing is
 * allocated and every string points into the input.
 *
 * Writing: the inbound message a client sends to Django, packed with
 * msgpack-c's packer (smallest encodings, the same bytes as Python's
 * msgpack.packb of the same dict).
 */
#ifndef PH_CHANMSG_H
#define PH_CHANMSG_H

#include <stddef.h>
#include <stdint.h>

#define PH_CHANMSG_MAX_CHANNELS 256  /* __asgi_channel__ entries accepted */

typedef struct ph_chanmsg_str {
    const char *p;         /* into the decoded buffer; NOT NUL-terminated */
    size_t len;
} ph_chanmsg_str;

/* The fields of a channel-layer message the sidecar looks at. */
typedef struct ph_chanmsg {
    ph_chanmsg_str type;   /* p == NULL when absent or not a str */
    ph_chanmsg_str text;   /* "text" as str (forwarded verbatim) */
    int has_code;
    int64_t code;          /* "code" when an int that fits int64 */
    int has_seq;
    int64_t seq;
    size_t nchannels;      /* entries of __asgi_channel__ (a str counts 1) */
    ph_chanmsg_str channels[PH_CHANMSG_MAX_CHANNELS];
} ph_chanmsg;

/*
 * Decode one msgpack map from p[0..len) into out. Returns 0, or -1 when
 * the input is malformed, truncated, not a map with str keys, nested
 * deeper than MPR_MAX_DEPTH, lists more than PH_CHANMSG_MAX_CHANNELS
 * channels or a channel that is not a str, or has bytes after the map.
 */
int ph_chanmsg_decode(const unsigned char *p, size_t len, ph_chanmsg *out);

/* The inbound message: {"type": "client.message", ...} (see the .c). */
typedef struct ph_chanmsg_inbound {
    const char *session;       /* NUL-terminated */
    int64_t player_id;         /* < 0 packs as nil (the host) */
    const char *role;
    const char *reply_channel;
    const char *text;          /* the client's message, text[0..text_len) */
    size_t text_len;
} ph_chanmsg_inbound;

/*
 * Pack prefix[0..prefix_len) (channels_redis' random member prefix)
 * followed by the msgpack map of m into a new malloc'd buffer. Returns
 * the buffer (the caller frees it) with its length in *out_len, or NULL
 * when out of memory.
 */
unsigned char *ph_chanmsg_pack_inbound(const unsigned char *prefix,
                                       size_t prefix_len,
                                       const ph_chanmsg_inbound *m,
                                       size_t *out_len);

#endif /* PH_CHANMSG_H */
