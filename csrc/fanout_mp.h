/*
 * fanout_mp: the few msgpack operations the sidecar needs on the
 * channels_redis wire, written to be bounded: every length and count is
 * checked against the bytes that remain before anything is read, nesting
 * is capped, and nothing is allocated.
 *
 * Written here (rather than using clayer's reader) so the sidecar could be
 * built and tested before that branch landed; it decodes only what the
 * sidecar dispatches on and skips everything else.
 */
#ifndef PH_FANOUT_MP_H
#define PH_FANOUT_MP_H

#include <stddef.h>
#include <stdint.h>

#define PH_MP_MAX_DEPTH 32
#define PH_MP_MAX_CHANNELS 256

typedef struct ph_mp_str {
    const char *p;         /* points into the decoded buffer; NOT NUL-terminated */
    size_t len;
} ph_mp_str;

/* The fields of a channel-layer message the sidecar looks at. */
typedef struct ph_mp_msg {
    ph_mp_str type;        /* p == NULL when absent or not a str */
    ph_mp_str text;        /* "text" as str (forwarded verbatim) */
    int has_code;
    int64_t code;          /* "code" when an int */
    int has_seq;
    int64_t seq;
    size_t nchannels;      /* entries of __asgi_channel__ (string -> 1) */
    ph_mp_str channels[PH_MP_MAX_CHANNELS];
} ph_mp_msg;

/*
 * Decode one msgpack map from p[0..len) into out. Returns 0, or -1 when
 * the input is malformed, truncated, not a map, nested deeper than
 * PH_MP_MAX_DEPTH, or names more than PH_MP_MAX_CHANNELS channels.
 * Trailing bytes after the map are an error.
 */
int ph_mp_decode_msg(const unsigned char *p, size_t len, ph_mp_msg *out);

/* A bounded msgpack writer over a caller-owned buffer. */
typedef struct ph_mp_buf {
    unsigned char *p;
    size_t cap;
    size_t len;
    int overflow;          /* set once anything did not fit */
} ph_mp_buf;

void ph_mp_buf_init(ph_mp_buf *b, unsigned char *mem, size_t cap);
void ph_mp_put_map(ph_mp_buf *b, uint32_t n);
void ph_mp_put_str(ph_mp_buf *b, const char *s, size_t len);
/* Convenience: NUL-terminated string. */
void ph_mp_put_cstr(ph_mp_buf *b, const char *s);
void ph_mp_put_int(ph_mp_buf *b, int64_t v);
void ph_mp_put_nil(ph_mp_buf *b);
void ph_mp_put_raw(ph_mp_buf *b, const void *data, size_t len);

#endif /* PH_FANOUT_MP_H */
